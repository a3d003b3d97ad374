"""A CDXJ index kept next to the WARCs, so pywb can replay them without re-indexing.

Layout: ``<archive.dir>/warcs/`` holds the closed ``*.warc.gz`` files and one
sorted ``index.cdxj`` in cdxj-indexer's format (``filename`` fields are bare file
names, relative to that directory). ``WarcWriter`` builds the lines of its own
records while writing them (``http_line`` from the values it writes, or
``record_line`` from the record's bytes for shapes the former leaves to warcio;
both byte-identical to cdxj-indexer's) and merges them in when it closes a file (``add_lines``), so closing never
re-reads a WARC. ``update_index`` adds every closed WARC still missing from the
index (files repaired after a crash, or whose merge failed) by running
cdxj-indexer on it; call it after ``WarcWriter.close()`` and after
``warc.repair()``. Files still ``.open`` are not indexed.

Serving the archive with pywb, either way:

1. A config file pointing a fixed collection at the directory::

       pywb_config(Path("archives/warcs"))          # writes archives/pywb.yaml
       PYWB_CONFIG_FILE=archives/pywb.yaml wayback -p 8080

   then ``http://localhost:8080/archive/<14-digit timestamp>/<url>`` replays a page,
   ``.../<timestamp>id_/<url>`` returns the stored bytes unrewritten.

2. pywb's own directory layout (``wb-manager``: ``collections/NAME/archive/`` and
   ``collections/NAME/indexes/*.cdxj``), with both entries symlinks to the warcs
   directory: pywb reads every ``*.cdxj`` in ``indexes/`` and resolves each
   ``filename`` under ``archive/``::

       mkdir -p collections/archive
       ln -s "$PWD/archives/warcs" collections/archive/archive
       ln -s "$PWD/archives/warcs" collections/archive/indexes
       wayback -p 8080
"""

from __future__ import annotations

import fcntl
import heapq
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from warcio.recordloader import ArcWarcRecordLoader
from warcio.timeutils import iso_date_to_timestamp

# cdxj_indexer (0.3 s) and surt (0.16 s) are imported on first use.

log = logging.getLogger(__name__)

INDEX_NAME = "index.cdxj"
COLLECTION = "archive"
# the record types cdxj-indexer indexes by default (CDXJIndexer.DEFAULT_RECORDS);
# resource and metadata records with Content-Type application/warc-fields are left out
INDEXED_RECORDS = ("response", "revisit", "resource", "metadata")
_MIME_END = re.compile(r"[;\s]")  # CDXJIndexer.RE_SPACE
# http_line: HTTP heads it reads without warcio: a status line "VERSION CODE[ REASON]",
# then header lines with an ASCII name (no colon, no leading blank: no folding) and
# a value without CR or LF, each ending in CRLF, then the blank line
_HTTP_HEAD = re.compile(rb"[!-~]+ (\d+)(?: [^\r\n]*)?\r\n(?:[!-9;-~][!-9;-~ \t]*:[^\r\n]*\r\n)*\r\n")
_CONTENT_TYPE = re.compile(rb"\ncontent-type[ \t]*:([^\r\n]*)\r", re.IGNORECASE)
_WARC_DATE = re.compile(r"([1-9]\d{3})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?Z")


def index_file(warc_path: Path) -> list[str]:
    """The sorted CDXJ lines (without newline) of one WARC file, read by cdxj-indexer."""
    from cdxj_indexer.main import CDXJIndexer

    out = io.StringIO()
    CDXJIndexer(out, [str(warc_path)], sort=True).process_all()
    return out.getvalue().splitlines()


def record_line(head: bytes, *, offset: int, length: int, filename: str) -> str | None:
    """The CDXJ line cdxj-indexer writes for one record, or None if it skips the record.

    ``head`` is the start of the uncompressed record: the WARC header block and, for
    HTTP records, at least the whole HTTP header block (the body is not needed).
    ``offset`` and ``length`` locate the record's gzip member in ``filename`` (the
    closed file's name). Parses ``head`` with the same warcio loader settings and
    builds the fields as ``CDXJIndexer`` (fields url, mime, status, digest, length,
    offset, filename) does. Raises ValueError for a record it cannot index exactly
    without the payload (no ``WARC-Payload-Digest``).
    """
    record = _loader().parse_record_stream(io.BytesIO(head))
    rec_type, headers, http = record.rec_type, record.rec_headers, record.http_headers
    if rec_type not in INDEXED_RECORDS or (
            rec_type in ("resource", "metadata")
            and headers.get_header("Content-Type") == "application/warc-fields"):
        return None
    if rec_type == "revisit":
        mime: str | None = "warc/revisit"
    else:
        if rec_type in ("response", "request"):
            mime = http.get_header("content-type") if http else None
        else:
            mime = headers.get_header("content-type")
        if mime:
            mime = _MIME_END.split(mime, 1)[0].strip()
    digest = headers.get_header("WARC-Payload-Digest")
    if not digest:
        raise ValueError("no WARC-Payload-Digest: cdxj-indexer would compute it from the payload")
    fields = {
        "url": headers.get_header("WARC-Target-URI"),
        "mime": mime,
        "status": http.get_statuscode() if rec_type in ("response", "revisit") and http else None,
        "digest": digest,
        "length": str(length),
        "offset": str(offset),
        "filename": filename,
    }
    index = {key: value for key, value in fields.items() if value is not None}
    url = index.get("url") or headers.get_header("WARC-Target-URI")
    stamp = iso_date_to_timestamp(headers.get_header("WARC-Date"))
    return f"{_url_key(url)} {stamp} {json.dumps(index)}"


def http_line(*, url: str, date: str, rec_type: str, head: bytes, digest: str,
              offset: int, length: int, filename: str) -> str | None:
    """``record_line`` for a response or revisit record, from the values it was written from.

    ``url``, ``date`` and ``digest`` are the WARC-Target-URI, WARC-Date and
    WARC-Payload-Digest values as written into the WARC header (one line each), ``head``
    the HTTP response head (status line, headers, blank line) that starts the block.
    The fields are derived from them as warcio's loader (``verify_http=False``) and
    ``CDXJIndexer`` derive them from the record's bytes, without parsing the record.
    Returns None when the record has a shape this shortcut does not reproduce exactly
    (non-HTTP target URI, ``<...>`` URI, a status line or header that warcio would
    fold, split or decode differently): the caller then uses ``record_line``. Raises
    ValueError, as ``record_line``, for a record without a payload digest.
    """
    # WARC header values come back stripped (the line is rstrip()ped, the value lstrip()ped);
    # _ensure_target_uri_format drops <...> (left to record_line) and percent-encodes spaces
    url = url.strip()
    if url.startswith("<") and url.endswith(">"):
        return None
    if " " in url:
        url = url.replace(" ", "%20")
    # only http:/https: targets (case-sensitive) get their HTTP head parsed
    if not url.startswith(("http:", "https:")) or rec_type not in ("response", "revisit"):
        return None
    head_match = _HTTP_HEAD.fullmatch(head)
    if head_match is None:
        return None
    digest = digest.strip()
    if not digest:
        raise ValueError("no WARC-Payload-Digest: cdxj-indexer would compute it from the payload")
    if rec_type == "revisit":
        mime: str | None = "warc/revisit"
    else:
        # the first header whose name, blanks before the colon dropped, is content-type
        found = _CONTENT_TYPE.search(head, head_match.end(1))
        if found is None:
            mime = None
        else:
            value = found.group(1)
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text = value.decode("iso-8859-1")
            mime = _MIME_END.split(text.strip(), 1)[0].strip()
    match = _WARC_DATE.fullmatch(date)
    stamp = "".join(match.groups()) if match else iso_date_to_timestamp(date)
    fields = {"url": url, "mime": mime, "status": head_match.group(1).decode("ascii"),
              "digest": digest, "length": str(length), "offset": str(offset), "filename": filename}
    if mime is None:
        del fields["mime"]
    return f"{_url_key(url)} {stamp} {json.dumps(fields)}"


@contextmanager
def _index_lock(directory: Path) -> Iterator[None]:
    """The index's own lock: the workers of a PostgreSQL archive (SPEC §11) close their WARC files
    into one ``warcs/`` directory, each merging into ``index.cdxj`` (read, merge, replace) in turn."""
    fd = os.open(Path(directory) / (INDEX_NAME + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add_lines(directory: Path, lines: Iterable[str]) -> None:
    """Merge ``lines`` (sorted, e.g. one closed WARC's) into ``index.cdxj``, atomically."""
    index = Path(directory) / INDEX_NAME
    with _index_lock(directory):
        _replace(index, heapq.merge(_lines(index), lines))


def update_index(directory: Path) -> list[Path]:
    """Merge every closed WARC of ``directory`` missing from ``index.cdxj`` into it, and index
    again each file it lists only in part (an indexed record past its last line).

    Files a ``WarcWriter`` closed are normally in the index already; this indexes the
    others (repaired after a crash, ...) with cdxj-indexer. The index is rewritten
    sorted and replaced atomically. Returns the WARC files added (a file whose
    records are all non-indexable, such as a lone warcinfo, is looked at again next
    time; that costs little).
    """
    directory = Path(directory)
    index = directory / INDEX_NAME
    with _index_lock(directory):
        ends: dict[str, int] = {}  # per file, where its last indexed record ends
        for line in _lines(index):
            name, end = _filename_and_end(line)
            ends[name] = max(ends.get(name, 0), end)
        new = sorted(p for p in directory.glob("*.warc.gz") if p.name not in ends)
        # a file the index lists only in part (records past its last line): indexed again, whole
        partial = sorted(p for p in directory.glob("*.warc.gz") if p.name in ends and _indexed_after(p, ends[p.name]))
        for path in partial:
            log.warning("%s: %s listed only part of its records; indexed it again", path.name, INDEX_NAME)
        lines = sorted(line for path in new + partial for line in index_file(path))
        if lines:
            stale = {p.name for p in partial}
            _replace(index, heapq.merge((line for line in _lines(index) if _filename(line) not in stale), lines))
    return new + partial


def pywb_config(directory: Path, path: Path | None = None, collection: str = COLLECTION) -> Path:
    """Write a pywb config.yaml serving ``directory`` as ``collection``; return its path.

    The default path is ``<directory>/../pywb.yaml``. Start pywb with
    ``PYWB_CONFIG_FILE=<path> wayback -p 8080`` (see the module docstring).
    """
    directory = Path(directory).resolve()
    path = Path(path) if path else directory.parent / "pywb.yaml"
    text = (
        "# pywb configuration written by archiver: PYWB_CONFIG_FILE=this-file wayback -p 8080\n"
        "collections:\n"
        f"  {json.dumps(collection)}:\n"
        f"    index: {json.dumps(str(directory / INDEX_NAME))}\n"
        f"    archive_paths: {json.dumps(str(directory) + os.sep)}\n"
        "enable_auto_colls: false\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


@cache
def _loader() -> ArcWarcRecordLoader:
    return ArcWarcRecordLoader(verify_http=False, arc2warc=True)  # as cdxj-indexer's ArchiveIterator


def _url_key(url: str) -> str:
    """The SURT key, as ``CDXJIndexer.get_url_key``."""
    import surt

    try:
        return str(surt.surt(url))
    except Exception:  # noqa: BLE001 - cdxj-indexer falls back to the URL on any error
        return url


def _lines(index: Path) -> Iterator[str]:
    """The lines of an existing index, streamed."""
    if not index.exists():
        return
    with open(index, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n")


def _filename_and_end(line: str) -> tuple[str, int]:
    """The file a line names and where its record ends (offset + length; 0 if unreadable)."""
    try:
        fields = json.loads(line.split(" ", 2)[2])
        return str(fields.get("filename", "")), int(fields.get("offset", 0)) + int(fields.get("length", 0))
    except (IndexError, ValueError, AttributeError, TypeError):
        return _filename(line), 0


def _indexed_after(path: Path, end: int) -> bool:
    """Whether ``path`` holds a record cdxj-indexer indexes past ``end`` (only that tail is read:
    after a complete file's last indexed record there is at most a request record)."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        if path.stat().st_size <= end:
            return False
        with open(path, "rb") as stream:
            stream.seek(end)
            for record in ArchiveIterator(stream):
                if record.rec_type in INDEXED_RECORDS and not (
                        record.rec_type in ("resource", "metadata")
                        and record.rec_headers.get_header("Content-Type") == "application/warc-fields"):
                    return True
    except Exception:  # noqa: BLE001 - an unreadable tail: cdxj-indexer decides what it can index
        return True
    return False


def _filename(line: str) -> str:
    try:
        return str(json.loads(line.split(" ", 2)[2]).get("filename", ""))
    except (IndexError, ValueError, AttributeError):
        return ""


def _replace(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
