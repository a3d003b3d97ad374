"""Reddit: a thread's ``.json``, and the collapsed replies through ``/api/morechildren``.

A Reddit thread (``/r/SUB/comments/ID/...`` on reddit.com, or a page that
says ``og:site_name`` Reddit) is also served as JSON at the same path plus
``.json``: a list of two listings, the post (``t3``) and its comments
(``t1``, each with ``replies``: a listing or ``""``). Where Reddit collapsed
replies it puts a ``more`` object (``children``: comment ids, ``parent_id``);
``/api/morechildren.json?api_type=json&link_id=t3_ID&children=a,b,...``
(at most 100 ids a call) answers ``{"json": {"data": {"things": [...]}}}``
with those comments, flat, each naming its ``parent_id`` (and maybe more
``more`` objects). ``raw_json=1`` asks for unescaped HTML in ``body_html``.
A ``more`` with no children (``"continue this thread"``) is not followed.
The post itself: its link (``url``) and text (``selftext_html``) are the
article's body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, text

CHILDREN_PER_CALL = 100
_THREAD_PATH = re.compile(r"^(?P<path>/r/[^/]+/comments/(?P<id>[a-z0-9]+))(?:/[^/]*)?/?$", re.I)
_REDDIT_HOST = re.compile(r"(?:^|\.)reddit\.com$", re.I)


def iso_from_epoch(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


class RedditThread(Thread):
    platform = "Reddit"

    def __init__(self, origin: str, path: str, link_id: str) -> None:
        self.origin = origin
        self.path = path
        self.link_id = link_id

    def start(self) -> list[str]:
        return [f"{self.origin}{self.path}.json?" + urlencode({"raw_json": 1, "limit": 500, "sort": "old"})]

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        more: list[str] = []
        if "/api/morechildren" in url:
            things = as_list(as_dict(as_dict(as_dict(data).get("json")).get("data")).get("things"))
            for thing in things:
                self._walk(as_dict(thing), step, more, nested=False)
        else:
            listings = as_list(data)
            if listings:
                for post in as_list(as_dict(as_dict(listings[0]).get("data")).get("children")):
                    self._post(as_dict(as_dict(post).get("data")), step)
            for listing in listings[1:2]:
                for thing in as_list(as_dict(as_dict(listing).get("data")).get("children")):
                    self._walk(as_dict(thing), step, more, nested=True)
        for start in range(0, len(more), CHILDREN_PER_CALL):
            query = {"api_type": "json", "raw_json": 1, "link_id": f"t3_{self.link_id}",
                     "children": ",".join(more[start : start + CHILDREN_PER_CALL]), "sort": "old"}  # fmt: skip
            step.more.append(f"{self.origin}/api/morechildren.json?" + urlencode(query))
        return step

    def _post(self, data: dict[str, Any], step: Step) -> None:
        links = []
        url = text(data.get("url"))
        if url and not data.get("is_self"):
            links.append(url)
        step.comments.append(EndpointComment(
            id=f"t3_{text(data.get('id')) or self.link_id}", parent_id=None, author=text(data.get("author")),
            date=iso_from_epoch(data.get("created_utc")), permalink=self._permalink(data),
            html=text(data.get("selftext_html")) or "", links=links, body=True,
        ))  # fmt: skip

    def _walk(self, thing: dict[str, Any], step: Step, more: list[str], *, nested: bool) -> None:
        stack = [thing]
        while stack:
            current = stack.pop()
            kind, data = current.get("kind"), as_dict(current.get("data"))
            if kind == "more":
                more.extend(str(c) for c in as_list(data.get("children")) if text(c))
                continue
            if kind != "t1" or not text(data.get("name")):
                continue
            author = text(data.get("author"))
            if author != "[deleted]" or text(data.get("body")) not in (None, "[deleted]", "[removed]"):
                step.comments.append(EndpointComment(
                    id=str(data["name"]), parent_id=text(data.get("parent_id")),
                    author=None if author == "[deleted]" else author, date=iso_from_epoch(data.get("created_utc")),
                    permalink=self._permalink(data), html=text(data.get("body_html")) or "",
                ))  # fmt: skip
            if nested:
                replies = as_list(as_dict(as_dict(data.get("replies")).get("data")).get("children"))
                stack.extend(as_dict(r) for r in reversed(replies))

    def _permalink(self, data: dict[str, Any]) -> str | None:
        path = text(data.get("permalink"))
        return f"{self.origin}{path}" if path and path.startswith("/") else None


def discover_reddit(root: HtmlElement, page_url: str) -> RedditThread | None:
    parts = urlsplit(page_url)
    site = " ".join(str(v) for v in root.xpath("//meta[@property='og:site_name']/@content")).strip().lower()
    if not (_REDDIT_HOST.search(parts.hostname or "") or site == "reddit"):
        return None
    found = _THREAD_PATH.match(parts.path)
    if not found or parts.scheme not in ("http", "https"):
        return None
    return RedditThread(f"{parts.scheme}://{parts.netloc}", found.group("path"), found.group("id").lower())
