"""The one module that writes WARC bytes (SPEC §6).

``WarcWriter`` turns each ``FetchResult`` into WARC/1.1 records, one gzip
member per record, in files named ``PREFIX-<utc ms>-<serial>-<random>.warc.gz``
that carry the suffix ``.open`` until closed. Every file starts with a
``warcinfo`` record. Per hop it writes a ``request`` record and a ``response``
record (or, for the final hop of an unchanged re-capture, a ``revisit``
record of the identical-payload-digest profile), the request pointing at its
response through ``WARC-Concurrent-To``.

Durability (SPEC §8): ``write`` flushes and fsyncs before it returns the
``RecordLocation`` values, so a database row written afterwards never points
at bytes that are not on disk. Group commit: ``write(..., sync=False)`` only
flushes, and one ``sync()`` then fsyncs the whole batch; its locations must not
be committed anywhere before ``sync()`` returns. A failed ``write`` cuts the
file back to where it was, and so does ``discard_last`` when the database commit
of a write fails. With ``hold_rotated`` (group commit) a file that rotates away
stays ``.open`` until ``close_retired``, called once the database has recorded
its records: a closed file never holds a record the database does not know.
After a crash, the next run (under the archive lock, before any writer is
created) calls ``set_aside_unrecorded``, which moves the complete records past
the last one the database knows into ``orphaned/`` (never deleting them), then
``repair``, which cuts each ``.open`` file back to its last complete record and
closes it.

Bodies are streamed from ``Hop.body_path``: a small body is read once, a large
one twice (digests first, since they precede the block, then the bytes).
``pack`` does that work ahead, so that it can run in parallel (zlib and
hashlib release the GIL): it compresses each body (up to ``PACK_LIMIT``) with
its digests into a ``PackedBody``, and the writer, which must append records
one after another, completes each gzip member by compressing only the record's
headers in front of it (two DEFLATE streams, the first ended by a sync flush,
make one valid stream; the CRC-32s are combined).
``read_record`` and ``read_payload`` read a stored copy back by file and offset.

CDXJ: the writer builds the index line of each record cdxj-indexer would index
(``cdxj.http_line``, from the values it just wrote, or ``cdxj.record_line``,
re-parsing the headers, for the rare shapes the former does not handle) and merges a file's lines
into ``index.cdxj`` when it closes the file, so no WARC is read again to index it.
"""

from __future__ import annotations

import base64
import errno
import functools
import hashlib
import logging
import os
import re
import secrets
import socket
import struct
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeaders

from .. import __version__
from . import cdxj, diskspace
from ..models import FetchResult, Hop, PackedBody, RecordLocation, RevisitOf

log = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# zlib level 3: 0.5x the CPU of level 6 for 10% larger files on real pages
# (173 KB page: 2.1 ms vs 4.6 ms, 40.2 KB vs 36.7 KB); a sweep spends more time compressing than on anything else.
GZIP_LEVEL = 3
CHUNK = 256 * 1024  # read size when streaming a body
SMALL_BODY = 2 * 1024 * 1024  # bodies up to this size are read into memory once
DROPPED_HEADER_PREFIX = b"X-Archiver-Orig-"  # renames a Transfer-Encoding the body lost
PACK_LIMIT = 1024 * 1024  # pack() compresses bodies up to this size ahead of writing
GZIP_HEADER = bytes.fromhex("1f8b0800000000000003")  # what zlib writes: deflate, no name, no mtime, Unix
RECORD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024  # repair: a WARC header longer than this is not ours
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)


@dataclass(frozen=True)
class StoredRecord:
    """A record read back from a WARC file; ``payload`` is the raw entity body."""

    rec_type: str
    rec_headers: StatusAndHeaders
    http_headers: StatusAndHeaders | None
    payload: bytes  # content-encoding kept; b"" for requests without body and revisits


@dataclass(frozen=True)
class Retired:
    """A file that rotated away: fsynced, still ``.open``, and its CDXJ lines (None: not indexed here)."""

    name: str  # without the ``.open`` suffix
    lines: list[str] | SpilledLines | None


@dataclass(frozen=True)
class SpilledLines:
    """A held file's CDXJ lines, sorted, set aside in the writer's spill file: a check run holds
    every file that rotates away until its end, and their lines in memory would grow with the
    number of checks (~400 bytes each)."""

    spill: BinaryIO
    offset: int
    length: int

    def __iter__(self) -> Iterator[str]:
        self.spill.seek(self.offset)
        return iter(self.spill.read(self.length).decode("utf-8").splitlines())


class WarcWriter:
    """Write fetches into rotating WARC files in ``directory``; see the module docstring.

    One writer per archive at a time, calls serialized (it is not thread-safe; from
    async code run ``write`` in a worker thread under one lock). ``write`` does
    blocking I/O and, unless ``sync=False``, an fsync. With ``index`` (the default),
    closing a file merges its records' CDXJ lines into ``directory/index.cdxj``;
    ``cdxj.update_index`` then only has files this writer could not index to add
    (see ``close``).
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_size: int,
        software: str = f"archiver/{__version__}",
        prefix: str = "ARCHIVER",
        info: dict[str, str] | None = None,
        compress_level: int = GZIP_LEVEL,
        index: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.max_size = max_size
        self.prefix = prefix
        self.compress_level = compress_level
        self.info = {"software": software, "format": "WARC File Format 1.1",
                     "conformsTo": CONFORMS_TO, "hostname": socket.gethostname(), **(info or {})}
        self.finished: list[Path] = []  # files closed by this writer, in order
        self._serial = 0
        self._file: BinaryIO | None = None
        self._name = ""
        self._size = 0
        self._warcinfo_id = ""
        self._pending = False  # flushed but not fsynced bytes in the current file
        self.index = index
        self._lines: list[str] | None = None  # CDXJ lines of the current file; None: not indexed here
        # hold_rotated: a file that rotates away stays ``.open`` (fsynced, not renamed,
        # not indexed) until ``close_retired``; group commit sets it, so that a file is
        # closed only once the database has recorded every record in it
        self.hold_rotated = False
        self._retired: list[Retired] = []
        self._spill: BinaryIO | None = None  # the held files' CDXJ lines (SpilledLines), an unnamed file
        self._spilled_out = 0  # SpilledLines not closed yet
        self._last_write: tuple[int, int] | None = None  # (offset, CDXJ lines) before the last write
        self.directory.mkdir(parents=True, exist_ok=True)
        self._reserve = diskspace.reserve(self.directory)  # left free for the database and the other captures

    # -- hooks a test may override for deterministic output ------------------
    def _new_record_id(self) -> str:
        return f"<urn:uuid:{uuid.uuid4()}>"

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _token(self) -> str:
        return secrets.token_hex(4)

    # -- public API ----------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The file being written (with its ``.open`` suffix), if any."""
        return self.directory / (self._name + OPEN_SUFFIX) if self._file else None

    def write(self, result: FetchResult, revisit_of: RevisitOf | None = None, *,
              sync: bool = True) -> list[RecordLocation]:
        """Write every hop of ``result``; the final hop as a revisit when ``revisit_of`` is given.

        Returns one location per record (request, response/revisit per hop). A fetch
        without hops writes nothing. With ``sync=True`` the bytes are fsynced before
        it returns. With ``sync=False`` they are only handed to the OS (flushed, not
        fsynced): the returned locations must not be committed anywhere (database
        rows, ...) before a later ``sync()`` returns, since a crash may lose those
        bytes. A file that rotates away meanwhile is fsynced when it is closed, so
        ``sync()`` covers every location returned since the last sync, whichever
        file holds it. A failed write cuts the file back to where this call started
        (earlier unsynced records stay, still pending).
        """
        if not result.hops:
            return []
        self._last_write = None
        self._check_room(result)
        self._prepare_file()
        assert self._file is not None
        start, lines = self._size, len(self._lines) if self._lines is not None else 0
        try:
            locations: list[RecordLocation] = []
            last = len(result.hops) - 1
            for index, hop in enumerate(result.hops):
                locations += self._write_hop(index, hop, revisit_of if index == last else None)
            if sync:
                self._sync()
            else:
                self._file.flush()
                self._pending = True
        except BaseException:
            self._rollback(start)
            if self._lines is not None:
                del self._lines[lines:]
            raise
        self._last_write = (start, lines)
        return locations

    def _check_room(self, result: FetchResult) -> None:
        """Raise ENOSPC, writing nothing, when ``result`` would eat into the space kept free."""
        need = sum(len(hop.packed.deflate) if hop.packed else hop.body_length for hop in result.hops)
        if need < self._reserve // 4:  # small: the reserve absorbs it
            return
        left = diskspace.room(self.directory)
        if left < need + self._reserve:
            raise OSError(errno.ENOSPC, f"{need} bytes would leave less than {self._reserve} bytes free "
                                        f"({left} left)", str(self.directory))

    def discard_last(self) -> bool:
        """Cut away the records of the last ``write`` (their database commit failed).

        Returns False when there is nothing to cut (no write since, or it failed)."""
        if self._last_write is None or self._file is None:
            return False
        start, lines = self._last_write
        self._last_write = None
        self._rollback(start)
        if self._lines is not None:
            del self._lines[lines:]
        return True

    def sync(self) -> None:
        """Fsync the bytes of every ``write(sync=False)`` since the last sync; no-op if none."""
        if self._file is not None and self._pending:
            self._sync()

    def close(self) -> None:
        """Fsync and close the current file (and any held one), drop the ``.open`` suffix, index it.

        The file's CDXJ lines, built while writing, are merged into ``index.cdxj``
        (no re-read). If that fails, or the writer could not build them, the file is
        left for ``cdxj.update_index``, which indexes it with cdxj-indexer.
        """
        self._retire()
        self.close_retired(self.take_retired())
        self._close_spill()

    def take_retired(self) -> list[Retired]:
        """The files that rotated away (with ``hold_rotated``) since the last call, still ``.open``."""
        retired, self._retired = self._retired, []
        return retired

    def close_retired(self, retired: list[Retired]) -> None:
        """Close files from ``take_retired`` once every record in them is recorded."""
        for item in retired:
            final = self.directory / item.name
            os.rename(self.directory / (item.name + OPEN_SUFFIX), final)
            _fsync_dir(self.directory)
            self.finished.append(final)
            if item.lines:
                try:
                    cdxj.add_lines(self.directory, item.lines if isinstance(item.lines, SpilledLines)
                                   else sorted(item.lines))
                except OSError:
                    log.exception("could not add %s to the CDXJ index; update_index will", final.name)
            if isinstance(item.lines, SpilledLines):
                self._spilled_out -= 1
        if self._spill is not None and self._spilled_out == 0:  # every held file closed: its space back
            self._spill.truncate(0)

    def abandon(self) -> None:
        """Stop writing without closing anything: every file stays ``.open`` for
        ``set_aside_unrecorded`` and ``repair`` (after a failure, when the database
        may not have recorded everything written)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                log.warning("%s: could not close cleanly", self._name, exc_info=True)
        self._file, self._lines, self._retired, self._last_write = None, None, [], None
        self._close_spill()

    def _retire(self) -> None:
        """Fsync and close the current file's handle; it stays ``.open`` until ``close_retired``."""
        if self._file is None:
            return
        self._sync()
        self._file.close()
        self._file = None
        lines: list[str] | SpilledLines | None = self._lines
        if self.hold_rotated and self._lines:  # held, maybe for long: its lines wait on disk
            lines = self._spilled(sorted(self._lines))
        self._retired.append(Retired(self._name, lines))
        self._lines = None

    def _spilled(self, lines: list[str]) -> SpilledLines | None:
        """``lines`` written to the spill file (an unnamed file next to the WARCs, gone with the
        process); None when they cannot be written: the file is then indexed by ``update_index``."""
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        try:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile(dir=self.directory, prefix=".cdxj-held-")  # noqa: SIM115
            self._spill.seek(0, os.SEEK_END)
            offset = self._spill.tell()
            self._spill.write(data)
            self._spill.flush()
        except OSError as exc:
            log.warning("CDXJ lines of %s not set aside (%s); the index is completed when the archive "
                        "is next opened", self._name, exc)
            return None
        self._spilled_out += 1
        return SpilledLines(self._spill, offset, len(data))

    def _close_spill(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill, self._spilled_out = None, 0

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- files -----------------------------------------------------------------
    def _prepare_file(self) -> None:
        """Rotate before a fetch when the current file has reached ``max_size``."""
        if self._file is not None and self._size >= self.max_size:
            self._retire()
            if not self.hold_rotated:
                self.close_retired(self.take_retired())
        if self._file is None:
            self._open_new()

    def _open_new(self) -> None:
        now = self._now()
        self._serial += 1
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        self._name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self._token()}.warc.gz"
        path = self.directory / (self._name + OPEN_SUFFIX)
        self._file = open(path, "xb")  # noqa: SIM115 - kept open across calls
        self._size = 0
        self._pending = False
        self._lines = [] if self.index else None
        try:
            self._write_warcinfo(now)
            self._sync()
            _fsync_dir(self.directory)
        except BaseException:
            self._file.close()
            self._file = None
            path.unlink(missing_ok=True)
            raise

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._pending = False

    def _rollback(self, offset: int) -> None:
        """Cut the file back to ``offset`` after a failed write."""
        assert self._file is not None
        try:
            self._file.seek(offset)
            self._file.truncate()
            self._sync()  # also makes earlier unsynced records of the batch durable
            self._size = offset
        except (OSError, ValueError):
            log.exception("could not cut %s back to %d; repair() will", self.path, offset)

    # -- records ---------------------------------------------------------------
    def write_derived(self, kind: str, uri: str, block: bytes, content_type: str, *, refers_to: str | None,
                      refers_to_uri: str | None = None) -> RecordLocation:
        """One ``conversion`` or ``resource`` record derived from a stored response (a rendered
        DOM, a screenshot: SPEC §6), ``WARC-Refers-To`` that response; fsynced before it returns."""
        self._prepare_file()
        assert self._file is not None
        start = self._size
        record_id, date = self._new_record_id(), _warc_date(self._now())
        digest = _digest(hashlib.sha1(block))
        fields = [("WARC-Type", kind), ("WARC-Record-ID", record_id), ("WARC-Date", date),
                  ("WARC-Target-URI", uri), ("WARC-Warcinfo-ID", self._warcinfo_id)]
        if refers_to:
            fields.append(("WARC-Refers-To", refers_to))
        if refers_to_uri:
            fields.append(("WARC-Refers-To-Target-URI", refers_to_uri))
        fields += [("WARC-Block-Digest", digest), ("WARC-Payload-Digest", digest), ("Content-Type", content_type)]
        try:
            offset, length = self._emit(fields, block, _Body.empty())
            self._sync()
        except BaseException:
            self._rollback(start)
            raise
        return RecordLocation(warc=self._name, offset=offset, length=length, record_type=kind,
                              record_id=record_id, url=uri, date=date, hop=0)

    def _write_warcinfo(self, now: datetime) -> None:
        self._warcinfo_id = self._new_record_id()
        block = b"".join(f"{k}: {_clean(v)}\r\n".encode() for k, v in self.info.items() if v)
        fields = [("WARC-Type", "warcinfo"), ("WARC-Record-ID", self._warcinfo_id),
                  ("WARC-Date", _warc_date(now)), ("WARC-Filename", self._name),
                  ("WARC-Block-Digest", _digest(hashlib.sha1(block))),
                  ("Content-Type", "application/warc-fields")]
        self._emit(fields, block, _Body.empty())

    def _write_hop(self, index: int, hop: Hop, revisit_of: RevisitOf | None) -> list[RecordLocation]:
        date = _warc_date(hop.started_at)
        request_id, response_id = self._new_record_id(), self._new_record_id()
        common = [("WARC-Date", date), ("WARC-Target-URI", hop.url)]
        if hop.ip:
            common.append(("WARC-IP-Address", hop.ip))
        common.append(("WARC-Warcinfo-ID", self._warcinfo_id))

        head = _request_head(hop)
        fields = [("WARC-Type", "request"), ("WARC-Record-ID", request_id), *common,
                  ("WARC-Concurrent-To", response_id),
                  ("WARC-Block-Digest", _digest(hashlib.sha1(head))),
                  ("Content-Type", "application/http; msgtype=request")]
        request = self._located("request", request_id, hop, index, date, fields, head, _Body.empty())

        head = _response_head(hop)
        packed = hop.packed if hop.packed is not None and hop.packed.level == self.compress_level else None
        if revisit_of is not None:
            kind, body, fields = "revisit", _Body.empty(), _revisit_fields(hop, head, revisit_of)
        elif packed is not None:
            kind, body, fields = "response", _Body.empty(), list(packed.fields)
        else:
            body = _Body.load(hop.body_path)
            kind, fields = "response", _response_fields(hop, head, body)
        fields = [("WARC-Type", kind), ("WARC-Record-ID", response_id), *common, *fields,
                  ("Content-Type", "application/http; msgtype=response")]
        line = None
        if self._lines is not None:  # the CDXJ line from the values written, without re-parsing them
            digest = next((v for k, v in fields if k == "WARC-Payload-Digest"), "")
            line = functools.partial(cdxj.http_line, url=_clean(hop.url), date=date, rec_type=kind,
                                     head=head, digest=_clean(digest))
        response = self._located(kind, response_id, hop, index, date, fields, head, body, line,
                                 packed if kind == "response" else None)
        return [request, response]

    def _located(self, kind: str, record_id: str, hop: Hop, index: int, date: str,
                 fields: list[tuple[str, str]], head: bytes, body: _Body,
                 line: Callable[..., str | None] | None = None, packed: PackedBody | None = None) -> RecordLocation:
        offset, length = self._emit(fields, head, body, line, packed)
        return RecordLocation(warc=self._name, offset=offset, length=length, record_type=kind,
                              record_id=record_id, url=hop.url, date=date, hop=index)

    def _emit(self, fields: list[tuple[str, str]], head: bytes, body: _Body,
              line: Callable[..., str | None] | None = None, packed: PackedBody | None = None) -> tuple[int, int]:
        """Write one record as one gzip member; return its (offset, compressed length).

        The block is ``head`` followed by ``body``, or by the body ``packed`` holds.
        ``line(offset=, length=, filename=)`` builds the record's CDXJ line without
        re-parsing it (``cdxj.http_line``); when missing or returning None, the line is
        parsed from the record's bytes (``cdxj.record_line``).
        """
        assert self._file is not None
        fields.append(("Content-Length", str(len(head) + (packed.size if packed else body.size))))
        warc_head = "".join(f"{k}: {_clean(v)}\r\n" for k, v in fields)
        write = self._file.write
        start = f"{WARC_VERSION}\r\n{warc_head}\r\n".encode() + head
        if packed is not None:
            write(_packed_member(start, packed))
        else:
            compressor = zlib.compressobj(self.compress_level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
            write(compressor.compress(start))
            for chunk in body.chunks():
                write(compressor.compress(chunk))
            write(compressor.compress(RECORD_END) + compressor.flush())
        offset, self._size = self._size, self._file.tell()
        if self._lines is not None and fields[0][1] in cdxj.INDEXED_RECORDS:
            self._index(start, offset, self._size - offset, line)
        return offset, self._size - offset

    def _index(self, start: bytes, offset: int, length: int,
               direct: Callable[..., str | None] | None) -> None:
        """Keep the CDXJ line of the record at ``offset``; give up indexing the file on error."""
        assert self._lines is not None
        try:
            line = direct(offset=offset, length=length, filename=self._name) if direct else None
            if line is None:
                line = cdxj.record_line(start, offset=offset, length=length, filename=self._name)
        except Exception:  # noqa: BLE001 - the WARC matters more: update_index indexes it later
            log.warning("%s: cannot index the record at %d; update_index will index the file",
                        self._name, offset, exc_info=True)
            self._lines = None
            return
        if line is not None:
            self._lines.append(line)


class _Body:
    """An entity body on disk: kept in memory when small, else re-read per pass."""

    def __init__(self, path: Path | None, size: int, data: bytes | None) -> None:
        self.path, self.size, self.data = path, size, data

    @classmethod
    def empty(cls) -> _Body:
        return cls(None, 0, b"")

    @classmethod
    def load(cls, path: Path | None) -> _Body:
        if path is None:
            return cls.empty()
        size = path.stat().st_size
        if size <= SMALL_BODY:
            data = path.read_bytes()
            return cls(None, len(data), data)
        return cls(path, size, None)

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes, exactly ``size`` of them."""
        if self.data is not None:
            if self.data:
                yield self.data
            return
        assert self.path is not None
        remaining = self.size
        with open(self.path, "rb") as src:
            while remaining:
                chunk = src.read(min(CHUNK, remaining))
                if not chunk:
                    raise OSError(f"{self.path} shrank while being archived")
                remaining -= len(chunk)
                yield chunk


# -- packing bodies ahead of writing -------------------------------------------


def pack(result: FetchResult, level: int = GZIP_LEVEL) -> FetchResult:
    """``result`` with each hop's body (up to ``PACK_LIMIT``) compressed and digested ahead.

    Thread-safe and independent of any writer: the costly part of writing a
    record, done in parallel for many results while one writer appends. The
    body files stay as they are."""
    hops = [_pack_hop(hop, level) for hop in result.hops]
    return replace(result, hops=hops)


def _pack_hop(hop: Hop, level: int) -> Hop:
    if hop.body_path is None or hop.packed is not None or hop.body_path.stat().st_size > PACK_LIMIT:
        return hop
    data = hop.body_path.read_bytes()
    fields = _response_fields(hop, _response_head(hop), _Body(None, len(data), data))
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    tail = data + RECORD_END
    deflate = compressor.compress(tail) + compressor.flush()
    return replace(hop, packed=PackedBody(deflate=deflate, crc=zlib.crc32(tail), size=len(data),
                                          level=level, fields=tuple(fields)))


def _packed_member(start: bytes, packed: PackedBody) -> bytes:
    """One gzip member holding ``start`` followed by the packed body and CRLF CRLF."""
    compressor = zlib.compressobj(packed.level, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = compressor.compress(start) + compressor.flush(zlib.Z_SYNC_FLUSH)  # byte-aligned, not final
    tail_size = packed.size + len(RECORD_END)
    crc = _crc32_combine(zlib.crc32(start), packed.crc, tail_size)
    trailer = struct.pack("<II", crc, (len(start) + tail_size) & 0xFFFFFFFF)
    return b"".join((GZIP_HEADER, head, packed.deflate, trailer))


_ZEROS = bytes(64 * 1024)


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of A + B from crc(A), crc(B) and len(B) (zlib's crc32_combine, which
    Python does not expose). CRC-32 is affine in its starting value, so
    crc(A + B) = crc(B) ^ crc(0^n, crc(A)) ^ crc(0^n, 0), with n = len(B)."""
    return crc2 ^ _crc32_zeros(length2, crc1) ^ _crc32_zeros(length2, 0)


def _crc32_zeros(count: int, crc: int) -> int:
    zeros = memoryview(_ZEROS)
    while count:
        step = min(count, len(_ZEROS))
        crc = zlib.crc32(zeros[:step], crc)
        count -= step
    return crc


def _request_head(hop: Hop) -> bytes:
    parts = urlsplit(hop.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(hop.request_headers)
    if not any(name.lower() == b"host" for name, _ in headers):
        headers.insert(0, (b"Host", parts.netloc.rpartition("@")[2].encode("utf-8")))
    line = f"{hop.method} {target} {hop.http_version or 'HTTP/1.1'}"
    return _http_head(line.encode("utf-8"), headers)


def _response_head(hop: Hop) -> bytes:
    reason = hop.reason or _phrase(hop.status)
    line = f"{hop.http_version or 'HTTP/1.1'} {hop.status} {reason}".rstrip()
    headers = [(DROPPED_HEADER_PREFIX + name if name.lower() == b"transfer-encoding" else name, value)
               for name, value in hop.response_headers]
    return _http_head(line.encode("latin-1", "replace"), headers)


def _response_fields(hop: Hop, head: bytes, body: _Body) -> list[tuple[str, str]]:
    block, payload = hashlib.sha1(head), hashlib.sha1()
    for chunk in body.chunks():
        block.update(chunk)
        payload.update(chunk)
    payload_digest = _digest(payload)
    if hop.payload_digest and not hop.truncated and hop.payload_digest != payload_digest:
        log.warning("%s: body file digest %s differs from fetched %s",
                    hop.url, payload_digest, hop.payload_digest)
    fields = [("WARC-Block-Digest", _digest(block)), ("WARC-Payload-Digest", payload_digest)]
    if hop.truncated:
        fields.append(("WARC-Truncated", hop.truncated))
    return fields


def _revisit_fields(hop: Hop, head: bytes, of: RevisitOf) -> list[tuple[str, str]]:
    digest = hop.payload_digest
    if not digest:
        payload = hashlib.sha1()
        for chunk in _Body.load(hop.body_path).chunks():
            payload.update(chunk)
        digest = _digest(payload)
    return [("WARC-Profile", REVISIT_PROFILE), ("WARC-Refers-To", of.record_id),
            ("WARC-Refers-To-Target-URI", of.target_uri), ("WARC-Refers-To-Date", of.date),
            ("WARC-Block-Digest", _digest(hashlib.sha1(head))), ("WARC-Payload-Digest", digest)]


def _http_head(line: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    parts = [line, b"\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _digest(hasher: hashlib._Hash) -> str:
    return "sha1:" + base64.b32encode(hasher.digest()).decode("ascii")


def _warc_date(moment: datetime) -> str:
    """W3C-ISO8601 in UTC with microseconds, as WARC/1.1 allows."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean(value: str) -> str:
    """A WARC header value on one line."""
    return value.replace("\r", " ").replace("\n", " ")


def _fsync_dir(directory: Path) -> None:
    """Make a file creation or rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading back ---------------------------------------------------------------
def read_record(directory: Path, warc: str, offset: int, length: int | None = None) -> StoredRecord:
    """Read the record at ``offset`` of ``warc`` (closed or still ``.open``).

    ``length``, the compressed length from ``RecordLocation``, bounds the read.
    The whole payload is read into memory.
    """
    with _open_warc(Path(directory), warc) as f:
        f.seek(offset)
        stream = LimitReader(f, length) if length else f
        record = next(iter(ArchiveIterator(stream)))
        payload = record.raw_stream.read()
        return StoredRecord(record.rec_type, record.rec_headers, record.http_headers, payload)


def read_payload(directory: Path, warc: str, offset: int) -> tuple[list[tuple[str, str]], bytes]:
    """The HTTP headers and entity body (content-encoding kept) stored at ``offset``."""
    record = read_record(directory, warc, offset)
    headers = list(record.http_headers.headers) if record.http_headers else []
    return headers, record.payload


def _open_warc(directory: Path, warc: str) -> BinaryIO:
    if Path(warc).name != warc or not warc:
        raise ValueError(f"not a WARC file name: {warc!r}")
    final = directory / warc.removesuffix(OPEN_SUFFIX)
    for path in (final, final.with_name(final.name + OPEN_SUFFIX), final):
        try:
            return open(path, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            continue  # closed meanwhile: try the other name
    raise FileNotFoundError(final)


# -- crash recovery ---------------------------------------------------------------
ORPHANED_DIR = "orphaned"


@dataclass(frozen=True)
class SetAside:
    """WARC records the database never recorded, kept in ``orphaned/`` instead of deleted."""

    source: str  # the file they were in (without ``.open``)
    path: Path  # where they are now
    records: int  # complete records kept (request and response records count one each)
    whole_file: bool  # True: the database knew nothing of the file (emptied or replaced database)


def set_aside_unrecorded(directory: Path, recorded_end: Callable[[str], int], prefix: str = "") -> list[SetAside]:
    """Move the complete records of each ``.open`` file that the database does not know to ``orphaned/``.

    ``recorded_end(name)`` is where the last record the database knows in file
    ``name`` ends (0: none). Records after it were written by a run that was killed
    (or failed) before recording them: they stay out of the archive, whose runs fetch
    those links again, but their bytes are never deleted. A file the database knows
    nothing of (an emptied or replaced database) moves whole, cut back to its last
    complete record; otherwise the unrecorded tail is copied to a file of its own
    and cut off. Each kept file is a closed, valid WARC (the tail starts without a
    ``warcinfo`` record). Call before ``repair``, under the archive lock, with no
    writer open. Raises OSError (e.g. ENOSPC) leaving the file as it was.
    """
    directory = Path(directory)
    kept = []
    for path in sorted(directory.glob(f"{prefix}*.warc.gz{OPEN_SUFFIX}")):
        name = path.name.removesuffix(OPEN_SUFFIX)
        end = recorded_end(name)
        with open(path, "r+b") as f:
            if end > os.fstat(f.fileno()).st_size:  # the database points past the bytes: leave it to repair
                continue
            # the recorded bytes were fsynced before they were recorded: only what follows is read
            ends = [end, *_record_ends(f, end)] if end else _record_ends(f)
            good = ends[-1] if ends else 0
            first = end if end else (ends[0] if ends else 0)  # a file's warcinfo is not worth keeping alone
            unrecorded = sum(1 for e in ends if e > first)
            if not unrecorded:
                if end == 0 and good:  # a lone warcinfo: repair removes the emptied file
                    f.truncate(0)
                    os.fsync(f.fileno())
                continue
            target = _orphan_path(directory, name)
            target.parent.mkdir(exist_ok=True)
            if end == 0:
                f.truncate(good)
                os.fsync(f.fileno())
            else:
                _copy_range(f, end, good, target)
                f.truncate(end)
                os.fsync(f.fileno())
        if end == 0:
            os.rename(path, target)
            _fsync_dir(directory)
        _fsync_dir(target.parent)
        kept.append(SetAside(name, target, unrecorded, end == 0))
        log.debug("%s: %d unrecorded record(s) kept in %s", name, unrecorded, target)
    return kept


def _record_ends(f: BinaryIO, start: int = 0) -> list[int]:
    """End offsets of the complete records of ``f`` from ``start`` on, in order."""
    ends = [start]
    while (end := _member_end(f, ends[-1])) is not None:
        ends.append(end)
    return ends[1:]


def _orphan_path(directory: Path, name: str) -> Path:
    target = directory / ORPHANED_DIR / name
    stem = name.removesuffix(".warc.gz")
    number = 1
    while target.exists() or target.with_name(target.name + OPEN_SUFFIX).exists():
        number += 1
        target = directory / ORPHANED_DIR / f"{stem}-{number}.warc.gz"
    return target


def _copy_range(f: BinaryIO, start: int, end: int, target: Path) -> None:
    """Copy bytes ``start``..``end`` of ``f`` to a new file ``target``, durably (all or nothing)."""
    partial = target.with_name(target.name + OPEN_SUFFIX)
    try:
        with open(partial, "xb") as out:
            f.seek(start)
            left = end - start
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise OSError(f"{f.name} shrank while its records were being set aside")
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def repair(directory: Path, prefix: str = "") -> list[Path]:
    """Close every ``*.warc.gz.open`` file left by a crash; return the repaired files.

    Each is cut back to its last gzip member that holds one complete WARC record and
    renamed without ``.open``; a file without any complete record is deleted. Call it
    under the archive lock, never while a writer of this archive is open.
    """
    repaired = []
    for path in sorted(Path(directory).glob(f"{prefix}*.warc.gz{OPEN_SUFFIX}")):
        with open(path, "r+b") as f:
            good = _complete_prefix(f)
            if good < os.fstat(f.fileno()).st_size:
                log.warning("%s: cutting back to %d bytes", path.name, good)
                f.truncate(good)
            os.fsync(f.fileno())
        if good == 0:
            path.unlink()
            continue
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        os.rename(path, final)
        repaired.append(final)
    if repaired:
        _fsync_dir(Path(directory))
    return repaired


def _complete_prefix(f: BinaryIO) -> int:
    """Length of the longest prefix of ``f`` made of complete records."""
    good = 0
    while (end := _member_end(f, good)) is not None:
        good = end
    return good


def _member_end(f: BinaryIO, start: int) -> int | None:
    """End offset of the gzip member at ``start`` if it holds exactly one complete record."""
    f.seek(start)
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    head, tail, total, consumed = b"", b"", 0, 0
    try:
        while not inflater.eof:
            data = f.read(CHUNK)
            consumed += len(data)
            at_end = not data
            while True:  # inflate in bounded pieces; with b"" this drains what zlib holds
                out = inflater.decompress(data, CHUNK)
                data = inflater.unconsumed_tail
                total, tail = total + len(out), (tail + out[-4:])[-4:]
                head += out[: MAX_HEAD - len(head)]
                if inflater.eof or not (data or out):
                    break
            if at_end:
                break
    except zlib.error:
        return None
    if not inflater.eof or not _is_one_record(head, total, tail):
        return None
    return start + consumed - len(inflater.unused_data)


def _is_one_record(head: bytes, total: int, tail: bytes) -> bool:
    """Whether ``total`` bytes starting with ``head`` and ending with ``tail`` are one record."""
    end = head.find(b"\r\n\r\n")
    length = CONTENT_LENGTH.search(head[: end + 2]) if end > 0 else None
    return (head.startswith(b"WARC/") and length is not None and tail == b"\r\n\r\n"
            and total == end + 4 + int(length[1]) + 4)
