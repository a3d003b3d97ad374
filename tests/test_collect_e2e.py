"""`archiver collect` end to end: real pages and feeds served by the local test server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.collect import normalize_url

from .conftest import SAMPLE_ARTICLE
from .server import TestServer
from .test_collect_html import CASES, CORPUS, NOISE, PageCase


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[archive]\ndir = "archives"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
                    'retries = 0\n')
    return path


def collect(tmp_path: Path, *sources: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path)), "collect", "--format", "json", *sources])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sample_article_gives_three_comment_citations(tmp_path: Path) -> None:
    found = collect(tmp_path, str(SAMPLE_ARTICLE))
    assert [(c["where"], c["comment"], c["url"]) for c in found] == [
        ("comment", 1, "https://tass.com/defense/1399581"),
        ("comment", 4, "https://www.reuters.com/world/europe/kremlin-denies-putin-told-macron-there-will-be-no-new-"
                       "manoeuvres-near-ukraine-2022-02-08/"),
        ("comment", 5, "https://www.thedrive.com/the-war-zone/44184/three-nato-carrier-groups-are-exercising-together-"
                       "in-the-mediterranean"),
    ]
    assert all(c["context"] and c["state"] == "pending" for c in found)
    again = collect(tmp_path, str(SAMPLE_ARTICLE))  # idempotent
    assert len(again) == 3
    links = CliRunner().invoke(cli, ["--config", str(_config(tmp_path)), "links", "--format", "json"])
    rows = json.loads(links.output)
    assert len(rows) == 3 and all(len(row["citations"]) == 1 for row in rows)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.file)
def test_served_page_comment_links_are_attributed(tmp_path: Path, server: TestServer, case: PageCase) -> None:
    url = server.route(f"/e2e/{case.file}", (CORPUS / case.file).read_bytes())
    found = collect(tmp_path, url)
    in_comments = {(c["comment"], c["url"]) for c in found if c["where"] == "comment"}
    for number, links in case.comment_links.items():
        for link in links:  # a few expected URLs are long: the table gives their beginning
            assert any(n == number and got.startswith(normalize_url(link)) for n, got in in_comments), (number, link)
    assert {n for n, _ in in_comments} <= set(case.comment_links)  # no citation invented in other comments
    assert not [c["url"] for c in found if NOISE.search(c["url_as_written"])]
    assert url not in {c["url"] for c in found}  # the page's own URL is not a citation


def test_feed_source_yields_its_articles_citations(tmp_path: Path, server: TestServer) -> None:
    first = server.route("/e2e/feed/a.html", (CORPUS / "netzpolitik.org.abmahnungen.html").read_bytes())
    second = server.route("/e2e/feed/b.html", (CORPUS / "spreeblick.com.habeck.html").read_bytes())
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{server.base}</link>
      <description>d</description>
      <item><title>A</title><link>{first}</link></item>
      <item><title>B</title><link>{second}</link></item>
    </channel></rss>"""
    feed = server.route("/e2e/feed.xml", rss, content_type="application/rss+xml")
    found = collect(tmp_path, feed)
    assert {c["source"] for c in found} == {first, second}
    assert ("comment", 1) in {(c["where"], c["comment"]) for c in found if c["source"] == second}


def test_unfetchable_article_is_a_clear_message(tmp_path: Path, server: TestServer) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path)), "collect", server.url("/e2e/missing")])
    assert result.exit_code == 4  # nothing was collected
    assert "could not fetch" in result.output and "HTTP 404" in result.output
