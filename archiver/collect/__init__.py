"""collect: harvest the URLs an article and its reader comments cite.

Pure: no network, no database. The caller fetches pages and feeds, and stores
what comes back. Modules, one concern each::

    model      RawLink, CollectProblem, Collected, FeedEntry
    normalize  normalize_url, is_fetchable_scheme (SPEC §7 canonical URL)
    urlscan    URLs in running text; the sentence around a link
    text       collect_text: .txt / .md, with comment sections
    decode     bytes to text (BOM, declared charset, UTF-8, windows-1252); sniffing
    flat       a parsed page as text plus link occurrences in document order
    comments   reader-comment entries in HTML: number, kind, author, date, parent,
               permalink, chrome; Q&A answers and pingbacks
    body       which links of a page are in its main text (trafilatura)
    recall     links of the article container the extractor dropped; source lists
    endpoints  comment platforms' public endpoints: discovery, JSON, thread order
    filters    links that are not citations; redirect wrappers; [collect] exclude
    html       collect_html: decode, parse, and decide about every link
    dates      comment dates to ISO 8601
    feeds      parse_feed: RSS, Atom, JSON Feed, sitemaps

Problems in a source (a malformed URL, a page that is not HTML, undecodable
bytes, markup too deep to read) come back in ``Collected.problems``; only a
caller's mistake (a file that does not exist or is of a type not read, an
invalid exclude pattern, a feed that is not a feed) raises ``UsageError``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError

from .decode import decode_document, sniff
from .feeds import parse_feed
from .filters import is_excluded
from .html import collect_html
from .model import BODY, COMMENT, Collected, CollectProblem, FeedEntry, RawLink
from .normalize import InvalidURL, is_fetchable_scheme, normalize_url
from .text import collect_text

__all__ = [
    "BODY",
    "COMMENT",
    "HTML_SUFFIXES",
    "TEXT_SUFFIXES",
    "Collected",
    "CollectProblem",
    "FeedEntry",
    "InvalidURL",
    "RawLink",
    "collect_file",
    "collect_html",
    "collect_text",
    "is_excluded",
    "is_fetchable_scheme",
    "normalize_url",
    "parse_feed",
]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_TEXTUAL = ("JSON", "an RSS/Atom feed", "a sitemap")
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".mdown", ".mkd", ".mkdn")


def collect_file(path: Path, *, include_comments: bool = True) -> Collected:
    """Collect from a local file, chosen by suffix: .html .htm .xhtml .txt .md.

    HTML is decoded like a fetched page and its relative links are resolved
    against the page's own ``<base>``, canonical or ``og:url`` URL (a saved
    page keeps them). Text is read as UTF-8 (a BOM is honoured), falling back
    to windows-1252 with a problem noted. The source is the path as given.
    Raises UsageError for a missing or unreadable file or an unknown suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in HTML_SUFFIXES + TEXT_SUFFIXES:
        known = " ".join(HTML_SUFFIXES + TEXT_SUFFIXES)
        raise UsageError(f"{path}: cannot collect from {suffix or 'a file without suffix'!r} files (known: {known})")
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a directory, not a file") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    source = str(path)
    if suffix in HTML_SUFFIXES:
        return collect_html(data, None, source, include_comments=include_comments)
    what = sniff(data)
    if what is not None and what not in _TEXTUAL:
        result = Collected(source=source, title=None)
        result.problem(
            0,
            "empty file: nothing to collect" if what == "an empty document" else f"not a text file: looks like {what}",
        )
        return result
    text, notes = decode_document(data, html=False)
    result = collect_text(text, source)
    if not include_comments:
        result.links = [link for link in result.links if link.where != COMMENT]
    for note in notes:
        result.problem(0, note)
    return result
