"""Discourse: a topic's JSON, all posts.

A Discourse page says so (``<meta name="generator" content="Discourse ...">``)
and its URL (or canonical URL) is ``/t/slug/ID``. ``/t/ID.json`` gives the
topic with ``post_stream.posts`` (the first ~20 posts) and
``post_stream.stream`` (the ids of all posts, in order); the others come from
``/t/ID/posts.json?post_ids[]=...``, twenty at a time. A post: ``id``,
``post_number``, ``reply_to_post_number``, ``username``/``name``,
``created_at``, ``cooked`` (its HTML), ``post_type`` (1 = a regular post;
the others are moderator actions and notes). Post 1 is the topic itself:
the article, not a comment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, text

CHUNK = 20
_TOPIC_PATH = re.compile(r"^(?P<prefix>.*?)/t/(?:(?P<slug>[^/]+)/)?(?P<id>\d+)(?:/\d+)?/?$")


class DiscourseThread(Thread):
    platform = "Discourse"

    def __init__(self, origin: str, prefix: str, topic_id: str, slug: str | None) -> None:
        self.base = f"{origin}{prefix}"
        self.topic_id = topic_id
        self.slug = slug or "-"

    def start(self) -> list[str]:
        return [f"{self.base}/t/{self.topic_id}.json"]

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        stream = as_dict(as_dict(data).get("post_stream"))
        posts = [as_dict(p) for p in as_list(stream.get("posts"))]
        self.slug = text(as_dict(data).get("slug")) or self.slug
        for post in posts:
            comment = self._comment(post)
            if comment is not None:
                step.comments.append(comment)
        if "/posts.json" not in url:
            loaded = {str(p.get("id")) for p in posts}
            rest = [str(i) for i in as_list(stream.get("stream")) if str(i) not in loaded]
            for start in range(0, len(rest), CHUNK):
                query = urlencode([("post_ids[]", pid) for pid in rest[start : start + CHUNK]])
                step.more.append(f"{self.base}/t/{self.topic_id}/posts.json?{query}")
        return step

    def _comment(self, post: dict[str, Any]) -> EndpointComment | None:
        number = post.get("post_number")
        if text(post.get("id")) is None or not isinstance(number, int):
            return None
        if number == 1 or post.get("post_type", 1) != 1 or post.get("deleted_at") or post.get("hidden"):
            return None
        reply_to = post.get("reply_to_post_number")
        parent = str(reply_to) if isinstance(reply_to, int) and reply_to > 1 else None
        return EndpointComment(  # keyed by post number: a reply names its parent's number, loaded or not yet
            id=str(number), parent_id=parent,
            author=text(post.get("name")) or text(post.get("username")),
            date=text(post.get("created_at")),
            permalink=f"{self.base}/t/{self.slug}/{self.topic_id}/{number}",
            html=text(post.get("cooked")) or "",
        )  # fmt: skip


def discover_discourse(root: HtmlElement, page_url: str) -> DiscourseThread | None:
    generator = " ".join(str(v) for v in root.xpath("//meta[@name='generator']/@content"))
    if "discourse" not in generator.lower():
        return None
    canonical = root.xpath("//link[@rel='canonical']/@href")
    for candidate in [page_url, *(urljoin(page_url, str(c)) for c in canonical)]:
        parts = urlsplit(candidate)
        found = _TOPIC_PATH.match(parts.path)
        if found and parts.scheme in ("http", "https"):
            origin = f"{parts.scheme}://{parts.netloc}"
            return DiscourseThread(origin, found.group("prefix"), found.group("id"), found.group("slug"))
    return None
