"""Mastodon: a status and its context.

A status page links its ActivityPub object
(``<link rel="alternate" type="application/activity+json"
href="https://INSTANCE/users/NAME/statuses/ID">``). The instance's REST API
gives the status (``/api/v1/statuses/ID``: its links are the article's body)
and its context (``/api/v1/statuses/ID/context``: ``descendants``, the
replies in thread order). A status: ``id``, ``in_reply_to_id``,
``created_at``, ``url``, ``content`` (HTML), ``account`` (``acct``,
``display_name``). Mentions and hashtags are not citations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, same_site, text

_STATUS_OBJECT = re.compile(r"^/users/[^/]+/statuses/(\d+)/?$")
_STATUS_PAGE = re.compile(r"^/@[^/]+/(\d+)/?$")


class MastodonThread(Thread):
    platform = "Mastodon"

    def __init__(self, origin: str, status_id: str) -> None:
        self.origin = origin
        self.status_id = status_id

    def start(self) -> list[str]:
        base = f"{self.origin}/api/v1/statuses/{self.status_id}"
        return [base, f"{base}/context"]

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        if url.endswith("/context"):
            for status in as_list(as_dict(data).get("descendants")):
                comment = _comment(as_dict(status))
                if comment is not None:
                    step.comments.append(comment)
        else:
            comment = _comment(as_dict(data))
            if comment is not None:
                comment.body = True
                step.comments.append(comment)
        return step


def _comment(status: dict[str, Any]) -> EndpointComment | None:
    status_id = text(status.get("id"))
    if status_id is None:
        return None
    account = as_dict(status.get("account"))
    card = as_dict(status.get("card"))
    return EndpointComment(
        id=status_id, parent_id=text(status.get("in_reply_to_id")),
        author=text(account.get("display_name")) or text(account.get("acct")),
        date=text(status.get("created_at")), permalink=text(status.get("url")) or text(status.get("uri")),
        html=text(status.get("content")) or "", links=[u for u in [text(card.get("url"))] if u],
    )  # fmt: skip


def discover_mastodon(root: HtmlElement, page_url: str) -> MastodonThread | None:
    for href in root.xpath("//link[@rel='alternate'][@type='application/activity+json']/@href"):
        parts = urlsplit(urljoin(page_url, str(href)))
        found = _STATUS_OBJECT.match(parts.path)
        if found and parts.scheme in ("http", "https") and same_site(parts.geturl(), page_url):
            return MastodonThread(f"{parts.scheme}://{parts.netloc}", found.group(1))
    return None


def is_status_page(url: str) -> bool:
    """``https://INSTANCE/@NAME/ID``: the shape of a Mastodon status page."""
    return bool(_STATUS_PAGE.match(urlsplit(url).path))
