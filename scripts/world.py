#!/usr/bin/env python3
"""A reusable test world of cited links with known fates, and the checker's accuracy on it (issue 5).

The world is built on scripts/simweb.py from the real pages of
``tests/data/corpus/pages``: at least 200 links, each with a *fate* — what
happens to the page between the moment it is cited and the checks — and the
state SPEC §5 says the checker must end in::

    ok        unchanged, noise (rotating ads/timestamps), inline-noise ("Updated <time>"
              inside the article), minor (2% edit), bytes-only
              (new bytes, same text), slash (301 to the trailing-slash URL), temp302
              (302 to the same content elsewhere), slow host, recover500 (a 500 at
              the first check only), ok-on-soft404-host, ok-on-redirect-host
    changed   rewritten
    moved     moved (301 to a new path), moved-host (301 to another host)
    dead      dead404, dead410, dead500, dead503 (+Retry-After), soft404 (one error
              page for every unknown path), soft404-home (the home page for every
              unknown path), root-redirect (unknown paths -> 302 /), home301,
              redirect-404-page (302 to /404.html answering 200), parked, refused
              (the host stops listening), timeout (the host hangs), dns
              (nosuch-N.invalid) and dead-at-cite (404): both gone already when cited
    blocked   blocked403, blocked429 (+Retry-After), challenge (503 "Just a moment..."
              with cf-mitigated: challenge), challenge-200 (the same page with 200)

The lifecycle runs through the CLI only: ``archiver collect`` of text articles
citing every link, ``archiver sweep --no-report`` (the cited copies), then the
world evolves and ``archiver check --all`` runs ``--checks`` times (the world's
config has confirm_checks = 3, confirm_span = "0s", retry_failing_after = "0s",
so failures confirm within one run). Finally ``archiver links --format json`` is
compared with the expected states: a confusion table, accuracy per fate, state
accuracy (target >= 95%) and every link whose page is fine but that is reported
dead or failing (target: none).

    .venv/bin/python scripts/world.py
    .venv/bin/python scripts/world.py --per-fate 12 --checks 10 --json world.json --dir /tmp/world --keep

Importable: :func:`build_world`, :func:`evolve`, :func:`expected_state`,
:class:`Cli`, :func:`write_articles`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simweb import (  # noqa: E402
    CORPUS, Host, Route, SimWeb, World, corpus_pages, host_ip, split_key, write_config,
)

ROOT = Path(__file__).resolve().parents[1]
ARCHIVER = ROOT / ".venv" / "bin" / "archiver"
STATES = ("ok", "changed", "moved", "failing", "dead", "blocked", "excluded", "pending", "missing")


# -- fates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fate:
    name: str
    state: str  # the final state SPEC §5 asks for (dead fates: once confirmed)
    reasons: tuple[str, ...]  # acceptable reasons for that state
    host: str = "normal"  # the pool of hosts the link lives on
    fails_at_capture: bool = False
    editable: bool = False  # needs a page whose article text is in <p> elements
    weight: float = 1.0  # links per fate = round(per_fate * weight)
    kind: str = "classic"  # "new": the fates of issue 12 (platforms, rendering, walls, removals)


FATES: tuple[Fate, ...] = (
    Fate("unchanged", "ok", ("unchanged",)),
    Fate("noise", "ok", ("unchanged", "minor-edit")),
    Fate("inline-noise", "ok", ("unchanged", "minor-edit"), editable=True),
    Fate("minor", "ok", ("minor-edit", "unchanged"), editable=True),
    Fate("bytes-only", "ok", ("unchanged", "minor-edit")),
    Fate("slash", "ok", ("unchanged", "minor-edit")),
    Fate("temp302", "ok", ("unchanged", "minor-edit")),
    Fate("slow", "ok", ("unchanged",), host="slow", weight=0.6),
    Fate("recover500", "ok", ("unchanged",)),
    Fate("ok-on-soft404-host", "ok", ("unchanged",), host="soft404", weight=0.6),
    Fate("ok-on-redirect-host", "ok", ("unchanged",), host="root_redirect", weight=0.6),
    Fate("rewritten", "changed", ("drift", "title-changed"), editable=True),
    Fate("moved", "moved", ("redirect",)),
    Fate("moved-host", "moved", ("redirect",)),
    Fate("dead404", "dead", ("http-404",)),
    Fate("dead410", "dead", ("http-410",)),
    Fate("dead500", "dead", ("http-5xx",)),
    Fate("dead503", "dead", ("http-5xx",)),
    Fate("soft404", "dead", ("soft-404",), host="soft404"),
    Fate("soft404-home", "dead", ("soft-404", "redirect-to-root"), host="soft404_home"),
    Fate("root-redirect", "dead", ("redirect-to-root", "soft-404"), host="root_redirect"),
    Fate("home301", "dead", ("redirect-to-root", "soft-404")),
    Fate("redirect-404-page", "dead", ("soft-404", "redirect-to-root")),
    Fate("dead-at-cite", "dead", ("http-404",), fails_at_capture=True, weight=0.6),
    Fate("parked", "dead", ("parked",), host="parked"),
    Fate("refused", "dead", ("refused",), host="refused"),
    Fate("timeout", "dead", ("timeout",), host="hang", weight=0.4),
    Fate("dns", "dead", ("dns",), host="dns", fails_at_capture=True, weight=0.6),
    Fate("blocked403", "blocked", ("http-403",)),
    Fate("blocked429", "blocked", ("http-429",)),
    Fate("challenge", "blocked", ("challenge",)),
    Fate("challenge-200", "blocked", ("challenge",), weight=0.6),
    # the web people actually cite (issue 12): platform posts, script-rendered pages, walls, removals
    Fate("post-alive", "ok", ("unchanged", "minor-edit"), host="platform", kind="new"),
    Fate("post-edited", "changed", ("drift", "title-changed"), host="platform", kind="new"),
    Fate("post-deleted", "dead", ("removed",), host="platform", kind="new"),
    Fate("post-private", "blocked", ("private",), host="platform", kind="new"),
    Fate("spa-unchanged", "ok", ("unchanged", "minor-edit"), host="spa", kind="new"),
    Fate("spa-rewritten", "changed", ("drift", "title-changed"), host="spa", kind="new"),
    Fate("spa-gone", "dead", ("soft-404", "removed"), host="spa", kind="new"),
    Fate("paywall", "blocked", ("paywall",), editable=True, kind="new"),
    Fate("consent", "blocked", ("consent",), kind="new"),
    Fate("login", "blocked", ("login",), kind="new"),
    Fate("removal-notice", "dead", ("removed",), kind="new"),
    Fate("hijacked", "dead", ("hijacked",), host="hijacked", kind="new"),
)
FATE = {f.name: f for f in FATES}
#: How many links one host of each pool carries (host-level fates share their host).
LINKS_PER_HOST = {"normal": 12, "slow": 3, "soft404": 4, "soft404_home": 4, "root_redirect": 4, "parked": 2,
                  "refused": 2, "hang": 2, "platform": 20, "spa": 10, "hijacked": 3, "api": 10_000}
#: Host kind at citation time (before evolving).
CITE_KIND = {"normal": "normal", "slow": "slow", "soft404": "soft404", "soft404_home": "soft404",
             "root_redirect": "root_redirect", "parked": "normal", "refused": "normal", "hang": "normal",
             "platform": "normal", "spa": "normal", "hijacked": "normal", "api": "normal"}
#: Host kind after evolving.
LATER_KIND = {**CITE_KIND, "parked": "parked", "refused": "refused", "hang": "hang", "hijacked": "spam"}


@dataclass
class Link:
    fate: str
    key: str  # simweb route key "ip/path" (dns links: "host/path" of an unresolvable host)
    url: str = ""  # filled in once the server runs
    page: int = 0
    extra: dict[str, str] = field(default_factory=dict)  # e.g. the new key of a moved page

    @property
    def ip(self) -> str:
        return split_key(self.key)[0]


def expected_state(fate: Fate, checks: int, confirm_checks: int = 3) -> str:
    """The state the link must be in after the cited capture and ``checks`` checks."""
    if fate.state == "dead":
        failures = checks + (1 if fate.fails_at_capture else 0)
        return "dead" if failures >= confirm_checks else "failing"
    if fate.name == "recover500" and checks < 2:
        return "failing" if checks == 1 else "ok"
    return fate.state


# -- building the world ---------------------------------------------------------------------


_P_WORDS = re.compile(r"<p\b[^>]*>(.*?)</p\s*>", re.I | re.S)


def editable_pages(pages: list[tuple[str, str]], min_words: int = 300) -> list[int]:
    """Pages whose paragraphs hold enough words for edits and rewrites to show in the main text."""
    found = []
    for index, (_, html) in enumerate(pages):
        words = sum(len(re.sub(r"<[^>]+>", " ", m).split()) for m in _P_WORDS.findall(html))
        if words >= min_words:
            found.append(index)
    return found


class _Hosts:
    """Hands out loopback hosts per pool, ``LINKS_PER_HOST`` links each."""

    def __init__(self, world: World, n_pages: int, base_index: int) -> None:
        self.world = world
        self.n_pages = n_pages
        self.next_index = base_index
        self.current: dict[str, tuple[str, int]] = {}
        self.pools: dict[str, list[str]] = defaultdict(list)

    def new(self, pool: str) -> str:
        ip = host_ip(self.next_index)
        self.next_index += 1
        kind = CITE_KIND[pool]
        style = "home" if pool == "soft404_home" else "notfound"
        self.world.hosts[ip] = Host(ip=ip, kind=kind, home_page=self.next_index % self.n_pages,
                                    soft404_style=style, name=f"{pool.replace('_', '-')}-{len(self.pools[pool])}.example",
                                    tag=pool)
        self.pools[pool].append(ip)
        return ip

    def take(self, pool: str) -> str:
        ip, used = self.current.get(pool, ("", LINKS_PER_HOST[pool]))
        if used >= LINKS_PER_HOST[pool]:
            ip, used = self.new(pool), 0
        self.current[pool] = (ip, used + 1)
        return ip


def build_world(per_fate: int = 10, *, latency: float = 0.01, slow_latency: float = 0.8, seed: int = 0,
                kinds: tuple[str, ...] = ("classic", "new"),
                base_index: int = 1000, corpus: Path = CORPUS) -> tuple[World, list[Link]]:
    """The world as cited (before evolving) and its links with their fates."""
    pages = corpus_pages(corpus)
    editable = editable_pages(pages)
    world = World(latency=latency, slow_latency=slow_latency, seed=seed)
    hosts = _Hosts(world, len(pages), base_index)
    for _ in range(3):  # spare normal hosts for moved-host targets
        hosts.new("normal")
    counts = {fate.name: max(1, round(per_fate * fate.weight)) if fate.kind in kinds else 0 for fate in FATES}
    links: list[Link] = []
    n = 0
    for i in range(max(counts.values())):  # round-robin, so that fates share hosts
        for fate in FATES:
            if i >= counts[fate.name]:
                continue
            n += 1
            choices = editable if fate.editable else list(range(len(pages)))
            links.append(_new_link(world, hosts, fate, n, choices, seed, pages))
    return world, links


def _new_link(world: World, hosts: _Hosts, fate: Fate, n: int, choices: list[int], seed: int,
              pages: list[tuple[str, str]]) -> Link:
    ip = "" if fate.host == "dns" else hosts.take(fate.host)
    home = world.hosts[ip].home_page if ip else -1
    candidates = [c for c in choices if c != home]  # a page never reads like its host's home page
    page = candidates[(n * 7 + seed) % len(candidates)]
    stem = re.sub(r"[^a-z0-9]+", "-", pages[page][0].rsplit(".", 1)[0].lower()).strip("-")[:32]
    section = ("news", "blog", "science")[n % 3]
    path = f"/{section}/{stem}-{n}" + ("" if fate.name == "slash" else ".html")
    if fate.host == "dns":
        return Link(fate.name, f"nosuch-{n}.invalid{path}", page=page)
    route = Route(page=page, noise=fate.name == "noise", inline_noise=fate.name == "inline-noise")
    if fate.name == "dead-at-cite":
        route = Route(fate="status", status=404)
    if fate.host in ("platform", "spa"):
        return _new_app_link(world, hosts, fate, n, ip, page, pages)
    key = world.add(ip, path, route)
    link = Link(fate.name, key, page=page)
    if fate.name == "moved-host":
        link.extra["to_ip"] = hosts.pools["normal"][n % 3]
    return link


# -- the web people cite: posts behind a platform's endpoint, pages rendered by script ------------

POST_SHELL = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Post</title>"
              "<script src=\"/static/client.js\" defer></script></head><body><div id=\"react-root\"></div>"
              "<noscript>JavaScript is not available.</noscript></body></html>")
JSON = {"Content-Type": "application/json"}
#: The provider the world's config adds: posts on the world's platform hosts, asked at its api host.
POST_PATTERN = r"re:^http://[0-9.]+(:\d+)?/[a-z]+/status/(?P<id>\d+)$"


def paragraphs_of(html: str, count: int = 6) -> list[str]:
    """Plain paragraphs of a corpus page (at least 12 words each)."""
    found = []
    for match in _P_WORDS.findall(html):
        text = " ".join(re.sub(r"<[^>]+>", " ", match).split())
        if len(text.split()) >= 12:
            found.append(text.replace("&nbsp;", " "))
    return found[:count]


def post_answer(pages: list[tuple[str, str]], page: int, author: str) -> str:
    """The oEmbed answer for a post whose text is the opening of a corpus page."""
    words = " ".join(paragraphs_of(pages[page][1], 2)).split()[:45]
    text = " ".join(words) or "a short post"
    return json.dumps({"type": "rich", "version": "1.0", "author_name": author, "provider_name": "World",
                       "html": f"<blockquote><p>{text}</p>&mdash; {author}</blockquote>"})


def spa_shell(api_path: str) -> str:
    """An application shell: the article comes from ``api_path`` (JSON), a 404 shows a not-found page."""
    script = ("fetch('" + api_path + "').then(function (r) { return r.text().then(function (t) {"
              " return [r.status, t]; }); }).then(function (a) { var root = document.getElementById('root');"
              " if (a[0] !== 200) { document.title = 'Page not found'; root.innerHTML = '<h1>Page not found</h1>"
              "<p>Sorry, the page you are looking for does not exist.</p>'; return; }"
              " var d = JSON.parse(a[1]); document.title = d.title; root.innerHTML = '<article><h1>' + d.title"
              " + '</h1>' + d.paragraphs.map(function (p) { return '<p>' + p + '</p>'; }).join('')"
              " + '</article>'; });")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reader</title></head>"
            f"<body><div id=\"root\"></div><script>{script}</script></body></html>")


def spa_answer(pages: list[tuple[str, str]], page: int) -> str:
    name, html = pages[page]
    title = re.search(r"<title[^>]*>(.*?)</title", html, re.I | re.S)
    return json.dumps({"title": " ".join(title[1].split())[:120] if title else name,
                       "paragraphs": [p.replace("<", " ") for p in paragraphs_of(html)]})


def _new_app_link(world: World, hosts: _Hosts, fate: Fate, n: int, ip: str, page: int,
                  pages: list[tuple[str, str]]) -> Link:
    api = hosts.take("api")
    if fate.host == "platform":
        author = ("jack", "nasa", "anna", "lucas")[n % 4]
        key = world.add(ip, f"/{author}/status/{1000 + n}", Route(fate="body", status=200, body=POST_SHELL))
        api_key = world.add(api, f"/oembed/{1000 + n}.json", Route(fate="body", status=200, headers=JSON,
                                                                   body=post_answer(pages, page, author)))
    else:
        key = world.add(ip, f"/app/story-{n}", Route(fate="body", status=200, body=spa_shell(f"/api/story-{n}.json")))
        api_key = world.add(ip, f"/api/story-{n}.json", Route(fate="body", status=200, headers=JSON,
                                                              body=spa_answer(pages, page)))
    link = Link(fate.name, key, page=page)
    link.extra["api_key"] = api_key
    return link


# -- walls and removal notices in front of a cited page --------------------------------------

PAYWALL_MARKUP = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
                  '"isAccessibleForFree": false}</script>')
CONSENT_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><title>Before you continue</title></head><body><div class="
                "\"cmp\"><h1>We value your privacy</h1><p>We and our partners store and/or access information on a "
                "device, such as cookies, and process personal data.</p><button>Accept all</button><button>Reject all"
                "</button></div></body></html>")
LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sign in</h1><form method=\"post\" "
              "action=\"/session\"><input name=\"email\"><input type=\"password\" name=\"password\"><button>Sign in"
              "</button></form></body></html>")
NOTICES = (
    ("Article removed", "This article has been removed", "The article you are looking for was removed at the "
     "request of its author."),
    ("Beitrag entfernt", "Dieser Artikel wurde entfernt", "Der Inhalt ist leider nicht mehr verfügbar."),
    ("Contenu retiré", "Cet article a été supprimé", "Ce contenu n'est plus disponible sur notre site."),
    ("Contenido retirado", "Este artículo ha sido eliminado", "El contenido ya no está disponible."),
    ("Contenuto rimosso", "Questo articolo è stato rimosso", "Il contenuto non è più disponibile."),
)


def paywall_page(html: str) -> str:
    """The cited page's head and first paragraph, marked not free, with a subscription offer."""
    head = re.search(r"<head\b.*?</head\s*>", html, re.I | re.S)
    first = paragraphs_of(html, 1)
    return (f"<!DOCTYPE html><html>{head[0] if head else ''}<body><article><p>{first[0] if first else ''}</p>"
            f"{PAYWALL_MARKUP}<div class=\"paywall\"><p>Subscribe to continue reading. Already a subscriber? "
            f"Sign in.</p></div></article></body></html>")


def notice_page(n: int) -> str:
    title, heading, text = NOTICES[n % len(NOTICES)]
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><nav>"
            f"<a href=\"/\">Home</a></nav><main><h1>{heading}</h1><p>{text}</p></main></body></html>")


# -- evolving it ----------------------------------------------------------------------------


def evolve(world: World, links: list[Link], check: int, web: SimWeb) -> None:
    """Put the world in the shape it has at check number ``check`` (1-based), then apply it."""
    for host in world.hosts.values():
        host.kind = LATER_KIND.get(host.tag, host.kind)
    for link in links:
        if link.fate != "dns":
            _evolve_link(world, link, check, web)
    web.update()


def _evolve_link(world: World, link: Link, check: int, web: SimWeb) -> None:
    old = world.routes[link.key]
    page = Route(page=link.page, seed_key=link.key)
    fate = link.fate
    if fate == "minor":
        world.routes[link.key] = Route(page=link.page, edit=0.02)
    elif fate == "bytes-only":
        world.routes[link.key] = Route(page=link.page, version=1)
    elif fate == "rewritten":
        world.routes[link.key] = Route(page=link.page, rewrite=0.7)
    elif fate in ("moved", "moved-host", "slash", "temp302"):
        _redirect(world, link, web, page)
    elif fate == "recover500":
        world.routes[link.key] = Route(fate="status", status=500) if check == 1 else Route(page=link.page)
    elif fate in ("dead404", "dead410", "dead500", "blocked403"):
        world.routes[link.key] = Route(fate="status", status={"dead404": 404, "dead410": 410, "dead500": 500,
                                                              "blocked403": 403}[fate])
    elif fate in ("dead503", "blocked429"):
        world.routes[link.key] = Route(fate="status", status=503 if fate == "dead503" else 429, retry_after=1)
    elif fate in ("soft404", "soft404-home", "root-redirect"):
        world.routes[link.key] = Route(fate="missing")
    elif fate == "home301":
        world.routes[link.key] = Route(fate="redirect", location="/", redirect_status=301)
    elif fate == "redirect-404-page":
        world.add(link.ip, "/404.html", Route(fate="errorpage"))
        world.routes[link.key] = Route(fate="redirect", location="/404.html", redirect_status=302)
    elif fate == "challenge":
        world.routes[link.key] = Route(fate="challenge", status=503,
                                       headers={"Server": "cloudflare", "cf-mitigated": "challenge"})
    elif fate == "challenge-200":
        world.routes[link.key] = Route(fate="challenge", status=200)
    elif fate in NEW_EVOLUTIONS:
        NEW_EVOLUTIONS[fate](world, link, web)
    else:
        world.routes[link.key] = old  # unchanged, noise, slow, ok-on-*, dead-at-cite, host-level fates


def _other_page(link: Link) -> int:
    pages = corpus_pages()
    return (link.page + 7) % len(pages)


def _evolve_new(world: World, link: Link, web: SimWeb) -> None:
    pages = corpus_pages()
    api = link.extra.get("api_key", "")
    ip, path = split_key(link.key)
    if link.fate == "post-edited":
        world.routes[api] = Route(fate="body", status=200, headers=JSON, body=post_answer(pages, _other_page(link),
                                                                                          "jack"))
    elif link.fate == "post-deleted":
        world.routes[api] = Route(fate="status", status=404)
    elif link.fate == "post-private":
        world.routes[api] = Route(fate="body", status=403, headers=JSON, body='{"error": "forbidden"}')
    elif link.fate == "spa-rewritten":
        world.routes[api] = Route(fate="body", status=200, headers=JSON, body=spa_answer(pages, _other_page(link)))
    elif link.fate == "spa-gone":
        world.routes[api] = Route(fate="status", status=404)
    elif link.fate == "paywall":
        world.routes[link.key] = Route(fate="body", status=200, body=paywall_page(pages[link.page][1]))
    elif link.fate == "consent":
        world.routes[link.key] = Route(fate="body", status=200, body=CONSENT_PAGE)
    elif link.fate == "login":
        target = f"/login?next={path}"
        world.add(ip, target, Route(fate="body", status=200, body=LOGIN_PAGE))
        world.routes[link.key] = Route(fate="redirect", location=target, redirect_status=302)
    elif link.fate == "removal-notice":
        world.routes[link.key] = Route(fate="body", status=200, body=notice_page(int(path.rsplit("-", 1)[-1]
                                                                                         .split(".")[0])))


NEW_EVOLUTIONS = {name: _evolve_new for name in ("post-edited", "post-deleted", "post-private", "spa-rewritten",
                                                 "spa-gone", "paywall", "consent", "login", "removal-notice")}


def _redirect(world: World, link: Link, web: SimWeb, same_content: Route) -> None:
    ip, path = split_key(link.key)
    target_ip, status = ip, 301
    if link.fate == "slash":
        new_path = path + "/"
    elif link.fate == "temp302":
        new_path, status = path.replace(".html", "-v2.html"), 302
    elif link.fate == "moved-host":
        target_ip, new_path = link.extra["to_ip"], "/archive" + path
    else:
        new_path = "/archive" + path
    new_key = world.add(target_ip, new_path, same_content)
    link.extra["new_key"] = new_key
    world.routes[link.key] = Route(fate="redirect", location=web.url(new_key), redirect_status=status)


# -- the archiver, through its CLI ----------------------------------------------------------


class Cli:
    """Runs ``archiver --config CONFIG ...`` in the world's directory."""

    def __init__(self, archiver: Path, config: Path, timeout: float = 900.0) -> None:
        self.archiver = archiver
        self.config = config
        self.timeout = timeout
        self.log: list[dict[str, Any]] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        from bench_sweep import clean_env

        command = [str(self.archiver), "--config", str(self.config), *args]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout, env=clean_env(),
                              cwd=self.config.parent, stdin=subprocess.DEVNULL)
        self.log.append({"args": list(args), "returncode": done.returncode, "seconds": round(time.monotonic() - started, 2),
                         "stderr": done.stderr[-2000:]})
        if done.returncode not in (0, 3):
            raise RuntimeError(f"archiver {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)


def write_articles(directory: Path, urls: list[str], per_article: int = 25) -> list[Path]:
    """Plain-text articles, each citing ``per_article`` of the URLs in running sentences."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(urls), per_article):
        number = start // per_article + 1
        lines = [f"Test world article {number}", ""]
        for i, url in enumerate(urls[start: start + per_article]):
            lines.append(f"Claim {start + i + 1} of this article rests on a source, see {url} for the details.")
            lines.append("")
        path = directory / f"article-{number:03d}.txt"
        path.write_text("\n".join(lines))
        paths.append(path)
    return paths


WORLD_CHECK = {"recheck_after": "0s", "retry_failing_after": "0s", "confirm_checks": 3, "confirm_span": "0s"}
WORLD_FETCH = {"connect_timeout": "2s", "read_timeout": "2s", "total_timeout": "8s", "retries": 1}


def world_config(directory: Path, fetch: dict[str, Any] | None = None, check: dict[str, Any] | None = None,
                 post_endpoint: str | None = None) -> Path:
    path = write_config(directory / "config.toml", "archive", fetch={**WORLD_FETCH, **(fetch or {})},
                        check={**WORLD_CHECK, **(check or {})}, report_formats=["json"])
    if post_endpoint:  # the world's platform: its posts are asked at its api host (SPEC §4 [platforms])
        with open(path, "a") as config:
            config.write(f'\n[platforms]\nproviders = [{{ name = "World posts", kind = "oembed", url_patterns = '
                         f'{json.dumps([POST_PATTERN])}, endpoint = {json.dumps(post_endpoint)} }}]\n')
    return path


# -- comparing ------------------------------------------------------------------------------


@dataclass
class Row:
    fate: str
    url: str
    expected: str
    state: str
    reason: str | None
    reason_ok: bool
    history: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.state == self.expected


def compare(links: list[Link], rows: list[dict[str, Any]], checks: int,
            history: dict[str, list[str]]) -> list[Row]:
    by_url = {row["url"]: row for row in rows}
    by_url.update({row["url"].lower(): row for row in rows})
    out = []
    for link in links:
        fate = FATE[link.fate]
        row = by_url.get(link.url) or by_url.get(link.url.lower()) or {}
        state = row.get("state", "missing")
        expected = expected_state(fate, checks)
        reason = row.get("reason")
        reason_ok = state != expected or expected not in ("dead", "failing", "blocked", "changed", "moved") \
            or reason in fate.reasons
        out.append(Row(link.fate, link.url, expected, state, reason, reason_ok, history.get(link.url, [])))
    return out


def fine_but_failing(rows: list[Row]) -> list[Row]:
    """Links whose page is fine (expected ok, changed or moved) reported dead or failing."""
    return [r for r in rows if FATE[r.fate].state in ("ok", "changed", "moved") and r.expected == FATE[r.fate].state
            and r.state in ("dead", "failing")]


def confusion(rows: list[Row]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        table[row.expected][row.state] += 1
    return table


def print_results(rows: list[Row], checks: int, seconds: dict[str, float]) -> dict[str, Any]:
    correct = sum(r.correct for r in rows)
    accuracy = correct / len(rows) if rows else 0.0
    table = confusion(rows)
    columns = [s for s in STATES if any(table[e][s] for e in table)]
    print(f"\nworld: {len(rows)} links, {len({r.fate for r in rows})} fates, cited copy + {checks} check(s)")
    print("\nconfusion (rows: expected state, columns: reported state)")
    print(f"  {'':<10}" + "".join(f"{c:>9}" for c in columns))
    for expected in [s for s in STATES if s in table]:
        print(f"  {expected:<10}" + "".join(f"{table[expected][c] or '.':>9}" for c in columns))
    print("\nper fate (expected state: reported states; reasons)")
    by_fate: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_fate[row.fate].append(row)
    for fate in FATES:
        group = by_fate.get(fate.name, [])
        if not group:
            continue
        states = Counter(r.state for r in group)
        reasons = Counter(r.reason or "-" for r in group)
        mark = "  " if all(r.correct for r in group) else "!!"
        print(f" {mark}{fate.name:<21} {group[0].expected:<8} {sum(r.correct for r in group):>3}/{len(group):<3} "
              f"{dict(states)}  {dict(reasons)}")
    alarms = fine_but_failing(rows)
    wrong_reason = [r for r in rows if r.correct and not r.reason_ok]
    print(f"\nstate accuracy: {correct}/{len(rows)} = {100 * accuracy:.1f}%  (target >= 95%)  "
          f"[{'PASS' if accuracy >= 0.95 else 'FAIL'}]")
    by_kind = {}
    for kind, target in (("classic", 1.0), ("new", 0.95)):
        group = [r for r in rows if FATE[r.fate].kind == kind]
        if group:
            share = sum(r.correct for r in group) / len(group)
            worst = min((sum(r.correct for r in by_fate[f.name]) / len(by_fate[f.name]), f.name)
                        for f in FATES if f.kind == kind and by_fate.get(f.name))
            by_kind[kind] = {"links": len(group), "correct": sum(r.correct for r in group), "worst_fate": worst}
            print(f"  {kind} fates: {sum(r.correct for r in group)}/{len(group)} = {100 * share:.1f}%; worst fate "
                  f"{worst[1]} {100 * worst[0]:.0f}% (target: every fate >= {100 * target:.0f}%)  "
                  f"[{'PASS' if worst[0] >= target else 'FAIL'}]")
    print(f"pages that are fine but reported dead/failing: {len(alarms)}  (target 0)  "
          f"[{'PASS' if not alarms else 'FAIL'}]")
    for row in alarms:
        print(f"  {row.fate:<20} {row.state:<8} {row.reason or '-':<18} {row.url}  history: {' '.join(row.history)}")
    wrong = [r for r in rows if not r.correct and r not in alarms]
    if wrong:
        print(f"other wrong states: {len(wrong)}")
        for row in wrong:
            print(f"  {row.fate:<20} expected {row.expected:<8} got {row.state:<8} {row.reason or '-':<18} {row.url}"
                  f"  history: {' '.join(row.history)}")
    if wrong_reason:
        print(f"right state, unexpected reason: {len(wrong_reason)}")
        for row in wrong_reason[:30]:
            print(f"  {row.fate:<20} {row.state:<8} reason {row.reason!r} (expected one of {FATE[row.fate].reasons})")
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    return {"links": len(rows), "correct": correct, "accuracy": round(accuracy, 4),
            "fine_but_failing": [asdict(r) for r in alarms], "wrong": [asdict(r) for r in wrong],
            "wrong_reason": [asdict(r) for r in wrong_reason], "by_kind": by_kind,
            "confusion": {e: dict(c) for e, c in table.items()}, "seconds": seconds}


# -- main -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    kinds = ("classic", "new") if args.fates == "all" else (args.fates,)
    world, links = build_world(args.per_fate, latency=args.latency, seed=args.seed, kinds=kinds)
    seconds: dict[str, float] = {}
    history: dict[str, list[str]] = defaultdict(list)
    with SimWeb(world, workdir / "simweb") as web:
        for link in links:
            link.url = f"http://{link.key}" if link.fate == "dns" else web.url(link.key)
        urls = [link.url for link in links]
        (workdir / "urls.txt").write_text("\n".join(urls) + "\n")
        (workdir / "fates.json").write_text(json.dumps([asdict(l) for l in links], indent=1))
        api = next((ip for ip, host in world.hosts.items() if host.tag == "api"), None)
        endpoint = web.url(f"{api}/oembed/") + "{id}.json" if api else None
        cli = Cli(args.archiver, world_config(workdir, post_endpoint=endpoint), timeout=args.run_timeout)
        articles = write_articles(workdir / "articles", urls)
        started = time.monotonic()
        collected = cli.json("collect", *[str(p) for p in articles], "--format", "json")
        seconds["collect"] = time.monotonic() - started
        missing = set(urls) - {c["url"] for c in collected}
        if missing:
            print(f"world: {len(missing)} cited URL(s) not collected, e.g. {sorted(missing)[:3]}", file=sys.stderr)
        started = time.monotonic()
        cli.run("sweep", "--no-report")
        seconds["sweep (cited copies)"] = time.monotonic() - started
        for row in cli.json("links", "--format", "json"):
            history[row["url"]].append(f"cite:{row['state']}")
        for check in range(1, args.checks + 1):
            evolve(world, links, check, web)
            started = time.monotonic()
            for outcome in cli.json("check", "--all", "--format", "json"):
                history[outcome["url"]].append(f"{check}:{outcome['verdict']}/{outcome['reason']}->{outcome['state']}")
            seconds[f"check {check}"] = time.monotonic() - started
            print(f"world: check {check}/{args.checks} done in {seconds[f'check {check}']:.1f}s", file=sys.stderr)
        final = cli.json("links", "--format", "json")
    rows = compare(links, final, args.checks, history)
    summary = print_results(rows, args.checks, seconds)
    summary["rows"] = [asdict(r) for r in rows]
    summary["cli"] = cli.log
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-fate", type=int, default=10, help="links per fate (some fates get fewer)")
    parser.add_argument("--checks", type=int, default=3, help="check runs after the world evolves (>= 3 to confirm)")
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fates", choices=("all", "classic", "new"), default="all",
                        help="the classic fates (issue 5), the new ones (issue 12), or all")
    parser.add_argument("--archiver", type=Path, default=ARCHIVER)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (archive, WARCs, world)")
    parser.add_argument("--run-timeout", type=float, default=900.0, help="bound on one archiver command")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="world-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        summary = run(args, workdir)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"world: work directory kept: {workdir}", file=sys.stderr)
    return 0 if summary["accuracy"] >= 0.95 and not summary["fine_but_failing"] else 1


if __name__ == "__main__":
    sys.exit(main())
