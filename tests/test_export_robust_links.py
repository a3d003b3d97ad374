"""Robust Links: `archiver links --format robust-links` prints one snippet per citation that parses
as HTML, escapes what came from pages, and points at a stored copy that replays."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.archive import Archive
from archiver.cli import cli
from archiver.collect.normalize import normalize_url
from archiver.config import Config, ServeConfig
from archiver.export.robust_links import cite_section, link_robust_links
from archiver.capture.snapshot import snapshot
from archiver.archive.store import CitationInput, Store

from .pywb_replay import PywbReplay
from .server import TestServer

PAGE = "<html><head><title>Data</title></head><body><p>" + "The figures for 2026. " * 30 + "</p></body></html>"
TRICKY = 'the "data" <script>alert(1)</script> & more'


class Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text = ""
        self.other_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), ""
        else:
            self.other_tags.append(tag)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.found.append((self._open, self._text))
            self._open = None


@pytest.fixture
def cited(config: Config, make_server: Any) -> tuple[Config, dict[str, str]]:
    site: TestServer = make_server()
    urls = {"data": site.route("/data", PAGE), "never": site.route("/never", "x")}
    public = replace(config, serve=replace(ServeConfig(), public_url="https://review.example.org/",
                                           replay_url="https://replay.example.org/"))
    with Archive(public) as archive:
        snapshot(archive, [urls["data"]])
        archive.store.add_citations("https://news.example/a1", [
            CitationInput(url=normalize_url(urls["data"]), url_as_written=urls["data"], source="https://news.example/a1",
                          place="body", anchor=TRICKY),
            CitationInput(url=normalize_url(urls["never"]), url_as_written=urls["never"],
                          source="https://news.example/a1", place="comment", comment=2, anchor="never captured")])
        archive.store.add_citations("https://news.example/a2", [
            CitationInput(url=normalize_url(urls["data"]), url_as_written=urls["data"], source="https://news.example/a2",
                          place="comment", comment=1)])
    return public, urls


def _run(config: Config, tmp_path: Path, *args: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(f'[archive]\ndir = "{config.archive.dir}"\n[serve]\npublic_url = "{config.serve.public_url}"\n'
                    f'replay_url = "{config.serve.replay_url}"\n[external]\nlookup = false\n')
    return CliRunner().invoke(cli, ["--config", str(path), "links", *args])


@pytest.mark.slow
def test_one_snippet_per_citation_parses_and_matches_the_stored_copy(
        cited: tuple[Config, dict[str, str]], tmp_path: Path, pywb: PywbReplay) -> None:
    config, urls = cited
    result = _run(config, tmp_path, "--format", "robust-links")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2  # two citations of the captured page; the page never captured has none
    parser = Anchors()
    for line in lines:
        parser.feed(line)
    assert parser.other_tags == []  # the link text's <script> stayed text
    url = normalize_url(urls["data"])
    with Store.open(config.archive.dir) as store:
        link = store.link(url)
        assert link is not None
        [record] = [r for r in store.records(link["cited_capture_id"]) if r["record_type"] == "response"]
    stamp = "".join(ch for ch in record["date"] if ch.isdigit())[:14]
    texts = []
    for attrs, text in parser.found:
        assert attrs["href"] == attrs["data-originalurl"] == url
        assert attrs["data-versionurl"] == f"https://replay.example.org/archive/{stamp}/{url}"
        assert attrs["data-versiondate"] == record["date"][:10]
        texts.append(text)
    assert sorted(texts) == sorted([TRICKY, url])
    assert "1 link(s) have no stored copy" in result.stderr
    # the version URL's path replays the cited copy in pywb over the archive
    coll = pywb.add(config.archive.dir / "warcs")
    got = pywb.replay(coll, url, stamp)
    assert got.status == 200 and got.body == PAGE.encode()


def test_state_filter_and_one_url(cited: tuple[Config, dict[str, str]], tmp_path: Path) -> None:
    config, urls = cited
    assert _run(config, tmp_path, "--format", "robust-links", "--state", "dead").stdout.strip() == ""
    one = _run(config, tmp_path, "--format", "robust-links", urls["data"])
    assert one.exit_code == 0 and one.stdout.count("<a href=") == 2


def test_public_memento_when_asked_for_and_known(cited: tuple[Config, dict[str, str]], tmp_path: Path) -> None:
    config, urls = cited
    url = normalize_url(urls["data"])
    with Store.open(config.archive.dir) as store:
        link = store.link(url)
        assert link is not None
        for moment, memento in (("2020-01-01T00:00:00Z", "https://web.archive.org/web/20200101000000/" + url),
                                (link["first_seen"], "https://archive.today/20261130/" + url)):
            store.add_alternative({"link_id": link["id"], "archive": memento.split("/2")[0] + "/",
                                   "state": "dead", "looked_up_at": moment, "asked_for": moment, "outcome": "found",
                                   "memento_url": memento, "memento_datetime": moment})
        snippets = link_robust_links(store, config.serve, link["id"], prefer="public")
        ours = link_robust_links(store, config.serve, link["id"])
    assert {s.version_url for s in snippets} == {"https://archive.today/20261130/" + url}  # closest to the copy
    assert all(s.version_url.startswith("https://replay.example.org/archive/") for s in ours)
    section = cite_section(snippets)
    assert 'class="copy"' in section and "&lt;a href=" in section and "<script>" not in section


@pytest.mark.slow
def test_the_workbench_link_page_shows_the_snippet_with_a_copy_button(
        cited: tuple[Config, dict[str, str]], tmp_path: Path) -> None:
    import html
    import urllib.request

    from .workbench import serving

    config, urls = cited
    path = tmp_path / "serve.toml"
    path.write_text(f'[archive]\ndir = "{config.archive.dir}"\n[external]\nlookup = false\n')
    url = normalize_url(urls["data"])
    with Store.open(config.archive.dir) as store:
        link = store.link(url)
        assert link is not None
        store.add_alternative({"link_id": link["id"], "archive": "https://web.archive.org/web/", "state": "dead",
                               "looked_up_at": "2026-11-30T00:00:00Z", "asked_for": "2026-11-01T00:00:00Z",
                               "outcome": "found", "memento_url": "https://web.archive.org/web/20261101000000/" + url,
                               "memento_datetime": "2026-11-01T00:00:00Z"})
    with serving(path) as (workbench, replay):
        with urllib.request.urlopen(f"{workbench}link/{link['id']}", timeout=10) as response:
            page = response.read().decode()
    assert '<section id="cite">' in page and 'class="copy"' in page
    assert page.count('class="robust-link"') == 2
    snippet = html.unescape(page.split('data-copy="', 1)[1].split('"', 1)[0])
    parser = Anchors()
    parser.feed(snippet)
    [(attrs, _)] = parser.found
    assert attrs["data-originalurl"] == url
    assert attrs["data-versionurl"].startswith(f"{replay}archive/") and attrs["data-versionurl"].endswith("/" + url)
    assert "<script>alert(1)</script>" not in page  # the anchor text from the page stays escaped
    assert f'href="https://web.archive.org/web/20261101000000/{url}"' in page and "web.archive.org, 2026-11-01" in page
