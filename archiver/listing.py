"""`archiver links`: what the store holds, as rows for people or JSON."""

from __future__ import annotations

from typing import Any

from .collect.normalize import normalize_url
from .errors import UsageError
from .archive.store import Store


def _citation(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": row["source"], "where": row["place"], "comment": row["comment"],
        "comment_author": row["comment_author"], "comment_date": row["comment_date"],
        "comment_kind": row.get("comment_kind"), "comment_label": row.get("comment_label"),
        "comment_parent": row.get("comment_parent"), "comment_permalink": row.get("comment_permalink"),
        "anchor": row["anchor"], "context": row["context"], "url_as_written": row["url_as_written"],
        "first_seen": row["first_seen"], "last_seen": row["last_seen"], "removed": row["removed_at"] is not None,
    }


def _link(row: dict[str, Any], citations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "url": row["url"], "state": row["state"], "reason": row["reason"], "http_status": row["http_status"],
        "final_url": row["final_url"], "similarity": row["similarity"], "checked_at": row["last_checked"],
        "failures": row["failures"], "citations": [_citation(c) for c in citations],
    }


def link_rows(store: Store, state: str | None) -> list[dict[str, Any]]:
    grouped = store.citations_by_link()
    return [_link(row, grouped.get(row["id"], [])) for row in store.links(state)]


def link_detail(store: Store, url: str) -> dict[str, Any]:
    row = store.link(normalize_url(url))
    if row is None:
        raise UsageError(f"{url}: not in the archive")
    detail = _link(row, store.citations(row["id"]))
    detail["captures"] = [
        {"captured_at": c["captured_at"], "status": c["status"], "kind": c["kind"], "final_url": c["final_url"],
         "warc": c["warc"], "offset": c["offset"], "length": c["length"], "payload_digest": c["payload_digest"],
         "error": c["error"], "damaged": c["damaged"]}
        for c in store.captures_for(row["id"])
    ]
    detail["checks"] = [
        {"checked_at": c["checked_at"], "verdict": c["verdict"], "reason": c["reason"], "state": c["state"],
         "http_status": c["http_status"], "final_url": c["final_url"], "similarity": c["similarity"],
         "detail": c["detail"]}
        for c in store.checks(row["id"])
    ]
    # a reviewer's decisions in force, on the link or its host (archiver.review.decisions)
    detail["decisions"] = [
        {"decision": d["decision"], "by": d["decided_by"], "at": d["decided_at"], "note": d["note"],
         "on": "host" if d["link_id"] is None else "link", "ended_at": d["ended_at"]}
        for d in store.decisions(link_id=row["id"], host=row["host"], include_undone=False)
    ]
    # other web archives' answers about it (archiver.export.memento): the latest per archive
    detail["alternatives"] = [
        {"archive": a["archive"], "outcome": a["outcome"], "memento_url": a["memento_url"],
         "memento_datetime": a["memento_datetime"], "looked_up_at": a["looked_up_at"], "note": a["note"]}
        for a in store.alternatives([row["id"]])
    ]
    return detail


def _where(citation: dict[str, Any]) -> str:
    if citation["where"] == "comment":
        return f"comment {citation['comment']}" if citation["comment"] else "comment"
    return "body"


def render_rows(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no links"
    lines = []
    for row in rows:
        reason = f" ({row['reason']})" if row["reason"] else ""
        lines.append(f"{row['state']:<8} {row['url']}{reason}")
        for citation in row["citations"]:
            removed = " [removed]" if citation["removed"] else ""
            lines.append(f"         cited in {citation['source']}, {_where(citation)}{removed}")
    return "\n".join(lines)


def render_detail(detail: dict[str, Any]) -> str:
    lines = [f"{detail['url']}", f"  state: {detail['state']}" + (f" ({detail['reason']})" if detail["reason"] else ""),
             f"  failures: {detail['failures']}"]
    for citation in detail["citations"]:
        lines.append(f"  cited in {citation['source']}, {_where(citation)}: {citation['context'] or ''}")
    lines.append("  captures:")
    for c in detail["captures"]:
        where = f"{c['warc']}:{c['offset']}" if c["warc"] else "-"
        damaged = f"  DAMAGED: {c['damaged']}" if c["damaged"] else ""
        lines.append(f"    {c['captured_at']}  {c['status'] or '-'}  {c['kind']:<8} {where}{damaged}")
    lines.append("  checks:")
    for c in detail["checks"]:
        sim = f"  similarity {c['similarity']:.2f}" if c["similarity"] is not None else ""
        lines.append(f"    {c['checked_at']}  {c['verdict']:<8} {c['reason'] or '':<16} -> {c['state']}{sim}")
    if detail.get("decisions"):
        lines.append("  decisions:")
        for d in detail["decisions"]:
            on = " (on its host)" if d["on"] == "host" else ""
            ended = f"  (ended {d['ended_at']}: the page changed again)" if d["ended_at"] else ""
            note = f": {d['note']}" if d["note"] else ""
            lines.append(f"    {d['at']}  {d['decision']}{on} by {d['by']}{note}{ended}")
    if detail.get("alternatives"):
        lines.append("  other web archives:")
        for a in detail["alternatives"]:
            if a["outcome"] == "found" and a["memento_url"]:
                said = f"{a['memento_url']} ({a['memento_datetime']})"
            else:
                said = a["outcome"] + (f": {a['note']}" if a["note"] else "")
            lines.append(f"    {a['archive']}  {said}  [asked {a['looked_up_at']}]")
    return "\n".join(lines)
