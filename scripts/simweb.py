#!/usr/bin/env python3
"""A simulated web on loopback addresses, for benchmarks and accuracy worlds.

Many *hosts*, each listening on its own loopback address 127.0.X.Y (one shared
port, or a port each), answer HTTP/1.1 (keep-alive, Content-Length, optional
gzip) with real pages from ``tests/data/corpus/pages``. Every URL's body differs
(the path is written into an HTML comment) and can be varied further: rotating
ads and timestamps around the article (``noise``), a 2% edit (``edit``), a
rewritten article (``rewrite``). Hosts and paths behave like real sites::

    host kinds   normal, slow, soft404 (200 + one error page for unknown paths),
                 root_redirect (unknown paths -> 302 /), parked, refused (no
                 listener), error500, unavailable (503 + Retry-After), hang,
                 blocked403, ratelimit429 (429 + Retry-After), spam (every path: one
                 unrelated gambling page, a hijacked domain)
    path fates   page, missing (the host's unknown-path answer), status (404,
                 410, 403, 429, 500, ... with optional Retry-After), redirect
                 (301/302/308 to a path or URL), hang, errorpage (200 + the
                 host's error page), challenge (a bot-challenge page with the
                 route's status), body (the route's own text and status: walls,
                 script shells, platform endpoints' JSON); plus fail_first=N (the first N requests answer
                 fail_status, then the fate) and extra headers

The server runs in its own process (its own process group), so its CPU is not
the client's. The whole world is one JSON state file; change it and call
:meth:`SimWeb.update` (or ``simweb.py set`` from a shell) and the running
server applies it at once — that is how a world evolves between a snapshot and
a check (a page deleted, rewritten, moved; a host parked or gone).

Importable::

    from simweb import SimWeb, bench_world
    world = bench_world(hosts=100, urls=2000, latency=0.05)
    with SimWeb(world, workdir) as web:
        web.write_url_list(workdir / "urls.txt")
        ...
        world.routes[key] = Route(fate="status", status=410)
        web.update()

Runnable (serves until Ctrl-C; writes urls.txt, state.json and config.toml)::

    python scripts/simweb.py --hosts 100 --urls 2000 --latency 0.05 --dir /tmp/simweb
    python scripts/simweb.py set --dir /tmp/simweb 127.0.100.1/news/x-1.html fate=status status=410

Only loopback addresses are ever bound or contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gzip
import ipaddress
import json
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "tests" / "data" / "corpus" / "pages"
DEFAULT_BASE = "127.0.100.0"  # hosts are numbered from the address after this one

HOST_KINDS = (
    "normal", "slow", "soft404", "root_redirect", "parked", "refused", "error500",
    "unavailable", "hang", "blocked403", "ratelimit429",
)  # fmt: skip
#: Host kinds that answer every path the same way, whatever the routes say.
OVERRIDING_KINDS = ("parked", "refused", "error500", "unavailable", "hang", "blocked403", "ratelimit429", "spam")
FATES = ("page", "missing", "status", "redirect", "hang", "errorpage", "challenge", "body")
REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
    308: "Permanent Redirect", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
    429: "Too Many Requests", 451: "Unavailable For Legal Reasons", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
HANG_CAP = 600.0  # a hanging answer never outlives this
IDLE_TIMEOUT = 30.0  # keep-alive connections idle this long are closed
CONTROL_PREFIX = "/__simweb/"


# -- the world: plain values, serialised to one JSON state file -----------------------------


@dataclass
class Host:
    """One simulated site, on its own loopback address."""

    ip: str
    kind: str = "normal"
    home_page: int = 0  # corpus page served at "/"
    latency: float | None = None  # None: the world's latency
    soft404_style: str = "notfound"  # soft404 hosts: "notfound" page or the "home" page
    retry_after: int = 1  # for unavailable / ratelimit429
    name: str = ""  # shown in parked pages and titles
    tag: str = ""  # free-form label for the world's builder (e.g. the pool a host belongs to)


@dataclass
class Route:
    """What one path (with its query) of one host answers."""

    fate: str = "page"
    page: int | None = None  # corpus page index; None: derived from the path
    noise: bool = False  # rotating ads, timestamps and tokens around the article, per request
    inline_noise: bool = False  # an "Updated <time>" line inside the article's longest paragraph, per request
    edit: float = 0.0  # fraction of article words replaced (0.02: a minor edit)
    rewrite: float = 0.0  # fraction of article paragraphs replaced by another article's text
    version: int = 0  # bump to change the bytes (not the text) of a page
    status: int = 404  # fate "status"
    retry_after: int | None = None
    location: str | None = None  # fate "redirect": a path on this host or an absolute URL
    redirect_status: int = 301
    fail_first: int = 0  # the first N requests answer fail_status, then the fate applies
    fail_status: int = 500
    seed_key: str | None = None  # render the page as for this key (a moved page keeps its text)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    body: str = ""  # fate "body": this text answered with ``status`` (a Content-Type in ``headers`` replaces text/html)


@dataclass
class World:
    hosts: dict[str, Host] = field(default_factory=dict)  # by ip
    routes: dict[str, Route] = field(default_factory=dict)  # by "ip/path?query"
    latency: float = 0.05  # seconds before every answer
    slow_latency: float = 1.0  # added on "slow" hosts
    gzip: bool = False  # gzip bodies for clients that accept it
    seed: int = 0

    def route_key(self, ip: str, target: str) -> str:
        return f"{ip}{target}"

    def add(self, ip: str, target: str, route: Route | None = None) -> str:
        key = self.route_key(ip, target)
        self.routes[key] = route or Route()
        return key

    def to_json(self) -> dict[str, Any]:
        return {"latency": self.latency, "slow_latency": self.slow_latency, "gzip": self.gzip, "seed": self.seed,
                "hosts": {ip: asdict(h) for ip, h in self.hosts.items()},
                "routes": {k: asdict(r) for k, r in self.routes.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        return cls(hosts={ip: Host(**h) for ip, h in data["hosts"].items()},
                   routes={k: Route(**r) for k, r in data["routes"].items()},
                   latency=data["latency"], slow_latency=data["slow_latency"], gzip=data["gzip"],
                   seed=data.get("seed", 0))


def split_key(key: str) -> tuple[str, str]:
    """``"127.0.100.1/a/b?x=1"`` -> ``("127.0.100.1", "/a/b?x=1")``."""
    ip, _, rest = key.partition("/")
    return ip, "/" + rest


def host_ip(index: int, base: str = DEFAULT_BASE) -> str:
    """The loopback address of host number ``index`` (0-based), skipping .0 and .255."""
    start = int(ipaddress.IPv4Address(base))
    third, fourth = divmod(index, 254)
    address = ipaddress.IPv4Address(start + third * 256 + fourth + 1)
    if not address.is_loopback:
        raise ValueError(f"host {index} would be {address}, outside 127.0.0.0/8")
    return str(address)


# -- page bodies ----------------------------------------------------------------------------


def corpus_pages(directory: Path = CORPUS) -> list[tuple[str, str]]:
    """(name, html) of every corpus page, html decoded as latin-1 so bytes round-trip exactly."""
    pages = [(p.name, p.read_bytes().decode("latin-1")) for p in sorted(directory.iterdir()) if p.suffix == ".html"]
    if not pages:
        raise SystemExit(f"simweb: no pages in {directory}")
    return pages


_HEAD = re.compile(r"<head\b[^>]*>", re.I)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)
_BODY_CLOSE = re.compile(r"</body\s*>", re.I)
_PARAGRAPH = re.compile(r"(<p\b[^>]*>)(.*?)(</p\s*>)", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[A-Za-z]{4,}")
_SPACE = re.compile(r"[ \t\r\n\f]+")
VOCABULARY = (
    "harbour velvet lantern orchard meadow copper thistle granite willow beacon saffron quartz "
    "juniper falcon marble cedar ember hollow prairie tundra walnut cobalt meadowlark sparrow "
    "kestrel bramble pewter linen amber fjord glacier heron"
).split()
HEADLINES = (
    "Ten things you missed this week", "Markets rally after surprise report", "The recipe everyone is making",
    "Local team wins again", "Why experts are worried about sleep", "Photos: the best of the festival",
    "Opinion: we need better trains", "Weather turns cold across the north", "A quiet revolution in batteries",
    "What the new rules mean for renters", "Inside the race to map the ocean floor", "Five podcasts to try",
)  # fmt: skip


def page_index(key: str, n_pages: int) -> int:
    return zlib.crc32(key.encode()) % n_pages


def _insert_after(html: str, pattern: re.Pattern[str], text: str, *, at_start: bool) -> str:
    match = pattern.search(html)
    if match is None:
        return text + html if at_start else html + text
    return html[: match.end()] + text + html[match.end():]


def _insert_before(html: str, pattern: re.Pattern[str], text: str) -> str:
    matches = list(pattern.finditer(html))
    if not matches:
        return html + text
    where = matches[-1].start()
    return html[:where] + text + html[where:]


def _text_spans(html: str) -> list[tuple[int, int]]:
    """(start, end) of every word of 4+ letters in paragraph text, outside tags."""
    spans = []
    for match in _PARAGRAPH.finditer(html):
        inner_start = match.start(2)
        inner = match.group(2)
        tag_spans = [(t.start(), t.end()) for t in _TAG.finditer(inner)]
        for word in _WORD.finditer(inner):
            if any(a <= word.start() < b for a, b in tag_spans):
                continue
            spans.append((inner_start + word.start(), inner_start + word.end()))
    return spans


def edit_words(html: str, fraction: float, rng: random.Random) -> str:
    """Replace ``fraction`` of the paragraph words with other words (at least one)."""
    spans = _text_spans(html)
    if not spans or fraction <= 0:
        return html
    chosen = sorted(rng.sample(range(len(spans)), max(1, min(len(spans), round(len(spans) * fraction)))))
    out, last = [], 0
    for index in chosen:
        start, end = spans[index]
        out += [html[last:start], rng.choice(VOCABULARY)]
        last = end
    out.append(html[last:])
    return "".join(out)


def _ascii_split(text: str) -> list[str]:
    """Words split at ASCII whitespace only (the text is UTF-8 read as latin-1: \\xa0 is a byte of a letter)."""
    return [w for w in _SPACE.split(text) if w]


def rewrite_paragraphs(html: str, other: str, fraction: float, rng: random.Random) -> str:
    """Replace the text of ``fraction`` of the paragraphs with text from ``other``'s paragraphs."""
    donor = [w for m in _PARAGRAPH.finditer(other) for w in _ascii_split(_TAG.sub(" ", m.group(2)))] or VOCABULARY
    paragraphs = list(_PARAGRAPH.finditer(html))
    if not paragraphs or fraction <= 0:
        return html
    chosen = set(rng.sample(range(len(paragraphs)), max(1, round(len(paragraphs) * fraction))))
    out, last, cursor = [], 0, rng.randrange(len(donor))
    for index, match in enumerate(paragraphs):
        if index not in chosen:
            continue
        length = max(8, len(_ascii_split(_TAG.sub(" ", match.group(2)))))
        words = [donor[(cursor + i) % len(donor)] for i in range(length)]
        cursor += length
        out += [html[last: match.start(2)], " ".join(words)]
        last = match.end(2)
    out.append(html[last:])
    return "".join(out)


def noise_blocks(rng: random.Random) -> tuple[str, str]:
    """Chrome that changes on every request: ad banner, clock, token, most-read box."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    token = "%032x" % rng.getrandbits(128)
    ad = " ".join(rng.choice(VOCABULARY) for _ in range(6))
    top = (f'\n<div class="ad-banner" id="ad-top"><span>Advertisement</span> {ad} - offer ends {stamp}</div>'
           f'\n<div class="site-clock">Updated {stamp} UTC | {rng.randrange(100, 9999)} readers online</div>\n')
    items = "".join(f"<li><a href=\"/trending/{rng.randrange(10**6)}\">{h}</a></li>"
                    for h in rng.sample(HEADLINES, 5))
    bottom = (f'\n<aside class="most-read"><h3>Most read</h3><ol>{items}</ol></aside>'
              f'\n<script>window.__csrf="{token}";window.__rendered={int(now * 1000)};</script>\n')
    return top, bottom


def _inline_noise(html: str, rng: random.Random) -> str:
    """Prepend an 'Updated <time> - N comments' line to the longest paragraph."""
    paragraphs = list(_PARAGRAPH.finditer(html))
    if not paragraphs:
        return html
    longest = max(paragraphs, key=lambda m: len(m.group(2)))
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    line = f"Updated {stamp} - {rng.randrange(2, 999)} comments. "
    return html[: longest.start(2)] + line + html[longest.start(2):]


def challenge_page() -> bytes:
    """A bot-challenge interstitial like the big CDNs serve."""
    return (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
            b"<meta name=\"robots\" content=\"noindex,nofollow\"></head><body><div class=\"main-wrapper\">"
            b"<h1>Checking your browser before accessing the site.</h1><p>This process is automatic. Your browser "
            b"will redirect to your requested content shortly. Please enable JavaScript and cookies to continue."
            b"</p><noscript>Enable JavaScript and cookies to continue</noscript>"
            b"<script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\"></script></div>"
            b"</body></html>")


def render_page(pages: list[tuple[str, str]], key: str, route: Route, rng: random.Random | None = None) -> bytes:
    """The body of a "page" route: a corpus page with its key written in, varied as the route says."""
    seed_key = route.seed_key or key
    index = route.page if route.page is not None else page_index(seed_key, len(pages))
    name, html = pages[index % len(pages)]
    label = re.sub(r"[^A-Za-z0-9._/?=&%:-]", "_", f"{key} page={name}")  # ASCII: bytes stay valid UTF-8
    stamp = f"\n<!-- simweb {label} v{route.version} -->\n"
    html = _insert_after(html, _HEAD, stamp, at_start=True)
    seeded = random.Random(f"{seed_key}|{route.edit}|{route.rewrite}")
    if route.rewrite > 0:
        other = pages[(index + 1 + seeded.randrange(len(pages) - 1)) % len(pages)][1]
        html = rewrite_paragraphs(html, other, route.rewrite, seeded)
    if route.edit > 0:
        html = edit_words(html, route.edit, seeded)
    if route.inline_noise:
        html = _inline_noise(html, rng or random.Random())
    if route.noise:
        top, bottom = noise_blocks(rng or random.Random())
        html = _insert_after(html, _BODY_OPEN, top, at_start=False)
        html = _insert_before(html, _BODY_CLOSE, bottom)
    return html.encode("latin-1")


def error_page(host: Host, pages: list[tuple[str, str]], status: int) -> bytes:
    """A site's own error page: a little chrome around 'not found' (or 'forbidden', ...)."""
    label = host.name or host.ip
    what = {404: "Page not found", 410: "This page has been removed", 403: "Access denied",
            429: "Too many requests", 500: "Something went wrong", 503: "Service temporarily unavailable"}
    title = what.get(status, REASONS.get(status, "Error"))
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title} | {label}</title></head>"
            f"<body><header><nav><a href=\"/\">Home</a> <a href=\"/news/\">News</a> <a href=\"/about\">About"
            f"</a></nav></header><main><h1>{title}</h1><p>Sorry, the page you were looking for could not be "
            f"found or is no longer available. Error {status}.</p><p>Try the search or go back to the "
            f"<a href=\"/\">home page</a> of {label}.</p></main><footer>&copy; {label}</footer></body></html>"
            ).encode()


def parked_page(host: Host) -> bytes:
    label = host.name or host.ip
    searches = "".join(f"<li><a href=\"/search?q={w}\">{w.title()} deals</a></li>" for w in VOCABULARY[:8])
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{label} - This domain is for sale!"
            f"</title></head><body><div class=\"parking\"><h1>{label}</h1><h2>This domain may be for sale!</h2>"
            f"<p>Buy this domain. The domain owner has listed {label} for sale. Make an offer today through our "
            f"domain marketplace; secure transfer via escrow.</p><h3>Related searches</h3><ul>{searches}</ul>"
            f"<p class=\"small\">This page is provided by the domain parking service. Parked free, courtesy of "
            f"the registrar.</p></div></body></html>").encode()


def spam_page(host: Host) -> bytes:
    """What a hijacked domain serves on every path: an unrelated gambling and loans page."""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Best Online Casino 2026 - "
            "Free Spins and Bonus Codes</title></head><body><h1>Top online casino sites</h1><p>Play slots, poker and "
            "roulette at the best online casino. Claim free spins and bonus codes today. Fast payday loans and "
            "crypto currency betting available around the clock.</p><p>Sportsbook odds updated daily. Jackpot "
            "winners every hour.</p></body></html>").encode()


# -- the server process ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    hang: bool = False
    cacheable: bool = True  # the same bytes every time (gzip may be cached)


class Server:
    """Answers requests from the current state; reloads it on request."""

    def __init__(self, state_path: Path, corpus: Path, port: int, port_each: bool) -> None:
        self.state_path = state_path
        self.pages = corpus_pages(corpus)
        self.port = port
        self.port_each = port_each
        self.world = World()
        self.listeners: dict[str, asyncio.Server] = {}
        self.writers: dict[str, set[asyncio.StreamWriter]] = {}
        self.ports: dict[str, int] = {}
        self.route_hits: Counter[str] = Counter()  # counts toward fail_first
        self.host_hits: Counter[str] = Counter()
        self.connections: Counter[str] = Counter()  # TCP connections accepted, by host
        self.statuses: Counter[int] = Counter()
        self.inflight: Counter[str] = Counter()
        self.max_inflight: Counter[str] = Counter()
        self.cache: OrderedDict[tuple[str, bool], bytes] = OrderedDict()
        self.version = 0
        self.rng = random.Random()
        # SIMWEB_LOG=path: one line per answered request, "start end ip method target" (seconds since the epoch)
        log = os.environ.get("SIMWEB_LOG")
        self.log = open(log, "a", buffering=1, encoding="utf-8") if log else None  # noqa: SIM115

    # state

    def load(self) -> None:
        world = World.from_json(json.loads(self.state_path.read_text()))
        for ip in world.hosts:
            if not ipaddress.IPv4Address(ip).is_loopback:
                raise SystemExit(f"simweb: refusing non-loopback host {ip}")
        old_routes = self.world.routes
        self.world = world
        changed = [k for k, r in world.routes.items() if old_routes.get(k) != r]
        for key in changed:
            self.route_hits.pop(key, None)
        self.cache.clear()
        self.version += 1

    async def sync_listeners(self) -> None:
        """Listen on every host's address except the refused ones."""
        wanted = {ip for ip, h in self.world.hosts.items() if h.kind != "refused"}
        for ip in list(self.listeners):
            if ip not in wanted:
                self.listeners.pop(ip).close()
                for writer in self.writers.pop(ip, set()):  # open keep-alive connections too
                    writer.transport.abort()
        for ip in sorted(wanted - set(self.listeners)):
            port = self.ports.get(ip, 0 if self.port_each else self.port)
            self.listeners[ip] = await asyncio.start_server(self.connection, ip, port, backlog=1024, reuse_address=True)
            self.ports[ip] = self.listeners[ip].sockets[0].getsockname()[1]

    async def choose_port(self) -> None:
        """A port free on every host address (the shared-port mode), tried a few times."""
        if self.port_each or self.port:
            return
        for _ in range(20):
            probe = await asyncio.start_server(self.connection, "127.0.0.1", 0)
            port = probe.sockets[0].getsockname()[1]
            probe.close()
            self.port = port
            try:
                await self.sync_listeners()
                return
            except OSError:
                for server in self.listeners.values():
                    server.close()
                self.listeners.clear()
                self.ports.clear()
        raise SystemExit("simweb: could not find a port free on every host address")

    # answers

    def answer(self, ip: str, method: str, target: str, headers: dict[str, str]) -> Answer:
        world = self.world
        host = world.hosts.get(ip) or Host(ip=ip)
        if host.kind in OVERRIDING_KINDS:
            return self.host_answer(host)
        key = world.route_key(ip, target)
        route = world.routes.get(key)
        if route is None:
            path = target.split("?", 1)[0]
            if path == "/":
                return Answer(200, render_page(self.pages, key, Route(page=host.home_page)))
            return self.unknown(host, headers)
        self.route_hits[key] += 1
        if self.route_hits[key] <= route.fail_first:
            return self.status(host, route.fail_status, route.retry_after)
        answer = self.route_answer(host, key, route, headers)
        answer.headers.extend(route.headers.items())
        return answer

    def route_answer(self, host: Host, key: str, route: Route, headers: dict[str, str]) -> Answer:
        if route.fate == "page":
            return self.page(key, route)
        if route.fate == "missing":
            return self.unknown(host, headers)
        if route.fate == "status":
            return self.status(host, route.status, route.retry_after)
        if route.fate == "redirect":
            return self.redirect(route.redirect_status, route.location or "/", headers)
        if route.fate == "hang":
            return Answer(0, hang=True)
        if route.fate == "errorpage":
            return Answer(200, error_page(host, self.pages, 404))
        if route.fate == "challenge":
            return Answer(route.status, challenge_page())
        if route.fate == "body":
            return Answer(route.status, route.body.encode("utf-8"))
        return Answer(500, b"simweb: unknown fate " + route.fate.encode())

    def page(self, key: str, route: Route) -> Answer:
        if route.noise or route.inline_noise:
            return Answer(200, render_page(self.pages, key, route, self.rng), cacheable=False)
        cached = self.cache.get((key, False))
        if cached is None:
            cached = render_page(self.pages, key, route)
            self.remember((key, False), cached)
        return Answer(200, cached)

    def remember(self, key: tuple[str, bool], body: bytes) -> None:
        self.cache[key] = body
        self.cache.move_to_end(key)
        while len(self.cache) > 2048:
            self.cache.popitem(last=False)

    def unknown(self, host: Host, headers: dict[str, str]) -> Answer:
        if host.kind == "soft404":
            if host.soft404_style == "home":
                return Answer(200, render_page(self.pages, f"{host.ip}/", Route(page=host.home_page)))
            return Answer(200, error_page(host, self.pages, 404))
        if host.kind == "root_redirect":
            return self.redirect(302, "/", headers)
        return self.status(host, 404, None)

    def host_answer(self, host: Host) -> Answer:
        if host.kind == "parked":
            return Answer(200, parked_page(host))
        if host.kind == "spam":  # a lost domain: every path answers one unrelated spam page
            return Answer(200, spam_page(host))
        if host.kind == "hang":
            return Answer(0, hang=True)
        status = {"error500": 500, "unavailable": 503, "blocked403": 403, "ratelimit429": 429}.get(host.kind, 500)
        retry = host.retry_after if host.kind in ("unavailable", "ratelimit429") else None
        return self.status(host, status, retry)

    def status(self, host: Host, status: int, retry_after: int | None) -> Answer:
        extra = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return Answer(status, error_page(host, self.pages, status), extra)

    def redirect(self, status: int, location: str, headers: dict[str, str]) -> Answer:
        if not location.startswith(("http://", "https://")):
            location = f"http://{headers.get('host', '')}{location}"
        return Answer(status, b"", [("Location", location)])

    def latency(self, ip: str) -> float:
        host = self.world.hosts.get(ip)
        base = host.latency if host and host.latency is not None else self.world.latency
        return base + (self.world.slow_latency if host and host.kind == "slow" else 0.0)

    # the wire

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ip = writer.get_extra_info("sockname")[0]
        self.writers.setdefault(ip, set()).add(writer)
        self.connections[ip] += 1
        try:
            while await self.one_request(ip, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            self.writers.get(ip, set()).discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def one_request(self, ip: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        method, target, version, headers = parse_head(head)
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        self.host_hits[ip] += 1
        self.inflight[ip] += 1
        self.max_inflight[ip] = max(self.max_inflight[ip], self.inflight[ip])
        started = time.time()
        try:
            await asyncio.sleep(self.latency(ip))
            answer = self.answer(ip, method, target, headers)
            if answer.hang:
                await self.hang(reader)
                return False
            self.statuses[answer.status] += 1
            writer.write(self.encode(answer, method, headers, keep_alive, self.world.route_key(ip, target)))
            await writer.drain()
            if self.log is not None:
                self.log.write(f"{started:.6f} {time.time():.6f} {ip} {method} {target}\n")
        finally:
            self.inflight[ip] -= 1
        return keep_alive

    async def hang(self, reader: asyncio.StreamReader) -> None:
        """Answer nothing until the client gives up (or HANG_CAP)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.read(), HANG_CAP)

    def encode(self, answer: Answer, method: str, headers: dict[str, str], keep_alive: bool, key: str) -> bytes:
        body = answer.body
        extra = list(answer.headers)
        if self.world.gzip and body and "gzip" in headers.get("accept-encoding", ""):
            body = self.gzipped(key, body, answer.cacheable and answer.status == 200)
            extra.append(("Content-Encoding", "gzip"))
            extra.append(("Vary", "Accept-Encoding"))
        lines = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Status')}", f"Date: {http_date()}"]
        if not any(k.lower() == "server" for k, _ in extra):
            lines.append("Server: simweb")
        if not any(k.lower() == "content-type" for k, _ in extra):
            lines.append("Content-Type: text/html; charset=utf-8")
        lines += [f"Content-Length: {len(body)}", f"Connection: {'keep-alive' if keep_alive else 'close'}"]
        lines += [f"{k}: {v}" for k, v in extra]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if method == "HEAD" else head + body

    def gzipped(self, key: str, body: bytes, cacheable: bool) -> bytes:
        if not cacheable:
            return gzip.compress(body, compresslevel=5, mtime=0)
        cached = self.cache.get((key, True))
        if cached is None:
            cached = gzip.compress(body, compresslevel=5, mtime=0)
            self.remember((key, True), cached)
        return cached

    # control

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            _, target, _, _ = parse_head(head)
            body = json.dumps(await self.control_answer(target)).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except Exception as exc:  # noqa: BLE001 - report, never die
            with contextlib.suppress(Exception):
                message = str(exc).encode()
                writer.write(b"HTTP/1.1 500 Error\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(message), message))
        finally:
            writer.close()

    async def control_answer(self, target: str) -> dict[str, Any]:
        if target.startswith(CONTROL_PREFIX + "reload"):
            self.load()
            await self.sync_listeners()
        elif target.startswith(CONTROL_PREFIX + "reset"):
            for counter in (self.route_hits, self.host_hits, self.statuses, self.max_inflight, self.connections):
                counter.clear()
        return self.stats()

    def stats(self) -> dict[str, Any]:
        return {"version": self.version, "ports": self.ports, "requests": sum(self.host_hits.values()),
                "connections": sum(self.connections.values()), "cpu_s": round(sum(os.times()[:2]), 3),
                "statuses": {str(k): v for k, v in self.statuses.items()}, "host_hits": dict(self.host_hits),
                "max_inflight": dict(self.max_inflight), "route_hits": dict(self.route_hits)}


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ConnectionError("bad request line")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    target = parts[1]
    if target.startswith(("http://", "https://")):  # absolute form
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return parts[0].upper(), target, parts[2].upper(), headers


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache  # noqa: PLW0603 - a per-second cache inside the server process only
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


async def serve(state_path: Path, corpus: Path, port: int, port_each: bool, parent: int) -> None:
    server = Server(state_path, corpus, port, port_each)
    server.load()
    await server.choose_port()
    await server.sync_listeners()
    control = await asyncio.start_server(server.control, "127.0.0.1", 0)
    ready = {"ports": server.ports, "port": server.port, "control": control.sockets[0].getsockname()[1]}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():  # also stop when the parent is gone
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if parent and os.getppid() != parent:
            break
    control.close()
    for listener in server.listeners.values():
        listener.close()


# -- the client side: start, update, stop ---------------------------------------------------


class SimWeb:
    """Runs a :class:`World` in a server process; ``update()`` applies changes to it."""

    def __init__(self, world: World, workdir: Path, *, port: int = 0, port_each: bool = False,
                 corpus: Path = CORPUS, log: Path | None = None) -> None:
        self.log = log  # every answered request, one line each (see Server.log)
        self.world = world
        self.workdir = Path(workdir)
        self.state_path = self.workdir / "simweb-state.json"
        self.port = port
        self.port_each = port_each
        self.corpus = corpus
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}
        self.control_port = 0

    def __enter__(self) -> SimWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_state(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        temp = self.state_path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.world.to_json()))
        os.replace(temp, self.state_path)

    def start(self, timeout: float = 30.0) -> SimWeb:
        self.write_state()
        command = [sys.executable, str(Path(__file__).resolve()), "serve", "--state", str(self.state_path),
                   "--corpus", str(self.corpus), "--port", str(self.port), "--parent", str(os.getpid())]
        if self.port_each:
            command.append("--port-each")
        env = {**os.environ, "SIMWEB_LOG": str(self.log)} if self.log else None
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True, env=env)
        try:
            ready = json.loads(self._read_line(timeout))
        except BaseException:
            self.stop()
            raise
        self.ports, self.port, self.control_port = ready["ports"], ready["port"], ready["control"]
        (self.workdir / "simweb-control.json").write_text(json.dumps(ready))
        return self

    def _read_line(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffer = b""
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"simweb did not start (exit code {self.process.poll()})")
            if selector.select(min(left, 0.5)):
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("simweb exited before it was ready")
                buffer += chunk
        selector.close()
        return buffer.split(b"\n", 1)[0].decode()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
        if process.stdout:
            process.stdout.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def control(self, action: str, timeout: float = 30.0) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.control_port}{CONTROL_PREFIX}{action}"
        with _no_proxy().open(url, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def update(self) -> dict[str, Any]:
        """Write the (changed) world and have the server apply it before returning."""
        self.write_state()
        stats = self.control("reload")
        self.ports.update(stats.get("ports", {}))
        return stats

    def stats(self) -> dict[str, Any]:
        return self.control("stats")

    def reset_stats(self) -> dict[str, Any]:
        return self.control("reset")

    def url(self, key_or_ip: str, target: str | None = None) -> str:
        """The URL of a route key ("ip/path") or of (ip, target)."""
        ip, path = split_key(key_or_ip) if target is None else (key_or_ip, target)
        port = self.ports.get(ip) or self.port
        if not port:
            raise RuntimeError("the server is not started (no port yet)")
        return f"http://{ip}:{port}{path}"

    def page_urls(self) -> list[str]:
        """The URL of every route, in insertion order."""
        return [self.url(key) for key in self.world.routes]

    def write_url_list(self, path: Path, keys: list[str] | None = None) -> list[str]:
        urls = [self.url(k) for k in keys] if keys is not None else self.page_urls()
        Path(path).write_text("".join(u + "\n" for u in urls))
        return urls


def _no_proxy() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a loopback URL without following redirects: (status, headers, body). For tests and tools."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname or not ipaddress.ip_address(parts.hostname).is_loopback:
        raise ValueError(f"simweb.fetch only talks to loopback addresses, not {url}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# -- ready-made worlds ----------------------------------------------------------------------

SECTIONS = ("news", "blog", "science")


def page_path(n: int, pages: list[tuple[str, str]] | None = None, page: int | None = None) -> str:
    """A realistic path for page number ``n``: /news/some-slug-123.html."""
    section = SECTIONS[n % len(SECTIONS)]
    slug = "article"
    if pages is not None and page is not None:
        stem = pages[page % len(pages)][0].rsplit(".", 1)[0]
        slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40] or "article"
    return f"/{section}/{slug}-{n}.html"


def bench_world(*, hosts: int = 100, urls: int = 2000, latency: float = 0.05, slow_hosts: int = 0,
                failing_hosts: int = 0, gzip_bodies: bool = False, seed: int = 0,
                base: str = DEFAULT_BASE, corpus: Path = CORPUS) -> World:
    """``urls`` pages spread evenly over ``hosts`` hosts; the last hosts may be slow or failing.

    Failing hosts cycle through refused, error500, unavailable (503 + Retry-After) and hang.
    """
    pages = corpus_pages(corpus)
    world = World(latency=latency, gzip=gzip_bodies, seed=seed)
    failing_kinds = ("refused", "error500", "unavailable", "hang")
    for i in range(hosts):
        kind = "normal"
        if i >= hosts - failing_hosts:
            kind = failing_kinds[(hosts - 1 - i) % len(failing_kinds)]
        elif i >= hosts - failing_hosts - slow_hosts:
            kind = "slow"
        ip = host_ip(i, base)
        world.hosts[ip] = Host(ip=ip, kind=kind, home_page=i % len(pages), name=f"site{i}.example")
    ips = list(world.hosts)
    for n in range(urls):
        ip = ips[n % hosts]
        page = (n * 7 + seed) % len(pages)
        world.add(ip, page_path(n, pages, page), Route(page=page))
    return world


def write_config(path: Path, archive_dir: str = "archive", *, sources: list[str] | None = None,
                 fetch: dict[str, Any] | None = None, check: dict[str, Any] | None = None,
                 report_formats: list[str] | None = None) -> Path:
    """An archiver config.toml for a simulated world: private networks allowed, no politeness delay."""
    fetch_values: dict[str, Any] = {"allow_private_networks": True, "per_host_delay": "0s",
                                    "per_host_concurrency": 2, **(fetch or {})}
    lines = ["# written by scripts/simweb.py for a simulated web on loopback addresses", "",
             "[archive]", f"dir = {json.dumps(archive_dir)}", ""]
    for source in sources or []:  # absolute, so the config works from any directory
        lines += ["[[sources]]", f"path = {json.dumps(str(Path(path).resolve().parent / source))}", ""]
    lines += ["[fetch]"] + [f"{k} = {_toml(v)}" for k, v in fetch_values.items()] + [""]
    if check:
        lines += ["[check]"] + [f"{k} = {_toml(v)}" for k, v in check.items()] + [""]
    if report_formats is not None:
        lines += ["[report]", f"formats = {json.dumps(report_formats)}", ""]
    Path(path).write_text("\n".join(lines))
    return Path(path)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# -- command line ---------------------------------------------------------------------------


def _parse_assignments(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"simweb set: expected name=value, got {item!r}")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw
    return values


def command_set(args: argparse.Namespace) -> None:
    """Change one route (ip/path) or host (ip) of a running world, from a shell."""
    workdir = Path(args.dir)
    world = World.from_json(json.loads((workdir / "simweb-state.json").read_text()))
    values = _parse_assignments(args.values)
    if "/" in args.target:
        route = world.routes.get(args.target, Route())
        world.routes[args.target] = Route(**{**asdict(route), **values})
    else:
        host = world.hosts[args.target]
        world.hosts[args.target] = Host(**{**asdict(host), **values})
    ready = json.loads((workdir / "simweb-control.json").read_text())
    web = SimWeb(world, workdir)
    web.control_port = ready["control"]
    web.write_state()
    with contextlib.suppress(OSError):  # not running: the state file is enough for next time
        print(json.dumps({"version": web.control("reload")["version"]}))


def command_run(args: argparse.Namespace) -> None:
    workdir = Path(args.dir)
    world = bench_world(hosts=args.hosts, urls=args.urls, latency=args.latency, slow_hosts=args.slow_hosts,
                        failing_hosts=args.failing_hosts, gzip_bodies=args.gzip, seed=args.seed)
    world.slow_latency = args.slow_latency
    with SimWeb(world, workdir, port=args.port, port_each=args.port_each) as web:
        urls = web.write_url_list(workdir / "urls.txt")
        write_config(workdir / "config.toml", "archive", sources=["urls.txt"])
        print(f"simweb: {len(world.hosts)} hosts, {len(urls)} URLs, latency {world.latency}s, pid {web.pid}")
        print(f"  URL list: {workdir / 'urls.txt'} (first: {urls[0] if urls else '-'})")
        print(f"  archiver config: {workdir / 'config.toml'}; state: {web.state_path}")
        print(f"  control: http://127.0.0.1:{web.control_port}{CONTROL_PREFIX}stats ; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            deadline = time.monotonic() + args.duration if args.duration else None
            while web.process and web.process.poll() is None:
                if deadline and time.monotonic() > deadline:
                    break
                time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="(internal) the server process")
    serve_p.add_argument("--state", required=True)
    serve_p.add_argument("--corpus", default=str(CORPUS))
    serve_p.add_argument("--port", type=int, default=0)
    serve_p.add_argument("--port-each", action="store_true")
    serve_p.add_argument("--parent", type=int, default=0)
    set_p = sub.add_parser("set", help="change a route (ip/path) or a host (ip) of a running world")
    set_p.add_argument("--dir", required=True, help="the world's directory")
    set_p.add_argument("target", help="ip/path?query for a route, ip for a host")
    set_p.add_argument("values", nargs="+", help="name=value, e.g. fate=status status=410, kind=parked")
    for p in (parser,):
        p.add_argument("--dir", default="simweb-world", help="where urls.txt, state and config.toml go")
        p.add_argument("--hosts", type=int, default=100)
        p.add_argument("--urls", type=int, default=2000)
        p.add_argument("--latency", type=float, default=0.05, help="seconds before every answer")
        p.add_argument("--slow-hosts", type=int, default=0)
        p.add_argument("--slow-latency", type=float, default=1.0)
        p.add_argument("--failing-hosts", type=int, default=0)
        p.add_argument("--gzip", action="store_true")
        p.add_argument("--port", type=int, default=0, help="shared port (default: any free one)")
        p.add_argument("--port-each", action="store_true", help="a port per host instead of a shared one")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: Ctrl-C)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(serve(Path(args.state), Path(args.corpus), args.port, args.port_each, args.parent))
    elif args.command == "set":
        command_set(args)
    else:
        command_run(args)


if __name__ == "__main__":
    main()
