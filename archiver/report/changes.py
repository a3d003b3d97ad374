"""What changed since the previous sweep: each link's state at a baseline against now.

The baseline is the moment the latest sweep (started at or before the report
time) began, so a sweep's own report lists what that sweep found, and a report
made later by hand also lists what checks made since then. Each ``checks`` row
stores the link's state after it, so a link's state at the baseline is the
state of its last check strictly before it ("pending" when it had none yet,
"new" when it was collected later). With ``--since WHEN`` the baseline is WHEN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..store import Store, iso, parse_iso
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


def latest_sweep_start(sweeps: Iterable[dict[str, Any]], now: datetime) -> str | None:
    """``started_at`` of the latest sweep that began at or before ``now``."""
    stamp = iso(now)
    starts = [row["started_at"] for row in sweeps if row["started_at"] <= stamp]
    return max(starts) if starts else None


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
    """``since`` when given, else the start of the latest sweep, with the link states at that moment."""
    sweep_start = latest_sweep_start(store.sweeps(), now)
    if since is not None:
        moment, label = iso(since), f"since {iso(since)}"
    elif sweep_start is not None:
        moment, label = sweep_start, "since the previous sweep"
    else:
        return Baseline(None, "since the previous sweep", None)
    return Baseline(moment, label, sweep_start, store.report_states_before(parse_iso(moment)))
