"""The archive database: schema versioning, idempotent citations, one writer at a time."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from archiver.errors import ArchiveBusy, StoreError
from archiver.lock import ArchiveLock
from archiver.store import SCHEMA_VERSION, CitationInput, Store


def test_new_store_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.version == SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "archive.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"links", "citations", "captures", "records", "checks", "texts", "sources", "sweeps"} <= tables


def test_store_from_a_newer_archiver_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "archive.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this archiver"):
        Store.open(tmp_path)


def _cite(url: str, comment: int | None = None) -> CitationInput:
    return CitationInput(url=url, url_as_written=url, source="article", place="comment" if comment else "body",
                         comment=comment, context=f"see {url}")


def test_recollecting_is_idempotent_and_marks_vanished_citations(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.add_citations("article", [_cite("https://a.example/1"), _cite("https://b.example/", 2)]) == (2, 0)
        assert store.add_citations("article", [_cite("https://a.example/1"), _cite("https://b.example/", 2)]) == (0, 0)
        assert store.add_citations("article", [_cite("https://a.example/1")]) == (0, 1)
        rows = store.db.execute("SELECT count(*) FROM citations").fetchone()[0]
        assert rows == 2  # removed, not deleted
        removed = store.citations(store.link("https://b.example/")["id"])
        assert removed[0]["removed_at"] is not None
        assert store.link("https://b.example/")["state"] == "pending"


def _hold_lock(directory: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with ArchiveLock(Path(directory), what="sweep"):
        ready.set()
        time.sleep(30)


def test_second_writer_waits_then_names_the_holder(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        with pytest.raises(ArchiveBusy) as info:
            ArchiveLock(tmp_path, wait=0.5).acquire()
        assert time.monotonic() - started >= 0.5
        assert f"pid {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.join()
    # the lock dies with its holder, even on SIGKILL
    with ArchiveLock(tmp_path, wait=2):
        pass
