"""Application shells rendered in headless Chromium (SPEC §5 ``[render]``, §6; archiver.check.render).

A local site serves a script shell whose article comes from a JSON API, like
the news sites built as single-page applications: the raw HTML never changes,
the article does. The renders go through the real Chromium (Debian's
``chromium`` through Playwright); the tests that need it are skipped where it
is not installed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.archive import Archive
from archiver.config import Config, RenderConfig
from archiver.check.render import Renderer, find_browser, looks_like_shell, rendered_key

from .server import Route, respond
from .test_check import ARTICLE, check, snap, world  # noqa: F401  (world: a fixture)

needs_chromium = pytest.mark.skipif(find_browser("") is None, reason="no Chromium installed")

SHELL = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Daily News</title>
<script defer src="/static/app.js"></script></head><body><div id="root"></div></body></html>"""

APP = b"""
fetch('/api/article' + location.pathname).then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
  .then(function (pair) {
    var root = document.getElementById('root'), d = pair[1];
    if (pair[0] !== 200) { document.title = 'Page not found'; root.innerHTML = '<h1>Page not found</h1>'
      + '<p>Sorry, the page you are looking for does not exist.</p>'; return; }
    document.title = d.title + ' | Daily News';
    root.innerHTML = '<article><h1>' + d.title + '</h1>' + d.paragraphs.map(function (p) {
      return '<p>' + p + '</p>'; }).join('') + '</article>';
  });
"""

PARAGRAPHS = [
    "The city council voted on Tuesday to extend the tram line to the northern districts, ending a debate that "
    "had lasted for more than a decade and divided residents of the old town.",
    "Construction is to begin next spring. The council expects the first trams to run within four years, "
    "although critics warned that similar projects elsewhere took twice as long and cost far more than planned.",
    "The mayor said the extension would connect forty thousand residents to the centre and reduce car traffic "
    "on the ring road, which is congested every morning and every evening.",
    "Opposition members argued that the money would be better spent on buses, which can be rerouted as the city "
    "grows, and asked for an independent review of the passenger forecasts before any contract is signed.",
]
REWRITTEN = [
    "A recipe for apple pie: peel and slice six apples, mix them with sugar, cinnamon and a little lemon juice, "
    "then fill a buttered dish lined with pastry.",
    "Bake for forty minutes until golden. Serve warm with cream or vanilla ice cream, and keep what is left "
    "covered in a cool place for up to two days.",
]


class Api:
    """The JSON API behind the shell: a test sets the article, or None for a 404."""

    def __init__(self) -> None:
        self.article: dict[str, Any] | None = {"title": "Tram line to be extended", "paragraphs": PARAGRAPHS}

    def __call__(self, req: Any) -> None:
        if self.article is None:
            respond(req, 404, b'{"error": "not found"}', content_type="application/json")
        else:
            respond(req, 200, json.dumps(self.article).encode(), content_type="application/json")


def spa_site(make_server: Any) -> tuple[Any, Api]:
    site, api = make_server(), Api()
    site.routes["/static/app.js"] = Route(body=APP, content_type="application/javascript")
    site.routes["*"] = Route(body=SHELL)  # every article path answers the same shell
    site.routes["/api/article/news/tram.html"] = Route(handler=api)
    return site, api


def warc_records(config: Config) -> list[Any]:
    found = []
    for path in sorted((config.archive.dir / "warcs").glob("*.warc.gz*")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                found.append((record.rec_type, dict(record.rec_headers.headers), record.content_stream().read()))
    return found


@needs_chromium
@pytest.mark.slow
def test_script_rendered_article_is_judged_on_its_rendered_text(world: Config, make_server) -> None:
    site, api = spa_site(make_server)
    url = site.url("/news/tram.html")
    snap(world, url)
    with Archive(world) as archive:
        link = archive.store.link(url)
        assert link is not None and link["state"] == "ok"
        cited = archive.store.text_for(rendered_key(link["cited_capture_id"]))
        capture = archive.store.capture(link["cited_capture_id"])
        recorded = [r["record_type"] for r in archive.store.records(link["cited_capture_id"])]
    assert recorded[-2:] == ["conversion", "resource"]  # the database knows where they are
    assert cited is not None and "tram line to the northern districts" in cited["text"]
    records = warc_records(world)
    conversions = [r for r in records if r[0] == "conversion"]
    screenshots = [r for r in records if r[0] == "resource"]
    assert conversions and conversions[0][1]["WARC-Refers-To"] == capture["record_id"]
    assert b"tram line to the northern districts" in conversions[0][2]
    assert screenshots[0][1]["WARC-Target-URI"] == f"urn:screenshot:{url}"
    assert screenshots[0][1]["WARC-Refers-To"] == capture["record_id"]
    assert screenshots[0][2].startswith(b"\x89PNG")

    assert (check(world, url)["verdict"], check(world, url)["reason"]) == ("ok", "unchanged")
    api.article = {"title": "Apple pie", "paragraphs": REWRITTEN}  # the raw HTML is byte-identical
    changed = check(world, url)
    assert (changed["verdict"], changed["state"]) == ("changed", "changed")
    api.article = None  # the API says 404: the app shows its not-found page
    gone = check(world, url)
    assert (gone["verdict"], gone["reason"]) == ("failed", "soft-404")


@needs_chromium
@pytest.mark.slow
def test_without_rendering_the_same_shell_is_wrongly_ok(world: Config, make_server) -> None:
    """What rendering fixes: with mode = never, a rewritten article behind a shell reads as unchanged."""
    site, api = spa_site(make_server)
    url = site.url("/news/tram.html")
    config = replace(world, render=RenderConfig(mode="never"))
    snap(config, url)
    api.article = {"title": "Apple pie", "paragraphs": REWRITTEN}
    assert check(config, url)["verdict"] == "ok"
    assert not [r for r in warc_records(config) if r[0] in ("conversion", "resource")]


def test_missing_chromium_warns_once_and_judges_the_raw_html(world: Config, make_server, caplog) -> None:
    site, api = spa_site(make_server)
    url = site.url("/news/tram.html")
    config = replace(world, render=RenderConfig(mode="auto", browser="/nonexistent/chromium"))
    with caplog.at_level(logging.WARNING, logger="archiver.check.render"):
        snap(config, url)
        result = check(config, url)
    assert result["verdict"] == "ok"  # raw HTML judgement, as before rendering existed
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "archiver.check.render"]
    assert len(warnings) == 2 and all("no Chromium found (/nonexistent/chromium)" in w for w in warnings)


def test_shell_detection() -> None:
    assert looks_like_shell(SHELL.decode())
    assert looks_like_shell('<html><body><app-root></app-root><script src="main.js"></script></body></html>')
    assert not looks_like_shell(ARTICLE)
    assert not looks_like_shell("<html><body><h1>Hello</h1><p>A short static page.</p></body></html>")


def test_the_browser_refuses_private_addresses_and_other_schemes(world: Config) -> None:
    guarded = replace(world, fetch=replace(world.fetch, allow_private_networks=False))

    async def refusals() -> list[str | None]:
        renderer = Renderer(guarded)
        return [await renderer._refusal(u) for u in ("http://127.0.0.1:8080/api", "http://[::1]/x",
                                                     "http://10.1.2.3/", "file:///etc/passwd",
                                                     "http://169.254.169.254/latest/meta-data/",
                                                     "data:text/plain,hello", "http://93.184.215.14/")]

    found = asyncio.run(refusals())
    assert [bool(r) for r in found] == [True, True, True, True, True, False, False]
    assert found[0] is not None and found[0].startswith("private-network")
    assert found[3] == "scheme file"


@needs_chromium
@pytest.mark.slow
def test_requests_the_page_makes_to_private_addresses_are_refused(world: Config, make_server) -> None:
    """Inside the browser too: the page is allowed (its host is), a request to another address is not."""
    site, other = make_server(), make_server()
    seen: list[str] = []
    other.routes["*"] = Route(handler=lambda req: (seen.append(req.path), respond(req, 200, b"{}")))
    page = (f"<html><body><div id='root'></div><img src='{other.url('/pixel.gif')}'><script>"
            f"fetch('{other.url('/leak')}').catch(function(){{}}); fetch('file:///etc/passwd').catch(function(){{}});"
            f"</script></body></html>")
    url = site.route("/page.html", page)

    async def render() -> Any:
        async with Renderer(world) as renderer:
            renderer._refusal = _refuse_except(site.host, renderer._refusal)  # type: ignore[method-assign]
            return await renderer.render(url)

    rendered = asyncio.run(render())
    assert rendered is not None
    assert seen == []


@needs_chromium
@pytest.mark.slow
def test_a_host_that_rebinds_to_a_private_address_is_never_reached(world: Config, make_server,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the guard's lookup of a name says "public", a second lookup says loopback. The
    browser never looks a name up itself: its proxy connects to the address the guard checked, so the
    loopback service is never reached; requests to allowed hosts still go through."""
    from archiver.check import render as render_module

    site, victim = make_server(), make_server()
    seen: list[str] = []
    victim.routes["*"] = Route(handler=lambda req: (seen.append(req.path), respond(req, 200, b"{}")))
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        if host == "rebind.example":  # public (the site's address stands in for one) once, then loopback
            return [site.host] if lookups.count(host) == 1 else [victim.host]
        if host == "news.example":
            return [site.host]
        raise OSError(f"{host}: no such host")

    monkeypatch.setattr(render_module, "system_resolver", resolver)
    # what the browser's own lookups would answer, were it to make any
    monkeypatch.setattr(render_module, "BROWSER_FLAGS", (*render_module.BROWSER_FLAGS, "--host-resolver-rules="
                                                         f"MAP rebind.example {victim.host}, MAP news.example {site.host}"))
    rebind = f"http://rebind.example:{victim.port}"
    api = site.route("/api/ok.json", b'{"ok": true}', content_type="application/json")
    site.route("/page.html", f"<html><body><div id='root'>shell</div><img src='{rebind}/pixel.gif'><script>"
                             f"fetch('{rebind}/leak').catch(function(){{}});"
                             f"fetch('http://news.example:{site.port}/api/ok.json').catch(function(){{}});"
                             "</script></body></html>")
    guarded = replace(world, fetch=replace(world.fetch, allow_private_networks=False))
    refused: list[str] = []

    async def render() -> Any:
        async with Renderer(guarded) as renderer:
            renderer._address_allowed = lambda address: str(address) != victim.host  # type: ignore[method-assign]
            rendered = await renderer.render(f"http://news.example:{site.port}/page.html")
            assert renderer._proxy is not None
            refused.extend(renderer._proxy.refused)
            return rendered

    rendered = asyncio.run(render())
    assert rendered is not None and "shell" in rendered.dom
    assert seen == []  # the loopback service was never reached
    assert any(r.startswith(f"rebind.example:{victim.port}: ") and "private-network" in r for r in refused)
    assert site.routes["/api/ok.json"].hits == 1 and api  # the allowed host, through the proxy


def _refuse_except(host: str, check: Any) -> Any:
    """The guard as configured without allow_private_networks, except for the test page's own host."""
    from urllib.parse import urlsplit

    from archiver.capture.netguard import is_public_address

    async def refusal(url: str) -> str | None:
        parts = urlsplit(url)
        if parts.hostname == host:
            return None
        if parts.scheme not in ("http", "https"):
            return await check(url)
        import ipaddress

        try:
            return None if is_public_address(ipaddress.ip_address(parts.hostname or "")) else "private-network"
        except ValueError:
            return "dns"

    return refusal


def test_derived_records_pass_warcio_check_and_are_indexed(tmp_path) -> None:  # noqa: ANN001
    import subprocess
    import sys
    from pathlib import Path

    from archiver.capture import warc

    writer = warc.WarcWriter(tmp_path, max_size=10**9)
    dom = writer.write_derived("conversion", "http://example.com/a", b"<html><p>rendered</p></html>",
                               "text/html; charset=utf-8", refers_to="<urn:uuid:1>", refers_to_uri="http://example.com/a")
    shot = writer.write_derived("resource", "urn:screenshot:http://example.com/a", b"\x89PNG\r\n\x1a\n....",
                                "image/png", refers_to="<urn:uuid:1>", refers_to_uri="http://example.com/a")
    writer.close()
    [path] = list(tmp_path.glob("*.warc.gz"))
    checked = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", str(path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    records = {r[0]: r[1] for r in [(t, h) for t, h, _ in _read(path)]}
    assert records["conversion"]["WARC-Refers-To"] == records["resource"]["WARC-Refers-To"] == "<urn:uuid:1>"
    assert (dom.record_type, shot.record_type) == ("conversion", "resource")
    index = (tmp_path / "index.cdxj").read_text()
    assert "urn:screenshot:http://example.com/a" in index and '"mime": "image/png"' in index


def _read(path: Any) -> list[Any]:
    with open(path, "rb") as stream:
        return [(r.rec_type, dict(r.rec_headers.headers), r.content_stream().read()) for r in ArchiveIterator(stream)]
