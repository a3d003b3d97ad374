"""``archiver export --wacz``: the stored copies of selected links as one WACZ package (WACZ 1.1.1).

A WACZ file is a ZIP that ReplayWeb.page opens in a browser (https://replayweb.page, "Choose File"):

    archive/export.warc.gz    the WARC records the selected links need, copied byte for byte
                              (stored uncompressed in the ZIP, so a reader seeks straight to a record)
    indexes/index.cdx.gz      the CDXJ index of those records, sorted, in gzip blocks of 1,024 lines
    indexes/index.idx         one line per block (the ZipNum layout py-wacz and ReplayWeb.page use)
    pages/pages.jsonl         one page per link: its URL, capture time, title, state and reason
    datapackage.json          every file above with its size and SHA-256 digest (frictionless data package)
    datapackage-digest.json   the SHA-256 of datapackage.json

What a link needs: its cited copy and the capture of its latest check, each with every record of
its fetch (request and response of every redirect hop); a revisit record comes with the capture it
refers to (a revisit without its original replays nothing, so it is never exported alone). Each
source WARC's ``warcinfo`` record is copied too, so every record's ``WARC-Warcinfo-ID`` resolves.

Memory stays flat in the number of records: links are read from the store in batches of 500, records are
copied as gzip members without decompressing their bodies, and the CDXJ lines (built from each
record's head with :func:`archiver.capture.cdxj.record_line`) are sorted in bounded runs on disk and merged.
The package is written to a temporary file next to ``path`` and renamed into place when complete.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import io
import itertools
import json
import logging
import os
import tempfile
import time
import uuid
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from .. import __version__
from ..capture import cdxj
from ..errors import ArchiverError
from ..archive.store import Store, iso, utcnow
from ..capture.warc import OPEN_SUFFIX

log = logging.getLogger(__name__)

WACZ_VERSION = "1.1.1"
WARC_NAME = "export.warc.gz"
LINKS_PER_BATCH = 500  # links whose captures and records are read at once
SORT_RUN = 20_000  # CDXJ lines sorted in memory at once (~6 MB); longer indexes are merged from runs on disk
INDEX_BLOCK = 1024  # CDXJ lines per gzip block of indexes/index.cdx.gz (py-wacz's default)
HEAD_BYTES = 64 * 1024  # a record's start decompressed to index it: WARC and HTTP headers
COPY_CHUNK = 1024 * 1024
ZIP64_FROM = 2**31 - 2**24  # entries this big get ZIP64 headers; smaller ones plain ZIP ones
OPEN_FILES = 16  # source WARC files kept open at once
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"

_Stamp = tuple[int, int, int, int, int, int]  # a ZIP entry's date and time
Progress = Callable[[str, int], None]  # (stage, total) to start a stage; ("", n) to advance


class ExportError(ArchiverError):
    """The package could not be written (nothing selected, unreadable WARC, disk full)."""


@dataclass(frozen=True)
class Selection:
    """Which links to export; every filter given must match (none given: every link)."""

    states: tuple[str, ...] = ()
    since: datetime | None = None
    sources: tuple[str, ...] = ()  # a source's name ([[sources]] name) or its URL or path
    urls: tuple[str, ...] = ()  # normalized URLs


@dataclass
class ExportSummary:
    path: Path
    links: int = 0  # links selected
    pages: int = 0  # links with a stored copy: one page each
    without_copy: int = 0  # selected links with nothing stored to replay
    records: int = 0  # WARC records copied (warcinfo included)
    dropped_revisits: int = 0  # revisits whose original is not stored: left out
    warc_bytes: int = 0
    bytes: int = 0  # size of the package
    seconds: float = 0.0
    first_page: tuple[str, str] | None = None  # (url, ts): a package of one page opens on it

    def lines(self) -> list[str]:
        if not self.links:
            return [f"wrote {self.path}: no link matches the selection, the package holds no page"]
        out = [f"wrote {self.path}: {self.pages} page(s) of {self.links} selected link(s), {self.records} WARC "
               f"records, {self.bytes:,} bytes in {self.seconds:.1f}s"]
        if self.without_copy:
            out.append(f"  {self.without_copy} selected link(s) have no stored copy to replay (never captured)")
        if self.dropped_revisits:
            out.append(f"  {self.dropped_revisits} revisit record(s) left out: their original is not stored")
        return out


def export_wacz(store: Store, warc_dir: Path, path: Path, selection: Selection = Selection(), *,
                title: str | None = None, progress: Progress | None = None,
                now: datetime | None = None) -> ExportSummary:
    """Write the WACZ package of the links ``selection`` picks to ``path``; see the module docstring."""
    started = time.monotonic()
    path = Path(path)
    summary = ExportSummary(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = iso(now or utcnow())
    with tempfile.TemporaryDirectory(prefix=".export-", dir=path.parent) as temp_name:
        temp = Path(temp_name)
        warc_path, pages_path = temp / WARC_NAME, temp / "pages.jsonl"
        sorter = _LineSorter(temp)
        with _Sources(Path(warc_dir)) as sources, open(warc_path, "wb") as warc_out, \
                open(pages_path, "w", encoding="utf-8") as pages_out:
            copier = _Copier(sources, _HashingWriter(warc_out), sorter)
            copier.write_warcinfo(created, selection)
            pages_out.write(json.dumps({"format": "json-pages-1.0", "id": "pages",
                                        "title": title or "archiver export"}) + "\n")
            def selected() -> Iterator[dict[str, Any]]:
                return store.export_links(states=selection.states, since=selection.since,
                                          sources=selection.sources, urls=selection.urls)

            summary.links = sum(1 for _ in selected())  # none: a valid, empty package (a nightly job's)
            if progress:
                progress("exporting", summary.links)
            rows = selected()
            while batch := list(itertools.islice(rows, LINKS_PER_BATCH)):
                for page in _export_batch(store, batch, copier, summary):
                    pages_out.write(json.dumps(page, ensure_ascii=False) + "\n")
                if progress:
                    progress("", len(batch))
            summary.records, summary.warc_bytes = copier.records, copier.out.size
            warc_digest = copier.out.digest
        package = path.with_name(f".{path.name}.tmp")
        try:
            _write_package(package, warc_path, warc_digest, sorter.merged(), pages_path, created, title,
                           selection, summary)
            os.replace(package, path)
        finally:
            package.unlink(missing_ok=True)
    summary.bytes = path.stat().st_size
    summary.seconds = time.monotonic() - started
    return summary


# --- choosing and copying records ------------------------------------------------


def _export_batch(store: Store, links: list[dict[str, Any]], copier: _Copier,
                  summary: ExportSummary) -> Iterator[dict[str, Any]]:
    """Copy the records of a batch of links; yield one page per link with a stored copy."""
    wanted: dict[int, list[int]] = {}
    for link in links:
        ids = [link["cited_capture_id"], link["check_capture_id"] or link["latest_capture_id"]]
        wanted[int(link["id"])] = list(dict.fromkeys(int(i) for i in ids if i is not None))
    captures = {int(row["id"]): row for row in store.export_captures(i for ids in wanted.values() for i in ids)}
    originals = {int(row["refers_to"]) for row in captures.values()
                 if row["kind"] == "revisit" and row["refers_to"] is not None} - set(captures)
    captures.update((int(row["id"]), row) for row in store.export_captures(originals))
    records: dict[int, list[dict[str, Any]]] = {}
    for row in store.export_records(captures):
        records.setdefault(int(row["capture_id"]), []).append(row)
    for link in links:
        chosen: list[int] = []
        for capture_id in wanted[int(link["id"])]:
            capture = captures.get(capture_id)
            if capture is None or not records.get(capture_id):
                continue
            if capture["kind"] == "revisit":
                original = capture["refers_to"]
                if original is None or not records.get(int(original)):
                    summary.dropped_revisits += 1
                    continue
                chosen.append(int(original))
            chosen.append(capture_id)
        chosen = list(dict.fromkeys(chosen))
        if not chosen:
            summary.without_copy += 1
            continue
        for capture_id in chosen:
            copier.copy_records(records[capture_id])
        page_capture = captures[chosen[-1] if link["cited_capture_id"] is None else int(link["cited_capture_id"])]
        if page_capture["kind"] == "revisit" and int(page_capture["id"]) not in chosen:
            page_capture = captures[chosen[-1]]
        summary.pages += 1
        page = _page(link, page_capture, records[int(page_capture["id"])])
        if summary.pages == 1:
            summary.first_page = (page["url"], page["ts"])
        yield page


def _page(link: dict[str, Any], capture: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """A pages.jsonl entry: the URL as requested at the time of its first record."""
    first = next((r for r in records if r["record_type"] in ("response", "revisit")), records[0])
    page: dict[str, Any] = {"id": f"link-{link['id']}", "url": first["url"], "ts": _iso_z(first["date"]),
                            "title": capture["title"] or link["url"], "state": link["state"]}
    if link["reason"]:
        page["reason"] = link["reason"]
    return page


def _iso_z(warc_date: str) -> str:
    """A WARC-Date (``...T03:12:09.123456Z``) as pages.jsonl's ``ts`` (``...T03:12:09.123Z``)."""
    moment = datetime.fromisoformat(warc_date.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _HashingWriter:
    """A binary file that counts and SHA-256-hashes what is written to it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.size = 0
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


class _Sources:
    """Source WARC files opened on demand (closed or still ``.open``), a few at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: OrderedDict[str, BinaryIO] = OrderedDict()

    def file(self, name: str) -> BinaryIO:
        handle = self._open.get(name)
        if handle is not None:
            self._open.move_to_end(name)
            return handle
        for candidate in (self.directory / name, self.directory / (name + OPEN_SUFFIX), self.directory / name):
            try:
                handle = open(candidate, "rb")  # noqa: SIM115 - closed by __exit__ or when evicted
                break
            except FileNotFoundError:
                continue
        else:
            raise ExportError(f"{self.directory / name}: WARC file missing (the database refers to it)")
        self._open[name] = handle
        if len(self._open) > OPEN_FILES:
            self._open.popitem(last=False)[1].close()
        return handle

    def __enter__(self) -> _Sources:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


class _Copier:
    """Copies gzip members into the export WARC and keeps the CDXJ line of each indexed record."""

    def __init__(self, sources: _Sources, out: _HashingWriter, sorter: _LineSorter) -> None:
        self.sources, self.out, self.sorter = sources, out, sorter
        self.records = 0
        self._warcinfos: set[str] = set()

    def write_warcinfo(self, created: str, selection: Selection) -> None:
        """The export file's own warcinfo record first."""
        chosen = {"states": list(selection.states), "since": iso(selection.since) if selection.since else None,
                  "sources": list(selection.sources), "urls": len(selection.urls)}
        block = "".join(f"{key}: {value}\r\n" for key, value in (
            ("software", f"archiver/{__version__}"), ("format", "WARC File Format 1.1"),
            ("conformsTo", CONFORMS_TO), ("description", "archiver export: the stored copies of the selected "
                                                         "links, copied from the archive's WARC files"),
            ("json-metadata", json.dumps({"type": "export", "selection": chosen})),
        )).encode("utf-8")
        head = (f"WARC/1.1\r\nWARC-Type: warcinfo\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
                f"WARC-Date: {created}\r\nWARC-Filename: {WARC_NAME}\r\n"
                f"WARC-Block-Digest: sha1:{_b32(hashlib.sha1(block).digest())}\r\n"
                f"Content-Type: application/warc-fields\r\nContent-Length: {len(block)}\r\n\r\n").encode("utf-8")
        compressor = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self.out.write(compressor.compress(head + block + b"\r\n\r\n") + compressor.flush())
        self.records += 1

    def copy_records(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            if record["warc"] not in self._warcinfos:
                self._warcinfos.add(record["warc"])
                self._copy_warcinfo(record["warc"])
            self._copy(record["warc"], int(record["offset"]), int(record["length"]),
                       index=record["record_type"] in cdxj.INDEXED_RECORDS)

    def _copy_warcinfo(self, name: str) -> None:
        """The source file's first record, its warcinfo (found by decompressing its member)."""
        handle = self.sources.file(name)
        handle.seek(0)
        decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
        start = handle.read(HEAD_BYTES)
        try:
            head = decompressor.decompress(start)
        except zlib.error:
            head = b""
        if not decompressor.eof or b"\r\nWARC-Type: warcinfo\r\n" not in head[:400]:
            log.warning("%s: no warcinfo record at the start; not copied", name)
            return
        self._copy(name, 0, len(start) - len(decompressor.unused_data))

    def _copy(self, name: str, offset: int, length: int, *, index: bool = False) -> None:
        handle = self.sources.file(name)
        handle.seek(offset)
        new_offset = self.out.size
        first = handle.read(min(length, HEAD_BYTES))
        if len(first) < min(length, HEAD_BYTES):
            raise ExportError(f"{name}: the record at {offset} is cut short (the file is shorter than the "
                              "database says)")
        self.out.write(first)
        left = length - len(first)
        while left > 0:
            chunk = handle.read(min(left, COPY_CHUNK))
            if not chunk:
                raise ExportError(f"{name}: the record at {offset} is cut short")
            self.out.write(chunk)
            left -= len(chunk)
        self.records += 1
        if not index:
            return
        head = _head(first)
        try:
            line = cdxj.record_line(head, offset=new_offset, length=length, filename=WARC_NAME)
        except Exception as exc:  # noqa: BLE001 - an unindexable record stays in the WARC, unindexed
            log.warning("%s:%d: record not indexed: %s", name, offset, exc)
            return
        if line is not None:
            self.sorter.add(line)


def _head(member_start: bytes) -> bytes:
    """The start of a record, decompressed far enough to hold its WARC and HTTP headers."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS + 16)
    head = decompressor.decompress(member_start, 8192)
    if head.count(b"\r\n\r\n") < 2 and decompressor.unconsumed_tail:
        head += decompressor.decompress(decompressor.unconsumed_tail, HEAD_BYTES - len(head))
    return head


def _b32(digest: bytes) -> str:
    return base64.b32encode(digest).decode("ascii")


class _LineSorter:
    """Sorts lines in runs of ``SORT_RUN`` kept on disk, merged at the end (an external sort)."""

    def __init__(self, directory: Path, run: int = SORT_RUN) -> None:
        self.directory, self.run = directory, run
        self._lines: list[str] = []
        self._runs: list[Path] = []

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= self.run:
            self._spill()

    def _spill(self) -> None:
        run = self.directory / f"run-{len(self._runs):05d}.cdxj"
        with open(run, "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in sorted(self._lines))
        self._runs.append(run)
        self._lines = []

    def merged(self) -> Iterator[str]:
        if not self._runs:
            yield from sorted(self._lines)
            return
        if self._lines:
            self._spill()
        files = [open(run, encoding="utf-8") for run in self._runs]  # noqa: SIM115 - closed below
        try:
            for line in heapq.merge(*files):
                yield line.rstrip("\n")
        finally:
            for handle in files:
                handle.close()


# --- the ZIP -----------------------------------------------------------------------


def _write_package(package: Path, warc_path: Path, warc_digest: str, index_lines: Iterator[str],
                   pages_path: Path, created: str, title: str | None, selection: Selection,
                   summary: ExportSummary) -> None:
    resources: list[dict[str, Any]] = []
    stamp = _zip_time(created)
    try:
        with zipfile.ZipFile(package, "w", allowZip64=True) as zf:
            info = zipfile.ZipInfo(f"archive/{WARC_NAME}", stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = warc_path.stat().st_size
            with open(warc_path, "rb") as source, zf.open(info, "w", force_zip64=info.file_size > ZIP64_FROM) as target:
                while chunk := source.read(COPY_CHUNK):
                    target.write(chunk)
            resources.append(_resource(info.filename, info.file_size, warc_digest))
            # an index past 2 GB would take some 30 million records: ZIP64 only then (plain ZIP reads everywhere)
            resources.append(_write_index(zf, index_lines, stamp, big=summary.records > 5_000_000))
            with open(pages_path, "rb") as pages:
                resources.append(_write_entry(zf, "pages/pages.jsonl", pages, stamp, zipfile.ZIP_DEFLATED,
                                              big=pages_path.stat().st_size > ZIP64_FROM))
            datapackage = _datapackage(resources, created, title, selection, summary)
            _write_bytes(zf, "datapackage.json", datapackage, stamp)
            digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest()}
            _write_bytes(zf, "datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"), stamp)
    except OSError as exc:
        raise ExportError(f"{package}: cannot write the package: {exc}") from None


def _write_index(zf: zipfile.ZipFile, lines: Iterator[str], stamp: _Stamp, *, big: bool) -> dict[str, Any]:
    """indexes/index.cdx.gz (gzip blocks of INDEX_BLOCK lines) and indexes/index.idx (a line per block)."""
    from cdxj_indexer.main import CompressedWriter

    idx = io.StringIO()
    info = zipfile.ZipInfo("indexes/index.cdx.gz", stamp)
    info.compress_type = zipfile.ZIP_STORED
    with zf.open(info, "w", force_zip64=big) as raw:
        data = _HashingWriter(raw)  # type: ignore[arg-type]
        writer = CompressedWriter(idx, data, num_lines=INDEX_BLOCK, data_out_name="index.cdx.gz",
                                  digest_records=True)
        for line in lines:
            writer.write(line + "\n")
        if writer.block:
            writer.flush()
    cdx = _resource(info.filename, data.size, data.digest)
    idx_entry = _write_bytes(zf, "indexes/index.idx", idx.getvalue().encode("utf-8"), stamp)
    return {"cdx": cdx, "idx": idx_entry}


def _write_entry(zf: zipfile.ZipFile, name: str, source: IO[bytes], stamp: _Stamp,
                 compress: int, *, big: bool) -> dict[str, Any]:
    info = zipfile.ZipInfo(name, stamp)
    info.compress_type = compress
    with zf.open(info, "w", force_zip64=big) as raw:
        out = _HashingWriter(raw)  # type: ignore[arg-type]
        while chunk := source.read(COPY_CHUNK):
            out.write(chunk)
    return _resource(name, out.size, out.digest)


def _write_bytes(zf: zipfile.ZipFile, name: str, data: bytes, stamp: _Stamp) -> dict[str, Any]:
    info = zipfile.ZipInfo(name, stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    return _resource(name, len(data), "sha256:" + hashlib.sha256(data).hexdigest())


def _resource(path: str, size: int, digest: str) -> dict[str, Any]:
    return {"name": os.path.basename(path).lower(), "path": path, "hash": digest, "bytes": size}


def _datapackage(resources: list[dict[str, Any]], created: str, title: str | None, selection: Selection,
                 summary: ExportSummary) -> bytes:
    flat: list[dict[str, Any]] = []
    for item in resources:
        flat += [item["cdx"], item["idx"]] if "cdx" in item else [item]
    chosen = []
    if selection.states:
        chosen.append("state " + ", ".join(selection.states))
    if selection.since:
        chosen.append("since " + iso(selection.since))
    if selection.sources:
        chosen.append("cited by " + ", ".join(selection.sources))
    if selection.urls:
        chosen.append(f"{len(selection.urls)} URL(s) given")
    description = (f"The stored copies of {summary.pages} cited link(s) ({'; '.join(chosen) or 'every link'}), "
                   "exported by archiver: cited copies and latest checks, with their WARC records as stored.")
    package = {
        "profile": "data-package",
        "resources": flat,
        "title": title or "archiver export",
        "description": description,
        "created": created,
        "wacz_version": WACZ_VERSION,
        "software": f"archiver {__version__}",
    }
    if summary.pages == 1 and summary.first_page is not None:
        package["mainPageURL"], package["mainPageDate"] = summary.first_page
    return json.dumps(package, indent=2).encode("utf-8")


def _zip_time(created: str) -> _Stamp:
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
