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

from lxml.html import HtmlElement

from .flat import Occurrence

_ROOT_CLASSES = frozenset(
    {"entry-content", "post-content", "post-body", "story-body", "article-body", "article-content", "entry",
     "storycontent"}
)
_PRIORITY = ("articleBody", "entry-content", "post-content", "story-body", "article-body", "article-content",
             "post-body", "storycontent", "entry", "text", "article", "main")  # fmt: skip
_CHROME_TAGS = frozenset({"nav", "aside", "form", "header", "footer", "menu", "button"})
_CHROME_NAMES = re.compile(
    r"(?:^|[-_ ])(?:nav|navbar|navigation|menu|sidebar|widgets?|footer|header|masthead|breadcrumbs?|share|sharing|"
    r"sharedaddy|social|related|cookie|banner|advert|advertisement|ads?|promo|paywall|subscribe|subscription|"
    r"newsletter|signup|skip-link|pagination|tags?|taglist|tagcloud|categories|cat-links|author|authors|bio|abo|"
    r"byline|meta|signature|votes?|voting|votecell|edit|print|jump|cta|button|buttons|comments?|respond|reply|"
    r"rating|follow|yarpp|teaser|teasers|recommended|recommendations|more-stories|read-more|readmore|wpa|donate|"
    r"donation|sponsor|sponsored|user-info|post-menu|toolbar|actions|labels?|info|navbox|catlinks)(?:$|[-_ ])",
    re.I,
)
_KEPT_CHROME = re.compile(
    r"(?:^|[-_ ])(?:paywall|promo|subscribe|subscription|abo|newsletter|share|sharing|sharedaddy|tags|taglist|tagcloud|"
    r"author-box|author-bio|author-info|related|yarpp)(?:$|[-_ ])",
    re.I,
)
_CHROME_RELS = frozenset({"tag", "author", "category"})
_SITE_CHROME_TAGS = frozenset({"nav", "aside", "menu", "form"})
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


def drop_kept_chrome(kept: set[HtmlElement]) -> set[HtmlElement]:
    """The links the extractor kept, without those in a paywall promo, share bar, tag list or author box."""
    verdict: dict[HtmlElement, bool] = {}  # ancestors are shared: each is looked at once

    def chrome(node: HtmlElement | None) -> bool:
        path = []
        while node is not None and node not in verdict:
            if node.tag in ("article", "main", "body"):
                verdict[node] = False
                break
            path.append(node)
            node = node.getparent()
        found = verdict.get(node, False) if node is not None else False
        for current in reversed(path):
            names = _names(current)
            found = found or bool(names and _KEPT_CHROME.search(names))
            verdict[current] = found
        return found

    return {element for element in kept if not chrome(element.getparent())}


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
    candidates = set(container.iter())  # one pass in C; most of a page's links are elsewhere
    for source_list in lists:
        candidates.update(source_list.iter())
    places = _Places(container, lists, removed)
    found: set[Occurrence] = set()
    for occurrence in occurrences:
        element = occurrence.element
        if element in kept or element not in candidates:
            continue
        gone, in_list, in_container, chrome, site_chrome = places.of(element)
        if gone or not (in_list or in_container):
            continue
        if site_chrome if in_list else chrome:  # a source list is body even in the article's footer
            continue
        if occurrence.is_anchor and _not_a_citation(element):
            continue
        found.add(occurrence)
    return found


class _Places:
    """Where an element sits, memoized along the tree (each ancestor is looked at once per page):
    (in a removed comment part, in a source list, in the container, under chrome inside the
    container, under site chrome)."""

    def __init__(self, container: HtmlElement, lists: set[HtmlElement], removed: set[HtmlElement]) -> None:
        self.container = container
        self.lists = lists
        self.removed = removed
        self.memo: dict[HtmlElement, tuple[bool, bool, bool, bool, bool]] = {}

    def of(self, element: HtmlElement) -> tuple[bool, bool, bool, bool, bool]:
        path: list[HtmlElement] = []
        node: HtmlElement | None = element
        while node is not None and node not in self.memo:
            path.append(node)
            node = node.getparent()
        above = self.memo[node] if node is not None else (False, False, False, False, False)
        for current in reversed(path):
            gone, in_list, in_container, chrome, site = above
            if current is self.container:
                above = (gone or current in self.removed, in_list or current in self.lists, True, False, site)
            else:
                chrome = chrome or (in_container and _is_chrome_node(current))
                above = (gone or current in self.removed, in_list or current in self.lists, in_container, chrome,
                         site or current.tag in _SITE_CHROME_TAGS)  # fmt: skip
            self.memo[current] = above
        return above


def _is_chrome_node(node: HtmlElement) -> bool:
    if node.tag in _CHROME_TAGS or node.get("role") in _CHROME_ROLES:
        return True
    names = _names(node)
    return bool(names and _CHROME_NAMES.search(names))


def _container(root: HtmlElement, kept: set[HtmlElement]) -> HtmlElement | None:
    if kept:  # the container holds kept links: only their ancestors are candidates
        counts: dict[HtmlElement, int] = {}
        verdict: dict[HtmlElement, bool] = {}
        for element in kept:
            for ancestor in element.iterancestors():
                if ancestor not in verdict:
                    verdict[ancestor] = _is_root(ancestor)
                if verdict[ancestor]:
                    counts[ancestor] = counts.get(ancestor, 0) + 1
        if counts:
            most = max(counts.values())
            tied = [r for r, n in counts.items() if n == most]
            return max(tied, key=lambda r: sum(1 for _ in r.iterancestors()))
    roots = [r for r in root.iter("article", "main", "div", "section", "td", "span") if _is_root(r)]
    if not roots:
        return None
    for name in _PRIORITY:
        for candidate in roots:
            names = {candidate.tag, candidate.get("itemprop") or "", *(candidate.get("class") or "").split()}
            if name in names:
                return candidate
    return roots[0]


def _is_root(element: HtmlElement) -> bool:
    if element.tag in ("article", "main") or element.get("role") == "main":
        return True
    if element.get("itemprop") in ("articleBody", "text"):
        return True
    return bool(_ROOT_CLASSES & set((element.get("class") or "").split()))


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
        if heading.tag in ("p", "dt") and not _is_title_line(heading):
            continue  # checked first: cheap, and most paragraphs are prose
        text = " ".join(heading.text_content().split())
        if not text or len(text) > 40 or not _SOURCES_HEADING.match(text):
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
    if len(paragraph) != 1 or (paragraph.text or "").strip():
        return False
    child = paragraph[0]
    return child.tag in ("strong", "b") and not (child.tail or "").strip()


def _not_a_citation(anchor: HtmlElement) -> bool:
    rels = set((anchor.get("rel") or "").lower().split())
    if rels & _CHROME_RELS:
        return True
    href = anchor.get("href") or ""
    if not anchor.text_content().strip():
        return True  # an image link: a lightbox, a gallery's attachment page, a logo
    return bool(_LICENCE.search(href)) and any(a.tag == "figcaption" for a in anchor.iterancestors())
