"""A full disk (ENOSPC) costs the URL that did not fit, never the run, and loses or duplicates nothing.

The archive lives on a small tmpfs the test mounts (root only; skipped with the
reason otherwise). One page is bigger than the space left: that URL fails with
"disk full at <path>" and stays ``pending`` (tried again next time), the other
pages are stored, and the next sweep works.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..server import TestServer
from .crashkit import ARCHIVER, env, page, serve_pages, sweep
from .invariants import assert_archive_consistent

DISK = "2m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, and only root can mount one")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def config_on(disk: Path, workdir: Path, urls: list[str]) -> Path:
    (workdir / "cites.txt").write_text("Sources:\n" + "\n".join(f"- see {u} here" for u in urls) + "\n")
    path = workdir / "config.toml"
    path.write_text(
        f'[archive]\ndir = "{disk / "archives"}"\n'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        'connect_timeout = "5s"\nread_timeout = "5s"\ntotal_timeout = "20s"\nper_host_concurrency = 4\n'
        '[report]\nformats = ["json"]\n'
        '[[sources]]\npath = "cites.txt"\n'
    )
    return path


def states(disk: Path) -> dict[str, tuple[str, int]]:
    """URL -> (state, captures)."""
    conn = sqlite3.connect(f"file:{disk / 'archives' / 'archive.db'}?mode=ro", uri=True)
    try:
        return {url: (state, n) for url, state, n in conn.execute(
            "SELECT l.url, l.state, (SELECT count(*) FROM captures c WHERE c.link_id = l.id) FROM links l")}
    finally:
        conn.close()


@pytest.mark.parametrize(("small_pages", "big_body", "when"), [
    (8, page("big-fetched", 3_000_000), "fetched"),  # does not fit even as the body being fetched
    pytest.param(8, os.urandom(1_300_000), "written",  # fits as the fetched body, not again in the WARC
                 marks=pytest.mark.slow),
    pytest.param(110, page("big-workers", 3_000_000), "fetched by a worker process",  # a sweep's batch path
                 marks=pytest.mark.slow),
])
def test_a_body_too_big_for_the_disk_fails_that_url_only(
        small_disk: Path, tmp_path: Path, make_server: Callable[[], TestServer],
        small_pages: int, big_body: bytes, when: str) -> None:
    srv = make_server()
    small = serve_pages([srv], small_pages, 900, f"full-{small_pages}")
    big = srv.route("/full/big", body=big_body, content_type="application/octet-stream", delay=1.5)
    config = config_on(small_disk, tmp_path, [*small, big])

    first = sweep(config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert f"disk full at {small_disk}" in first.stderr, first.stderr
    assert f"{big}: disk full at {small_disk}" in first.stdout, first.stdout
    found = states(small_disk)
    assert found[big] == ("pending", 0), f"the big page ({when}) should stay pending, uncaptured"
    assert {found[u] for u in small} == {("ok", 1)}
    assert shutil.disk_usage(small_disk).free > len(big_body) // 3, "the body that did not fit still takes space"
    assert_archive_consistent(small_disk / "archives", captures_per_link=1)

    again = sweep(config)  # the next sweep works: the big page fails alone again
    assert again.returncode == 0, again.stdout + again.stderr
    assert states(small_disk) == found

    srv.route("/full/big", body=page("big-now-small", 2000))  # room for it now
    last = sweep(config)
    assert last.returncode == 0, last.stdout + last.stderr
    assert states(small_disk)[big] == ("ok", 1)
    assert_archive_consistent(small_disk / "archives", captures_per_link=1)


@pytest.mark.slow
def test_a_page_grown_too_big_for_the_disk_costs_its_check_only(
        small_disk: Path, tmp_path: Path, make_server: Callable[[], TestServer]) -> None:
    srv = make_server()
    urls = serve_pages([srv], 4, 900, "full-check")
    config = config_on(small_disk, tmp_path, urls)
    assert sweep(config).returncode == 0
    before = states(small_disk)
    assert {before[u] for u in urls} == {("ok", 1)}
    srv.route("/full-check/0/0", body=page("full-check-grown", 3_000_000))  # the page grew past the space left
    time.sleep(1.1)  # captures are timed to the second; the invariants tell fetches apart by their time

    done = subprocess.run([*ARCHIVER, "--config", str(config), "check", *urls], capture_output=True, text=True,
                          env=env(), cwd=tmp_path, timeout=120)
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
    assert f"disk full at {small_disk}" in done.stderr + done.stdout, done.stdout + done.stderr
    after = states(small_disk)
    assert after[urls[0]] == before[urls[0]], "the link's state and captures must not change"
    assert all(after[u] == ("ok", 2) for u in urls[1:]), "the other links are checked and their captures stored"
    assert_archive_consistent(small_disk / "archives")
