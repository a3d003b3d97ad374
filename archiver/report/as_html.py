"""HTML report: one self-contained page a reviewer opens in a browser, offline.

Layout: summary counts by state, what changed since the previous sweep, then
the problem links grouped by article (citations, state, reason, last check,
failures, evidence with WARC file:offset and replay URL, diff of ``changed``
links), then the links not checked. Every string is escaped with
``html.escape``; only http(s) URLs become ``href``; no archived HTML is ever
inlined. The page's Content-Security-Policy (see ``html_assets``) blocks every
load and allows only its own style sheet and filter script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from .html_assets import CSP, CSS, SCRIPT
from .model import (
    CHANGE_TITLES,
    PROBLEM_STATES,
    ArticleGroup,
    Change,
    GroupEntry,
    LinkEntry,
    ReportData,
    StoredCopy,
    TextDiff,
)

_HTTP_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$", re.I)


def e(value: object) -> str:
    """Escaped text (quotes too, so it is safe in attributes)."""
    return escape(str(value), quote=True)


def safe_href(url: str | None) -> str | None:
    """The escaped ``href`` value for an http(s) URL, None for anything else (javascript:, data:, ...)."""
    return e(url) if url and _HTTP_URL.match(url) else None


def anchor(url: str | None, text: str | None = None, cls: str = "url") -> str:
    """A link to an http(s) URL, or the URL as plain text."""
    shown = e(text if text is not None else (url or "-"))
    href = safe_href(url)
    if href is None:
        return f'<span class="{cls}">{shown}</span>'
    return f'<a class="{cls}" href="{href}" rel="noreferrer noopener">{shown}</a>'


def _summary(data: ReportData) -> str:
    tiles = "".join(
        f'<div class="tile s-{e(state)}{" zero" if not n else ""}" data-state="{e(state)}" data-count="{n}">'
        f"<b>{n:,}</b><span>{e(state)}</span></div>"
        for state, n in data.counts
    )
    return f'<section class="summary" aria-label="Links by state">{tiles}</section>'


def _change_item(change: Change) -> str:
    entry = change.link
    target = f'<a class="url" href="#{e(entry.anchor)}">{e(entry.url)}</a>' if change.has_card else anchor(entry.url)
    reason = f" · {e(entry.reason)}" if entry.reason else ""
    return f'<li>{target}<br><span class="was">{e(change.before)} → {e(entry.state)}{reason}</span></li>'


def _changes(data: ReportData) -> str:
    section = data.changes
    head = f'<h2>Changes {e(section.label)}'
    if section.baseline is None:
        return f'<section id="changes" class="changes">{head}</h2><p class="panel">No sweep has run yet.</p></section>'
    head += f' <small>states at {e(section.baseline)} → now</small></h2>'
    blocks = []
    for kind, changes in section.groups:
        if not changes:
            continue
        state = changes[0].link.state
        items = "".join(_change_item(change) for change in changes)
        blocks.append(f'<div class="change" data-kind="{e(kind)}" data-count="{len(changes)}">'
                      f'<h3><span class="badge s-{e(state)}">{e(CHANGE_TITLES[kind])}</span> {len(changes)}</h3>'
                      f"<ul>{items}</ul></div>")
    body = "".join(blocks) or "<p>Nothing changed.</p>"
    return f'<section id="changes" class="changes" data-total="{section.total}">{head}<div class="panel">{body}</div></section>'


_EVIDENCE_HEAD = ("<tr><th></th><th>captured</th><th>HTTP</th><th>final URL</th>"
                  "<th>stored at (WARC file:offset)</th><th>replay</th></tr>")


def _copy_row(label: str, copy: StoredCopy | None) -> str:
    if copy is None:
        return ""
    status = e(copy.status) if copy.status is not None else ""
    if copy.error:
        status += f'<span class="reason">{e(copy.error)}</span> <small>{e(copy.detail or "")}</small>'
    final = anchor(copy.final_url or copy.url)
    stored = "—"
    if copy.location:
        length = f" <small>({copy.length:,} bytes)</small>" if copy.length is not None else ""
        stored = f"<code>{e(copy.location)}</code>{length}"
    replay = "—"
    if copy.replay and safe_href(copy.replay):
        replay = (f'<a class="replay" href="{safe_href(copy.replay)}" title="{e(copy.replay)}" '
                  'rel="noreferrer noopener">replay ↗</a>')
    return (f"<tr><th>{e(label)}</th><td><time>{e(copy.captured_at)}</time></td><td>{status or '—'}</td>"
            f'<td class="url">{final}</td><td>{stored}</td><td>{replay}</td></tr>')


def _diff(diff: TextDiff, similarity: float | None) -> str:
    head = "Main text: cited copy → live page (<del>removed</del> <ins>added</ins>)"
    if similarity is not None:
        head += f" · similarity {similarity:.2f}"
    if diff.truncated:
        head += " · long texts cut for the diff"
    parts = [f'<div class="diff"><p>{head}</p>']
    if diff.title_changed:
        parts.append(f"<p>Title: <del>{e(diff.cited_title or '')}</del> → <ins>{e(diff.live_title or '')}</ins></p>")
    if diff.note:
        parts.append(f"<p>{e(diff.note)}</p>")
    if diff.ops:
        tags = {"delete": "del", "insert": "ins", "gap": 'span class="gap"'}
        body = "".join(f"<{tags[op]}>{e(text)}</{tags[op].split()[0]}>" if op in tags else e(text)
                       for op, text in diff.ops)
        parts.append(f'<div class="body">{body}</div>')
    return "".join(parts) + "</div>"


def _facts(entry: LinkEntry) -> str:
    facts = [("Last checked", entry.checked_at or "never"), ("Failures", str(entry.failures))]
    if entry.state_since:
        facts.append(("In this state since", entry.state_since))
    if entry.http_status is not None:
        facts.append(("HTTP status", str(entry.http_status)))
    if entry.similarity is not None:
        facts.append(("Similarity", f"{entry.similarity:.2f}"))
    items = "".join(f"<div><dt>{e(name)}</dt><dd>{e(value)}</dd></div>" for name, value in facts)
    if entry.final_url and entry.final_url != entry.url:
        items += f"<div><dt>Final URL</dt><dd>{anchor(entry.final_url)}</dd></div>"
    return f'<dl class="facts">{items}</dl>'


def _citations(item: GroupEntry) -> str:
    items = []
    for citation in item.citations:
        quote = f" <q>{e(citation.excerpt)}</q>" if citation.excerpt else ""
        text = f" <small>(link text: {e(citation.anchor)})</small>" if citation.anchor else ""
        items.append(f'<li><span class="where">{e(citation.label)}</span>{quote}{text}</li>')
    if item.also_in:
        items.append(f'<li class="muted">also cited in {e(", ".join(item.also_in))}</li>')
    return f'<ul class="cites">{"".join(items)}</ul>' if items else ""


def _card(item: GroupEntry) -> str:
    entry = item.link
    state = e(entry.state)
    id_attr = f' id="{e(item.anchor)}"' if item.anchor else ""
    reason = f'<span class="reason">{e(entry.reason)}</span>' if entry.reason else ""
    new = f'<span class="new">{e(CHANGE_TITLES[entry.change].lower())}</span>' if entry.change else ""
    title = f'<p class="title">Cited page title: <q>{e(entry.title)}</q></p>' if entry.title else ""
    rows = _copy_row("Evidence", entry.evidence) + _copy_row("Cited copy", entry.cited_copy)
    evidence = f'<table class="ev">{_EVIDENCE_HEAD}{rows}</table>' if rows else ""
    diff = _diff(entry.diff, entry.similarity) if entry.diff is not None else ""
    return (f'<article class="link s-{state}" data-state="{state}" data-link="{entry.id}"{id_attr}>'
            f'<header><span class="badge">{state}</span>{anchor(entry.url)}{reason}{new}</header>'
            f"{title}{_facts(entry)}{review_line(entry)}{_citations(item)}{evidence}{alternatives_line(entry)}"
            f"{diff}</article>")


def alternatives_line(entry: LinkEntry) -> str:
    """Other web archives' copies of the URL (closest to the citation date), and what the others said."""
    if not entry.mementos and not entry.alternative_notes:
        return ""
    found = [anchor(a.url, f"{a.archive}, {(a.datetime or '')[:10]}") for a in entry.mementos]
    notes = [f'<span class="muted">{e(note)}</span>' for note in entry.alternative_notes]
    return f'<p class="alternatives">Other archives: {" · ".join(found + notes)}</p>'


def review_line(entry: LinkEntry) -> str:
    """The latest decision in force on the link, if any."""
    if entry.review is None:
        return ""
    note = f": {e(entry.review.note)}" if entry.review.note else ""
    return (f'<p class="review">Reviewer: <b>{e(entry.review.decision)}</b> by {e(entry.review.by)} at '
            f"<time>{e(entry.review.at)}</time>{note}</p>")


def reviewed_section(data: ReportData) -> str:
    """The reviewer's decisions in force (accepted changes and false alarms are ok links: listed only here)."""
    if not data.reviewed:
        return ""
    items = []
    for item in data.reviewed:
        target = anchor(item.target) if item.state else f"every link of host <b>{e(item.target)}</b>"
        now = (f' <span class="muted">now {e(item.state)}{" / " + e(item.reason) if item.reason else ""}</span>'
               if item.state else "")
        items.append(f'<li data-decision="{e(item.review.decision)}">{target}: {e(item.line)}{now}</li>')
    return (f'<section id="reviewed"><h2>Reviewer decisions in force <small>({len(data.reviewed)})</small></h2>'
            f'<ul class="panel">{"".join(items)}</ul></section>')


def _article_head(group: ArticleGroup) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in group.counts)
    if group.source and group.title:
        head = f'<h3>{e(group.title)}</h3>{anchor(group.source, cls="src url")}<small>{e(counts)}</small>'
    elif group.source:
        head = f'<h3>{anchor(group.source)}</h3><small>{e(counts)}</small>'
    else:
        head = f"<h3>Not cited by a collected article</h3><small>{e(counts)}</small>"
    return f'<section class="article"><header>{head}</header>'


def _filters(data: ReportData) -> str:
    present = dict(data.counts)
    chips = "".join(
        f'<label class="chip s-{state}"><input type="checkbox" value="{state}" checked> {state} '
        f"<span>{present.get(state, 0)}</span></label>"
        for state in PROBLEM_STATES
    )
    return (f'<form class="filters" aria-label="Show states">{chips}'
            '<button type="button" data-set="all">all</button><button type="button" data-set="none">none</button>'
            f'<span class="shown"><output id="shown">{data.problem_total}</output> of {data.problem_total} shown</span>'
            "</form>")


def _problems(data: ReportData) -> Iterator[str]:
    if not data.articles:
        yield '<section id="problems"><h2>Problem links</h2><p class="panel">No problem links.</p></section>'
        return
    yield (f'<section id="problems"><h2>Problem links by article <small>({data.problem_total})</small></h2>'
           f"{_filters(data)}")
    for group in data.articles:
        yield _article_head(group)
        for item in group.entries:
            yield _card(item)
        yield "</section>\n"
    yield "</section>\n"


def _unchecked(data: ReportData) -> str:
    if not data.unchecked:
        return ""
    items = "".join(
        f'<li><span class="badge s-{e(x.state)}">{e(x.state)}</span> {anchor(x.url)}'
        + (f' <span class="muted">{e(x.reason)}</span>' if x.reason else "") + "</li>"
        for x in data.unchecked
    )
    return (f'<section id="unchecked"><h2>Not checked <small>({len(data.unchecked)})</small></h2>'
            f'<details class="panel"><summary>pending and excluded links</summary><ul>{items}</ul></details></section>')


def stream(data: ReportData) -> Iterator[str]:
    """The HTML document in pieces (one per card)."""
    since = f" · links checked or changed since {e(data.since)}" if data.since else ""
    yield "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Cited links report {e(data.generated_at)}</title><style>{CSS}</style></head>\n",
        f'<body data-total="{data.total}" data-problems="{data.problem_total}" data-shown="{data.problem_total}">',
        "<main><header><h1>Cited links report</h1>",
        f'<p class="meta">Generated <time>{e(data.generated_at)}</time>{since} · {data.total:,} links · '
        f"{data.problem_total:,} need attention</p></header>\n",
        _summary(data), "\n", _changes(data), "\n",
    ])
    yield from _problems(data)
    yield _unchecked(data)
    yield reviewed_section(data)
    yield ("<footer>Replay links work while <code>archiver serve</code> runs (its replay: "
           f"<code>{e(data.replay_base)}</code>; see the README). "
           "The JSON report lists every link, ok ones included.</footer></main>\n"
           f"<script>{SCRIPT}</script></body></html>\n")
