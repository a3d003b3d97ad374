"""Hacker News: the public Firebase item API, the whole tree.

An item page (``news.ycombinator.com/item?id=N``, or a page with HN's
markup: ``<table class="fatitem">`` and ``<tr class="athing" id="N">``) is
read item by item from ``/v0/item/N.json``: ``by``, ``time`` (Unix
seconds), ``text`` (HTML), ``kids`` (the replies' ids, in rank order),
``parent``, ``url`` (a story's link), and ``deleted``/``dead`` for
comments that are gone. Every kid is fetched in turn (one request per
comment, at the fetcher's per-host pace), until the comment cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, text
from .reddit import iso_from_epoch

_ITEM = re.compile(r"/item/(\d+)\.json$")
_HN_HOST = "news.ycombinator.com"


class HackerNewsThread(Thread):
    platform = "Hacker News"

    def __init__(self, api: str, item_id: str) -> None:
        self.api = api.rstrip("/") + "/"
        self.item_id = item_id

    def start(self) -> list[str]:
        return [self._item(self.item_id)]

    def _item(self, item_id: str) -> str:
        return f"{self.api}item/{item_id}.json"

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        item = as_dict(data)
        item_id = text(item.get("id"))
        if item_id is None:
            return step
        kids = [str(k) for k in as_list(item.get("kids")) if text(k)]
        step.more = [self._item(k) for k in kids]
        if item.get("deleted") or item.get("dead"):
            return step
        root = item_id == self.item_id
        step.comments.append(EndpointComment(
            id=item_id, parent_id=None if root else text(item.get("parent")), author=text(item.get("by")),
            date=iso_from_epoch(item.get("time")), permalink=f"https://{_HN_HOST}/item?id={item_id}",
            html=text(item.get("text")) or "", links=[u for u in [text(item.get("url"))] if u], body=root,
        ))  # fmt: skip
        return step


def discover_hackernews(root: HtmlElement, page_url: str, api: str) -> HackerNewsThread | None:
    parts = urlsplit(page_url)
    if (parts.hostname or "").lower() == _HN_HOST and parts.path == "/item":
        item = (parse_qs(parts.query).get("id") or [""])[0]
        if item.isdigit():
            return HackerNewsThread(api, item)
    if root.xpath("//table[contains(concat(' ', @class, ' '), ' fatitem ')]"):
        ids = root.xpath("//table[contains(concat(' ', @class, ' '), ' fatitem ')]"
                         "//tr[contains(concat(' ', @class, ' '), ' athing ')]/@id")  # fmt: skip
        if ids and str(ids[0]).isdigit():
            return HackerNewsThread(api, str(ids[0]))
    return None
