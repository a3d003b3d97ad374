"""After a sweep, tell the reviewer what needs them: newly dead, changed or moved links (SPEC §9).

One message per sweep to every ``[notify] urls`` target through Apprise (email,
Slack, Matrix, ntfy, webhooks ...), with counts and a link into the workbench
per link. "Newly" is what the sweep's report lists first ("changes since the
previous sweep", ``archiver.report.changes``): the link is dead, changed or
moved now and was in another state (or did not exist) when the previous sweep
ended, so a link an ``archiver check`` found dead between two sweeps is in the
next sweep's message, and no change is told twice. Nothing is sent when nothing
newly needs review. A notification that
fails is logged and reported in the sweep summary; it never fails the sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config import Config
from ..archive.store import Store, utcnow
from .urls import workbench_url

log = logging.getLogger(__name__)

NOTIFY_STATES = ("dead", "changed", "moved")
NOTIFY_CHANGES = frozenset({"newly-dead", "newly-changed", "moved"})  # report.changes.classify's kinds
MAX_LISTED = 50  # links listed per state; the counts are always complete


@dataclass
class Notice:
    """What a sweep's notification says, and whether it went out."""

    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # state -> links (id, url, reason)
    sent: bool = False
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(len(links) for links in self.groups.values())


def newly(store: Store, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Links now dead, changed or moved that were not when the previous sweep ended."""
    from ..report.changes import baseline_for

    baseline = baseline_for(store, since=None, now=now or utcnow())
    groups: dict[str, list[dict[str, Any]]] = {}
    for state in NOTIFY_STATES:
        rows = [row for row in store.links(state)
                if baseline.change(int(row["id"]), state, row["first_seen"]) in NOTIFY_CHANGES]
        if rows:
            groups[state] = [{"id": row["id"], "url": row["url"], "reason": row["reason"]} for row in rows]
    return groups


def message(groups: dict[str, list[dict[str, Any]]], workbench: str) -> tuple[str, str]:
    """(title, plain-text body)."""
    counts = ", ".join(f"{len(links)} newly {state}" for state, links in groups.items())
    lines = [f"archiver sweep: {counts}.", f"Review: {workbench}", ""]
    for state, links in groups.items():
        lines.append(f"Newly {state} ({len(links)}):")
        for link in links[:MAX_LISTED]:
            reason = f" ({link['reason']})" if link["reason"] else ""
            lines.append(f"- {link['url']}{reason}  {workbench}link/{link['id']}")
        if len(links) > MAX_LISTED:
            lines.append(f"- ... and {len(links) - MAX_LISTED} more: {workbench}links?state={state}")
        lines.append("")
    return f"archiver: {counts}", "\n".join(lines).rstrip() + "\n"


def notify_sweep(config: Config, store: Store) -> Notice:
    """Send one message about the links that newly need review; never raises."""
    notice = Notice()
    if not config.notify.urls:
        return notice
    try:
        notice.groups = newly(store)
        if not notice.groups:
            return notice
        title, body = message(notice.groups, workbench_url(config.serve))
        import apprise  # noqa: PLC0415 - only when there is something to send

        targets = apprise.Apprise()
        for url in config.notify.urls:
            if not targets.add(url):
                log.warning("[notify] urls: %s is not a notification URL Apprise understands", _redact(url))
        if len(targets) == 0:
            notice.error = "no usable notification URL in [notify] urls"
        elif targets.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
            notice.sent = True
        else:
            notice.error = "a notification target did not accept the message (run with -v for details)"
    except Exception as exc:  # noqa: BLE001 - a notification never fails a sweep
        notice.error = f"{type(exc).__name__}: {exc}"
    if notice.error:
        log.warning("notification not sent: %s", notice.error)
    return notice


def _redact(url: str) -> str:
    """The scheme and host of a notification URL, without credentials or tokens."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}/..."
