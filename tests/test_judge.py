"""The checker's heuristics: URL shapes, parked/challenge/error pages, statuses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from archiver.check.extract import extract
from archiver.check.judge import (
    classify_status,
    is_site_root,
    is_trivial_redirect,
    looks_like_404_path,
    looks_like_challenge,
    looks_like_error_page,
    looks_parked,
    parse_retry_after,
    probe_url,
    redirect_to_root,
    same_as_probe,
)
from archiver.models import Verdict

from .test_extract import CORPUS_NAMES, corpus_extracted, corpus_html, sample_html

PARKED = ["parked-sedo.html", "parked-godaddy.html", "parked-forsale-de.html"]
CHALLENGES = [
    "challenge-cloudflare.html",
    "challenge-cloudflare-blocked.html",
    "challenge-ddos-guard.html",
    "challenge-akamai.html",
]
ERROR_PAGES = ["error-wordpress-404.html", "error-seite-nicht-gefunden.html", "error-soft404-shop.html"]
SAMPLES = PARKED + CHALLENGES + ERROR_PAGES

# ---------------------------------------------------------------- URL shapes


@pytest.mark.parametrize(
    "url",
    ["https://example.com", "https://example.com/", "http://EXAMPLE.com/index.html", "https://example.com/en/",
     "https://example.com/de-de", "https://example.com/home", "https://example.com/?lang=en",
     "https://example.com/?utm_source=x", "https://example.com/en/index.php"],
)  # fmt: skip
def test_is_site_root(url: str) -> None:
    assert is_site_root(url)


@pytest.mark.parametrize(
    "url",
    ["https://example.com/2022/02/08/article/", "https://example.com/?p=123", "https://example.com/news",
     "https://example.com/en/story-slug", "https://example.com/index.php?id=5", "https://example.com/a/b/c"],
)  # fmt: skip
def test_is_not_site_root(url: str) -> None:
    assert not is_site_root(url)


@pytest.mark.parametrize(
    "url",
    ["https://x.org/404", "https://x.org/404.html", "https://x.org/errors/404/", "https://x.org/not-found",
     "https://x.org/page-not-found/", "https://x.org/error?code=404", "https://x.org/error.html",
     "https://x.org/Error.aspx?aspxerrorpath=/old/page.aspx", "https://x.org/seite-nicht-gefunden",
     "https://x.org/en/pagenotfound", "https://x.org/404.aspx?404;https://x.org/old", "https://x.org/fehler?status=404"],
)  # fmt: skip
def test_looks_like_404_path(url: str) -> None:
    assert looks_like_404_path(url)


@pytest.mark.parametrize(
    "url",
    ["https://docs.python.org/3/tutorial/errors.html", "https://x.org/2019/04/04/story", "https://x.org/error-handling-in-go",
     "https://x.org/item/4040", "https://x.org/?page=404-tips", "https://x.org/found-it"],
)  # fmt: skip
def test_not_404_path(url: str) -> None:
    assert not looks_like_404_path(url)


@pytest.mark.parametrize(
    ("cited", "final", "expected"),
    [
        ("https://news.example/2021/05/story", "https://news.example/", True),
        ("https://news.example/2021/05/story", "https://www.news.example/en/", True),
        ("https://news.example/2021/05/story", "https://news.example/404.html", True),
        ("https://news.example/2021/05/story", "https://news.example/2021/05/story/", False),
        ("https://news.example/2021/05/story", "https://news.example/2021/05/new-story", False),
        ("https://news.example/", "https://news.example/en/", False),  # cited the home page itself
        ("http://news.example", "https://news.example/", False),
        ("https://news.example/story?id=5", "https://news.example/?id=5", False),
    ],
)
def test_redirect_to_root(cited: str, final: str, expected: bool) -> None:
    assert redirect_to_root(cited, final) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("http://example.com/a", "https://example.com/a", True),
        ("https://example.com/a", "https://www.example.com/a", True),
        ("https://example.com/a", "https://example.com/a/", True),
        ("http://example.com", "https://www.example.com/", True),
        ("https://EXAMPLE.com:443/a#top", "https://example.com/a", True),
        ("https://example.com/a%7e", "https://example.com/a%7E", True),
        ("https://example.com/a", "https://example.com/b", False),
        ("https://example.com/a", "https://example.org/a", False),
        ("https://example.com/a?x=1", "https://example.com/a?x=2", False),
        ("https://example.com/a", "https://example.com:8443/a", False),
        ("https://example.com/a", "https://m.example.com/a", False),
        ("https://example.com/A", "https://example.com/a", False),
    ],
)
def test_is_trivial_redirect(a: str, b: str, expected: bool) -> None:
    assert is_trivial_redirect(a, b) is expected
    assert is_trivial_redirect(b, a) is expected


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|de|org)", fullmatch=True)
paths = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True), max_size=4).map(lambda s: "/" + "/".join(s))
queries = st.sampled_from(["", "?id=5", "?a=1&b=2"])


@given(hosts, paths, queries, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_trivial_variants_are_trivial(
    host: str, path: str, query: str, https: bool, www: bool, slash: bool, upper: bool
) -> None:
    url = f"https://{host}{path}{query}"
    variant_path = path.rstrip("/") + "/" if slash else path.rstrip("/") or "/"
    variant_host = ("www." if www else "") + (host.upper() if upper else host)
    variant = f"{'https' if https else 'http'}://{variant_host}{variant_path}{query}"
    assert is_trivial_redirect(url, variant)
    assert is_trivial_redirect(variant, url)
    assert is_trivial_redirect(url, url)


@given(hosts, paths, paths)
def test_other_paths_are_not_trivial(host: str, p1: str, p2: str) -> None:
    assume(p1.rstrip("/") != p2.rstrip("/"))
    assert not is_trivial_redirect(f"https://{host}{p1}", f"https://{host}{p2}")


# ---------------------------------------------------------------- the soft-404 probe


@pytest.mark.parametrize(
    "url",
    ["https://example.com/2022/02/08/some-article/", "https://example.com/news/story-title.html",
     "https://tass.com/defense/1399581", "https://example.com/Wiki/Some_Page", "https://example.com/a",
     "https://example.com/p/abc123"],
)  # fmt: skip
def test_probe_url_keeps_host_depth_extension_and_slash(url: str) -> None:
    probe = probe_url(url, random.Random(1))
    orig, new = urlsplit(url), urlsplit(probe)
    assert probe != url
    assert (new.scheme, new.netloc) == (orig.scheme, orig.netloc)
    assert new.path.count("/") == orig.path.count("/")
    assert new.path.endswith("/") == orig.path.endswith("/")
    assert new.path.rsplit("/", 2)[0] == orig.path.rsplit("/", 2)[0]  # only the last segment changes
    if "." in orig.path.rsplit("/", 1)[-1]:
        assert new.path.rsplit(".", 1)[-1] == orig.path.rsplit(".", 1)[-1]


def test_probe_url_shapes() -> None:
    rng = random.Random(7)
    numeric = probe_url("https://tass.com/defense/1399581", rng).rsplit("/", 1)[-1]
    assert numeric.isdigit() and len(numeric) == 11  # longer than any real id nearby
    slug = probe_url("https://example.com/2022/some-article-title/", rng).split("/")[-2]
    assert slug.count("-") == 2 and slug.replace("-", "").islower() and len(slug) >= 16
    short = probe_url("https://example.com/p/ab", rng).rsplit("/", 1)[-1]
    assert len(short) >= 12


def test_probe_url_randomizes_the_query_when_it_names_the_page() -> None:
    probe = probe_url("https://example.com/article.php?id=123&lang=en#c1", random.Random(2))
    parts = urlsplit(probe)
    assert parts.path == "/article.php" and not parts.fragment
    params = dict(p.split("=") for p in parts.query.split("&"))
    assert params["id"].isdigit() and params["id"] != "123" and len(params["id"]) > 3
    wp = urlsplit(probe_url("https://blog.example/?p=42", random.Random(2)))
    assert wp.path == "/" and wp.query.startswith("p=") and wp.query != "p=42"


def test_probe_url_is_deterministic_per_seed() -> None:
    url = "https://example.com/news/story-title.html"
    assert probe_url(url, random.Random(5)) == probe_url(url, random.Random(5))
    assert probe_url(url, random.Random(5)) != probe_url(url, random.Random(6))


def test_same_as_probe_by_final_url() -> None:
    assert same_as_probe("https://x.org/", "Welcome home", "https://www.x.org", "Welcome home, different teaser")
    assert same_as_probe("https://x.org/search?q=", "", "https://x.org/search?q=", "")


def test_empty_texts_do_not_make_a_probe_match() -> None:
    assert not same_as_probe("https://x.org/app/page-one", "", "https://x.org/app/qwzxkrtplm", " ")


def test_same_as_probe_by_text_with_echoed_path() -> None:
    live = "Sorry, /news/old-story-2019 could not be found on this server. Try the search or go back home."
    probe = "Sorry, /news/qwzxkrtplmno-mvbq could not be found on this server. Try the search or go back home."
    assert same_as_probe("https://x.org/news/old-story-2019", live, "https://x.org/news/qwzxkrtplmno-mvbq", probe)


def test_a_real_article_is_not_the_probe_answer() -> None:
    article = corpus_extracted("threatpost.com.android.html").text
    error = extract(sample_html("error-wordpress-404.html")).text
    assert not same_as_probe("https://x.org/2019/android", article, "https://x.org/2019/qwzxkrtplm", error)


# ---------------------------------------------------------------- parked, challenge, error pages


@pytest.mark.parametrize("name", PARKED)
def test_parked_samples_are_parked(name: str) -> None:
    html = sample_html(name)
    assert looks_parked(html, extract(html).title, "https://old-domain.example/2020/story")


@pytest.mark.parametrize(
    "url",
    ["https://sedo.com/search/details/?domain=old-domain.example", "https://www.hugedomains.com/domain_profile.cfm?d=olddomain.com",
     "https://dan.com/buy-domain/old-domain.example"],
)  # fmt: skip
def test_landing_on_a_marketplace_is_parked(url: str) -> None:
    assert looks_parked("<html><body><div id=root></div></body></html>", None, url)


def test_marketplace_pages_not_about_a_domain_are_not_parked() -> None:
    assert not looks_parked("<html><body><p>About us</p></body></html>", "About", "https://sedo.com/about/")


def test_long_article_about_domain_sales_is_not_parked() -> None:
    body = "<p>" + "Investors say this domain is for sale market keeps growing. " * 80 + "</p>"
    html = f"<html><head><title>The domain market</title></head><body><article>{body}</article></body></html>"
    assert not looks_parked(html, "The domain market", "https://news.example/2024/domains")


@pytest.mark.parametrize("name", CHALLENGES)
@pytest.mark.parametrize("status", [403, 503, 200])
def test_challenge_samples_are_challenges(name: str, status: int) -> None:
    assert looks_like_challenge(status, {"Server": "cloudflare"}, sample_html(name))


def test_cf_mitigated_header_is_a_challenge() -> None:
    headers = [(b"Server", b"cloudflare"), (b"cf-mitigated", b"challenge")]
    assert looks_like_challenge(403, headers, "")


def test_short_refusal_with_captcha_is_a_challenge() -> None:
    html = '<html><body><p>Please solve the puzzle.</p><div class="g-recaptcha" data-sitekey="x"></div></body></html>'
    assert looks_like_challenge(429, {}, html)
    assert not looks_like_challenge(200, {}, html)


@pytest.mark.parametrize("name", ERROR_PAGES)
def test_error_samples_are_error_pages(name: str) -> None:
    page = extract(sample_html(name))
    assert looks_like_error_page(page.title, page.text, heading=page.heading)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("404 Not Found", ""),
        ("Error 404 | Example", "Back to home"),
        ("Page not found – Example", "Recent posts " * 150),
        ("Example News", "Oops! The page you are looking for does not exist."),
        ("Fehler", "Die angeforderte Seite wurde nicht gefunden."),
        ("Page introuvable", ""),
    ],
)
def test_error_page_variants(title: str, text: str) -> None:
    assert looks_like_error_page(title, text)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("404 Media: the story of a newsroom", "word " * 400),
        ("Why the missing key was not found", "word " * 400),
        ("Fixing a TLS error in curl", "Short note. " * 20),
        ("Python 3.6.0 is now available!", "Python 3.6.0 is the newest release."),
    ],
)
def test_not_error_pages(title: str, text: str) -> None:
    assert not looks_like_error_page(title, text)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_pages_are_no_false_positives(name: str) -> None:
    html, page = corpus_html(name), corpus_extracted(name)
    assert not looks_parked(html, page.title, "https://example.org/2020/01/article")
    assert not looks_like_challenge(200, {}, html)
    assert not looks_like_challenge(403, {"server": "cloudflare"}, html)
    assert not looks_like_error_page(page.title, page.text, heading=page.heading)


@pytest.mark.parametrize("name", PARKED + CHALLENGES)
def test_samples_are_not_mistaken_for_each_other(name: str) -> None:
    html = sample_html(name)
    if name in PARKED:
        assert not looks_like_challenge(200, {}, html)
    else:
        assert not looks_parked(html, extract(html).title, "https://x.example/a")


# ---------------------------------------------------------------- HTTP


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None), (204, None), (301, None), (304, None),
        (404, (Verdict.FAILED, "http-404")), (410, (Verdict.FAILED, "http-410")),
        (500, (Verdict.FAILED, "http-5xx")), (503, (Verdict.FAILED, "http-5xx")), (599, (Verdict.FAILED, "http-5xx")),
        (401, (Verdict.BLOCKED, "http-401")), (403, (Verdict.BLOCKED, "http-403")), (407, (Verdict.BLOCKED, "http-407")),
        (429, (Verdict.BLOCKED, "http-429")), (451, (Verdict.BLOCKED, "http-451")), (999, (Verdict.BLOCKED, "http-999")),
        (400, (Verdict.FAILED, "http-400")),
    ],
)  # fmt: skip
def test_classify_status(status: int, expected: tuple[Verdict, str] | None) -> None:
    assert classify_status(status) == expected


NOW = datetime(2026, 11, 28, 4, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0), (" 0 ", 0.0), ("Sat, 28 Nov 2026 04:02:00 GMT", 120.0),
        ("Fri, 27 Nov 2026 04:00:00 GMT", 0.0), (None, None), ("", None), ("soon", None), ("-5", None),
        ("Sat, 28 Nov 2026 04:00:30 +0000", 30.0),
    ],
)  # fmt: skip
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now() -> None:
    assert parse_retry_after("Sat, 28 Nov 2026 04:01:00 GMT", NOW.replace(tzinfo=None)) == 60.0
    assert parse_retry_after("Sat, 28 Nov 2026 05:00:00 +0100", NOW + timedelta(seconds=-10)) == 10.0
