"""Errors a user sees: a message naming the problem and the documented exit code, never a traceback.

Exit codes (SPEC §3, README "Exit codes"): 0 done, 1 unexpected error, 2 usage /
configuration / unusable archive, 3 ``--fail-on`` matched, 4 nothing succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archiver.cli import cli
from archiver.archive.lock import ArchiveLock

from ..server import TestServer

BASE_CONFIG = """
[archive]
dir = "archive"
[fetch]
allow_private_networks = true
per_host_delay = "0s"
retries = 0
connect_timeout = "2s"
read_timeout = "2s"
total_timeout = "5s"
"""


def write_config(tmp_path: Path, extra: str = "", *, raw: bytes | None = None) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(raw if raw is not None else (BASE_CONFIG + extra).encode("utf-8"))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_fails_cleanly(result: Result, code: int, *words: str) -> None:
    """Exit ``code``, a message on stderr naming the problem, no traceback anywhere."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception that escaped
    assert "Traceback" not in result.output
    assert "unexpected error" not in result.output
    for word in words:
        assert word in result.stderr, (word, result.stderr)


# --- item 13: configuration and arguments -------------------------------------


def test_config_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    assert_fails_cleanly(run("--config", str(tmp_path / "conf.d"), "links"), 2, "conf.d", "is a directory")


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    config = write_config(tmp_path, raw='[fetch]\nuser_agent = "caf\xe9"\n'.encode("latin-1"))
    assert_fails_cleanly(run("--config", str(config), "links"), 2, "config.toml", "not UTF-8")


def test_non_ascii_user_agent_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'user_agent = "archiver (café)"\n')
    assert_fails_cleanly(run("--config", str(config), "snapshot", "http://127.0.0.1:9/"), 2,
                         "[fetch] user_agent", "ASCII")


def test_user_agent_with_a_line_break_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'user_agent = "archiver\\r\\nX-Injected: 1"\n')
    assert_fails_cleanly(run("--config", str(config), "links"), 2, "[fetch] user_agent")


def test_archive_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "archive").write_text("not a directory")
    config = write_config(tmp_path)
    for args in (["snapshot", "http://127.0.0.1:9/"], ["links"], ["report"]):
        assert_fails_cleanly(run("--config", str(config), *args), 2, "[archive] dir", "is a file")


def test_archive_dir_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file")
    config = write_config(tmp_path).read_text().replace('dir = "archive"', 'dir = "plain/archive"')
    path = write_config(tmp_path, raw=config.encode())
    assert_fails_cleanly(run("--config", str(path), "check"), 2, "[archive] dir", "is a file")


def test_archive_dir_with_a_nul_byte_is_refused_at_load(tmp_path: Path) -> None:
    config = write_config(tmp_path).read_text().replace('dir = "archive"', 'dir = "arch\\u0000ive"')
    path = write_config(tmp_path, raw=config.encode())
    assert_fails_cleanly(run("--config", str(path), "snapshot", "http://127.0.0.1:9/"), 2, "[archive] dir")


def test_report_into_a_missing_directory(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    assert run("--config", str(config), "snapshot", server.route("/cli-errors/ok", "<p>hi</p>")).exit_code == 0
    target = tmp_path / "no-such-dir" / "report.md"
    assert_fails_cleanly(run("--config", str(config), "report", "-o", str(target)), 2, "no-such-dir", "--output")
    assert not target.parent.exists()


def test_report_since_beyond_any_date(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert_fails_cleanly(run("--config", str(config), "report", "--since", "99999999999d"), 2, "--since")
    assert_fails_cleanly(run("--config", str(config), "report", "--since", "9" * 400 + "d"), 2, "--since")


def test_export_since_beyond_any_date(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    run("--config", str(config), "snapshot", "http://127.0.0.1:9/")  # creates the archive
    result = run("--config", str(config), "export", "--wacz", str(tmp_path / "out.wacz"), "--since", "99999999999d")
    assert_fails_cleanly(result, 2, "--since")


@pytest.mark.parametrize(("key", "value"), [
    ("recheck_after", '"99999999999d"'),  # overflowed every date computed from it
    ("retry_failing_after", '"' + "9" * 400 + 's"'),  # a float of inf
])
def test_duration_beyond_reason_is_refused_at_load(tmp_path: Path, key: str, value: str) -> None:
    config = write_config(tmp_path, f"[check]\n{key} = {value}\n")
    assert_fails_cleanly(run("--config", str(config), "links"), 2, f"[check] {key}", "100 years")


def test_size_beyond_reason_is_refused_at_load(tmp_path: Path) -> None:
    huge = "9" * 400 + "GB"  # a float of inf
    config = write_config(tmp_path).read_text().replace('dir = "archive"', f'dir = "archive"\nwarc_max_size = "{huge}"')
    path = write_config(tmp_path, raw=config.encode())
    assert_fails_cleanly(run("--config", str(path), "links"), 2, "[archive] warc_max_size")


def test_retries_beyond_the_maximum_is_refused_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path).read_text().replace("retries = 0", "retries = 1000")
    path = write_config(tmp_path, raw=config.encode())
    assert_fails_cleanly(run("--config", str(path), "links"), 2, "[fetch] retries", "0 to 10")


@pytest.mark.parametrize("wait", ["nan", "inf", "-1"])
def test_wait_must_be_a_finite_number_of_seconds(tmp_path: Path, wait: str) -> None:
    """Held lock + ``--wait nan`` used to wait forever (nan never passes a deadline): a real process, bounded."""
    config = write_config(tmp_path)
    (tmp_path / "archive").mkdir()
    started = time.monotonic()
    with ArchiveLock(tmp_path / "archive", wait=0):
        try:
            done = subprocess.run([sys.executable, "-m", "archiver", "--config", str(config), f"--wait={wait}",
                                   "check"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        except subprocess.TimeoutExpired:
            pytest.fail(f"--wait {wait} kept waiting for the lock")
    assert done.returncode == 2, done.stderr
    assert "--wait" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert time.monotonic() - started < 20


# --- item 13: a damaged database -------------------------------------------------


def damage(db: Path) -> None:
    """Overwrite pages past the header with garbage, as a bad disk or a torn copy would."""
    with sqlite3.connect(db) as conn:  # make sure there are several pages
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as handle:
        for page in range(1, os.path.getsize(db) // page_size):
            handle.seek(page * page_size)
            handle.write(b"\xa5" * page_size)


@pytest.mark.parametrize("args", [["links"], ["report"], ["check", "--all"], ["snapshot", "http://127.0.0.1:9/x"]])
def test_damaged_database_is_named_with_what_to_do(tmp_path: Path, args: list[str]) -> None:
    config = write_config(tmp_path)
    run("--config", str(config), "snapshot", "http://127.0.0.1:9/")  # creates the archive
    db = tmp_path / "archive" / "archive.db"
    damage(db)
    result = run("--config", str(config), *args)
    assert_fails_cleanly(result, 2, str(db), "damaged", ".recover")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "archive.db").write_bytes(b"this is not SQLite at all" * 100)
    assert_fails_cleanly(run("--config", str(config), "links"), 2, "archive.db", "damaged")


# --- item 14: exit codes when nothing succeeded ----------------------------------


def test_snapshot_where_every_capture_failed_exits_4(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    gone = server.route("/cli-errors/gone", status=404, body=b"<h1>gone</h1>")
    result = run("--config", str(config), "snapshot", "http://127.0.0.1:9/", gone)
    assert_fails_cleanly(result, 4, "2 of 2 capture(s) failed")
    assert "FAILED" in result.stdout and "404" in result.stdout  # each failure still has its line


def test_snapshot_with_some_failures_exits_0_and_counts_them(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    ok = server.route("/cli-errors/fine", "<p>fine</p>")
    result = run("--config", str(config), "snapshot", ok, "http://127.0.0.1:9/")
    assert result.exit_code == 0, result.output
    assert "1 of 2 capture(s) failed" in result.stderr


def test_snapshot_json_where_every_capture_failed_exits_4(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run("--config", str(config), "snapshot", "--format", "json", "http://127.0.0.1:9/")
    assert result.exit_code == 4 and '"error": "refused"' in result.stdout


def test_collect_of_a_404_exits_4(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    gone = server.route("/cli-errors/article-gone", status=404, body=b"<h1>gone</h1>")
    result = run("--config", str(config), "collect", gone)
    assert_fails_cleanly(result, 4, "HTTP 404", "nothing was collected")


def test_collect_with_one_good_source_exits_0(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    gone = server.route("/cli-errors/article-gone-2", status=404, body=b"<h1>gone</h1>")
    article = tmp_path / "article.txt"
    article.write_text("See https://example.com/cited for the figures.\n")
    result = run("--config", str(config), "collect", str(article), gone)
    assert result.exit_code == 0, result.output
    assert "HTTP 404" in result.stderr and "1 citation(s)" in result.stdout


def test_help_documents_the_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for line in ("0  done", "1  unexpected error", "2  bad argument", "3  check --fail-on", "4  nothing succeeded"):
        assert line in result.output


def test_a_scheduled_sweep_on_a_damaged_database_logs_the_problem_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from archiver.config import load_config
    from archiver.schedule import run_scheduled_sweep

    path = write_config(tmp_path)
    run("--config", str(path), "snapshot", "http://127.0.0.1:9/")  # creates the archive
    db = tmp_path / "archive" / "archive.db"
    damage(db)
    caplog.set_level(logging.INFO, logger="archiver.schedule")
    run_scheduled_sweep(load_config(path), None)  # returns: the schedule goes on
    failed = [r for r in caplog.records if "scheduled sweep failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None  # no traceback in the daemon's log
    assert str(db) in failed[0].getMessage() and "damaged" in failed[0].getMessage()


# --- a malformed punycode host: one failed link, not a crashed run ---------------


def test_snapshot_of_a_malformed_punycode_host_is_a_failed_capture(tmp_path: Path, server: TestServer) -> None:
    config = write_config(tmp_path)
    ok = server.route("/cli-errors/beside-bad-idna", "<p>fine</p>")
    result = run("--config", str(config), "snapshot", "http://xn--/", ok)
    assert result.exit_code == 0, result.output  # one of two failed
    assert "FAILED  http://xn--/  invalid-url" in result.stdout and "200" in result.stdout
    assert "unexpected error" not in result.output


def test_a_page_citing_a_malformed_punycode_host_costs_one_link_in_a_sweep(tmp_path: Path, server: TestServer) -> None:
    ok = server.route("/cli-errors/cited-beside-bad-idna", "<p>fine</p>")
    (tmp_path / "article.txt").write_text(f"See http://xn--zz-/x and {ok} for details.\n")
    config = write_config(tmp_path, '[[sources]]\npath = "article.txt"\n')
    result = run("--config", str(config), "sweep", "--no-report")
    assert result.exit_code == 0, result.output
    assert "captured: 2 new link(s)" in result.stdout and "ok 1" in result.stdout
    links = run("--config", str(config), "links", "--format", "json")
    states = {row["url"]: row["state"] for row in json.loads(links.stdout)}
    assert states[ok] == "ok" and states["http://xn--zz-/x"] != "pending"


def test_report_to_dash_goes_to_stdout_not_a_file_named_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    run("--config", str(config), "snapshot", "http://127.0.0.1:9/")  # creates the archive
    monkeypatch.chdir(tmp_path)
    result = run("--config", str(config), "report", "--format", "json", "-o", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["total"] == 1
    assert not (tmp_path / "-").exists()
