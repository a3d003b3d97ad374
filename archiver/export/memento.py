"""Other web archives, asked through Memento (RFC 7089) for copies of dead and changed links.

When a check leaves a link ``dead`` or ``changed`` and no archive has been asked about it since it
entered that state, each ``[external] archives`` TimeGate (a prefix: ``<prefix><URL>``, as the
Internet Archive's ``https://web.archive.org/web/`` and archive.today's
``https://archive.today/timegate/``) is asked for the memento closest to the citation date::

    GET <prefix><URL>
    Accept-Datetime: <citation date, RFC 1123>

A TimeGate answers with a redirect to the memento (302 style, the Internet Archive and
archive.today) or with the memento itself (200 style with ``Memento-Datetime``, pywb). The first and
last mementos come from the answer's ``Link`` header when it lists them (``first memento``, ``last
memento``), else from the TimeMap it links to (``rel="timemap"``, link format). Every answer is
written to the WARCs like any fetch (the evidence of what the archive said, and when) and stored in
the ``alternatives`` table; reports list the mementos found as ``alternatives``.

Polite and bounded: the requests go through the normal fetcher (the network guard, its per-host
slot and ``per_host_delay``, so each archive gets one request at a time with that pause between
requests), with no retries, short timeouts and capped bodies; at most ``MAX_LINKS_PER_RUN`` links
per run and ``TIME_PER_RUN`` seconds per archive (the rest at their next check). One lookup per
link per state change: an answer (found or none) is not asked again until the link's state
changes. An archive that is down (no connection, a timeout, a 5xx) or rate-limits us (429) is not
asked again in this run; that is a note in the report, never a failed check or sweep, and the link
is asked again at its next check. With ``lookup = false`` or no archives nothing is sent.

The citation date is the earliest of the link's first sighting and the dates of the comments citing it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from ..config import Config, FetchConfig
from ..capture.fetch import Fetcher
from ..models import FetchResult
from ..archive.store import iso, parse_iso, utcnow

log = logging.getLogger(__name__)

LOOKUP_STATES = frozenset({"dead", "changed"})
MAX_LINKS_PER_RUN = 200  # links looked up per check run; the others at their next check
TIME_PER_RUN = 600.0  # seconds one archive is asked per check run; the links left wait for their next check
TIMEMAP_MAX_BODY = 2_000_000  # a large TimeMap is cut here: its first memento is still right
TIMEGATE_MAX_BODY = 1_000_000  # a 200-style TimeGate sends the memento itself: keep its start
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
TOTAL_TIMEOUT = 30.0
DOWN_REASONS = frozenset({"dns", "refused", "timeout", "tls", "connection"})
_TIMESTAMP = re.compile(r"/(\d{14})(?:[a-z]{2}_)?/")


class OutcomeLike(Protocol):
    """A check's outcome, as far as lookups care (``archiver.check.run.CheckOutcome``)."""

    @property
    def link_id(self) -> int: ...

    @property
    def state(self) -> str: ...


@dataclass(frozen=True)
class Memento:
    url: str
    datetime: str  # ISO 8601 UTC


@dataclass
class Answer:
    """What one archive said about one URL."""

    archive: str
    outcome: str  # found | none | error
    memento: Memento | None = None
    first: Memento | None = None
    last: Memento | None = None
    note: str | None = None
    stop: bool = False  # the archive is down or rate-limits us: ask it nothing more this run


# --- Link headers and link-format TimeMaps -------------------------------------

_LINK = re.compile(r'\s*<([^>]*)>\s*((?:;\s*[A-Za-z0-9_*-]+\s*(?:=\s*(?:"[^"]*"|[^;,\s]*))?\s*)*)\s*(?:,|$)')
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*(?:=\s*(?:"([^"]*)"|([^;,\s]*)))?')


def parse_links(text: str) -> list[tuple[str, dict[str, str]]]:
    """Entries of a Link header or a link-format document: (URL, params with lower-case names)."""
    out = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LINK.match(text, position)
        if match is None or match.end() == position:
            break
        params = {name.lower(): quoted if quoted is not None and quoted != "" or bare is None else bare
                  for name, quoted, bare in _PARAM.findall(match.group(2))}
        out.append((match.group(1).strip(), params))
        position = match.end()
    return out


def _rels(params: dict[str, str]) -> set[str]:
    return set(params.get("rel", "").lower().split())


def http_date(moment: datetime) -> str:
    """RFC 1123, as Accept-Datetime wants it: ``Mon, 01 Feb 2021 00:00:00 GMT``."""
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def _iso_of_http_date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return iso(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _iso_of_url(url: str) -> str | None:
    """The 14-digit timestamp in a Wayback-style memento URL, as ISO."""
    match = _TIMESTAMP.search(url)
    if match is None:
        return None
    try:
        return iso(datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC))
    except ValueError:
        return None


def _mementos(entries: Iterable[tuple[str, dict[str, str]]], base: str) -> dict[str, Memento]:
    """``rel`` kind ("memento", "first", "last") -> memento, from Link entries."""
    found: dict[str, Memento] = {}
    for url, params in entries:
        rels = _rels(params)
        if "memento" not in rels:
            continue
        moment = _iso_of_http_date(params.get("datetime")) or _iso_of_url(url)
        if moment is None:
            continue
        memento = Memento(urljoin(base, url), moment)
        for kind in ("first", "last"):
            if kind in rels:
                found.setdefault(kind, memento)
        if rels == {"memento"}:
            found.setdefault("memento", memento)
    return found


def timemap_bounds(text: str, base: str) -> tuple[Memento | None, Memento | None]:
    """The earliest and latest mementos a link-format TimeMap lists."""
    mementos = []
    for url, params in parse_links(text):
        if "memento" in _rels(params):
            moment = _iso_of_http_date(params.get("datetime")) or _iso_of_url(url)
            if moment:
                mementos.append(Memento(urljoin(base, url), moment))
    if not mementos:
        return None, None
    mementos.sort(key=lambda m: m.datetime)
    return mementos[0], mementos[-1]


# --- asking one archive ------------------------------------------------------------


def archive_label(prefix: str) -> str:
    """How an archive is named in reports: the host of its TimeGate prefix."""
    return urlsplit(prefix).hostname or prefix


def _body_text(result: FetchResult) -> str:
    final = result.final
    if final is None or final.body_path is None:
        return ""
    data = final.body_path.read_bytes()
    if (final.header("content-encoding") or "").lower() in ("gzip", "x-gzip", "deflate"):
        import zlib

        try:
            data = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, TIMEMAP_MAX_BODY * 4)
        except zlib.error:
            return ""
    return data.decode("utf-8", "replace")


def read_timegate(prefix: str, result: FetchResult) -> tuple[Answer, str | None]:
    """The answer a TimeGate gave, and the TimeMap URL it links to (if first or last are missing)."""
    label = archive_label(prefix)
    final = result.final
    if final is None:
        reason = result.error or "connection"
        # down, or refused by the network guard: the same for every link, so stop asking it
        return Answer(prefix, "error", note=f"{label} could not be asked: {reason}: {result.detail}",
                      stop=True), None
    status = final.status
    if status == 429:
        return Answer(prefix, "error", note=f"{label} asked us to slow down (HTTP 429); asked again later",
                      stop=True), None
    if status >= 500:
        return Answer(prefix, "error", note=f"{label} is failing (HTTP {status}); asked again later", stop=True), None
    if status in (404, 410):
        return Answer(prefix, "none", note=f"{label} holds no copy"), None
    links = parse_links(",".join(value.decode("latin-1") for key, value in final.response_headers
                                 if key.lower() == b"link"))
    found = _mementos(links, final.url)
    timemap = next((urljoin(final.url, url) for url, params in links if "timemap" in _rels(params)), None)
    memento: Memento | None = None
    if final.is_redirect:
        location = urljoin(final.url, final.header("location") or "")
        listed = found.get("memento")
        moment = (listed.datetime if listed is not None and listed.url == location else None) \
            or _iso_of_url(location) or (listed.datetime if listed is not None else None)
        memento = Memento(location, moment) if moment else None
    elif status == 200 and final.header("memento-datetime"):
        where = final.header("content-location")
        url = urljoin(final.url, where) if where else found["memento"].url if "memento" in found else final.url
        moment = _iso_of_http_date(final.header("memento-datetime"))
        memento = Memento(url, moment) if moment else None
    if memento is None:
        return Answer(prefix, "error", note=f"{label} gave no memento (HTTP {status}): not a Memento TimeGate?"), None
    answer = Answer(prefix, "found", memento, found.get("first"), found.get("last"))
    return answer, (timemap if answer.first is None or answer.last is None else None)


async def ask_archive(fetcher: Fetcher, prefix: str, url: str, when: datetime) -> tuple[Answer, list[FetchResult]]:
    """Ask one TimeGate for the memento of ``url`` closest to ``when``; the fetches made come along."""
    asked = {"Accept-Datetime": http_date(when)}
    gate = await fetcher.fetch(prefix + url, retries=0, headers=asked, follow_redirects=False)
    answer, timemap = read_timegate(prefix, gate)
    results = [gate]
    if answer.memento is None and answer.outcome == "error" and gate.final is not None and gate.final.is_redirect:
        # a redirect to another TimeGate URL (the archive's canonical form of the URL): ask there, once
        again = await fetcher.fetch(urljoin(gate.final.url, gate.final.header("location") or ""), retries=0,
                                    headers=asked, follow_redirects=False)
        results.append(again)
        answer, timemap = read_timegate(prefix, again)
    if timemap:
        mapped = await fetcher.fetch(timemap, retries=0, headers={"Accept": "application/link-format"})
        results.append(mapped)
        if mapped.ok and mapped.status == 200:
            first, last = timemap_bounds(_body_text(mapped), mapped.final_url)
            answer.first, answer.last = answer.first or first, answer.last or last
        elif mapped.status == 429 or mapped.error in DOWN_REASONS:
            answer.stop = True
    return answer, results


# --- the hook after checks -------------------------------------------------------------


def citation_date(link: dict[str, Any], citations: Sequence[dict[str, Any]]) -> datetime:
    """The earliest of the link's first sighting and the dates of the comments citing it."""
    moments = [parse_iso(link["first_seen"])]
    for citation in citations:
        text = citation.get("comment_date")
        if not text:
            continue
        try:
            moment = parse_iso(str(text))
        except ValueError:
            continue
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return min(moments)


def lookup_config(fetch: FetchConfig) -> FetchConfig:
    """The fetcher settings for archives: one request at a time per archive, short timeouts, no retries."""
    return replace(fetch, per_host_concurrency=1, retries=0, max_body=max(TIMEMAP_MAX_BODY, TIMEGATE_MAX_BODY),
                   connect_timeout=min(fetch.connect_timeout, CONNECT_TIMEOUT),
                   read_timeout=min(fetch.read_timeout, READ_TIMEOUT),
                   total_timeout=min(fetch.total_timeout, TOTAL_TIMEOUT), respect_robots=False)


def wanted(config: Config) -> bool:
    return config.external.lookup and bool(config.external.archives)


async def look_up_alternatives(archive: Any, outcomes: Iterable[OutcomeLike]) -> int:
    """After checks: ask the configured archives about links that are now dead or changed and have
    not been asked about since entering that state. Returns the number of links asked about.
    Never raises for what an archive does; a problem is stored as a note."""
    config: Config = archive.config
    if not wanted(config):
        return 0
    candidates = list(dict.fromkeys(o.link_id for o in outcomes if o.state in LOOKUP_STATES))
    if not candidates:
        return 0
    store = archive.store
    links = [store.link_by_id(link_id) for link_id in candidates]
    links = [link for link in links if link["state"] in LOOKUP_STATES]
    done = store.lookups_done(link["id"] for link in links)
    todo: dict[str, list[dict[str, Any]]] = {}
    for prefix in config.external.archives:
        todo[prefix] = [link for link in links if (link["id"], prefix, link["state_since"]) not in done]
    asked = {link["id"] for waiting in todo.values() for link in waiting[:MAX_LINKS_PER_RUN]}
    if not asked:
        return 0
    when = {link["id"]: citation_date(link, store.citations(link["id"])) for link in links if link["id"] in asked}
    write_lock = asyncio.Lock()

    async def one_archive(fetcher: Fetcher, prefix: str, waiting: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + TIME_PER_RUN
        for link in waiting[:MAX_LINKS_PER_RUN]:
            if time.monotonic() > deadline:
                log.warning("%s: lookups stopped after %.0f s; the other links are asked at their next check",
                            archive_label(prefix), TIME_PER_RUN)
                break
            answer, results = await ask_archive(fetcher, prefix, link["url"], when[link["id"]])
            try:
                async with write_lock:
                    _store_answer(archive, link, answer, results, when[link["id"]])
            finally:
                for result in results:
                    result.cleanup()
            if answer.stop:
                log.warning("%s", answer.note)
                break

    async with Fetcher(lookup_config(config.fetch), temp_dir=archive.temp_dir) as fetcher:
        await asyncio.gather(*(one_archive(fetcher, prefix, waiting) for prefix, waiting in todo.items()
                               if waiting))
    return len(asked)


def _store_answer(archive: Any, link: dict[str, Any], answer: Answer, results: list[FetchResult],
                  when: datetime) -> None:
    """Write the archive's answers to the WARCs (evidence), then record the lookup."""
    location = None
    for result in results:
        if not result.hops:
            continue
        written = archive.writer.write(result, sync=True)
        if location is None:
            location = next((loc for loc in written if loc.record_type == "response"), None)
    archive.store.add_alternative({
        "link_id": link["id"], "archive": answer.archive, "state": link["state"],
        "state_since": link["state_since"], "looked_up_at": iso(utcnow()), "asked_for": iso(when),
        "outcome": answer.outcome,
        "memento_url": answer.memento.url if answer.memento else None,
        "memento_datetime": answer.memento.datetime if answer.memento else None,
        "first_url": answer.first.url if answer.first else None,
        "first_datetime": answer.first.datetime if answer.first else None,
        "last_url": answer.last.url if answer.last else None,
        "last_datetime": answer.last.datetime if answer.last else None,
        "note": answer.note,
        "warc": location.warc if location else None,
        "offset": location.offset if location else None,
        "length": location.length if location else None,
    })
