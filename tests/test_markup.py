"""Markup the parser reads in bounded time: attribute floods cut, huge trees cut after the budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml.html import document_fromstring

from archiver import markup
from archiver.check.extract import extract

PAGES = Path(__file__).parent / "data" / "corpus" / "pages"

# Ways of writing 10,000 attributes into one start tag, as an HTML5 tokenizer (libxml2 2.14) reads them.
FLOODS = {
    "unquoted": " ".join(f"a{i}=x" for i in range(10_000)),
    "quoted, with spaces": " ".join(f'a{i}="x y"' for i in range(10_000)),
    "no separator after a quote": "".join(f'a{i}=""' for i in range(10_000)),
    "'>' inside quotes": " ".join(f'a{i}=">"' for i in range(10_000)),
    "names starting with '<'": " ".join(f"<a{i}" for i in range(10_000)),
    "no values": " ".join(f"a{i}" for i in range(10_000)),
    "slashes": "/".join(f"a{i}" for i in range(10_000)),
}


@pytest.mark.parametrize("attributes", FLOODS.values(), ids=FLOODS.keys())
def test_a_start_tag_is_cut_to_its_first_attributes(attributes: str) -> None:
    html = f"<html><body><p>before</p><div id=keep {attributes}>inside</div><p>after</p></body></html>"
    tamed, cut = markup.tame(html)
    assert cut == 1
    div = document_fromstring(tamed).find(".//div")
    assert div is not None and div.get("id") == "keep"
    assert len(div.attrib) == markup.MAX_ATTRIBUTES
    assert document_fromstring(tamed).text_content() == "beforeinsideafter"


def test_real_pages_are_left_alone() -> None:
    for path in sorted(PAGES.glob("*.html")):
        html = path.read_text(encoding="utf-8", errors="replace")
        assert markup.tame(html) == (html, 0), path.name
        assert not markup.cut(document_fromstring(html)), path.name


def test_a_tag_with_exactly_the_maximum_is_kept_whole() -> None:
    attributes = " ".join(f"a{i}=x" for i in range(markup.MAX_ATTRIBUTES))
    html = f"<div {attributes}>x</div>"
    assert markup.tame(html) == (html, 0)


def test_a_tree_is_cut_after_its_budget_of_text_elements() -> None:
    count = markup.MAX_TEXT_ELEMENTS + 500
    root = document_fromstring("<html><body><div>" + "".join(f"<p>line {i}</p>" for i in range(count))
                               + "</div>tail after<p>last</p></body></html>")
    assert markup.cut(root)
    texts = [p.text for p in root.iter("p")]
    assert texts[0] == "line 0" and len(texts) == markup.MAX_TEXT_ELEMENTS - 1  # <div>'s tail counted too
    assert "tail after" not in root.text_content() and "last" not in root.text_content()


@pytest.mark.slow
def test_extract_marks_a_page_cut_at_the_budget_as_truncated() -> None:
    paragraphs = "".join(f"<p>Paragraph number {i} of a page far too long.</p>" for i in range(12_000))
    extracted = extract(f"<html><body><article>{paragraphs}</article></body></html>")
    assert extracted.truncated
    assert "Paragraph number 0 " in extracted.text and "Paragraph number 11999 " not in extracted.text
