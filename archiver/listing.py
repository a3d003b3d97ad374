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
    return "\n".join(lines)
