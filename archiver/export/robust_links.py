"""Robust Links (SPEC §10): a citation that keeps working when the page dies or drifts.

Wherever a citation is printed for reuse (``archiver links --format robust-links``, the workbench's
link page) it comes as::

    <a href="URL" data-originalurl="URL" data-versionurl="MEMENTO" data-versiondate="YYYY-MM-DD">TEXT</a>

``URL`` is the link as archived (normalized), ``TEXT`` the citation's link text (else the URL),
``MEMENTO`` a replayable copy of the cited page and ``data-versiondate`` that copy's date:

- ``ours`` (the default): our replay of the cited copy, ``<replay base>archive/<timestamp>/<URL>``
  (pywb, as ``archiver serve`` serves it; the base comes from ``[serve] public_url`` /
  ``replay_url``, see :mod:`archiver.review.urls`);
- ``public``: a public archive's memento (the one found by a Memento lookup closest to the cited
  copy's date, else the Internet Archive's capture from Save Page Now), falling back to ours.

Every attribute value is HTML-escaped. A link with no stored copy (never captured) has no version
to point at and gets no snippet. Pure once the rows are read: values in, strings out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from ..config import ServeConfig
from ..report.data import MergeJoin
from ..review.urls import replay_base
from ..archive.store import Store

PREFERENCES = ("ours", "public")
_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class RobustLink:
    """One citation in the Robust Links form."""

    url: str  # the original URL (data-originalurl, href)
    version_url: str  # data-versionurl
    version_date: str  # data-versiondate, YYYY-MM-DD
    text: str  # the link text
    source: str | None = None  # the article citing it (None: not cited by a collected article)
    public: bool = False  # the version is a public archive's memento, not our replay

    @property
    def html(self) -> str:
        url = escape(self.url, quote=True)
        return (f'<a href="{url}" data-originalurl="{url}" data-versionurl="{escape(self.version_url, quote=True)}" '
                f'data-versiondate="{escape(self.version_date, quote=True)}">{escape(self.text, quote=False)}</a>')


def our_memento(base: str, timestamp: str, url: str) -> str:
    """Our replay of a stored copy: ``<replay base>archive/<14-digit timestamp>/<url>``."""
    return f"{base}{_NON_DIGITS.sub('', timestamp)[:14]}/{url}"


def _version(base: str, copy: dict[str, Any], mementos: list[tuple[str, str]],
             prefer: str) -> tuple[str, str, bool]:
    """(version URL, ISO datetime, public?) of a link whose cited copy is ``copy``."""
    moment = copy["record_date"] or copy["captured_at"]
    if prefer == "public" and mementos:
        target = _parse(moment)
        url, when = min(mementos, key=lambda m: abs((_parse(m[1]) - target).total_seconds()))
        return url, when, True
    return our_memento(base, moment, copy["url"]), moment, False


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def public_mementos(store: Store, link_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]:
    """Public mementos per link id: the Memento lookups' finds and Save Page Now's captures."""
    found: dict[int, list[tuple[str, str]]] = {}
    rows = store.report_alternatives() if link_ids is None else store.alternatives(link_ids)
    for row in rows:
        if row["outcome"] == "found" and row["memento_url"] and row["memento_datetime"]:
            found.setdefault(int(row["link_id"]), []).append((row["memento_url"], row["memento_datetime"]))
    wanted = None if link_ids is None else set(link_ids)
    for row in store.submissions(status="success"):
        if row["memento_url"] and row["memento_datetime"] and (wanted is None or int(row["link_id"]) in wanted):
            found.setdefault(int(row["link_id"]), []).append((row["memento_url"], row["memento_datetime"]))
    return found


def _snippets(base: str, url: str, copy: dict[str, Any], citations: list[dict[str, Any]],
              mementos: list[tuple[str, str]], prefer: str) -> Iterator[RobustLink]:
    version, moment, public = _version(base, copy, mementos, prefer)
    date = moment[:10]
    if not citations:
        yield RobustLink(url, version, date, url, None, public)
        return
    for citation in citations:
        text = (citation.get("anchor") or "").strip() or url
        yield RobustLink(url, version, date, text, citation["source"], public)


@dataclass
class Listing:
    """What ``robust_links`` produced: the snippets and the links left without one."""

    without_copy: int = 0


def robust_links(store: Store, serve: ServeConfig, *, state: str | None = None, prefer: str = "ours",
                 listing: Listing | None = None) -> Iterator[RobustLink]:
    """Every citation (of the links in ``state``, if given) as a Robust Link, by link URL then source."""
    mementos = public_mementos(store) if prefer == "public" else {}
    citations = MergeJoin(store.report_all_citations())
    copies = MergeJoin(store.report_cited_captures())
    for row in store.report_links():
        url = row["url"]
        cited, copy = citations.take(url), copies.take(url)
        if state and row["state"] != state:
            continue
        if not copy or copy[0]["kind"] == "failed" or copy[0]["warc"] is None:
            if listing is not None:
                listing.without_copy += 1
            continue
        yield from _snippets(replay_base(serve), url, copy[0], cited, mementos.get(int(row["id"]), []), prefer)


def link_robust_links(store: Store, serve: ServeConfig, link_id: int, *, prefer: str = "ours",
                      base: str | None = None) -> list[RobustLink]:
    """The Robust Links of one link's citations (the workbench's link page); empty without a stored copy.
    ``base`` is the replay's ``.../archive/`` prefix when it is not the configured one."""
    link = store.link_by_id(link_id)
    rows = list(store.report_captures([link["cited_capture_id"]])) if link["cited_capture_id"] else []
    if not rows or rows[0]["kind"] == "failed" or rows[0]["warc"] is None:
        return []
    copy = dict(rows[0])
    copy["record_date"] = copy["record_date"] or copy["captured_at"]
    citations = [c for c in store.citations(link_id) if not c.get("removed_at")]
    mementos = public_mementos(store, [link_id]).get(link_id, []) if prefer == "public" else []
    return list(_snippets(base or replay_base(serve), link["url"], copy, citations, mementos, prefer))


def cite_section(snippets: list[RobustLink], alternatives: Iterable[dict[str, Any]] = ()) -> str:
    """The workbench's "Cite it" section: each snippet with a copy button, then other archives' mementos.

    ``alternatives`` are rows of ``Store.alternatives`` (the latest answer per archive). The copy
    buttons carry the snippet in ``data-copy``; the workbench's script copies it to the clipboard.
    """
    from .memento import archive_label

    items = []
    for snippet in dict.fromkeys(snippets):
        html = snippet.html
        where = f' <small>cited in {escape(snippet.source)}</small>' if snippet.source else ""
        items.append(f'<li class="robust-link"><code>{escape(html)}</code> '
                     f'<button type="button" class="copy" data-copy="{escape(html, quote=True)}">Copy</button>'
                     f"{where}</li>")
    found = []
    notes = []
    for row in alternatives:
        url = row["memento_url"]
        if row["outcome"] == "found" and url:
            href = escape(url, quote=True) if url.startswith(("http://", "https://")) else None
            label = escape(f"{archive_label(row['archive'])}, {(row['memento_datetime'] or '')[:10]}")
            found.append(f'<li><a href="{href}" rel="noreferrer noopener">{label}</a></li>' if href else f"<li>{label}</li>")
        elif row["note"]:
            notes.append(f'<li class="muted">{escape(row["note"])}</li>')
    if not items and not found and not notes:
        return '<section id="cite" hidden></section>'
    body = ""
    if items:
        body += ('<h3>Robust Links</h3><p class="muted">Paste one into your article: the link keeps working '
                 f'through the archived copy when the page dies.</p><ul class="panel cite">{"".join(items)}</ul>')
    else:
        body += '<p class="muted">No stored copy yet: nothing to cite a version of.</p>'
    if found or notes:
        body += f'<h3>Other web archives</h3><ul class="panel cite">{"".join(found + notes)}</ul>'
    return f'<section id="cite"><h2>Cite it</h2>{body}</section>'
