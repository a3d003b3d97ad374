"""Re-check cited links: a verdict now, a state over time (SPEC §5).

One check of one link::

    fetch (retries inside)  -> excluded / failed / blocked by the answer alone
    2xx                     -> identical payload to the cited copy?  ok, unchanged
                            -> parked page, bot challenge, error page, redirect to root
                            -> soft-404 probe: does the host answer a random URL the same way?
                            -> permanent redirect elsewhere with the cited text?  moved
                            -> main-text similarity to the cited copy: ok / changed

Every check's response goes to the WARCs (an identical payload as a revisit
record), and the check row points at it: the evidence. The verdict then moves
the link's state through :func:`archiver.check.states.transition`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from . import judge, render, walls
from ..archive import Archive, Saved
from .diff import similarity, titles_match
from ..errors import DiskFull
from ..capture.fetch import Fetcher
from ..models import FetchResult, Verdict
from .pages import (
    HTML_TYPES,
    POOL_THRESHOLD,  # noqa: F401 - part of this module's interface
    DamagedCopy,
    PageText,
    TextExtractor,
    extraction_pool,
    holding_record,
    read_html,
    text_limit,
    verify_record,
)
from .platforms import Platforms
from ..capture.snapshot import DISK_FULL
from .states import Judgement, fetch_verdict, transition
from ..archive.store import iso, parse_iso, utcnow
from ..capture.warc import pack


@dataclass(frozen=True)
class CheckOutcome:
    url: str
    link_id: int
    judgement: Judgement
    state: str
    previous_state: str
    result_status: int | None
    final_url: str
    damaged: str | None = None  # the cited copy could not be read back: why (archiver.check.pages.DamagedCopy)


@dataclass
class _Probes:
    """Soft-404 probes: one per host and path shape per run."""

    fetcher: Fetcher
    extractor: TextExtractor
    rng: random.Random = field(default_factory=random.Random)
    cache: dict[tuple[str, str], tuple[str, PageText | None]] = field(default_factory=dict)
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    async def answer(self, url: str) -> tuple[str, PageText | None]:
        probe = judge.probe_url(url, self.rng)
        key = (urlsplit(url).netloc, _shape(urlsplit(probe).path))
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self.cache:
                result = await self.fetcher.fetch(probe, retries=0)
                try:
                    ok = result.ok and result.status == 200
                    text = await self.extractor.of_result(result) if ok else None
                    self.cache[key] = (result.final_url, text)
                finally:
                    result.cleanup()
        return self.cache[key]


def _shape(path: str) -> str:
    """The path with its last segment generalised: /2021/05/some-slug.html -> /2021/05/*.html."""
    head, _, last = path.rpartition("/")
    suffix = last[last.rfind("."):] if "." in last else ""
    return f"{head}/*{suffix}"


def _had_permanent_redirect(result: FetchResult) -> bool:
    return any(hop.status in (301, 308) for hop in result.hops[:-1])


def _moved_since_citation(result: FetchResult, cited_url: str, cited: PageText | None) -> bool:
    """A permanent redirect now lands elsewhere than the cited URL led when it was cited.

    A link whose cited copy was already reached through a 301 has not moved while
    it still lands where the cited copy was fetched from (or a trivial variant)."""
    if not _had_permanent_redirect(result) or judge.is_trivial_redirect(cited_url, result.final_url):
        return False
    landed_then = cited.final_url if cited is not None and cited.final_url else cited_url
    return not judge.is_trivial_redirect(landed_then, result.final_url)


async def judge_fetch(result: FetchResult, cited: PageText | None, *, cited_url: str, changed_below: float,
                      probes: _Probes | None, extractor: TextExtractor) -> tuple[Judgement, PageText | None]:
    """The verdict of one check; also returns the live page text when it was extracted."""
    implied = fetch_verdict(result)
    final = result.final
    if implied is not None or final is None:
        verdict, reason = implied or (Verdict.FAILED, "connection")
        if final is not None and final.status == 402:  # Payment Required: a paywall (archiver.check.walls)
            return Judgement(Verdict.BLOCKED, "paywall", detail="HTTP 402 Payment Required"), None
        if final is not None and verdict is Verdict.FAILED and final.status in CHALLENGE_STATUSES:
            # a 503 can be a bot challenge: blocked, not dead
            if judge.looks_like_challenge(final.status, final.response_headers, read_html(result)):
                return Judgement(Verdict.BLOCKED, "challenge", detail=f"HTTP {final.status} challenge page"), None
        return Judgement(verdict, reason, detail=result.detail or None), None
    moved = _moved_since_citation(result, cited_url, cited)
    if cited is not None and final.payload_digest == cited.payload_digest and not final.truncated:
        # nothing was extracted: the cited copy's text (maybe only its digest) is no text of the live page
        return _judge_identical(result, cited_url, moved), None
    live = await extractor.of_live(result, cited)  # noise around the cited text: nothing extracted
    text, title = (live.text, live.title) if live else ("", None)
    if len(result.hops) > 1 and judge.redirect_to_root(cited_url, result.final_url) \
            and not walls.is_consent_url(result.final_url):
        return Judgement(Verdict.FAILED, "redirect-to-root", detail=f"redirected to {result.final_url}"), live
    score = similarity(cited.text, text) if cited is not None and cited.text else None
    if score is None or score < changed_below:
        # the page no longer carries the cited text: is it an error, parking or challenge page?
        gone = await _page_gone(result, live, cited, probes)
        if gone is not None:
            return gone, live
    if cited is None:
        return Judgement(Verdict.OK, "captured"), live
    if score is None and not text and final.content_type not in HTML_TYPES:
        # a PDF, an image...: no text to compare, so its bytes are what was cited
        return Judgement(Verdict.CHANGED, "drift", detail=f"the {final.content_type or 'document'} differs from "
                         "the cited copy byte for byte (no text to compare)"), live
    if score is None:  # a page without text (rendered by script): equal when both are empty
        score = 1.0 if live is not None and live.fingerprint == cited.fingerprint else 0.0
    if moved and score >= changed_below:
        return Judgement(Verdict.MOVED, "redirect", score, moved_to=result.final_url,
                         detail=f"moved to {result.final_url}"), live
    if score < changed_below:
        return Judgement(Verdict.CHANGED, "drift", score, detail=f"similarity {score:.2f}"), live
    if cited.title and title and not titles_match(cited.title, title):
        return Judgement(Verdict.CHANGED, "title-changed", score, detail=f"title now {title!r}"), live
    return Judgement(Verdict.OK, "unchanged" if score >= 0.999 else "minor-edit", score), live


async def _page_gone(result: FetchResult, live: PageText | None, cited: PageText | None,
                     probes: _Probes | None) -> Judgement | None:
    """Why a reachable page that lost the cited text is no page at all, or None if it is one."""
    final = result.final
    assert final is not None
    html = read_html(result)
    title = live.title if live else None
    if judge.looks_like_challenge(final.status, final.response_headers, html):
        return Judgement(Verdict.BLOCKED, "challenge")
    walled = _wall_or_notice(result, html, live, cited)
    if walled is not None and walled.reason == "consent" and probes is not None:
        walled = await _behind_consent(result, html, cited, probes) or walled
    if walled is not None:
        return walled
    if judge.looks_parked(html, title, result.final_url):
        return Judgement(Verdict.FAILED, "parked")
    cited_error_like = cited is not None and judge.looks_like_error_page(cited.title, cited.text)
    if judge.looks_like_error_page(title, live.text if live else "", heading=live.heading if live else None) \
            and not cited_error_like:
        return Judgement(Verdict.FAILED, "soft-404", detail="the page reads as an error page")
    if probes is not None and await _answers_like_probe(result, live, cited, probes):
        if walls.looks_hijacked(cited.title if cited else None, cited.text if cited else "", title, html):
            return Judgement(Verdict.FAILED, "hijacked", detail="the host answers every path with an unrelated site")
        return Judgement(Verdict.FAILED, "soft-404", detail="the host answers unknown URLs the same way")
    return None


def _wall_or_notice(result: FetchResult, html: str, live: PageText | None, cited: PageText | None) -> Judgement | None:
    """A paywall, consent or login wall (blocked), or a removal notice (failed): archiver.check.walls."""
    text, cited_text = (live.text if live else ""), (cited.text if cited else "")
    found = walls.wall(html, text, final_url=result.final_url, hop_urls=tuple(h.url for h in result.hops[:-1]),
                       cited_text=cited_text, status=result.status or 0)
    if found is not None:
        return Judgement(Verdict.BLOCKED, found[0], detail=found[1])
    if walls.removal_notice(live.title if live else None, text, live.heading if live else None, cited_text):
        return Judgement(Verdict.FAILED, "removed", detail="the page now reads as a removal notice")
    return None


async def _behind_consent(result: FetchResult, html: str, cited: PageText | None, probes: _Probes) -> Judgement | None:
    """A consent wall with a plain "reject all" link or GET form, passed as a browser user would:
    ok when the page behind it still carries the cited text (archiver.check.walls.reject_all_url)."""
    url = walls.reject_all_url(html, result.final_url)
    if url is None or cited is None or not cited.text:
        return None
    behind = await probes.fetcher.fetch(url, retries=0)
    try:
        page = await probes.extractor.of_result(behind) if behind.ok and behind.status == 200 else None
    finally:
        behind.cleanup()
    score = similarity(cited.text, page.text) if page is not None and page.text else 0.0
    if score < walls.PASSED_MATCH:
        return None
    return Judgement(Verdict.OK, "unchanged" if score >= 0.999 else "minor-edit", score,
                     detail=f"read behind the consent wall through its reject-all choice {url}")


# Statuses a bot challenge or WAF page comes with (403 is blocked anyway).
CHALLENGE_STATUSES = frozenset({503})


def _judge_identical(result: FetchResult, cited_url: str, moved: bool) -> Judgement:
    """The live payload is byte-identical to the cited copy: no extraction needed."""
    if len(result.hops) > 1 and judge.redirect_to_root(cited_url, result.final_url):
        return Judgement(Verdict.FAILED, "redirect-to-root", detail=f"redirected to {result.final_url}")
    if moved:
        return Judgement(Verdict.MOVED, "redirect", 1.0, moved_to=result.final_url,
                         detail=f"moved to {result.final_url}")
    return Judgement(Verdict.OK, "unchanged", 1.0)


async def _answers_like_probe(result: FetchResult, live: PageText | None, cited: PageText | None,
                              probes: _Probes) -> bool:
    probe_final, probe_text = await probes.answer(result.url)
    if probe_text is None:
        return False
    live_like = judge.same_as_probe(result.final_url, live.text if live else "", probe_final, probe_text.text)
    if not live_like:
        return False
    cited_like = cited is not None and judge.same_as_probe(cited.final_url, cited.text, probe_final, probe_text.text)
    return not cited_like


class Checker:
    """Checks links of an open archive through one fetcher."""

    def __init__(self, archive: Archive, fetcher: Fetcher, *, probe: bool = True,
                 pool: Executor | None = None, durable: GroupSync | None = None) -> None:
        self.archive = archive
        self.fetcher = fetcher
        self.durable = durable  # None: every check's WARC records are fsynced on their own
        self.unrecorded = False  # a check's WARC records were written but not recorded (held files stay open)
        self.config = archive.config
        self.extractor = TextExtractor(text_limit(self.config), pool)
        self.probes = _Probes(fetcher, self.extractor) if probe else None
        self.platforms = Platforms(archive, fetcher) if self.config.platforms.enabled else None
        self.rendering = render.CheckRendering(archive) if self.config.render.mode != "never" else None

    async def _cited_for(self, link: dict[str, Any], result: FetchResult) -> PageText | None:
        """The cited copy's text, unless the live payload is byte-identical: then a stand-in that
        carries only its digest (its ``text`` is not the page's; :func:`judge_fetch` never returns it)."""
        capture = self.archive.store.capture(link["cited_capture_id"])
        final = result.final
        if capture is not None and final is not None and not final.truncated and not capture["damaged"] \
                and final.payload_digest == capture["payload_digest"]:
            # no text needed; but the cited copy must still be whole, or this check's revisit would point
            # at damaged bytes: then it is re-captured like any other damaged copy
            await asyncio.to_thread(verify_record, self.archive.warc_dir,
                                    holding_record(self.archive.store, capture))
            return PageText(None, "", None, capture["payload_digest"], capture["final_url"])
        return await self.cited_text(link, capture)

    async def cited_text(self, link: dict[str, Any], capture: dict[str, Any] | None = None) -> PageText | None:
        """The cited copy's text (``capture``: its row, when already read)."""
        if capture is None:
            capture = self.archive.store.capture(link["cited_capture_id"])
        if capture is None:
            return None
        return await self.extractor.of_capture(self.archive.store, self.archive.warc_dir, capture, sketch=True)

    async def check(self, link: dict[str, Any]) -> CheckOutcome:
        result = await self.fetcher.fetch(link["url"])
        try:
            if result.error == DISK_FULL:  # the body did not fit on the disk: nothing to judge or store
                return _not_stored(link, result, result.detail)
            damage: DamagedCopy | None = None
            try:
                cited = await self._cited_for(link, result)
            except DamagedCopy as exc:  # one link's problem: judged as if never cited, and re-captured
                cited, damage = None, exc
                self.archive.store.mark_damaged(exc.capture_id, exc.problem)
            # an application shell is judged on its rendering (archiver.check.render)
            view = None if self.rendering is None or (self.platforms and self.platforms.matches(link["url"])) \
                else await self.rendering.view(link, result)
            judgement, live = await judge_fetch(
                result, view.cited if view else cited, cited_url=link["url"],
                changed_below=self.config.check.changed_below, probes=self.probes,
                extractor=view.extractor if view else self.extractor,
            )
            if self.platforms is not None and judgement.verdict is not Verdict.EXCLUDED:
                judgement = await self._platform_judgement(link, result, judgement, live)
            judgement = self._reviewed(link, result, judgement, live)
            if damage is not None:
                judgement = _after_damage(judgement, damage)
            try:
                outcome = await self._save_and_record(link, result, judgement, None if view else live)
            except DiskFull as exc:  # this page did not fit on the disk: it costs this check, not the run
                return _not_stored(link, result, str(exc))
            if damage is not None:
                outcome = replace(outcome, damaged=str(damage))
            if view is not None and self.rendering is not None:
                self.rendering.store(link, view)
            return outcome
        finally:
            result.cleanup()

    async def _platform_judgement(self, link: dict[str, Any], result: FetchResult, judgement: Judgement,
                                  live: PageText | None) -> Judgement:
        """A platform's endpoint overrides the page's verdict when it says something definite (archiver.check.platforms)."""
        assert self.platforms is not None
        html, words = self.platforms.discovery_page(result, live.text if live is not None else None)
        found = await self.platforms.judge(link, html, words, self.config.check.changed_below)
        return judgement if found is None else found

    def _reviewed(self, link: dict[str, Any], result: FetchResult, judgement: Judgement,
                  live: PageText | None) -> Judgement:
        """A reviewer's accept or false alarm quiets the same verdict on the same page (SPEC §9;
        the rule is in archiver.review.decisions)."""
        from ..review.decisions import respect

        quieted = respect(self.archive.store, link, verdict=judgement.verdict.value, reason=judgement.reason,
                          digest=result.final.payload_digest if result.final else None,
                          text=live.text if live else None, title=live.title if live else None,
                          changed_below=self.config.check.changed_below)
        if quieted is None:
            return judgement
        return Judgement(Verdict.OK, quieted.reason, judgement.similarity, detail=quieted.detail)

    async def _save_and_record(self, link: dict[str, Any], result: FetchResult, judgement: Judgement,
                               live: PageText | None) -> CheckOutcome:
        """This check's response in the WARCs (synced), then the capture and the check recorded. With a
        :class:`GroupSync` the records are handed to the OS here, and once one fsync on a thread has
        covered them the capture and the check are recorded in one transaction: a run killed at any
        moment leaves both or neither (and one commit a check, not two)."""
        if self.durable is None:
            return self._record(link, result, judgement, live, self.archive.save(link["id"], result))
        plan = self.archive.plan(link["id"], result)
        packed = result if plan.revisit_of is not None else await self.durable.packed(result)
        written = self.archive.write_planned(packed, plan, sync=False)
        try:
            await self.durable.covering(self.archive.writer.path)
            with self.archive.store.atomic():
                return self._record(link, result, judgement, live, self.archive.record(link["id"], result, written))
        except BaseException:
            self.unrecorded = bool(written.locations)
            raise

    def _record(self, link: dict[str, Any], result: FetchResult, judgement: Judgement,
                live: PageText | None, saved: Saved) -> CheckOutcome:
        store = self.archive.store
        # a page the pre-filter matched has the cited copy's text, kept under the cited digest
        # already: not stored again per check (a copy of every page's text each night otherwise)
        if live is not None and not live.prefiltered and result.final is not None and result.final.payload_digest:
            store.save_text(result.final.payload_digest, live.title, live.text, live.fingerprint)
        now = utcnow()
        first_failure = parse_iso(link["first_failure_at"]) if link["first_failure_at"] else None
        step = transition(verdict=judgement.verdict, reason=judgement.reason, failures=link["failures"],
                          first_failure_at=first_failure, now=now, config=self.config.check)
        updates = step.link_updates(link["state"], now, iso)
        updates.update(http_status=result.status, final_url=result.final_url, similarity=judgement.similarity)
        if saved.capture_id:
            updates["latest_capture_id"] = saved.capture_id
            if judgement.verdict is Verdict.OK and (link["cited_capture_id"] is None or judgement.reason == RECAPTURED):
                updates["cited_capture_id"] = saved.capture_id
        # a reviewer may have decided on the link since it was read (serve takes no lock workers respect)
        kept = store.record_check_unless_decided(
            link, checked_at=now, verdict=judgement.verdict.value, reason=judgement.reason,
            state=step.state.value, http_status=result.status, final_url=result.final_url,
            similarity=judgement.similarity, capture_id=saved.capture_id, detail=judgement.detail,
            link_updates=updates)
        if kept is not None:
            logging.getLogger(__name__).warning("%s: decided by a reviewer while being checked: the decision "
                                                "stands (%s), this check is kept as evidence", link["url"], kept)
        return CheckOutcome(link["url"], link["id"], judgement, kept or step.state.value, link["state"],
                            result.status, result.final_url)


def _not_stored(link: dict[str, Any], result: FetchResult, why: str) -> CheckOutcome:
    """A check the full disk kept out: nothing stored, the link's state unchanged (it stays due)."""
    logging.getLogger(__name__).warning("%s: not checked: %s", link["url"], why)
    judgement = Judgement(Verdict.FAILED, DISK_FULL, detail=why)
    return CheckOutcome(link["url"], link["id"], judgement, link["state"], link["state"], result.status,
                        result.final_url)


# A live page checked when its cited copy could not be read back becomes the new cited copy.
RECAPTURED = "recaptured"


def _after_damage(judgement: Judgement, damage: DamagedCopy) -> Judgement:
    """The verdict of a check whose cited copy is damaged: a good live page is the new reference."""
    if judgement.verdict is Verdict.OK:
        return replace(judgement, reason=RECAPTURED,
                       detail=f"{damage}; this capture is the new cited copy")
    note = f"{damage}; the next good capture becomes the cited copy"
    return replace(judgement, detail=f"{judgement.detail}; {note}" if judgement.detail else note)


# Past POOL_THRESHOLD links a check run extracts in worker processes (archiver.check.pages.extraction_pool).


class GroupSync:
    """Group commit for a check run's WARC records: one fsync, on a thread, covers the records of
    every check written meanwhile, so the event loop never waits on the disk (an fsync per check
    held it for milliseconds each), and a check is recorded only once its bytes are durable.

    WARC files that rotate away during the run stay ``.open`` until its end (``hold_rotated``):
    a closed file never holds a record the database does not know."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-check-sync")
        # bodies are compressed and digested ahead on threads (zlib and hashlib release the GIL: warc.pack)
        self._packer = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="archiver-check-pack")
        self._paths: set[Path] = set()
        self._issued = 0  # writes handed to the OS
        self._synced = 0  # of them, covered by a finished fsync
        self._running: asyncio.Future[None] | None = None

    async def packed(self, result: FetchResult) -> FetchResult:
        """``result`` with its bodies compressed on a thread, so the event loop only appends them."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._packer, pack, result)
        except OSError:  # a body file that cannot be read: the writer reports it
            return result

    async def covering(self, path: Path | None) -> None:
        """Return once an fsync of ``path`` that started after this call has finished."""
        if path is None:
            return
        self._paths.add(path)
        self._issued += 1
        ticket = self._issued
        while self._synced < ticket:
            running = self._running or self._start()
            await asyncio.wait([running])
            if not running.cancelled() and running.exception() is not None:
                raise running.exception()  # type: ignore[misc]

    def _start(self) -> asyncio.Future[None]:
        upto, paths, self._paths = self._issued, self._paths, set()
        future = asyncio.get_running_loop().run_in_executor(self._thread, _fsync_files, sorted(paths))

        def done(finished: asyncio.Future[None]) -> None:  # runs before any waiter resumes
            self._running = None
            if finished.cancelled() or finished.exception() is not None:
                self._paths |= paths  # not durable: the next fsync covers them again
            else:
                self._synced = max(self._synced, upto)

        future.add_done_callback(done)
        self._running = future
        return future

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._packer.shutdown(wait=True)


def _fsync_files(paths: list[Path]) -> None:
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # closed and renamed meanwhile: closing fsynced it
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# Checks in flight per request slot ([fetch] concurrency): a check holds no request slot
# while its page is compared and its records are written and synced, and those stages
# take longer than the 50 ms answer, so with one check a slot the slots idled most of the
# time. Requests in flight stay bounded by [fetch] concurrency (the fetcher's semaphore).
CHECKS_PER_REQUEST = 4


def _by_host_in_turn(links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``links`` reordered so consecutive ones are on different hosts: one of each host, then the
    second of each... A run's links come sorted by URL, so one host's links sat together and the
    workers queued on that host's ``per_host_concurrency`` slots (2) while the others idled: at
    50 ms a response, 16 workers did the work of ~4. Each host's links keep their order."""
    hosts: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        try:
            host = urlsplit(link["url"]).hostname or ""
        except ValueError:
            host = ""
        hosts.setdefault(host, []).append(link)
    queues = list(hosts.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


# Links a run takes from its source at a time, to take their hosts in turn: a run over a
# paged source (Store.iter_due_links) holds this many rows, not one per link it checks.
RUN_CHUNK = 10_000


def _in_turns(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``first`` then the rest of the links, a chunk at a time, each chunk's hosts in turn."""
    chunk = first
    while chunk:
        yield from _by_host_in_turn(chunk)
        chunk = list(itertools.islice(rest, RUN_CHUNK))


async def check_links(archive: Archive, links: Iterable[dict[str, Any]], *,
                      on_done: Callable[[CheckOutcome], None] | None = None,
                      keep: bool = True) -> list[CheckOutcome]:
    """Check ``links`` concurrently (the fetcher enforces politeness); store each as it finishes.

    ``links`` are whole link rows, or brief ones (``Store.BRIEF_COLUMNS``): each is then read
    whole when its check starts; they are taken ``RUN_CHUNK`` at a time, so a lazy source
    (``Store.iter_due_links``) is never held whole. ``keep=False``: the outcomes go to ``on_done`` only and an empty
    list is returned, so a run's memory does not grow with its number of links."""
    from ..export.memento import LOOKUP_STATES
    from ..review.decisions import is_ignored

    # a reviewer ignores it: never fetched again; hosts taken in turn (see _by_host_in_turn)
    source = (link for link in links if not is_ignored(link))
    first = list(itertools.islice(source, RUN_CHUNK))
    outcomes: list[CheckOutcome] = []
    newly_bad: list[CheckOutcome] = []  # what other web archives are asked about, at the end
    pool = extraction_pool(len(first))
    durable = GroupSync()
    writer, held = archive.writer, archive.writer.hold_rotated
    writer.hold_rotated = True
    checker: Checker | None = None
    try:
        async with Fetcher(archive.config.fetch, temp_dir=archive.temp_dir) as fetcher:
            checker = Checker(archive, fetcher, pool=pool, durable=durable)
            pending = _in_turns(first, source)

            async def worker() -> None:  # a fixed set of workers, not a task per link: memory stays flat
                for row in pending:
                    link = row if "cited_capture_id" in row else archive.store.link_by_id(row["id"])
                    if is_ignored(link):  # a reviewer ignored it since the run's links were read
                        continue
                    outcome = await checker.check(link)
                    if keep:
                        outcomes.append(outcome)
                    elif outcome.state in LOOKUP_STATES:
                        newly_bad.append(outcome)
                    if on_done:
                        on_done(outcome)

            try:
                await asyncio.gather(*(worker() for _ in range(CHECKS_PER_REQUEST * max(1, archive.config.fetch.concurrency))))
            finally:
                if checker.rendering is not None:
                    await checker.rendering.close()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        durable.close()
        writer.hold_rotated = held
        if not held and not (checker is not None and checker.unrecorded):
            writer.close_retired(writer.take_retired())  # every record in them is recorded
    from ..export.memento import look_up_alternatives

    # other web archives' copies of newly dead or changed links
    await look_up_alternatives(archive, outcomes if keep else newly_bad)
    return outcomes


@dataclass(frozen=True)
class LiveDiff:
    url: str
    against: str  # "cited" | "latest"
    captured_at: str
    similarity: float
    diff: str
    status: int | None
    final_url: str


async def diff_live(store: Any, warc_dir: Any, config: Any, url: str, against: str, temp_dir: Any) -> LiveDiff:
    """Main-text diff between a stored copy of ``url`` and the live page (stores nothing new)."""
    from .diff import unified_diff
    from ..errors import ArchiverError, UsageError

    link = store.link(url)
    if link is None:
        raise UsageError(f"{url}: not in the archive")
    capture = store.capture(link["cited_capture_id"] if against == "cited" else link["latest_capture_id"])
    if capture is None:
        raise UsageError(f"{url}: no {against} copy stored")
    extractor = TextExtractor(text_limit(config))
    try:
        stored = await extractor.of_capture(store, warc_dir, capture)
    except DamagedCopy as damage:
        raise ArchiverError(f"{url}: {damage}; `archiver check {url}` captures the page again "
                            f"as the new {against} copy") from None
    async with Fetcher(config.fetch, temp_dir=temp_dir) as fetcher:
        result = await fetcher.fetch(url)
        try:
            if not result.ok:
                raise UsageError(f"{url}: the live page could not be fetched: {result.error}: {result.detail}")
            live = await extractor.of_result(result)
        finally:
            result.cleanup()
    old = stored.text if stored else ""
    new = live.text if live else ""
    text = unified_diff(old, new, a_label=f"{against} copy {capture['captured_at']}", b_label=f"live {result.final_url}")
    return LiveDiff(url, against, capture["captured_at"], similarity(old, new), text, result.status, result.final_url)
