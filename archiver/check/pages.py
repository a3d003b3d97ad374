"""Main text of a fetched or stored page, computed once per payload.

The cited copy's text is extracted once, when the copy is captured
(:func:`store_cited_texts`), and kept in the ``texts`` table, keyed by payload
digest, with its sketch (:mod:`archiver.check.prefilter`); a copy captured before
that is extracted from its WARC record the first time it is needed. A live page
with the same digest is never extracted again, and one whose sketch shows the
same main text (noise around an unchanged article) is not extracted at all.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from . import prefilter
from ..capture import warc
from .extract import MAX_HTML_BYTES, decode_body, decode_text, extract, extract_pdf
from ..config import Config
from ..errors import ArchiverError
from ..models import FetchResult
from ..archive.store import Store

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
    sketch: str | None = None  # archiver.check.prefilter's sketch of the page ('' none possible, None not computed)
    # a live page whose main text the sketch showed to be the cited copy's: its text, title and
    # fingerprint are the cited copy's, and nothing was extracted
    prefiltered: bool = False


def text_limit(config: Config) -> int:
    """How far a stored or live body may be inflated for extraction."""
    return int(max(config.fetch.max_body * 4, 1 << 20))


def _page_text(body: bytes | BinaryIO, encoding: str | None, content_type: str | None, *, digest: str,
               url: str, limit: int, like: str | None = None, sketch: bool = False) -> PageText:
    """Main text of a body (in memory or a file); ``like``: the cited copy's sketch (a page shown to
    have its main text is not extracted: ``prefiltered``); ``sketch``: sketch this page too.

    An HTML body is inflated to at most ``MAX_HTML_BYTES`` (all extraction reads of it) and held
    once, as text: a decompression bomb costs that much memory, not the body's ``limit``."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in HTML_TYPES:
        limit = min(limit, MAX_HTML_BYTES)
    try:
        decoded = decode_body(body, encoding, limit=limit)
    except ValueError:
        return PageText(None, "", None, digest, url)
    page_sketch = None
    if kind == "application/pdf":
        extracted = extract_pdf(decoded)
    elif kind in HTML_TYPES:
        html = decode_text(decoded, content_type)
        del decoded  # the bytes are not needed any more: only their text is held
        if like and prefilter.same_main_text(html, like):
            return PageText(None, "", None, digest, url, prefiltered=True)
        extracted = extract(html, url)
        if sketch:
            page_sketch = "" if extracted.truncated else prefilter.sketch(html, extracted.text) or ""
    else:
        return PageText(None, "", None, digest, url)
    return PageText(extracted.title, extracted.text, extracted.fingerprint, digest, url, extracted.heading,
                    sketch=page_sketch)


def sketch_of_bytes(body: bytes, encoding: str | None, content_type: str | None, main_text: str, limit: int) -> str:
    """The sketch of a stored copy whose main text is known ('' when it has none); no extraction."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in HTML_TYPES or not main_text:
        return ""
    try:
        decoded = decode_body(body, encoding, limit=min(limit, MAX_HTML_BYTES))
    except ValueError:
        return ""
    return prefilter.sketch(decode_text(decoded, content_type), main_text) or ""


def final_body(result: FetchResult, limit: int) -> bytes:
    """The final response's body, content-decoded, inflated to at most ``limit`` bytes.

    Raises ValueError for a content encoding that cannot be decoded."""
    final = result.final
    if final is None or final.body_path is None:
        return b""
    with open(final.body_path, "rb") as body:  # read in chunks: never the whole body at once
        return decode_body(body, final.header("content-encoding"), limit=limit)


def read_html(result: FetchResult, limit: int = 4 << 20) -> str:
    """The final response decoded to text, for page-kind heuristics ("" when unreadable)."""
    try:
        body = final_body(result, limit)
    except (OSError, ValueError):
        return ""
    return decode_text(body, result.final.header("content-type") if result.final else None)


def text_of_file(path: str, encoding: str | None, content_type: str | None, digest: str, url: str,
                 limit: int, like: str | None = None) -> PageText:
    """Main text of a body file; a plain function, so a worker process can run it."""
    with open(path, "rb") as body:  # read in chunks: never the whole body at once
        return _page_text(body, encoding, content_type, digest=digest, url=url, limit=limit, like=like)


def text_of_bytes(body: bytes, encoding: str | None, content_type: str | None, digest: str, url: str,
                  limit: int, sketch: bool = False) -> PageText:
    return _page_text(body, encoding, content_type, digest=digest, url=url, limit=limit, sketch=sketch)


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

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        if self.pool is None:
            return func(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def of_result(self, result: FetchResult) -> PageText | None:
        """Main text of the final response of a fetch (read from its temporary body file)."""
        return await self._live(result, None)

    async def of_live(self, result: FetchResult, like: PageText | None) -> PageText | None:
        """:meth:`of_result`, but when the sketch of ``like`` (the cited copy) shows the page's main
        text is the same, the answer is the cited copy's text, marked ``prefiltered``, and nothing is
        extracted. An extractor that answers :meth:`of_result` its own way (a rendering) is asked that."""
        if like is None or not like.sketch or type(self).of_result is not TextExtractor.of_result:
            return await self.of_result(result)
        return await self._live(result, like)

    async def _live(self, result: FetchResult, like: PageText | None) -> PageText | None:
        final = result.final
        if final is None or final.body_path is None:
            return None
        page: PageText = await self._run(
            text_of_file, str(final.body_path), final.header("content-encoding"), final.header("content-type"),
            final.payload_digest, final.url, self.limit, like.sketch if like is not None and like.text else None)
        if page.prefiltered and like is not None:
            return PageText(like.title, like.text, like.fingerprint, page.payload_digest, page.final_url,
                            like.heading, prefiltered=True)
        return page

    async def of_capture(self, store: Store, warc_dir: Path, capture: dict[str, Any], *,
                         sketch: bool = False) -> PageText | None:
        """Main text of a stored capture, from the ``texts`` cache or its WARC record (then cached);
        ``sketch``: with its sketch (computed from the record once when missing, and kept).

        Raises :class:`DamagedCopy` when the record (or a revisit's original) cannot be read back."""
        digest = capture["payload_digest"] or ""
        cached = store.text_for(digest) if digest else None
        if cached is not None:
            # the text is kept, but the copy must still be whole: its record is inflated on a thread
            await asyncio.to_thread(verify_record, warc_dir, holding_record(store, capture))
            page = PageText(cached["title"], cached["text"], cached["fingerprint"], digest, capture["final_url"],
                            sketch=cached.get("sketch"))
            if sketch and page.sketch is None and page.text:
                page = replace(page, sketch=await self._sketch(store, warc_dir, capture, page))
            return page
        if capture["kind"] == "revisit" and capture["refers_to"]:
            original = store.capture(capture["refers_to"])
            return await self.of_capture(store, warc_dir, original, sketch=sketch) if original else None
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
                               _header(headers, "content-type"), digest, capture["final_url"], self.limit, True)
        if digest:
            store.save_text(digest, page.title, page.text, page.fingerprint, page.sketch)
        return page

    async def _sketch(self, store: Store, warc_dir: Path, capture: dict[str, Any], page: PageText) -> str:
        """The sketch of a capture whose main text was stored without one (captured before sketches)."""
        if capture["kind"] == "revisit" and capture["refers_to"]:
            capture = store.capture(capture["refers_to"]) or capture
        value = ""
        if capture["warc"] and not capture.get("damaged"):
            try:
                record = warc.read_record(warc_dir, capture["warc"], capture["offset"], capture["length"])
                if record.rec_type == "response":
                    headers = list(record.http_headers.headers) if record.http_headers else []
                    value = await self._run(sketch_of_bytes, record.payload, _header(headers, "content-encoding"),
                                            _header(headers, "content-type"), page.text, self.limit)
            except Exception:  # noqa: BLE001 - an unreadable record: no sketch; the check extracts
                value = ""
        if page.payload_digest:
            store.save_sketch(page.payload_digest, value)
        return value


# Extraction costs ~25 ms of CPU a page: past this many pages it moves to worker
# processes, one per core, so an event loop keeps the network busy meanwhile.
# "spawn" workers are this process's own children (their CPU is accounted to
# it) and start clean, whatever threads the event loop has running.
POOL_THRESHOLD = 20


def extraction_pool(count: int) -> ProcessPoolExecutor | None:
    if count < POOL_THRESHOLD or (os.cpu_count() or 1) < 2:
        return None
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))


# Cited copies whose text is extracted at once at capture, at most (memory stays flat).
_CAPTURE_CHUNK = 32


def store_cited_texts(store: Store, warc_dir: Path, link_ids: Iterable[int], limit: int) -> int:
    """Extract and keep the main text and sketch of the cited copies of these links that have none:
    done once, when the copies are captured, so no check extracts a cited copy again. Returns how
    many were stored. A damaged copy is left to its first check (which re-captures it)."""
    ids = [capture["id"] for capture in store.cited_without_text(list(link_ids))]
    if not ids:
        return 0
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # inside a library user's event loop: left to the first check, which keeps them
        return 0
    pool = extraction_pool(len(ids))
    try:
        return asyncio.run(_store_texts(store, warc_dir, ids, TextExtractor(limit, pool)))
    except Exception as exc:  # noqa: BLE001 - a cache: a full disk (or database) leaves them to the first check
        logging.getLogger(__name__).warning("main texts of the copies just captured not stored (%s); "
                                            "their first check extracts them", exc)
        return 0
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


async def _store_texts(store: Store, warc_dir: Path, ids: list[int], extractor: TextExtractor) -> int:
    async def one(capture_id: int) -> bool:
        capture = store.capture(capture_id)
        if capture is None:
            return False
        try:
            return await extractor.of_capture(store, warc_dir, capture, sketch=True) is not None
        except DamagedCopy as exc:
            logging.getLogger(__name__).debug("no text stored for capture %s: %s", capture_id, exc)
            return False

    stored = 0
    for start in range(0, len(ids), _CAPTURE_CHUNK):
        with store.atomic():  # one commit a chunk: the database (and its log) grows by the texts alone
            stored += sum(await asyncio.gather(*(one(i) for i in ids[start:start + _CAPTURE_CHUNK])))
    return stored


def check_stored(store: Store, warc_dir: Path, capture: dict[str, Any]) -> None:
    """Raise :class:`DamagedCopy` unless the record holding ``capture``'s payload is whole: in its
    file, and its gzip member inflates to the end with a good CRC. Streams: ~0.3 ms for a 100 KB page,
    no more memory than a chunk, and no text extraction."""
    verify_record(warc_dir, holding_record(store, capture))


def holding_record(store: Store, capture: dict[str, Any]) -> dict[str, Any]:
    """The capture whose WARC record holds ``capture``'s payload (a revisit's original)."""
    if capture["kind"] == "revisit" and capture["refers_to"]:
        original = store.capture(capture["refers_to"])
        if original is not None:
            return original
    return capture


def verify_record(warc_dir: Path, capture: dict[str, Any]) -> None:
    """:func:`check_stored` for the capture that holds its record: no database access, so a thread
    can run it (zlib inflates without the GIL)."""
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
