"""The workbench's HTML pages. Layout and escaping only: ``app.py`` gathers the values.

Every string is escaped (``archiver.report.as_html.e``); only http(s) URLs
become external links, which open without a referrer or an opener. Replay
links point at the replay origin (another port): an archived page never runs
in the workbench's origin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from ..report.as_html import anchor, e, safe_href
from ..report.model import CHANGE_TITLES, PROBLEM_STATES, STATE_ORDER, LinkEntry, ReportData, TextDiff

ACCEPTABLE = ("changed", "moved")
FALSE_ALARMABLE = ("changed", "moved", "failing", "dead", "blocked")


def page(title: str, body: str, *, csrf: str = "", nav: bool = True) -> str:
    links = ('<nav><a href="/">Report</a><a href="/links">All links</a><a href="/decisions">Decisions</a></nav>'
             if nav else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="csrf-token" content="{e(csrf)}"><meta name="referrer" content="same-origin">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{e(title)} · archiver</title><link rel="stylesheet" href="/static/workbench.css"></head>\n'
        f'<body><main><div class="top"><h1>{e(title)}</h1>{links}</div>\n{body}\n</main>'
        '<script src="/static/workbench.js"></script></body></html>\n'
    )


def external(url: str | None, text: str | None = None) -> str:
    return anchor(url, text).replace('rel="noreferrer noopener"', 'rel="noreferrer noopener" target="_blank"')


def replay_links(replay: str | None, raw: str | None) -> str:
    parts = []
    if replay and safe_href(replay):
        parts.append(f'<a class="replay" href="{safe_href(replay)}" target="_blank" rel="noreferrer noopener">replay ↗</a>')
    if raw and safe_href(raw):
        parts.append(f'<a class="raw" href="{safe_href(raw)}" target="_blank" rel="noreferrer noopener">raw</a>')
    return " · ".join(parts) or "—"


def badge(state: str) -> str:
    return f'<span class="badge s-{e(state)}">{e(state)}</span>'


# -- the live report ---------------------------------------------------------------


def _tiles(data: ReportData) -> str:
    tiles = "".join(
        f'<a class="tile s-{e(state)}{" zero" if not n else ""}" href="/links?state={e(state)}" '
        f'data-state="{e(state)}" data-count="{n}"><b>{n:,}</b><span>{e(state)}</span></a>'
        for state, n in data.counts
    )
    return f'<section class="summary" aria-label="Links by state">{tiles}</section>'


def _changes(data: ReportData) -> str:
    section = data.changes
    if section.baseline is None:
        return '<section id="changes"><h2>Changes</h2><p class="panel">No sweep has run yet.</p></section>'
    blocks = []
    for kind, changes in section.groups:
        if not changes:
            continue
        items = "".join(
            f'<li><a class="url" href="/link/{c.link.id}">{e(c.link.url)}</a><br><span class="was">'
            f'{e(c.before)} → {e(c.link.state)}{" · " + e(c.link.reason) if c.link.reason else ""}</span></li>'
            for c in changes
        )
        title = f'<span class="badge s-{e(changes[0].link.state)}">{e(CHANGE_TITLES[kind])}</span>'
        blocks.append(f'<div class="change" data-kind="{e(kind)}" data-count="{len(changes)}"><h3>{title} '
                      f"{len(changes)}</h3><ul>{items}</ul></div>")
    body = "".join(blocks) or "<p>Nothing changed.</p>"
    return (f'<section id="changes" class="changes" data-total="{section.total}"><h2>Changes {e(section.label)} '
            f'<small>states at {e(section.baseline)} → now</small></h2><div class="panel">{body}</div></section>')


def filters(states: Sequence[str], counts: dict[str, int], q: str, source: str,
            sources: Iterable[dict[str, Any]], action: str = "/", choices: Sequence[str] = PROBLEM_STATES) -> str:
    chips = "".join(
        f'<label class="chip s-{e(state)}"><input type="checkbox" name="state" value="{e(state)}"'
        f'{" checked" if state in states else ""}> {e(state)} <span>{counts.get(state, 0):,}</span></label>'
        for state in choices
    )
    options = "".join(
        f'<option value="{e(row["source"])}"{" selected" if row["source"] == source else ""}>'
        f'{e((row["title"] or row["source"])[:90])}</option>' for row in sources
    )
    return (f'<form class="filters" method="get" action="{e(action)}" aria-label="Filter">{chips}'
            f'<input type="search" name="q" value="{e(q)}" placeholder="URL or article" aria-label="Search">'
            f'<select name="article" aria-label="Article"><option value="">every article</option>{options}</select>'
            '<button type="submit">Filter</button></form>')


def _diff(diff: TextDiff, similarity: float | None, head: str) -> str:
    if similarity is not None:
        head += f" · similarity {similarity:.2f}"
    if diff.truncated:
        head += " · long texts cut for the diff"
    parts = [f'<div class="diff"><p>{head} (<del>removed</del> <ins>added</ins>)</p>']
    if diff.title_changed:
        parts.append(f"<p>Title: <del>{e(diff.cited_title or '')}</del> → <ins>{e(diff.live_title or '')}</ins></p>")
    if diff.note:
        parts.append(f"<p>{e(diff.note)}</p>")
    if diff.ops:
        tags = {"delete": "del", "insert": "ins", "gap": 'span class="gap"'}
        body = "".join(f"<{tags[op]}>{e(text)}</{tags[op].split()[0]}>" if op in tags else e(text)
                       for op, text in diff.ops)
        parts.append(f'<div class="body">{body}</div>')
    elif not diff.note:
        parts.append('<div class="body">The main texts are the same.</div>')
    return "".join(parts) + "</div>"


def _review_line(entry: LinkEntry) -> str:
    if entry.review is None:
        return ""
    review = entry.review
    on = f" (host {e(review.host)})" if review.host else ""
    note = f": {e(review.note)}" if review.note else ""
    return (f'<p class="review">Reviewer: <b>{e(review.decision)}</b>{on} by {e(review.by)} at '
            f"<time>{e(review.at)}</time>{note}</p>")


def card(entry: LinkEntry, citations: Sequence[Any]) -> str:
    state = e(entry.state)
    reason = f'<span class="reason">{e(entry.reason)}</span>' if entry.reason else ""
    new = f'<span class="new">{e(CHANGE_TITLES[entry.change].lower())}</span>' if entry.change else ""
    title = f'<p class="title">Cited page title: <q>{e(entry.title)}</q></p>' if entry.title else ""
    cites = "".join(
        f'<li><span class="where">{e(c.label)}</span>{" <q>" + e(c.excerpt) + "</q>" if c.excerpt else ""}</li>'
        for c in citations
    )
    copies = []
    for label, copy in (("evidence", entry.evidence), ("cited copy", entry.cited_copy)):
        if copy is not None:
            raw = copy.replay
            copies.append(f"{e(label)} <time>{e(copy.captured_at)}</time> {replay_links(_rewritten(raw), raw)}")
    stored = f'<p class="cite">{" · ".join(copies)}</p>' if copies else ""
    diff = _diff(entry.diff, entry.similarity, "Main text: cited copy → latest") if entry.diff is not None else ""
    facts = f'<span class="muted">checked {e(entry.checked_at or "never")}'
    facts += f" · {entry.failures} failure(s)" if entry.failures else ""
    facts += "</span>"
    return (f'<article class="link s-{state}" data-state="{state}" data-link="{entry.id}">'
            f'<header>{badge(entry.state)}<a class="url" href="/link/{entry.id}">{e(entry.url)}</a>{reason}{new}'
            f"{facts}</header>{title}{_review_line(entry)}"
            f'{"<ul class=cites>" + cites + "</ul>" if cites else ""}{stored}{diff}</article>')


def _rewritten(raw: str | None) -> str | None:
    """The rewritten replay URL (pywb's default mode) of a raw ``id_`` one."""
    return raw.replace("id_/", "/", 1) if raw else None


REPORT_PAGE = 100  # problem links per page of the live report


def report(data: ReportData, *, states: Sequence[str], q: str, source: str, sources: list[dict[str, Any]],
           csrf: str, diff_of: Callable[[LinkEntry], TextDiff | None], offset: int = 0) -> str:
    """The live report: the HTML report's content, filtered, a page of links at a time, each opening its page."""
    q_lower = q.lower()
    counts = dict(data.counts)
    shown = matched = 0
    groups = []
    for group in data.articles:
        if source and group.source != source:
            continue
        title = group.title or group.source or "Not cited by a collected article"
        cards = []
        for item in group.entries:
            entry = item.link
            if entry.state not in states:
                continue
            if q_lower and q_lower not in entry.url.lower() and q_lower not in title.lower() \
                    and q_lower not in (group.source or "").lower():
                continue
            matched += 1
            if not offset < matched <= offset + REPORT_PAGE:
                continue
            shown += 1
            if entry.state == "changed" and entry.diff is None:
                entry.diff = diff_of(entry)
            cards.append(card(entry, item.citations))
        if cards:
            head = f"<h3>{e(title)}</h3>" + (external(group.source) if group.source and group.title else "")
            groups.append(f'<section class="article"><header>{head}</header>{"".join(cards)}</section>')
    problems = "".join(groups) or '<p class="panel">No problem links match.</p>'
    query = [("state", st) for st in states] + [(k, v) for k, v in (("q", q), ("article", source)) if v]
    pager = []
    if offset > 0:
        pager.append(f'<a href="/?{e(urlencode(query + [("offset", str(max(0, offset - REPORT_PAGE)))]))}">← previous</a>')
    if offset + REPORT_PAGE < matched:
        pager.append(f'<a href="/?{e(urlencode(query + [("offset", str(offset + REPORT_PAGE))]))}">next →</a>')
    meta = (f'<p class="meta">Live from the archive at <time>{e(data.generated_at)}</time> · {data.total:,} links · '
            f'{data.problem_total:,} need attention · <output id="shown">{shown}</output> shown '
            f"({offset + 1 if shown else 0}–{offset + shown} of {matched:,} matching)</p>")
    body = (meta + _tiles(data) + _changes(data)
            + f'<section id="problems"><h2>Problem links by article</h2>'
            + filters(states, counts, q, source, sources) + problems
            + f'<div class="pager">{"".join(pager)}</div></section>')
    return page("Cited links: review", body, csrf=csrf)


# -- all links ---------------------------------------------------------------------


def links_list(rows: list[dict[str, Any]], total: int, *, states: Sequence[str], q: str, source: str, host: str,
               sources: list[dict[str, Any]], counts: dict[str, int], offset: int, limit: int, csrf: str) -> str:
    body_rows = "".join(
        f'<tr data-state="{e(row["state"])}"><td>{badge(row["state"])}</td>'
        f'<td class="url"><a href="/link/{row["id"]}">{e(row["url"])}</a></td><td>{e(row["reason"] or "")}</td>'
        f'<td>{e(row["last_checked"] or "never")}</td><td>{e(row.get("review") or "")}</td></tr>'
        for row in rows
    )
    params = {"q": q, "article": source, "host": host}
    query = [("state", s) for s in states] + [(k, v) for k, v in params.items() if v]
    pager = []
    if offset > 0:
        pager.append(f'<a href="/links?{e(urlencode(query + [("offset", str(max(0, offset - limit)))]))}">← previous</a>')
    if offset + limit < total:
        pager.append(f'<a href="/links?{e(urlencode(query + [("offset", str(offset + limit))]))}">next →</a>')
    hidden = f'<input type="hidden" name="host" value="{e(host)}">' if host else ""
    body = (filters(states, counts, q, source, sources, action="/links", choices=STATE_ORDER).replace(
                "</form>", hidden + "</form>")
            + f'<p class="meta">{total:,} link(s){" on host " + e(host) if host else ""}; '
            f"showing {offset + 1 if rows else 0}–{offset + len(rows)}</p>"
            '<table class="grid links"><tr><th>state</th><th>URL</th><th>reason</th><th>last checked</th>'
            f'<th>review</th></tr>{body_rows}</table><div class="pager">{"".join(pager)}</div>')
    return page("All links", body, csrf=csrf)


# -- one link ----------------------------------------------------------------------


def _decision_rows(decisions: list[dict[str, Any]]) -> str:
    rows = []
    for d in decisions:
        status = ("undone " + d["undone_at"] + " by " + d["undone_by"]) if d["undone_at"] else \
            ("ended " + d["ended_at"] + ": the page changed again") if d["ended_at"] else "in force"
        on = f"host {d['host']}" if d["link_id"] is None else "this link"
        undo = "" if d["undone_at"] else f'<button type="button" class="undo" data-undo="{d["id"]}">Undo</button>'
        rows.append(f'<tr class="{"undone" if d["undone_at"] else ""}" data-decision="{d["id"]}"><td>#{d["id"]}</td>'
                    f'<td>{e(d["decided_at"])}</td><td><b>{e(d["decision"])}</b></td><td>{e(on)}</td>'
                    f'<td>{e(d["decided_by"])}</td><td>{e(d["note"] or "")}</td><td>{e(status)}</td><td>{undo}</td></tr>')
    if not rows:
        return "<p class=\"muted\">No decisions yet.</p>"
    return ('<table class="grid decisions"><tr><th>#</th><th>at</th><th>decision</th><th>on</th><th>by</th>'
            f'<th>note</th><th>status</th><th></th></tr>{"".join(rows)}</table>')


def _decide_form(link: dict[str, Any]) -> str:
    state = link["state"]
    buttons = []
    if state in ACCEPTABLE:
        buttons.append('<button type="submit" name="decision" value="accept">Accept the change</button>')
    if state in FALSE_ALARMABLE:
        buttons.append('<button type="submit" name="decision" value="false-alarm">False alarm</button>')
    if not (state == "excluded" and link["reason"] == "ignored"):
        buttons.append('<button type="submit" name="decision" value="ignore">Ignore this link</button>')
        buttons.append(f'<button type="submit" name="decision" value="ignore" data-host="{e(link["host"])}">'
                       f'Ignore every link of {e(link["host"])}</button>')
    buttons.append('<button type="submit" name="decision" value="note">Add the note</button>')
    return (f'<form class="decide" data-link="{link["id"]}"><textarea name="note" maxlength="4000" '
            'placeholder="Note (optional with a decision)" aria-label="Note"></textarea>'
            '<input name="by" maxlength="100" placeholder="Your name (recorded with the decision)" '
            'aria-label="Your name">'
            f'<div class="buttons">{"".join(buttons)}</div><p class="msg" role="status"></p></form>')


def link_page(link: dict[str, Any], *, citations: list[dict[str, Any]], captures: list[dict[str, Any]],
              checks: list[dict[str, Any]], decisions: list[dict[str, Any]], diff: TextDiff | None,
              diff_pair: tuple[int | None, int | None], cited_id: int | None, csrf: str, cite: str = "") -> str:
    reason = f' <span class="reason">{e(link["reason"])}</span>' if link["reason"] else ""
    facts = [("state since", link["state_since"]), ("last checked", link["last_checked"] or "never"),
             ("failures", str(link["failures"])), ("HTTP status", link["http_status"]),
             ("similarity", f'{link["similarity"]:.2f}' if link["similarity"] is not None else None),
             ("first seen", link["first_seen"])]
    dl = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts if v not in (None, ""))
    if link["final_url"] and link["final_url"] != link["url"]:
        dl += f"<div><dt>final URL</dt><dd>{external(link['final_url'])}</dd></div>"
    head = (f'<article class="link s-{e(link["state"])}" data-state="{e(link["state"])}" data-link="{link["id"]}">'
            f'<header>{badge(link["state"])}{external(link["url"])}{reason}'
            f'<a href="/links?host={e(link["host"])}">host {e(link["host"])}</a></header>'
            f'<dl class="facts">{dl}</dl></article>')
    review = (f'<section id="review"><h2>Review</h2><div class="panel">{_decide_form(link)}'
              f"{_decision_rows(decisions)}</div></section>")
    # Cite it: this link's Robust Links snippets (with copy buttons) and its mementos in other
    # web archives ("alternatives", SPEC §10): archiver.export.robust_links.cite_section
    cite = cite or '<section id="cite" hidden></section>'
    cite_rows = "".join(
        f'<li><span class="where">{e(_where(c))}</span> in '
        f'{external(c["source"], c.get("source_title") or c["source"]) if c["source"].startswith("http") else e(c["source"])}'
        f'{" <small>(link text: " + e(c["anchor"]) + ")</small>" if c["anchor"] else ""}'
        f'{" <q>" + e(c["context"]) + "</q>" if c["context"] else ""}</li>'
        for c in citations
    )
    cites = (f'<section id="citations"><h2>Citations <small>({len(citations)})</small></h2>'
             f'<ul class="panel cites">{cite_rows or "<li>Not cited by a collected article.</li>"}</ul></section>')
    a, b = diff_pair
    cap_rows = []
    for c in captures:
        role = " (cited copy)" if c["id"] == cited_id else ""
        stored = f'<code>{e(c["warc"])}:{e(c["offset"])}</code>' if c["warc"] else "—"
        status = e(c["status"]) if c["status"] is not None else e(c["error"] or "")
        pick = "" if not c["payload_digest"] else (
            f'<input type="radio" name="a" value="{c["id"]}"{" checked" if c["id"] == a else ""} aria-label="from">'
            f'<input type="radio" name="b" value="{c["id"]}"{" checked" if c["id"] == b else ""} aria-label="to">')
        cap_rows.append(f'<tr data-capture="{c["id"]}"><td>#{c["id"]}{e(role)}</td><td>{e(c["captured_at"])}</td>'
                        f'<td>{e(c["kind"])}</td><td>{status}</td><td class="url">{e(c["final_url"] or c["url"])}</td>'
                        f'<td>{e(c.get("title") or "")}</td><td>{stored}</td>'
                        f'<td>{replay_links(c.get("replay"), c.get("raw"))}</td><td>{pick}</td></tr>')
    captures_html = (f'<section id="captures"><h2>Captures <small>({len(captures)})</small></h2>'
                     f'<form method="get" action="/link/{link["id"]}">'
                     '<table class="grid"><tr><th>#</th><th>captured</th><th>kind</th><th>HTTP</th><th>final URL</th>'
                     '<th>title</th><th>stored at</th><th>replay</th><th>diff from / to</th></tr>'
                     f'{"".join(cap_rows)}</table><p><button type="submit">Diff the chosen captures</button></p>'
                     "</form></section>")
    diff_html = ""
    if diff is not None:
        diff_html = (f'<section id="diff"><h2>Main-text diff: capture #{a} → #{b}</h2>'
                     f'{_diff(diff, None, f"#{a} → #{b}")}</section>')
    by_capture = {c["id"]: c for c in captures}
    check_rows = "".join(
        f'<tr><td>{e(k["checked_at"])}</td><td>{e(k["verdict"])}</td><td>{e(k["reason"] or "")}</td>'
        f'<td>{e(k["http_status"] if k["http_status"] is not None else "")}</td>'
        f'<td>{e(format(k["similarity"], ".2f") if k["similarity"] is not None else "")}</td><td>{badge(k["state"])}</td>'
        f'<td>{e(k["detail"] or "")}</td><td>{_evidence(k["capture_id"], by_capture)}</td></tr>'
        for k in reversed(checks)
    )
    checks_html = (f'<section id="checks"><h2>Checks <small>({len(checks)})</small></h2>'
                   '<table class="grid"><tr><th>checked</th><th>verdict</th><th>reason</th><th>HTTP</th>'
                   f'<th>similarity</th><th>state after</th><th>detail</th><th>evidence</th></tr>{check_rows}</table>'
                   "</section>")
    return page("Link", head + review + cite + cites + diff_html + captures_html + checks_html, csrf=csrf)


def _evidence(capture_id: int | None, captures: dict[int, dict[str, Any]]) -> str:
    """A check's evidence: its capture, replayable from the replay origin."""
    if not capture_id:
        return ""
    capture = captures.get(capture_id, {})
    return f"#{capture_id} " + (replay_links(capture.get("replay"), capture.get("raw")) if capture.get("raw") else "")


def _where(citation: dict[str, Any]) -> str:
    if citation["place"] == "body":
        label = "body"
    else:
        label = f"comment {citation['comment']}" if citation["comment"] else "a comment"
        if citation.get("comment_author"):
            label += f" by {citation['comment_author']}"
    return label + (" (no longer in the article)" if citation.get("removed_at") else "")


def decisions_page(decisions: list[dict[str, Any]], csrf: str) -> str:
    rows = []
    for d in decisions:
        target = f'<a href="/link/{d["link_id"]}">{e(d["url"])}</a>' if d["link_id"] else \
            f'<a href="/links?host={e(d["host"])}">every link of {e(d["host"])}</a>'
        status = "undone" if d["undone_at"] else "ended" if d["ended_at"] else "in force"
        undo = "" if d["undone_at"] else f'<button type="button" class="undo" data-undo="{d["id"]}">Undo</button>'
        rows.append(f'<tr class="{"undone" if d["undone_at"] else ""}"><td>#{d["id"]}</td><td>{e(d["decided_at"])}</td>'
                    f'<td><b>{e(d["decision"])}</b></td><td class="url">{target}</td><td>{e(d["decided_by"])}</td>'
                    f'<td>{e(d["note"] or "")}</td><td>{status}</td><td>{undo}</td></tr>')
    table = ('<table class="grid"><tr><th>#</th><th>at</th><th>decision</th><th>on</th><th>by</th><th>note</th>'
             f'<th>status</th><th></th></tr>{"".join(rows)}</table>') if rows else '<p class="panel">No decisions yet.</p>'
    return page("Decisions", table + '<p class="msg" role="status"></p>', csrf=csrf)


def login_page(error: str = "", csrf: str = "") -> str:
    message = f'<p class="msg">{e(error)}</p>' if error else ""
    body = ('<form class="login panel" method="post" action="/login"><label>Workbench token'
            '<input type="password" name="token" autocomplete="current-password" autofocus></label>'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">{message}'
            '<button type="submit">Log in</button></form>')
    return page("Log in", body, nav=False)


def error_page(status: int, message: str) -> str:
    return page(f"{status}", f'<p class="panel">{e(message)}</p>')
