"""Bluesky: a post's thread from the public AppView.

A post page (``bsky.app/profile/HANDLE/post/RKEY``) names its record as an
``at://`` URI (``<link rel="alternate" href="at://did:plc:.../app.bsky.feed.post/RKEY">``).
``app.bsky.feed.getPostThread?uri=AT-URI&depth=1000&parentHeight=0`` on the
public AppView (no key) answers ``{"thread": threadViewPost}``: ``post``
(``uri``, ``author`` {``did``, ``handle``, ``displayName``}, ``record``
{``text``, ``createdAt``, ``facets``}, ``embed``) and ``replies`` (more
threadViewPosts; blocked or deleted ones have another ``$type``). A post's
links are its facets' ``app.bsky.richtext.facet#link`` features (the text
shows them shortened) and an external embed's ``uri``.
"""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, text

_POST_URI = re.compile(r"^at://(?P<repo>[^/]+)/app\.bsky\.feed\.post/(?P<rkey>[A-Za-z0-9._:~-]+)$")
_THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
_LINK_FACET = "app.bsky.richtext.facet#link"
MAX_DEPTH = 1000


class BlueskyThread(Thread):
    platform = "Bluesky"

    def __init__(self, appview: str, uri: str) -> None:
        self.appview = appview.rstrip("/") + "/"
        self.uri = uri

    def start(self) -> list[str]:
        query = urlencode({"uri": self.uri, "depth": MAX_DEPTH, "parentHeight": 0})
        return [f"{self.appview}app.bsky.feed.getPostThread?{query}"]

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        stack: list[tuple[dict[str, Any], str | None]] = [(as_dict(as_dict(data).get("thread")), None)]
        while stack:
            node, parent = stack.pop()
            if node.get("$type", _THREAD_VIEW) != _THREAD_VIEW:
                continue  # blocked, deleted or not found
            post = as_dict(node.get("post"))
            comment = _comment(post, parent)
            if comment is None:
                continue
            comment.body = parent is None
            step.comments.append(comment)
            stack.extend((as_dict(r), comment.id) for r in reversed(as_list(node.get("replies"))))
        return step


def _comment(post: dict[str, Any], parent: str | None) -> EndpointComment | None:
    uri = text(post.get("uri"))
    found = _POST_URI.match(uri or "")
    if uri is None or found is None:
        return None
    author = as_dict(post.get("author"))
    record = as_dict(post.get("record"))
    links = []
    for facet in as_list(record.get("facets")):
        for feature in as_list(as_dict(facet).get("features")):
            feature = as_dict(feature)
            if feature.get("$type") == _LINK_FACET and text(feature.get("uri")):
                links.append(str(feature["uri"]))
    external = as_dict(as_dict(as_dict(post.get("embed")).get("external")))
    if text(external.get("uri")):
        links.append(str(external["uri"]))
    handle = text(author.get("handle")) or found.group("repo")
    body = html_module.escape(text(record.get("text")) or "")
    return EndpointComment(
        id=uri, parent_id=parent, author=text(author.get("displayName")) or handle,
        date=text(record.get("createdAt")) or text(post.get("indexedAt")),
        permalink=f"https://bsky.app/profile/{handle}/post/{found.group('rkey')}",
        html=f"<p>{body}</p>" if body else "", links=links,
    )  # fmt: skip


def discover_bluesky(root: HtmlElement, page_url: str, appview: str) -> BlueskyThread | None:
    for href in root.xpath("//link[@rel='alternate']/@href"):
        if _POST_URI.match(str(href).strip()):
            return BlueskyThread(appview, str(href).strip())
    return None
