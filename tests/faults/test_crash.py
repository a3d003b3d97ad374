"""`kill -9` at random moments of real sweeps (SPEC §8): nothing recorded is lost, nothing is captured twice.

Each run starts `archiver sweep` in a subprocess against local servers (many URLs,
a tiny ``warc_max_size`` so that WARC files rotate every few captures), kills it
and its fetch workers with SIGKILL mid-capture (at a seeded random number of
recorded captures, half of the time once more WARC bytes were written after
them), runs a clean sweep, and checks the archive with
``assert_archive_consistent``. Captures recorded before the kill must still be
there and every URL captured exactly once. The default run does a few kills;
the ``slow`` variant many.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.archive import Archive
from archiver.config import Config
from archiver.capture.snapshot import snapshot

from ..server import TestServer
from .crashkit import (ARCHIVER, Tally, env, kill_and_recover, page, recorded_captures, serve_pages, sweep,
                       unrecorded_by_file, write_sweep_config)
from .invariants import assert_archive_consistent, read_records, warcio_check

URLS_PER_HOST = 60  # 3 hosts: 180 URLs, enough for the sweep's fetch worker processes and its batches
PAGE_SIZE = 4000
WARC_MAX_SIZE = "16KB"  # a few captures per WARC file: rotation inside nearly every batch


def crash_runs(tmp_path: Path, make_server: Callable[[], TestServer], runs: int, *, seed: int,
               kills: int = 1, per_host: int = URLS_PER_HOST) -> Tally:
    servers = [make_server() for _ in range(3)]
    urls = serve_pages(servers, per_host, PAGE_SIZE, f"crash{seed}")
    rng = random.Random(seed)
    tally = Tally()
    for run in range(runs):
        workdir = tmp_path / f"run{run}"
        workdir.mkdir()
        config = write_sweep_config(workdir, urls, warc_max_size=WARC_MAX_SIZE)
        kill_and_recover(workdir, config, urls, rng, tally, kills=kills)
        assert_archive_consistent(workdir / "archives", captures_per_link=1)
    return tally


@pytest.mark.slow
def test_kill_9_during_sweeps_loses_and_duplicates_nothing(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    tally = crash_runs(tmp_path, make_server, 2, seed=1)
    assert (tally.lost, tally.duplicated) == (0, 0), tally.notes


def test_kill_9_after_rotations_before_the_commit(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    """The moment of issue 10: killed while batches the database has not recorded span rotated WARC files."""
    servers = [make_server() for _ in range(3)]
    urls = serve_pages(servers, URLS_PER_HOST, PAGE_SIZE, "rotation")
    config = write_sweep_config(tmp_path, urls, warc_max_size=WARC_MAX_SIZE)
    archive_dir = tmp_path / "archives"
    warcs, db = archive_dir / "warcs", archive_dir / "archive.db"
    proc = subprocess.Popen([*ARCHIVER, "--config", str(config), "sweep"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env(), cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not warcs.is_dir() or len(list(warcs.glob("*.warc.gz*"))) < 3:
            assert time.monotonic() < deadline and proc.poll() is None, "the sweep wrote no WARC files"
            time.sleep(0.002)
        blocker = sqlite3.connect(db, timeout=30, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # from now on no batch of the sweep can commit
        time.sleep(1.5)  # the batch being written rotates on (the sweep gives up on the lock after 30 s)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    blocker.execute("ROLLBACK")
    blocker.close()
    spread = unrecorded_by_file(archive_dir)
    assert len(spread) >= 2, f"no rotation within the unrecorded records ({spread}): the moment was missed"
    before = recorded_captures(db)

    done = sweep(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert before <= recorded_captures(db)
    assert_archive_consistent(archive_dir, captures_per_link=1)


@pytest.mark.slow
def test_kill_9_many_times(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    tally = crash_runs(tmp_path, make_server, 12, seed=2)
    print(f"kill -9 x {tally.runs} sweeps ({tally.kills_before_end} mid-capture): "
          f"{tally.lost} lost, {tally.duplicated} duplicated")
    assert (tally.lost, tally.duplicated) == (0, 0), tally.notes
    # each kill is aimed at an event of the capture (crashkit.sweep_killed_at), not at a delay:
    # on any machine speed it lands while the sweep still has links to capture
    assert tally.kills_before_end >= tally.runs - 1, f"kills landed while capturing: {tally.kills_before_end}"


@pytest.mark.slow
def test_kill_9_many_times_while_capturing_in_process(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    """Under 100 new links a sweep fetches on its own event loop and saves capture by capture."""
    tally = crash_runs(tmp_path, make_server, 10, seed=4, per_host=25)
    print(f"kill -9 x {tally.runs} sweeps of 75 URLs ({tally.kills_before_end} mid-capture): "
          f"{tally.lost} lost, {tally.duplicated} duplicated")
    assert (tally.lost, tally.duplicated) == (0, 0), tally.notes
    assert tally.kills_before_end >= tally.runs - 1, f"kills landed while capturing: {tally.kills_before_end}"


@pytest.mark.slow
def test_kill_9_twice_before_a_clean_run(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    tally = crash_runs(tmp_path, make_server, 4, seed=3, kills=2)
    print(f"kill -9 twice x {tally.runs}: {tally.lost} lost, {tally.duplicated} duplicated")
    assert (tally.lost, tally.duplicated) == (0, 0), tally.notes


# -- WARC bytes the database does not know are kept, never deleted ------------------------------


def _crash_left_open_file(config: Config, urls: list[str]) -> bytes:
    """Capture ``urls``, then put the archive as a killed run leaves it: the last WARC file ``.open``."""
    with Archive(config) as archive:
        snapshot(archive, urls)
        assert archive.writer.path is not None
        left = archive.writer.path.read_bytes()
        name = archive.writer.path
    closed = name.with_name(name.name.removesuffix(".open"))
    closed.unlink()
    name.write_bytes(left)
    _unindex(config.archive.dir, closed.name)
    return left


def _unindex(archive_dir: Path, name: str) -> None:
    """Drop a file's lines from the CDXJ index, as before the file was closed."""
    index = archive_dir / "warcs" / "index.cdxj"
    index.write_text("".join(line for line in index.read_text().splitlines(keepends=True) if name not in line))


@pytest.mark.parametrize("database", ["deleted", "restored-from-backup"])
def test_a_crash_left_warc_the_database_does_not_know_is_kept(
        server: TestServer, config: Config, tmp_path: Path, database: str,
        caplog: pytest.LogCaptureFixture) -> None:
    db = config.archive.dir / "archive.db"
    backup = tmp_path / "backup.db"
    if database != "deleted":  # a backup taken before the crashed run
        with Archive(config) as archive:
            snapshot(archive, [server.route("/orphan/before", body=page("orphan-before", 3000))])
        shutil.copy(db, backup)
    urls = [server.route(f"/orphan/{database}/{n}", body=page(f"orphan-{database}-{n}", 3000)) for n in range(4)]
    left = _crash_left_open_file(config, urls)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if database != "deleted":
        shutil.copy(backup, db)

    with caplog.at_level(logging.WARNING), Archive(config):  # the next run
        pass

    kept = list((config.archive.dir / "warcs" / "orphaned").glob("*.warc.gz"))
    assert len(kept) == 1, "the crash-left file was not kept"
    assert kept[0].read_bytes() == left  # every byte, closed as it was
    assert warcio_check(kept[0]) == ""
    targets = {r.target_uri for r in read_records(kept[0]) if r.rec_type == "response"}
    assert targets == set(urls)
    assert "kept them" in caplog.text and "orphaned" in caplog.text
    assert not list((config.archive.dir / "warcs").glob("*.open"))
    assert_archive_consistent(config.archive.dir)


def test_a_cli_run_says_on_stderr_what_it_kept(server: TestServer, config: Config, tmp_path: Path) -> None:
    urls = [server.route(f"/orphan/cli/{n}", body=page(f"orphan-cli-{n}", 3000)) for n in range(2)]
    _crash_left_open_file(config, urls)
    (config.archive.dir / "archive.db").unlink()
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f'[archive]\ndir = "{config.archive.dir}"\n[fetch]\nallow_private_networks = true\n')
    done = subprocess.run([*ARCHIVER, "--config", str(cfg), "snapshot", urls[0]], capture_output=True,
                          text=True, env=env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warcs/orphaned/" in done.stderr and "database knows none" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert_archive_consistent(config.archive.dir, captures_per_link=1)


def test_records_after_the_last_commit_are_kept_aside_and_fetched_again(server: TestServer, config: Config) -> None:
    """A killed run's unrecorded tail leaves the archive (no duplicate) but not the disk."""
    urls = [server.route(f"/tail/{n}", body=page(f"tail-{n}", 3000)) for n in range(3)]
    with Archive(config) as archive:
        snapshot(archive, urls[:2])
        path = archive.writer.path
        assert path is not None
        recorded = path.stat().st_size
        snapshot(archive, urls[2:])
        left = path.read_bytes()
    closed = path.with_name(path.name.removesuffix(".open"))
    closed.unlink()
    path.write_bytes(left + gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n")[:30])  # and a torn record
    _unindex(config.archive.dir, closed.name)
    with sqlite3.connect(config.archive.dir / "archive.db") as conn:  # as if killed before the last commit
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("UPDATE links SET latest_capture_id = NULL, cited_capture_id = NULL, state = 'pending' "
                     "WHERE url = ?", [urls[2]])
        conn.execute("DELETE FROM checks WHERE capture_id IN (SELECT id FROM captures WHERE url = ?)", [urls[2]])
        conn.execute("DELETE FROM records WHERE capture_id IN (SELECT id FROM captures WHERE url = ?)", [urls[2]])
        conn.execute("DELETE FROM captures WHERE url = ?", [urls[2]])

    with Archive(config) as archive:
        assert [link["url"] for link in archive.store.links("pending")] == [urls[2]]
        snapshot(archive, [urls[2]])  # fetched again, once

    (kept,) = (config.archive.dir / "warcs" / "orphaned").glob("*.warc.gz")
    assert kept.read_bytes() == left[recorded:]
    assert [r.target_uri for r in read_records(kept) if r.rec_type == "response"] == [urls[2]]
    assert_archive_consistent(config.archive.dir, captures_per_link=1)


def test_a_capture_and_its_first_check_commit_together(server: TestServer, config: Config) -> None:
    """When the first check cannot be stored, the capture is not stored either (nor left in a closed WARC)."""
    url = server.route("/together", body=page("together", 3000))
    db = config.archive.dir / "archive.db"
    with Archive(config):
        pass
    with sqlite3.connect(db) as conn:  # the database refuses the check, as a full disk would
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON checks BEGIN SELECT RAISE(ABORT, 'no room'); END")
    with pytest.raises(sqlite3.IntegrityError, match="no room"), Archive(config) as archive:
        snapshot(archive, [url])
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER refuse")
        assert conn.execute("SELECT count(*) FROM captures").fetchone()[0] == 0
        assert conn.execute("SELECT state FROM links WHERE url = ?", [url]).fetchone()[0] == "pending"
    assert_archive_consistent(config.archive.dir)

    with Archive(config) as archive:  # the next run captures it, once
        [outcome] = snapshot(archive, [url])
    assert outcome.state == "ok"
    assert_archive_consistent(config.archive.dir, captures_per_link=1)


def test_a_closed_warc_the_index_lists_in_part_is_indexed_again(server: TestServer, config: Config) -> None:
    """pywb replays only what ``index.cdxj`` lists: a closed file whose lines stop short of its
    last records (however that came about) is indexed again, whole, when the next run closes."""
    urls = [server.route(f"/partial/{n}", body=page(f"partial-{n}", 3000)) for n in range(4)]
    with Archive(config) as archive:
        snapshot(archive, urls[:3])
    index = config.archive.dir / "warcs" / "index.cdxj"
    lines = index.read_text().splitlines()
    assert len(lines) == 3
    index.write_text(lines[0] + "\n")  # only the first record of the file is listed

    with Archive(config) as archive:  # the next run
        snapshot(archive, urls[3:])
    assert_archive_consistent(config.archive.dir, captures_per_link=1)
