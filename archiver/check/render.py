"""Pages whose raw HTML carries too little text to judge, rendered in headless Chromium (SPEC §5, ``[render]``).

An application shell answers the same few bytes whether its article exists,
was rewritten or is gone: the text comes later, from a JSON API, by script.
Such a page is rendered at capture and at every check, and judged on its
rendered main text; the cited copy of such a page is its rendered text::

    mode = "never"   raw HTML only
    mode = "auto"    render when the raw HTML looks like a shell (:func:`looks_like_shell`)
    mode = "always"  render every HTML page

Chromium is Debian's ``chromium`` (or ``[render] browser``), driven through
Playwright for Python; no browser is downloaded. Safety (SPEC §8) holds inside
the browser: every request the page makes goes through :meth:`Renderer._guard`,
which refuses schemes other than http(s)/data/blob, addresses that are not
public (unless ``allow_private_networks``), more than ``MAX_REQUESTS`` requests
and more than ``fetch.max_body`` × ``BYTES_FACTOR`` bytes a page; WebSockets are
closed; service workers are blocked; WebRTC sends no UDP around the proxy. Chromium
never looks a host up or connects by itself: its only way out is the renderer's
proxy (:mod:`archiver.check.browserproxy`), which connects only to an address it
checked, so a name that rebinds to a private address between the guard's lookup
and the connection reaches nothing. At most ``max_concurrent`` pages render at
once, each within ``timeout``; the V8 heap of a page is capped (``HEAP_MB``).
Without Chromium (or Playwright) the renderer warns once and the checker judges
the raw HTML, as before.

What is stored (SPEC §6): the rendered DOM as a ``conversion`` record and a
screenshot as a ``resource`` record ``urn:screenshot:<url>``, both with
``WARC-Refers-To`` the page's response; the rendered main text is kept in
``texts`` under ``render:<capture id>`` (the cited copy's, for captures).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .enrich import SHELL_MAX_BYTES, reads_as_article
from .extract import extract
from .judge import visible_words
from ..capture.netguard import IPAddress, is_public_address, not_public_because, system_resolver
from .browserproxy import GuardProxy
from ..models import FetchResult
from .pages import PageText, TextExtractor, final_body, read_html
from .platforms import SHELL_WORDS

log = logging.getLogger(__name__)

# Chromium without the parts that phone home or need a GPU (no sandbox: we run as root in CI).
BROWSER_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage", "--dns-prefetch-disable",
                 "--disable-default-apps", "--disable-extensions", "--mute-audio", "--no-default-browser-check",
                 # WebRTC may not send UDP around the proxy (archiver.check.browserproxy)
                 "--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
HEAP_MB = 256  # V8 heap cap per renderer
MAX_REQUESTS = 300  # requests one page may make
BYTES_FACTOR = 4  # a page may load up to fetch.max_body x this many bytes
VIEWPORT = {"width": 1280, "height": 900}
QUIET_SECONDS = 0.3  # a page is rendered once no request has been in flight this long after load
CONTEXT_USES = 50  # pages rendered in one browser context (cookies cleared between them) before a fresh one

_MOUNT = re.compile(
    r"<(div|main|section|app-root|body)\b[^>]*\bid=[\"']?(root|app|__next|__nuxt|main|application|svelte|q-app"
    r"|react-root|ember-app|mount|container)[\"']?[^>]*>\s*(<!--.*?-->\s*)*</\1>"
    r"|<(app-root|my-app)\b[^>]*>\s*</\4>",
    re.IGNORECASE | re.DOTALL,
)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc=", re.IGNORECASE)


def looks_like_shell(html: str) -> bool:
    """The raw HTML carries too little text to judge: few words, and an empty
    mount point or scripts that outweigh the text (an application shell)."""
    words = visible_words(html[:2_000_000])
    if len(words) >= SHELL_WORDS:
        return False
    if _MOUNT.search(html):
        return True
    inline = sum(len(m) for m in _SCRIPT.findall(html))
    external = len(_SCRIPT_SRC.findall(html))
    return external >= 1 or inline > 4 * max(1, len(" ".join(words)))


def needs_render(mode: str, html: str, content_type: str) -> bool:
    if mode == "never" or content_type not in ("text/html", "application/xhtml+xml", ""):
        return False
    return mode == "always" or looks_like_shell(html)


@dataclass(frozen=True)
class Rendered:
    url: str
    final_url: str
    dom: str  # the rendered document, serialized
    screenshot: bytes  # PNG
    page: PageText  # main text of the rendered DOM

    @property
    def key(self) -> str:
        return "render:sha1:" + hashlib.sha1(self.page.text.encode()).hexdigest()


class RenderUnavailable(Exception):
    """No browser to render with (reported once, then raw-HTML judgement)."""


def find_browser(configured: str) -> str | None:
    if configured:
        return configured if shutil.which(configured) or _is_file(configured) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _is_file(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


class Renderer:
    """One headless Chromium for a run; use as ``async with Renderer(config) as r``."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.settings = config.render
        self.available = False
        self.problem: str | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._slots = asyncio.Semaphore(max(1, self.settings.max_concurrent))
        self._contexts: list[tuple[Any, int]] = []  # idle browser contexts, at most one per slot
        self._proxy: GuardProxy | None = None
        self.rendered = 0

    async def __aenter__(self) -> Renderer:
        browser = find_browser(self.settings.browser)
        if browser is None:
            self._unavailable(f"no Chromium found ({self.settings.browser or 'chromium on PATH'})")
            return self
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            self._unavailable("Playwright for Python is not installed")
            return self
        try:
            # Chromium reaches the network only through the guard's proxy (archiver.check.browserproxy)
            self._proxy = GuardProxy(self._connect, idle=self.settings.timeout)
            proxy_port = await self._proxy.start()
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=browser, headless=True, timeout=self.settings.timeout * 1000,
                args=[*BROWSER_FLAGS, f"--js-flags=--max-old-space-size={HEAP_MB}",
                      f"--renderer-process-limit={max(1, self.settings.max_concurrent)}",
                      f"--proxy-server=http://127.0.0.1:{proxy_port}",
                      "--proxy-bypass-list=<-loopback>"])  # loopback through the proxy too
        except Exception as exc:  # noqa: BLE001 - any launch failure means: judge the raw HTML
            await self._stop()
            self._unavailable(f"Chromium did not start ({browser}): {str(exc).splitlines()[0] if str(exc) else exc}")
            return self
        self.available = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        self._contexts.clear()  # closed with the browser
        try:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
        except Exception:  # noqa: BLE001 - closing a browser that already died
            log.debug("closing Chromium failed", exc_info=True)
        self._browser = self._playwright = None
        if self._proxy is not None:
            await self._proxy.close()
            self._proxy = None

    def _unavailable(self, why: str) -> None:
        self.problem = why
        log.warning("pages that need rendering are judged on their raw HTML: %s", why)

    async def render(self, url: str) -> Rendered | None:
        """Render ``url``; None when the browser is unavailable or the page could not be rendered in time."""
        if not self.available or self._browser is None:
            return None
        async with self._slots:
            try:
                return await asyncio.wait_for(self._render(url), self.settings.timeout + 5)
            except Exception as exc:  # noqa: BLE001 - a page that cannot be rendered is judged on raw HTML
                log.info("%s: not rendered: %s", url, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                return None

    async def _render(self, url: str) -> Rendered:
        budget = _Budget(MAX_REQUESTS, int(self.config.fetch.max_body * BYTES_FACTOR))
        context, uses = await self._context()
        page = None
        try:
            page = await context.new_page()
            page.set_default_timeout(self.settings.timeout * 1000)
            quiet = _Quiet()
            page.on("request", quiet.started)
            page.on("requestfinished", quiet.ended)
            page.on("requestfailed", quiet.ended)
            await page.route("**/*", lambda route: self._guard(route, budget))
            await page.route_web_socket(re.compile(".*"), lambda ws: ws.close())
            page.on("response", lambda response: budget.count_response(response))
            await page.goto(url, wait_until="load", timeout=self.settings.timeout * 1000)
            await quiet.settle(min(10.0, self.settings.timeout))  # the API calls a shell makes after load
            dom = await page.content()
            shot = await page.screenshot(type="png", timeout=self.settings.timeout * 1000)
            final_url = page.url
        finally:
            if page is not None:
                await page.close()
            await self._give_back(context, uses + 1)
        self.rendered += 1
        extracted = await asyncio.to_thread(extract, dom, final_url)  # ~0.1 s of CPU: not on the fetchers' loop
        digest = "render:sha1:" + hashlib.sha1(dom.encode("utf-8", "replace")).hexdigest()
        text = PageText(extracted.title, extracted.text, extracted.fingerprint, digest, final_url, extracted.heading)
        return Rendered(url, final_url, dom, shot, text)

    async def _context(self) -> tuple[Any, int]:
        """A browser context for one page: an idle one (cookies cleared) or a new one."""
        if self._contexts:
            context, uses = self._contexts.pop()
            await context.clear_cookies()
            return context, uses
        context = await self._browser.new_context(
            user_agent=self.config.fetch.user_agent, viewport=VIEWPORT, service_workers="block",
            accept_downloads=False, java_script_enabled=True)
        return context, 0

    async def _give_back(self, context: Any, uses: int) -> None:
        if uses >= CONTEXT_USES or self._browser is None:
            await context.close()
        else:
            self._contexts.append((context, uses))

    async def _guard(self, route: Any, budget: _Budget) -> None:
        """Every request of the page: allowed scheme, public address, within the budget; else aborted."""
        request = route.request
        problem = budget.take() or await self._refusal(request.url)
        if problem is not None:
            log.debug("render: refused %s: %s", request.url, problem)
            await route.abort("blockedbyclient")
            return
        await route.continue_()

    async def _refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return None
        if parts.scheme not in ("http", "https"):
            return f"scheme {parts.scheme}"
        if self.config.fetch.allow_private_networks:
            return None
        try:
            addresses = await self._addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except OSError:
            return "dns"
        return self._not_allowed(addresses)

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        host = host.strip("[]")
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            found = await system_resolver(host, port)
            return [ipaddress.ip_address(a.split("%")[0]) for a in found]

    def _address_allowed(self, address: IPAddress) -> bool:
        return bool(self.config.fetch.allow_private_networks) or is_public_address(address)

    def _not_allowed(self, addresses: list[IPAddress]) -> str | None:
        for address in addresses:
            if not self._address_allowed(address):
                return f"private-network ({not_public_because(address)})"
        return None

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection for the browser's proxy: the host looked up once, every address of it allowed,
        and the connection made to an address that was checked (no second lookup to rebind)."""
        try:
            addresses = await self._addresses(host, port)
        except OSError as exc:
            raise OSError(f"dns: {host} does not resolve ({exc})") from None
        if not addresses:
            raise OSError(f"dns: no address for {host}")
        problem = self._not_allowed(addresses)
        if problem is not None:
            raise PermissionError(f"{host}: {problem}")
        failure: BaseException | None = None
        for address in addresses[:3]:
            try:
                return await asyncio.wait_for(asyncio.open_connection(str(address), port),
                                              self.config.fetch.connect_timeout)
            except (OSError, TimeoutError) as exc:
                failure = exc
        raise OSError(f"{host}:{port}: {failure}")


class _Quiet:
    """Requests in flight on a page, to wait until its scripts' API calls are done."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()

    def started(self, _request: Any) -> None:
        self.in_flight += 1
        self.last = time.monotonic()

    def ended(self, _request: Any) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last = time.monotonic()

    async def settle(self, limit: float) -> None:
        """Until no request has been in flight for ``QUIET_SECONDS``, at most ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.in_flight == 0 and time.monotonic() - self.last >= QUIET_SECONDS:
                return
            await asyncio.sleep(0.05)


class _Budget:
    """Requests and bytes one page may still use."""

    def __init__(self, requests: int, size: int) -> None:
        self.requests = requests
        self.size = size

    def take(self) -> str | None:
        self.requests -= 1
        if self.requests < 0:
            return "too many requests"
        if self.size < 0:
            return "size limit"
        return None

    def count_response(self, response: Any) -> None:
        try:
            length = int(response.headers.get("content-length") or 0)
        except (TypeError, ValueError):
            length = 0
        self.size -= length


# ---------------------------------------------------------------- at capture


def shell_links(archive: Any, links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The links whose cited capture is an HTML page that needs rendering (small pages only are read)."""
    from ..capture import warc
    from .extract import decode_body, decode_text

    mode = archive.config.render.mode
    found = []
    for link in links:
        if archive.store.text_for(rendered_key(link["cited_capture_id"])) is not None:
            continue  # rendered when it was cited
        capture = archive.store.capture(link["cited_capture_id"])
        if capture is None or not capture["warc"] or capture["kind"] != "response" or capture["status"] != 200:
            continue
        kind = (capture["content_type"] or "").split(";")[0].strip().lower()
        if kind not in ("text/html", "application/xhtml+xml", "") or capture["bytes"] > SHELL_MAX_BYTES:
            continue
        if mode != "always" and reads_as_article(archive.warc_dir, capture["warc"], capture["offset"],
                                                 capture["length"]):
            continue
        headers, body = warc.read_payload(archive.warc_dir, capture["warc"], capture["offset"])
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), None)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        try:
            html = decode_text(decode_body(body, encoding, limit=SHELL_MAX_BYTES * 8), content_type)
        except ValueError:
            continue
        if needs_render(mode, html, kind):
            found.append(link)
    return found


async def capture_rendered(archive: Any, links: list[dict[str, Any]]) -> None:
    """Render the cited copies of ``links``; store DOM, screenshot and the rendered text as the cited text."""
    async with Renderer(archive.config) as renderer:
        if not renderer.available:
            return
        results = await asyncio.gather(*(renderer.render(link["url"]) for link in links))
    for link, rendered in zip(links, results, strict=True):
        if rendered is not None:
            store_rendered(archive, link["cited_capture_id"], rendered)


def store_rendered(archive: Any, capture_id: int, rendered: Rendered) -> None:
    """DOM (conversion) and screenshot (resource) records referring to the capture's response; its rendered text."""
    capture = archive.store.capture(capture_id)
    if capture is None:
        return
    target = capture["final_url"] or capture["url"]
    dom = archive.writer.write_derived("conversion", rendered.url, rendered.dom.encode("utf-8"),
                                       "text/html; charset=utf-8", refers_to=capture["record_id"], refers_to_uri=target)
    shot = archive.writer.write_derived("resource", f"urn:screenshot:{rendered.url}", rendered.screenshot, "image/png",
                                        refers_to=capture["record_id"], refers_to_uri=target)
    archive.store.add_records(capture_id, [dom, shot])  # the database knows every record it points near
    page = rendered.page
    archive.store.save_text(rendered_key(capture_id), page.title, page.text, page.fingerprint)


def rendered_key(capture_id: int) -> str:
    """Where the rendered main text of a capture is kept in ``texts``."""
    return f"render:{capture_id}"


def rendered_text(archive: Any, capture_id: int | None) -> PageText | None:
    if capture_id is None:
        return None
    row = archive.store.text_for(rendered_key(capture_id))
    if row is None:
        return None
    capture = archive.store.capture(capture_id)
    return PageText(row["title"], row["text"], row["fingerprint"], rendered_key(capture_id),
                    capture["final_url"] if capture else "")


# ---------------------------------------------------------------- at check


class _Given(TextExtractor):
    """An extractor that answers the rendered page's text for the live fetch."""

    def __init__(self, page: PageText) -> None:
        super().__init__(0)
        self.page = page

    async def of_result(self, result: FetchResult) -> PageText | None:
        return self.page


@dataclass(frozen=True)
class View:
    """A check of a rendered page: its cited rendered text, and the live rendering."""

    cited: PageText
    extractor: TextExtractor
    rendered: Rendered


class CheckRendering:
    """Rendering for one check run: the browser starts with the first page that needs it."""

    def __init__(self, archive: Any) -> None:
        self.archive = archive
        self.mode = archive.config.render.mode
        self._renderer: Renderer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> Renderer:
        async with self._lock:
            if self._renderer is None:
                self._renderer = await Renderer(self.archive.config).__aenter__()
        return self._renderer

    async def view(self, link: dict[str, Any], result: FetchResult) -> View | None:
        """The rendered view of a live page that needs rendering, or None (judge the raw HTML)."""
        final = result.final
        if final is None or not result.ok or final.status != 200:
            return None
        # what the cited copy was is asked first: two indexed lookups, where the live body's look
        # below reads and inflates it (most checked pages are articles cited unrendered)
        cited = rendered_text(self.archive, link["cited_capture_id"])
        capture = self.archive.store.capture(link["cited_capture_id"]) if cited is None else None
        adopt = cited is None and capture is not None and capture["payload_digest"] == final.payload_digest
        if cited is None and not adopt:
            return None  # the cited copy was no shell (an article, now a wall or a challenge): raw judgement
        if not _may_be_shell(self.mode, result) or not needs_render(self.mode, read_html(result), final.content_type):
            return None
        renderer = await self._started()
        if not renderer.available:
            return None
        rendered = await renderer.render(link["url"])
        if rendered is None:
            return None
        if cited is None:
            # the same shell, cited before it could be rendered: this rendering is the reference from now on
            page = rendered.page
            self.archive.store.save_text(rendered_key(link["cited_capture_id"]), page.title, page.text,
                                         page.fingerprint)
            return None
        return View(cited, _Given(rendered.page), rendered)

    def store(self, link: dict[str, Any], view: View) -> None:
        """The DOM and screenshot of this check's rendering, beside the response just stored."""
        capture_id = self.archive.store.link_by_id(link["id"])["latest_capture_id"]
        if capture_id is not None:
            store_rendered(self.archive, capture_id, view.rendered)

    async def close(self) -> None:
        if self._renderer is not None:
            await self._renderer.__aexit__(None, None, None)
            self._renderer = None


def _may_be_shell(mode: str, result: FetchResult) -> bool:
    """Cheap first look at the raw body: a page with many paragraphs is an article, not a shell."""
    if mode == "always":
        return True
    final = result.final
    if final is None or final.body_length > SHELL_MAX_BYTES:
        return False
    try:
        body = final_body(result, SHELL_MAX_BYTES * 8)
    except (OSError, ValueError):
        return False
    return body.count(b"<p", 0, 96 * 1024) < 8  # (an article's paragraphs start within its first 96 KB)
