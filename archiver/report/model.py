"""The values a report is made of: gathered by ``data.py``, rendered by the formatters.

Every decision (which links are problems, how they are grouped and ordered,
what changed since the previous sweep, how long a diff or an excerpt is, the
replay URL of a stored copy) is taken while gathering; a renderer only lays
these values out and escapes them for its format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Order in which states are counted, filtered and listed (worst first after the summary's "ok").
STATE_ORDER = ("dead", "failing", "changed", "moved", "blocked", "ok", "pending", "excluded")
# States a reviewer must look at: listed per article with their evidence.
PROBLEM_STATES = ("dead", "failing", "changed", "moved", "blocked")
# States never fetched or not yet judged: listed briefly at the end.
UNCHECKED_STATES = ("pending", "excluded")

# Kinds of change since the previous sweep, in the order they are shown.
CHANGE_KINDS = ("newly-dead", "newly-failing", "newly-changed", "moved", "recovered")
CHANGE_TITLES = {
    "newly-dead": "Newly dead",
    "newly-failing": "Newly failing",
    "newly-changed": "Newly changed",
    "moved": "Moved",
    "recovered": "Recovered",
}

# pywb serves a collection named "archive" on its default port (see README).
DEFAULT_REPLAY_BASE = "http://localhost:8080/archive/"
WARC_DIR = "warcs"
EXCERPT_CHARS = 280  # citation contexts are shortened to about this for display

_LINE_BREAKS = re.compile(r"[\r\n\t\f\v]|\s\s")
_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D")


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """``text`` on one line, cut at a word boundary to about ``limit`` characters."""
    if not text:
        return None
    if len(text) <= limit and not _LINE_BREAKS.search(text):
        return text
    flat = _SPACES.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + " …"


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """One capture as the report shows it: where its bytes are and how to replay them.

    Derived strings (``warc``, ``location``, ``replay``) are computed on use, so
    ten thousand copies stay small.
    """

    captured_at: str
    kind: str  # response | revisit | failed
    status: int | None
    url: str
    final_url: str | None
    warc_name: str | None  # file name in warcs/, None when nothing was written
    offset: int | None
    length: int | None
    has_record: bool  # a response or revisit record is in the WARCs (replayable)
    record_date: str | None  # WARC-Date of that record when it differs from captured_at
    title: str | None  # page title of the captured payload, if extracted
    error: str | None  # fetch error reason (dns, timeout, ...)
    detail: str | None
    replay_base: str = DEFAULT_REPLAY_BASE

    @property
    def warc(self) -> str | None:
        """``warcs/<file>`` or None."""
        return f"{WARC_DIR}/{self.warc_name}" if self.warc_name else None

    @property
    def location(self) -> str | None:
        """``warcs/<file>:<offset>`` or None."""
        return f"{WARC_DIR}/{self.warc_name}:{self.offset}" if self.warc_name else None

    @property
    def replay(self) -> str | None:
        """pywb's raw-replay URL ``<base><14-digit timestamp>id_/<url>``, None without a WARC record."""
        if not self.has_record:
            return None
        return replay_url(self.replay_base, self.record_date or self.captured_at, self.final_url or self.url)


def replay_url(base: str, timestamp: str, url: str) -> str:
    """pywb's raw-replay form ``<base><14-digit timestamp>id_/<url>``."""
    return f"{base}{_NON_DIGITS.sub('', timestamp)[:14]}id_/{url}"


@dataclass(frozen=True, slots=True)
class CitationRef:
    """Where a link is cited: an article's body or one of its comments."""

    source: str
    source_title: str | None
    where: str  # body | comment
    comment: int | None
    comment_author: str | None
    anchor: str | None
    context: str | None
    removed: bool  # no longer present in the source
    comment_kind: str | None = None  # comment, pingback, trackback, answer
    comment_label: str | None = None  # "answer 2", "comment on answer 2" (Q&A pages)
    comment_permalink: str | None = None

    @property
    def label(self) -> str:
        """``body``, ``comment 3 by Alice``, ``comment 5 (answer 2) by Bob``, ``comment 7 (pingback)``,
        with a note when the citation was removed."""
        label = "body" if self.where == "body" else (f"comment {self.comment}" if self.comment else "a comment")
        kind = self.comment_label or (self.comment_kind if self.comment_kind not in (None, "comment") else None)
        if self.where != "body" and kind:
            label += f" ({kind})"
        if self.comment_author:
            label += f" by {self.comment_author}"
        return label + (" (no longer in the article)" if self.removed else "")

    @property
    def excerpt(self) -> str | None:
        """The context on one line, shortened for display."""
        return excerpt(self.context)


@dataclass(frozen=True, slots=True)
class TextDiff:
    """Main text of the cited copy against the live page, condensed around the changes."""

    ops: tuple[tuple[str, str], ...]  # ("equal"|"delete"|"insert"|"gap", text)
    cited_title: str | None
    live_title: str | None
    title_changed: bool
    text_changed: bool
    truncated: bool  # inputs were cut to the diff size limit
    note: str | None = None  # why there is nothing to show, if so


@dataclass(frozen=True, slots=True)
class Alternative:
    """One other web archive's latest answer about a link (SPEC §7 ``alternatives``)."""

    archive: str  # how the archive is named: its host (web.archive.org)
    timegate: str  # the TimeGate prefix asked
    outcome: str  # found | none | error
    url: str | None  # the memento closest to the citation date
    datetime: str | None
    first_url: str | None
    first_datetime: str | None
    last_url: str | None
    last_datetime: str | None
    looked_up_at: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Review:
    """The latest decision in force on a link, or on its host (SPEC §9)."""

    id: int
    decision: str  # accept | false-alarm | ignore | note
    by: str
    at: str
    note: str | None
    host: str | None  # set when the decision is on the whole host


@dataclass(frozen=True, slots=True)
class Reviewed:
    """A decision in force, for the reports' list of decisions: on a link (url) or a host."""

    review: Review
    target: str  # the link's URL, or the host
    state: str | None  # the link's state now (None for a host)
    reason: str | None

    @property
    def line(self) -> str:
        """``accept by alice at 2026-...: note`` (plain text; each format escapes it)."""
        note = f": {self.review.note}" if self.review.note else ""
        return f"{self.review.decision} by {self.review.by} at {self.review.at}{note}"


@dataclass(slots=True)
class LinkEntry:
    """One link with everything any format shows about it."""

    id: int
    url: str
    state: str
    reason: str | None
    http_status: int | None
    final_url: str | None
    similarity: float | None
    checked_at: str | None
    failures: int
    state_since: str | None
    title: str | None  # title of the cited copy
    cited_copy: StoredCopy | None
    evidence: StoredCopy | None  # the capture of the last check, for states other than ok and pending
    citations: list[CitationRef] = field(default_factory=list)
    diff: TextDiff | None = None
    change: str | None = None  # kind of change since the previous sweep
    review: Review | None = None  # the latest decision in force (archiver review, the workbench)
    alternatives: tuple[Alternative, ...] = ()  # other web archives' answers (archiver.export.memento)

    @property
    def mementos(self) -> tuple[Alternative, ...]:
        """The alternatives found: other archives' mementos of this URL."""
        return tuple(a for a in self.alternatives if a.outcome == "found" and a.url)

    @property
    def alternative_notes(self) -> tuple[str, ...]:
        """What the archives without a memento said ("web.archive.org holds no copy", "... is failing")."""
        return tuple(a.note for a in self.alternatives if a.outcome != "found" and a.note)

    @property
    def anchor(self) -> str:
        """HTML id of the link's first card."""
        return f"link-{self.id}"


@dataclass(frozen=True, slots=True)
class Change:
    """One link whose state changed since the baseline."""

    kind: str
    link: LinkEntry
    before: str  # state at the baseline, "new" when the link did not exist yet
    has_card: bool  # the link is listed among the problem links (link to its card)


@dataclass(frozen=True, slots=True)
class ChangeSection:
    """What changed since the previous sweep (or since ``--since``)."""

    baseline: str | None  # ISO time the states are compared with; None: no sweep yet
    label: str  # "since the previous sweep" / "since 2026-11-20T00:00:00Z"
    sweep_started_at: str | None  # the latest sweep, if the baseline comes from one
    groups: tuple[tuple[str, tuple[Change, ...]], ...]  # (kind, changes) in CHANGE_KINDS order

    @property
    def total(self) -> int:
        return sum(len(changes) for _, changes in self.groups)


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """A problem link as listed under one article."""

    link: LinkEntry
    anchor: str  # HTML id of this card, "" when the link's card was shown earlier
    citations: tuple[CitationRef, ...]  # the citations in this article
    also_in: tuple[str, ...]  # titles (or sources) of the other articles citing it


@dataclass(frozen=True, slots=True)
class ArticleGroup:
    """The problem links cited by one article, worst first."""

    source: str
    title: str | None
    entries: tuple[GroupEntry, ...]
    counts: tuple[tuple[str, int], ...]  # (state, n) for the states present

    @property
    def links(self) -> tuple[LinkEntry, ...]:
        return tuple(entry.link for entry in self.entries)


@dataclass(slots=True)
class ReportData:
    """A whole report, ready for any renderer."""

    generated_at: str
    since: str | None
    counts: tuple[tuple[str, int], ...]  # (state, n) for every state in STATE_ORDER
    total: int
    links: Iterable[LinkEntry]  # every link, by URL; read from the (still open) store when iterated
    changes: ChangeSection
    articles: list[ArticleGroup]
    unchecked: list[LinkEntry]  # pending and excluded links
    problem_total: int  # distinct problem links
    replay_base: str = DEFAULT_REPLAY_BASE
    reviewed: list[Reviewed] = field(default_factory=list)  # decisions in force, newest first
