"""Capture URLs now: fetch, write to the WARCs, record, and judge a first capture.

The first capture of a link counts as its first check (SPEC §5): a link
captured successfully becomes ``ok``, one whose first capture fails becomes
``failing`` (or ``blocked`` / ``excluded``). Capturing a link that already has
a cited copy stores a new version and leaves its state to the checker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from .archive import Archive, Saved
from .collect.normalize import normalize_url
from .errors import InvalidURL
from .fetch import Fetcher
from .models import FetchResult, State, Verdict
from .states import fetch_verdict, transition
from .store import iso, utcnow


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
    link = store.link_by_id(link_id)
    if link["state"] != State.PENDING.value:
        updates = {"latest_capture_id": saved.capture_id} if saved.capture_id else {}
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


async def capture_links(archive: Archive, links: Iterable[tuple[int, str]],
                        on_done: Callable[[SnapshotOutcome], None] | None = None) -> list[SnapshotOutcome]:
    """Fetch and store every (link_id, url); results are saved as they arrive."""
    by_url: dict[str, list[int]] = {}
    for link_id, url in links:
        by_url.setdefault(url, []).append(link_id)
    outcomes = []
    async with Fetcher(archive.config.fetch, temp_dir=archive.temp_dir) as fetcher:
        results: AsyncIterator[FetchResult] = fetcher.fetch_many(list(by_url))
        async for result in results:
            try:
                for link_id in by_url[result.url]:
                    saved = archive.save(link_id, result)
                    state = record_first_check(archive, link_id, result, saved)
                    outcome = SnapshotOutcome(result.url, link_id, result, saved, state)
                    outcomes.append(outcome)
                    if on_done:
                        on_done(outcome)
            finally:
                result.cleanup()
    return outcomes


def snapshot(archive: Archive, urls: Iterable[str],
             on_done: Callable[[SnapshotOutcome], None] | None = None) -> list[SnapshotOutcome]:
    """Capture ``urls`` now (already validated by :func:`check_snapshot_url`)."""
    pairs = []
    for raw in urls:
        url = normalize_url(raw)
        pairs.append((archive.store.ensure_link(url, raw), url))
    return asyncio.run(capture_links(archive, pairs, on_done))


def check_snapshot_url(raw: str) -> str:
    """The normalized URL, or InvalidURL with a message a person understands."""
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise InvalidURL(f"{raw}: not fetched: only http and https URLs are archived (got {shown})")
    return normalize_url(raw)
