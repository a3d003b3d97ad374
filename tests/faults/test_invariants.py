"""The fault suite's checker passes on a sound archive and names what is wrong in a broken one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archiver.archive import Archive
from archiver.config import Config
from archiver.capture.snapshot import snapshot

from ..server import TestServer
from .invariants import assert_archive_consistent


@pytest.fixture
def archived(server: TestServer, config: Config) -> Path:
    urls = [server.route(f"/inv/{n}", body=f"<html><body><p>page {n}</p></body></html>".encode()) for n in range(3)]
    with Archive(config) as archive:
        snapshot(archive, urls)
    return config.archive.dir


def test_a_sound_archive_passes(archived: Path) -> None:
    assert_archive_consistent(archived, captures_per_link=1)


def test_an_unrecorded_record_is_named(archived: Path) -> None:
    with sqlite3.connect(archived / "archive.db") as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DELETE FROM records WHERE record_type = 'response' AND id = (SELECT max(id) FROM records)")
    with pytest.raises(AssertionError, match="the database does not know"):
        assert_archive_consistent(archived)


def test_a_record_pointed_at_wrongly_is_named(archived: Path) -> None:
    with sqlite3.connect(archived / "archive.db") as conn:
        conn.execute("UPDATE records SET offset = offset + 1 WHERE id = 2")
    with pytest.raises(AssertionError, match="no record starts there"):
        assert_archive_consistent(archived)


def test_a_duplicate_index_line_is_named(archived: Path) -> None:
    index = archived / "warcs" / "index.cdxj"
    lines = index.read_text().splitlines()
    index.write_text("\n".join(sorted([*lines, lines[0]])) + "\n")
    with pytest.raises(AssertionError, match="duplicate lines"):
        assert_archive_consistent(archived)


def test_a_damaged_warc_fails_warcio_check(archived: Path) -> None:
    warc = next((archived / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    with pytest.raises(AssertionError):
        assert_archive_consistent(archived)
