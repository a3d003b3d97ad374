"""Verdicts stay right over a link's life, and a damaged stored copy costs one link, never a run.

Each case is a sequence a user runs (snapshot, check, edit, check again, sweep,
report), against a real local server, asserting what the user would see.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.archive import Archive
from archiver.check.run import check_links
from archiver.cli import cli
from archiver.collect.normalize import normalize_url
from archiver.config import CheckConfig, Config
from archiver.capture.snapshot import snapshot
from archiver.archive.store import Store

from ..server import Route, TestServer
from .invariants import assert_archive_consistent
from ..test_extract import corpus_html

ARTICLE = corpus_html("blog.python.org.html")


def html_route(body: str, status: int = 200, **options: Any) -> Route:
    return Route(status=status, body=body.encode("utf-8"), **options)


def one_word_edited(html: str) -> str:
    """``html`` with one word of its article text replaced ("enormous contributions")."""
    assert html.count("enormous") == 1
    return html.replace("enormous", "huge")


@pytest.fixture
def world(config: Config) -> Config:
    return replace(config, check=replace(CheckConfig(), confirm_checks=3, confirm_span=0.0))


def snap(config: Config, *urls: str) -> None:
    with Archive(config) as archive:
        snapshot(archive, urls)


def check(config: Config, url: str) -> dict[str, Any]:
    with Archive(config) as archive:
        link = archive.store.link(normalize_url(url))
        assert link is not None
        [outcome] = asyncio.run(check_links(archive, [link]))
        row = archive.store.link(normalize_url(url))
        assert row is not None
        return {"verdict": outcome.judgement.verdict.value, "reason": outcome.judgement.reason,
                "similarity": outcome.judgement.similarity, "state": row["state"], "detail": outcome.judgement.detail,
                "cited": row["cited_capture_id"], "latest": row["latest_capture_id"]}


NO_PUBLIC_ARCHIVES = "[external]\nlookup = false\nsubmit = false\n"  # tests have no internet


def cli_config(config: Config, tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[archive]\ndir = "{config.archive.dir}"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
        f'retries = 0\n{NO_PUBLIC_ARCHIVES}{extra}'
    )
    return str(path)


# -- 1. an identical check must not damage the cited copy's text -----------------------------------


def test_a_one_word_edit_after_an_identical_check_is_a_minor_edit(world: Config, server: TestServer,
                                                                  tmp_path: Path) -> None:
    url = server.route("/verdicts/identical-then-edit", ARTICLE)
    snap(world, url)
    first = check(world, url)
    assert (first["reason"], first["similarity"]) == ("unchanged", 1.0)
    # the unchanged page has no difference with its cited copy
    runner = CliRunner()
    diff = runner.invoke(cli, ["--config", cli_config(world, tmp_path), "diff", url])
    assert diff.exit_code == 0, diff.output
    assert diff.output.startswith("similarity 1.000"), diff.output
    assert "no difference in the main text" in diff.output
    server.routes["/verdicts/identical-then-edit"] = html_route(one_word_edited(ARTICLE))
    edited = check(world, url)
    assert (edited["verdict"], edited["reason"], edited["state"]) == ("ok", "minor-edit", "ok")
    assert 0.95 < edited["similarity"] < 1.0


# -- 2. moved means moved since the citation -----------------------------------------------------


def test_a_link_cited_through_a_301_is_not_moved_until_it_moves_again(world: Config, server: TestServer) -> None:
    landing = server.route("/verdicts/moved-before/landing", ARTICLE)
    url = server.route("/verdicts/moved-before/old", status=301, headers={"Location": landing})
    snap(world, url)
    for _ in range(2):  # the same 301 to the same page: nothing happened since it was cited
        same = check(world, url)
        assert (same["verdict"], same["reason"], same["state"]) == ("ok", "unchanged", "ok")
    again = server.route("/verdicts/moved-before/elsewhere", ARTICLE)
    server.routes["/verdicts/moved-before/old"] = Route(status=301, headers={"Location": again})
    moved = check(world, url)
    assert (moved["verdict"], moved["reason"], moved["state"]) == ("moved", "redirect", "moved")


def test_a_cited_301_that_now_lands_on_an_edited_page_is_a_minor_edit(world: Config, server: TestServer) -> None:
    landing = server.route("/verdicts/moved-before-edit/landing", ARTICLE)
    url = server.route("/verdicts/moved-before-edit/old", status=301, headers={"Location": landing})
    snap(world, url)
    server.routes["/verdicts/moved-before-edit/landing"] = html_route(one_word_edited(ARTICLE))
    edited = check(world, url)
    assert (edited["verdict"], edited["reason"], edited["state"]) == ("ok", "minor-edit", "ok")


# -- 4. "due" follows the current configuration ----------------------------------------------------


def next_second() -> None:
    """Wait for the clock's next second: captures are stamped to the second, and the archive
    invariants take two captures of one link in one second for one fetch stored twice."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def checked_urls(output: str) -> set[str]:
    """The URLs of the per-link lines of `archiver check`'s text output."""
    return {line.split()[1] for line in output.splitlines() if len(line.split()) > 2 and "://" in line.split()[1]}


def test_changing_the_recheck_intervals_applies_to_links_already_checked(world: Config, server: TestServer,
                                                                          tmp_path: Path) -> None:
    fine = server.route("/verdicts/due/fine", ARTICLE)
    gone = server.url("/verdicts/due/never-there")  # 404 when cited: failing
    runner = CliRunner()

    def run(recheck: str, retry: str, *args: str) -> Any:
        path = cli_config(world, tmp_path, f'[check]\nrecheck_after = "{recheck}"\nretry_failing_after = "{retry}"\n')
        result = runner.invoke(cli, ["--config", path, *args])
        assert result.exit_code == 0, result.output
        return result

    run("7d", "1d", "snapshot", fine, gone)
    assert "checked 0 link(s)" in run("7d", "1d", "check").output
    next_second()
    shorter = run("0s", "1d", "check").output  # the ok link is due at once under the new setting
    assert checked_urls(shorter) == {fine}, shorter
    retry = run("7d", "0s", "check").output  # and the failing one under a shorter retry
    assert checked_urls(retry) == {gone}, retry
    assert "checked 0 link(s)" in run("7d", "1d", "check").output
    assert_archive_consistent(world.archive.dir)


# -- 3. the sweep report's changes include checks made between sweeps ------------------------------


def test_a_link_that_died_in_a_check_between_sweeps_is_newly_dead_in_the_next_sweep_report(
        server: TestServer, tmp_path: Path) -> None:
    stays = server.route("/verdicts/between/stays", ARTICLE)
    dies = server.route("/verdicts/between/dies", ARTICLE)
    article = tmp_path / "article.txt"
    article.write_text(f"A story.\n\nIt cites {stays} and also {dies} for the figures.\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[archive]\ndir = "{tmp_path / "archives"}"\n[[sources]]\npath = "{article}"\n'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        '[check]\nconfirm_checks = 1\nconfirm_span = "0s"\n' + NO_PUBLIC_ARCHIVES
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config), "sweep"])
    assert first.exit_code == 0, first.output
    del server.routes["/verdicts/between/dies"]
    next_second()
    checked = runner.invoke(cli, ["--config", str(config), "check", dies])  # by hand, between the sweeps
    assert checked.exit_code == 0 and "dead" in checked.output, checked.output
    second = runner.invoke(cli, ["--config", str(config), "sweep"])
    assert second.exit_code == 0, second.output
    report = json.loads((tmp_path / "archives" / "reports" / "latest.json").read_text())
    changes = report["changes_since_previous_sweep"]
    assert [c["url"] for c in changes["newly_dead"]] == [dies], changes
    assert changes["newly_dead"][0]["before"] == "ok"
    markdown = (tmp_path / "archives" / "reports" / "latest.md").read_text()
    assert dies in markdown.split("## ", 2)[1]  # listed first, under the changes
    assert_archive_consistent(tmp_path / "archives")


# -- 7. a damaged stored copy costs one link, never a run ------------------------------------------


def cited_record(config: Config, url: str) -> tuple[Path, int, int]:
    with Archive(config) as archive:
        link = archive.store.link(normalize_url(url))
        assert link is not None
        capture = archive.store.capture(link["cited_capture_id"])
        assert capture is not None and capture["kind"] == "response"
        return archive.warc_dir / capture["warc"], int(capture["offset"]), int(capture["length"])


def flip_bytes(path: Path, at: int, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    for n in range(at, at + count):
        data[n] ^= 0x5A
    path.write_bytes(bytes(data))


def test_damaged_cited_copies_are_reported_and_recaptured_while_the_run_goes_on(
        world: Config, server: TestServer, tmp_path: Path) -> None:
    corrupt = server.route("/verdicts/damaged/corrupt", ARTICLE)
    truncated = server.route("/verdicts/damaged/truncated", ARTICLE.replace("</body>", "<!-- 2 --></body>"))
    healthy = server.route("/verdicts/damaged/healthy", ARTICLE.replace("</body>", "<!-- 3 --></body>"))
    for url in (corrupt, truncated, healthy):
        snap(world, url)  # one run each: one WARC file each
    path, offset, length = cited_record(world, corrupt)
    flip_bytes(path, offset + length // 2)
    path, offset, length = cited_record(world, truncated)
    with open(path, "r+b") as handle:
        handle.truncate(offset + length // 2)
    # the pages changed a little since: judging them needs the cited text
    for route, url in (("corrupt", corrupt), ("truncated", truncated), ("healthy", healthy)):
        server.routes[f"/verdicts/damaged/{route}"] = html_route(
            one_word_edited(server.routes[f"/verdicts/damaged/{route}"].body.decode()))
    runner = CliRunner()
    config_path = cli_config(world, tmp_path)
    diff = runner.invoke(cli, ["--config", config_path, "diff", corrupt])
    assert diff.exit_code != 0 and "Traceback" not in diff.output
    assert "damaged" in diff.output, diff.output

    run = runner.invoke(cli, ["--config", config_path, "check", corrupt, truncated, healthy])
    assert run.exit_code == 0, run.output
    lines = {line.split()[1]: line for line in run.output.splitlines() if "://" in line}
    assert set(lines) == {corrupt, truncated, healthy}, run.output
    assert "minor-edit" in lines[healthy]
    for url in (corrupt, truncated):
        assert "damaged" in lines[url] and "recaptured" in lines[url], lines[url]
        listing = runner.invoke(cli, ["--config", config_path, "links", url])
        assert "damaged" in listing.output, listing.output
        detail = json.loads(runner.invoke(cli, ["--config", config_path, "links", url, "--format", "json"]).output)
        assert [c["damaged"] is not None for c in detail["captures"]] == [True, False]
        assert [c["kind"] for c in detail["captures"]] == ["response", "response"]  # no revisit of damaged bytes

    # the new capture is the reference now: a further one-word edit is a minor edit of it
    for route in ("corrupt", "truncated"):
        body = server.routes[f"/verdicts/damaged/{route}"].body.decode()
        server.routes[f"/verdicts/damaged/{route}"] = html_route(body.replace("investigated", "examined"))
    for url in (corrupt, truncated):
        again = check(world, url)
        assert (again["verdict"], again["reason"], again["state"]) == ("ok", "minor-edit", "ok"), again
    diff = runner.invoke(cli, ["--config", config_path, "diff", corrupt])
    assert diff.exit_code == 0, diff.output


def test_a_sweep_with_a_damaged_cited_copy_reports_it_and_checks_every_link(server: TestServer,
                                                                            tmp_path: Path) -> None:
    damaged = server.route("/verdicts/sweep-damaged/a", ARTICLE)
    fine = server.route("/verdicts/sweep-damaged/b", ARTICLE.replace("</body>", "<!-- b --></body>"))
    article = tmp_path / "article.txt"
    article.write_text(f"A story.\n\nIt cites {damaged} and also {fine} for the figures.\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[archive]\ndir = "{tmp_path / "archives"}"\n[[sources]]\npath = "{article}"\n'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        '[check]\nrecheck_after = "0s"\n' + NO_PUBLIC_ARCHIVES
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "sweep", "--no-report"]).exit_code == 0
    with Store.open(tmp_path / "archives") as store:
        link = store.link(normalize_url(damaged))
        assert link is not None
        capture = store.capture(link["cited_capture_id"])
        assert capture is not None
    flip_bytes(tmp_path / "archives" / "warcs" / capture["warc"], capture["offset"] + capture["length"] // 2)
    swept = runner.invoke(cli, ["--config", str(config), "sweep", "--no-report"])
    assert swept.exit_code == 0, swept.output
    assert "checked: 2 due link(s) (ok 2)" in swept.output, swept.output
    problems = [line for line in swept.output.splitlines() if line.strip().startswith("problem:")]
    assert len(problems) == 1 and damaged in problems[0] and "damaged" in problems[0], swept.output
    with Store.open(tmp_path / "archives") as store:
        row = store.link(normalize_url(damaged))
        assert row is not None and (row["state"], row["reason"]) == ("ok", "recaptured")
        assert row["cited_capture_id"] != capture["id"]
