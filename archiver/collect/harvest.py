"""Collect citations from sources into the store: files, article URLs and feeds.

The extraction itself is pure (``archiver.collect``); this module fetches what
must be fetched (through the fetch module, with its guards), adds the reader
comments an article page loads from a comment platform (``archiver.collect.threads``),
normalizes every URL, drops excluded ones, and records the citations
idempotently.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import Collected, CollectProblem, FeedEntry, collect_file, collect_html, is_excluded, parse_feed
from .endpoints import APIs
from .feeds import MAX_INFLATED
from .normalize import normalize_url
from ..config import Config, Source
from ..errors import InvalidURL, UsageError
from ..charsets import header_charset
from ..capture.fetch import Fetcher
from ..check.extract import MAX_HTML_BYTES
from ..check.pages import final_body, text_limit
from ..archive.store import CitationInput, Store
from .threads import add_platform_comments

FEED_TYPES = ("xml", "rss", "atom", "json")
MAX_FEED_ENTRIES = 500
# A sitemap index lists sitemaps; some sites nest indexes once more. Deeper
# than this is a trap (or a loop through ever new URLs), not a site map.
MAX_FEED_DEPTH = 3
# Sitemaps one source may lead to (each lists up to MAX_FEED_ENTRIES pages).
MAX_SITEMAPS = 200


@dataclass
class Harvest:
    """What collecting one or more sources produced."""

    collected: list[Collected] = field(default_factory=list)
    citations: list[CitationInput] = field(default_factory=list)
    problems: list[CollectProblem] = field(default_factory=list)
    new: int = 0
    removed: int = 0
    recorded: int = 0  # sources collected and stored (``collected`` is empty when not kept)

    def add(self, other: Harvest) -> None:
        self.collected += other.collected
        self.citations += other.citations
        self.problems += other.problems
        self.new += other.new
        self.removed += other.removed
        self.recorded += other.recorded


def to_citations(collected: Collected, exclude: Iterable[str]) -> tuple[list[CitationInput], list[CollectProblem]]:
    """Normalize each link; malformed ones become problems, excluded ones are dropped."""
    patterns = list(exclude)
    citations, problems = [], []
    for link in collected.links:
        try:
            url = normalize_url(link.url)
        except InvalidURL as exc:
            problems.append(CollectProblem(collected.source, link.position, f"malformed URL {link.url!r}: {exc}"))
            continue
        if patterns and is_excluded(url, patterns):
            continue
        citations.append(CitationInput(
            url=url, url_as_written=link.url, source=collected.source, place=link.where, comment=link.comment,
            comment_author=link.comment_author, comment_date=link.comment_date, anchor=link.anchor,
            context=link.context, position=link.position, comment_kind=link.comment_kind,
            comment_label=link.comment_label, comment_parent=link.comment_parent,
            comment_permalink=link.comment_permalink,
        ))
    return citations, problems



@dataclass
class _Walk:
    """The feeds, sitemaps and pages one source has led to: none is read twice,
    so a sitemap index that lists itself (or any loop) ends. ``path`` holds the
    sitemaps being read, outermost first: one of them listed again is a loop."""

    seen: set[str] = field(default_factory=set)
    path: list[str] = field(default_factory=list)
    sitemaps: int = 0  # nested sitemaps read

    def visit(self, url: str) -> bool:
        """Note ``url`` as read; False if it already was."""
        key = _walk_key(url)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def was_read(self, url: str) -> bool:
        return _walk_key(url) in self.seen

    def in_path(self, url: str) -> bool:
        return _walk_key(url) in self.path


def _walk_key(url: str) -> str:
    try:
        return normalize_url(url)
    except InvalidURL:
        return url


def _is_feed(data: bytes, content_type: str) -> bool:
    content_type = content_type.split(";")[0].strip().lower()
    if any(kind in content_type for kind in FEED_TYPES) and "html" not in content_type:
        return True
    head = data[:500].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head or b"<urlset" in head
                                          or b"<sitemapindex" in head)


class Harvester:
    """Collects sources into a store; ``fetcher`` is used for URL and feed sources."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher | None,
                 on_collected: Callable[[Collected], None] | None = None, *, keep: bool = True,
                 apis: APIs | None = None) -> None:
        self.config = config
        # comment platforms' endpoints; tests point the fixed ones (HN, Bluesky, Disqus) at a local server
        self.apis = apis or APIs(disqus_api_key=config.collect.disqus_api_key)
        self.store = store
        self.fetcher = fetcher
        self.on_collected = on_collected
        self.keep = keep  # False: only counts and problems come back (a sweep's 20,000 citations stay in the store)
        self.feed_limit = min(text_limit(config), MAX_INFLATED)

    def record(self, collected: Collected, kind: str, name: str | None = None) -> Harvest:
        citations, problems = to_citations(collected, self.config.collect.exclude)
        self.store.record_source(collected.source, kind, name=name, title=collected.title)
        new, removed = self.store.add_citations(collected.source, citations)
        if self.on_collected:
            self.on_collected(collected)
        problems = [*collected.problems, *problems]
        if not self.keep:
            return Harvest([], [], problems, new, removed, recorded=1)
        return Harvest([collected], citations, problems, new, removed, recorded=1)

    def files(self, pattern: str, name: str | None = None) -> Harvest:
        paths = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not paths:
            raise UsageError(f"{pattern}: no files match")
        harvest = Harvest()
        for path in paths:
            if not Path(path).is_file():
                raise UsageError(f"{path}: no such file")
            # one file is one source however it was named (relative, absolute, through "..")
            collected = collect_file(Path(path).resolve(), include_comments=self.config.collect.include_comments)
            harvest.add(self.record(collected, "file", name))
        return harvest

    async def url(self, url: str, name: str | None = None, *, feed_ok: bool = True,
                  walk: _Walk | None = None) -> Harvest:
        """An article page (or, when it turns out to be one, a feed)."""
        walk = walk or _Walk()
        walk.visit(url)
        fetched = await self._fetch_body(url, "", page=True)
        if isinstance(fetched, CollectProblem):
            return Harvest(problems=[fetched])
        data, content_type, final_url = fetched
        walk.visit(final_url)
        if feed_ok and _is_feed(data, content_type):
            walk.path.append(_walk_key(url))
            return await self._feed_entries(parse_feed(data, url), name, walk, url, depth=1)
        collected = collect_html(data, final_url, url, include_comments=self.config.collect.include_comments,
                                 charset=header_charset(content_type))
        if len(data) >= MAX_HTML_BYTES:
            collected.problem(0, f"the page is larger than {MAX_HTML_BYTES / 1e6:g} MB once decompressed: "
                                 "only that much of it was read")
        if self.config.collect.include_comments and self.fetcher is not None:  # comments loaded by script
            collected = await add_platform_comments(collected, data, final_url, self.fetcher,
                                                    self.config.collect.max_comments, self.apis,
                                                    header_charset(content_type))
        return self.record(collected, "url", name)

    async def feed(self, url: str, name: str | None = None, *, walk: _Walk | None = None,
                   depth: int = 0) -> Harvest:
        """The pages a feed or sitemap lists (and, for a sitemap index, those of its
        sitemaps). A feed that is no feed raises UsageError; one listed by a
        sitemap index is a problem of that source instead."""
        walk = walk or _Walk()
        walk.visit(url)
        fetched = await self._fetch_body(url, "feed ")
        if isinstance(fetched, CollectProblem):
            return Harvest(problems=[fetched])
        walk.visit(fetched[2])
        try:
            entries = parse_feed(fetched[0], url)
        except UsageError as exc:
            if depth == 0:
                raise
            return Harvest(problems=[CollectProblem(url, 0, str(exc))])
        self.store.record_source(url, "feed", name=name)
        walk.path.append(_walk_key(url))
        try:
            return await self._feed_entries(entries, name, walk, url, depth=depth + 1)
        finally:
            walk.path.pop()

    async def _fetch_body(self, url: str, what: str, *, page: bool = False) -> tuple[bytes, str, str] | CollectProblem:
        """(content-decoded body, content type, final URL) of ``url`` (a ``page``, else a feed), or
        the problem that stopped it."""
        assert self.fetcher is not None
        result = await self.fetcher.fetch(url)
        try:
            if not result.ok or result.final is None or result.final.status >= 400:
                why = result.error or f"HTTP {result.status}"
                return CollectProblem(url, 0, f"could not fetch {what}{url}: {why} {result.detail}".strip())
            content_type = result.final.header("content-type") or ""
            try:
                # a page is read as far as collect reads it, a feed or sitemap up to 50 MB (what
                # the sitemap protocol allows): a decompression bomb costs that much memory at most
                data = final_body(result, MAX_HTML_BYTES if page else self.feed_limit)
                if page and len(data) >= MAX_HTML_BYTES and _is_feed(data, content_type):
                    data = final_body(result, self.feed_limit)
            except ValueError as exc:  # an encoding we cannot inflate
                return CollectProblem(url, 0, f"could not decode {what}{url}: {exc}")
            return data, content_type, result.final_url
        finally:
            result.cleanup()

    async def _feed_entries(self, entries: list[FeedEntry], name: str | None, walk: _Walk, listed_by: str,
                            depth: int) -> Harvest:
        """Collect what ``entries`` (of the feed or sitemap ``listed_by``, ``depth`` levels
        below the source) point at; loops and traps become problems, the rest is read."""
        harvest = Harvest()
        for entry in entries[:MAX_FEED_ENTRIES]:
            if entry.is_sitemap_index:
                if walk.in_path(entry.url) or _walk_key(entry.url) == _walk_key(listed_by):
                    harvest.problems.append(CollectProblem(listed_by, 0, (
                        f"{listed_by} lists {entry.url}, which lists it in turn: a loop of sitemaps; "
                        "not read again")))
                elif walk.was_read(entry.url):
                    continue  # listed by two sitemaps: read once
                elif depth >= MAX_FEED_DEPTH:
                    harvest.problems.append(CollectProblem(listed_by, 0, (
                        f"sitemaps nested more than {MAX_FEED_DEPTH} levels deep: {entry.url} "
                        f"(listed by {listed_by}) not read")))
                elif walk.sitemaps >= MAX_SITEMAPS:
                    harvest.problems.append(CollectProblem(listed_by, 0, (
                        f"more than {MAX_SITEMAPS} sitemaps for one source: {entry.url} "
                        f"(listed by {listed_by}) and the rest not read")))
                    break
                else:
                    walk.sitemaps += 1
                    harvest.add(await self.feed(entry.url, name, walk=walk, depth=depth))
                continue
            if not walk.visit(entry.url):
                continue  # a page listed twice (or the feed itself) is read once
            page = await self.url(entry.url, name, feed_ok=False, walk=walk)
            if page.recorded or not entry.content_html:
                harvest.add(page)
                continue
            # the page cannot be fetched: fall back to the entry's own content
            collected = collect_html(entry.content_html, entry.url, entry.url,
                                     include_comments=self.config.collect.include_comments)
            harvest.add(page)
            harvest.add(self.record(collected, "feed-entry", name))
        return harvest

    async def source(self, source: Source) -> Harvest:
        if source.path:
            return self.files(source.path, source.name)
        if source.feed:
            return await self.feed(source.feed, source.name)
        return await self.url(source.url or "", source.name)

    async def sources(self, sources: Iterable[Source], *, keep_going: bool = True) -> Harvest:
        """Collect each source; with ``keep_going`` a bad source becomes a problem, not an error."""
        harvest = Harvest()
        for source in sources:
            try:
                harvest.add(await self.source(source))
            except UsageError as exc:
                if not keep_going:
                    raise
                harvest.problems.append(CollectProblem(source.target, 0, str(exc)))
        return harvest


def source_for_argument(argument: str) -> Source:
    """`archiver collect SOURCE`: a file/glob, an article URL, or a feed URL (detected on fetch)."""
    if argument.startswith(("http://", "https://")):
        return Source(url=argument)
    if "://" in argument or argument.lower().startswith(("javascript:", "data:", "mailto:")):
        raise UsageError(f"{argument}: not a file and not an http(s) URL")
    return Source(path=argument)
