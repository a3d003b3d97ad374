"""Citations in an HTML page: the article's main text and its reader comments.

Steps (each a small function below):

1. Bytes are sniffed and decoded (``decode``); an image, PDF, JSON, a feed or
   an empty body is reported as a problem, text without any markup is read as
   plain text.
2. The page is parsed once with lxml; a page longer than ``MAX_PAGE_CHARS``
   loses its inline scripts and styles first, and is then cut at that length.
   libxml2 stops at 256 levels of nesting (and at 10 MB text nodes); what lies
   beyond is reported as not read, so a pathological page costs little.
3. Comment entries are found and numbered (``comments``).
4. The links of the main text are told apart by trafilatura (``body``), on
   the page without its comment sections. Only the first ``MAX_LINKS`` link
   occurrences of a page are read.
5. Every link occurrence (``flat``) is resolved against the base URL (the
   ``<base href>``, else the URL given, else the page's canonical URL), checked
   (a malformed URL becomes a problem, never an exception), filtered
   (``filters``; chrome of comment entries; everything inside an embedded
   tweet but the tweet itself) and reported with the sentence around it.

``RawLink.url`` is the href resolved against the base URL, taken out of a
platform redirect wrapper (``filters.unwrap_redirect``); normalizing it is the
store's business.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

from .. import markup

from .body import MainText, main_text
from .comments import PINGBACK, TRACKBACK, CommentLayout, HtmlComment, find_comments, is_chrome
from .comments import _is_button  # noqa: PLC2701 - shared with the entry's chrome rule
from .decode import decode_document, sniff
from .filters import Page, noise_reason, unwrap_redirect
from .flat import FlatPage, Occurrence, flatten
from .model import BODY, COMMENT, Collected, RawLink
from .normalize import InvalidURL, normalize_url
from .text import collect_text
from .urlscan import SCHEME_START, collapse_ws, context_around

MAX_LINKS = 10_000
MAX_PAGE_CHARS = 3_000_000
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_WIDGET_CLASS = re.compile(
    r"follow-button|share|sharing|sharedaddy|addtoany|shariff|social-(?:links|icons|buttons)", re.I
)
_TWEET_STATUS = re.compile(r"^https?://(?:mobile\.)?(?:twitter|x)\.com/[^/]+/status(?:es)?/\d+", re.I)


@dataclass(frozen=True)
class _PageState:
    """What deciding about one link needs to know about its page."""

    result: Collected
    flat: FlatPage
    layout: CommentLayout
    body: MainText
    base: str | None
    page: Page
    include_comments: bool


def collect_html(
    html: str | bytes,
    base_url: str | None,
    source: str,
    *,
    include_comments: bool = True,
    charset: str | None = None,
) -> Collected:
    """Citations of one HTML page; problems are reported, never raised.

    ``base_url`` is the URL the page was fetched from (after redirects); it
    may be None for a saved file, and the page's ``<base>``, canonical or
    ``og:url`` is then used. ``charset`` is the one from the HTTP
    ``Content-Type``, if any.
    """
    result = Collected(source=source, title=None)
    text = _to_text(html, charset, result)
    if text is None:
        return result
    if "<" not in text[:65536]:
        result.problem(0, "no HTML markup found; read as plain text")
        plain = collect_text(text, source)
        result.title, result.links = plain.title, plain.links
        result.problems.extend(plain.problems)
        return result
    root = _parse(text, result)
    if root is None:
        return result
    result.title = page_title(root)
    base, page = _base_and_page(root, base_url)
    layout = find_comments(root)
    for note in layout.notes:
        result.problem(0, note)
    flat = flatten(root)
    state = _PageState(result, flat, layout, main_text(root, flat, layout, result), base, page, include_comments)
    if len(flat.occurrences) > MAX_LINKS:
        result.problem(0, f"page has {len(flat.occurrences)} links; only the first {MAX_LINKS} were read")
        del flat.occurrences[MAX_LINKS:]
    for position, occurrence in enumerate(flat.occurrences):
        link = _link(occurrence, position, state)
        if link is not None:
            result.links.append(link)
    return result


def _to_text(html: str | bytes, charset: str | None, result: Collected) -> str | None:
    what = sniff(html)
    if what == "an empty document":
        result.problem(0, "empty page: nothing to collect")
        return None
    if what is not None:
        hint = "; a JSON Feed is read with parse_feed" if what == "JSON" else ""
        hint = "; give it as a feed source" if "feed" in what or "sitemap" in what else hint
        result.problem(0, f"not an HTML page: looks like {what}{hint}")
        return None
    if isinstance(html, str):
        text = html.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot go into a tree
    else:
        text, notes = decode_document(html, charset)
        for note in notes:
            result.problem(0, note)
    text = _CONTROL_CHARS.sub(" ", text)  # not allowed in an lxml tree, and never part of a citation
    if len(text) > MAX_PAGE_CHARS:
        text = _drop_scripts(text)  # inline scripts and styles are the usual bulk; they cite nothing
    if len(text) > MAX_PAGE_CHARS:
        result.problem(0, f"page has {len(text):,} characters of markup; only the first {MAX_PAGE_CHARS:,} were read")
        text = text[:MAX_PAGE_CHARS]
    return text


def _drop_scripts(text: str) -> str:
    """Remove <script> and <style> elements in one linear pass (no regex backtracking)."""
    lower = text.lower()
    out: list[str] = []
    pos = 0
    upcoming = {tag: lower.find(f"<{tag}", 0) for tag in ("script", "style")}
    while True:
        for tag, at in upcoming.items():
            if 0 <= at < pos:
                upcoming[tag] = lower.find(f"<{tag}", pos)
        found = [(at, tag) for tag, at in upcoming.items() if at >= 0]
        if not found:
            out.append(text[pos:])
            break
        start, tag = min(found)
        out.append(text[pos:start])
        close = lower.find(f"</{tag}", start)
        if close < 0:
            break  # unclosed: a browser would read the rest as script too
        end = lower.find(">", close)
        pos = len(text) if end < 0 else end + 1
    return "".join(out)


def _parse(text: str, result: Collected) -> HtmlElement | None:
    text, floods = markup.tame(text)  # libxml2 takes n² time for a tag with n attributes
    if floods:
        result.problem(0, f"{floods} tag(s) with more than {markup.MAX_ATTRIBUTES} attributes: "
                          "the attributes past that were not read")
    parser = HTMLParser(recover=True, no_network=True, huge_tree=False, remove_blank_text=False)
    try:
        root = document_fromstring(_XML_DECLARATION.sub("", text, count=1), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        result.problem(0, f"page could not be parsed as HTML: {exc}")
        return None
    messages = {e.message.lower() for e in parser.error_log}
    if any("depth" in m for m in messages):
        result.problem(0, "markup nested deeper than 256 levels: the parser stopped there, the rest was not read")
    if any("huge" in m for m in messages):
        result.problem(0, "a text node larger than 10 MB: the parser stopped there, the rest was not read")
    return root


def page_title(root: HtmlElement) -> str | None:
    """og:title, else <title>, else the first <h1>."""
    for xpath in ("//meta[@property='og:title']/@content", "//title//text()", "//h1//text()"):
        found = collapse_ws(" ".join(str(v) for v in root.xpath(xpath)[:20]))
        if found:
            return found[:300]
    return None


def _base_and_page(root: HtmlElement, base_url: str | None) -> tuple[str | None, Page]:
    """The URL relative links resolve against, and the page's own URLs."""
    canonical = _first(root, "//link[@rel='canonical']/@href")
    og_url = _first(root, "//meta[@property='og:url']/@content")
    base_href = _first(root, "//base/@href")
    anchor = base_url or next((u for u in (canonical, og_url) if u and SCHEME_START.match(u)), None)
    base = anchor
    if base_href:
        base = _join(anchor, base_href) if anchor else (base_href if SCHEME_START.match(base_href) else None)
    own = [base_url, _join(anchor, canonical) if canonical else None, _join(anchor, og_url) if og_url else None]
    return base, Page.from_urls(own)


def _first(root: HtmlElement, xpath: str) -> str | None:
    values = root.xpath(xpath)
    return str(values[0]).strip() if values else None


def _join(base: str | None, href: str) -> str | None:
    href = href.strip().translate({9: None, 10: None, 13: None})
    try:
        return urljoin(base, href) if base else href
    except ValueError:  # urllib rejects some malformed hosts; keep them to report them
        return href if SCHEME_START.match(href) else None


def _link(occurrence: Occurrence, position: int, state: _PageState) -> RawLink | None:
    """The citation an occurrence makes, or None when it is not one."""
    in_entry, comment = state.layout.owner(occurrence.element)
    if in_entry:
        if comment is None or not state.include_comments or _entry_chrome(occurrence, comment):
            return None
    elif not state.body.holds(occurrence):
        return None
    url = _resolve(occurrence.raw, state.base)
    if url is None:
        return None
    try:
        normalized = normalize_url(url)
    except InvalidURL as exc:
        if SCHEME_START.match(url):
            state.result.problem(position, f"malformed URL {url!r} (written {occurrence.raw!r}): {exc}")
        return None
    anchor = occurrence.anchor_text or None
    if noise_reason(normalized, state.page, anchor) or _embed_chrome(occurrence.element, url):
        return None
    if occurrence.is_anchor and _is_widget(occurrence.element):
        return None
    return RawLink(
        url=url,
        where=COMMENT if comment else BODY,
        comment=comment.number if comment else None,
        comment_author=comment.author if comment else None,
        comment_date=comment.date if comment else None,
        anchor=anchor if occurrence.is_anchor else None,
        context=_context(state.flat, occurrence),
        position=position,
        comment_kind=comment.kind if comment else None,
        comment_label=comment.label if comment else None,
        comment_parent=comment.parent if comment else None,
        comment_permalink=_permalink(comment, state.base),
    )


def _entry_chrome(occurrence: Occurrence, comment: HtmlComment) -> bool:
    """Chrome of a comment entry; in a pingback or trackback the link to the citing page is the point."""
    if comment.kind in (PINGBACK, TRACKBACK):
        return occurrence.is_anchor and _is_button(occurrence.element)
    return is_chrome(occurrence.element, comment.element)


def _permalink(comment: HtmlComment | None, base: str | None) -> str | None:
    if comment is None or not comment.permalink or not base:
        return None
    return _joined(base, comment.permalink)


@functools.lru_cache(maxsize=4096)
def _joined(base: str, href: str) -> str | None:
    return _join(base, href)


def _resolve(raw: str, base: str | None) -> str | None:
    """Absolute URL of an href (None when it cannot be made absolute)."""
    href = raw.strip().translate({9: None, 10: None, 13: None})
    if not href or href.startswith("#"):
        return None
    if not SCHEME_START.match(href) and base is None:
        return href if ":" in href.split("/", 1)[0] else None
    url = _join(base, href) if base else href
    return unwrap_redirect(url) if url else None


def _embed_chrome(element: HtmlElement, url: str) -> bool:
    """Inside an embedded tweet only the tweet itself is cited, not its hashtags."""
    for ancestor in element.iterancestors("blockquote"):
        if "twitter-tweet" in (ancestor.get("class") or ""):
            return not _TWEET_STATUS.match(url)
    return False


def _is_widget(anchor: HtmlElement) -> bool:
    """A share or follow button, told by its own class or its container's."""
    node: HtmlElement | None = anchor
    for _ in range(4):
        if node is None:
            break
        if _WIDGET_CLASS.search(node.get("class") or ""):
            return True
        node = node.getparent()
    return False


def _context(flat: FlatPage, occurrence: Occurrence) -> str:
    start, end = occurrence.start, occurrence.end
    label = flat.text[start:end].strip()
    if occurrence.is_anchor and label and not SCHEME_START.match(label):
        # a titled link explains itself: take its sentence, never the line above
        return context_around(flat.text, start, end, lone_line=False)
    return context_around(flat.text, start, end)
