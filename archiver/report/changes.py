"""What changed since the previous sweep: each link's state at a baseline against now.

The baseline is the end of the sweep before the latest one (the latest sweep
started at or before the report time): a sweep's own report lists every state
change since the previous sweep finished, whether this sweep made it or an
``archiver check`` run between the two did, and a report made later by hand
lists the same plus what checks made since. Before the second sweep the
baseline is the start of the first. The database logs every state a link
enters (``state_changes``) and each sweep records its position in that log
when it starts and finishes, so a link's state at the baseline is exact ("new"
when the link did not exist yet). With ``--since WHEN`` the baseline is WHEN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..archive.store import Store, iso
from .model import CHANGE_KINDS, PROBLEM_STATES, Change, ChangeSection, LinkEntry

# A link now ok "recovered" when it was in one of these states before.
RECOVERED_FROM = frozenset({"failing", "dead", "changed", "moved", "blocked"})


def classify(before: str, after: str) -> str | None:
    """The kind of change from state ``before`` to ``after``, or None when not worth listing."""
    if before == after:
        return None
    if after == "dead":
        return "newly-dead"
    if after == "failing" and before != "dead":
        return "newly-failing"
    if after == "changed":
        return "newly-changed"
    if after == "moved":
        return "moved"
    if after == "ok" and before in RECOVERED_FROM:
        return "recovered"
    return None


def latest_sweep(sweeps: Iterable[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """The latest sweep that began at or before ``now``."""
    stamp = iso(now)
    started = [row for row in sweeps if row["started_at"] <= stamp]
    return max(started, key=lambda row: (row["started_at"], row["id"])) if started else None


def previous_sweep(sweeps: Iterable[dict[str, Any]], latest: dict[str, Any]) -> dict[str, Any] | None:
    """The last sweep that finished before ``latest`` began (an interrupted one has no end)."""
    finished = [row for row in sweeps if row["id"] < latest["id"] and row["states_after"] is not None]
    return max(finished, key=lambda row: row["id"]) if finished else None


@dataclass
class Baseline:
    """The moment states are compared with, and every link's state then."""

    moment: str | None  # None: no sweep yet and no --since, nothing to compare
    label: str
    sweep_started_at: str | None
    states: dict[int, str] = field(default_factory=dict)
    was: dict[int, str] = field(default_factory=dict)  # state before, for the links that changed

    def change(self, link_id: int, state: str, first_seen: str) -> str | None:
        """The kind of change of one link since the baseline (remembering its state then)."""
        if self.moment is None:
            return None
        before = self.states.get(link_id) or ("pending" if first_seen < self.moment else "new")
        kind = classify(before, state)
        if kind is not None:
            self.was[link_id] = before
        return kind

    def section(self, links: Iterable[LinkEntry]) -> ChangeSection:
        """The changes among ``links`` (those marked by :meth:`change`), grouped by kind."""
        found: dict[str, list[Change]] = {kind: [] for kind in CHANGE_KINDS}
        for link in links:
            if link.change is not None:
                found[link.change].append(Change(link.change, link, self.was[link.id], link.state in PROBLEM_STATES))
        groups = tuple((kind, tuple(found[kind])) for kind in CHANGE_KINDS)
        return ChangeSection(self.moment, self.label, self.sweep_started_at, groups)


def baseline_for(store: Store, *, since: datetime | None, now: datetime) -> Baseline:
    """``since`` when given, else the end of the sweep before the latest one (the start of the
    latest when it is the first), with the link states at that moment."""
    sweeps = store.sweeps()
    latest = latest_sweep(sweeps, now)
    sweep_start = latest["started_at"] if latest else None
    label = "since the previous sweep"
    if since is not None:
        return Baseline(iso(since), f"since {iso(since)}", sweep_start, store.report_states_before(since))
    if latest is None:
        return Baseline(None, label, None)
    previous = previous_sweep(sweeps, latest)
    if previous is not None:
        return Baseline(previous["finished_at"], label, sweep_start, store.states_at(previous["states_after"]))
    return Baseline(sweep_start, label, sweep_start, store.states_at(latest["states_before"] or 0))
