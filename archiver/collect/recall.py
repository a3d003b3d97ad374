"""Links of the article that the main-text extractor dropped.

trafilatura keeps paragraphs it believes are prose; links in recipe cards,
tables, figure captions, definition lists, text after an embed, and the
whole of a two-line post are often lost. Two rules bring them back:

1. **The article container.** Among the page's content roots
   (``itemprop=articleBody``, ``.entry-content``, ``.story-body``,
   ``itemprop=text``, ``<article>``, ``<main>`` ...), the one holding most of
   the links the extractor kept (the deepest on a tie; the first by priority
   when it kept none) is the article. Every link inside it is body, unless
   an element between the link and the container is chrome: ``nav``,
   ``aside``, ``form``, ``header``/``footer``, or a class or id naming
   navigation, share and follow bars, tags and categories, author boxes and
   bylines, related posts and teasers, paywall, subscription and newsletter
   promos, ads, buttons, votes, edit/print/jump links, comments. Links of
   ``rel="tag"``/``"author"``/``"category"``, links without text (an image:
   a lightbox, a gallery's attachment page) and licence links in captions
   are not recovered either.
2. **Source lists.** A list of sources at the end of an article (under a
   heading "Sources", "References", "Further reading", "Bibliography",
   "Notes", "Quellen", "Einzelnachweise", "Literatur" ..., or an element of
   role ``doc-endnotes``/``doc-bibliography`` or class ``footnotes``,
   ``references``, ``reflist``, ``bibliography``) is always body, wherever
   the extractor left it, when it is part of the article: inside the
   ``<article>`` or ``<main>`` holding the container (else the container's
   parent), outside navigation, sidebars and comment sections.

The same chrome test also takes back links the extractor kept inside a
paywall promo, share bar, tag list or author box.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree
from lxml.html import HtmlElement

from .flat import Occurrence

_CONTENT_ROOTS = etree.XPath(
    "//*[@itemprop='articleBody' or @itemprop='text' or self::article or self::main or @role='main'"
    " or contains(concat(' ', normalize-space(@class), ' '), ' entry-content ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' post-content ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' post-body ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' story-body ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' article-body ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' article-content ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' entry ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' storycontent ')]"
)
_PRIORITY = ("articleBody", "entry-content", "post-content", "story-body", "article-body", "article-content",
             "post-body", "storycontent", "entry", "text", "article", "main")  # fmt: skip
_CHROME_TAGS = frozenset({"nav", "aside", "form", "header", "footer", "menu", "button"})
_CHROME_NAMES = re.compile(
    r"(?:^|[-_ ])(?:nav|navbar|navigation|menu|sidebar|widgets?|footer|header|masthead|breadcrumbs?|share|sharing|"
    r"sharedaddy|social|related|cookie|banner|advert|advertisement|ads?|promo|paywall|subscribe|subscription|"
    r"newsletter|signup|skip-link|pagination|tags?|taglist|tagcloud|categories|cat-links|author|authors|bio|"
    r"byline|meta|signature|votes?|voting|votecell|edit|print|jump|cta|button|buttons|comments?|respond|reply|"
    r"rating|follow|yarpp|teaser|teasers|recommended|recommendations|more-stories|read-more|readmore|wpa|donate|"
    r"donation|sponsor|sponsored|user-info|post-menu|toolbar|actions|labels?|info|navbox|catlinks)(?:$|[-_ ])",
    re.I,
)
_KEPT_CHROME = re.compile(
    r"(?:^|[-_ ])(?:paywall|promo|subscribe|subscription|newsletter|share|sharing|sharedaddy|tags|taglist|tagcloud|"
    r"author-box|author-bio|author-info|related|yarpp)(?:$|[-_ ])",
    re.I,
)
_CHROME_RELS = frozenset({"tag", "author", "category"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_LICENCE = re.compile(r"creativecommons\.org/(?:licenses|publicdomain)|gnu\.org/licenses", re.I)
_SOURCES_HEADING = re.compile(
    r"^\W*(?:sources?|references?|further reading|bibliography|works cited|citations|notes|footnotes|endnotes|"
    r"literature|reading list|quellen(?:angaben)?|einzelnachweise|literatur|anmerkungen|fu(?:ß|ss)noten|weblinks|"
    r"nachweise|belege|références|sources et références|bibliographie|fuentes|referencias|bibliografía|fonti|"
    r"bibliografia|note)\W*$",
    re.I,
)
_SOURCES_NAMES = re.compile(
    r"(?:^|[-_ ])(?:footnotes?|endnotes?|references?|reflist|refs|bibliography|citations|sources|fn-list)(?:$|[-_ ])",
    re.I,
)
_SOURCES_ROLES = frozenset({"doc-endnotes", "doc-bibliography", "doc-footnotes"})
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def _names(node: HtmlElement) -> str:
    return f"{node.get('id') or ''} {node.get('class') or ''}".strip()


def is_chrome_inside(element: HtmlElement, container: HtmlElement | None) -> bool:
    """An element between ``element`` and ``container`` (exclusive) is chrome."""
    node: HtmlElement | None = element
    while node is not None and node is not container:
        if node.tag in _CHROME_TAGS or node.get("role") in _CHROME_ROLES:
            return True
        names = _names(node)
        if names and _CHROME_NAMES.search(names):
            return True
        node = node.getparent()
    return False


def dropped_as_chrome(element: HtmlElement) -> bool:
    """A link the extractor kept that sits in a paywall promo, share bar, tag list or author box."""
    for node in element.iterancestors():
        names = _names(node)
        if names and _KEPT_CHROME.search(names):
            return True
        if node.tag in ("article", "main", "body"):
            return False
    return False


def recover(
    root: HtmlElement, occurrences: Iterable[Occurrence], kept: set[HtmlElement], removed: set[HtmlElement]
) -> set[Occurrence]:
    """Occurrences to add to the body: in the article container or in a source list (module docstring)."""
    occurrences = list(occurrences)
    container = _container(root, kept)
    if container is None:
        return set()
    scope = _scope(container)
    lists = _source_lists(scope)
    found: set[Occurrence] = set()
    for occurrence in occurrences:
        element = occurrence.element
        if element in kept or _inside(element, removed):
            continue
        in_list = _inside(element, lists)
        in_container = _within(element, container)
        if not (in_list or in_container):
            continue
        if in_list and not in_container:
            if _in_site_chrome(element):
                continue
        elif is_chrome_inside(element, container):
            continue
        if occurrence.is_anchor and _not_a_citation(element):
            continue
        found.add(occurrence)
    return found


def _container(root: HtmlElement, kept: set[HtmlElement]) -> HtmlElement | None:
    roots = [r for r in _CONTENT_ROOTS(root) if r.tag not in ("html", "body")]
    if not roots:
        return None
    if kept:
        counts = dict.fromkeys(roots, 0)
        for element in kept:
            for ancestor in element.iterancestors():
                if ancestor in counts:
                    counts[ancestor] += 1
        best = max(roots, key=lambda r: (counts[r], sum(1 for _ in r.iterancestors())))
        if counts[best]:
            return best
    for name in _PRIORITY:
        for candidate in roots:
            names = {candidate.tag, candidate.get("itemprop") or "", *(candidate.get("class") or "").split()}
            if name in names:
                return candidate
    return roots[0]


def _scope(container: HtmlElement) -> HtmlElement:
    """Where the article's source lists may be: its <article> or <main>, else the container's parent."""
    for node in (container, *container.iterancestors()):
        if node.tag in ("article", "main") or node.get("role") == "main" or node.get("itemprop") == "articleBody":
            return node
        if node.tag in ("body", "html"):
            break
    parent = container.getparent()
    return parent if parent is not None and parent.tag not in ("body", "html") else container


def _source_lists(root: HtmlElement) -> set[HtmlElement]:
    """Elements holding a source list: under a sources heading, or marked as one."""
    found: set[HtmlElement] = set()
    for element in root.iter("section", "div", "ol", "ul", "aside", "footer", "dl"):
        if element.get("role") in _SOURCES_ROLES or _SOURCES_NAMES.search(_names(element) or "-"):
            found.add(element)
    for heading in root.iter(*_HEADINGS, "p", "dt"):
        text = " ".join(heading.text_content().split())
        if not text or len(text) > 40 or not _SOURCES_HEADING.match(text):
            continue
        if heading.tag in ("p", "dt") and not _is_title_line(heading):
            continue
        level = heading.tag if heading.tag in _HEADINGS else "h6"
        for sibling in heading.itersiblings():
            if not isinstance(sibling.tag, str):
                continue
            if sibling.tag in _HEADINGS and sibling.tag <= level:
                break
            found.add(sibling)
    return found


def _is_title_line(paragraph: HtmlElement) -> bool:
    """A paragraph that is nothing but a bold line ("<p><strong>Quellen:</strong></p>")."""
    children = [c for c in paragraph if isinstance(c.tag, str)]
    return len(children) == 1 and children[0].tag in ("strong", "b") and not (paragraph.text or "").strip()


def _in_site_chrome(element: HtmlElement) -> bool:
    return any(a.tag in ("nav", "aside", "menu", "form") for a in element.iterancestors())


def _not_a_citation(anchor: HtmlElement) -> bool:
    rels = set((anchor.get("rel") or "").lower().split())
    if rels & _CHROME_RELS:
        return True
    href = anchor.get("href") or ""
    if not anchor.text_content().strip():
        return True  # an image link: a lightbox, a gallery's attachment page, a logo
    return bool(_LICENCE.search(href)) and any(a.tag == "figcaption" for a in anchor.iterancestors())


def _within(element: HtmlElement, container: HtmlElement) -> bool:
    node: HtmlElement | None = element
    while node is not None:
        if node is container:
            return True
        node = node.getparent()
    return False


def _inside(element: HtmlElement, elements: set[HtmlElement]) -> bool:
    if not elements:
        return False
    node: HtmlElement | None = element
    while node is not None:
        if node in elements:
            return True
        node = node.getparent()
    return False
