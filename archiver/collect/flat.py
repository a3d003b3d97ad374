"""A parsed page as one string of visible text, with every link's place in it.

One pass over the tree (``lxml.etree.iterwalk``, no recursion, so deep trees
cost nothing extra) yields:

- ``text``: the visible text; white space inside text nodes collapsed, block
  elements separated by a blank line (so a paragraph of the page is a
  paragraph of the text), ``<br>`` a line break; script, style, head, form
  controls and templates left out;
- ``links``: each ``<a href>`` with the span of its text in ``text``;
- bare URLs written as plain text outside any link, with the element whose
  text holds them.

Link occurrences (anchors and bare URLs) are numbered in document order; that
number is ``RawLink.position`` for HTML. Context snippets are taken from
``text`` with the same sentence rules as for text files.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from lxml import etree
from lxml.html import HtmlElement

from .urlscan import find_bare_urls

BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section summary table tbody "
    "td tfoot th thead tr ul".split()
)
SKIP_TAGS = frozenset(
    {"script", "style", "head", "noscript", "template", "textarea", "select", "option", "button", "svg", "math"}
)
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Occurrence:
    """A link on the page: an ``<a href>`` or a URL written as text."""

    element: HtmlElement  # the <a>, or the element whose text holds the bare URL
    raw: str  # the href as written, or the bare URL
    start: int  # span in FlatPage.text: the link text, or the bare URL
    end: int
    is_anchor: bool

    @property
    def anchor_text(self) -> str:
        return " ".join(self.element.text_content().split()) if self.is_anchor else ""


@dataclass
class FlatPage:
    text: str
    occurrences: list[Occurrence] = field(default_factory=list)


def flatten(root: HtmlElement) -> FlatPage:
    """Visible text and link occurrences of a parsed page, in document order."""
    builder = _Builder()
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, element in walker:
        if event == "start":
            if builder.start(element):
                walker.skip_subtree()
        elif event == "end":
            builder.end(element)
        else:  # comments and processing instructions: only their tail is text
            builder.emit(element.tail, element.getparent())
    return builder.finish()


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pieces: list[tuple[int, HtmlElement]] = []  # (offset, element owning the text)
        self.anchors: list[Occurrence] = []
        self.open_anchors: dict[HtmlElement, int] = {}
        self.anchor_spans: list[tuple[int, int]] = []
        self.skipped: set[HtmlElement] = set()

    def emit(self, text: str | None, owner: HtmlElement | None = None) -> None:
        if not text:
            return
        if owner is not None:
            text = _WS.sub(" ", text)
        if owner is not None:
            self.pieces.append((self.length, owner))
        self.parts.append(text)
        self.length += len(text)

    def start(self, element: HtmlElement) -> bool:
        """Handle an opening tag; True when its subtree is to be skipped."""
        tag = element.tag
        if tag in SKIP_TAGS:
            self.skipped.add(element)
            return True
        if tag in BLOCK_TAGS:
            self.emit("\n\n")
        elif tag == "br":
            self.emit("\n")
        if tag == "a" and element.get("href") is not None:
            self.open_anchors[element] = self.length
        self.emit(element.text, element)
        return False

    def end(self, element: HtmlElement) -> None:
        if element not in self.skipped:
            if element in self.open_anchors:
                start = self.open_anchors.pop(element)
                self.anchors.append(Occurrence(element, element.get("href") or "", start, self.length, True))
                self.anchor_spans.append((start, self.length))
            if element.tag in BLOCK_TAGS:
                self.emit("\n\n")
        parent = element.getparent()
        if parent is not None:
            self.emit(element.tail, parent)

    def finish(self) -> FlatPage:
        text = "".join(self.parts)
        page = FlatPage(text, list(self.anchors))
        page.occurrences.extend(self._bare_urls(text))
        page.occurrences.sort(key=lambda o: (o.start, not o.is_anchor))
        return page

    def _bare_urls(self, text: str) -> list[Occurrence]:
        spans = sorted(self.anchor_spans)
        starts = [s for s, _ in spans]
        offsets = [offset for offset, _ in self.pieces]
        found: list[Occurrence] = []
        for url in find_bare_urls(text):
            i = bisect.bisect_right(starts, url.start) - 1
            if i >= 0 and spans[i][0] <= url.start < spans[i][1]:
                continue  # inside a link's text: the link itself is the citation
            j = bisect.bisect_right(offsets, url.start) - 1
            if j >= 0:
                found.append(Occurrence(self.pieces[j][1], url.url, url.start, url.end, False))
        return found
