"""Markup that the HTML parser reads in bounded time (pure: text in, text out).

libxml2 compares each attribute of a start tag with every attribute before it,
so one tag with n attributes costs n² comparisons: a page with one tag of
100,000 attributes (0.9 MB) takes 13 s to parse and over a minute through
trafilatura. :func:`tame` cuts every start tag to its first
``MAX_ATTRIBUTES`` attributes before the page is parsed, for collect and check
alike; real pages stay far below (a few dozen on the busiest elements).

Start tags are found as an HTML5 tokenizer finds them: a tag ends at the first
``>`` that is not inside a quoted attribute value, whatever ``<`` or quotes
come before it. One pass, linear in the page (about 10 ms a megabyte).

Once parsed, trafilatura's main-text extraction grows faster than linearly
with the number of text-bearing elements: 10,000 paragraphs (160 KB) cost
about 2.5 s, 50,000 over 30 s, though a real page of 20,000 elements (8,000
with text) takes 0.7 s. :func:`load` counts what a parsed page would cost;
:func:`cut` drops everything after the budget (``MAX_ELEMENTS`` elements,
``MAX_TEXT_ELEMENTS`` of them carrying text), in document order.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

MAX_ATTRIBUTES = 256
# A start tag with more than MAX_ATTRIBUTES attributes is longer than this
# (each attribute takes a character and a separator at least).
_SHORT_TAG = 2 * MAX_ATTRIBUTES
_SPACE = "\\t\\n\\f\\r "
_START_TAG = re.compile(
    rf"<[A-Za-z][^{_SPACE}/>]*+"
    rf"""(?:[{_SPACE}/]++|=[{_SPACE}]*+(?:"[^"]*+"?|'[^']*+'?)|[^{_SPACE}/>=]++|=)*+"""
)
_TAG_NAME = re.compile(rf"<[A-Za-z][^{_SPACE}/>]*+")
_ATTRIBUTE = re.compile(
    rf"[^{_SPACE}/>][^{_SPACE}/>=]*+"
    rf"""(?:[{_SPACE}]*+=[{_SPACE}]*+(?:"[^"]*+"?|'[^']*+'?|[^{_SPACE}>]*+))?"""
)


def tame(html: str) -> tuple[str, int]:
    """``html`` with every start tag cut to its first ``MAX_ATTRIBUTES`` attributes,
    and how many tags were cut (0: ``html`` itself is returned)."""
    pieces: list[str] = []
    done = 0
    for tag in _START_TAG.finditer(html):
        if tag.end() - tag.start() <= _SHORT_TAG:
            continue
        cut = _cut_point(html, tag.start(), tag.end())
        if cut is not None:
            pieces.append(html[done:cut])
            done = tag.end()  # the tag's ">" (if any) stays
    if not pieces:
        return html, 0
    pieces.append(html[done:])
    return "".join(pieces), len(pieces) - 1


def _cut_point(html: str, start: int, end: int) -> int | None:
    """Where the attribute after the first ``MAX_ATTRIBUTES`` of the tag at
    ``html[start:end]`` begins; None if the tag has no more than that."""
    name = _TAG_NAME.match(html, start)
    assert name is not None  # _START_TAG matched here
    for count, attribute in enumerate(_ATTRIBUTE.finditer(html, name.end(), end)):
        if count == MAX_ATTRIBUTES:
            return attribute.start()
    return None


MAX_ELEMENTS = 60_000
MAX_TEXT_ELEMENTS = 10_000
_COUNT_NODES = etree.XPath("count(//*|//comment()|//processing-instruction())")


def _has_text(element: HtmlElement) -> bool:
    if not isinstance(element.tag, str):  # a comment or processing instruction
        return False
    text, tail = element.text, element.tail
    return bool((text and not text.isspace()) or (tail and not tail.isspace()))


def _few(root: HtmlElement) -> int | None:
    """The number of elements when it is within every budget (most pages), else None."""
    count = int(_COUNT_NODES(root))  # counted in C: no Python loop
    return count if count <= min(MAX_ELEMENTS, MAX_TEXT_ELEMENTS) else None


def load(root: HtmlElement) -> tuple[int, int]:
    """(elements, elements carrying text) of a parsed page, counted up to just past the
    budget (a page within it may report every element as carrying text)."""
    few = _few(root)
    if few is not None:
        return few, few
    elements = texts = 0
    for element in root.iter():
        elements += 1
        texts += _has_text(element)
        if elements > MAX_ELEMENTS or texts > MAX_TEXT_ELEMENTS:
            break
    return elements, texts


def within_budget(root: HtmlElement) -> bool:
    elements, texts = load(root)
    return elements <= MAX_ELEMENTS and texts <= MAX_TEXT_ELEMENTS


def cut(root: HtmlElement) -> bool:
    """Drop every element after the budget, in document order; True if something was dropped."""
    if _few(root) is not None:
        return False
    elements = texts = 0
    for element in root.iter():
        elements += 1
        texts += _has_text(element)
        if elements > MAX_ELEMENTS or texts > MAX_TEXT_ELEMENTS:
            _drop_from(element)
            return True
    return False


def _drop_from(element: HtmlElement) -> None:
    """Remove ``element`` and everything after it in document order."""
    first_parent = element.getparent()
    node, parent = element, first_parent
    while parent is not None:
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node, parent = parent, parent.getparent()
        node.tail = None  # an ancestor's tail comes after its descendants
    if first_parent is not None:
        first_parent.remove(element)
