"""`archiver sweep` end to end: sources -> captures -> checks -> reports; the lock; kill -9 mid-sweep."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.archive.lock import ArchiveLock

from .server import TestServer
from .test_snapshot import PAGE, count_rows, warcio_check

BIN = Path(sys.executable).parent
CAPTURES = "SELECT count(*) FROM captures"


def sweep_config(tmp_path: Path, article: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[archive]\ndir = "archives"\n[[sources]]\nname = "test article"\npath = "{article}"\n'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        'total_timeout = "10s"\n' + extra
    )
    return path


def article_citing(tmp_path: Path, urls: list[str]) -> Path:
    lines = ["A story that cites its sources.", ""]
    lines += [f"Source number {n} says so: {url}" for n, url in enumerate(urls)]
    path = tmp_path / "article.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sweep_collects_captures_checks_and_reports(tmp_path: Path, server: TestServer) -> None:
    good = server.route("/sweep/good", PAGE)
    gone = server.route("/sweep/gone", PAGE)
    config = sweep_config(tmp_path, article_citing(tmp_path, [good, gone]),
                          '[check]\nrecheck_after = "0s"\nretry_failing_after = "0s"\n')
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config), "sweep"])
    assert first.exit_code == 0, first.output
    assert "captured: 2 new link(s) (ok 2)" in first.output
    assert "new citations: 2" in first.output

    del server.routes["/sweep/gone"]
    second = runner.invoke(cli, ["--config", str(config), "sweep"])
    assert second.exit_code == 0, second.output
    assert "captured: 0 new link(s)" in second.output
    assert "checked: 2 due link(s) (failing 1, ok 1)" in second.output
    reports = tmp_path / "archives" / "reports"
    assert (reports / "latest.html").exists() and (reports / "latest.json").exists()
    assert (reports / "latest.md").exists()
    warcio_check(tmp_path)


def test_second_writer_exits_2_naming_the_holder(tmp_path: Path, server: TestServer) -> None:
    config = sweep_config(tmp_path, article_citing(tmp_path, [server.route("/sweep/locked", PAGE)]))
    with ArchiveLock(tmp_path / "archives", what="sweep"):
        result = subprocess.run([str(BIN / "archiver"), "--config", str(config), "--wait", "1", "sweep"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"pid {os.getpid()}" in result.stderr and "in use by another archiver run" in result.stderr


def test_kill_9_mid_sweep_loses_nothing_and_refetches_nothing(tmp_path: Path) -> None:
    site = TestServer().start()
    try:
        paths = [f"/k/{n}" for n in range(150)]
        urls = [site.route(path, PAGE + path.encode(), delay=0.03) for path in paths]
        config = sweep_config(tmp_path, article_citing(tmp_path, urls), "concurrency = 4\n")
        db = tmp_path / "archives" / "archive.db"
        proc = subprocess.Popen([str(BIN / "archiver"), "--config", str(config), "sweep", "--no-report"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and count_rows(db, CAPTURES) < 40:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = count_rows(db, CAPTURES)
        assert 40 <= before < len(urls)
        hits_before = {path: site.routes[path].hits for path in paths}

        done = subprocess.run([str(BIN / "archiver"), "--config", str(config), "sweep", "--no-report"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "repaired WARC files" in done.stdout
    finally:
        site.stop()
    conn = sqlite3.connect(db)
    per_link = Counter(row[0] for row in conn.execute("SELECT link_id FROM captures"))
    assert len(per_link) == len(urls)  # nothing lost
    assert set(per_link.values()) == {1}  # nothing captured twice
    committed = {row[0] for row in conn.execute(
        "SELECT url FROM captures WHERE id <= ?", (before,))}
    for path, url in zip(paths, urls, strict=True):
        if url in committed:
            assert site.routes[path].hits == hits_before[path]  # not fetched again
    warcio_check(tmp_path)


def test_fetch_workers_get_whole_hosts_in_balanced_shards() -> None:
    from urllib.parse import urlsplit

    from archiver.capture.fetchers import _shards

    sizes = {"big.example": 40, "mid.example": 25, **{f"h{n}.example": 5 for n in range(7)}}
    urls = [f"https://{host}/{i}" for host, count in sizes.items() for i in range(count)]
    shards = _shards(urls, 2)
    assert sorted(len(shard) for shard in shards) == [50, 50]
    hosts = [{urlsplit(url).hostname for url in shard} for shard in shards]
    assert not hosts[0] & hosts[1]  # a host (and its politeness) lives in one worker


def test_fetch_workers_fetch_every_url_once(tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    """Workers fork from the warmed-up fork server; every URL comes back once, from its host."""
    from archiver.config import load_config
    from archiver.capture.fetchers import fetch_in_processes, warm_up

    warm_up()
    sites = [make_server() for _ in range(3)]
    urls = [site.route(f"/w/{n}", PAGE) for site in sites for n in range(40)]
    config = load_config(sweep_config(tmp_path, article_citing(tmp_path, [])))
    temp = tmp_path / "tmp"
    temp.mkdir()
    results = list(fetch_in_processes(config.fetch, urls, temp, 2))
    assert sorted(r.url for r in results) == sorted(urls)
    assert {r.status for r in results} == {200}
    assert all(r.final and r.final.body_length == len(PAGE) for r in results)
    for result in results:
        result.cleanup()
    assert not [path for path in temp.rglob("*") if path.is_file()]  # bodies were temporary files, now gone


def test_fetch_workers_are_spawned_when_the_fork_server_cannot_start(
        tmp_path: Path, server: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from multiprocessing import forkserver

    from archiver.capture import fetchers
    from archiver.config import load_config

    def broken() -> None:
        raise OSError("no Unix sockets here")

    monkeypatch.setattr(fetchers, "_forkserver_failed", False)
    monkeypatch.setattr(forkserver, "ensure_running", broken)
    monkeypatch.setattr(fetchers, "worker_count", lambda urls: 2)
    fetchers.warm_up()  # logs, does not raise
    assert fetchers._context().get_start_method() == "spawn"
    urls = [server.route(f"/spawned/{n}", PAGE) for n in range(4)]
    config = load_config(sweep_config(tmp_path, article_citing(tmp_path, [])))
    results = list(fetchers.fetch_in_processes(config.fetch, urls, tmp_path, 2))
    assert sorted(r.url for r in results) == sorted(urls) and {r.status for r in results} == {200}
    for result in results:
        result.cleanup()
