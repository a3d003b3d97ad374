"""`archiver export --wacz`: a package `wacz validate` accepts, WARCs `warcio check` accepts,
an index identical to cdxj-indexer's, pages a reader can open, and pywb replaying the stored bytes."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from archiver.archive import Archive
from archiver.capture.cdxj import index_file
from archiver.check.run import check_links
from archiver.cli import cli
from archiver.collect.normalize import normalize_url
from archiver.config import CheckConfig, Config
from archiver.export.wacz import Selection, _LineSorter, export_wacz
from archiver.capture.snapshot import snapshot
from archiver.archive.store import Store

from .pywb_replay import PywbReplay
from .server import Route, TestServer

BIN = Path(sys.executable).parent
PAGE_A1 = "<html><head><title>Budget 2026</title></head><body><article><p>" + "The council approved the budget. " * 40 + "</p></article></body></html>"
PAGE_A2 = "<html><head><title>Budget 2026</title></head><body><article><p>" + "A wholly different story now. " * 40 + "</p></article></body></html>"
PAGE_B = "<html><head><title>Report</title></head><body><article><p>" + "Annual report of the ministry. " * 40 + "</p></article></body></html>"
PAGE_GONE = "<html><head><title>Gone soon</title></head><body><article><p>" + "A page that will disappear. " * 40 + "</p></article></body></html>"


@pytest.fixture
def world(config: Config) -> Config:
    """Failures confirm at once: a 404 makes a link dead on its first check."""
    return replace(config, check=replace(CheckConfig(), confirm_checks=1, confirm_span=0.0))


def _check(config: Config, *urls: str) -> None:
    with Archive(config) as archive:
        rows = [archive.store.link(normalize_url(url)) for url in urls]
        asyncio.run(check_links(archive, [row for row in rows if row]))


@pytest.fixture
def archive_of_four(world: Config, make_server: Any) -> dict[str, str]:
    """a: changed then rechecked identical (a revisit of a check, not of the cited copy);
    b: unchanged (a revisit of the cited copy); gone: dead (404); moved: a redirect to b."""
    site: TestServer = make_server()
    urls = {
        "a": site.route("/a", PAGE_A1),
        "b": site.route("/b", PAGE_B, gzip=True),
        "gone": site.route("/gone", PAGE_GONE),
        "redirect": site.route("/old-b", status=301, headers={"Location": "/b"}),
    }
    with Archive(world) as archive:
        snapshot(archive, list(urls.values()))
    site.route("/a", PAGE_A2)
    site.route("/gone", "<html><body><h1>Not Found</h1></body></html>", status=404)
    _check(world, *urls.values())
    _check(world, urls["a"], urls["b"])  # a: identical to its last check -> revisit of that check
    return urls


def _records(warc: Path) -> list[Any]:
    out = []
    with open(warc, "rb") as handle:
        for record in ArchiveIterator(handle):
            out.append((record.rec_type, dict(record.rec_headers.headers), record.content_stream().read()))
    return out


def _unzip(wacz: Path, into: Path) -> Path:
    with zipfile.ZipFile(wacz) as zf:
        zf.extractall(into)
    return into


def test_export_validates_and_carries_what_each_link_needs(world: Config, archive_of_four: dict[str, str],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "all.wacz"
    with Store.open(world.archive.dir) as store:
        summary = export_wacz(store, world.archive.dir / "warcs", out)
    assert summary.links == 4 and summary.pages == 4 and summary.dropped_revisits == 0

    done = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(out)], capture_output=True, text=True)
    assert done.returncode == 0 and "is valid" in done.stdout, done.stdout + done.stderr

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"archive/export.warc.gz", "indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl",
                "datapackage.json", "datapackage-digest.json"} <= names
        assert zf.getinfo("archive/export.warc.gz").compress_type == zipfile.ZIP_STORED
        package = json.loads(zf.read("datapackage.json"))
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode().splitlines()]
    assert package["wacz_version"] == "1.1.1"
    assert pages[0]["format"] == "json-pages-1.0"
    by_url = {page["url"]: page for page in pages[1:]}
    assert set(by_url) == {normalize_url(u) for u in archive_of_four.values()}
    assert by_url[normalize_url(archive_of_four["a"])]["title"] == "Budget 2026"
    assert by_url[normalize_url(archive_of_four["gone"])]["state"] == "dead"

    extracted = _unzip(out, tmp_path / "x")
    warc = extracted / "archive" / "export.warc.gz"
    check = subprocess.run([str(BIN / "warcio"), "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    records = _records(warc)
    ids = {headers["WARC-Record-ID"] for _, headers, _ in records}
    revisits = [headers for kind, headers, _ in records if kind == "revisit"]
    assert any(h["WARC-Target-URI"] == archive_of_four["a"] for h in revisits)  # a's latest check
    for headers in revisits:  # never a revisit without its original
        assert headers["WARC-Refers-To"] in ids
    assert all(headers.get("WARC-Warcinfo-ID", next(iter(ids))) in ids for _, headers, _ in records)
    bodies = [body for kind, headers, body in records if kind == "response"]
    assert any(PAGE_A1.encode() in body for body in bodies)  # a's cited copy
    assert any(PAGE_A2.encode() in body for body in bodies)  # the original of a's revisit
    # the index is exactly what cdxj-indexer makes of the exported WARC
    ours = gzip.decompress((extracted / "indexes" / "index.cdx.gz").read_bytes()).decode().splitlines()
    assert ours == index_file(warc)
    idx = (extracted / "indexes" / "index.idx").read_text().splitlines()
    assert idx[0].startswith("!meta 0 ") and "cdxj-gzip-1.0" in idx[0]


def test_export_by_state_takes_only_those_links(world: Config, archive_of_four: dict[str, str],
                                                tmp_path: Path) -> None:
    out = tmp_path / "dead.wacz"
    with Store.open(world.archive.dir) as store:
        summary = export_wacz(store, world.archive.dir / "warcs", out, Selection(states=("dead",)))
    assert summary.links == 1 and summary.pages == 1
    with zipfile.ZipFile(out) as zf:  # a package of one page opens on it
        assert json.loads(zf.read("datapackage.json"))["mainPageURL"] == normalize_url(archive_of_four["gone"])
    warc = _unzip(out, tmp_path / "x") / "archive" / "export.warc.gz"
    uris = {headers.get("WARC-Target-URI") for kind, headers, _ in _records(warc) if kind == "response"}
    assert uris == {archive_of_four["gone"]}
    bodies = [body for kind, _, body in _records(warc) if kind == "response"]
    assert any(PAGE_GONE.encode() in body for body in bodies)  # the cited copy
    assert any(b"Not Found" in body for body in bodies)  # the evidence: the 404 of its last check


@pytest.mark.slow
def test_pywb_replays_the_extracted_package_byte_identically(world: Config, archive_of_four: dict[str, str],
                                                              tmp_path: Path, pywb: PywbReplay) -> None:
    out = tmp_path / "all.wacz"
    with Store.open(world.archive.dir) as store:
        export_wacz(store, world.archive.dir / "warcs", out)
    extracted = _unzip(out, tmp_path / "x")
    coll = "wacz-" + tmp_path.name.replace("_", "-")[-40:]
    root = pywb.root / "collections" / coll
    (root / "indexes").mkdir(parents=True)
    (root / "archive").symlink_to(extracted / "archive", target_is_directory=True)
    (root / "indexes" / "index.cdxj").write_bytes(gzip.decompress((extracted / "indexes" / "index.cdx.gz").read_bytes()))
    with zipfile.ZipFile(out) as zf:
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode().splitlines()[1:]]
    page = next(p for p in pages if p["url"] == normalize_url(archive_of_four["b"]))
    stamp = "".join(ch for ch in page["ts"] if ch.isdigit())[:14]
    got = pywb.replay(coll, page["url"], stamp)
    assert got.status == 200
    assert gzip.decompress(got.body) == PAGE_B.encode()  # stored gzip-encoded, replayed as stored
    got = pywb.replay(coll, archive_of_four["a"], stamp)
    assert got.status == 200 and got.body in (PAGE_A1.encode(), PAGE_A2.encode())


def test_external_sort_merges_runs(tmp_path: Path) -> None:
    sorter = _LineSorter(tmp_path, run=3)
    lines = [f"com,example)/{n % 7} 2026{n:010d} {{}}" for n in range(20)]
    for line in lines:
        sorter.add(line)
    assert list(sorter.merged()) == sorted(lines)
    assert len(list(tmp_path.glob("run-*.cdxj"))) == 7


def test_cli_export_states_and_errors(world: Config, archive_of_four: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[archive]\ndir = "{world.archive.dir}"\n[external]\nlookup = false\n')
    out = tmp_path / "out.wacz"
    result = CliRunner().invoke(cli, ["--config", str(config), "export", "--wacz", str(out),
                                      "--state", "dead,changed"])
    assert result.exit_code == 0, result.output
    assert "2 page(s) of 2 selected link(s)" in result.output  # gone is dead, a changed
    assert out.exists()
    result = CliRunner().invoke(cli, ["--config", str(config), "export", "--wacz", str(out), "--state", "rotten"])
    assert result.exit_code == 2 and "rotten" in result.output
    empty = tmp_path / "none.wacz"
    result = CliRunner().invoke(cli, ["--config", str(config), "export", "--wacz", str(empty),
                                      "--url", "https://never.example/cited"])
    assert result.exit_code == 0 and "no link matches the selection" in result.output
    done = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(empty)], capture_output=True, text=True)
    assert done.returncode == 0 and "is valid" in done.stdout, done.stdout  # empty, but a valid package
    with zipfile.ZipFile(empty) as zf:
        assert zf.read("pages/pages.jsonl").decode().count("\n") == 1  # the header line only


def test_export_by_source_name_or_url(world: Config, archive_of_four: dict[str, str], tmp_path: Path) -> None:
    from archiver.archive.store import CitationInput

    with Store.open(world.archive.dir) as store:
        store.record_source("https://news.example/story", "url", name="the story")
        store.add_citations("https://news.example/story", [CitationInput(
            url=normalize_url(archive_of_four["b"]), url_as_written=archive_of_four["b"],
            source="https://news.example/story", place="body")])
        for wanted in ("the story", "https://news.example/story"):
            summary = export_wacz(store, world.archive.dir / "warcs", tmp_path / "s.wacz", Selection(sources=(wanted,)))
            assert (summary.links, summary.pages) == (1, 1)
        summary = export_wacz(store, world.archive.dir / "warcs", tmp_path / "n.wacz", Selection(sources=("elsewhere",)))
        assert (summary.links, summary.pages, summary.records) == (0, 0, 1)  # our warcinfo record only
