"""Reader comments in an HTML page: where each one is, who wrote it, when.

A comment *entry* is an element that is

- ``id="comment-123"`` / ``comment_123`` / ``li-comment-123`` (WordPress and
  most blog engines), or
- ``id="kommentar-123"`` or of class ``kommentar`` (German news sites),
- a Blogger classic ``<dt class="comment-author">``, whose ``<dd>`` siblings
  (text, footer) belong to it,
- of class ``comment``, ``c-comment``, ``comment-item``, ``single-comment``,
  ``user-comment``, ``reader-comment``,
  ``serendipity_comment``, ``topic-post`` / ``crawler-post`` (Discourse),
  ``li.post`` in a Disqus ``post-list``, or marked up as a schema.org Comment
  (``itemprop="comment"`` or ``itemtype=".../Comment"``),

and is a block element outside ``pre``/``code`` (syntax highlighters also use
the class ``comment``). A candidate that merely wraps another one with the
same number or the same text is the same comment. Entries of class
``pingback`` or ``trackback`` are comments of that kind: their link is the
page that cites the article. A forum topic's opening post (Discourse
``post_1``) is the article, not a comment.

Question-and-answer pages (Stack Exchange, and any schema.org ``QAPage``):
the question is the article; each answer (``div.answer[data-answerid]``, or
inside a ``QAPage`` an ``itemtype=".../Answer"``, ``itemprop="acceptedAnswer"``
or ``"suggestedAnswer"``; an ``FAQPage``'s answers are the article's own text)
is an entry of kind ``answer`` labelled ``answer N``,
and the comments under it are labelled ``comment on answer N`` (those under
the question: ``comment on the question``).

Entries are numbered 1, 2, 3 ... in document order (thread order), so a reply
nested under comment 3 is comment 4 and the next top-level comment is 5. Each
knows the number of the entry it is nested in (``parent``) and its permalink
(its ``#comment-N`` link, else its own ``id`` as a fragment).

Inside an entry, the *nearest* ancestor of a link that says what it is decides
whether the link is the comment's own text or the entry's chrome:
``comment-content``, ``comment-text``, ``comment-body``, ``cooked``,
``post-message`` ... are text; ``comment-author``, ``vcard``, ``comment-meta``,
``reply``, ``avatar``, ``comment-likes``, ``header``/``footer`` ... are chrome.
Links in chrome are not citations: the commenter's name linking to their
homepage is self-promotion, not a source, and is never reported (neither is
an ``<a class="url">``, the hCard author link, wherever it sits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree
from lxml.html import HtmlElement

from .dates import find_date
from .urlscan import collapse_ws

_ENTRY_ID = re.compile(r"^(?:li-)?(?:comment|kommentar)[-_]?\d+$", re.I)
_ENTRY_CLASSES = frozenset(
    {
        "comment",
        "c-comment",
        "comment-item",
        "commentlist-item",
        "comment-entry",
        "single-comment",
        "serendipity_comment",
        "topic-post",
        "crawler-post",
        "js-comment",
        "user-comment",
        "usercomment",
        "reader-comment",
        "comment_item",
        "commentitem",
        "comment-single",
        "kommentar",
        "leserkommentar",
    }
)
_SKIP_CLASSES = frozenset({"pingback", "trackback"})  # kinds of their own, not reader comments
_ANSWER_ID = re.compile(r"^answer-\d+$")
_ANSWER_PROPS = frozenset({"acceptedAnswer", "suggestedAnswer"})
PINGBACK, TRACKBACK, ANSWER, COMMENT_KIND = "pingback", "trackback", "answer", "comment"
# Cheap pre-selection in C; the exact tests are made in Python on the few hits.
_CANDIDATE_XPATH = etree.XPath(
    "//*[contains(@id, 'omment') or contains(@class, 'omment') or contains(@class, 'post')"
    " or contains(@class, 'ingback') or contains(@class, 'rackback') or @itemprop='comment'"
    " or contains(@itemtype, 'Comment') or contains(@class, 'answer') or contains(@itemtype, 'Answer')"
    " or contains(@itemprop, 'Answer')]"
)
_SECTION_XPATH = etree.XPath(
    "//*[contains(@id, 'omment') or contains(@class, 'omment') or contains(@id, 'espond')"
    " or contains(@class, 'espond') or contains(@id, 'disqus') or contains(@class, 'post-list')"
    " or contains(@id, 'post-list')]"
)
_BLOCK_TAGS = frozenset({"li", "div", "article", "section", "dd", "dt", "tr", "td", "blockquote", "aside", "dl"})
_CODE_TAGS = frozenset({"pre", "code", "script", "style", "template", "textarea"})
_SECTION_NAMES = re.compile(
    r"^(?:comments|commentlist|comment-list|comments-list|commentslist|comments-area|comment-area|"
    r"comments-section|comment-section|commentsection|comments-wrapper|comments-container|comments-holder|"
    r"comments-main|comments-template|respond|comment-respond|disqus_thread|post-list|"
    r"serendipity_comments|serendipity_commentlist|c-comments|kommentare|comments-block)$",
    re.I,
)
_CHROME = re.compile(
    r"author|meta|vcard|avatar|reply|respond|footer|header|byline|date|time|permalink|like|vote|rating|"
    r"actions|toolbar|share|social|edit|flag|report|badge|signature|names|creator|controls|menu|post-info|says|mention|"
    r"autor|datum|aktion|antwort|melden",
    re.I,
)
_CONTENT = re.compile(r"content|text|body|message|cooked|markdown|prose|entry|post$", re.I)
_AUTHOR_CLASS = re.compile(r"author|autor|username|user-name|comment-user|commenter|poster|creator|byline|names", re.I)
_DATE_CLASS = re.compile(r"date|datum|time|published|meta", re.I)
_AUTHOR_NOISE = re.compile(
    r"^(?:comment|kommentar|posted|geschrieben)\s+(?:by|von)\s+|"
    r"\s+(?:says|said|wrote|sagt|schreibt|schrieb|meint)\s*[:.\u2026]*\s*$",
    re.I,
)


@dataclass
class HtmlComment:
    """One reader comment: its entry element, number, author and date."""

    element: HtmlElement
    number: int
    author: str | None = None
    date: str | None = None
    kind: str = COMMENT_KIND  # comment, pingback, trackback, answer
    parent: int | None = None  # number of the entry this one is nested in
    permalink: str | None = None  # as written in the page (resolve against the base URL)
    label: str | None = None  # "answer 2", "comment on answer 2", "comment on the question"


@dataclass
class CommentLayout:
    """The comment entries of a page and what to cut out to leave the body."""

    comments: list[HtmlComment] = field(default_factory=list)
    skipped: list[HtmlElement] = field(default_factory=list)  # more to cut from the body: an entry's <dd>s
    notes: list[str] = field(default_factory=list)  # comments the page names but does not hold
    sections: list[HtmlElement] = field(default_factory=list)  # containers of the entries
    _by_element: dict[HtmlElement, HtmlComment | None] = field(default_factory=dict)

    def owner(self, element: HtmlElement) -> tuple[bool, HtmlComment | None]:
        """(inside an entry?, the comment) for an element; comment None = skipped entry."""
        node: HtmlElement | None = element
        while node is not None:
            if node in self._by_element:
                return True, self._by_element[node]
            node = node.getparent()
        return False, None

    def add(self, element: HtmlElement, comment: HtmlComment | None) -> None:
        """Register an entry: a numbered comment, or None for a skipped pingback."""
        self._by_element[element] = comment
        if comment is None:
            self.skipped.append(element)
        else:
            self.comments.append(comment)

    def attach(self, element: HtmlElement, comment: HtmlComment) -> None:
        """Another element of an entry that is not inside it (the ``<dd>``s after a ``<dt>``)."""
        self._by_element[element] = comment
        self.skipped.append(element)  # cut from the body with the entry

    def removable(self) -> list[HtmlElement]:
        """Elements to drop from the page so that only the body remains."""
        entries = [c.element for c in self.comments] + self.skipped
        return self.sections + entries


def find_comments(root: HtmlElement) -> CommentLayout:
    """Locate, number and describe the reader comments of a parsed page."""
    candidates = [el for el in _CANDIDATE_XPATH(root) if _is_candidate(el)]
    entries = _merge_wrappers(candidates)
    if entries and _is_opening_post(entries[0]):
        entries = entries[1:]  # a forum topic's first post is the article itself
    layout = CommentLayout()
    entry_set = set(entries)
    numbers: dict[HtmlElement, HtmlComment] = {}
    answers = 0
    language = _language(root)
    kinds = [_kind(e) for e in entries]
    qa_page = ANSWER in kinds
    for element, kind in zip(entries, kinds, strict=True):
        own = list(own_elements(element, entry_set))  # read once: author, date and permalink look in it
        parts = _definition_parts(element)
        for part in parts:
            own += [part, *own_elements(part, entry_set)]
        author = _clean_author(_name_text(element)) if parts or element.tag == "dt" else _author(own)
        comment = HtmlComment(element, len(layout.comments) + 1, author, _date(own, language))
        comment.kind = kind
        comment.permalink = _permalink(element, own)
        outer = next((numbers[a] for a in element.iterancestors() if a in numbers), None)
        comment.parent = outer.number if outer else None
        if comment.kind == ANSWER:
            answers += 1
            comment.label = f"answer {answers}"
        elif qa_page:
            on = outer.label if outer and outer.kind == ANSWER else "the question"
            comment.label = f"comment on {on}"
        numbers[element] = comment
        layout.add(element, comment)
        for part in parts:
            layout.attach(part, comment)
    layout.sections = _sections(entries, root)
    if qa_page:
        layout.notes = _unshown_comments(root, numbers)
    return layout


def _unshown_comments(root: HtmlElement, numbers: dict[HtmlElement, HtmlComment]) -> list[str]:
    """Stack Exchange shows five comments a post; the rest come by script ("show 3 more comments")."""
    notes = []
    for listing in root.xpath("//*[@data-remaining-comments-count]"):
        remaining = (listing.get("data-remaining-comments-count") or "").strip()
        if not remaining.isdigit() or int(remaining) == 0:
            continue
        owner = next((numbers[a] for a in listing.iterancestors() if a in numbers), None)
        where = owner.label if owner is not None and owner.label else "the question"
        notes.append(f"{remaining} more comment(s) on {where} are loaded by script and were not read")
    return notes


def _definition_parts(entry: HtmlElement) -> list[HtmlElement]:
    """A ``<dt>`` entry's text and footer: the ``<dd>`` siblings up to the next ``<dt>`` (Blogger classic)."""
    if entry.tag != "dt":
        return []
    parts = []
    for sibling in entry.itersiblings():
        if sibling.tag == "dt":
            break
        if sibling.tag == "dd":
            parts.append(sibling)
    return parts


def _kind(element: HtmlElement) -> str:
    classes = _tokens(element)
    kinds = classes & _SKIP_CLASSES
    if kinds:
        return PINGBACK if PINGBACK in kinds else TRACKBACK
    return ANSWER if _is_answer(element, classes) else COMMENT_KIND


def _is_answer(element: HtmlElement, classes: set[str]) -> bool:
    """An answer on a Q&A page: Stack Exchange's ``div.answer#answer-N[data-answerid]``, or a
    schema.org ``Answer`` inside a ``QAPage`` (an ``FAQPage``'s answers are the article itself)."""
    if "answer" in classes and element.get("data-answerid") and _ANSWER_ID.match(element.get("id") or ""):
        return True
    schema = element.get("itemprop") in _ANSWER_PROPS or (element.get("itemtype") or "").rstrip("/").endswith(
        "schema.org/Answer"
    )
    return schema and any("QAPage" in (a.get("itemtype") or "") for a in element.iterancestors())


def _permalink(entry: HtmlElement, own: list[HtmlElement]) -> str | None:
    """The entry's own link (``#comment-N`` or its ``itemprop=url``), else its id as a fragment."""
    own_id = entry.get("id") or ""
    digits = re.search(r"\d+$", own_id)
    for element in own:
        if element.tag != "a":
            continue
        href = (element.get("href") or "").strip()
        if element.get("itemprop") == "url" and href and not href.startswith("#"):
            return href
        if "#comment" in href and "replytocom" not in href and (not digits or digits.group(0) in href):
            return href
        if own_id and href.endswith(f"#{own_id}"):
            return href
    return f"#{own_id}" if own_id else None


def is_chrome(element: HtmlElement, entry: HtmlElement) -> bool:
    """True when a link (or text) inside ``entry`` is its chrome, not its text."""
    if element.tag == "a" and (
        {"url", "comment-author-link"} & _tokens(element) or "author" in (element.get("rel") or "").split()
    ):
        return True
    node: HtmlElement | None = element
    while node is not None and node is not entry:
        if node.tag in ("header", "footer"):
            return True
        names = [name for name in (*_tokens(node), node.get("id") or "", node.get("itemprop") or "") if name]
        # a name that says "text" and nothing else wins over a helper class on the same
        # element ("comment-body js-comment-edit-hide" is the text, not an edit button)
        if any(_CONTENT.search(name) and not _CHROME.search(name) for name in names):
            return False
        if any(_CHROME.search(name) for name in names):
            return True
        node = node.getparent()
    return node is not None and entry.tag == "dt"  # a <dt> entry is the author line; its text is in the <dd>s


def _tokens(element: HtmlElement) -> set[str]:
    return set((element.get("class") or "").lower().split())


def _is_candidate(element: HtmlElement) -> bool:
    if element.tag not in _BLOCK_TAGS:
        return False
    classes = _tokens(element)
    marked = (
        bool(_ENTRY_ID.match(element.get("id") or ""))
        or bool(classes & _ENTRY_CLASSES)
        or bool(classes & _SKIP_CLASSES)
        or element.get("itemprop") == "comment"
        or (element.get("itemtype") or "").rstrip("/").endswith("schema.org/Comment")
        or ("post" in classes and _in_disqus_list(element))
        or (element.tag == "dt" and "comment-author" in classes)  # Blogger classic: dt, then dd siblings
        or _is_answer(element, classes)
    )
    return marked and not any(a.tag in _CODE_TAGS for a in element.iterancestors())


def _is_opening_post(element: HtmlElement) -> bool:
    """Discourse renders the topic's opening post like a reply: ``post_1``."""
    forum = {"topic-post", "crawler-post"} & _tokens(element)
    marker = element.get("id") or ""
    if not marker:
        inner = element.find(".//*[@id]")
        marker = inner.get("id") if inner is not None else ""
    return bool(forum) and marker in ("post_1", "post-1")


def _in_disqus_list(element: HtmlElement) -> bool:
    return any(
        "post-list" in _tokens(a) or a.get("id") in ("post-list", "disqus_thread") for a in element.iterancestors()
    )


def _merge_wrappers(candidates: list[HtmlElement]) -> list[HtmlElement]:
    """Drop candidates that are the same comment as an enclosing candidate."""
    chosen: list[HtmlElement] = []
    chosen_set: set[HtmlElement] = set()
    for element in candidates:
        outer = next((a for a in element.iterancestors() if a in chosen_set), None)
        if outer is not None and _same_comment(outer, element):
            continue
        chosen.append(element)
        chosen_set.add(element)
    return chosen


def _same_comment(outer: HtmlElement, inner: HtmlElement) -> bool:
    number = re.compile(r"\d+$")
    a, b = number.search(outer.get("id") or ""), number.search(inner.get("id") or "")
    if a and b:
        return a.group(0) == b.group(0)
    return collapse_ws(outer.text_content()) == collapse_ws(inner.text_content())


def own_elements(entry: HtmlElement, entries: set[HtmlElement]) -> Iterator[HtmlElement]:
    """The descendants of ``entry`` that do not belong to a nested entry."""
    stack = list(reversed(entry))
    while stack:
        node = stack.pop()
        if not isinstance(node.tag, str) or node in entries:
            continue
        yield node
        stack.extend(reversed(node))


def _author(own: list[HtmlElement]) -> str | None:
    picks: tuple[Callable[[HtmlElement], bool], ...] = (
        lambda e: "fn" in _tokens(e) or e.get("itemprop") in ("author", "creator"),
        lambda e: e.tag == "a" and "url" in _tokens(e),
        lambda e: bool(_AUTHOR_CLASS.search(" ".join(_tokens(e)))),
        lambda e: e.tag == "cite",
    )
    for pick in picks:
        for element in own:
            if pick(element):
                name = _clean_author(_name_text(element))
                if name:
                    return name
    return None


def _name_text(element: HtmlElement) -> str:
    named = element.find(".//*[@itemprop='name']")
    if named is not None:
        return _first_line(named)
    for tag in ("strong", "b", "cite", "a"):
        for child in element.iterfind(f".//{tag}"):
            if tag == "a" and _is_button(child):
                continue  # a permalink or reply button, not the name
            if child.text_content().strip():
                return _first_line(child)
    return _first_line(element)


def _first_line(element: HtmlElement) -> str:
    """The element's text up to its first <br> (badges like "Author" follow it)."""
    parts: list[str] = [element.text or ""]
    for child in element.iterdescendants():
        if child.tag == "br":
            if "".join(parts).strip():
                break
        elif isinstance(child.tag, str):
            parts.append(child.text or "")
        parts.append(child.tail or "")
    return " ".join(parts)


def _is_button(anchor: HtmlElement) -> bool:
    href = anchor.get("href") or "#"
    return href.startswith(("#", "javascript:")) or "replytocom" in href or "reply" in (anchor.get("class") or "")


def _clean_author(text: str) -> str | None:
    text = collapse_ws(text)
    for separator in (" \u2014 ", " \u2013 ", " | ", " @ "):
        text = text.split(separator, 1)[0]
    text = _AUTHOR_NOISE.sub("", _AUTHOR_NOISE.sub("", text)).strip(" :,")
    return text if text and len(text) <= 100 else None


def _language(root: HtmlElement) -> str | None:
    """The page's language: ``<html lang>``, else ``og:locale``."""
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not lang:
        locale = root.xpath("//meta[@property='og:locale']/@content")
        lang = str(locale[0]) if locale else None
    return lang.strip() if lang else None


def _date(own: list[HtmlElement], language: str | None = None) -> str | None:
    for element in own:
        value = element.get("datetime") if element.tag == "time" else None
        if element.get("itemprop") in ("datePublished", "dateCreated"):
            value = element.get("datetime") or element.get("content")
        if value:
            return str(value).strip()
    found_text: str | None = None
    for element in own:
        names = " ".join(_tokens(element)) + " " + (element.get("id") or "")
        if _DATE_CLASS.search(names) or element.tag == "cite":
            for text in (element.get("title") or "", element.text_content()):
                iso = find_date(text, language)
                if iso:
                    return iso
            shown = collapse_ws(element.text_content())
            if found_text is None and len(shown) <= 60 and any(c.isdigit() for c in shown):
                found_text = shown
    for element in own:
        if element.tag == "a" and "#comment" in (element.get("href") or ""):
            iso = find_date(element.text_content(), language)
            if iso:
                return iso
    return found_text


def _sections(entries: list[HtmlElement], root: HtmlElement) -> list[HtmlElement]:
    """Comment-section containers (lists, areas, forms) to cut from the body."""
    found: list[HtmlElement] = []
    for element in _SECTION_XPATH(root):
        if element.tag in ("html", "body", "main"):
            continue
        names = [element.get("id") or ""] + sorted(_tokens(element))
        if any(_SECTION_NAMES.match(name) for name in names if name) and not _holds_article(element, entries):
            found.append(element)
    return found


def _holds_article(element: HtmlElement, entries: list[HtmlElement]) -> bool:
    """Guard: never cut a container that also holds the article's headline."""
    return element.find(".//h1") is not None or element.find(".//article") is not None and not entries
