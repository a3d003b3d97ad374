"""Finding URLs in running text, and the sentence around them.

Shared by the text collector (whole files) and the HTML collector (URLs
written as plain text in a page, not as links).

How URLs are delimited, as people write them:

- a URL starts at ``http://``, ``https://`` or ``ftp://`` (any case) and runs
  until white space, ``<``, ``>``, ``"``, a backtick, ``|`` or a typographic
  quote; bare ``www.example.com`` without a scheme is not taken;
- then trailing ``. , ; : ! ? ' * _ ~ …`` are dropped, and a closing ``)``,
  ``]`` or ``}`` is dropped only while the URL holds more closing than opening
  ones: ``(see https://x.org/a).`` gives ``https://x.org/a`` while
  ``https://en.wikipedia.org/wiki/Python_(programming_language)`` stays whole;
- Markdown ``[text](url "title")`` and ``[text](<url>)`` keep ``text`` as the
  anchor, ``[text][ref]`` with ``[ref]: url`` too; ``<url>`` autolinks and
  ``<a href="url">text</a>`` are understood; images ``![alt](url)`` are not
  citations and are skipped; inside Markdown, fenced code blocks and inline
  code spans are skipped (as lychee does by default).

The context of a link (``context_around``) is the sentence holding it, within
its paragraph (text between blank lines) and, in a list, within its own item
(a marker line ``-``, ``*``, ``+``, ``•``, ``1.`` and its indented
continuation lines; never the neighbouring items), whitespace collapsed; a sentence
longer than ``CONTEXT_LIMIT`` is cut to about ``CONTEXT_WINDOW`` characters
around the link, marked with ``…``. A URL standing alone on its line (a list
marker aside) says nothing by itself, so its context is the line above it in
the same paragraph (typically the title of the cited page, as pasted under
it), else the line below, else the sentence. A context made of nothing but
URLs (a bare list of links) says nothing either: it is left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTEXT_LIMIT = 300
CONTEXT_WINDOW = 200
_SCAN_LIMIT = 2000  # how far around a link context_around looks
_SENTENCE_SCAN = 2 * CONTEXT_LIMIT  # how far from the link a sentence boundary is looked for

SCHEME_START = re.compile(r"(?<![\w/@.+-])(?:https?|ftp)://", re.I)
_STOP_CHARS = (
    ' \t\r\n\f\v<>"`|'
    "\u201c\u201d\u201e\u2018\u2019\u00ab\u00bb\u2039\u203a"  # typographic quotes
    "\u300c\u300d\u300e\u300f\u3001\u3002\uff0c\u00a0\u2028\u2029"  # CJK punctuation, nbsp, separators
)
_URL_RUN = re.compile(r"[^" + re.escape(_STOP_CHARS) + r"\x00-\x1f\x7f]+")
_TRAILING = ".,;:!?'*_~\u2026"
_PAIRS = {")": "(", "]": "[", "}": "{"}

_MD_URL = r"(?:https?|ftp)://[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*"
_MD_TEXT = r"(?:[^\[\]]|\[[^\[\]]*\]){0,500}?"
MD_LINK = re.compile(
    r"(?<!!)\[(?P<text>" + _MD_TEXT + r")\]\(\s*(?:<(?P<angled>(?:https?|ftp)://[^>\n]*)>|(?P<url>" + _MD_URL + r"))"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?\s*\)",
    re.I,
)
MD_IMAGE = re.compile(r"!\[" + _MD_TEXT + r"\]\([^)\n]*\)")
MD_REF_DEF = re.compile(r"^[ ]{0,3}\[(?P<label>[^\]\n]+)\]:[ \t]*<?(?P<url>(?:https?|ftp)://[^\s>]+)>?.*$", re.I | re.M)
MD_REF_USE = re.compile(r"\[(?P<text>[^\[\]\n]+)\]\[(?P<label>[^\[\]\n]*)\]")
HTML_ANCHOR = re.compile(
    r"<a\s[^>]{0,500}?href\s*=\s*[\"'](?P<url>(?:https?|ftp)://[^\"'\s]+)[\"'][^>]{0,500}>(?P<text>.{0,500}?)</a\s*>",
    re.I | re.S,
)
_FENCE = re.compile(r"^[ ]{0,3}(```+|~~~+)[^\n]*\n.*?(?:^[ ]{0,3}\1[ \t]*$|\Z)", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)[^`\n](?:.{0,1000}?[^`\n])??\1(?!`)", re.S)
_TAGS = re.compile(r"<[^>]{0,500}>")
_EMPHASIS_EDGES = re.compile(r"^[*_`~]+|[*_`~]+$")

_NON_LETTERS = re.compile(r"[\W\d_]+")
_BLANK_LINE = re.compile(r"\n(?=([^\S\n]*)\n)")  # at the newline before a blank line; group 1 ends at the next
_LEFT_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*\s+")
_RIGHT_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s|$)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+>\u2022]|\d{1,3}[.)])\s+")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs cf dr mr mrs ms prof st no nr fig vol ed eds approx ca bzw vgl z.b u.a d.h "
    "usw evtl inkl ggf sog s.o s.u jan feb mar apr jun jul aug sep sept oct okt nov dec dez".split()
)


@dataclass(frozen=True)
class Found:
    """One URL found in text: where the URL itself is, and the construct around it."""

    url: str
    start: int
    end: int
    anchor: str | None
    span_start: int  # start of the whole construct, e.g. of "[text](url)"
    span_end: int


def collapse_ws(text: str) -> str:
    """Collapse runs of white space to one space and strip the ends."""
    return " ".join(text.split())


def trim_url(candidate: str) -> str:
    """Drop the punctuation and unbalanced brackets people write after a URL."""
    url = candidate
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last in _PAIRS and url.count(_PAIRS[last]) < url.count(last):
            url = url[:-1]
        else:
            break
    return url


def find_bare_urls(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Every scheme-prefixed URL written as plain text in ``text[start:end]``."""
    stop = len(text) if end is None else end
    found: list[Found] = []
    for match in SCHEME_START.finditer(text, start, stop):
        run = _URL_RUN.match(text, match.start(), stop)
        url = trim_url(run.group(0)) if run else ""
        if len(url) > len(match.group(0)):
            found.append(
                Found(url, match.start(), match.start() + len(url), None, match.start(), match.start() + len(url))
            )
    return found


def find_urls(text: str, *, markdown: bool = True) -> list[Found]:
    """Every URL in a text or Markdown document, in order of appearance."""
    skipped = code_spans(text) if markdown else []
    taken: list[tuple[int, int]] = list(skipped)
    found: list[Found] = []

    def free(a: int, b: int) -> bool:
        return not any(a < y and x < b for x, y in taken)

    for item in _markup_links(text):
        if free(item.span_start, item.span_end):
            found.append(item)
            taken.append((item.span_start, item.span_end))
    taken.extend((m.start(), m.end()) for m in MD_IMAGE.finditer(text) if free(m.start(), m.end()))
    for item in find_bare_urls(text):
        if free(item.start, item.end):
            found.append(item)
    found.sort(key=lambda f: f.start)
    return found


def code_spans(text: str) -> list[tuple[int, int]]:
    """Spans of Markdown fenced code blocks and inline code."""
    spans = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    for match in _CODE_SPAN.finditer(text):
        if not any(a <= match.start() < b for a, b in spans):
            spans.append((match.start(), match.end()))
    return spans


def _markup_links(text: str) -> list[Found]:
    """Markdown inline and reference links, and HTML anchors, with their text."""
    found: list[Found] = []
    for m in MD_LINK.finditer(text):
        group = "angled" if m.group("angled") else "url"
        url = m.group(group).strip() if group == "angled" else m.group(group)
        found.append(
            Found(url, m.start(group), m.start(group) + len(url), clean_anchor(m.group("text")), m.start(), m.end())
        )
    uses: dict[str, str] = {}
    for m in MD_REF_USE.finditer(text):
        uses.setdefault((m.group("label") or m.group("text")).strip().lower(), m.group("text"))
    for m in MD_REF_DEF.finditer(text):
        label = m.group("label").strip()
        anchor = clean_anchor(uses.get(label.lower(), label))
        found.append(Found(m.group("url"), m.start("url"), m.end("url"), anchor, m.start(), m.end()))
    for m in HTML_ANCHOR.finditer(text):
        found.append(
            Found(m.group("url"), m.start("url"), m.end("url"), clean_anchor(m.group("text")), m.start(), m.end())
        )
    return found


def strip_markdown_links(text: str) -> str:
    """``[text](url)`` -> ``text`` and ``![alt](src)`` -> ``alt``, for readable snippets."""
    text = MD_LINK.sub(lambda m: m.group("text"), text)
    return MD_IMAGE.sub(lambda m: m.group(0)[2 : m.group(0).index("]")], text)


def clean_anchor(text: str) -> str | None:
    """Anchor text without markup: images give their alt text, tags vanish."""
    text = strip_markdown_links(text)
    text = _EMPHASIS_EDGES.sub("", collapse_ws(_TAGS.sub(" ", text)))
    return text or None


def context_around(text: str, start: int, end: int, *, lone_line: bool = True) -> str:
    """The sentence around ``text[start:end]`` (see the module docstring).

    ``lone_line=False`` turns off the rule for a URL alone on its line (for a
    titled HTML link, whose own text explains it).
    """
    paragraph = _paragraph(text, start, end)
    para_start, para_end = _bullet(text, *paragraph, start)
    in_item = (para_start, para_end) != paragraph
    marker = _LIST_MARKER.match(text[para_start:start])
    para_start += marker.end() if marker else 0
    line_start = text.rfind("\n", para_start, start) + 1 if start > para_start else para_start
    line_start = max(line_start, para_start)
    line_end = text.find("\n", end, para_end)
    line_end = para_end if line_end < 0 else line_end
    line = text[line_start:line_end]
    if lone_line and collapse_ws(_LIST_MARKER.sub("", line)).strip("<>()[].,;:") == text[start:end].strip():
        neighbour = _neighbour_line(text, para_start, para_end, line_start, line_end, in_item=in_item)
        if neighbour:
            return neighbour
    s_start, s_end = _sentence(text, para_start, para_end, start, end)
    label = text[start:end]
    own_words = "" if SCHEME_START.match(label.strip()) else label  # a titled link says something itself
    if _too_bare(text[s_start:start] + own_words + text[end:s_end]) and s_start > para_start:
        stop = para_start + len(text[para_start:s_start].rstrip()) - 1  # the previous full stop
        s_start, _ = _sentence(text, para_start, para_end, stop, stop)
    sentence = text[s_start:s_end]
    context = _clip(sentence, start - s_start, end - s_start)
    return context if _says_something(context) else ""


def _says_something(context: str) -> bool:
    """False for a context of nothing but URLs and punctuation (a clipped one may
    start or end with a piece of a URL, which says nothing either)."""
    tokens = context.split()
    if tokens and tokens[0] == "\u2026":
        tokens = tokens[2:]
    if tokens and tokens[-1] == "\u2026":
        tokens = tokens[:-2]
    words = " ".join(tokens)
    for found in reversed(find_bare_urls(words)):
        words = words[:found.start] + " " + words[found.end:]
    return bool(_NON_LETTERS.sub("", words))


def _too_bare(words: str) -> bool:
    """True when a sentence says nothing but its link ("Source: <url>")."""
    return len(_NON_LETTERS.sub("", words[:400])) < 12


def _paragraph(text: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the paragraph (text between blank lines) around [start, end)."""
    low = max(0, start - _SCAN_LIMIT)
    high = min(len(text), end + _SCAN_LIMIT)
    para_start = low
    for blank in _BLANK_LINE.finditer(text, low, start):  # the last one before the link
        para_start = blank.end(1) + 1
    after = _BLANK_LINE.search(text, end, high)
    return para_start, after.start() if after else high


def _bullet(text: str, para_start: int, para_end: int, start: int) -> tuple[int, int]:
    """Narrow a paragraph to the list item holding ``start`` (its marker line and
    indented continuation lines); a line outside any item ends at the next item."""
    line_start = max(para_start, text.rfind("\n", para_start, start) + 1)
    item_start: int | None = None
    probe = line_start
    while True:
        line_end = text.find("\n", probe, para_end)
        line = text[probe : para_end if line_end < 0 else line_end]
        if _LIST_MARKER.match(line):
            item_start = probe
            break
        if probe == para_start or not line[:1].isspace() or not line.strip():
            break  # a line that is not indented cannot continue an item above it
        probe = max(para_start, text.rfind("\n", para_start, probe - 1) + 1)
    if item_start is None and not any(_LIST_MARKER.match(line) for line in text[para_start:para_end].splitlines()):
        return para_start, para_end
    first = text.find("\n", start, para_end)
    next_line = first + 1 if first >= 0 else para_end
    while next_line < para_end:
        line_end = text.find("\n", next_line, para_end)
        line = text[next_line : para_end if line_end < 0 else line_end]
        if _LIST_MARKER.match(line) or (item_start is not None and not line[:1].isspace()):
            return (item_start if item_start is not None else para_start), next_line - 1
        if line_end < 0:
            break
        next_line = line_end + 1
    return (item_start if item_start is not None else para_start), para_end


def _neighbour_line(
    text: str, para_start: int, para_end: int, line_start: int, line_end: int, *, in_item: bool = False
) -> str:
    """Text next to a URL-only line: the line above (in the paragraph, else the
    paragraph above), followed by the line below when the one above is bare;
    in a list item, only lines of the same item."""
    reach = 0 if in_item else _SCAN_LIMIT
    above = _last_line(text[max(0, para_start - reach) : line_start])
    below = _first_line(text[line_end : min(len(text), para_end + reach)])
    if above and not _too_bare(above):
        if len(above) > CONTEXT_LIMIT:  # keep the end, nearest to the URL
            cut = above.find(" ", len(above) - CONTEXT_WINDOW)
            above = "\u2026 " + above[cut + 1 :]
        return above
    joined = collapse_ws(f"{above} {below}")
    if len(joined) > CONTEXT_LIMIT:
        cut = joined.rfind(" ", 0, CONTEXT_WINDOW)
        joined = joined[: cut if cut > 0 else CONTEXT_WINDOW] + " \u2026"
    return joined


def _last_line(chunk: str) -> str:
    for line in reversed(chunk.splitlines()):
        cleaned = collapse_ws(_LIST_MARKER.sub("", line))
        if cleaned:
            return "" if SCHEME_START.match(cleaned) else cleaned
    return ""


def _first_line(chunk: str) -> str:
    for line in chunk.splitlines():
        cleaned = collapse_ws(_LIST_MARKER.sub("", line))
        if cleaned:
            return "" if SCHEME_START.match(cleaned) else cleaned
    return ""


def _sentence(text: str, para_start: int, para_end: int, start: int, end: int) -> tuple[int, int]:
    """Bounds of the sentence around [start, end) within the paragraph.

    Boundaries are looked for up to ``_SENTENCE_SCAN`` characters from the link:
    a sentence reaching further is longer than ``CONTEXT_LIMIT`` either way, and
    ``_clip`` cuts it to a window around the link (a list of bare URLs, one
    paragraph without a full stop, costs no more per URL than prose)."""
    low = max(para_start, start - _SENTENCE_SCAN)
    s_start = low
    for match in _LEFT_BOUNDARY.finditer(text, low, start):
        if _is_boundary(text, para_start, match.start()):
            s_start = match.end()
    high = min(para_end, end + _SENTENCE_SCAN)
    s_end = high
    for match in _RIGHT_BOUNDARY.finditer(text, end, high):
        if _is_boundary(text, para_start, match.start()):
            s_end = match.end()
            break
    return s_start, s_end


def _is_boundary(text: str, low: int, dot: int) -> bool:
    """False when the full stop at ``dot`` ends an abbreviation or an ordinal."""
    if text[dot] != ".":
        return True
    word_start = dot
    while word_start > low and not text[word_start - 1].isspace() and text[word_start - 1] not in "([\"'":
        word_start -= 1
    word = text[word_start:dot].lower()
    if not word:
        return True
    if len(word) == 1 and word.isalpha():
        return False
    if word.isdigit() and len(word) <= 2:
        return False
    return word not in _ABBREVIATIONS


def _clip(sentence: str, start: int, end: int) -> str:
    """Collapse white space; cut a long sentence to a window around [start, end)."""
    if len(sentence) <= CONTEXT_LIMIT:
        return collapse_ws(sentence)
    half = max(0, (CONTEXT_WINDOW - (end - start)) // 2)
    left = max(0, start - half)
    right = min(len(sentence), end + half)
    if left > 0:
        space = sentence.find(" ", left, start)
        left = space + 1 if space >= 0 else left
    if right < len(sentence):
        space = sentence.rfind(" ", end, right)
        right = space if space >= 0 else right
    prefix = "\u2026 " if left > 0 else ""
    suffix = " \u2026" if right < len(sentence) else ""
    return prefix + collapse_ws(sentence[left:right]) + suffix
