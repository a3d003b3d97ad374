"""A reviewer's decisions (SPEC §9) and how the checker respects them.

    accept       a changed or moved link: its latest capture becomes the cited copy;
                 state ok, reason accepted
    false-alarm  a changed, moved, failing, dead or blocked link: state ok, reason
                 false-alarm; the cited copy stays
    ignore       a link, or every link of a host (those collected later too):
                 state excluded, reason ignored; never fetched again
    note         free text on a link; the state stays

Each decision records who and when, and the link columns it changed
(``before``), so :func:`undo` restores the exact previous state, cited copy
included. Only the latest decision still in force on a link (or a host) can be
undone: undoing an older one would resurrect a state a later decision replaced.

**Respected by the next check** (:func:`respect`). Accept and false alarm
remember the verdict decided on and the capture it was judged on (the cited
copy accepted, or the evidence of the false alarm). A later check that comes
to the same verdict (``changed``, ``moved``, ``failed``, ``blocked``) does not
raise it while the page is the one judged:

- the live payload is byte-identical to the judged one, or
- both have a main text and the live text is what the checker would call the
  same page as the judged one: similarity at least ``[check] changed_below``
  and the same title, or
- neither has a payload (DNS, refused, timeout...),

and, for verdicts other than ``changed`` (whose reasons drift and
title-changed are one verdict), the reason is the same (``http-404`` then
``http-410`` is another answer).

Otherwise the page *changed again*: the verdict is raised as usual and the
decision ends (``ended_at``); it no longer quiets anything. A different
verdict (a page judged changed that now answers 404) is always raised, and
leaves the decision in force.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..check.diff import similarity, titles_match
from ..errors import UsageError
from ..models import State
from ..archive.store import IGNORED, Store, iso, utcnow

ACCEPT, FALSE_ALARM, IGNORE, NOTE = "accept", "false-alarm", "ignore", "note"
DECISIONS = (ACCEPT, FALSE_ALARM, IGNORE, NOTE)
# the state and reason each decision leaves a link in
RESULT = {ACCEPT: (State.OK.value, "accepted"), FALSE_ALARM: (State.OK.value, "false-alarm"),
          IGNORE: (State.EXCLUDED.value, IGNORED)}
ACCEPTABLE = frozenset({"changed", "moved"})
FALSE_ALARMABLE = frozenset({"changed", "moved", "failing", "dead", "blocked"})
# the link columns a decision may change, saved in ``before`` and restored by undo
LINK_COLUMNS = ("state", "reason", "state_since", "next_check", "cited_capture_id", "failures",
                "first_failure_at")
MAX_NOTE = 4000


@dataclass(frozen=True)
class Quieted:
    """A check verdict not raised because of a decision."""

    decision_id: int
    reason: str  # accepted | false-alarm: the link's reason stays
    detail: str


def _snapshot(link: dict[str, Any]) -> dict[str, Any]:
    return {column: link[column] for column in LINK_COLUMNS}


def _response_capture(store: Store, capture_id: int | None) -> dict[str, Any] | None:
    """The capture holding the payload: a revisit's original."""
    capture = store.capture(capture_id)
    if capture is not None and capture["kind"] == "revisit" and capture["refers_to"]:
        return store.capture(capture["refers_to"])
    return capture


def _latest_state_decision(store: Store, link: dict[str, Any]) -> dict[str, Any] | None:
    for row in store.decisions(link_id=link["id"], host=link["host"], include_undone=False):
        if row["decision"] != NOTE:
            return row
    return None


def decide(store: Store, decision: str, *, url: str | None = None, host: str | None = None,
           note: str | None = None, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Record ``decision`` on the link ``url`` (normalized) or, for ignore, on ``host``; returns its row."""
    if decision not in DECISIONS:
        raise UsageError(f"unknown decision {decision!r} (known: {', '.join(DECISIONS)})")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise UsageError(f"the note is longer than {MAX_NOTE} characters")
    if decision == NOTE and not note:
        raise UsageError("a note needs some text")
    by = (by or "").strip() or "unknown"
    stamp = iso(now or utcnow())
    if host is not None:
        return _decide_host(store, decision, host.strip().lower(), note, by, stamp)
    if not url:
        raise UsageError("a decision needs a link URL or a host")
    link = store.link(url)
    if link is None:
        raise UsageError(f"{url}: not in the archive")
    # read and written in one transaction, the link's row locked (PostgreSQL): a worker's check of this
    # link cannot write its state in between, and one that read the link before writes around the
    # decision (Store.record_check_unless_decided)
    with store.atomic():
        return _decide_link(store, decision, store.lock_link(link["id"]), url, note, by, stamp)


def _decide_link(store: Store, decision: str, link: dict[str, Any], url: str, note: str | None, by: str,
                 stamp: str) -> dict[str, Any]:
    values: dict[str, Any] = {"link_id": link["id"], "host": link["host"], "decision": decision, "note": note,
                              "decided_by": by, "decided_at": stamp}
    updates: dict[str, Any] = {}
    if decision == ACCEPT:
        if link["state"] not in ACCEPTABLE:
            raise UsageError(f"{url}: only a changed or moved link can be accepted (this one is {link['state']})")
        capture = _response_capture(store, link["latest_capture_id"])
        if capture is None or capture["kind"] != "response":
            raise UsageError(f"{url}: no stored copy of the live page to accept")
        last = store.check(link["last_check_id"])
        values.update(verdict=last["verdict"] if last else link["state"], reason=link["reason"],
                      judged_capture_id=capture["id"], judged_digest=capture["payload_digest"])
        updates["cited_capture_id"] = capture["id"]
    elif decision == FALSE_ALARM:
        if link["state"] not in FALSE_ALARMABLE:
            raise UsageError(f"{url}: only a changed, moved, failing, dead or blocked link can be a false alarm "
                             f"(this one is {link['state']})")
        last = store.check(link["last_check_id"])
        judged = _response_capture(store, last["capture_id"]) if last else None
        values.update(verdict=last["verdict"] if last else None, reason=link["reason"],
                      judged_capture_id=judged["id"] if judged else None,
                      judged_digest=judged["payload_digest"] if judged else None)
    if decision in RESULT:
        state, reason = RESULT[decision]
        updates.update(state=state, reason=reason)
        if state != link["state"]:
            updates["state_since"] = stamp
        if decision == IGNORE:
            updates["next_check"] = None
        else:
            updates.update(failures=0, first_failure_at=None)
        values["before"] = json.dumps({str(link["id"]): _snapshot(link)})
    with store.atomic():
        decision_id = store.add_decision(values)
        if updates:
            store.update_link(link["id"], **updates)
    row = store.decision(decision_id)
    assert row is not None
    return row


def _decide_host(store: Store, decision: str, host: str, note: str | None, by: str, stamp: str) -> dict[str, Any]:
    if decision != IGNORE:
        raise UsageError("only ignore applies to a whole host (--host HOST --ignore)")
    if not host or "/" in host or " " in host:
        raise UsageError(f"{host!r} is not a host name")
    if store.host_ignored(host):
        raise UsageError(f"{host} is already ignored")
    before = {}
    with store.atomic():
        for link_id in store.link_ids_of_host(host):
            link = store.lock_link(link_id)
            before[str(link_id)] = _snapshot(link)
            updates: dict[str, Any] = {"state": State.EXCLUDED.value, "reason": IGNORED, "next_check": None}
            if link["state"] != State.EXCLUDED.value:
                updates["state_since"] = stamp
            store.update_link(link_id, **updates)
        decision_id = store.add_decision({"link_id": None, "host": host, "decision": IGNORE, "note": note,
                                          "decided_by": by, "decided_at": stamp, "before": json.dumps(before)})
    row = store.decision(decision_id)
    assert row is not None
    return row


def undo(store: Store, decision_id: int, *, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Undo a decision: the links it changed get back the exact columns they had before it."""
    row = store.decision(decision_id)
    if row is None:
        raise UsageError(f"no decision #{decision_id}")
    if row["undone_at"]:
        raise UsageError(f"decision #{decision_id} was already undone at {row['undone_at']}")
    stamp = iso(now or utcnow())
    before: dict[str, dict[str, Any]] = json.loads(row["before"] or "{}")
    with store.atomic():
        if row["decision"] != NOTE and row["link_id"] is not None:
            link = store.link_by_id(row["link_id"])
            latest = _latest_state_decision(store, link)
            if latest is not None and latest["id"] != decision_id:
                raise UsageError(f"decision #{decision_id} was followed by #{latest['id']} ({latest['decision']}) "
                                 f"on the same link: undo that one first")
        if row["link_id"] is None:  # a host: links first seen after the decision were excluded from the start
            for link_id in store.link_ids_of_host(row["host"]):
                if str(link_id) not in before:
                    link = store.link_by_id(link_id)
                    if link["state"] == State.EXCLUDED.value and link["reason"] == IGNORED:
                        store.update_link(link_id, state=State.PENDING.value, reason=None, state_since=stamp)
        for key, columns in before.items():
            store.update_link(int(key), **columns)
        store.update_decision(decision_id, undone_at=stamp, undone_by=(by or "").strip() or "unknown")
    undone = store.decision(decision_id)
    assert undone is not None
    return undone


def is_ignored(link: dict[str, Any]) -> bool:
    return bool(link["state"] == State.EXCLUDED.value and link["reason"] == IGNORED)


def respect(store: Store, link: dict[str, Any], *, verdict: str, reason: str | None, digest: str | None,
            text: str | None, title: str | None, changed_below: float,
            now: datetime | None = None) -> Quieted | None:
    """Whether a check's ``verdict`` is quieted by an accept or false alarm in force (see the module doc).

    ``digest``, ``text`` and ``title`` describe the live page (None when there is none).
    When the same verdict comes back on a page that changed again, the decision ends here.
    """
    if verdict == "ok":
        return None
    decision = _latest_state_decision(store, link)
    if decision is None or decision["decision"] not in (ACCEPT, FALSE_ALARM) or decision["ended_at"]:
        return None
    if decision["verdict"] != verdict:
        return None
    same, why = _same_page(store, decision, digest=digest, text=text, title=title, reason=reason,
                           changed_below=changed_below)
    label = "accepted change" if decision["decision"] == ACCEPT else "false alarm"
    if not same:
        store.update_decision(decision["id"], ended_at=iso(now or utcnow()))
        return None
    return Quieted(decision["id"], RESULT[decision["decision"]][1],
                   f"{verdict} not raised: {label} #{decision['id']} by {decision['decided_by']}, {why}")


def _same_page(store: Store, decision: dict[str, Any], *, digest: str | None, text: str | None,
               title: str | None, reason: str | None, changed_below: float) -> tuple[bool, str]:
    judged_digest = decision["judged_digest"]
    if decision["verdict"] != "changed" and reason != decision["reason"]:
        return False, ""  # a 410 after a 404, a soft-404 after a redirect: another answer
    if judged_digest and digest == judged_digest:
        return True, "the page is byte-identical to the one judged"
    judged = store.text_for(judged_digest) if judged_digest else None
    if judged is not None and judged["text"] and text:
        score = similarity(judged["text"], text)
        if score >= changed_below and (not judged["title"] or not title or titles_match(judged["title"], title)):
            return True, f"the page reads as the one judged (similarity {score:.2f})"
        return False, ""
    if not judged_digest and not digest:
        return True, "the same failure as when judged"
    return False, ""
