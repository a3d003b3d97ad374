"""Which links of a page are in the article's main text.

trafilatura finds the main text. It runs on a copy of the page with the
comment sections cut out and every ``href`` replaced by a numbered marker, so
its output names exactly which ``<a>`` elements of the page it kept; a URL
written as plain text is in the main text when trafilatura's text holds it.

When trafilatura finds nothing, or the page has more than
``MAX_EXTRACTION_ELEMENTS`` elements (it slows down badly on huge trees), the
fallback keeps the links inside the page's content root (``articleBody``,
``<article>``, ``<main>``, ``.entry-content`` ...) that are not inside
navigation, header, footer, sidebars, widgets, share boxes or comment
containers.

Either way, ``recall`` then adds the links of the article container that
the extractor dropped, and every source list, and takes back links it kept
in promos, share bars, tag lists and author boxes.
"""

from __future__ import annotations

import copy
import re

from lxml import etree
from lxml.html import HtmlElement

from .. import markup

from .comments import CommentLayout
from .flat import FlatPage, Occurrence
from .model import Collected
from .recall import drop_kept_chrome, recover

MAX_EXTRACTION_ELEMENTS = 60_000
_MARK = "https://archiver.invalid/link/"
_BOILERPLATE = re.compile(
    r"(?:^|[-_ ])(?:nav|navbar|navigation|menu|sidebar|widget|footer|header|masthead|breadcrumbs?|share|sharing|"
    r"social|related|cookie|banner|advert|ads|promo|subscribe|newsletter|skip-link|pagination|comments?)(?:$|[-_ ])",
    re.I,
)
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "menu"})
_CONTENT_ROOTS = (
    "//*[@itemprop='articleBody']",
    "//article",
    "//main",
    "//*[@role='main']",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' entry-content ')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' post-content ')]",
)


class MainText:
    """Main-text membership: by element, or for bare URLs by trafilatura's text; plus recovered links."""

    def __init__(self, text: str | None, elements: set[HtmlElement]) -> None:
        self.text = text
        self.elements = elements
        self.recovered: set[Occurrence] = set()

    def holds(self, occurrence: Occurrence) -> bool:
        if occurrence in self.recovered:
            return True
        if not occurrence.is_anchor and self.text is not None:
            return occurrence.raw in self.text
        return occurrence.element in self.elements


def main_text(root: HtmlElement, flat: FlatPage, layout: CommentLayout, result: Collected) -> MainText:
    """Which link occurrences of a parsed page are in the article's main text."""
    removed = set(layout.removable())
    size = sum(1 for _ in root.iter())
    texts = markup.load(root)[1]  # trafilatura's time grows faster than the elements carrying text
    body: MainText | None = None
    if size <= MAX_EXTRACTION_ELEMENTS and texts <= markup.MAX_TEXT_ELEMENTS:
        body = _trafilatura_body(root, flat, removed)
        if body is not None:
            body.elements = drop_kept_chrome(body.elements)
            body.recovered = recover(root, flat.occurrences, body.elements, removed)
            return body
    else:
        many = f"{size} elements" if size > MAX_EXTRACTION_ELEMENTS else \
            f"more than {markup.MAX_TEXT_ELEMENTS} elements with text"
        result.problem(0, f"page has {many}; main text not extracted, links outside navigation taken as body")
    body = MainText(None, _fallback_body(flat, removed))
    if size <= MAX_EXTRACTION_ELEMENTS:
        body.recovered = recover(root, flat.occurrences, body.elements, removed)
    return body


def _trafilatura_body(root: HtmlElement, flat: FlatPage, removed: set[HtmlElement]) -> MainText | None:
    twin = copy.deepcopy(root)
    pairs = dict(zip(root.iter(), twin.iter(), strict=True))
    anchors = [o.element for o in flat.occurrences if o.is_anchor]
    for index, anchor in enumerate(anchors):
        pairs[anchor].set("href", f"{_MARK}{index}")
    for element in removed:
        counterpart = pairs[element]
        if counterpart.getparent() is not None:
            try:
                counterpart.drop_tree()
            except ValueError:  # a tail lxml refuses to move: drop it with the element
                counterpart.tail = None
                counterpart.drop_tree()
    import trafilatura  # noqa: PLC0415 - 0.1-0.2 s to import; a sweep of text sources never needs it

    xml = trafilatura.extract(
        twin, output_format="xml", include_links=True, include_comments=False, include_images=False, with_metadata=False
    )
    if not xml:
        return None
    tree = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    kept: set[HtmlElement] = set()
    for ref in tree.iter("ref"):
        target = ref.get("target") or ""
        if target.startswith(_MARK) and target[len(_MARK) :].isdigit():
            index = int(target[len(_MARK) :])
            if index < len(anchors):
                kept.add(anchors[index])
    return MainText(" ".join(tree.itertext()), kept)


def _fallback_body(flat: FlatPage, removed: set[HtmlElement]) -> set[HtmlElement]:
    """Elements with links outside boilerplate (and inside the content root, if any)."""
    root = flat.occurrences[0].element.getroottree().getroot() if flat.occurrences else None
    content = next((r[0] for r in (root.xpath(x) for x in _CONTENT_ROOTS) if r), None) if root is not None else None
    verdicts: dict[HtmlElement, bool] = {}
    if content is not None:
        for ancestor in content.iterancestors():
            verdicts[ancestor] = False  # outside the content root unless proven inside
        verdicts[content] = _plain(content, removed)
    kept: set[HtmlElement] = set()
    for occurrence in flat.occurrences:
        if _in_body(occurrence.element, removed, verdicts, default=content is None):
            kept.add(occurrence.element)
    return kept


def _in_body(element: HtmlElement, removed: set[HtmlElement], verdicts: dict[HtmlElement, bool], default: bool) -> bool:
    """Memoized walk up the tree: no boilerplate or comment container on the way."""
    path: list[HtmlElement] = []
    node: HtmlElement | None = element
    verdict = default
    while node is not None:
        if node in verdicts:
            verdict = verdicts[node]
            break
        if not _plain(node, removed):
            verdict = False
            break
        path.append(node)
        node = node.getparent()
    for visited in path:
        verdicts[visited] = verdict
    return verdict


def _plain(node: HtmlElement, removed: set[HtmlElement]) -> bool:
    """Neither boilerplate (nav, footer, sidebar ...) nor a comment container."""
    if node in removed or node.tag in _BOILERPLATE_TAGS:
        return False
    names = f"{node.get('id') or ''} {node.get('class') or ''} {node.get('role') or ''}"
    return not (names.strip() and _BOILERPLATE.search(names))
