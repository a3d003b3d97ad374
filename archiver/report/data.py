"""Gathering a report: every link with its state, evidence, citations and diff.

:func:`build_report` takes every decision a renderer needs: which links are
problems, how they are grouped by article and ordered, what changed since the
previous sweep, the diff of a ``changed`` link's main text, the replay URL of
each stored copy.

Memory stays small for large archives: one scan of the links keeps in memory
only the links the report discusses (every state but ok, and the links that
changed since the previous sweep), with their captures, citations and diffs.
``ReportData.links`` re-reads every link from the store, in URL order, while
it is iterated (the JSON report), so the store must stay open until rendering
is done.

``since`` (``archiver report --since WHEN``) keeps only the links checked or
changing state at or after WHEN, and compares their states with WHEN instead
of with the start of the latest sweep.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..archive.store import Store, iso, utcnow
from .changes import Baseline, baseline_for
from .model import (
    DEFAULT_REPLAY_BASE,
    PROBLEM_STATES,
    STATE_ORDER,
    UNCHECKED_STATES,
    Alternative,
    ArticleGroup,
    CitationRef,
    GroupEntry,
    LinkEntry,
    ReportData,
    Review,
    Reviewed,
    StoredCopy,
)
from .textdiff import text_diff

NO_SOURCE = ""  # group of links not cited by any collected article (snapshotted by hand)
QUIET_STATE = "ok"  # links in this state are streamed, not held, unless they changed since the baseline
# SPEC §6: the evidence of every verdict other than ok is linked from the report.
_NO_EVIDENCE_STATES = frozenset({"ok", "pending"})
_RANK = {state: rank for rank, state in enumerate(STATE_ORDER)}


def _share(value: Any) -> Any:
    """One object for the many repeated short strings (states, reasons, timestamps, sources)."""
    return sys.intern(value) if isinstance(value, str) else value


def _entry(row: dict[str, Any]) -> LinkEntry:
    url = row["url"]
    return LinkEntry(
        id=int(row["id"]), url=url, state=_share(row["state"]), reason=_share(row["reason"]),
        http_status=row["http_status"], final_url=url if row["final_url"] == url else row["final_url"],
        similarity=row["similarity"], checked_at=_share(row["last_checked"]), failures=int(row["failures"] or 0),
        state_since=_share(row["state_since"]), title=None, cited_copy=None, evidence=None,
    )


def _copy(row: dict[str, Any], replay_base: str, link_url: str) -> StoredCopy:
    url = link_url if row["url"] == link_url else row["url"]
    return StoredCopy(
        captured_at=row["captured_at"], kind=_share(row["kind"]), status=row["status"], url=url,
        final_url=url if row["final_url"] == url else row["final_url"], warc_name=_share(row["warc"]),
        offset=row["offset"], length=row["length"], has_record=row["warc"] is not None and row["kind"] != "failed",
        record_date=row["record_date"] if row["record_date"] not in (None, row["captured_at"]) else None,
        title=row["title"], error=_share(row["error"]), detail=row["detail"], replay_base=replay_base,
    )


Reviews = tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]  # Store.report_reviews()


def _review(entry: LinkEntry, reviews: Reviews) -> Review | None:
    """The later of the link's own latest decision and its host's."""
    by_link, by_host = reviews
    own = by_link.get(entry.id)
    host = by_host.get(urlsplit(entry.url).hostname or "") if by_host else None
    row = max((r for r in (own, host) if r is not None), key=lambda r: int(r["id"]), default=None)
    if row is None:
        return None
    return Review(int(row["id"]), row["decision"], row["decided_by"], row["decided_at"], row["note"],
                  row["host"] if row["link_id"] is None else None)


def _citation(row: dict[str, Any]) -> CitationRef:
    return CitationRef(
        source=_share(row["source"]), source_title=_share(row["source_title"]), where=_share(row["place"]),
        comment=row["comment"], comment_author=_share(row["comment_author"]), anchor=row["anchor"],
        context=row["context"], removed=bool(row["removed"]), comment_kind=_share(row.get("comment_kind")),
        comment_label=_share(row.get("comment_label")), comment_permalink=row.get("comment_permalink"),
    )


Alternatives = dict[int, tuple[Alternative, ...]]  # link id -> other archives' latest answers


def _alternatives(store: Store) -> Alternatives:
    """Every link's other-archive lookups (few: only dead and changed links are looked up)."""
    from ..export.memento import archive_label

    out: dict[int, list[Alternative]] = {}
    for row in store.report_alternatives():
        out.setdefault(int(row["link_id"]), []).append(Alternative(
            archive=archive_label(row["archive"]), timegate=row["archive"], outcome=row["outcome"],
            url=row["memento_url"], datetime=row["memento_datetime"], first_url=row["first_url"],
            first_datetime=row["first_datetime"], last_url=row["last_url"], last_datetime=row["last_datetime"],
            looked_up_at=row["looked_up_at"], note=row["note"]))
    return {link_id: tuple(items) for link_id, items in out.items()}


class MergeJoin:
    """Rows of a second query in the same URL order, taken link by link (a merge join)."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def take(self, url: str) -> list[dict[str, Any]]:
        while self._next is not None and self._next["link_url"] < url:
            self._next = next(self._rows, None)
        taken = []
        while self._next is not None and self._next["link_url"] == url:
            taken.append(self._next)
            self._next = next(self._rows, None)
        return taken


class LinkStream:
    """Every link of a report in URL order, read from the store each time it is iterated."""

    def __init__(self, store: Store, since: datetime | None, replay_base: str, held: dict[int, LinkEntry],
                 total: int, reviews: Reviews = ({}, {})) -> None:
        self.store, self.since, self.replay_base = store, since, replay_base
        self.held, self.total, self.reviews = held, total, reviews
        self.alternatives: Alternatives = {}  # set by build_report

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[LinkEntry]:
        citations = MergeJoin(self.store.report_all_citations(self.since))
        copies = MergeJoin(self.store.report_cited_captures(self.since))
        for row in self.store.report_links(self.since):
            url = row["url"]
            cited, copy = citations.take(url), copies.take(url)
            held = self.held.get(int(row["id"]))
            if held is not None:
                yield held
                continue
            entry = _entry(row)
            entry.cited_copy = _copy(copy[0], self.replay_base, url) if copy else None
            entry.title = entry.cited_copy.title if entry.cited_copy else None
            entry.citations = [_citation(c) for c in cited]
            entry.review = _review(entry, self.reviews)
            entry.alternatives = self.alternatives.get(entry.id, ())
            yield entry


class _Gatherer:
    """Scans the links once and completes the held ones with captures, citations and diffs."""

    def __init__(self, store: Store, replay_base: str, baseline: Baseline) -> None:
        self.store, self.replay_base, self.baseline = store, replay_base, baseline
        self.capture_ids: dict[int, tuple[int | None, int | None, int | None]] = {}  # cited, evidence, latest
        self.counts = dict.fromkeys(STATE_ORDER, 0)
        self.total = 0

    def scan(self, since: datetime | None) -> list[LinkEntry]:
        held = []
        for row in self.store.report_links(since):
            state, link_id = row["state"], int(row["id"])
            self.total += 1
            self.counts[state] = self.counts.get(state, 0) + 1
            change = self.baseline.change(link_id, state, row["first_seen"])
            if state == QUIET_STATE and change is None:
                continue
            entry = _entry(row)
            entry.change = change
            evidence = row["evidence_capture_id"] if state not in _NO_EVIDENCE_STATES else None
            latest = (row["latest_capture_id"] or row["evidence_capture_id"]) if state == "changed" else None
            self.capture_ids[link_id] = (row["cited_capture_id"], evidence, latest)
            held.append(entry)
        return held

    def complete(self, held: list[LinkEntry], diffs: bool = True) -> None:
        owner = {cid: entry.url for entry in held for cid in self.capture_ids[entry.id] if cid is not None}
        copies: dict[int, StoredCopy] = {}
        digests: dict[int, str] = {}
        for row in self.store.report_captures(owner):
            capture_id = int(row["id"])
            copies[capture_id] = _copy(row, self.replay_base, owner[capture_id])
            if row["payload_digest"]:
                digests[capture_id] = row["payload_digest"]
        by_id = {entry.id: entry for entry in held}
        for entry in held:
            cited, evidence, _ = (copies.get(cid) if cid else None for cid in self.capture_ids[entry.id])
            entry.cited_copy, entry.evidence = cited, evidence
            entry.title = cited.title if cited else evidence.title if evidence else None
        for row in self.store.report_citations(by_id):
            by_id[int(row["link_id"])].citations.append(_citation(row))
        if diffs:
            self.attach_diffs([entry for entry in held if entry.state == "changed"], digests)

    def attach_diffs(self, changed: list[LinkEntry], digests: dict[int, str], batch: int = 10) -> None:
        """Diff the main texts (cited copy vs latest capture), a batch at a time: texts can be large."""
        for start in range(0, len(changed), batch):
            chunk = changed[start:start + batch]
            pairs = {}
            for entry in chunk:
                cited, _, latest = self.capture_ids[entry.id]
                pairs[entry.id] = (digests.get(cited) if cited else None, digests.get(latest) if latest else None)
            texts = {row["payload_digest"]: row for row in
                     self.store.report_texts(d for pair in pairs.values() for d in pair if d)}
            for entry in chunk:
                cited_digest, live_digest = pairs[entry.id]
                entry.diff = text_diff(texts.get(cited_digest) if cited_digest else None,
                                       texts.get(live_digest) if live_digest else None)


def _sort_key(entry: LinkEntry) -> tuple[int, str]:
    return (_RANK.get(entry.state, len(_RANK)), entry.url)


def group_by_article(problems: Iterable[LinkEntry]) -> list[ArticleGroup]:
    """Problem links per citing article, worst first; each link's first card carries its anchor."""
    members: dict[str, list[LinkEntry]] = {}
    titles: dict[str, str] = {}
    for entry in problems:
        sources = dict.fromkeys(c.source for c in entry.citations) or {NO_SOURCE: None}
        for citation in entry.citations:
            titles.setdefault(citation.source, citation.source_title or citation.source)
        for source in sources:
            members.setdefault(source, []).append(entry)
    order = sorted(members, key=lambda s: (s == NO_SOURCE, min(_sort_key(e) for e in members[s])[0],
                                           -len(members[s]), titles.get(s, s)))
    groups, anchored = [], set()
    for source in order:
        entries = []
        for link in sorted(members[source], key=_sort_key):
            citations = tuple(c for c in link.citations if c.source == source)
            others = tuple(titles[s] for s in dict.fromkeys(c.source for c in link.citations) if s != source)
            entries.append(GroupEntry(link, "" if link.id in anchored else link.anchor, citations, others))
            anchored.add(link.id)
        title = titles.get(source) if titles.get(source) != source else None
        groups.append(ArticleGroup(source, title, tuple(entries), _counts(members[source])))
    return groups


def _counts(entries: Iterable[LinkEntry]) -> tuple[tuple[str, int], ...]:
    tally: dict[str, int] = {}
    for entry in entries:
        tally[entry.state] = tally.get(entry.state, 0) + 1
    return tuple(sorted(tally.items(), key=lambda item: _RANK.get(item[0], len(_RANK))))


def build_report(store: Store, *, since: datetime | None = None, now: datetime | None = None,
                 replay_base: str = DEFAULT_REPLAY_BASE, diffs: bool = True) -> ReportData:
    """Gather a report of every link (or, with ``since``, of those checked or changed since then).

    ``store`` must stay open while the result is rendered: ``links`` is read from it on iteration.
    """
    now = now or utcnow()
    baseline = baseline_for(store, since=since, now=now)
    gather = _Gatherer(store, replay_base, baseline)
    held = gather.scan(since)
    gather.complete(held, diffs)  # diffs=False: the workbench diffs only the links it shows
    reviews = store.report_reviews()
    alternatives = _alternatives(store)
    for entry in held:
        entry.review = _review(entry, reviews)
        entry.alternatives = alternatives.get(entry.id, ())
    reviewed = _reviewed(store, reviews)
    problems = [entry for entry in held if entry.state in PROBLEM_STATES]
    unchecked = sorted((e for e in held if e.state in UNCHECKED_STATES), key=_sort_key)
    stream = LinkStream(store, since, replay_base, {e.id: e for e in held}, gather.total, reviews)
    stream.alternatives = alternatives
    return ReportData(
        generated_at=iso(now), since=iso(since) if since else None, counts=tuple(gather.counts.items()),
        total=gather.total, links=stream,
        changes=baseline.section(held), articles=group_by_article(problems), unchecked=unchecked,
        problem_total=len(problems), replay_base=replay_base, reviewed=reviewed,
    )


def _reviewed(store: Store, reviews: Reviews) -> list[Reviewed]:
    """Every decision in force, newest first: on links (with their state now) and on hosts."""
    by_link, by_host = reviews
    items = []
    for link_id, row in by_link.items():
        link = store.link_by_id(link_id)
        review = Review(int(row["id"]), row["decision"], row["decided_by"], row["decided_at"], row["note"], None)
        items.append(Reviewed(review, link["url"], link["state"], link["reason"]))
    for host, row in by_host.items():
        items.append(Reviewed(Review(int(row["id"]), row["decision"], row["decided_by"], row["decided_at"],
                                     row["note"], host), host, None, None))
    return sorted(items, key=lambda item: -item.review.id)
