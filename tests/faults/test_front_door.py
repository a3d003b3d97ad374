"""The front door: what a first-time user meets (issue: nothing a first-time user can do breaks the archive).

- the repository is self-contained: nothing in it reads a folder beside the clone;
- the README's main command sweeps the example article shipped in the repository;
- a sweep with no sources says so and how to add one; an offline machine is named as such;
- reports are kept to ``[report] keep``; one local file is one source however it is named.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from archiver.cli import cli
from archiver.report import write_reports
from archiver.archive.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_in_the_repository_reads_outside_it() -> None:
    """A user's clone has no shared folder beside it: tests, scripts, examples and the README must not need it."""
    pattern = re.compile(r"\.\./shared|parents\[\d\]\s*/\s*[\"']shared[\"']|[\"']shared[\"']\s*/\s*[\"']corpus")
    offenders = []
    for path in [ROOT / "README.md", ROOT / "config.toml", *ROOT.glob("scripts/**/*"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("archiver/**/*.py"), *ROOT.glob("examples/**/*")]:
        if path.is_file() and path != Path(__file__) and pattern.search(path.read_text(errors="replace")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_default_config_sweeps_the_example_article_shipped_in_the_repository() -> None:
    config = (ROOT / "config.toml").read_text()
    paths = re.findall(r'^path\s*=\s*"([^"]+)"', config, re.M)
    assert paths, "config.toml has an example [[sources]] entry"
    assert all((ROOT / p).is_file() for p in paths)
    text = (ROOT / "examples" / "article-with-comments.txt").read_text()
    assert text.count("https://") == 3


def _sweep(tmp_path: Path, config_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    env = {**os.environ, "ARCHIVER_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "archiver", *args, "sweep", "--no-report"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_sweep_without_sources_says_there_is_nothing_to_collect_and_how_to_add_one(tmp_path: Path) -> None:
    done = _sweep(tmp_path, '[archive]\ndir = "a"\n', "-q")
    assert done.returncode == 0
    assert "nothing to collect" in done.stderr and "[[sources]]" in done.stderr  # even with -q: cron mails stderr
    assert "Traceback" not in done.stderr


def test_sweep_that_reaches_no_site_says_the_machine_looks_offline(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Sources:\nhttps://no-such-host.invalid/a\nhttps://another.invalid/b\n")
    done = _sweep(tmp_path, f'[archive]\ndir = "a"\n[[sources]]\npath = "{article.name}"\n')
    assert done.returncode == 0, done.stderr
    assert "no site could be reached (dns 2)" in done.stderr
    assert "offline" in done.stderr
    assert "failing 2" in done.stdout


def test_sweep_that_reaches_a_site_does_not_claim_offline(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/front-door/page", body=b"<html><body><p>Here.</p></body></html>")
    article = tmp_path / "article.txt"
    article.write_text(f"Sources:\n{url}\nhttps://no-such-host.invalid/a\n")
    config = f'[archive]\ndir = "a"\n[fetch]\nallow_private_networks = true\n[[sources]]\npath = "{article.name}"\n'
    done = _sweep(tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert "offline" not in done.stderr


def test_reports_are_kept_to_the_configured_number(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    reports = tmp_path / "reports"
    start = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    for day in range(5):
        write_reports(store, reports, ["json", "md"], now=start + timedelta(days=day), keep=2)
    store.close()
    names = sorted(p.name for p in reports.iterdir())
    assert names == [
        "latest.json", "latest.md",
        "report-20261104T030000Z.json", "report-20261104T030000Z.md",
        "report-20261105T030000Z.json", "report-20261105T030000Z.md",
    ]


def test_one_local_file_is_one_source_by_relative_and_absolute_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "articles").mkdir()
    article = tmp_path / "articles" / "a.txt"
    article.write_text("See https://example.com/cited for the figures.\n")
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "a"\n')
    monkeypatch.chdir(tmp_path)
    for spelling in ("articles/a.txt", str(article), "./articles/../articles/a.txt"):
        result = CliRunner().invoke(cli, ["--config", str(config), "collect", spelling])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "a" / "archive.db") as db:
        assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM citations").fetchone()[0] == 1
