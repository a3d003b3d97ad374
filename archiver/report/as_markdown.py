"""Markdown report: the HTML report's content, compact, for email and chat.

Every string from the archive is flattened to one line and escaped: Markdown
punctuation gets a backslash, ``<`` and ``>`` become ``&lt;`` and ``&gt;`` so
no HTML tag from a page survives, whatever renders the message. Only http(s)
URLs become links (``<https://...>`` autolinks); any other URL is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .model import CHANGE_TITLES, ArticleGroup, GroupEntry, ReportData, StoredCopy, TextDiff

_PUNCT = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
_SPACES = re.compile(r"\s+")
_LEADING_NUMBER = re.compile(r"^(\s*\d+)([.)])")
_AUTOLINKABLE = re.compile(r"^https?://[^\s<>\x00-\x1f\x7f]+$", re.I)


def md(text: object) -> str:
    """``text`` as inert inline Markdown on one line (edges' whitespace kept as one space)."""
    flat = _SPACES.sub(" ", str(text))
    flat = _ENTITY.sub("&amp;", flat)
    flat = _PUNCT.sub(r"\\\1", flat).replace("<", "&lt;").replace(">", "&gt;")
    return _LEADING_NUMBER.sub(r"\1\\\2", flat)


def link(url: str | None) -> str:
    """An autolink for an http(s) URL, escaped text for anything else."""
    if not url:
        return "-"
    return f"<{url}>" if _AUTOLINKABLE.match(url) else md(url)


def _marked(mark: str, text: str) -> str:
    """``**text**`` / ``~~text~~`` with the edges' whitespace outside the markers."""
    core = text.strip()
    if not core:
        return md(text)
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    return f"{lead}{mark}{md(core)}{mark}{trail}"


_MARKS = {"delete": "~~", "insert": "**"}


def _diff_op(op: str, text: str, previous: str | None) -> str:
    """One diff operation; an insertion right after a deletion is set apart by a space."""
    if op not in _MARKS:
        return md(text)
    space = " " if op == "insert" and previous == "delete" else ""
    return space + _marked(_MARKS[op], text)


def _diff(diff: TextDiff, similarity: float | None) -> list[str]:
    head = "  - main text, cited copy → live"
    if similarity is not None:
        head += f" (similarity {similarity:.2f})"
    lines = [head + ": ~~removed~~ **added**" + (" (texts cut for the diff)" if diff.truncated else "")]
    if diff.title_changed:
        lines.append(f"    - title: {_marked('~~', diff.cited_title or '')} → {_marked('**', diff.live_title or '')}")
    if diff.note:
        lines.append(f"    - {md(diff.note)}")
    if diff.ops:
        previous = [None, *(op for op, _ in diff.ops)]
        body = "".join(_diff_op(op, text, before) for (op, text), before in zip(diff.ops, previous))
        lines.append(f"    > {body.strip()}")
    return lines


def _copy(label: str, copy: StoredCopy | None) -> str | None:
    if copy is None:
        return None
    parts = [md(copy.captured_at)]
    if copy.status is not None:
        parts.append(f"HTTP {md(copy.status)}")
    if copy.error:
        parts.append(md(copy.error + (f": {copy.detail}" if copy.detail else "")))
    if copy.final_url and copy.final_url != copy.url:
        parts.append(f"final URL {link(copy.final_url)}")
    if copy.location:
        parts.append(f"`{copy.location}`" if "`" not in copy.location else md(copy.location))
    if copy.replay:
        parts.append(f"replay {link(copy.replay)}")
    return f"  - {label}: " + " · ".join(parts)


def _link(item: GroupEntry) -> list[str]:
    entry = item.link
    facts = [md(entry.reason)] if entry.reason else []
    if entry.failures:
        facts.append(f"{entry.failures} failure{'s' if entry.failures != 1 else ''}")
    facts.append(f"checked {md(entry.checked_at or 'never')}")
    lines = [f"- **{md(entry.state.upper())}** {link(entry.url)} — " + " · ".join(facts)]
    if entry.title:
        lines.append(f"  - cited page title: {md(entry.title)}")
    for citation in item.citations:
        quote = f": “{md(citation.excerpt)}”" if citation.excerpt else ""
        lines.append(f"  - cited in {md(citation.label)}{quote}")
    if item.also_in:
        lines.append(f"  - also cited in {md(', '.join(item.also_in))}")
    lines += [line for line in (_copy("evidence", entry.evidence), _copy("cited copy", entry.cited_copy)) if line]
    if entry.diff is not None:
        lines += _diff(entry.diff, entry.similarity)
    if entry.mementos or entry.alternative_notes:
        found = [f"{md(a.archive)} {md((a.datetime or '')[:10])} {link(a.url)}" for a in entry.mementos]
        lines.append("  - other archives: " + " · ".join(found + [md(n) for n in entry.alternative_notes]))
    if entry.review is not None:
        note = f": {md(entry.review.note)}" if entry.review.note else ""
        lines.append(f"  - reviewer: {md(entry.review.decision)} by {md(entry.review.by)} at {md(entry.review.at)}{note}")
    return lines


def _article(group: ArticleGroup) -> list[str]:
    counts = ", ".join(f"{n} {md(state)}" for state, n in group.counts)
    if not group.source:
        return ["", f"### Not cited by a collected article ({counts})", ""]
    title = md(group.title) if group.title else link(group.source)
    lines = ["", f"### {title}", "", f"{link(group.source)} · {counts}" if group.title else counts, ""]
    return lines


def _changes(data: ReportData) -> list[str]:
    section = data.changes
    lines = ["", f"## Changes {md(section.label)}", ""]
    if section.baseline is None:
        return lines + ["No sweep has run yet."]
    lines.append(f"States at {md(section.baseline)} compared with now.")
    if not section.total:
        return lines + ["", "Nothing changed."]
    for kind, changes in section.groups:
        if changes:
            lines += ["", f"**{CHANGE_TITLES[kind]} ({len(changes)})**"]
            for change in changes:
                reason = f" — {md(change.link.reason)}" if change.link.reason else ""
                lines.append(f"- {link(change.link.url)}{reason} (was {md(change.before)})")
    return lines


def stream(data: ReportData) -> Iterator[str]:
    """The Markdown document, a few lines at a time."""
    counts = " · ".join(f"{n} {md(state)}" for state, n in data.counts if n)
    since = f", links checked or changed since {data.since}" if data.since else ""
    yield f"# Cited links report\n\nGenerated {data.generated_at}{since}\n\n**{data.total:,} links**: {counts or 'none'}\n"
    yield _lines(_changes(data))
    yield _lines(["", f"## Problem links by article ({data.problem_total})"])
    if not data.articles:
        yield _lines(["", "No problem links."])
    for group in data.articles:
        yield _lines(_article(group))
        for item in group.entries:
            yield _lines(_link(item))
    if data.unchecked:
        yield _lines(["", f"## Not checked ({len(data.unchecked)})", ""])
        for entry in data.unchecked:
            yield f"- {md(entry.state)} {link(entry.url)}" + (f" — {md(entry.reason)}" if entry.reason else "") + "\n"
    if data.reviewed:
        yield _lines(["", f"## Reviewer decisions in force ({len(data.reviewed)})", ""])
        for decided in data.reviewed:
            target = link(decided.target) if decided.state else f"every link of host {md(decided.target)}"
            now = (f" (now {md(decided.state)}{' / ' + md(decided.reason) if decided.reason else ''})"
                   if decided.state else "")
            yield f"- {target}: {md(decided.line)}{now}\n"


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
