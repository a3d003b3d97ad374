"""Citations in plain-text and Markdown articles, with their comment sections.

URL finding and context snippets are ``urlscan``'s (see its docstring for how
punctuation, brackets and Markdown are handled). This module adds provenance.

A comment section starts at a heading line of its own, after a blank line,
such as ``6 thoughts on "Title"``, ``One Response to "Title"``,
``12 Kommentare zu „Titel“``, ``## 3 Comments`` or a bare ``Comments``; it ends
at a closing line such as ``Comments are closed.``, ``Leave a Reply`` or
``Schreibe einen Kommentar``, else at the end of the text. URLs after the
section count as body again. Inside the section, entries are found, in this
order of preference:

1. numbered entries: lines ``1.`` or ``1)`` at one indentation, numbered
   1, 2, 3 ... without gaps (a number that breaks the sequence, sits at another
   indentation or exceeds the count in the heading is comment text);
2. entries opened by an author line, ``Jane says:`` / ``Jane sagt:`` /
   ``Jane on May 2, 2022 said:``;
3. entries separated by rules (``---``, ``***``, ``___``, ``===``).

When none of these shows, every URL of the section is attributed to the
comment section with ``comment=None`` (``1`` when the heading says there is
exactly one comment). An author line gives ``comment_author``; a date on one
of the entry's first lines gives ``comment_date``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .dates import find_date
from .model import BODY, COMMENT, Collected, RawLink
from .normalize import InvalidURL, normalize_url
from .urlscan import collapse_ws, context_around, find_urls, strip_markdown_links

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")

_COUNT_WORDS = {
    "no": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "ein": 1,
    "eine": 1,
    "einen": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "keine": 0,
}
_HEADING = re.compile(
    r"^[ \t]{0,3}(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*"
    r"(?:(?P<count>\d{1,5}|" + "|".join(_COUNT_WORDS) + r")[ \t]+)?"
    r"(?:reader[ \t]+|leser-?)?"
    r"(?P<word>comments?|thoughts?|responses?|replies|reactions?|kommentare?|antworten|gedanken|reaktionen)"
    r"(?P<tail>[ \t]+(?:on|to|zu|auf|für|about|über)[ \t]+\S.*|[ \t]*\((?P<paren>\d{1,5})\)|[ \t]*:)?"
    r"[ \t]*(?:\*\*|__)?[ \t]*$",
    re.I | re.M,
)
_SECTION_END = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:comments? (?:are|is) (?:now )?closed|leave a (?:reply|comment)|post a comment|"
    r"add a comment|write a comment|submit a comment|cancel reply|kommentare sind geschlossen|"
    r"kommentar (?:verfassen|schreiben|hinterlassen|absenden)|"
    r"(?:schreibe|hinterlasse|hinterlassen sie) einen kommentar|"
    r"einen kommentar (?:schreiben|hinterlassen)|antworten abbrechen)\b.*$",
    re.I | re.M,
)
_NUMBERED = re.compile(r"^(?P<indent>[ \t]*)(?P<num>\d{1,4})[.)][ \t]+\S", re.M)
_AUTHOR_SAYS = re.compile(
    r"^[ \t]*(?:\d{1,4}[.)][ \t]+)?(?P<author>[^\n]{1,80}?)[ \t]+"
    r"(?:on[ \t]+(?P<date>[^\n]{4,60}?)[ \t]+)?(?:says|said|wrote|sagt|schreibt|schrieb|meint)[ \t]*:?[ \t]*$",
    re.I | re.M,
)
_BLANK_BEFORE = re.compile(r"\n[ \t]*\n[ \t]*$")
_RULE = re.compile(r"^[ \t]*(?:[-*_=][ \t]*){3,}$", re.M)


@dataclass(frozen=True)
class TextComment:
    """One entry of a comment section: its 1-based number and text span."""

    number: int | None
    start: int
    end: int
    author: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class CommentSection:
    start: int
    end: int
    comments: tuple[TextComment, ...]

    def locate(self, offset: int) -> TextComment | None:
        """The comment holding ``offset``; None outside the section."""
        if not self.start <= offset < self.end:
            return None
        for comment in self.comments:
            if comment.start <= offset < comment.end:
                return comment
        return TextComment(None, self.start, self.end)


def collect_text(text: str, source: str, *, markdown: bool | None = None) -> Collected:
    """Every URL of a text or Markdown document, attributed to body or comment.

    ``markdown`` defaults to True for sources ending in a Markdown suffix; it
    only decides whether code blocks and code spans are skipped.
    """
    if markdown is None:
        markdown = source.lower().endswith(MARKDOWN_SUFFIXES)
    result = Collected(source=source, title=text_title(text))
    section = find_comment_section(text)
    for found in find_urls(text, markdown=markdown):
        try:
            normalize_url(found.url)
        except InvalidURL as exc:
            result.problem(found.start, f"malformed URL {found.url!r}: {exc}")
            continue
        comment = section.locate(found.start) if section else None
        context = context_around(text, found.span_start, found.span_end)
        result.links.append(
            RawLink(
                url=found.url,
                where=COMMENT if comment else BODY,
                comment=comment.number if comment else None,
                comment_author=comment.author if comment else None,
                comment_date=comment.date if comment else None,
                anchor=found.anchor,
                context=strip_markdown_links(context),
                position=found.start,
            )
        )
    return result


def text_title(text: str) -> str | None:
    """The first non-blank line, without Markdown heading marks."""
    for line in text.splitlines():
        title = collapse_ws(line.strip().strip("#=*_ ").strip())
        if title:
            return title[:300]
    return None


def find_comment_section(text: str) -> CommentSection | None:
    """The first recognizable comment section of ``text`` (module docstring)."""
    for heading in _HEADING.finditer(text):
        if not _stands_alone(text, heading):
            continue
        count = _heading_count(heading)
        start = heading.end()
        closing = _SECTION_END.search(text, start)
        end = closing.start() if closing else len(text)
        comments = _split_entries(text, start, end, count)
        if not comments and count == 1:
            comments = [TextComment(1, start, end)]
        return CommentSection(heading.start(), end, tuple(comments))
    return None


def _stands_alone(text: str, heading: re.Match[str]) -> bool:
    """A heading needs a count, or must be the bare word; blank line before it."""
    if not (heading.group("count") or heading.group("paren") or not heading.group("tail")):
        return False
    if heading.group(0).rstrip().endswith("."):
        return False
    before = text[max(0, heading.start() - 200) : heading.start()]
    return heading.start() == 0 or _BLANK_BEFORE.search(before) is not None


def _heading_count(heading: re.Match[str]) -> int | None:
    raw = heading.group("count") or heading.group("paren")
    if raw is None:
        return None
    return int(raw) if raw.isdigit() else _COUNT_WORDS.get(raw.lower())


def _split_entries(text: str, start: int, end: int, count: int | None) -> list[TextComment]:
    starts = _numbered_starts(text, start, end, count)
    if not starts:
        starts = [m.start() for m in _AUTHOR_SAYS.finditer(text, start, end)]
    if not starts:
        rules = [m.end() for m in _RULE.finditer(text, start, end)]
        starts = [start] + rules if rules else []
    if not starts:
        return []
    bounds = list(zip(starts, starts[1:] + [end], strict=True))
    return [_entry(text, number, a, b) for number, (a, b) in enumerate(bounds, start=1)]


def _numbered_starts(text: str, start: int, end: int, count: int | None) -> list[int]:
    starts: list[int] = []
    indent: str | None = None
    for match in _NUMBERED.finditer(text, start, end):
        number = int(match.group("num"))
        if indent is None:
            if number == 1:
                indent = match.group("indent")
                starts.append(match.start())
            continue
        if match.group("indent") == indent and number == len(starts) + 1 and (not count or number <= count):
            starts.append(match.start())
    return starts


def _entry(text: str, number: int, start: int, end: int) -> TextComment:
    """A comment with the author and date shown on its first lines, if any."""
    head_lines = [line for line in text[start:end].splitlines() if line.strip()][:3]
    author = date = None
    says = _AUTHOR_SAYS.match("\n".join(head_lines[:1]))
    if says:
        author = collapse_ws(says.group("author"))
        date = find_date(says.group("date") or "") or (collapse_ws(says.group("date")) if says.group("date") else None)
    if date is None:
        for line in head_lines:
            if len(line.strip()) <= 60:
                date = find_date(line)
                if date:
                    break
    return TextComment(number, start, end, author, date)
