"""What every platform reader shares: comments, steps, thread order, links."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement, fragment_fromstring

from ..filters import Page, noise_reason, unwrap_redirect
from ..flat import flatten
from ..model import COMMENT, RawLink
from ..normalize import InvalidURL, normalize_url
from ..urlscan import SCHEME_START, context_around

MAX_COMMENT_HTML = 200_000  # characters of one comment read; a longer one is cut


@dataclass
class EndpointComment:
    """One comment as a platform's endpoint describes it.

    ``html`` is the comment's text as the platform renders it (escaped by the
    platform; read with lxml, never executed); ``links`` are links the
    platform gives beside the text (Bluesky facets, a story's URL).
    """

    id: str
    parent_id: str | None
    author: str | None
    date: str | None  # ISO 8601
    permalink: str | None
    html: str = ""
    links: list[str] = field(default_factory=list)
    kind: str = "comment"
    body: bool = False  # the thread's opening post: its links are the article's


@dataclass
class Step:
    """What one endpoint answer gave: comments, URLs still to fetch, notes for the user."""

    comments: list[EndpointComment] = field(default_factory=list)
    more: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Thread:
    """A platform's comment thread for one article: URLs to fetch and how to read them."""

    platform = "comments"

    def start(self) -> list[str]:
        """The first endpoint URLs to fetch (empty: nothing can be read, see ``notes``)."""
        raise NotImplementedError

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        """Read the JSON answer ``data`` of ``url``."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Why the thread cannot be read at all (a missing key ...); empty when it can."""
        return []


def load_json(raw: bytes) -> Any:
    """JSON from an endpoint's body; ValueError when it is not JSON."""
    return json.loads(raw.decode("utf-8-sig", "replace"))


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def same_site(url: str, page_url: str) -> bool:
    """Both URLs on one host (``www.`` aside) and port."""
    try:
        a, b = urlsplit(url), urlsplit(page_url)
        return (a.hostname or "").removeprefix("www.") == (b.hostname or "").removeprefix("www.") and a.port == b.port
    except ValueError:
        return False


def thread_order(comments: list[EndpointComment]) -> list[tuple[EndpointComment, int | None]]:
    """Comments depth first (replies right after their parent, in the order they came),
    each with its parent's position (1-based) in that order; a comment whose parent is
    unknown is a top-level one. Each comment appears once."""
    unique: dict[str, EndpointComment] = {}
    for comment in comments:
        unique.setdefault(comment.id, comment)
    children: dict[str | None, list[EndpointComment]] = {}
    for comment in unique.values():
        parent_id = comment.parent_id if comment.parent_id in unique and comment.parent_id != comment.id else None
        children.setdefault(parent_id, []).append(comment)
    ordered: list[tuple[EndpointComment, int | None]] = []
    number: dict[str, int] = {}
    stack: list[tuple[EndpointComment, int | None]] = [(c, None) for c in reversed(children.get(None, []))]
    while stack:
        comment, parent_number = stack.pop()
        if comment.id in number:
            continue
        ordered.append((comment, parent_number))
        number[comment.id] = len(ordered)
        stack.extend((c, number[comment.id]) for c in reversed(children.get(comment.id, [])))
    return ordered


def thread_links(comments: list[EndpointComment], page_url: str, source_title: str | None = None) -> list[RawLink]:
    """Every citation in the comments, numbered in thread order, with provenance.

    The opening post of a thread (``body=True``) gives body links, numbered
    nothing. Mentions, hashtags and the platform's own chrome are not
    citations; the filters of ``archiver.collect.filters`` apply as on a page.
    """
    page = Page.from_urls([page_url])
    links: list[RawLink] = []
    body = [c for c in comments if c.body]
    for comment in body:
        links += _links_of(comment, None, None, page, page_url, 0)
    for position, (comment, parent) in enumerate(thread_order([c for c in comments if not c.body]), start=1):
        links += _links_of(comment, position, parent, page, page_url, position)
    return links


def _links_of(
    comment: EndpointComment, number: int | None, parent: int | None, page: Page, base: str, position: int
) -> list[RawLink]:
    found: list[tuple[str, str | None, str]] = []  # (url, anchor, context)
    root = _fragment(comment.html)
    if root is not None:
        flat = flatten(root)
        for occurrence in flat.occurrences:
            if occurrence.is_anchor and _is_mention(occurrence.element):
                continue
            url = _absolute(occurrence.raw, comment.permalink or base)
            if url is None:
                continue
            anchor = occurrence.anchor_text or None if occurrence.is_anchor else None
            found.append((url, anchor, context_around(flat.text, occurrence.start, occurrence.end)))
        plain = " ".join(flat.text.split())
    else:
        plain = ""
    for extra in comment.links:
        if not any(url == extra for url, _, _ in found):
            found.append((extra, None, plain[:300]))
    links: list[RawLink] = []
    seen: set[str] = set()
    for index, (url, anchor, context) in enumerate(found):
        try:
            normalized = normalize_url(url)
        except InvalidURL:
            continue
        if normalized in seen or noise_reason(normalized, page, anchor):
            continue
        seen.add(normalized)
        links.append(RawLink(
            url=url, where="body" if number is None else COMMENT, comment=number,
            comment_author=comment.author if number is not None else None,
            comment_date=comment.date if number is not None else None,
            anchor=anchor, context=context, position=position * 1000 + index,
            comment_kind=comment.kind if number is not None else None,
            comment_parent=parent, comment_permalink=comment.permalink if number is not None else None,
        ))  # fmt: skip
    return links


def _fragment(html: str) -> HtmlElement | None:
    if not html or not html.strip():
        return None
    try:
        return fragment_fromstring(html[:MAX_COMMENT_HTML], create_parent="div")
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _is_mention(anchor: HtmlElement) -> bool:
    """A @mention or #hashtag link (Mastodon, Discourse): a person or a tag, not a source."""
    classes = set((anchor.get("class") or "").split())
    if classes & {"mention", "hashtag", "u-url"} or "tag" in (anchor.get("rel") or "").split():
        return True
    label = anchor.text_content().strip()
    return label.startswith(("@", "#")) and " " not in label


def _absolute(href: str, base: str) -> str | None:
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = urljoin(base, href)
    except ValueError:
        return None
    return unwrap_redirect(url) if SCHEME_START.match(url) else None
