"""Similarity and diffs of main texts, on real pages and as properties."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.check.diff import (
    bigram_profile,
    diff_ops,
    profile_similarity,
    sentences,
    similarity,
    titles_match,
    unified_diff,
)
from archiver.check.extract import extract

from .test_extract import CORPUS_NAMES, corpus_extracted, corpus_html, edited_variant, noisy_variant, rewritten_variant

CHANGED_BELOW = 0.8  # SPEC §4 default of [check] changed_below

# ---------------------------------------------------------------- figures on real pages


@pytest.mark.parametrize("name", CORPUS_NAMES[::3])
def test_noise_variant_scores_at_least_098(name: str) -> None:
    original = corpus_extracted(name).text
    assert similarity(original, extract(noisy_variant(corpus_html(name), 11)).text) >= 0.98


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_two_percent_edit_stays_above_09(name: str) -> None:
    original = corpus_extracted(name)
    edited = extract(edited_variant(corpus_html(name), 0.02, seed=5))
    markers = len(re.findall(r"\bedited\d\d\b", edited.text))
    assert markers >= 1  # the edit reached the main text
    assert markers / edited.words < 0.045
    assert 0.9 < similarity(original.text, edited.text) < 1.0


@pytest.mark.parametrize("index", range(0, 30, 2))
def test_rewritten_article_falls_below_05(index: int) -> None:
    name, other = CORPUS_NAMES[index], CORPUS_NAMES[(index + 1) % len(CORPUS_NAMES)]
    original, replacement = corpus_extracted(name), corpus_extracted(other)
    rewritten = extract(rewritten_variant(corpus_html(name), replacement.text))
    assert rewritten.title == original.title  # same chrome and title ...
    assert similarity(replacement.text, rewritten.text) > 0.9  # ... with the other body
    assert similarity(original.text, rewritten.text) < 0.5


def test_corpus_articles_are_mutually_dissimilar() -> None:
    texts = [corpus_extracted(n).text for n in CORPUS_NAMES]
    worst = max(similarity(a, b) for i, a in enumerate(texts) for b in texts[i + 1 :])
    assert worst < 0.3


def test_word_edit_rates_map_to_expected_scores() -> None:
    words = corpus_extracted("gregoryszorc.com.python3.html").text.split(" ")
    for rate, low, high in ((0.01, 0.97, 0.99), (0.02, 0.95, 0.975), (0.10, 0.78, 0.86)):
        edited = [f"x{i}" if i % round(1 / rate) == 0 else w for i, w in enumerate(words)]
        assert low < similarity(" ".join(words), " ".join(edited)) < high


# ---------------------------------------------------------------- the measure


def test_similarity_basics() -> None:
    assert similarity("", "") == 1.0
    assert similarity("word", "word") == 1.0
    assert similarity("", "some text") == 0.0
    assert similarity("alpha beta gamma", "delta epsilon zeta") == 0.0
    assert similarity("Hello, World!", "hello world") == 1.0  # case, punctuation, spacing ignored
    assert similarity("Grüße aus Köln", "GRÜSSE AUS KÖLN") == 1.0  # casefold


def test_moving_paragraphs_costs_little() -> None:
    paragraphs = corpus_extracted("nature.com.telescope.html").text.splitlines()
    moved = paragraphs[len(paragraphs) // 2 :] + paragraphs[: len(paragraphs) // 2]
    assert similarity("\n".join(paragraphs), "\n".join(moved)) > 0.98


def test_profile_similarity_matches_similarity() -> None:
    a, b = corpus_extracted("salon.com.emissions.html").text, corpus_extracted("phys.org.tool.html").text
    assert profile_similarity(bigram_profile(a), bigram_profile(b)) == similarity(a, b)


def test_similarity_is_fast_on_100kb_texts() -> None:
    text = "\n".join(corpus_extracted(n).text for n in CORPUS_NAMES)[:100_000]
    other = text.replace(" the ", " a ")
    start = time.perf_counter()
    for _ in range(5):
        similarity(text, other)
    assert (time.perf_counter() - start) / 5 < 0.1


words = st.lists(st.sampled_from(["a", "b", "c", "Der", "über", "x1", "ünï", "42", "the"]), max_size=40)
texts = st.builds(" ".join, words) | st.text(max_size=200)


@given(texts, texts)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(similarity(b, a))


@given(texts)
def test_similarity_identity(a: str) -> None:
    assert similarity(a, a) == 1.0
    assert similarity(a, a.replace(" ", "  \n")) == 1.0


@given(words, st.sampled_from(["zz", "yy"]))
def test_similarity_drops_when_a_word_changes(ws: list[str], new: str) -> None:
    if not ws:
        return
    changed = [*ws[:-1], new]
    assert similarity(" ".join(ws), " ".join(changed)) < 1.0


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Story title here | Site", "Story title here – Site", True),
        ("Story title here | Old Site Name", "Story title here | New Brand", True),
        ("Breaking news | CNN", "Other thing | CNN", False),
        ("Gigantic telescope opens", "gigantic telescope opens!", True),
        (None, None, True),
        ("Story", None, False),
    ],
)
def test_titles_match(a: str | None, b: str | None, expected: bool) -> None:
    assert titles_match(a, b) is expected


# ---------------------------------------------------------------- diffs for people


def test_unified_diff_shows_the_changed_sentence() -> None:
    a = "The council met on Monday. It approved the budget. The mayor was absent."
    b = "The council met on Monday. It rejected the budget. The mayor was absent."
    diff = unified_diff(a, b, a_label="cited 2026-01-01", b_label="live 2026-11-28")
    lines = diff.splitlines()
    assert lines[0] == "--- cited 2026-01-01" and lines[1] == "+++ live 2026-11-28"
    assert "-It approved the budget." in lines and "+It rejected the budget." in lines
    assert " The mayor was absent." in lines


def test_unified_diff_is_empty_for_equal_texts() -> None:
    text = corpus_extracted("lemire.me.json.html").text
    assert unified_diff(text, text, a_label="a", b_label="b") == ""


def test_unified_diff_wraps_long_sentences_independently() -> None:
    long_a = "word " * 60 + "end."
    long_b = "word " * 60 + "finish."
    diff = unified_diff(
        f"Intro here. {long_a} Outro here.",
        f"Intro here. {long_b} Outro here.",
        a_label="a",
        b_label="b",
        width=50,
        context=10,
    )
    body = diff.splitlines()[3:]
    assert all(len(line) <= 51 for line in body)
    assert " Intro here." in body and " Outro here." in body
    assert [line for line in body if line[0] in "+-"] == ["-end.", "+finish."]


def test_unified_diff_on_a_real_edit_is_compact() -> None:
    name = "wikimediafoundation.org.turkey.html"
    original = corpus_extracted(name).text
    edited = extract(edited_variant(corpus_html(name), 0.02, seed=5)).text
    diff = unified_diff(original, edited, a_label="cited", b_label="live", width=0)
    removed = [line for line in diff.splitlines()[2:] if line.startswith("-")]
    added = [line for line in diff.splitlines()[2:] if line.startswith("+")]
    markers = len(re.findall(r"\bedited\d\d", edited))
    assert 0 < len(removed) <= markers and len(removed) < len(sentences(original)) / 2
    assert all("edited" in line for line in added)


def test_sentences_split_on_punctuation_and_lines() -> None:
    assert sentences("One. Two! „Three?“ Four…\nFive") == ["One.", "Two!", "„Three?“ Four…", "Five"]


def test_diff_ops_word_level() -> None:
    ops = diff_ops("The cat sat on the mat.", "The dog sat on the mat.")
    assert ops == [("equal", "The "), ("delete", "cat "), ("insert", "dog "), ("equal", "sat on the mat.")]


def test_diff_ops_on_real_pages_reconstruct_both_sides() -> None:
    name = "netzpolitik.org.abmahnungen.html"
    a = corpus_extracted(name).text
    b = extract(edited_variant(corpus_html(name), 0.02, seed=9)).text
    ops = diff_ops(a, b)
    assert "".join(t for k, t in ops if k != "delete") == b
    assert "".join(t for k, t in ops if k != "insert").split() == a.split()
    inserted = " ".join(t for k, t in ops if k == "insert").split()
    markers = [w for w in inserted if re.fullmatch(r"edited\d\d\W*", w)]
    assert markers and len(markers) >= 0.8 * len(inserted)


def test_diff_ops_is_fast_on_a_rewrite() -> None:
    a = "\n".join(corpus_extracted(n).text for n in CORPUS_NAMES[:15])
    b = "\n".join(corpus_extracted(n).text for n in CORPUS_NAMES[15:])
    start = time.perf_counter()
    ops = diff_ops(a, b)
    assert time.perf_counter() - start < 3
    assert "".join(t for k, t in ops if k != "delete") == b


@settings(max_examples=200)
@given(texts, texts)
def test_diff_ops_reconstructs_inputs(a: str, b: str) -> None:
    ops = diff_ops(a, b)
    assert all(kind in ("equal", "delete", "insert") and text for kind, text in ops)
    assert all(x[0] != y[0] for x, y in itertools.pairwise(ops))  # merged
    assert "".join(t for k, t in ops if k != "delete") == b
    assert "".join(t for k, t in ops if k != "insert").split() == a.split()
