"""Extraction on real pages: decoding, main text without comments, noise immunity.

The helpers at the top (corpus access, noise and edit variants of corpus
pages) are shared with test_diff.py and test_judge.py.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import random
import re
import time
import tracemalloc
import zlib
from pathlib import Path

import lxml.html
import pytest

from archiver.check.diff import similarity
from archiver.check.extract import (
    MAX_HTML_CHARS,
    Extracted,
    decode_body,
    decode_text,
    extract,
    extract_pdf,
    fingerprint,
    normalize_text,
)

CORPUS_PAGES = Path(__file__).resolve().parent / "data" / "corpus" / "pages"
SAMPLES = Path(__file__).resolve().parent / "data" / "pages"
CORPUS_NAMES = sorted(p.name for p in CORPUS_PAGES.glob("*.html"))

# ---------------------------------------------------------------- helpers


@functools.cache
def corpus_html(name: str) -> str:
    return decode_text((CORPUS_PAGES / name).read_bytes(), "text/html")


@functools.cache
def corpus_extracted(name: str) -> Extracted:
    return extract(corpus_html(name))


def sample_html(name: str) -> str:
    return decode_text((SAMPLES / name).read_bytes(), None)


_WORDS = [
    "market",
    "election",
    "climate",
    "football",
    "senator",
    "storm",
    "vaccine",
    "budget",
    "galaxy",
    "startup",
    "festival",
    "merger",
    "museum",
    "drought",
    "railway",
    "Bundesliga",
    "Wahl",
    "Gewitter",
    "Börse",
]


def _headline(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 9))).capitalize()


def _stamp(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"


def _token(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice("abcdef0123456789") for _ in range(n))


def noisy_variant(html: str, seed: int) -> str:
    """The same page as served on another request: a new timestamp, CSRF token
    and nonce, another ad, rotating "most read" and "related" boxes, and an ad
    slot inside the article body."""
    rng = random.Random(seed)
    top = (
        f'<div class="topbar"><span class="date">Updated {_stamp(rng)}</span>'
        f'<form><input type="hidden" name="csrf_token" value="{_token(rng)}"></form>'
        f'<div class="ad-banner" id="ad-{_token(rng, 6)}">Advertisement: {_headline(rng)} – buy now</div></div>'
    )
    most_read = "".join(f'<li><a href="/news/{_token(rng, 8)}">{_headline(rng)}</a></li>' for _ in range(5))
    bottom = (
        f'<aside class="most-read"><h3>Most read</h3><ol>{most_read}</ol></aside>'
        f'<div class="footer">Page generated {_stamp(rng)} in 0.{rng.randint(100, 999)}s. '
        f"Visitors online: {rng.randint(10, 9999)}</div>"
        f'<script>var nonce="{_token(rng)}";</script>'
    )
    related = "".join(f'<li><a href="/story/{_token(rng, 8)}">{_headline(rng)}</a></li>' for _ in range(4))
    side = f'<aside class="related"><h4>Related stories</h4><ul>{related}</ul></aside>'
    inline_ad = f'<div class="advertisement">Anzeige {_headline(rng)}</div>'
    html = re.sub(r"(<body[^>]*>)", lambda m: m[1] + top, html, count=1, flags=re.IGNORECASE)
    html = re.sub(r"(</body>)", lambda m: bottom + m[1], html, count=1, flags=re.IGNORECASE)
    html = re.sub(r"(<h1[^>]*>)", lambda m: side + m[1], html, count=1, flags=re.IGNORECASE)
    parts = re.split(r"(</p>)", html, flags=re.IGNORECASE)
    if len(parts) > 7:
        parts[5] += inline_ad
    html = "".join(parts)
    return html.replace("</head>", f'<meta name="csrf-token" content="{_token(rng)}"></head>', 1)


_NO_WS = re.compile(r"\s+")


def _article_container(tree: lxml.html.HtmlElement, text: str) -> lxml.html.HtmlElement:
    """The deepest element holding the three longest lines of the extracted text."""
    needles = [_NO_WS.sub("", line) for line in sorted(text.splitlines(), key=len)[-3:]]
    best = tree.body
    for el in tree.body.iter():
        if isinstance(el.tag, str) and el.tag not in ("script", "style"):
            content = _NO_WS.sub("", el.text_content())
            if all(n in content for n in needles):
                best = el  # document order: later hits are descendants of earlier ones
    return best


def _text_slots(container: lxml.html.HtmlElement) -> list[tuple[lxml.html.HtmlElement, str, int]]:
    """(element, "text" | "tail", word index) of every word inside the container."""
    slots = []
    for el in container.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        if el.text:
            slots += [(el, "text", i) for i in range(len(el.text.split()))]
        if el is not container and el.tail:
            slots += [(el, "tail", i) for i in range(len(el.tail.split()))]
    return slots


def edited_variant(html: str, fraction: float, seed: int) -> str:
    """The page with ``fraction`` of the words of its article body replaced by
    ``editedNN`` marker words (count them in the extracted text)."""
    rng = random.Random(seed)
    tree = lxml.html.fromstring(html)
    slots = _text_slots(_article_container(tree, extract(html).text))
    for el, where, i in rng.sample(slots, max(1, round(len(slots) * fraction))):
        node = getattr(el, where)
        word = list(re.finditer(r"\S+", node))[i]
        node = node[: word.start()] + f"edited{rng.randint(10, 99)}" + node[word.end() :]
        setattr(el, where, re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", node))
    return lxml.html.tostring(tree, encoding="unicode")


def rewritten_variant(html: str, other_text: str) -> str:
    """The page's chrome and title with another article's text as its body."""
    tree = lxml.html.fromstring(html)
    container = _article_container(tree, extract(html).text)
    for child in list(container):
        container.remove(child)
    container.text = None
    for line in other_text.splitlines():
        p = lxml.html.Element("p")
        p.text = line
        container.append(p)
    return lxml.html.tostring(tree, encoding="unicode")


# ---------------------------------------------------------------- decode_body

TEXT = ("The quick brown fox jumps over the lazy dog. " * 500).encode()


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda d: d),
        ("identity", lambda d: d),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("gzip, gzip", lambda d: gzip.compress(gzip.compress(d))),
        ("deflate, gzip", lambda d: gzip.compress(zlib.compress(d))),
    ],
)
def test_decode_body_round_trips(encoding: str | None, encode) -> None:
    assert decode_body(encode(TEXT), encoding, limit=10**8) == TEXT


def test_decode_body_concatenated_gzip_members() -> None:
    assert decode_body(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip", limit=100) == b"abcdef"


def test_decode_body_trailing_garbage_after_gzip_is_ignored() -> None:
    assert decode_body(gzip.compress(TEXT) + b"\r\n", "gzip", limit=10**8) == TEXT


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
def test_decode_body_caps_output(encoding: str | None) -> None:
    raw = {None: TEXT, "gzip": gzip.compress(TEXT), "deflate": zlib.compress(TEXT)}[encoding]
    assert decode_body(raw, encoding, limit=1000) == TEXT[:1000]


def test_decode_body_truncated_stream_yields_a_prefix() -> None:
    data = random.Random(3).randbytes(200_000)  # incompressible: output tracks input
    raw = gzip.compress(data)
    out = decode_body(raw[: len(raw) // 2], "gzip", limit=10**8)
    assert 50_000 < len(out) < 110_000
    assert data.startswith(out)


def test_decode_body_refuses_to_inflate_a_gzip_bomb() -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    tracemalloc.start()
    start = time.perf_counter()
    out = decode_body(bomb, "gzip", limit=1_000_000)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out) == 1_000_000
    assert elapsed < 0.5
    assert peak < 4_000_000  # output + one chunk, never the 10 MB


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
def test_decode_body_reads_a_file_like_bytes(encoding: str | None, tmp_path: Path) -> None:
    raw = {None: TEXT, "gzip": gzip.compress(TEXT), "deflate": _raw_deflate(TEXT)}[encoding]
    path = tmp_path / "body"
    path.write_bytes(raw)
    for limit in (10**8, 1000):
        with open(path, "rb") as body:
            assert decode_body(body, encoding, limit=limit) == TEXT[:limit]


def test_decode_body_holds_the_output_once() -> None:
    bomb = gzip.compress(b"a" * 30_000_000)
    tracemalloc.start()
    out = decode_body(bomb, "gzip", limit=20_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out) == 20_000_000
    assert peak < 24_000_000  # the output and a chunk or two, never a copy of the output


def test_decode_body_unknown_encoding_is_named() -> None:
    with pytest.raises(ValueError, match="br"):
        decode_body(b"\x8b\x02\x80", "br", limit=100)
    with pytest.raises(ValueError, match="zstd"):
        decode_body(b"x", "gzip, zstd", limit=100)


def test_decode_body_corrupt_data_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="corrupt"):
        decode_body(b"this is not gzip at all", "gzip", limit=100)


# ---------------------------------------------------------------- decode_text


def test_decode_text_uses_header_charset() -> None:
    body = "Grüße – €5".encode("cp1252")
    assert decode_text(body, "text/html; charset=windows-1252") == "Grüße – €5"


def test_decode_text_treats_latin1_label_as_windows_1252() -> None:
    assert decode_text(b"\x80 price", "text/html; charset=ISO-8859-1") == "€ price"


def test_decode_text_bom_wins() -> None:
    assert decode_text(codecs.BOM_UTF8 + "Grüße".encode(), "text/html; charset=latin-1") == "Grüße"
    assert decode_text(codecs.BOM_UTF16_LE + "Grüße".encode("utf-16-le"), None) == "Grüße"


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="iso-8859-15">',
        "<meta charset=iso-8859-15>",
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">',
    ],
)
def test_decode_text_sniffs_meta_charset(meta: str) -> None:
    body = f"<html><head>{meta}<title>Straße €</title></head></html>".encode("iso-8859-15")
    assert "Straße €" in decode_text(body, "text/html")


def test_decode_text_falls_back_to_utf8_with_replacement() -> None:
    assert decode_text("Grüße".encode(), None) == "Grüße"
    assert decode_text(b"caf\xe9 \xff", "text/html; charset=no-such-charset") == "caf\ufffd \ufffd"


def test_decode_text_reads_the_corpus_sample_in_latin1() -> None:
    html = sample_html("error-seite-nicht-gefunden.html")  # declared iso-8859-1 in <meta>
    assert "Seite nicht gefunden" in html


# ---------------------------------------------------------------- extract on real pages


def test_extract_gives_text_and_title_for_corpus_pages() -> None:
    results = {name: corpus_extracted(name) for name in CORPUS_NAMES}
    assert len(results) == 30
    with_text = [n for n, e in results.items() if e.words >= 70]
    assert len(with_text) >= 28, sorted(set(results) - set(with_text))
    assert all(e.title for e in results.values())
    for e in results.values():
        assert e.fingerprint == fingerprint(e.text)
        assert e.words == len(e.text.split())
        assert "\n\n" not in e.text and "  " not in e.text


@pytest.mark.parametrize(
    ("name", "comment"),
    [
        ("netzpolitik.org.abmahnungen.html", "sie müssen doch jetzt nicht hier trollen"),
        ("blog.wordpress.com.diverse.html", "Are there workshops available for an 80 year-old WordPress enthusiast"),
        ("franziska-elea.de.vuitton.html", "also ich wäre ja der Typ der es davon abhängig macht"),
    ],
)
def test_extract_excludes_reader_comments(name: str, comment: str) -> None:
    html = corpus_html(name)
    assert comment in " ".join(lxml.html.fromstring(html).text_content().split())  # it is on the page
    extracted = corpus_extracted(name)
    assert extracted.words > 100
    assert comment not in extracted.text


def test_extract_keeps_known_article_sentences() -> None:
    text = corpus_extracted("nature.com.telescope.html").text
    assert "telescope" in text.lower()
    assert corpus_extracted("en.wikipedia.org.tsne.html").title.startswith("t-distributed stochastic")


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_noise_around_the_article_does_not_leak_into_text(name: str) -> None:
    original = corpus_extracted(name)
    for seed in (1, 2):
        variant = extract(noisy_variant(corpus_html(name), seed))
        assert similarity(original.text, variant.text) >= 0.98
        leaked = set(variant.text.splitlines()) - set(original.text.splitlines())
        assert not leaked
        assert variant.fingerprint == original.fingerprint


def test_extract_is_deterministic() -> None:
    html = corpus_html("dw.com.colonial.html")
    assert extract(html) == extract(html)


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "junk",
    ["", "   \n ", "{\"json\": true}", "\x00\x01\x02\xff binary", "<html></html>", "<p>x</p>", "%PDF-1.7\n%\xe2\xe3",
     "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>", "<<<>>><!--", "<html><title>T</title>"],
)  # fmt: skip
def test_extract_never_raises_on_junk(junk: str) -> None:
    result = extract(junk)
    assert isinstance(result, Extracted)
    assert result.fingerprint == fingerprint(result.text)


def test_extract_of_empty_input_is_empty() -> None:
    result = extract("")
    assert result.text == "" and result.title is None and result.is_empty and result.words == 0


def test_extract_accepts_bytes() -> None:
    assert (
        extract(corpus_html("salon.com.emissions.html").encode()).text
        == corpus_extracted("salon.com.emissions.html").text
    )


def test_extract_huge_page_is_cut_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archiver.check.extract.MAX_HTML_CHARS", 200_000)  # the real cap takes seconds
    paragraphs = "".join(f"<p>Paragraph {i} says something about the topic at hand.</p>" for i in range(60_000))
    html = f"<html><head><title>Huge</title></head><body><article>{paragraphs}</article></body></html>"
    start = time.perf_counter()
    result = extract(html)
    assert time.perf_counter() - start < 5
    assert result.truncated and result.title == "Huge"
    assert "Paragraph 0 says" in result.text
    assert "Paragraph 59999" not in result.text


def test_extract_cap_is_sane() -> None:
    assert 1_000_000 <= MAX_HTML_CHARS <= 10_000_000


def test_extract_drops_scripts_before_truncating() -> None:
    script = "<script>var data = " + "x" * (MAX_HTML_CHARS + 10) + ";</script>"
    html = f"<html><head><title>T</title>{script}</head><body><article><p>{'Real words here. ' * 30}</p></article></body></html>"
    result = extract(html)
    assert not result.truncated
    assert "Real words here." in result.text


def test_normalize_text() -> None:
    raw = "  Hello\u00a0\u00a0world \u200b \n\n\nAdvertisement\n Second\tline  \n- Anzeige -\nCafe\u0301"
    assert normalize_text(raw) == "Hello world\nSecond line\nCafé"


# --- PDF ------------------------------------------------------------------------


def test_pdf_gives_its_text_and_title() -> None:
    from .pdf import make_pdf

    data = make_pdf([["Annual report 2025", "Emissions fell by 8 percent (see table 2)."], ["Page two."]],
                    title="The  Report")
    got = extract_pdf(data)
    assert got.title == "The Report"
    assert got.text == "Annual report 2025\nEmissions fell by 8 percent (see table 2).\nPage two."
    assert got.fingerprint == extract_pdf(data).fingerprint and got.words == 13


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4 nothing else", b"\x89PNG\r\n\x1a\n" + bytes(100)])
def test_broken_or_other_bytes_give_no_pdf_text(data: bytes) -> None:
    assert extract_pdf(data).text == "" and extract_pdf(data).title is None
