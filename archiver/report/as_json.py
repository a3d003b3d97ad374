"""JSON report (SPEC §7): every link, whatever its state, one link per line.

The SPEC fields are always present (``null`` when unknown). Added fields:
top-level ``since``, ``summary`` and ``changes_since_previous_sweep``; per link
``title``, ``state_since``, ``change``, ``review`` (the latest decision in force on
the link or its host: ``decision``, ``by``, ``at``, ``note``, and ``host`` for a
host-wide one), ``evidence`` (the capture of the last
check, for states other than ok and pending), ``cited_copy.replay`` (pywb
URL), ``diff`` (``changed`` links: the condensed main-text diff),
``alternatives`` (other web archives' mementos of the URL, closest to the
citation date: ``archive``, ``url``, ``datetime``, and the archive's ``first``
and ``last`` memento, ``looked_up_at``) and ``alternatives_notes`` (archives
without a copy, or that could not be asked). Added fields are left out when empty. ``<``, ``>`` and
``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so the file is safe
to embed in a web page; the decoded data is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .model import Alternative, ChangeSection, CitationRef, LinkEntry, ReportData, StoredCopy, TextDiff

def _dumps(value: Any) -> str:
    """Compact JSON with ``<``, ``>`` and ``&`` escaped (they can only occur inside strings)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cited_copy(copy: StoredCopy | None) -> dict[str, Any] | None:
    if copy is None:
        return None
    out: dict[str, Any] = {"captured_at": copy.captured_at, "warc": copy.warc, "offset": copy.offset,
                           "length": copy.length}
    if copy.replay:
        out["replay"] = copy.replay
    return out


def _capture(copy: StoredCopy) -> dict[str, Any]:
    out = {"captured_at": copy.captured_at, "status": copy.status, "final_url": copy.final_url or copy.url,
           "warc": copy.warc, "offset": copy.offset, "length": copy.length, "replay": copy.replay,
           "error": copy.error, "detail": copy.detail}
    return {key: value for key, value in out.items() if value is not None}


def _citation(citation: CitationRef) -> dict[str, Any]:
    out: dict[str, Any] = {"source": citation.source, "where": citation.where, "comment": citation.comment,
                           "anchor": citation.anchor, "context": citation.context}
    if citation.comment_author:
        out["comment_author"] = citation.comment_author
    for key in ("comment_kind", "comment_label", "comment_permalink"):
        if getattr(citation, key):
            out[key] = getattr(citation, key)
    if citation.removed:
        out["removed"] = True
    return out


def _diff(diff: TextDiff) -> dict[str, Any]:
    return {"cited_title": diff.cited_title, "live_title": diff.live_title, "title_changed": diff.title_changed,
            "text_changed": diff.text_changed, "truncated": diff.truncated, "note": diff.note,
            "ops": [list(op) for op in diff.ops]}


def link_json(entry: LinkEntry) -> dict[str, Any]:
    """One link as in SPEC §7, plus the added fields that are not empty."""
    out: dict[str, Any] = {
        "url": entry.url, "state": entry.state, "reason": entry.reason, "http_status": entry.http_status,
        "final_url": entry.final_url, "similarity": entry.similarity, "checked_at": entry.checked_at,
        "failures": entry.failures, "cited_copy": _cited_copy(entry.cited_copy),
        "citations": [_citation(c) for c in entry.citations],
    }
    extras: dict[str, Any] = {"title": entry.title, "state_since": entry.state_since, "change": entry.change}
    if entry.evidence is not None:
        extras["evidence"] = _capture(entry.evidence)
    if entry.diff is not None:
        extras["diff"] = _diff(entry.diff)
    if entry.review is not None:
        review = entry.review
        extras["review"] = {"decision": review.decision, "by": review.by, "at": review.at, "note": review.note}
        if review.host:
            extras["review"]["host"] = review.host
    if entry.mementos:
        extras["alternatives"] = [_alternative(a) for a in entry.mementos]
    if entry.alternative_notes:
        extras["alternatives_notes"] = list(entry.alternative_notes)
    out.update((key, value) for key, value in extras.items() if value is not None)
    return out


def _alternative(item: Alternative) -> dict[str, Any]:
    out: dict[str, Any] = {"archive": item.archive, "url": item.url, "datetime": item.datetime}
    if item.first_url:
        out["first"] = {"url": item.first_url, "datetime": item.first_datetime}
    if item.last_url:
        out["last"] = {"url": item.last_url, "datetime": item.last_datetime}
    out["looked_up_at"] = item.looked_up_at
    return out


def _changes(section: ChangeSection) -> dict[str, Any]:
    out: dict[str, Any] = {"label": section.label, "baseline": section.baseline,
                           "sweep_started_at": section.sweep_started_at}
    for kind, changes in section.groups:
        out[kind.replace("-", "_")] = [
            {"url": c.link.url, "before": c.before, "after": c.link.state, "reason": c.link.reason}
            for c in changes
        ]
    return out


def stream(data: ReportData) -> Iterator[str]:
    """The JSON document in pieces: a header object whose ``links`` array has one link per line."""
    head = {
        "generated_at": data.generated_at,
        "since": data.since,
        "summary": {"total": data.total, "problems": data.problem_total, "states": dict(data.counts)},
        "changes_since_previous_sweep": _changes(data.changes),
    }
    yield _dumps(head)[:-1] + ', "links": ['
    separator = "\n"
    for entry in data.links:
        yield separator + _dumps(link_json(entry))
        separator = ",\n"
    yield "]}\n" if separator == "\n" else "\n]}\n"
