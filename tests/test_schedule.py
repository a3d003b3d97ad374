"""`archiver schedule`: sweeps on a cron expression, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from archiver.archive.lock import ArchiveLock

from .server import TestServer
from .test_snapshot import PAGE, count_rows
from .test_sweep import article_citing, sweep_config

BIN = Path(sys.executable).parent


def _finished_sweeps(db: Path) -> int:
    return count_rows(db, "SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL")


def test_every_minute_schedule_runs_two_sweeps_and_stops_on_sigterm(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/schedule/page", PAGE)
    config = sweep_config(tmp_path, article_citing(tmp_path, [url]), '[schedule]\nsweep = "* * * * *"\n')
    log = tmp_path / "schedule.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "archiver"), "--config", str(config), "schedule"],
                                stdout=out, stderr=subprocess.STDOUT)
    db = tmp_path / "archives" / "archive.db"
    try:
        deadline = time.monotonic() + 150  # two minute boundaries, whatever second we start at
        while time.monotonic() < deadline and _finished_sweeps(db) < 2:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        assert _finished_sweeps(db) == 2, log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "schedule started" in text and "schedule stopped" in text
    assert text.count("sweep finished in") == 2
    assert (tmp_path / "archives" / "reports" / "latest.html").exists()
    assert not (tmp_path / "archives" / "archive.lock").read_text().strip()  # lock released


def test_scheduled_sweep_skips_while_another_run_holds_the_archive(tmp_path: Path, server: TestServer) -> None:
    from archiver.config import load_config
    from archiver.schedule import run_scheduled_sweep

    url = server.route("/schedule/busy", PAGE)
    config = load_config(sweep_config(tmp_path, article_citing(tmp_path, [url])))
    with ArchiveLock(config.archive.dir, what="sweep"):
        started = time.monotonic()
        run_scheduled_sweep(config, None)  # waits a bounded time, logs, returns
        assert time.monotonic() - started < 15
    assert _finished_sweeps(config.archive.dir / "archive.db") == 0
