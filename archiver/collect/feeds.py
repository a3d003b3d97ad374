"""The articles a feed or a sitemap lists.

``parse_feed`` reads, told apart by content (never by file name):

- RSS 0.9x/1.0/2.0 and Atom, through feedparser: an entry's page is its
  ``alternate`` link (``<link>`` in RSS); an entry with no such link (only a
  ``rel="self"`` link, or none) names no page and is left out. Its content is
  the first ``<content>``, else the summary/description;
- JSON Feed 1.0/1.1: an item's ``url`` (else ``external_url``), its
  ``content_html`` (else ``content_text``, escaped into ``<p>``);
- sitemaps: ``<urlset>`` gives one entry per ``<loc>``; a ``<sitemapindex>``
  gives entries with ``is_sitemap_index=True``, other sitemaps to read. A
  gzip-compressed sitemap (``sitemap.xml.gz``) is inflated, up to
  ``MAX_INFLATED`` bytes.

An ``<?xml encoding?>`` that names no text encoding (``base64``,
``undefined``, ``punycode`` ...) is ignored: the bytes are read as UTF-8 (else
windows-1252), as for a page. Relative URLs are resolved against the feed's URL. Entries keep document
order; a URL listed twice is kept once. Data that is none of these raises
``archiver.errors.UsageError`` with a message that says what was found, since
a broken feed source is the user's to fix.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import re
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from ..charsets import text_codec
from ..errors import UsageError

from .model import FeedEntry

MAX_INFLATED = 50 * 1024 * 1024
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([^"'>]{0,40})["']""")


def parse_feed(data: bytes, url: str) -> list[FeedEntry]:
    """Entries of an RSS, Atom or JSON feed, or of a sitemap (module docstring)."""
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, url)
    data = _without_bad_declaration(data)
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return _dedupe(_json_feed(data, url))
    root = _xml_root(data)
    if root is not None and etree.QName(root).localname in ("urlset", "sitemapindex"):
        return _dedupe(_sitemap(root, url))
    return _dedupe(_rss_atom(data, url))


def _gunzip(data: bytes, url: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inflated = stream.read(MAX_INFLATED + 1)
    except (OSError, EOFError) as exc:
        raise UsageError(f"{url}: corrupt gzip data: {exc}") from exc
    if len(inflated) > MAX_INFLATED:
        raise UsageError(f"{url}: inflates to more than {MAX_INFLATED} bytes; not read")
    return inflated


def _without_bad_declaration(data: bytes) -> bytes:
    """``data`` declared (and if need be re-encoded) as UTF-8 when its XML
    declaration names no text encoding: feedparser and libxml2 fail on such a
    label, or raise."""
    match = _XML_ENCODING.match(data[:300])
    if match is None or text_codec(match.group(1).decode("ascii", "replace")) is not None:
        return data
    data = data[: match.start(1)] + b"utf-8" + data[match.end(1) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("cp1252", errors="replace").encode("utf-8")
    return data


def _xml_root(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return None


def _sitemap(root: etree._Element, url: str) -> list[FeedEntry]:
    index = etree.QName(root).localname == "sitemapindex"
    entries = []
    for loc in root.iter(f"{{{_SITEMAP_NS}}}loc", "loc"):
        if loc.text and loc.text.strip():
            entries.append(FeedEntry(urljoin(url, loc.text.strip()), None, None, is_sitemap_index=index))
    return entries


def _json_feed(data: bytes, url: str) -> list[FeedEntry]:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{url}: not a feed: invalid JSON ({exc})") from exc
    if not isinstance(document, dict) or "jsonfeed.org" not in str(document.get("version", "")):
        raise UsageError(f"{url}: JSON but not a JSON Feed (no jsonfeed.org version)")
    base = document.get("feed_url") or url
    items = document.get("items")
    if not isinstance(items, list):
        raise UsageError(f"{url}: JSON Feed without an items list")
    return [entry for item in items if (entry := _json_item(item, urljoin(url, str(base)))) is not None]


def _json_item(item: Any, base: str) -> FeedEntry | None:
    if not isinstance(item, dict):
        return None
    link = item.get("url") or item.get("external_url")
    if not isinstance(link, str) or not link.strip():
        return None
    content = item.get("content_html")
    if not isinstance(content, str) and isinstance(item.get("content_text"), str):
        content = f"<p>{html.escape(item['content_text'])}</p>"
    title = item.get("title") if isinstance(item.get("title"), str) else None
    return FeedEntry(urljoin(base, link.strip()), title, content if isinstance(content, str) else None)


def _rss_atom(data: bytes, url: str) -> list[FeedEntry]:
    parsed = feedparser.parse(data, response_headers={"content-location": url})
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise UsageError(f"{url}: not an RSS/Atom/JSON feed or sitemap ({reason})")
    entries = []
    for entry in parsed.entries:
        link = _entry_link(entry)
        if link:
            entries.append(FeedEntry(urljoin(url, link), entry.get("title") or None, _entry_content(entry)))
    return entries


def _entry_link(entry: Any) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _entry_content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    for content in contents:
        if content.get("value"):
            return str(content["value"])
    summary = entry.get("summary")
    return str(summary) if summary else None


def _dedupe(entries: list[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.url not in seen:
            seen.add(entry.url)
            unique.append(entry)
    return unique
