"""The checker against a local server that behaves like real sites (issue: dead, soft-404, moved, blocked, changed).

Each test snapshots a page (the cited copy), changes what the server answers,
and checks the verdict and the state, through the library and the CLI.
"""

from __future__ import annotations

import asyncio
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

from .server import Route, TestServer, respond
from .test_extract import corpus_html, edited_variant, noisy_variant, rewritten_variant, sample_html

ARTICLE = corpus_html("blog.python.org.html")
OTHER = corpus_html("netzpolitik.org.abmahnungen.html")
HOME = corpus_html("caktusgroup.com.django.html")


def html_route(body: str, status: int = 200, **options: Any) -> Route:
    return Route(status=status, body=body.encode("utf-8"), **options)


@pytest.fixture
def world(config: Config) -> Config:
    """Checks confirm quickly: 3 failures, no minimum span."""
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
                "similarity": outcome.judgement.similarity, "state": row["state"], "failures": row["failures"],
                "final_url": row["final_url"], "capture": row["latest_capture_id"], "check": outcome}


def test_real_404_fails_then_dies_after_confirmation(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/news/2021/article.html")
    site.routes["/news/2021/article.html"] = html_route(ARTICLE)
    snap(world, url)
    del site.routes["/news/2021/article.html"]  # the server's 404 for unknown paths
    first = check(world, url)
    assert (first["verdict"], first["reason"], first["state"], first["failures"]) == ("failed", "http-404", "failing", 1)
    check(world, url)
    third = check(world, url)
    assert (third["state"], third["reason"], third["failures"]) == ("dead", "http-404", 3)


def test_410_gone(world: Config, server: TestServer) -> None:
    url = server.route("/check/gone", ARTICLE)
    snap(world, url)
    server.routes["/check/gone"] = html_route("<h1>Gone</h1>", status=410)
    assert check(world, url)["reason"] == "http-410"


def test_soft_404_host_answers_every_unknown_path_with_one_page(world: Config, make_server) -> None:
    site = make_server()
    site.routes["*"] = html_route(HOME)  # any unknown path: 200 with the same page
    url = site.url("/blog/2020/05/why-we-moved.html")
    site.routes["/blog/2020/05/why-we-moved.html"] = html_route(ARTICLE)
    snap(world, url)
    del site.routes["/blog/2020/05/why-we-moved.html"]
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("failed", "soft-404", "failing")


def test_soft_404_host_does_not_condemn_a_live_page(world: Config, make_server) -> None:
    site = make_server()
    site.routes["*"] = html_route(HOME)
    url = site.url("/blog/2020/05/still-here.html")
    site.routes["/blog/2020/05/still-here.html"] = html_route(ARTICLE)
    snap(world, url)
    result = check(world, url)
    assert (result["verdict"], result["state"]) == ("ok", "ok")


def test_error_page_with_200_is_a_soft_404(world: Config, server: TestServer) -> None:
    url = server.route("/check/soft-error", ARTICLE)
    snap(world, url)
    server.routes["/check/soft-error"] = html_route(sample_html("error-wordpress-404.html"))
    assert check(world, url)["reason"] == "soft-404"


def test_unknown_paths_redirected_to_home_are_dead(world: Config, make_server) -> None:
    site = make_server()
    site.routes["/"] = html_route(HOME)
    site.routes["*"] = Route(status=302, headers={"Location": "/"}, body=b"")
    url = site.url("/2019/03/cited-story/")
    site.routes["/2019/03/cited-story/"] = html_route(ARTICLE)
    snap(world, url)
    del site.routes["/2019/03/cited-story/"]
    result = check(world, url)
    assert (result["verdict"], result["reason"]) == ("failed", "redirect-to-root")


def test_301_to_the_home_page_is_not_a_move(world: Config, make_server) -> None:
    site = make_server()
    site.routes["/"] = html_route(HOME)
    url = site.url("/2019/03/old-story/")
    site.routes["/2019/03/old-story/"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/2019/03/old-story/"] = Route(status=301, headers={"Location": "/"})
    assert check(world, url)["reason"] == "redirect-to-root"


def test_parked_domain(world: Config, server: TestServer) -> None:
    url = server.route("/check/parked", ARTICLE)
    snap(world, url)
    server.routes["/check/parked"] = html_route(sample_html("parked-sedo.html"))
    assert check(world, url)["reason"] == "parked"


def test_301_to_the_same_content_is_moved(world: Config, server: TestServer) -> None:
    url = server.route("/check/old-home", ARTICLE)
    snap(world, url)
    new = server.route("/check/new-home/article", ARTICLE)
    server.routes["/check/old-home"] = Route(status=301, headers={"Location": new})
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"], result["final_url"]) == (
        "moved", "redirect", "moved", new)


def test_trivial_redirect_is_not_a_move(world: Config, server: TestServer) -> None:
    url = server.route("/check/slash", ARTICLE)
    snap(world, url)
    server.route("/check/slash/", ARTICLE)
    server.routes["/check/slash"] = Route(status=301, headers={"Location": "/check/slash/"})
    result = check(world, url)
    assert (result["verdict"], result["state"]) == ("ok", "ok")


def test_500_that_recovers_resets_the_failures(world: Config, server: TestServer) -> None:
    url = server.route("/check/flaky", ARTICLE)
    snap(world, url)
    server.routes["/check/flaky"] = html_route("<h1>Internal Server Error</h1>", status=500)
    failed = check(world, url)
    assert (failed["reason"], failed["state"], failed["failures"]) == ("http-5xx", "failing", 1)
    server.routes["/check/flaky"] = html_route(ARTICLE)
    recovered = check(world, url)
    assert (recovered["state"], recovered["failures"]) == ("ok", 0)


@pytest.mark.parametrize(("status", "reason"), [(403, "http-403"), (401, "http-401"), (451, "http-451")])
def test_refusals_are_blocked_never_dead(world: Config, server: TestServer, status: int, reason: str) -> None:
    path = f"/check/blocked-{status}"
    url = server.route(path, ARTICLE)
    snap(world, url)
    server.routes[path] = html_route("<h1>Forbidden</h1>", status=status)
    for _ in range(4):
        result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"], result["failures"]) == (
        "blocked", reason, "blocked", 0)


def test_429_with_retry_after_is_blocked(world: Config, server: TestServer) -> None:
    url = server.route("/check/busy", ARTICLE)
    snap(world, url)
    server.routes["/check/busy"] = Route(status=429, headers={"Retry-After": "3600"}, body=b"slow down")
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("blocked", "http-429", "blocked")


def test_bot_challenge_is_blocked(world: Config, server: TestServer) -> None:
    url = server.route("/check/challenge", ARTICLE)
    snap(world, url)
    server.routes["/check/challenge"] = html_route(sample_html("challenge-cloudflare.html"), status=403,
                                                   headers={"Server": "cloudflare"})
    assert check(world, url)["state"] == "blocked"


def test_rotating_noise_stays_ok_over_ten_checks(world: Config, server: TestServer) -> None:
    counter = iter(range(1000))

    def noisy(req: Any) -> None:
        respond(req, body=noisy_variant(ARTICLE, next(counter)).encode(), content_type="text/html; charset=utf-8")

    url = server.route("/check/noisy", handler=noisy)
    snap(world, url)
    for _ in range(10):
        result = check(world, url)
        assert (result["verdict"], result["state"]) == ("ok", "ok"), result
        assert result["similarity"] >= 0.95


def test_rewritten_article_is_changed_and_kept_as_a_new_version(world: Config, server: TestServer) -> None:
    from .test_extract import corpus_extracted

    url = server.route("/check/rewritten", ARTICLE)
    snap(world, url)
    server.routes["/check/rewritten"] = html_route(
        rewritten_variant(ARTICLE, corpus_extracted("netzpolitik.org.abmahnungen.html").text))
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("changed", "drift", "changed")
    assert result["similarity"] < 0.5
    with Archive(world) as archive:
        link = archive.store.link(normalize_url(url))
        captures = archive.store.captures_for(link["id"])
        assert [c["kind"] for c in captures] == ["response", "response"]
        assert link["cited_capture_id"] == captures[0]["id"]  # the cited copy stays the reference
        assert link["latest_capture_id"] == captures[1]["id"]


def test_two_percent_edit_is_a_minor_edit(world: Config, server: TestServer) -> None:
    url = server.route("/check/edited", ARTICLE)
    snap(world, url)
    server.routes["/check/edited"] = html_route(edited_variant(ARTICLE, 0.02, seed=7))
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("ok", "minor-edit", "ok")
    assert 0.8 < result["similarity"] < 1.0


def test_identical_payload_skips_extraction_and_writes_a_revisit(world: Config, server: TestServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = server.route("/check/same", ARTICLE)
    snap(world, url)
    check(world, url)  # the cited copy's text is now cached

    import archiver.check.pages

    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("extraction should be skipped for an identical payload")

    monkeypatch.setattr(archiver.check.pages, "extract", no_extraction)
    result = check(world, url)
    assert (result["reason"], result["similarity"]) == ("unchanged", 1.0)
    with Archive(world) as archive:
        kinds = [c["kind"] for c in archive.store.captures_for(archive.store.link(normalize_url(url))["id"])]
    assert kinds == ["response", "revisit", "revisit"]


def test_single_transient_failure_never_becomes_dead(world: Config, server: TestServer) -> None:
    url = server.route("/check/transient", ARTICLE)
    snap(world, url)
    server.routes["/check/transient"] = html_route("<h1>Bad Gateway</h1>", status=502)
    assert check(world, url)["state"] == "failing"
    server.routes["/check/transient"] = html_route(ARTICLE)
    for _ in range(5):
        assert check(world, url)["state"] == "ok"


def test_check_cli_fail_on_and_diff(world: Config, server: TestServer, tmp_path: Path) -> None:
    url = server.route("/check/cli", ARTICLE)
    config_path = tmp_path / "cli.toml"
    config_path.write_text(
        f'[archive]\ndir = "{world.archive.dir}"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
        'retries = 0\n[check]\nconfirm_checks = 1\nconfirm_span = "0s"\n'
        '[external]\nlookup = false\nsubmit = false\n'  # never ask the public web archives from a test
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config_path), "snapshot", url]).exit_code == 0
    server.routes["/check/cli"] = html_route(edited_variant(ARTICLE, 0.3, seed=3))
    result = runner.invoke(cli, ["--config", str(config_path), "check", url, "--fail-on", "dead,changed"])
    assert result.exit_code == 3, result.output
    assert "changed" in result.output and "drift" in result.output
    diff = runner.invoke(cli, ["--config", str(config_path), "diff", url])
    assert diff.exit_code == 0, diff.output
    assert diff.output.startswith("similarity 0.")
    assert "\n-" in diff.output and "\n+" in diff.output
    history = runner.invoke(cli, ["--config", str(config_path), "links", url])
    assert "captured" in history.output and "drift" in history.output
    ok = runner.invoke(cli, ["--config", str(config_path), "check", url, "--fail-on", "dead"])
    assert ok.exit_code == 0, ok.output


def test_a_large_check_extracts_in_worker_processes(world: Config, server: TestServer) -> None:
    from archiver.check.run import POOL_THRESHOLD

    paths = [f"/check/pool/{n}" for n in range(POOL_THRESHOLD + 5)]
    urls = [server.route(path, ARTICLE.replace("</body>", f"<!-- {n} --></body>")) for n, path in enumerate(paths)]
    snap(world, *urls)
    from .test_extract import corpus_extracted

    server.routes[paths[0]] = html_route(rewritten_variant(ARTICLE, corpus_extracted("lemire.me.json.html").text))
    with Archive(world) as archive:
        rows = [archive.store.link(url) for url in urls]
        outcomes = asyncio.run(check_links(archive, rows))
    states = {o.url: (o.state, o.judgement.reason) for o in outcomes}
    assert states.pop(urls[0])[0] == "changed"
    assert set(states.values()) == {("ok", "unchanged")}


def test_challenge_page_with_503_is_blocked_not_dead(world: Config, server: TestServer) -> None:
    url = server.route("/check/challenge-503", ARTICLE)
    snap(world, url)
    server.routes["/check/challenge-503"] = html_route(sample_html("challenge-cloudflare.html"), status=503,
                                                       headers={"Server": "cloudflare", "cf-mitigated": "challenge"})
    for _ in range(4):
        result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("blocked", "challenge", "blocked")


def test_identical_payload_never_extracts_the_cited_copy(world: Config, server: TestServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import archiver.check.pages

    url = server.route("/check/identical-fresh", ARTICLE)
    snap(world, url)

    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("no extraction needed for a byte-identical page")

    monkeypatch.setattr(archiver.check.pages, "extract", no_extraction)
    assert check(world, url)["reason"] == "unchanged"  # first check: the cited text was never extracted


def test_a_document_without_text_is_changed_when_its_bytes_change(world: Config, server: TestServer) -> None:
    """A cited PDF has no main text to compare: new bytes mean it changed (same bytes: ok)."""
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n% report, first edition\n%%EOF\n"
    url = server.route("/check/report.pdf", pdf, content_type="application/pdf")
    snap(world, url)
    assert (check(world, url)["verdict"], check(world, url)["reason"]) == ("ok", "unchanged")
    server.routes["/check/report.pdf"] = Route(body=pdf.replace(b"first", b"second"), content_type="application/pdf")
    changed = check(world, url)
    assert (changed["verdict"], changed["reason"], changed["state"], changed["similarity"]) == \
        ("changed", "drift", "changed", None)
    assert "application/pdf" in (changed["check"].judgement.detail or "")


def test_a_page_rendered_by_script_is_not_changed_by_a_new_build(world: Config, server: TestServer) -> None:
    """An HTML shell without text changes its bundle name at each deploy; that is no change of content."""
    shell = ('<!doctype html><html><head><title></title><script src="/app.{}.js"></script></head>'
             '<body><div id="root"></div></body></html>')
    url = server.route("/check/app", shell.format("1a2b"))
    snap(world, url)
    server.routes["/check/app"] = html_route(shell.format("9f8e"))
    assert check(world, url)["verdict"] == "ok"


def test_a_cited_pdf_is_compared_by_its_text(world: Config, server: TestServer) -> None:
    """A PDF's text is its main text: a corrected figure is a minor edit, a new report is changed."""
    from .pdf import make_pdf

    lines = [f"Finding {n}: the survey of {n * 37} households shows rents rose in district {n % 9}." for n in range(40)]
    url = server.route("/check/study.pdf", make_pdf([lines[:20], lines[20:]], title="Rent study"),
                       content_type="application/pdf")
    snap(world, url)
    corrected = [*lines[:5], "Finding 5: the survey of 186 households shows rents fell in district 5.", *lines[6:]]
    server.routes["/check/study.pdf"] = Route(body=make_pdf([corrected], title="Rent study"),
                                              content_type="application/pdf")
    edit = check(world, url)
    assert (edit["verdict"], edit["reason"], edit["state"]) == ("ok", "minor-edit", "ok")
    other = [f"Chapter {n}: a history of the harbour, the ships and their crews in year {1800 + n}." for n in range(40)]
    server.routes["/check/study.pdf"] = Route(body=make_pdf([other], title="Harbour history"),
                                              content_type="application/pdf")
    new = check(world, url)
    assert (new["verdict"], new["reason"], new["state"]) == ("changed", "drift", "changed")
    assert new["similarity"] is not None and new["similarity"] < 0.2


def _hop(url: str, status: int, digest: str = "", location: str | None = None) -> Any:
    from datetime import UTC, datetime

    from archiver.models import Hop

    headers = ((b"Location", location.encode()),) if location else ()
    return Hop(url=url, method="GET", request_headers=(), http_version="HTTP/1.1", status=status, reason="",
               response_headers=(*headers, (b"Content-Type", b"text/html")), started_at=datetime.now(UTC),
               payload_digest=digest)


def test_moved_is_judged_against_where_the_cited_copy_landed() -> None:
    """A 301 the cited copy was already reached through is no move; a 301 somewhere else is."""
    from archiver.check.run import judge_fetch
    from archiver.models import FetchResult
    from archiver.check.pages import PageText, TextExtractor

    old, landing = "https://a.example/old", "https://b.example/new-home"
    result = FetchResult(url=old, hops=[_hop(old, 301, location=landing), _hop(landing, 200, "sha1:SAME")])

    def verdict(cited_final_url: str) -> str:
        cited = PageText("Title", "the cited text", "sha1:f", "sha1:SAME", cited_final_url)
        judgement, live = asyncio.run(judge_fetch(result, cited, cited_url=old, changed_below=0.8, probes=None,
                                                  extractor=TextExtractor(1 << 20)))
        assert live is None  # byte-identical: nothing extracted, nothing to store as the live text
        return judgement.verdict.value

    assert verdict(landing) == "ok"
    assert verdict("https://b.example/new-home/") == "ok"  # a trivial variant of where it landed
    assert verdict(old) == "moved"


@pytest.mark.parametrize("cut", [10, 2000])
def test_a_cut_short_record_is_a_damaged_copy_never_a_revisits_original(world: Config, server: TestServer,
                                                                        cut: int) -> None:
    from archiver.check.pages import DamagedCopy, TextExtractor

    url = server.route(f"/check/damaged-unit-{cut}", ARTICLE)
    snap(world, url)
    with Archive(world) as archive:
        link = archive.store.link(normalize_url(url))
        capture = archive.store.capture(link["cited_capture_id"])
        with open(archive.warc_dir / capture["warc"], "r+b") as handle:
            handle.truncate(capture["offset"] + capture["length"] - cut)
        with pytest.raises(DamagedCopy) as raised:
            asyncio.run(TextExtractor(1 << 22).of_capture(archive.store, archive.warc_dir, capture))
        assert capture["warc"] in str(raised.value) and "damaged" in str(raised.value)
        assert archive.store.last_response_capture(link["id"])["id"] == capture["id"]
        archive.store.mark_damaged(capture["id"], raised.value.problem)
        assert archive.store.last_response_capture(link["id"]) is None


def test_a_run_takes_hosts_in_turn_so_one_hosts_links_do_not_hold_every_worker() -> None:
    # links come sorted by URL: one host's links together, and that host has only
    # per_host_concurrency slots; each host's links keep their order
    from archiver.check.run import _by_host_in_turn

    urls = ["http://a.test/1", "http://a.test/2", "http://a.test/3", "http://b.test/1", "http://b.test/2",
            "http://c.test/1", "not a url ["]
    order = [link["url"] for link in _by_host_in_turn({"url": url} for url in urls)]
    assert order == ["http://a.test/1", "http://b.test/1", "http://c.test/1", "not a url [",
                     "http://a.test/2", "http://b.test/2", "http://a.test/3"]


def test_a_run_reads_each_link_when_its_check_starts(world: Config, server: TestServer) -> None:
    """A long run reads brief rows up front and each link whole when its check starts: a link a
    reviewer ignored after the run read its links is not fetched, and the others are judged."""
    from archiver.review.decisions import decide

    kept_url = server.route("/check/brief-kept", ARTICLE)
    ignored_url = server.route("/check/brief-ignored", OTHER)
    snap(world, kept_url, ignored_url)
    hits = server.routes["/check/brief-ignored"].hits
    with Archive(world) as archive:
        rows = list(archive.store.iter_links())
        decide(archive.store, "ignore", url=ignored_url, by="test")
        outcomes = asyncio.run(check_links(archive, rows))
        assert [(o.url, o.judgement.reason) for o in outcomes] == [(normalize_url(kept_url), "unchanged")]
    assert server.routes["/check/brief-ignored"].hits == hits


def test_a_check_and_its_capture_are_recorded_together(world: Config, server: TestServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A check's capture and the check itself commit in one transaction: when recording the check
    fails (or the run dies there), no capture is left recorded without its check, and the bytes
    written for it are set aside by the next run, never lost or claimed twice."""
    from archiver.archive.store import Store

    from .faults.invariants import assert_archive_consistent

    url = server.route("/check/together", ARTICLE)
    snap(world, url)
    server.routes["/check/together"] = html_route(noisy_variant(ARTICLE, 1))  # new bytes: a new capture

    def fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    def recorded() -> tuple[int, int]:
        with Store.open(world.archive.dir) as store:
            link = store.link(normalize_url(url))
            assert link is not None
            return len(store.captures_for(link["id"])), len(store.checks(link["id"]))

    before = recorded()
    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="went away"):
        patch.setattr(Store, "record_check_unless_decided", fails)
        with Archive(world) as archive:  # the run ends in the error, as `archiver check` would
            asyncio.run(check_links(archive, [archive.store.link(normalize_url(url))]))
    assert recorded() == before  # neither the capture nor the check
    assert_archive_consistent(world.archive.dir)  # the bytes written for them are set aside
    assert check(world, url)["reason"] == "unchanged"
