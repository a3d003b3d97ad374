"""The pre-filter that recognises a page whose main text is the cited copy's without extracting it
(archiver.check.prefilter), and a check that never extracts a cited copy (archiver.check.pages)."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.check import prefilter
from archiver.archive import Archive
from archiver.collect.normalize import normalize_url
from archiver.config import Config
from archiver.check.extract import extract

from .server import TestServer, respond
from .test_check import ARTICLE, check, snap, world  # noqa: F401 - world: the fixture
from .test_extract import corpus_html, edited_variant

WORD = st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=9)
PARAGRAPH = st.lists(WORD, min_size=25, max_size=45).map(" ".join)
ARTICLE_PARAGRAPHS = st.lists(PARAGRAPH, min_size=4, max_size=8)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def noise(seed: int) -> tuple[str, str]:
    """Chrome that rotates on every request, outside the article: an ad, a clock, a token."""
    rng = random.Random(seed)
    ad = " ".join(rng.choice(["deal", "offer", "shoes", "cars", "loans", "trips"]) for _ in range(3))
    top = (f'<div class="ad-banner">Advertisement {ad}</div>'
           f'<div class="clock">Updated {rng.randrange(24):02}:{rng.randrange(60):02}</div>')
    bottom = f'<script>window.csrf = "{rng.getrandbits(64):016x}";</script>'
    return top, bottom


def page(paragraphs: list[str], seed: int) -> str:
    top, bottom = noise(seed)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>A story</title></head><body><header><nav><a href='/'>Home</a> "
            f"<a href='/about'>About us</a></nav></header>{top}<main><article><h1>A story</h1>{body}"
            f"</article></main>{bottom}<footer><p>Contact the newsroom</p></footer></body></html>")


def sketched(html: str) -> str:
    value = prefilter.sketch(html, extract(html).text)
    assert value is not None
    return value


@SETTINGS
@given(ARTICLE_PARAGRAPHS, st.integers(0, 1000), st.integers(0, 1000))
def test_noise_outside_the_main_text_is_recognised(paragraphs: list[str], cited_seed: int, live_seed: int) -> None:
    cited, live = page(paragraphs, cited_seed), page(paragraphs, live_seed)
    assert prefilter.same_main_text(live, sketched(cited))
    assert extract(live).text == extract(cited).text  # what the pre-filter spares is truly the same


@SETTINGS
@given(ARTICLE_PARAGRAPHS, st.integers(0, 1000), st.data())
def test_any_change_to_the_main_texts_words_is_never_the_same(paragraphs: list[str], seed: int,
                                                             data: st.DataObject) -> None:
    cited = page(paragraphs, seed)
    which = data.draw(st.integers(0, len(paragraphs) - 1))
    words = paragraphs[which].split(" ")
    at = data.draw(st.integers(0, len(words) - 1))
    how = data.draw(st.sampled_from(["replace", "delete", "insert", "case", "punctuation"]))
    if how == "replace":
        new = data.draw(WORD.filter(lambda w: w != words[at]))
        words[at] = new
    elif how == "delete":
        del words[at]
    elif how == "insert":
        words.insert(at, data.draw(WORD))
    elif how == "case":
        words[at] = words[at].capitalize()
    else:
        words[at] += ","
    changed = [*paragraphs[:which], " ".join(words), *paragraphs[which + 1:]]
    live = page(changed, data.draw(st.integers(0, 1000)))
    assert extract(live).text != extract(cited).text
    assert not prefilter.same_main_text(live, sketched(cited))


@SETTINGS
@given(ARTICLE_PARAGRAPHS, st.data())
def test_whatever_the_change_a_page_taken_as_the_same_extracts_the_same(paragraphs: list[str],
                                                                       data: st.DataObject) -> None:
    """Soundness: any markup edit anywhere in the page (article, chrome, title, noise); when the
    pre-filter says "same", a full extraction agrees."""
    cited = page(paragraphs, 0)
    at = data.draw(st.integers(0, len(cited) - 1))
    cut = data.draw(st.integers(0, 40))
    insert = data.draw(st.sampled_from(["", "x", " word ", "<p>new paragraph of text</p>", "</div>", "<b>",
                                        "<article><p>another article here</p></article>", "<!-- c -->"]))
    live = cited[:at] + insert + cited[at + cut:]
    if prefilter.same_main_text(live, sketched(cited)):
        assert extract(live).text == extract(cited).text
        assert extract(live).title == extract(cited).title


def test_a_short_second_article_outside_the_box_is_never_taken_for_noise() -> None:
    # found by the property above: the extraction takes a new <article> in, however short
    cited = page(["word " * 30 + "end"] * 4, 0)
    for live in (cited.replace("<body>", "<body><article><p>another article here</p></article>"),
                 "<article><p>another article here</p></article>" + cited):
        assert extract(live).text != extract(cited).text
        assert not prefilter.same_main_text(live, sketched(cited))


def test_a_page_without_a_main_text_box_is_never_sketched() -> None:
    # the article's text is the whole body: any change outside it would be inside it
    html = "<html><body>" + " ".join(["words of text"] * 80) + "</body></html>"
    assert prefilter.sketch(html, extract(html).text) is None
    assert not prefilter.same_main_text(html, None)


def test_a_new_title_or_heading_is_never_the_same() -> None:
    paragraphs = [" ".join(["alpha", "beta", "gamma", "delta"] * 10)] * 5
    cited = page(paragraphs, 1)
    sketch = sketched(cited)
    assert not prefilter.same_main_text(cited.replace("<title>A story</title>", "<title>Another</title>"), sketch)
    assert prefilter.same_main_text(cited, sketch)


def test_the_corpus_edit_and_noise_cases() -> None:
    html = corpus_html("blog.python.org.html")
    sketch = sketched(html)
    top, bottom = noise(5)
    noisy = html.replace("<body", "<body data-x='1'", 1).replace("</body>", top + bottom + "</body>", 1)
    assert prefilter.same_main_text(noisy, sketch)
    assert not prefilter.same_main_text(edited_variant(html, 0.02, seed=3), sketch)


# -- through a real check --------------------------------------------------------------------


def with_noise(html: str, seed: int) -> str:
    top, bottom = noise(seed)
    head, _, tail = html.partition("</body>")
    return head + top + bottom + "</body>" + tail


def test_a_check_never_extracts_the_cited_copy(world: Config, server: TestServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The cited copy is extracted once, at capture; a check of a noisy page extracts nothing,
    a check of an edited page only the live page."""
    import archiver.check.pages

    calls: list[str | None] = []
    real = archiver.check.pages.extract

    def counted(html: str, url: str | None = None) -> Any:
        calls.append(url)
        return real(html, url)

    monkeypatch.setattr(archiver.check.pages, "extract", counted)
    served = iter(range(1000))
    body = {"html": ARTICLE}

    def noisy(req: Any) -> None:
        respond(req, body=with_noise(body["html"], next(served)).encode(), content_type="text/html; charset=utf-8")

    url = server.route("/prefilter/noisy", handler=noisy)
    snap(world, url)
    assert len(calls) == 1  # at capture
    with Archive(world) as archive:
        link = archive.store.link(normalize_url(url))
        assert link is not None
        cited = archive.store.capture(link["cited_capture_id"])
        assert cited is not None
        row = archive.store.text_for(cited["payload_digest"])
        assert row is not None and row["text"] and row["sketch"]
    for _ in range(3):
        result = check(world, url)
        assert (result["verdict"], result["reason"], result["similarity"]) == ("ok", "unchanged", 1.0)
    assert len(calls) == 1  # noise only: nothing extracted at all

    body["html"] = edited_variant(ARTICLE, 0.02, seed=7)
    result = check(world, url)
    assert (result["verdict"], result["reason"]) == ("ok", "minor-edit")
    assert len(calls) == 2  # the live page only, never the cited copy again
