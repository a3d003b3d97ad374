"""Capture URLs now: fetch, write to the WARCs, record, and judge a first capture.

The first capture of a link counts as its first check (SPEC §5): a link
captured successfully becomes ``ok``, one whose first capture fails becomes
``failing`` (or ``blocked`` / ``excluded``). Capturing a link that already has
a cited copy stores a new version and leaves its state to the checker.

A capture and its first check commit in one transaction. A full disk (the body
does not fit while fetched or while written, or the database cannot grow) fails
that URL only: nothing of it is stored, the link stays as it was (``pending``:
the next run tries again), the outcome says ``disk full at <path>``, and the
other URLs go on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..archive import Archive, Plan, Saved, Written
from ..collect.normalize import normalize_url
from ..check.enrich import after_capture
from ..errors import DiskFull, InvalidURL
from .fetch import Fetcher
from .fetchers import fetch_in_processes, worker_count
from ..models import FetchResult, State, Verdict
from ..check.states import fetch_verdict, transition
from ..archive.store import iso, utcnow
from .warc import Retired, pack

log = logging.getLogger(__name__)

DISK_FULL = "disk-full"  # FetchResult.error of a fetch whose body did not fit on the disk

@dataclass(frozen=True)
class SnapshotOutcome:
    url: str  # normalized
    link_id: int
    result: FetchResult
    saved: Saved
    state: str

    @property
    def ok(self) -> bool:
        return self.result.ok and (self.result.status or 0) < 400


def first_capture_verdict(result: FetchResult) -> tuple[Verdict, str]:
    implied = fetch_verdict(result)
    return implied if implied is not None else (Verdict.OK, "captured")


def record_first_check(archive: Archive, link_id: int, result: FetchResult, saved: Saved) -> str:
    """Judge a first capture and store it as the link's first check; returns the new state."""
    store = archive.store
    link = store.lock_link(link_id)  # a reviewer's decision now waits for this transaction, or this for it
    if link["state"] != State.PENDING.value:
        updates: dict[str, Any] = {"latest_capture_id": saved.capture_id} if saved.capture_id else {}
        if saved.capture_id and result.ok and (result.status or 0) < 300 and not link["cited_capture_id"]:
            updates["cited_capture_id"] = saved.capture_id
        if updates:
            store.update_link(link_id, **updates)
        return str(link["state"])
    now = utcnow()
    verdict, reason = first_capture_verdict(result)
    step = transition(verdict=verdict, reason=reason, failures=0, first_failure_at=None, now=now,
                      config=archive.config.check)
    updates = step.link_updates(link["state"], now, iso)
    updates.update(http_status=result.status, final_url=result.final_url, latest_capture_id=saved.capture_id)
    if verdict is Verdict.OK:
        updates["cited_capture_id"] = saved.capture_id
    store.record_check(link_id, checked_at=now, verdict=verdict.value, reason=reason, state=step.state.value,
                       http_status=result.status, final_url=result.final_url, capture_id=saved.capture_id,
                       detail=result.detail or None, link_updates=updates)
    return step.state.value


# Saved captures waiting for the writer thread, at most; past this the loop
# waits for the writer, so a slow disk slows fetching instead of piling up.
PENDING_SAVES = 64


def save_capture(archive: Archive, link_id: int, result: FetchResult) -> SnapshotOutcome:
    """Write one fetch to the WARCs and the store, and judge it as a first capture (one transaction)."""
    try:
        if result.error == DISK_FULL:
            return not_stored(archive, link_id, result, result.detail)
        try:
            with archive.saving(link_id, result) as saved:
                state = record_first_check(archive, link_id, result, saved)
        except DiskFull as exc:
            return not_stored(archive, link_id, result, str(exc))
        return SnapshotOutcome(result.url, link_id, result, saved, state)
    finally:
        result.cleanup()


def not_stored(archive: Archive, link_id: int, result: FetchResult, why: str) -> SnapshotOutcome:
    """The outcome of a fetch the full disk kept out: nothing stored, the link left as it was."""
    log.warning("%s: not stored: %s", result.url, why)
    result.cleanup()  # the body that did not fit: free its space at once
    failed = replace(result, hops=[], error=DISK_FULL, detail=why)
    state = str(archive.store.link_by_id(link_id)["state"])
    return SnapshotOutcome(result.url, link_id, failed, Saved(None, None, None, None), state)


def capture_links(archive: Archive, links: Iterable[tuple[int, str]],
                  on_done: Callable[[SnapshotOutcome], None] | None = None, *,
                  keep: bool = True) -> list[SnapshotOutcome]:
    """Fetch and store every (link_id, url); each result is saved as it arrives.

    Big captures fetch in worker processes (one per core, hosts split between
    them) while this process writes; small ones fetch on an event loop here.
    ``keep=False`` returns no outcomes (a sweep of 20,000 links only counts them).
    """
    link_of = {url: link_id for link_id, url in links}
    processes = worker_count(len(link_of))
    if not processes:
        done = asyncio.run(_capture_in_loop(archive, link_of, on_done, keep))
        _texts(archive, link_of.values())
        after_capture(archive, link_of.values())  # platform answers, renderings (archiver.check.enrich)
        return done
    outcomes: list[SnapshotOutcome] = []
    kept = outcomes if keep else None
    batch: list[tuple[int, FetchResult]] = []
    writing: Future[Batch] | None = None  # the previous batch, on the writer thread
    archive.writer.hold_rotated = True  # a file is closed only once its records are committed
    in_writing: list[tuple[int, FetchResult]] = []
    started = time.monotonic()
    with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-warc") as writer,
          ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="archiver-pack") as packer):
        try:
            results = fetch_in_processes(archive.config.fetch, list(link_of), archive.temp_dir, processes)
            for result in results:
                batch.append((link_of[result.url], result))
                if len(batch) < BATCH_SIZE and time.monotonic() - started < BATCH_SECONDS:
                    continue
                if writing is not None:
                    _record_batch(archive, in_writing, writing.result(), kept, on_done)
                writing, in_writing = _write_batch(archive, writer, packer, batch), batch
                batch, started = [], time.monotonic()
            if writing is not None:
                _record_batch(archive, in_writing, writing.result(), kept, on_done)
                writing, in_writing = None, []
            if batch:
                _record_batch(archive, batch, _write_batch(archive, writer, packer, batch).result(), kept, on_done)
                batch = []
        finally:
            for _, result in [*in_writing, *batch]:
                result.cleanup()
    archive.writer.hold_rotated = False
    _texts(archive, link_of.values())
    after_capture(archive, link_of.values())  # platform answers, renderings (archiver.check.enrich)
    return outcomes


def _texts(archive: Archive, link_ids: Iterable[int]) -> None:
    """The main texts (and sketches) of the copies just cited, extracted once now, on every core:
    no check extracts a cited copy again (archiver.check.pages.store_cited_texts)."""
    from ..check.pages import store_cited_texts, text_limit  # noqa: PLC0415 - extraction is slow to import

    store_cited_texts(archive.store, archive.warc_dir, link_ids, text_limit(archive.config))


# Group commit: captures are written to the WARC, fsynced together, then
# recorded together, at most this many or this often. The WARC half of a batch
# runs on a writer thread while this thread receives the next batch and records
# the previous one; the writer has the batch's bodies compressed by a pool of
# threads first (zlib and hashlib free the GIL), since one thread compressing
# every body was the slowest stage of a sweep, and it holds the fetch workers up.
# A WARC file that rotates away during a batch stays ``.open`` until the batch's
# transaction has committed (``Batch.retired``): a file is closed only when the
# database knows every record in it, so a kill between the two leaves nothing
# unrecorded in a closed file (the next run's recovery handles ``.open`` files).
BATCH_SIZE = 64
BATCH_SECONDS = 0.5


@dataclass(frozen=True)
class Batch:
    """A batch written to the WARCs (synced), and the files that rotated away meanwhile."""

    written: list[Written]
    retired: list[Retired]


def _write_batch(archive: Archive, writer: ThreadPoolExecutor, packer: ThreadPoolExecutor,
                 batch: list[tuple[int, FetchResult]]) -> Future[Batch]:
    plans = [archive.plan(link_id, result) for link_id, result in batch]  # database reads: this thread

    def write() -> Batch:
        packed = packer.map(_packed, [result for _, result in batch])  # bodies compressed in parallel
        written = [_write_one(archive, result, plan) for result, plan in zip(packed, plans, strict=True)]
        archive.writer.sync()
        return Batch(written, archive.writer.take_retired())

    return writer.submit(write)


def _write_one(archive: Archive, result: FetchResult, plan: Plan) -> Written:
    try:
        return archive.write_planned(result, plan, sync=False)
    except DiskFull as exc:  # this body did not fit: the others of the batch may
        return Written([], None, problem=str(exc))


def _packed(result: FetchResult) -> FetchResult:
    try:
        return pack(result)
    except OSError:  # a body file that cannot be read: the writer reports it
        return result


def _record_batch(archive: Archive, batch: list[tuple[int, FetchResult]], written: Batch,
                  outcomes: list[SnapshotOutcome] | None, on_done: Callable[[SnapshotOutcome], None] | None) -> None:
    """Record a batch whose WARC records are synced to disk, in one transaction; then close
    the files that rotated away while it was written."""
    done = []
    with archive.store.atomic():
        for (link_id, result), pending in zip(batch, written.written, strict=True):
            problem = pending.problem or (result.detail if result.error == DISK_FULL else None)
            if problem is not None:
                done.append(not_stored(archive, link_id, result, problem))
                continue
            saved = archive.record(link_id, result, pending)
            state = record_first_check(archive, link_id, result, saved)
            done.append(SnapshotOutcome(result.url, link_id, result, saved, state))
    archive.writer.close_retired(written.retired)
    for outcome in done:
        outcome.result.cleanup()
        if outcomes is not None:
            outcomes.append(outcome)
        if on_done:
            on_done(outcome)


async def _capture_in_loop(archive: Archive, link_of: dict[str, int],
                           on_done: Callable[[SnapshotOutcome], None] | None, keep: bool) -> list[SnapshotOutcome]:
    """Fetch on this event loop; saving (gzip, fsync, SQLite) runs on one writer
    thread, so it overlaps with fetching instead of stalling it."""
    outcomes: list[SnapshotOutcome] = []
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Future[SnapshotOutcome]] = set()
    errors: list[BaseException] = []

    def finished(future: asyncio.Future[SnapshotOutcome]) -> None:
        pending.discard(future)
        if future.cancelled():
            return
        if future.exception() is not None:
            errors.append(future.exception())  # type: ignore[arg-type]
            return
        if keep:
            outcomes.append(future.result())
        if on_done:
            on_done(future.result())

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-save") as writer:
        async with Fetcher(archive.config.fetch, temp_dir=archive.temp_dir) as fetcher:
            async for result in fetcher.fetch_many(list(link_of)):
                if errors:  # the archive cannot be written: stop fetching
                    result.cleanup()
                    break
                future = loop.run_in_executor(writer, save_capture, archive, link_of[result.url], result)
                pending.add(future)
                future.add_done_callback(finished)
                if len(pending) >= PENDING_SAVES:
                    await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(set(pending))
    if errors:
        raise errors[0]
    return outcomes


def snapshot(archive: Archive, urls: Iterable[str],
             on_done: Callable[[SnapshotOutcome], None] | None = None) -> list[SnapshotOutcome]:
    """Capture ``urls`` now (already validated by :func:`check_snapshot_url`)."""
    pairs = []
    for raw in urls:
        url = normalize_url(raw)
        pairs.append((archive.store.ensure_link(url, raw), url))
    return capture_links(archive, pairs, on_done)


def check_snapshot_url(raw: str) -> str:
    """The normalized URL, or InvalidURL with a message a person understands."""
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise InvalidURL(f"{raw}: not fetched: only http and https URLs are archived (got {shown})")
    return normalize_url(raw)
