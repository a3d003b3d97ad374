"""`archiver sweep`: collect -> snapshot new links -> check due links -> reports.

Each stage stores its results as they arrive, so a sweep killed at any moment
loses at most the captures in flight; the next sweep repairs the WARC file
(``Archive.__enter__``), skips every link already captured, and carries on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .archive import REPORT_DIR, Archive
from .capture.fetch import Fetcher
from .capture.fetchers import warm_up
from .collect.harvest import Harvest, Harvester
from .capture.snapshot import DISK_FULL, SnapshotOutcome, capture_links
from .check.states import due_cutoffs
from .archive.store import iso, utcnow

if TYPE_CHECKING:
    from .check.run import CheckOutcome


@dataclass
class SweepSummary:
    started_at: datetime
    seconds: float = 0.0
    sources: int = 0
    citations_new: int = 0
    citations_removed: int = 0
    problems: list[str] = field(default_factory=list)
    captured: Counter[str] = field(default_factory=Counter)  # state after first capture
    checked: Counter[str] = field(default_factory=Counter)  # state after check
    bytes: int = 0
    states: dict[str, int] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage
    notes: list[str] = field(default_factory=list)  # what the user should know first
    reached: int = 0  # fetches that got an HTTP answer
    unreached: Counter[str] = field(default_factory=Counter)  # fetches that got none, by reason

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": iso(self.started_at), "seconds": round(self.seconds, 3), "sources": self.sources,
            "citations_new": self.citations_new, "citations_removed": self.citations_removed,
            "problems": self.problems, "captured": dict(self.captured), "checked": dict(self.checked),
            "bytes": self.bytes, "states": self.states, "reports": self.reports, "repaired": self.repaired,
            "stages": {name: round(seconds, 3) for name, seconds in self.stages.items()},
            "notes": self.all_notes(),
        }

    def all_notes(self) -> list[str]:
        notes = list(self.notes)
        if self.unreached and not self.reached:
            notes.append(
                f"no site could be reached ({_counts(self.unreached)}): is this machine offline? "
                "The links stay `failing` and are retried; none is declared dead before "
                "[check] confirm_checks failures over confirm_span"
            )
        return notes

    def lines(self) -> list[str]:
        captured = sum(self.captured.values())
        checked = sum(self.checked.values())
        stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.stages.items())
        out = [
            f"sweep finished in {self.seconds:.1f}s ({stages})",
            f"  sources: {self.sources}, new citations: {self.citations_new}, removed: {self.citations_removed}",
            f"  captured: {captured} new link(s) ({_counts(self.captured)}), {self.bytes} bytes",
            f"  checked: {checked} due link(s) ({_counts(self.checked)})",
            f"  links by state: {_counts(Counter(self.states))}",
        ]
        if self.repaired:
            out.append(f"  repaired WARC files left open by an interrupted run: {', '.join(self.repaired)}")
        for problem in self.problems[:20]:
            out.append(f"  problem: {problem}")
        if len(self.problems) > 20:
            out.append(f"  ... and {len(self.problems) - 20} more problems")
        for path in self.reports:
            out.append(f"  report: {path}")
        return out


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items())) or "none"


# Failures that say nothing about the page: the network between us and every site.
_NETWORK_REASONS = frozenset({"dns", "refused", "timeout", "connection", "unreachable"})


def _count_reach(summary: SweepSummary, answered: bool, reason: str | None) -> None:
    if answered:
        summary.reached += 1
    elif reason in _NETWORK_REASONS:
        summary.unreached[reason or ""] += 1


Progress = Callable[[str, int], None]  # (stage, total) to start a stage; ("", 1) to advance


async def _collect(archive: Archive, summary: SweepSummary) -> None:
    config = archive.config
    async with Fetcher(config.fetch, temp_dir=archive.temp_dir) as fetcher:
        harvest: Harvest = await Harvester(config, archive.store, fetcher, keep=False).sources(config.sources)
    summary.sources = len(config.sources)
    summary.citations_new, summary.citations_removed = harvest.new, harvest.removed
    summary.problems += [f"{p.source}: {p.message}" for p in harvest.problems]


def _capture_new(archive: Archive, summary: SweepSummary, progress: Progress | None,
                 hosts: set[str] | None = None) -> set[int]:
    new_links = archive.store.links_without_capture()
    if hosts is not None:  # a PostgreSQL archive: only the hosts this sweep leased (no host: nothing to lease)
        leased = hosts | {""}
        new_links = [(link_id, url) for link_id, url in new_links if _host(url) in leased]
    if progress:
        progress("capturing", len(new_links))

    def captured(outcome: SnapshotOutcome) -> None:
        summary.captured[outcome.state] += 1
        if outcome.result.error == DISK_FULL:  # not stored; the link is tried again next time
            summary.problems.append(f"{outcome.url}: {outcome.result.detail}")
        _count_reach(summary, bool(outcome.result.hops), outcome.result.error)
        summary.bytes += sum(hop.body_length for hop in outcome.result.hops)
        if progress:
            progress("", 1)

    capture_links(archive, new_links, captured, keep=False)
    return {link_id for link_id, _ in new_links}


def _check_due(archive: Archive, summary: SweepSummary, progress: Progress | None, skip: set[int],
               cutoffs: dict[str, datetime], hosts: set[str] | None = None) -> None:
    count = archive.store.count_due(cutoffs)
    if not count:
        return
    # read a page at a time as the run goes: memory flat in the number of links
    due = (row for row in archive.store.iter_due_links(cutoffs)
           if row["id"] not in skip and (hosts is None or not row["host"] or row["host"] in hosts))
    from .check.run import check_links  # noqa: PLC0415 - the checker's text extraction is slow to import; most sweeps of new links need none

    if progress:
        progress("checking", count)

    def checked(outcome: CheckOutcome) -> None:
        summary.checked[outcome.state] += 1
        if outcome.damaged:  # the link was judged without its cited copy, and re-captured
            summary.problems.append(f"{outcome.url}: {outcome.damaged} ({outcome.judgement.reason})")
        _count_reach(summary, outcome.result_status is not None, outcome.judgement.reason)
        if progress:
            progress("", 1)

    asyncio.run(check_links(archive, due, on_done=checked, keep=False))


WORKER_ALIVE = 120.0  # seconds: a worker heard from within this is alive (its heartbeat is a third of its lease)


def _workers_alive(archive: Archive) -> int:
    """`archiver worker` processes alive on this (PostgreSQL) archive: 0 on SQLite, where there are none."""
    if not archive.store.postgres:
        return 0
    return archive.store.live_workers(utcnow(), WORKER_ALIVE)


@contextmanager
def _leases(archive: Archive, cutoffs: dict[str, datetime]) -> Iterator[tuple[set[str], set[str] | None]]:
    """On a PostgreSQL archive, the hosts with work leased as a worker would lease them, for the whole
    capture and check: an `archiver worker` that starts during the sweep leaves them alone (two
    processes fetching one host would break its politeness, and capture a new link twice). Yields
    (hosts with work, hosts leased), or (empty, None) on SQLite, where the archive lock suffices."""
    if not archive.store.postgres:
        yield set(), None
        return
    from .worker import stepping_aside  # noqa: PLC0415 - PostgreSQL archives only

    hosts = archive.store.hosts_with_work(cutoffs)
    with stepping_aside(archive.config, archive.store, hosts, what="sweep") as leased:
        yield hosts, leased


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def sweep(archive: Archive, *, progress: Progress | None = None,
          write_reports: Callable[[Archive, datetime], list[Path]] | None = None) -> SweepSummary:
    """One full sweep over an open archive."""
    started = time.monotonic()
    summary = SweepSummary(started_at=utcnow(), repaired=[p.name for p in archive.repaired])
    sweep_id = archive.store.start_sweep(summary.started_at)
    mark = time.monotonic()

    def stage(name: str) -> None:
        nonlocal mark
        summary.stages[name] = time.monotonic() - mark
        mark = time.monotonic()

    warm_up()  # fetch workers' fork server: starts while we collect
    if archive.config.sources:
        if progress:  # per stage, so a long collect is visible too (a line every few seconds at -v)
            progress("collecting", len(archive.config.sources))
        asyncio.run(_collect(archive, summary))
        if progress:
            progress("", len(archive.config.sources))
    else:
        where = archive.config.path or "the configuration (built-in defaults: no config.toml found)"
        summary.notes.append(
            f"nothing to collect: {where} has no [[sources]]. Add one, for example\n"
            '      [[sources]]\n      path = "articles/*.html"   # or url = "https://…/article/", or feed = "https://…/feed/"\n'
            "  or capture single pages with `archiver snapshot URL`"
        )
    stage("collect")
    workers = _workers_alive(archive)
    just_captured: set[int] = set()
    if workers:  # a PostgreSQL archive's workers capture and check (SPEC §11); this sweep collects and reports
        summary.notes.append(f"{workers} `archiver worker` process(es) alive: capture and check are theirs")
    else:
        cutoffs = due_cutoffs(archive.config.check, utcnow())
        with _leases(archive, cutoffs) as (hosts, leased):
            if leased is not None and leased != hosts:  # a worker came alive meanwhile: the work is theirs
                summary.notes.append(f"{len(hosts - leased)} host(s) taken by an `archiver worker` that started "
                                     "meanwhile: capture and check are the workers'")
            else:
                just_captured = _capture_new(archive, summary, progress, leased)
                stage("capture")
                _check_due(archive, summary, progress, just_captured, cutoffs, leased)
                stage("check")
    from .export.spn import submit_new_links

    summary.problems += submit_new_links(archive, just_captured)  # Save Page Now, when [external] submit = true
    summary.states = archive.store.count_by_state()
    summary.seconds = time.monotonic() - started
    archive.store.finish_sweep(sweep_id, summary.as_dict())
    if write_reports is not None:
        (archive.dir / REPORT_DIR).mkdir(parents=True, exist_ok=True)
        summary.reports = [str(p) for p in write_reports(archive, utcnow())]
    if archive.config.notify.urls:  # newly dead, changed or moved links to [notify] urls (never fails the sweep)
        from .review.notify import notify_sweep

        notice = notify_sweep(archive.config, archive.store)
        if notice.error:
            summary.problems.append(f"notification not sent: {notice.error}")
        elif notice.sent:
            summary.notes.append(f"notified [notify] urls of {notice.total} link(s) needing review")
    return summary
