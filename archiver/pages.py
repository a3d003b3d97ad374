"""Main text of a fetched or stored page, computed once per payload.

The cited copy's text is extracted from its WARC record the first time it is
needed and kept in the ``texts`` table, keyed by payload digest; a live page
with the same digest is never extracted again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import warc
from .extract import decode_body, decode_text, extract, extract_pdf
from .config import Config
from .errors import ArchiverError
from .models import FetchResult
from .store import Store

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


class DamagedCopy(ArchiverError):
    """A stored copy whose WARC record cannot be read back (truncated, corrupted, missing file)."""

    def __init__(self, capture: dict[str, Any], problem: str) -> None:
        self.capture_id = int(capture["id"])
        self.where = f"{capture['warc']} at offset {capture['offset']}"
        self.problem = problem
        super().__init__(f"the stored copy of {capture['captured_at']} ({self.where}) is damaged: {problem}")


@dataclass(frozen=True)
class PageText:
    title: str | None
    text: str
    fingerprint: str | None
    payload_digest: str
    final_url: str
    heading: str | None = None  # first <h1> (live pages only)


def text_limit(config: Config) -> int:
    """How far a stored or live body may be inflated for extraction."""
    return int(max(config.fetch.max_body * 4, 1 << 20))


def _page_text(body: bytes, encoding: str | None, content_type: str | None, *, digest: str, url: str,
               limit: int) -> PageText:
    try:
        decoded = decode_body(body, encoding, limit=limit)
    except ValueError:
        return PageText(None, "", None, digest, url)
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/pdf":
        extracted = extract_pdf(decoded)
    elif kind in HTML_TYPES:
        extracted = extract(decode_text(decoded, content_type), url)
    else:
        return PageText(None, "", None, digest, url)
    return PageText(extracted.title, extracted.text, extracted.fingerprint, digest, url, extracted.heading)


def final_body(result: FetchResult, limit: int) -> bytes:
    """The final response's body, content-decoded, inflated to at most ``limit`` bytes.

    Raises ValueError for a content encoding that cannot be decoded."""
    final = result.final
    if final is None or final.body_path is None:
        return b""
    return decode_body(final.body_path.read_bytes(), final.header("content-encoding"), limit=limit)


def read_html(result: FetchResult, limit: int = 4 << 20) -> str:
    """The final response decoded to text, for page-kind heuristics ("" when unreadable)."""
    try:
        body = final_body(result, limit)
    except (OSError, ValueError):
        return ""
    return decode_text(body, result.final.header("content-type") if result.final else None)


def text_of_file(path: str, encoding: str | None, content_type: str | None, digest: str, url: str,
                 limit: int) -> PageText:
    """Main text of a body file; a plain function, so a worker process can run it."""
    return _page_text(Path(path).read_bytes(), encoding, content_type, digest=digest, url=url, limit=limit)


def text_of_bytes(body: bytes, encoding: str | None, content_type: str | None, digest: str, url: str,
                  limit: int) -> PageText:
    return _page_text(body, encoding, content_type, digest=digest, url=url, limit=limit)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        if key.lower() == name:
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None


class TextExtractor:
    """Extracts main text inline, or in a process pool so extraction never stalls the network loop."""

    def __init__(self, limit: int, pool: Executor | None = None) -> None:
        self.limit = limit
        self.pool = pool

    async def _run(self, func: Callable[..., PageText], *args: Any) -> PageText:
        if self.pool is None:
            return func(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def of_result(self, result: FetchResult) -> PageText | None:
        """Main text of the final response of a fetch (read from its temporary body file)."""
        final = result.final
        if final is None or final.body_path is None:
            return None
        return await self._run(text_of_file, str(final.body_path), final.header("content-encoding"),
                               final.header("content-type"), final.payload_digest, final.url, self.limit)

    async def of_capture(self, store: Store, warc_dir: Path, capture: dict[str, Any]) -> PageText | None:
        """Main text of a stored capture, from the ``texts`` cache or its WARC record (then cached).

        Raises :class:`DamagedCopy` when the record (or a revisit's original) cannot be read back."""
        digest = capture["payload_digest"] or ""
        cached = store.text_for(digest) if digest else None
        if cached is not None:
            return PageText(cached["title"], cached["text"], cached["fingerprint"], digest, capture["final_url"])
        if capture["kind"] == "revisit" and capture["refers_to"]:
            original = store.capture(capture["refers_to"])
            return await self.of_capture(store, warc_dir, original) if original else None
        if not capture["warc"]:
            return None
        if capture.get("damaged"):
            raise DamagedCopy(capture, capture["damaged"])
        end, size = (capture["offset"] or 0) + (capture["length"] or 0), _file_size(warc_dir, capture["warc"])
        if size is not None and size < end:  # the last bytes of a gzip member are its check: read none without
            raise DamagedCopy(capture, f"the file ends {end - size} bytes before the record does (truncated file)")
        try:
            record = warc.read_record(warc_dir, capture["warc"], capture["offset"], capture["length"])
        except Exception as exc:  # noqa: BLE001 - whatever bytes are there: warcio, gzip, EOF, OS errors
            raise DamagedCopy(capture, _problem(exc)) from None
        declared = record.rec_headers.get_header("WARC-Payload-Digest")
        if record.rec_type != "response" or (declared and declared != _sha1(record.payload)):
            # gzip and warcio return what a cut-short member holds: the digest tells
            raise DamagedCopy(capture, f"the {record.rec_type} record's payload does not match its digest "
                                       "(truncated or altered)")
        headers = list(record.http_headers.headers) if record.http_headers else []
        body = record.payload
        page = await self._run(text_of_bytes, body, _header(headers, "content-encoding"),
                               _header(headers, "content-type"), digest, capture["final_url"], self.limit)
        if digest:
            store.save_text(digest, page.title, page.text, page.fingerprint)
        return page


def check_stored(store: Store, warc_dir: Path, capture: dict[str, Any]) -> None:
    """Raise :class:`DamagedCopy` unless the record holding ``capture``'s payload is whole: in its
    file, and its gzip member inflates to the end with a good CRC. Streams: ~0.3 ms for a 100 KB page,
    no more memory than a chunk, and no text extraction."""
    if capture["kind"] == "revisit" and capture["refers_to"]:
        original = store.capture(capture["refers_to"])
        if original is not None:
            capture = original
    if not capture["warc"] or not capture["length"]:
        return
    if capture.get("damaged"):
        raise DamagedCopy(capture, capture["damaged"])
    end, size = capture["offset"] + capture["length"], _file_size(warc_dir, capture["warc"])
    if size is None:
        raise DamagedCopy(capture, "the WARC file is missing")
    if size < end:
        raise DamagedCopy(capture, f"the file ends {end - size} bytes before the record does (truncated file)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        with open(_existing(warc_dir, capture["warc"]), "rb") as handle:
            handle.seek(capture["offset"])
            left = capture["length"]
            while left > 0 and not inflater.eof:
                chunk = handle.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
                inflater.decompress(chunk, 1 << 16)
                while inflater.unconsumed_tail and not inflater.eof:
                    inflater.decompress(inflater.unconsumed_tail, 1 << 16)
    except (OSError, zlib.error) as exc:
        raise DamagedCopy(capture, f"corrupted gzip data ({exc})") from None
    if not inflater.eof or left or inflater.unused_data:
        raise DamagedCopy(capture, "the record's gzip member does not end where the database says it does")


def _existing(warc_dir: Path, name: str) -> Path:
    closed = warc_dir / name.removesuffix(warc.OPEN_SUFFIX)
    return closed if closed.exists() else closed.with_name(closed.name + warc.OPEN_SUFFIX)


def _file_size(warc_dir: Path, name: str) -> int | None:
    """Size of WARC file ``name``, closed or still open (None when it is missing)."""
    closed = name.removesuffix(warc.OPEN_SUFFIX)
    for candidate in (closed, closed + warc.OPEN_SUFFIX):
        try:
            return (warc_dir / candidate).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 - WARC's digest


def _problem(exc: Exception) -> str:
    """What is wrong with a stored record, in a line."""
    if isinstance(exc, StopIteration):
        return "no record at that offset (the file is shorter)"
    if isinstance(exc, FileNotFoundError):
        return "the WARC file is missing"
    if isinstance(exc, EOFError):
        return "the record is cut short (truncated file)"
    if type(exc).__name__ == "ArchiveLoadFailed":  # warcio: the bytes there are no WARC record
        return "no readable WARC record at that offset (corrupted bytes)"
    text = "".join(c if c.isprintable() else "?" for c in " ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
