"""Reports (SPEC §7): JSON schema, escaping, diffs, changes since the previous sweep, files, Chromium.

The test world is written into a real Store through its methods (add_citations,
record_capture, save_text, record_check, start_sweep/finish_sweep): eleven
links in every state over two nightly sweeps. ``scripts/screenshot_report.py``
reuses :func:`build_world`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.models import FetchResult, Hop, RecordLocation
from archiver.report import FORMATS, build_report, parse_since, render, write_reports
from archiver.report.as_html import safe_href
from archiver.report.as_markdown import md
from archiver.report.html_assets import CSP
from archiver.report.model import replay_url
from archiver.report.textdiff import condense
from archiver.archive.store import CitationInput, Store

DATA = Path(__file__).parent / "data" / "report"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

ARTICLE_A = "https://news.example/2026/11/ships/"
ARTICLE_B = "https://blog.example/post/42"
DRAFT = "articles/draft.md"
EVIL_TITLE = "<script>alert(1)</script>"
EVIL_MARKUP = "<img src=x onerror=alert(1)>"

OK, TASS, FLAKY = "https://ok.example/page", "https://tass.com/defense/1399581", "https://flaky.example/report"
DRIFT, MOVED, BLOCKED = "https://drift.example/story", "https://old.example/a", "https://paywall.example/article"
GONE, OLD_DEAD, LATER = "https://gone.example/nothing", "https://old-dead.example/", "https://later.example/"
PRIVATE, SCRIPT_URL = "http://192.168.1.1/admin", "javascript:alert(document.cookie)"

SWEEP_1 = ("2026-11-27T03:00:00Z", "2026-11-27T03:30:00Z")
SWEEP_2 = ("2026-11-28T03:00:00Z", "2026-11-28T03:30:00Z")
NOW = "2026-11-28T04:00:00Z"


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# -- building the world -----------------------------------------------------------


class World:
    """Writes captures and checks the way the snapshotter and checker do."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.offset = 0

    def id(self, url: str) -> int:
        return int(self.store.link(url)["id"])  # type: ignore[index]

    def capture(self, url: str, when: str, *, status: int = 200, digest: str | None = None,
                error: str | None = None, redirect_to: str | None = None) -> int:
        """A fetch of ``url`` stored in a WARC (or a failed one with ``error`` and no hops)."""
        hops = []
        if redirect_to:
            hops.append(self._hop(url, when, 301, "", (b"Location", redirect_to.encode())))
        if error is None:
            hops.append(self._hop(redirect_to or url, when, status, digest or f"sha1:{url}@{when}"))
        result = FetchResult(url=url, hops=hops, error=error, detail=f"{error} (test)" if error else "")
        locations = []
        for number, hop in enumerate(hops):
            for kind in ("request", "response"):
                locations.append(RecordLocation(
                    warc=f"ARCHIVER-{when[:10].replace('-', '')}030000-00000.warc.gz", offset=self.offset,
                    length=900, record_type=kind, record_id=f"<urn:uuid:{self.offset}>", url=hop.url,
                    date=when, hop=number))
                self.offset += 900
        return self.store.record_capture(self.id(url), result, locations, now=at(when))

    @staticmethod
    def _hop(url: str, when: str, status: int, digest: str, *headers: tuple[bytes, bytes]) -> Hop:
        return Hop(url=url, method="GET", request_headers=(), http_version="HTTP/1.1", status=status, reason="",
                   response_headers=(*headers, (b"Content-Type", b"text/html")), started_at=at(when),
                   payload_digest=digest)

    def check(self, url: str, when: str, verdict: str, state: str, reason: str | None, *,
              capture: int | None = None, status: int | None = None, final_url: str | None = None,
              similarity: float | None = None, failures: int = 0, cited: bool = False) -> None:
        link = self.store.link(url)
        assert link is not None
        updates: dict[str, Any] = {"state": state, "reason": reason, "failures": failures, "http_status": status,
                                   "final_url": final_url or (url if status else None), "similarity": similarity}
        if link["state"] != state:
            updates["state_since"] = when
        if capture is not None:
            updates["latest_capture_id"] = capture
        if cited:
            updates["cited_capture_id"] = capture
        self.store.record_check(link["id"], checked_at=at(when), verdict=verdict, reason=reason, state=state,
                                http_status=status, final_url=updates["final_url"], similarity=similarity,
                                capture_id=capture, link_updates=updates)

    def first_capture(self, url: str, when: str, digest: str | None = None, title: str = "A page") -> None:
        digest = digest or f"sha1:{url}"
        capture = self.capture(url, when, digest=digest)
        self.store.save_text(digest, title, f"The main text of {url}.", None)
        self.check(url, when, "ok", "ok", "captured", capture=capture, status=200, cited=True)

    def fail(self, url: str, when: str, state: str, reason: str, failures: int, status: int | None = None) -> None:
        capture = self.capture(url, when, status=status or 0, error=None if status else reason)
        self.check(url, when, "failed", state, reason, capture=capture, status=status, failures=failures)


def _cite(url: str, place: str = "body", comment: int | None = None, author: str | None = None,
          context: str | None = None, anchor: str | None = None) -> CitationInput:
    return CitationInput(url=url, url_as_written=url, source="", place=place, comment=comment,
                         comment_author=author, anchor=anchor, context=context or f"As reported at {url}.")


def _collect(store: Store, source: str, cites: list[CitationInput], when: str, kind: str = "url",
             title: str | None = None) -> None:
    store.record_source(source, kind, title=title, now=at(when))
    store.add_citations(source, cites, now=at(when))


def _article_a() -> list[CitationInput]:
    return [
        _cite(OK, anchor="the ministry statement"),
        _cite(TASS, "comment", 1, "Cassandra", "Russian Navy's amphibious assault ships transiting Black Sea "
                                               "straits for massive drills https://tass.com/defense/1399581"),
        _cite(DRIFT, "comment", 3, "Eve <b>", f"Look at the photo {EVIL_MARKUP} in the report.", EVIL_TITLE),
        _cite(MOVED, "comment", 4, "Mallory"),
        _cite(BLOCKED),
        _cite(PRIVATE, "comment", 5, "Trent"),
    ]


def _article_b(second_sweep: bool) -> list[CitationInput]:
    cites = [_cite(FLAKY), _cite(MOVED, anchor="old address"), _cite(SCRIPT_URL, "comment", 2, "Oscar")]
    if second_sweep:
        cites += [_cite(GONE, "comment", 6, "Peggy"), _cite(LATER, "comment", 7, "Peggy")]
    return cites


def build_first_sweep(store: Store) -> World:
    """Everything up to the end of the first sweep (2026-11-27)."""
    world = World(store)
    _collect(store, ARTICLE_A, _article_a(), "2026-11-01T02:59:00Z", title='Ships <b>transit</b> & the "strait"')
    _collect(store, ARTICLE_B, _article_b(False), "2026-11-01T02:59:00Z", title="Weekly links")
    _collect(store, DRAFT, [_cite(OLD_DEAD)], "2026-11-01T02:59:00Z", kind="path")
    for url in (OK, TASS, FLAKY, MOVED, BLOCKED, OLD_DEAD):
        world.first_capture(url, "2026-11-01T03:00:10Z")
    world.first_capture(DRIFT, "2026-11-01T03:00:10Z", digest="sha1:CITED", title=EVIL_TITLE)
    store.save_text("sha1:CITED", EVIL_TITLE, (DATA / "cited.txt").read_text(), None)
    world.check(PRIVATE, "2026-11-01T03:00:10Z", "excluded", "excluded", "private-network")
    world.check(SCRIPT_URL, "2026-11-01T03:00:10Z", "excluded", "excluded", "scheme")
    for number, day in enumerate(("05", "07", "09"), 1):
        world.fail(OLD_DEAD, f"2026-11-{day}T03:00:00Z", "dead" if number == 3 else "failing", "http-404", number, 404)
    world.fail(TASS, "2026-11-25T03:00:00Z", "failing", "http-404", 1, 404)
    sweep = store.start_sweep(at(SWEEP_1[0]))
    for url in (OK, DRIFT, MOVED):
        world.check(url, "2026-11-27T03:05:00Z", "ok", "ok", "unchanged", status=200)
    world.fail(TASS, "2026-11-27T03:05:00Z", "failing", "http-404", 2, 404)
    world.fail(FLAKY, "2026-11-27T03:05:00Z", "failing", "timeout", 1)
    world.check(BLOCKED, "2026-11-27T03:05:00Z", "blocked", "blocked", "http-403",
                capture=world.capture(BLOCKED, "2026-11-27T03:05:00Z", status=403), status=403)
    world.fail(OLD_DEAD, "2026-11-27T03:05:00Z", "dead", "http-404", 4, 404)
    store.finish_sweep(sweep, {"checked": 7}, at(SWEEP_1[1]))
    return world


def build_second_sweep(world: World) -> None:
    """The second sweep (2026-11-28): one link dies, one recovers, one drifts, one moves, new ones arrive."""
    store = world.store
    sweep = store.start_sweep(at(SWEEP_2[0]))
    _collect(store, ARTICLE_B, _article_b(True), "2026-11-28T03:01:00Z")
    when = "2026-11-28T03:10:00Z"
    world.check(OK, when, "ok", "ok", "unchanged", status=200)
    world.fail(TASS, when, "dead", "http-404", 3, 404)
    world.check(FLAKY, when, "ok", "ok", "unchanged", capture=world.capture(FLAKY, when), status=200)
    live = world.capture(DRIFT, when, digest="sha1:LIVE")
    store.save_text("sha1:LIVE", "Ships complete transit", (DATA / "live.txt").read_text(), None)
    world.check(DRIFT, when, "changed", "changed", "drift", capture=live, status=200, similarity=0.62)
    moved = world.capture(MOVED, when, redirect_to="https://new.example/a")
    world.check(MOVED, when, "moved", "moved", "redirect", capture=moved, status=200,
                final_url="https://new.example/a", similarity=0.97)
    world.check(BLOCKED, when, "blocked", "blocked", "http-403", capture=world.capture(BLOCKED, when, status=403),
                status=403)
    world.fail(GONE, when, "failing", "dns", 1)
    world.fail(OLD_DEAD, when, "dead", "http-404", 5, 404)
    store.finish_sweep(sweep, {"checked": 8}, at(SWEEP_2[1]))


def build_world(store: Store) -> None:
    """The whole test world: two sweeps, eleven links in every state."""
    build_second_sweep(build_first_sweep(store))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "archives") as opened:
        build_world(opened)
        yield opened


@pytest.fixture
def report(store: Store) -> Any:
    return build_report(store, now=at(NOW))


# -- JSON -------------------------------------------------------------------------

SPEC_LINK_KEYS = {"url", "state", "reason", "http_status", "final_url", "similarity", "checked_at", "failures",
                  "cited_copy", "citations"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _links(report: Any) -> dict[str, dict[str, Any]]:
    document = json.loads(render(report, "json"))
    return {link["url"]: link for link in document["links"]}


def test_json_has_every_link_with_the_spec_fields(report: Any) -> None:
    document = json.loads(render(report, "json"))
    assert document["generated_at"] == NOW
    assert len(document["links"]) == 11
    for link in document["links"]:
        assert SPEC_LINK_KEYS <= set(link), link["url"]
        assert link["state"] in {"ok", "changed", "moved", "failing", "dead", "blocked", "excluded", "pending"}
        assert isinstance(link["failures"], int)
        assert link["checked_at"] is None or STAMP.match(link["checked_at"])
        assert link["http_status"] is None or isinstance(link["http_status"], int)
        assert link["similarity"] is None or isinstance(link["similarity"], float)
        copy = link["cited_copy"]
        if copy is not None:
            assert {"captured_at", "warc", "offset", "length"} <= set(copy)
            assert copy["warc"].startswith("warcs/ARCHIVER-") and isinstance(copy["offset"], int)
        assert link["citations"], link["url"]
        for citation in link["citations"]:
            assert {"source", "where", "comment", "anchor", "context"} <= set(citation)
            assert citation["where"] in ("body", "comment")
    assert document["summary"]["states"] == {"dead": 2, "failing": 1, "changed": 1, "moved": 1, "blocked": 1,
                                             "ok": 2, "pending": 1, "excluded": 2}


def test_json_dead_link_carries_its_evidence_and_cited_copy(report: Any) -> None:
    tass = _links(report)[TASS]
    assert (tass["state"], tass["reason"], tass["http_status"], tass["failures"]) == ("dead", "http-404", 404, 3)
    assert tass["checked_at"] == "2026-11-28T03:10:00Z"
    assert tass["final_url"] == TASS
    assert tass["cited_copy"]["captured_at"] == "2026-11-01T03:00:10Z"
    assert tass["cited_copy"]["replay"] == f"http://localhost:8080/archive/20261101030010id_/{TASS}"
    assert tass["evidence"]["status"] == 404 and tass["evidence"]["warc"].endswith(".warc.gz")
    assert tass["citations"] == [{"source": ARTICLE_A, "where": "comment", "comment": 1, "anchor": None,
                                  "context": tass["citations"][0]["context"], "comment_author": "Cassandra"}]


def test_json_streamed_ok_links_are_as_complete_as_held_ones(report: Any) -> None:
    links = _links(report)
    ok, recovered = links[OK], links[FLAKY]  # OK is streamed from the store, FLAKY held (it changed)
    assert set(ok) == set(recovered) - {"change"}
    assert ok["title"] == "A page" and ok["cited_copy"]["captured_at"] == "2026-11-01T03:00:10Z"
    assert ok["citations"][0]["anchor"] == "the ministry statement" and "evidence" not in ok
    assert recovered["change"] == "recovered"


def test_json_is_safe_to_embed_yet_round_trips_page_data(report: Any) -> None:
    text = render(report, "json")
    assert "<script" not in text and "<img" not in text
    drift = _links(report)[DRIFT]
    assert drift["title"] == EVIL_TITLE
    assert EVIL_MARKUP in drift["citations"][0]["context"]
    assert drift["diff"]["cited_title"] == EVIL_TITLE


# -- escaping ----------------------------------------------------------------------


def test_page_markup_is_escaped_in_html_and_markdown(report: Any) -> None:
    page = render(report, "html")
    assert page.count("<script>") == 1  # the report's own filter script, nothing else
    assert "<img" not in page and "<b>transit" not in page and "Eve <b>" not in page
    assert not re.search(r"<[a-z][^>]*\sonerror", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Ships &lt;b&gt;transit&lt;/b&gt; &amp; the &quot;strait&quot;" in page
    text = render(report, "md")
    assert "<script" not in text and "<img" not in text and "<b>" not in text and "<" not in text.replace("<http", "")
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text


def test_only_http_urls_become_links() -> None:
    assert safe_href("https://a.example/x?q=1&b=2") == "https://a.example/x?q=1&amp;b=2"
    assert safe_href('https://a.example/"onmouseover=x') == "https://a.example/&quot;onmouseover=x"
    for bad in (SCRIPT_URL, " javascript:x", "data:text/html,<b>", "articles/draft.md", "https://a b", None):
        assert safe_href(bad) is None


def test_unsafe_urls_are_shown_as_text(report: Any) -> None:
    page = render(report, "html")
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("https://", "http://", "#link-")) for h in hrefs)
    assert "javascript:alert(document.cookie)" in page  # listed, as text
    assert "<javascript:" not in render(report, "md")


def test_markdown_escaping() -> None:
    assert md("*bold* _x_ [a](b) `c` <i>") == "\\*bold\\* \\_x\\_ \\[a\\]\\(b\\) \\`c\\` &lt;i&gt;"
    assert md("1. not a list\nsecond   line") == "1\\. not a list second line"
    assert md("AT&T &amp; co") == "AT&T &amp;amp; co"


def test_html_is_self_contained_with_a_strict_policy(report: Any) -> None:
    page = render(report, "html")
    assert f'content="{CSP.replace(chr(39), "&#x27;")}"' in page
    assert "default-src 'none'" in CSP and "'unsafe-inline'" not in CSP
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"<[a-z][^>]*\s(src|srcset|background)=", page, re.I)
    assert "@import" not in page and "url(" not in page


# -- content -----------------------------------------------------------------------


def test_changed_link_shows_a_highlighted_diff(report: Any) -> None:
    drift = next(link for link in report.links if link.url == DRIFT)
    ops = {op for op, _ in drift.diff.ops}
    assert {"delete", "insert", "equal"} <= ops
    page = render(report, "html")
    assert "<del>30</del><ins>40</ins>" in page
    assert "<del>are in</del><ins>have passed</ins>" in page
    assert re.search(r"<del>[^<]*&lt;img src=x onerror=alert\(1\)&gt;\s*</del>", page)
    assert "<ins>Update: the drills were postponed at the request of &lt;b&gt;the fleet command&lt;/b&gt;" in page
    text = render(report, "md")
    assert "~~30~~ **40**" in text
    assert "similarity 0.62" in text


def test_changes_since_the_previous_sweep_over_two_sweeps(tmp_path: Path, database: str) -> None:
    with Store.open(tmp_path, database) as store:  # SQLite and PostgreSQL (SPEC §11)
        world = build_first_sweep(store)
        first = build_report(store, now=at("2026-11-27T04:00:00Z"))
        assert first.changes.baseline == SWEEP_1[0]
        assert _kinds(first) == {"newly-failing": [FLAKY]}
        build_second_sweep(world)
        second = build_report(store, now=at(NOW))
        changes = json.loads(render(second, "json"))["changes_since_previous_sweep"]
    assert second.changes.baseline == SWEEP_1[1]  # the end of the previous sweep
    assert second.changes.sweep_started_at == SWEEP_2[0]
    assert _kinds(second) == {"newly-dead": [TASS], "newly-failing": [GONE], "newly-changed": [DRIFT],
                              "moved": [MOVED], "recovered": [FLAKY]}
    before = {change.link.url: change.before for _, changes in second.changes.groups for change in changes}
    assert before == {TASS: "failing", GONE: "new", DRIFT: "ok", MOVED: "ok", FLAKY: "failing"}
    assert [c["url"] for c in changes["recovered"]] == [FLAKY]
    assert changes["newly_dead"] == [{"url": TASS, "before": "failing", "after": "dead", "reason": "http-404"}]


def test_changes_since_the_previous_sweep_include_checks_made_between_sweeps(tmp_path: Path, database: str) -> None:
    with Store.open(tmp_path, database) as store:  # SQLite and PostgreSQL (SPEC §11)
        world = build_first_sweep(store)
        world.fail(TASS, "2026-11-27T12:00:00Z", "dead", "http-404", 3, 404)  # `archiver check` between sweeps
        world.check(FLAKY, "2026-11-27T12:00:00Z", "ok", "ok", "unchanged", status=200)
        sweep = store.start_sweep(at(SWEEP_2[0]))  # a sweep that changes nothing itself
        store.finish_sweep(sweep, {"checked": 0}, at(SWEEP_2[1]))
        report = build_report(store, now=at(SWEEP_2[1]))
    assert _kinds(report) == {"newly-dead": [TASS], "recovered": [FLAKY]}
    assert report.changes.baseline == SWEEP_1[1]


def _kinds(report: Any) -> dict[str, list[str]]:
    return {kind: [c.link.url for c in changes] for kind, changes in report.changes.groups if changes}


def test_since_limits_the_report_to_recent_links(store: Store) -> None:
    data = build_report(store, since=at("2026-11-28T00:00:00Z"), now=at(NOW))
    urls = {link.url for link in data.links}
    assert urls == {OK, TASS, FLAKY, DRIFT, MOVED, BLOCKED, GONE, OLD_DEAD, LATER}
    assert data.changes.baseline == "2026-11-28T00:00:00Z"
    assert json.loads(render(data, "json"))["since"] == "2026-11-28T00:00:00Z"
    quiet = build_report(store, since=at("2026-11-29T00:00:00Z"), now=at(NOW))
    assert list(quiet.links) == [] and quiet.changes.total == 0
    for fmt in FORMATS:
        assert render(quiet, fmt)


def test_problem_links_are_grouped_by_article(report: Any) -> None:
    groups = {group.source: [link.url for link in group.links] for group in report.articles}
    assert groups[ARTICLE_A] == [TASS, DRIFT, MOVED, BLOCKED]
    assert groups[ARTICLE_B] == [GONE, MOVED]
    assert groups[DRAFT] == [OLD_DEAD]
    page = render(report, "html")
    moved_id = next(link.id for link in report.links if link.url == MOVED)
    assert page.count(f'data-link="{moved_id}"') == 2 and page.count(f'id="link-{moved_id}"') == 1
    assert '<span class="where">comment 1 by Cassandra</span>' in page


def test_empty_archive_renders_every_format(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        data = build_report(store, now=at(NOW))
        document = json.loads(render(data, "json"))
    assert document == {
        "generated_at": NOW, "since": None, "links": [],
        "summary": {"total": 0, "problems": 0, "states": dict.fromkeys(
            ("dead", "failing", "changed", "moved", "blocked", "ok", "pending", "excluded"), 0)},
        "changes_since_previous_sweep": {"label": "since the previous sweep", "baseline": None,
                                         "sweep_started_at": None, "newly_dead": [], "newly_failing": [],
                                         "newly_changed": [], "moved": [], "recovered": []},
    }
    assert "No problem links." in render(data, "html") and "No sweep has run yet." in render(data, "md")


def test_write_reports_writes_timestamped_files_and_latest_copies(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    paths = write_reports(store, out, ["html", "md", "json"], now=at(NOW))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["latest.html", "latest.json", "latest.md",
                     "report-20261128T040000Z.html", "report-20261128T040000Z.json", "report-20261128T040000Z.md"]
    assert sorted(p.name for p in paths) == names
    for fmt in FORMATS:
        assert (out / f"latest.{fmt}").read_bytes() == (out / f"report-20261128T040000Z.{fmt}").read_bytes()
    write_reports(store, out, ["json"], now=at("2026-11-29T03:30:00Z"))
    assert json.loads((out / "latest.json").read_text())["generated_at"] == "2026-11-29T03:30:00Z"


def test_parse_since() -> None:
    now = at(NOW)
    assert parse_since("36h", now) == at("2026-11-26T16:00:00Z")
    assert parse_since("2026-11-01", now) == at("2026-11-01T00:00:00Z")
    assert parse_since("2026-11-01T12:00:00+01:00", now) == at("2026-11-01T11:00:00Z")
    with pytest.raises(Exception, match="--since"):
        parse_since("last tuesday", now)


def test_diff_condenses_long_unchanged_text() -> None:
    same = "word " * 200
    ops = condense([("equal", same), ("delete", "old"), ("insert", "new"), ("equal", same)], context=50)
    assert [op for op, _ in ops] == ["gap", "equal", "delete", "insert", "equal", "gap"]
    assert all(len(text) <= 60 for op, text in ops if op == "equal")


def test_replay_url_form() -> None:
    url = replay_url("http://localhost:8080/archive/", "2026-11-28T03:12:09.123456Z", "https://a.example/?q=1")
    assert url == "http://localhost:8080/archive/20261128031209id_/https://a.example/?q=1"


# -- a real browser ----------------------------------------------------------------


def dump_dom(page: Path, fragment: str = "", timeout: float = 60) -> str:
    """The DOM of ``page`` after its scripts ran, from headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom",
             page.resolve().as_uri() + fragment],
            capture_output=True, text=True, timeout=timeout, check=True,
        )
    return run.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="headless check needs Debian chromium (apt-get install chromium)")
def test_html_report_runs_in_headless_chromium(store: Store, tmp_path: Path) -> None:
    page = write_reports(store, tmp_path / "reports", ["html"], now=at(NOW))[0]
    dom = dump_dom(page)
    assert re.search(r'<body[^>]*data-ready="1"', dom), "the filter script did not run (CSP hash?)"
    assert re.search(r'<body[^>]*data-shown="6"', dom)
    assert re.search(r'<body[^>]*data-filters="dead failing changed moved blocked"', dom)
    assert '<output id="shown">6</output>' in dom
    tiles = dict(re.findall(r'class="tile s-\w+[^"]*" data-state="(\w+)" data-count="(\d+)"', dom))
    assert tiles == {"dead": "2", "failing": "1", "changed": "1", "moved": "1", "blocked": "1", "ok": "2",
                     "pending": "1", "excluded": "2"}
    assert re.search(r'data-kind="newly-dead" data-count="1"', dom)
    assert "<script>alert" not in dom and "<img" not in dom and not re.search(r"<[a-z][^>]*\sonerror", dom)


def test_diff_shows_a_bounded_amount_of_text() -> None:
    ops = [("equal", "same text here "), ("delete", "old " * 300), ("insert", "new " * 300)] * 5
    shown = condense(ops, shown=2000)
    assert shown[-1] == ("gap", "[… 8 more changes not shown …]")
    assert sum(len(text) for _, text in shown) < 2000 + 1300


@pytest.mark.skipif(CHROMIUM is None, reason="headless check needs Debian chromium (apt-get install chromium)")
def test_state_filter_hides_other_cards_in_headless_chromium(store: Store, tmp_path: Path) -> None:
    page = write_reports(store, tmp_path / "reports", ["html"], now=at(NOW))[0]
    dom = dump_dom(page, "#show=dead,changed")
    assert re.search(r'<body[^>]*data-shown="3"', dom) and '<output id="shown">3</output>' in dom
    cards = re.findall(r'<article class="link s-\w+" data-state="(\w+)" data-link="\d+"[^>]*?( hidden="")?>', dom)
    assert {state for state, hidden in cards if not hidden} == {"dead", "changed"}
    assert {state for state, hidden in cards if hidden} == {"failing", "moved", "blocked"}
    weekly = dom.split("<h3>Weekly links</h3>")[0].rsplit("<section", 1)[1]
    assert "hidden" in weekly.split(">")[0]  # an article with no card left is hidden too
