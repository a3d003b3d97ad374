"""A hanging URL costs one timeout, not one per retry; long runs say what they are doing at -v."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from archiver.config import Config, FetchConfig
from archiver.capture.fetch import Fetcher
from archiver.models import FetchResult
from archiver.capture.politeness import RetryPolicy
from archiver.progress import StageProgress

from ..server import TestServer

FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A socket that accepts connections (kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


def fetch(config: FetchConfig, url: str, tmp_path: Path) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(config, temp_dir=tmp_path / "tmp", retry_policy=FAST_RETRIES) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


def test_a_read_timeout_is_not_retried(config: Config, blackhole: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = fetch(replace(config.fetch, retries=2, read_timeout=0.5, total_timeout=30.0), blackhole, tmp_path)
    elapsed = time.monotonic() - started
    assert result.error == "timeout" and result.attempts == 1
    assert elapsed < 1.3, elapsed  # three tries would be 1.5 s


def test_retries_share_one_total_timeout(config: Config, server: TestServer, tmp_path: Path) -> None:
    """A server that answers 503 slowly: retries stop when total_timeout is spent, not after `retries`."""

    def slow_503(req: BaseHTTPRequestHandler) -> None:
        time.sleep(0.4)
        req.send_response(503)
        req.send_header("Content-Length", "0")
        req.end_headers()

    url = server.route("/timeouts/slow-503", handler=slow_503)
    started = time.monotonic()
    result = fetch(replace(config.fetch, retries=8, read_timeout=5.0, total_timeout=1.0), url, tmp_path)
    elapsed = time.monotonic() - started
    assert 2 <= result.attempts <= 3, result.attempts
    # the last answer, or the last attempt cut short by what was left of total_timeout
    assert result.status == 503 or (result.error == "timeout" and "total_timeout" in result.detail), result
    assert elapsed < 1.6, elapsed  # nine tries would be 3.6 s


def test_backoff_of_a_thousand_retries_does_not_overflow() -> None:
    result = FetchResult(url="http://example.com/", error="connection")
    policy = RetryPolicy()
    for attempt in (1024, 1100, 5000, 10**6):
        wait = policy.delay(attempt, result)
        assert wait is not None and policy.max_delay / 2 <= wait <= policy.max_delay


def test_progress_lines_without_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="archiver.progress")
    with StageProgress(every=0.1) as progress:
        progress("capturing", 4)
        progress("", 3)
        time.sleep(0.35)  # the fourth hangs: lines keep coming
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.startswith("capturing: 3/4 done (75%)") for line in lines) >= 2, lines
    assert lines[-1].startswith("capturing: 3/4 done in"), lines


def test_no_progress_lines_without_verbose(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="archiver.progress")
    with StageProgress(every=0.05) as progress:
        progress("checking", 2)
        time.sleep(0.15)
    assert not caplog.records


@pytest.mark.slow
def test_snapshot_of_a_hanging_url_costs_one_timeout_and_says_so(blackhole: str, tmp_path: Path) -> None:
    """The user's view: `archiver -v snapshot` from cron (stderr not a terminal), retries = 2."""
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "archive"\n[fetch]\nallow_private_networks = true\nretries = 2\n'
                      'read_timeout = "6s"\ntotal_timeout = "60s"\n')
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "archiver", "-v", "--config", str(config), "snapshot", blackhole],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 4, done.stderr  # every capture failed
    assert "timeout" in done.stdout
    assert "capturing: 0/1 done (0%), 5s" in done.stderr, done.stderr  # said while it hung
    assert "capturing: 1/1 done in" in done.stderr
    assert elapsed < 12, elapsed  # before: 3 x 6 s


def test_sweep_at_verbose_says_what_each_stage_did_without_a_terminal(server: TestServer, tmp_path: Path) -> None:
    cited = server.route("/timeouts/cited", "<html><body><p>cited words</p></body></html>")
    (tmp_path / "article.txt").write_text(f"As reported at {cited} last week.\n")
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "archive"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
                      '[[sources]]\npath = "article.txt"\n')
    done = subprocess.run([sys.executable, "-m", "archiver", "-v", "--config", str(config), "sweep", "--no-report"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "collecting: 1/1 done in" in done.stderr, done.stderr
    assert "capturing: 1/1 done in" in done.stderr, done.stderr
