"""Main text of a fetched or stored page, computed once per payload.

The cited copy's text is extracted from its WARC record the first time it is
needed and kept in the ``texts`` table, keyed by payload digest; a live page
with the same digest is never extracted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import warc
from .extract import decode_body, decode_text, extract
from .models import FetchResult
from .store import Store

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


@dataclass(frozen=True)
class PageText:
    title: str | None
    text: str
    fingerprint: str | None
    payload_digest: str
    final_url: str
    html_text: str = ""  # the decoded page (live pages only), for parked/challenge detection
    heading: str | None = None  # first <h1> (live pages only)


def _page_text(body: bytes, encoding: str | None, content_type: str | None, *, digest: str, url: str,
               limit: int) -> PageText:
    try:
        decoded = decode_body(body, encoding, limit=limit)
    except ValueError:
        return PageText(None, "", None, digest, url)
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in HTML_TYPES:
        return PageText(None, "", None, digest, url)
    html = decode_text(decoded, content_type)
    extracted = extract(html, url)
    return PageText(extracted.title, extracted.text, extracted.fingerprint, digest, url, html, extracted.heading)


def page_text_of_result(result: FetchResult, limit: int) -> PageText | None:
    """Main text of the final response of a fetch (read from its temporary body file)."""
    final = result.final
    if final is None or final.body_path is None:
        return None
    body = final.body_path.read_bytes()
    return _page_text(body, final.header("content-encoding"), final.header("content-type"),
                      digest=final.payload_digest, url=final.url, limit=limit)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        if key.lower() == name:
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None


def stored_page_text(store: Store, warc_dir: Path, capture: dict[str, Any], limit: int) -> PageText | None:
    """Main text of a stored capture, from the ``texts`` cache or its WARC record."""
    digest = capture["payload_digest"] or ""
    cached = store.text_for(digest) if digest else None
    if cached is not None:
        return PageText(cached["title"], cached["text"], cached["fingerprint"], digest, capture["final_url"])
    if capture["kind"] == "revisit" and capture["refers_to"]:
        original = store.capture(capture["refers_to"])
        return stored_page_text(store, warc_dir, original, limit) if original else None
    if not capture["warc"]:
        return None
    headers, body = warc.read_payload(warc_dir, capture["warc"], capture["offset"])
    page = _page_text(body, _header(headers, "content-encoding"), _header(headers, "content-type"),
                      digest=digest, url=capture["final_url"], limit=limit)
    if digest:
        store.save_text(digest, page.title, page.text, page.fingerprint)
    return page
