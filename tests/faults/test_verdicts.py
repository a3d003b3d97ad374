"""Verdicts stay right over a link's life, and a damaged stored copy costs one link, never a run.

Each case is a sequence a user runs (snapshot, check, edit, check again, sweep,
report), against a real local server, asserting what the user would see.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.archive import Archive
from archiver.check import check_links
from archiver.cli import cli
from archiver.collect.normalize import normalize_url
from archiver.config import CheckConfig, Config
from archiver.snapshot import snapshot

from ..server import Route, TestServer
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


def cli_config(config: Config, tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[archive]\ndir = "{config.archive.dir}"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
        f'retries = 0\n{extra}'
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
