"""What must hold of an archive after any run, however the previous one ended (SPEC §6, §8).

``assert_archive_consistent(archive_dir)`` checks a quiescent archive (no run in
progress, after a clean run that followed any crash):

- no WARC is left ``.open``; ``warcio check`` passes on every closed WARC (and on
  every file set aside under ``warcs/orphaned/``);
- ``PRAGMA integrity_check`` is ``ok``;
- every record the database points at (``records`` rows and each capture's main
  record) exists in its file at that offset with that length, and is that record
  (same ``WARC-Record-ID``, type and target URI);
- no response or revisit record of a closed WARC is unknown to the database, and no
  two database rows claim the same record;
- no link was captured twice by one fetch: no two captures of a link share their
  capture time, and (with ``captures_per_link``) no link has more captures than
  expected; no captured link is still ``pending`` (its capture's first check was
  committed with it);
- ``index.cdxj`` has no duplicate line, names only closed files, and holds exactly
  the lines cdxj-indexer makes of each closed WARC.

Each failed assertion names the file, offset or link concerned.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.capture import cdxj
from archiver.archive.store import DB_NAME

WARC_DIR = "warcs"
ORPHANED_DIR = "orphaned"


@dataclass(frozen=True)
class FileRecord:
    """One record as read back from a closed WARC."""

    warc: str
    offset: int
    length: int
    rec_type: str
    record_id: str
    target_uri: str | None


def warcio_check(path: Path) -> str:
    """What ``warcio check`` reports for ``path``: "" when it passes."""
    out = io.StringIO()
    checker = Checker(SimpleNamespace(inputs=[str(path)], verbose=False))
    with contextlib.redirect_stdout(out):
        status = checker.process_all()
    return "" if status == 0 else (out.getvalue() or f"{path}: warcio check failed")


def read_records(path: Path) -> list[FileRecord]:
    """Every record of a WARC file with its offset and (compressed) length, as warcio reads them."""
    records = []
    with open(path, "rb") as stream:
        iterator = ArchiveIterator(stream)
        for record in iterator:
            record.content_stream().read()
            headers = record.rec_headers
            records.append(FileRecord(
                warc=path.name, offset=iterator.get_record_offset(), length=iterator.get_record_length(),
                rec_type=record.rec_type, record_id=headers.get_header("WARC-Record-ID") or "",
                target_uri=headers.get_header("WARC-Target-URI"),
            ))
    return records


def closed_warcs(archive_dir: Path) -> list[Path]:
    return sorted((archive_dir / WARC_DIR).glob("*.warc.gz"))


def orphaned_warcs(archive_dir: Path) -> list[Path]:
    return sorted((archive_dir / WARC_DIR / ORPHANED_DIR).glob("*.warc.gz*"))


def assert_archive_consistent(archive_dir: Path, *, database: Path | None = None,
                              captures_per_link: int | None = None) -> None:
    """Assert every invariant of the module docstring for the archive at ``archive_dir``."""
    archive_dir = Path(archive_dir)
    warc_dir = archive_dir / WARC_DIR
    left_open = sorted(p.name for p in warc_dir.glob("*.open"))
    assert not left_open, f"WARC files left open after a clean run: {left_open}"

    files = closed_warcs(archive_dir)
    problems = {p.name: msg for p in files + orphaned_warcs(archive_dir) if (msg := warcio_check(p))}
    assert not problems, f"warcio check fails: {problems}"

    in_files: dict[tuple[str, int], FileRecord] = {}
    for path in files:
        for record in read_records(path):
            in_files[(record.warc, record.offset)] = record

    db_path = database or archive_dir / DB_NAME
    assert db_path.exists(), f"no database at {db_path}"
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        assert integrity == ["ok"], f"PRAGMA integrity_check: {integrity}"
        records = [dict(r) for r in conn.execute(
            "SELECT id, capture_id, record_type, url, warc, offset, length, record_id FROM records")]
        captures = [dict(r) for r in conn.execute(
            "SELECT id, link_id, url, captured_at, kind, warc, offset, length, record_id FROM captures")]
        pending = [row[0] for row in conn.execute(
            "SELECT url FROM links WHERE state = 'pending' AND id IN (SELECT link_id FROM captures)")]
    finally:
        conn.close()

    # every record the database points at is there, and is the right one
    pointed = [(f"records row {r['id']}", r) for r in records]
    pointed += [(f"capture {c['id']}", c) for c in captures if c["warc"] is not None]
    for what, row in pointed:
        found = in_files.get((row["warc"], row["offset"]))
        assert found is not None, (
            f"{what} points at {row['warc']}@{row['offset']}: no record starts there "
            f"(file exists: {(warc_dir / row['warc']).exists()})")
        assert found.length == row["length"], (
            f"{what}: {row['warc']}@{row['offset']} is {found.length} bytes long, the database says {row['length']}")
        assert found.record_id == row["record_id"], (
            f"{what}: {row['warc']}@{row['offset']} is record {found.record_id}, the database says {row['record_id']}")
        rec_type = row.get("record_type") or row.get("kind")
        assert found.rec_type == rec_type, f"{what}: a {found.rec_type} record, the database says {rec_type}"

    # no two rows claim one record; no response/revisit record is unrecorded
    claimed = Counter((r["warc"], r["offset"]) for r in records)
    twice = sorted(key for key, n in claimed.items() if n > 1)
    assert not twice, f"records recorded twice in the database: {twice}"
    unrecorded = sorted(f"{r.warc}@{r.offset} {r.rec_type} {r.target_uri}" for key, r in in_files.items()
                        if r.rec_type in ("response", "revisit") and key not in claimed)
    assert not unrecorded, f"{len(unrecorded)} WARC records the database does not know: {unrecorded[:20]}"
    main = Counter((c["warc"], c["offset"]) for c in captures if c["warc"] is not None)
    shared = sorted(key for key, n in main.items() if n > 1)
    assert not shared, f"captures sharing one WARC record: {shared}"

    # no link captured twice by one fetch
    same_fetch = Counter((c["link_id"], c["captured_at"]) for c in captures if c["kind"] != "failed")
    dup = sorted(key for key, n in same_fetch.items() if n > 1)
    assert not dup, f"links captured twice at the same moment (link id, time): {dup}"
    assert not pending, f"links captured but never judged (still pending; captured again next run): {pending[:10]}"
    if captures_per_link is not None:
        per_link = Counter(c["link_id"] for c in captures if c["kind"] != "failed")
        over = {link: n for link, n in per_link.items() if n > captures_per_link}
        assert not over, f"links with more than {captures_per_link} capture(s) (link id: count): {over}"

    _assert_index_agrees(warc_dir, files)


def _assert_index_agrees(warc_dir: Path, files: list[Path]) -> None:
    index = warc_dir / cdxj.INDEX_NAME
    lines = index.read_text(encoding="utf-8").splitlines() if index.exists() else []
    repeated = sorted(line for line, n in Counter(lines).items() if n > 1)
    assert not repeated, f"{len(repeated)} duplicate lines in {index.name}: {repeated[:5]}"
    assert lines == sorted(lines), f"{index.name} is not sorted"
    by_file: dict[str, set[str]] = {}
    for line in lines:
        by_file.setdefault(cdxj._filename(line), set()).add(line)
    names = {p.name for p in files}
    strangers = sorted(set(by_file) - names)
    assert not strangers, f"{index.name} names files that are not closed WARCs here: {strangers}"
    for path in files:
        expected = set(cdxj.index_file(path))
        have = by_file.get(path.name, set())
        missing, extra = expected - have, have - expected
        assert not missing, f"{index.name} misses {len(missing)} record(s) of {path.name}: {sorted(missing)[:3]}"
        assert not extra, f"{index.name} has {len(extra)} line(s) for {path.name} that it does not hold"
