"""How a verdict moves a link's state (SPEC §5). Pure: values in, values out.

    verdict ok/changed/moved  -> that state; the failure count resets
    verdict blocked/excluded  -> that state; failures neither counted nor reset
    verdict failed            -> failing, until ``confirm_checks`` failures span
                                 at least ``confirm_span``: then dead

When a link is due again is not stored: :func:`due_cutoffs` derives it from
the link's last check and the *current* ``[check]`` intervals, so changing
``recheck_after`` or ``retry_failing_after`` applies to every link at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..config import CheckConfig
from .judge import classify_status
from ..models import EXCLUSION_REASONS, FetchResult, State, Verdict



@dataclass(frozen=True)
class Judgement:
    """One check's verdict, its reason and what backs it (archiver.check.run, archiver.check.platforms)."""

    verdict: Verdict
    reason: str
    similarity: float | None = None
    detail: str | None = None
    moved_to: str | None = None


@dataclass(frozen=True)
class Transition:
    state: State
    reason: str | None
    failures: int
    first_failure_at: datetime | None

    def link_updates(self, previous_state: str, now: datetime, iso: Any) -> dict[str, Any]:
        updates: dict[str, Any] = {
            "state": self.state.value,
            "reason": self.reason,
            "failures": self.failures,
            "first_failure_at": iso(self.first_failure_at) if self.first_failure_at else None,
        }
        if previous_state != self.state.value:
            updates["state_since"] = iso(now)
        return updates


_SUCCESS = {Verdict.OK: State.OK, Verdict.CHANGED: State.CHANGED, Verdict.MOVED: State.MOVED}

# Reasons of SPEC §5 that a page's content gives, beyond an HTTP status or a fetch error.
# Failures: each goes through failing before dead, like a 404.
CONTENT_FAILURE_REASONS = frozenset({"soft-404", "redirect-to-root", "parked", "removed", "hijacked"})
# Blocked: the site refuses us the cited text (a challenge, a wall, a private post): never evidence of rot.
WALL_REASONS = frozenset({"challenge", "paywall", "consent", "login", "private"})


def transition(*, verdict: Verdict, reason: str | None, failures: int, first_failure_at: datetime | None,
               now: datetime, config: CheckConfig) -> Transition:
    """The state after ``verdict``, given the failure history so far."""
    if verdict in _SUCCESS:
        return Transition(_SUCCESS[verdict], reason, 0, None)
    if verdict is Verdict.BLOCKED:
        return Transition(State.BLOCKED, reason, failures, first_failure_at)
    if verdict is Verdict.EXCLUDED:
        return Transition(State.EXCLUDED, reason, failures, first_failure_at)
    failures += 1
    first = first_failure_at or now
    confirmed = failures >= config.confirm_checks and (now - first).total_seconds() >= config.confirm_span
    if confirmed:
        return Transition(State.DEAD, reason, failures, first)
    return Transition(State.FAILING, reason, failures, first)


# States checked again after ``retry_failing_after``; excluded links never are;
# every other state (ok, changed, moved, dead, ...) after ``recheck_after``.
RETRY_STATES = frozenset({State.FAILING, State.BLOCKED})
NEVER_DUE = frozenset({State.EXCLUDED})


def due_cutoffs(config: CheckConfig, now: datetime) -> dict[str, datetime]:
    """For each state that is ever checked again, the latest last-check time at which a
    link in it is due ``now``; a link never checked is due whatever its state."""
    recheck = now - timedelta(seconds=config.recheck_after)
    retry = now - timedelta(seconds=config.retry_failing_after)
    return {state.value: retry if state in RETRY_STATES else recheck for state in State if state not in NEVER_DUE}


def fetch_verdict(result: FetchResult) -> tuple[Verdict, str] | None:
    """The verdict a fetch implies without looking at content, or None when it needs judging."""
    if result.error in EXCLUSION_REASONS:
        return Verdict.EXCLUDED, result.error or ""
    if result.error:
        return Verdict.FAILED, result.error
    if result.status is None:
        return Verdict.FAILED, "connection"
    return classify_status(result.status)
