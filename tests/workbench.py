"""`archiver serve` in a subprocess for tests, and Debian's chromium through Playwright."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(config: Path, port: int | None = None, replay_port: int | None = None,
            extra: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Run `archiver serve`; yields (workbench URL, replay URL), both ending in "/"."""
    port = port or free_port()
    replay_port = replay_port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", "--config", str(config), "serve", "--port", str(port),
         "--replay-port", str(replay_port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        assert process.stdout is not None
        while True:
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = process.stdout.readline() if ready else ""
            if line.startswith("workbench:"):
                break
            if not ready or process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {line}{process.stderr.read() if process.stderr else ''}")
        yield f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{replay_port}/"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright; the test is skipped, saying why, where either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM} (setup.sh installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
