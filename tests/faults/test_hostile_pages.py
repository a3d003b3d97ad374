"""One hostile page costs one link, never a run (issue 10, items 5, 6, 8, 9).

A real local server serves the hostile pages next to ordinary ones; each test
runs what a user runs (``collect``, ``snapshot``, ``check``, ``sweep``) and
asserts that the run completes, that the bad item is reported with a message
that names it, and that the other links of the same run are fine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from archiver.collect import harvest
from archiver.cli import cli

from ..server import TestServer, respond
from .invariants import assert_archive_consistent

GOOD_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body><article>"
    "<h1>{title}</h1>"
    "<p>The report on river levels was published in spring; its figures are cited by "
    "<a href='https://cited.example/{slug}/report'>the regional water office</a> and were checked twice.</p>"
    "<p>Readers asked where the measurements came from, and the authors answered in detail, "
    "listing stations, dates and the methods used for each of them over the whole decade.</p>"
    "</article></body></html>"
)


def good_page(slug: str, title: str = "River levels") -> str:
    return GOOD_PAGE.format(slug=slug, title=title)


def write_config(tmp_path: Path, extra: str = "") -> tuple[str, Path]:
    archive = tmp_path / "archives"
    path = tmp_path / "config.toml"
    path.write_text(
        f'[archive]\ndir = "{archive}"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
        f'retries = 0\nread_timeout = "5s"\ntotal_timeout = "20s"\n[external]\nlookup = false\n{extra}'
    )
    return str(path), archive


def run(config: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", config, *args])


def cpu() -> float:
    """CPU seconds of this process and its waited-for children (extraction workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


# -- 5. a declared charset that is no text encoding -----------------------------------------------

# Python codecs a page may name that are not text encodings (LookupError on
# bytes.decode), or that raise on arbitrary bytes (idna, undefined), or that no
# browser decodes with (utf-7, punycode).
BAD_CHARSETS = ["rot13", "base64", "hex", "zlib", "bz2", "uu", "quopri", "idna", "undefined", "punycode", "utf-7"]


def charset_pages(server: TestServer, prefix: str) -> dict[str, str]:
    """One page per bad charset, declared in <meta> and (for every other one) in the header too."""
    urls = {}
    for index, label in enumerate(BAD_CHARSETS):
        body = good_page(f"{prefix}-{label}").replace("<meta charset='utf-8'>", f'<meta charset="{label}">')
        content_type = f"text/html; charset={label}" if index % 2 else "text/html"
        urls[label] = server.route(f"/hostile/{prefix}/{label}", body, content_type=content_type)
    return urls


def test_collect_reads_pages_declaring_non_text_charsets(server: TestServer, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path)
    pages = charset_pages(server, "collect")
    good = server.route("/hostile/collect/good", good_page("good"))
    result = run(config, "collect", "--format", "json", *pages.values(), good)
    assert result.exit_code == 0, result.output
    cited = {c["source"]: c["url"] for c in json.loads(result.stdout)}
    assert cited[good] == "https://cited.example/good/report"
    for label, url in pages.items():  # decoded as if nothing was declared: the citation is found
        assert cited.get(url) == f"https://cited.example/collect-{label}/report", label
        assert f"charset {label!r} declared in the document; ignored" in result.stderr, label


def test_check_judges_pages_declaring_non_text_charsets(server: TestServer, tmp_path: Path) -> None:
    config, archive = write_config(tmp_path)
    pages = charset_pages(server, "check")
    good = server.route("/hostile/check/good", good_page("good"))
    assert run(config, "snapshot", *pages.values(), good).exit_code == 0
    time.sleep(1.1)  # captures are timed to the second; the invariants tell fetches apart by their time
    # a one-word edit: the checker decodes and extracts the live page (the cited copy was at capture)
    for path in [f"/hostile/check/{label}" for label in BAD_CHARSETS] + ["/hostile/check/good"]:
        route = server.routes[path]
        route.body = route.body.replace(b"checked twice", b"checked three times")
    result = run(config, "check", "--all", "--format", "json")
    assert result.exit_code == 0, result.output
    outcomes = {o["url"]: o for o in json.loads(result.stdout)}
    assert len(outcomes) == len(pages) + 1
    for url in [*pages.values(), good]:
        assert (outcomes[url]["state"], outcomes[url]["reason"]) == ("ok", "minor-edit"), outcomes[url]
    assert_archive_consistent(archive)
    # and a later check of the same links works as well (nothing left due and broken)
    again = run(config, "check", "--all")
    assert again.exit_code == 0, again.output


def test_feeds_declaring_non_text_encodings_are_read(server: TestServer, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path)
    page = server.route("/hostile/feed-charset/page", good_page("from-feed"))
    feeds = []
    for label in ("undefined", "punycode", "base64", "idna"):
        rss = (f'<?xml version="1.0" encoding="{label}"?><rss version="2.0"><channel><title>t</title>'
               f"<item><title>a</title><link>{page}</link></item></channel></rss>")
        sitemap = (f'<?xml version="1.0" encoding="{label}"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                   f'sitemap/0.9"><url><loc>{page}</loc></url></urlset>')
        feeds.append(server.route(f"/hostile/feed-charset/{label}.rss", rss, content_type="application/rss+xml"))
        feeds.append(server.route(f"/hostile/feed-charset/{label}.xml", sitemap, content_type="application/xml"))
    for feed in feeds:
        result = run(config, "collect", "--format", "json", feed)
        assert result.exit_code == 0, (feed, result.output)
        assert [c["url"] for c in json.loads(result.stdout)] == ["https://cited.example/from-feed/report"], feed


# -- 6. loops of sitemaps and feeds -----------------------------------------------------------------

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def sitemap_index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="{SITEMAP_NS}">{entries}</sitemapindex>'


def urlset(*locs: str) -> str:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{SITEMAP_NS}">{entries}</urlset>'


def xml_route(server: TestServer, path: str, body: str) -> str:
    return server.route(path, body, content_type="application/xml")


def test_a_sitemap_index_listing_itself_is_reported_and_the_rest_collected(server: TestServer,
                                                                           tmp_path: Path) -> None:
    config, _ = write_config(tmp_path)
    page = server.route("/hostile/loop1/page", good_page("loop1"))
    pages = xml_route(server, "/hostile/loop1/pages.xml", urlset(page))
    index = server.url("/hostile/loop1/index.xml")
    xml_route(server, "/hostile/loop1/index.xml", sitemap_index(index, pages))
    result = run(config, "collect", "--format", "json", index)
    assert result.exit_code == 0, result.output
    assert [c["url"] for c in json.loads(result.stdout)] == ["https://cited.example/loop1/report"]
    assert f"{index} lists {index}, which lists it in turn: a loop of sitemaps" in result.stderr
    assert server.routes["/hostile/loop1/index.xml"].hits == 1


def test_a_loop_of_sitemaps_in_a_sweep_costs_one_source(server: TestServer, tmp_path: Path) -> None:
    page_a = server.route("/hostile/loop2/a-page", good_page("loop2-a"))
    page_b = server.route("/hostile/loop2/b-page", good_page("loop2-b"))
    a, b = server.url("/hostile/loop2/a.xml"), server.url("/hostile/loop2/b.xml")
    a_pages = xml_route(server, "/hostile/loop2/a-pages.xml", urlset(page_a))
    xml_route(server, "/hostile/loop2/a.xml", sitemap_index(b, a_pages))
    xml_route(server, "/hostile/loop2/b.xml", sitemap_index(a, server.url("/hostile/loop2/b-pages.xml")))
    xml_route(server, "/hostile/loop2/b-pages.xml", urlset(page_b, a))  # a sitemap listed as a page, too
    other = server.route("/hostile/loop2/other", good_page("loop2-other"))
    config, archive = write_config(tmp_path, f'[[sources]]\nfeed = "{a}"\n[[sources]]\nurl = "{other}"\n'
                                             f'[report]\nformats = ["json"]\n')
    result = run(config, "sweep")
    assert result.exit_code == 0, result.output
    assert f"{b} lists {a}, which lists it in turn: a loop of sitemaps" in result.output
    links = {row["url"]: row for row in json.loads(run(config, "links", "--format", "json").stdout)}
    for slug in ("loop2-a", "loop2-b", "loop2-other"):
        assert f"https://cited.example/{slug}/report" in links, slug
    assert server.routes["/hostile/loop2/a.xml"].hits == 1
    assert server.routes["/hostile/loop2/b.xml"].hits == 1
    assert_archive_consistent(archive)


def test_sitemaps_nested_without_end_stop_at_the_depth_limit(server: TestServer, tmp_path: Path) -> None:
    """Each sitemap lists a new one (?n+1): no URL repeats, the depth limit ends it."""
    config, _ = write_config(tmp_path)
    page = server.route("/hostile/deep/page", good_page("deep"))

    def endless(req: Any) -> None:
        n = int(req.path.rsplit("=", 1)[1]) if "=" in req.path else 0
        body = sitemap_index(server.url(f"/hostile/deep/index.xml?n={n + 1}"), server.url("/hostile/deep/pages.xml"))
        respond(req, body=body.encode(), content_type="application/xml")

    server.route("/hostile/deep/index.xml", handler=endless)
    xml_route(server, "/hostile/deep/pages.xml", urlset(page))
    result = run(config, "collect", "--format", "json", server.url("/hostile/deep/index.xml"))
    assert result.exit_code == 0, result.output
    assert [c["url"] for c in json.loads(result.stdout)] == ["https://cited.example/deep/report"]
    assert "sitemaps nested more than 3 levels deep" in result.stderr
    assert server.routes["/hostile/deep/index.xml"].hits <= 4




def test_a_source_reads_a_bounded_number_of_sitemaps(server: TestServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harvest, "MAX_SITEMAPS", 3)
    config, _ = write_config(tmp_path)
    children = []
    for n in range(6):
        page = server.route(f"/hostile/wide/page{n}", good_page(f"wide{n}"))
        children.append(xml_route(server, f"/hostile/wide/pages{n}.xml", urlset(page)))
    index = xml_route(server, "/hostile/wide/index.xml", sitemap_index(*children))
    result = run(config, "collect", "--format", "json", index)
    assert result.exit_code == 0, result.output
    assert sorted(c["url"] for c in json.loads(result.stdout)) == [
        f"https://cited.example/wide{n}/report" for n in range(3)]
    assert f"more than 3 sitemaps for one source: {children[3]} (listed by {index}) and the rest not read" \
        in result.stderr


def test_a_sweep_keeps_the_citations_of_a_feed_entry_page_over_its_summary(server: TestServer,
                                                                           tmp_path: Path) -> None:
    """A feed entry's own content stands in for its page only when the page cannot be read."""
    page = server.route("/hostile/feed-sweep/page", good_page("feed-sweep-page"))
    gone = server.url("/hostile/feed-sweep/gone")
    items = "".join(
        f"<item><title>{n}</title><link>{link}</link><description>&lt;p&gt;Summary citing "
        f"&lt;a href='https://cited.example/summary-{n}/'&gt;a summary link&lt;/a&gt;.&lt;/p&gt;</description></item>"
        for n, link in (("a", page), ("b", gone))
    )
    feed = server.route("/hostile/feed-sweep/feed.rss", f'<?xml version="1.0"?><rss version="2.0"><channel>'
                        f"<title>t</title>{items}</channel></rss>", content_type="application/rss+xml")
    config, _ = write_config(tmp_path, f'[[sources]]\nfeed = "{feed}"\n[report]\nformats = ["json"]\n')
    result = run(config, "sweep")
    assert result.exit_code == 0, result.output
    links = {row["url"] for row in json.loads(run(config, "links", "--format", "json").stdout)}
    assert "https://cited.example/feed-sweep-page/report" in links  # the page's own citation
    assert "https://cited.example/summary-a/" not in links  # the page was read: its summary is not
    assert "https://cited.example/summary-b/" in links  # the page is gone: its summary stands in

# -- 8. markup that costs the parser minutes ---------------------------------------------------------


def attribute_flood(slug: str, attributes: int = 100_000) -> str:
    """A page whose article holds one <div> with ``attributes`` attributes (0.9 MB)."""
    flood = " ".join(f"a{i}=x" for i in range(attributes))
    return good_page(slug).replace("<article>", f"<article><div {flood}>flood</div>")


def inline_flood(slug: str, spans: int = 40_000) -> str:
    """A page whose article ends with one paragraph of ``spans`` inline elements (0.6 MB)."""
    return good_page(slug).replace("</article>", "<p>" + "<span>w</span>" * spans + "</p></article>")


@pytest.mark.slow
def test_markup_floods_cost_seconds_not_minutes(server: TestServer, tmp_path: Path) -> None:
    config, archive = write_config(tmp_path)
    pages = {
        "attributes": server.route("/hostile/flood/attributes", attribute_flood("flood-attributes")),
        "inline": server.route("/hostile/flood/inline", inline_flood("flood-inline")),
        "good": server.route("/hostile/flood/good", good_page("flood-good")),
    }
    started = cpu()  # CPU, not wall time: a loaded machine must not fail the test
    result = run(config, "collect", "--format", "json", *pages.values())
    seconds = cpu() - started
    assert result.exit_code == 0, result.output
    cited = {c["source"]: c["url"] for c in json.loads(result.stdout)}
    assert cited == {url: f"https://cited.example/flood-{name}/report" for name, url in pages.items()}
    assert "1 tag(s) with more than 256 attributes: the attributes past that were not read" in result.stderr
    assert seconds < 20, f"collect took {seconds:.1f}s of CPU"

    assert run(config, "snapshot", *pages.values()).exit_code == 0
    time.sleep(1.1)  # captures are timed to the second; the invariants tell fetches apart by their time
    for path in ("/hostile/flood/attributes", "/hostile/flood/inline", "/hostile/flood/good"):
        route = server.routes[path]
        route.body = route.body.replace(b"checked twice", b"checked three times")  # a minor edit: extracted
    started = cpu()
    result = run(config, "check", "--all", "--format", "json")
    seconds = cpu() - started
    assert result.exit_code == 0, result.output
    outcomes = {o["url"]: o for o in json.loads(result.stdout)}
    assert {url: outcomes[url]["state"] for url in pages.values()} == dict.fromkeys(pages.values(), "ok")
    assert seconds < 20, f"check took {seconds:.1f}s of CPU"
    assert_archive_consistent(archive)


# -- 9. decompression bombs cost their cap in memory, not the page ------------------------------------

_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout)\n"
    "sys.stderr.write(done.stderr)\n"
    "print('peak-rss-kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)


def archiver_peak_rss(config: str, *args: str) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr and peak RSS (MB) of ``archiver`` run in a process of its own."""
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "archiver", "--config", config,
                           *args], capture_output=True, text=True, timeout=600)
    peak = [line for line in done.stderr.splitlines() if line.startswith("peak-rss-kb ")]
    return done.returncode, done.stdout, done.stderr, int(peak[-1].split()[1]) / 1024


def gzip_bomb(size: int) -> bytes:
    """An HTML page of ``size`` bytes, gzip-compressed (about 1,000 times smaller)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"a" * (1 << 20)
    parts = [packer.compress(b"<html><body><p>")]
    parts += [packer.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


@pytest.mark.slow
def test_a_decompression_bomb_costs_its_cap_in_memory_not_the_page(server: TestServer, tmp_path: Path) -> None:
    config, archive = write_config(tmp_path)
    bomb = gzip_bomb(256 << 20)  # 256 MB inflated, past the 200 MB a 50 MB max_body allows a body
    cited = server.route("/hostile/bomb/cited", good_page("bomb-cited"))
    good = server.route("/hostile/bomb/good", good_page("bomb-good"))
    assert run(config, "snapshot", cited, good).exit_code == 0
    time.sleep(1.1)  # captures are timed to the second; the invariants tell fetches apart by their time
    server.route("/hostile/bomb/cited", bomb, headers={"Content-Encoding": "gzip"})  # the cited page turns bomb

    code, out, err, peak = archiver_peak_rss(config, "check", "--all", "--format", "json")
    assert code == 0, err
    outcomes = {o["url"]: o for o in json.loads(out)}
    assert outcomes[good]["state"] == "ok"
    assert outcomes[cited]["state"] == "changed"  # a page of "aaa..." no longer carries the cited text
    assert peak < 200, f"check held {peak:.0f} MB"

    bombed = server.route("/hostile/bomb/collect", bomb, headers={"Content-Encoding": "gzip"})
    code, out, err, peak = archiver_peak_rss(config, "collect", "--format", "json", bombed, good)
    assert code == 0, err
    assert [c["url"] for c in json.loads(out)] == ["https://cited.example/bomb-good/report"]
    assert f"{bombed}:0: the page is larger than 16 MB once decompressed: only that much of it was read" in err
    assert peak < 200, f"collect held {peak:.0f} MB"
    assert_archive_consistent(archive)
