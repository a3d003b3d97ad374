"""WordPress: the REST API a WordPress page advertises.

The page names its API root (``<link rel="https://api.w.org/" href=".../wp-json/">``,
or ``...?rest_route=/`` without pretty permalinks) and its post id (the
``alternate`` link to ``/wp/v2/posts/ID``, the ``?p=ID`` shortlink, the
comment form's ``comment_post_ID``, or the body class ``postid-ID``).
``/wp/v2/comments?post=ID&per_page=100&order=asc`` gives the approved
comments, page by page; ``X-WP-TotalPages`` says how many pages there are.
A comment: ``id``, ``parent`` (0 for top level), ``author_name``, ``date``
(site time, ``date_gmt`` UTC), ``link`` (its permalink), ``content.rendered``.
Pingbacks and trackbacks are not listed to anonymous readers; those on the
page are kept from its HTML. A page whose HTML already shows every comment
(some shown, no ``comment-page-N`` links, no more counted in the comments'
heading) is not asked again. The API must be on the page's own host (``www.``
aside): a page saved from one site and served by another does not send the
collector to the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, same_site, text

PER_PAGE = 100
MAX_PAGES = 200
_POST_PATH = re.compile(r"/wp/v2/posts/(\d+)")
_POSTID_CLASS = re.compile(r"\bpostid-(\d+)\b")
_COUNT = re.compile(r"\b(\d{1,6})\b")


class WordPressThread(Thread):
    platform = "WordPress"

    def __init__(self, api_root: str, post_id: str) -> None:
        self.api_root = api_root
        self.post_id = post_id

    def start(self) -> list[str]:
        return [self._page(1)]

    def _page(self, number: int) -> str:
        query = {"post": self.post_id, "per_page": PER_PAGE, "page": number, "order": "asc", "orderby": "date_gmt"}
        if "rest_route=" in self.api_root:  # a site without pretty permalinks
            parts = urlsplit(self.api_root)
            route = (parse_qs(parts.query).get("rest_route") or ["/"])[0].rstrip("/")
            return urljoin(self.api_root, "?" + urlencode({"rest_route": f"{route}/wp/v2/comments", **query}))
        return urljoin(self.api_root.rstrip("/") + "/", "wp/v2/comments") + "?" + urlencode(query)

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        for item in as_list(data):
            item = as_dict(item)
            if text(item.get("id")) is None:
                continue
            parent = text(item.get("parent"))
            date_gmt = text(item.get("date_gmt"))
            step.comments.append(EndpointComment(
                id=str(item["id"]), parent_id=None if parent in (None, "0") else parent,
                author=text(item.get("author_name")),
                date=f"{date_gmt}Z" if date_gmt and not date_gmt.endswith("Z") else (date_gmt or text(item.get("date"))),
                permalink=text(item.get("link")), html=text(as_dict(item.get("content")).get("rendered")) or "",
                kind=text(item.get("type")) or "comment",
            ))  # fmt: skip
        page = int((parse_qs(urlsplit(url).query).get("page") or ["1"])[0])
        total = _int(headers.get("x-wp-totalpages"))
        if page == 1 and total and total > 1:
            step.more = [self._page(n) for n in range(2, min(total, MAX_PAGES) + 1)]
            if total > MAX_PAGES:
                step.notes.append(f"WordPress comments: only the first {MAX_PAGES} of {total} pages were read")
        return step


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def discover_wordpress(root: HtmlElement, page_url: str) -> WordPressThread | None:
    api = _attr(root, "//link[@rel='https://api.w.org/']/@href")
    if not api:
        return None
    post_id = _post_id(root)
    api_root = urljoin(page_url, api)
    if post_id is None or not same_site(api_root, page_url):
        return None  # a saved copy of another site's page: its API is not this page's
    if _page_shows_all(root):
        return None  # the HTML has every comment already: no request needed
    return WordPressThread(api_root, post_id)


def _page_shows_all(root: HtmlElement) -> bool:
    """True when the page's HTML holds all its comments: some are shown, none on another
    comment page (``comment-page-N``, ``cpage=``), and no more than the heading counts."""
    shown = len(root.xpath("//*[starts-with(@id, 'comment-') or starts-with(@id, 'li-comment-')]"
                           "[contains(concat(' ', @class, ' '), ' comment ') or contains(@class, 'pingback')"
                           " or contains(@class, 'trackback')]"))  # fmt: skip
    if not shown:
        return False
    if root.xpath("//a[contains(@href, '/comment-page-') or contains(@href, 'cpage=')]"):
        return False
    heading = " ".join(" ".join(str(t) for t in h.itertext()) for h in root.xpath(
        "//*[contains(@class, 'comments-title') or contains(@class, 'comment-title')]"))
    counts = [int(n) for n in _COUNT.findall(heading)]
    return not counts or max(counts) <= shown


def _post_id(root: HtmlElement) -> str | None:
    for href in root.xpath("//link[@rel='alternate'][@type='application/json']/@href"):
        found = _POST_PATH.search(str(href))
        if found:
            return found.group(1)
    for href in root.xpath("//link[@rel='shortlink']/@href"):
        value = (parse_qs(urlsplit(str(href)).query).get("p") or [""])[0]
        if value.isdigit():
            return value
    field = _attr(root, "//input[@name='comment_post_ID']/@value")
    if field and field.isdigit():
        return field
    found = _POSTID_CLASS.search(_attr(root, "//body/@class") or "")
    return found.group(1) if found else None


def _attr(root: HtmlElement, xpath: str) -> str | None:
    values = root.xpath(xpath)
    return str(values[0]).strip() if values else None
