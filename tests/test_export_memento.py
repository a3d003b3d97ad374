"""Other web archives through Memento: a real pywb serves as the "public archive" (its TimeGate and
TimeMap over a WARC collection of known captures), reached through the same path as the real ones."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.archive import Archive
from archiver.check.run import check_links
from archiver.collect.normalize import normalize_url
from archiver.config import CheckConfig, Config, ExternalConfig
from archiver.export.memento import parse_links, read_timegate, timemap_bounds
from archiver.listing import link_detail, render_detail
from archiver.report import build_report, render
from archiver.report.as_json import link_json
from archiver.capture.snapshot import snapshot
from archiver.archive.store import CitationInput, Store

from .pywb_replay import PywbReplay
from .server import TestServer

PAGE = "<html><head><title>Minutes</title></head><body><article><p>" + "The minutes of the meeting. " * 40 + "</p></article></body></html>"
CAPTURES = ("2019-05-01T10:00:00Z", "2021-03-01T10:00:00Z", "2023-07-01T10:00:00Z")
CITED_ON = "2021-02-01T12:00:00Z"  # a reader's comment cited the page then: closest is 2021-03-01


def public_archive(pywb: PywbReplay, tmp_path: Path, url: str) -> str:
    """A pywb collection holding three captures of ``url``; returns its TimeGate prefix."""
    warcs = tmp_path / "public-warcs"
    warcs.mkdir()
    with open(warcs / "public.warc.gz", "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for date in CAPTURES:
            body = f"<html><title>as of {date}</title></html>".encode()
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=head,
                                                          warc_headers_dict={"WARC-Date": date}))
    coll = pywb.add(warcs, name="pub-" + tmp_path.name.replace("_", "-")[-40:])
    return f"http://127.0.0.1:{pywb.port}/{coll}/"


@pytest.fixture
def dying(config: Config, make_server: Any) -> tuple[Config, TestServer, str]:
    """A page cited in a comment of 2021-02-01, captured, then answering 404."""
    site: TestServer = make_server()
    url = site.route("/minutes", PAGE)
    world = replace(config, check=replace(CheckConfig(), confirm_checks=1, confirm_span=0.0))
    with Archive(world) as archive:
        snapshot(archive, [url])
        archive.store.add_citations("https://news.example/article", [CitationInput(
            url=normalize_url(url), url_as_written=url, source="https://news.example/article", place="comment",
            comment=1, comment_date=CITED_ON, context="as the minutes say")])
    site.route("/minutes", "<html><body><h1>Not Found</h1></body></html>", status=404)
    return world, site, url


def _check(config: Config, url: str) -> None:
    with Archive(config) as archive:
        link = archive.store.link(normalize_url(url))
        asyncio.run(check_links(archive, [link]))


def _archive_requests(config: Config, prefix: str) -> list[tuple[str, dict[str, str]]]:
    """(target URI, HTTP request headers) of every request our WARCs hold to ``prefix``."""
    out = []
    for path in sorted((config.archive.dir / "warcs").glob("*.warc.gz*")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "request" and uri.startswith(prefix):
                    out.append((uri, dict(record.http_headers.headers)))
    return out


@pytest.mark.slow
def test_a_dead_link_gets_the_public_memento_closest_to_its_citation(
        dying: tuple[Config, TestServer, str], pywb: PywbReplay, tmp_path: Path) -> None:
    world, site, url = dying
    prefix = public_archive(pywb, tmp_path, url)
    down = "http://127.0.0.1:9/timegate/"  # nothing listens there: an archive that is down
    world = replace(world, external=ExternalConfig(archives=(prefix, down), lookup=True))
    _check(world, url)

    with Store.open(world.archive.dir) as store:
        link = store.link(normalize_url(url))
        assert link is not None and link["state"] == "dead"
        rows = {row["archive"]: row for row in store.alternatives([link["id"]])}
        assert rows[prefix]["outcome"] == "found"
        assert rows[prefix]["memento_url"] == f"{prefix}20210301100000/{url}"
        assert rows[prefix]["memento_datetime"] == "2021-03-01T10:00:00Z"
        assert (rows[prefix]["first_datetime"], rows[prefix]["last_datetime"]) == (
            "2019-05-01T10:00:00Z", "2023-07-01T10:00:00Z")
        assert rows[prefix]["asked_for"] == CITED_ON
        assert rows[down]["outcome"] == "error" and "127.0.0.1" in rows[down]["note"]

        data = build_report(store)
        entry = next(e for e in data.links if e.url == normalize_url(url))
        got = link_json(entry)
        assert got["alternatives"] == [{
            "archive": "127.0.0.1", "url": f"{prefix}20210301100000/{url}", "datetime": "2021-03-01T10:00:00Z",
            "first": {"url": f"{prefix}20190501100000/{url}", "datetime": "2019-05-01T10:00:00Z"},
            "last": {"url": f"{prefix}20230701100000/{url}", "datetime": "2023-07-01T10:00:00Z"},
            "looked_up_at": got["alternatives"][0]["looked_up_at"]}]
        assert any("could not be asked" in note for note in got["alternatives_notes"])
        report = json.loads(render(build_report(store), "json"))
        assert report["links"][0]["alternatives"][0]["url"] == f"{prefix}20210301100000/{url}"
        html = render(build_report(store), "html")
        assert f'href="{prefix}20210301100000/{url}"' in html and "127.0.0.1, 2021-03-01" in html
        assert f"<{prefix}20210301100000/{url}>" in render(build_report(store), "md")
        assert f"    {prefix}  {prefix}20210301100000/{url} (2021-03-01T10:00:00Z)" in \
            render_detail(link_detail(store, url))  # `archiver links URL`

    # the TimeGate's answer is evidence in our WARCs, with exactly what was asked
    requests = _archive_requests(world, prefix)
    assert requests[0][0] == prefix + url
    assert requests[0][1]["Accept-Datetime"] == "Mon, 01 Feb 2021 12:00:00 GMT"
    assert requests[1][0] == f"{prefix}timemap/link/{url}"
    assert requests[1][1]["Accept"] == "application/link-format"
    assert len(requests) == 2

    # still dead at the next check: the archive that answered is not asked again; the one down is
    _check(world, url)
    with Store.open(world.archive.dir) as store:
        all_rows = list(store._rows("SELECT archive, outcome FROM alternatives"))
    assert sum(1 for row in all_rows if row["archive"] == prefix) == 1
    assert sum(1 for row in all_rows if row["archive"] == down) == 2
    assert len(_archive_requests(world, prefix)) == 2


def test_lookup_off_sends_nothing(dying: tuple[Config, TestServer, str], make_server: Any) -> None:
    world, site, url = dying
    archive_site: TestServer = make_server()
    archive_site.route("*", "<html>a memento</html>", headers={"Memento-Datetime": "Mon, 01 Mar 2021 10:00:00 GMT"})
    prefix = archive_site.url("/web/")
    _check(replace(world, external=ExternalConfig(archives=(prefix,), lookup=False)), url)
    _check(replace(world, external=ExternalConfig(archives=(), lookup=True)), url)
    assert sum(route.hits for route in archive_site.routes.values()) == 0
    with Store.open(world.archive.dir) as store:
        assert list(store._rows("SELECT * FROM alternatives")) == []


def test_a_rate_limiting_archive_is_a_note_and_asked_again_later(dying: tuple[Config, TestServer, str],
                                                                  make_server: Any) -> None:
    world, site, url = dying
    archive_site: TestServer = make_server()
    archive_site.route("*", "slow down", status=429, content_type="text/plain")
    prefix = archive_site.url("/web/")
    world = replace(world, external=ExternalConfig(archives=(prefix,), lookup=True))
    _check(world, url)
    with Store.open(world.archive.dir) as store:
        link = store.link(normalize_url(url))
        assert link is not None and link["state"] == "dead"  # the check itself is unaffected
        [row] = store.alternatives([link["id"]])
        assert row["outcome"] == "error" and "429" in row["note"]
        entry = next(e for e in build_report(store).links if e.url == link["url"])
        assert "alternatives" not in link_json(entry)
        assert "HTTP 429" in link_json(entry)["alternatives_notes"][0]
        shown = render_detail(link_detail(store, url))  # `archiver links URL`
        assert "  other web archives:\n" in shown and f"    {prefix}  error: " in shown and "HTTP 429" in shown


def test_a_302_timegate_with_first_and_last_in_its_link_header() -> None:
    """The Internet Archive's style: a redirect to the memento, first and last listed in Link."""
    from archiver.models import FetchResult, Hop
    from archiver.archive.store import utcnow

    link = ('<http://a.example/>; rel="original", <https://web.archive.org/web/timemap/link/http://a.example/>; '
            'rel="timemap"; type="application/link-format", <https://web.archive.org/web/20020120142510/'
            'http://a.example/>; rel="first memento"; datetime="Sun, 20 Jan 2002 14:25:10 GMT", '
            '<https://web.archive.org/web/20210301000000/http://a.example/>; rel="memento"; '
            'datetime="Mon, 01 Mar 2021 00:00:00 GMT", <https://web.archive.org/web/20261101000000/'
            'http://a.example/>; rel="last memento"; datetime="Sun, 01 Nov 2026 00:00:00 GMT"')
    hop = Hop(url="https://web.archive.org/web/http://a.example/", method="GET", request_headers=(),
              http_version="HTTP/1.1", status=302, reason="Found", started_at=utcnow(),
              response_headers=((b"Location", b"https://web.archive.org/web/20210301000000/http://a.example/"),
                                (b"Link", link.encode())))
    answer, timemap = read_timegate("https://web.archive.org/web/", FetchResult(url=hop.url, hops=[hop]))
    assert answer.outcome == "found" and timemap is None
    assert answer.memento is not None and answer.memento.datetime == "2021-03-01T00:00:00Z"
    assert answer.first is not None and answer.first.datetime == "2002-01-20T14:25:10Z"
    assert answer.last is not None and answer.last.url.endswith("/20261101000000/http://a.example/")
    assert len(parse_links(link)) == 5


def test_timemap_bounds_of_an_unordered_timemap() -> None:
    text = ('<http://x/>; rel="original",\n<http://arch/2/http://x/>; rel="memento"; datetime="Tue, 02 Jan 2018 '
            '00:00:00 GMT",\n<http://arch/1/http://x/>; rel="first memento"; datetime="Mon, 01 Jan 2018 00:00:00 '
            'GMT",\n<http://arch/3/http://x/>; rel="memento"; datetime="Wed, 03 Jan 2018 00:00:00 GMT"')
    first, last = timemap_bounds(text, "http://arch/timemap")
    assert first is not None and first.url == "http://arch/1/http://x/"
    assert last is not None and last.datetime == "2018-01-03T00:00:00Z"


def test_a_timegate_redirecting_to_its_canonical_form_is_asked_there(dying: tuple[Config, TestServer, str],
                                                                      make_server: Any) -> None:
    world, site, url = dying
    archive_site: TestServer = make_server()
    base = archive_site.url("/web/")
    memento = f"{base}20210301000000/{url}"
    archive_site.route(f"/web/{url}", status=302, headers={"Location": "/web/canonical"})
    archive_site.route("/web/canonical", status=302, headers={
        "Location": memento,
        "Link": f'<{url}>; rel="original", <{base}19990101000000/{url}>; rel="first memento"; '
                f'datetime="Fri, 01 Jan 1999 00:00:00 GMT", <{memento}>; rel="memento"; '
                f'datetime="Mon, 01 Mar 2021 00:00:00 GMT", <{base}20250101000000/{url}>; rel="last memento"; '
                f'datetime="Wed, 01 Jan 2025 00:00:00 GMT"'})
    _check(replace(world, external=ExternalConfig(archives=(base,), lookup=True)), url)
    with Store.open(world.archive.dir) as store:
        link = store.link(normalize_url(url))
        assert link is not None
        [row] = store.alternatives([link["id"]])
    assert (row["outcome"], row["memento_url"], row["first_datetime"], row["last_datetime"]) == (
        "found", memento, "1999-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
    assert archive_site.routes["/web/canonical"].hits == 1


def test_a_run_that_keeps_no_outcomes_still_asks_about_its_newly_dead_links(
        dying: tuple[Config, TestServer, str], make_server: Any) -> None:
    """`archiver check --all` and sweeps pass brief link rows and keep no list of outcomes (their memory
    stays flat): the links that died are still looked up in other web archives at the end."""
    world, site, url = dying
    archive_site: TestServer = make_server()
    archive_site.route("*", "slow down", status=429, content_type="text/plain")
    world = replace(world, external=ExternalConfig(archives=(archive_site.url("/web/"),), lookup=True))
    seen: list[str] = []
    with Archive(world) as archive:
        rows = list(archive.store.iter_links())
        assert "cited_capture_id" not in rows[0]  # brief: each link is read whole when its check starts
        kept = asyncio.run(check_links(archive, rows, on_done=lambda o: seen.append(o.state), keep=False))
    assert kept == [] and seen == ["dead"]
    assert sum(route.hits for route in archive_site.routes.values()) == 1
    with Store.open(world.archive.dir) as store:
        [row] = list(store._rows("SELECT outcome FROM alternatives"))
        assert row["outcome"] == "error"
