"""The values the collector hands to its caller. Nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

BODY = "body"
COMMENT = "comment"


@dataclass(frozen=True)
class RawLink:
    """One citation found in a source, before normalization and storage.

    ``url`` is the URL as written; in HTML it is resolved against the page's
    base URL. ``comment`` is the 1-based position of the comment among the
    source's comments when ``where == "comment"``; it is ``None`` for the body,
    and for a comment section whose entries could not be told apart.
    ``position`` orders links within one source: a character offset for text
    sources, the document-order index of the link occurrence for HTML, the
    comment's thread position times 1000 plus the link's index in it for
    comments read from a comment platform's endpoint.
    """

    url: str
    where: str  # BODY or COMMENT
    comment: int | None
    comment_author: str | None
    comment_date: str | None  # as found; ISO 8601 when it could be parsed
    anchor: str | None  # link text; None for a bare URL
    context: str  # the sentence around the link (or ~200 chars), whitespace collapsed
    position: int
    # Provenance of a comment, where the source shows it (None otherwise):
    comment_kind: str | None = None  # comment, pingback, trackback, answer, reply (a platform's)
    comment_label: str | None = None  # "answer 2", "comment on answer 2", "comment on the question"
    comment_parent: int | None = None  # number of the comment this one answers
    comment_permalink: str | None = None  # absolute URL of the comment itself


@dataclass(frozen=True)
class CollectProblem:
    """Something in a source that could not be read as meant (never fatal)."""

    source: str
    position: int  # same unit as RawLink.position; 0 for the source as a whole
    message: str


@dataclass
class Collected:
    """Everything collected from one source."""

    source: str
    title: str | None
    links: list[RawLink] = field(default_factory=list)
    problems: list[CollectProblem] = field(default_factory=list)

    def problem(self, position: int, message: str) -> None:
        """Record a problem found at ``position`` of this source."""
        self.problems.append(CollectProblem(self.source, position, message))


@dataclass(frozen=True)
class FeedEntry:
    """One article listed by a feed or a sitemap.

    ``is_sitemap_index`` marks an entry of a sitemap index: ``url`` is then
    another sitemap to read, not an article.
    """

    url: str
    title: str | None
    content_html: str | None
    is_sitemap_index: bool = False
