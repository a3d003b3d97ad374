"""Recognise a page whose main text is the cited copy's without extracting it (pure: no I/O).

A full main-text extraction (:func:`archiver.check.extract.extract`, trafilatura on
lxml) costs about 24 ms of CPU on a 100 KB page; most re-checked pages differ
from their cited copy only in chrome that rotates on every request: an ad, a
clock, a token in a script, a "most read" box. This module tells such a page
apart in about a millisecond, with lexbor (selectolax), and says "not sure"
whenever it cannot prove the main text is the same; the caller then extracts.

When a copy's main text is extracted (at capture), :func:`sketch` notes

- the **box**: the smallest element holding every line of that main text, as
  a path from ``<html>`` (tag, id, class and rank among such siblings at each
  level), and a digest of its markup;
- a digest of the **labels**: ``<title>``, ``og:title`` and the first
  ``<h1>`` (what :func:`archiver.check.extract.page_title` and the heading read);
- the visible text **lines** of the whole body (scripts and styles dropped),
  as short digests with their lengths.

:func:`same_main_text` then holds a live page to be the same only when

1. its labels are the same;
2. the element at the box's path exists and its markup is byte-for-byte the
   same: everything the extraction kept came from inside it, unchanged;
3. the box is not the whole ``<body>``, and the visible text that changed
   outside it (lines gone plus lines new) is at most ``MAX_OUTSIDE`` of the
   main text's length and at most ``MAX_OUTSIDE_CHARS`` characters: a small
   change of chrome, not new content that could take the main text's place.

A sketch made since also counts the elements the extraction takes as a
content container wherever they are (``<article>``, ``<main>``...): a page with
one more or one fewer is not the same (a short second ``<article>`` in the
chrome would join the main text).

Any edit of the main text's words changes the box's markup (2), so it is
never taken for noise. A page too big for the extractor's bounds, a box not
found, a parse error: not sure.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from typing import Any

from .. import markup

VERSION = 1
# Changed visible text outside the box, at most: this share of the main text, and this many characters.
MAX_OUTSIDE = 0.5
MAX_OUTSIDE_CHARS = 4000
# Pages longer than this (characters) are never sketched: the extractor cuts them (archiver.check.extract).
MAX_HTML_CHARS = 1_000_000
_INVISIBLE_TAGS = ["script", "style", "noscript", "template"]
_WORDS = re.compile(r"\W+")
_SPACE = re.compile(r"\s+")


def _digest(value: str | bytes) -> str:
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _parse(html: str) -> Any:
    from selectolax.lexbor import LexborHTMLParser  # noqa: PLC0415 - only checks and captures need it

    return LexborHTMLParser(markup.tame(html)[0])  # lexbor, too, takes n² time for a tag of n attributes


def _signature(node: Any) -> tuple[str, str, str]:
    attrs = node.attributes
    return (node.tag or "", attrs.get("id") or "", " ".join((attrs.get("class") or "").split()))


def _element_children(node: Any) -> list[Any]:
    return [child for child in node.iter(include_text=False) if child.tag and not child.tag.startswith("-")]


def _path_to(node: Any) -> list[list[Any]] | None:
    """[tag, id, class, rank] from the root's child down to ``node``."""
    steps: list[list[Any]] = []
    while node.parent is not None:
        parent = node.parent
        mine = _signature(node)
        rank = 0
        for sibling in _element_children(parent):
            if sibling.mem_id == node.mem_id:
                break
            if _signature(sibling) == mine:
                rank += 1
        steps.append([*mine, rank])
        node = parent
    steps.reverse()
    return steps


def _follow(root: Any, path: list[list[Any]]) -> Any:
    node = root
    for tag, id_, cls, rank in path:
        want, seen, found = (tag, id_, cls), 0, None
        for child in _element_children(node):
            if _signature(child) == want:
                if seen == rank:
                    found = child
                    break
                seen += 1
        if found is None:
            return None
        node = found
    return node


def _labels(tree: Any) -> str:
    def text(selector: str) -> str:
        node = tree.css_first(selector)
        return _SPACE.sub(" ", node.text(deep=True)).strip() if node is not None else ""

    og = tree.css_first("meta[property='og:title']")
    og_title = (og.attributes.get("content") or "") if og is not None else ""
    return _digest("\x00".join([text("title"), og_title, text("h1")]))


# Elements the extraction takes as a main-content container wherever they are: one more of
# them outside the box (a second <article>) can bring its text into the main text, however short.
_CONTAINERS = "article, main, [role=main], [itemprop=articleBody]"


def _containers(tree: Any) -> int:
    return len(tree.css(_CONTAINERS))


def _squash(text: str) -> str:
    """Letters and digits only, lower case: to find main-text lines in an element's text."""
    return _WORDS.sub("", unicodedata.normalize("NFC", text).lower())


def _lines(tree: Any) -> list[str]:
    """Visible text lines of the body as 'digest:length', scripts and styles dropped (mutates ``tree``)."""
    body = tree.body
    if body is None:
        return []
    tree.strip_tags(_INVISIBLE_TAGS)
    out = []
    for raw in body.text(deep=True, separator="\n").splitlines():
        line = _SPACE.sub(" ", raw).strip()
        if line:
            out.append(f"{_digest(line)}:{len(line)}")
    return out


def _box(tree: Any, main_text: str) -> Any:
    """The deepest element whose text holds every line of ``main_text`` in order, or None."""
    wanted = [s for s in (_squash(line) for line in main_text.splitlines()) if s]
    if not wanted or tree.body is None:
        return None

    def holds(node: Any) -> bool:
        squashed, at = _squash(node.text(deep=True, separator=" ")), 0
        for piece in wanted:
            at = squashed.find(piece, at)
            if at < 0:
                return False
            at += len(piece)
        return True

    node = tree.body
    if not holds(node):
        return None
    while True:
        inner = next((child for child in _element_children(node) if holds(child)), None)
        if inner is None:
            return node
        node = inner


def sketch(html: str, main_text: str) -> str | None:
    """What :func:`same_main_text` needs of a copy whose main text is ``main_text`` (JSON), or None
    when the page cannot be sketched (too big, no main text, unparsable, the box not found)."""
    if not main_text or len(html) > MAX_HTML_CHARS:
        return None
    try:
        tree = _parse(html)
        box = _box(tree, main_text)
        if box is None or box.tag in ("body", "html"):
            return None
        path = _path_to(box)
        if path is None or _follow(tree.root, path[1:]) is None:
            return None
        value = {"v": VERSION, "labels": _labels(tree), "path": path[1:], "box": _digest(box.html or ""),
                 "main": len(main_text), "containers": _containers(tree)}
        value["lines"] = _lines(tree)
    except Exception:  # noqa: BLE001 - an odd page is never sketched, and checked by extraction
        return None
    return json.dumps(value, separators=(",", ":"))


def same_main_text(html: str, cited: str | None) -> bool:
    """True only when ``html``'s main text is surely the same as that of the copy sketched as ``cited``."""
    if not cited or len(html) > MAX_HTML_CHARS:
        return False
    try:
        was = json.loads(cited)
        if was.get("v") != VERSION:
            return False
        tree = _parse(html)
        if _labels(tree) != was["labels"]:
            return False
        if "containers" in was and _containers(tree) != was["containers"]:
            return False  # a new or lost <article> or <main> outside the box: the extraction may take it
        box = _follow(tree.root, was["path"])
        if box is None or _digest(box.html or "") != was["box"]:
            return False
        now, then = Counter(_lines(tree)), Counter(was["lines"])
    except Exception:  # noqa: BLE001 - not sure: the caller extracts
        return False
    changed = sum(int(key.rpartition(":")[2]) * n for key, n in ((now - then) + (then - now)).items())
    return changed <= min(MAX_OUTSIDE_CHARS, MAX_OUTSIDE * int(was["main"]))
