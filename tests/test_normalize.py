"""URL normalization (SPEC §7): examples, then properties checked with Hypothesis."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from archiver.collect.normalize import (
    TRACKING_PARAMS,
    InvalidURL,
    is_fetchable_scheme,
    is_tracking_param,
    normalize_url,
)
from archiver.errors import InvalidURL as ErrorsInvalidURL
from archiver.errors import UsageError


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        # scheme and host lower-cased, path case kept
        ("HTTPS://Example.COM/Some/Path", "https://example.com/Some/Path"),
        # default ports dropped, others kept, leading zeros read as numbers
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:080/", "http://example.com/"),
        # empty path -> "/", fragment dropped
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        # hash-bang fragments name content on AJAX-era sites and are kept
        ("https://twitter.com/#!/user/status/1", "https://twitter.com/#!/user/status/1"),
        # tracking parameters removed, the rest kept in order
        ("https://x.org/a?utm_source=tw&b=2&fbclid=X&a=1&utm_medium=s", "https://x.org/a?b=2&a=1"),
        ("https://x.org/a?gclid=1&mc_cid=2&mc_eid=3", "https://x.org/a"),
        ("https://x.org/a?UTM_Campaign=x&id=4", "https://x.org/a?id=4"),
        ("https://twitter.com/u/status/1?ref_src=twsrc%5Etfw", "https://twitter.com/u/status/1"),
        # meaningful parameters that merely look like tracking stay
        ("https://github.com/o/r/blob/x?ref=main", "https://github.com/o/r/blob/x?ref=main"),
        # empty query and empty pieces disappear
        ("https://x.org/a?", "https://x.org/a"),
        ("https://x.org/a?a=1&&b=2", "https://x.org/a?a=1&b=2"),
        # IDNA hosts
        ("http://Bücher.DE/straße", "http://xn--bcher-kva.de/stra%C3%9Fe"),
        ("http://xn--bcher-kva.de/", "http://xn--bcher-kva.de/"),
        # percent-encoding made uniform
        ("https://x.org/%7euser/%e2%82%ac", "https://x.org/~user/%E2%82%AC"),
        (
            "https://de.wikipedia.org/wiki/RedTube-Abmahnaffäre",
            "https://de.wikipedia.org/wiki/RedTube-Abmahnaff%C3%A4re",
        ),
        ("https://x.org/a b", "https://x.org/a%20b"),
        ("https://x.org/100%", "https://x.org/100%25"),
        # wikipedia parentheses kept
        (
            "https://en.wikipedia.org/wiki/Python_(programming_language)",
            "https://en.wikipedia.org/wiki/Python_(programming_language)",
        ),
        # dot segments resolved
        ("https://x.org/a/./b/../c", "https://x.org/a/c"),
        # one trailing dot of the host dropped
        ("https://example.com./", "https://example.com/"),
        # surrounding white space is not part of the URL
        ("  https://x.org/a\n", "https://x.org/a"),
        # IPv6 hosts
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        # other schemes: only the scheme is lower-cased, the fragment dropped
        ("MAILTO:Someone@Example.org#x", "mailto:Someone@Example.org"),
        ("FTP://Files.Example.org:21/pub", "ftp://files.example.org/pub"),
    ],
)
def test_normalize_examples(written: str, normalized: str) -> None:
    assert normalize_url(written) == normalized


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("http://exa mple.com[", "forbidden character"),
        ("http://x.org:99999/", "out of range"),
        ("http://x.org:8o/", "bad port"),
        ("http://www.eileens-good-vibes..de", "empty label"),
        ("example.com/no-scheme", "no scheme"),
        ("/relative/path", "no scheme"),
        ("http:///path-only", "empty host"),
        ("https:no-slashes.example", "without a host"),
        ("http://[::1/", "unclosed"),
        ("http://[not-ipv6]/", "bad IPv6"),
        ("", "no scheme"),
    ],
)
def test_malformed_urls_raise_invalid_url_with_reason(written: str, why: str) -> None:
    with pytest.raises(InvalidURL, match=why):
        normalize_url(written)


def test_invalid_url_is_the_errors_module_class() -> None:
    assert InvalidURL is ErrorsInvalidURL
    assert issubclass(InvalidURL, UsageError) and issubclass(InvalidURL, ValueError)


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [("https://x.org", True), ("HTTP://x.org", True), ("ftp://x.org", False), ("mailto:a@b", False), ("x.org", False)],
)
def test_is_fetchable_scheme(url: str, fetchable: bool) -> None:
    assert is_fetchable_scheme(url) is fetchable


# ---------------------------------------------------------------- properties

_label = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10)
_unicode_label = st.text(alphabet="abcdeéüøçñ", min_size=1, max_size=8)
_host = st.lists(st.one_of(_label, _unicode_label), min_size=1, max_size=3).map(".".join).map(lambda h: h + ".org")
_segment = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%é /", max_size=12)
_param_name = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8)
_param = st.tuples(st.one_of(_param_name, st.sampled_from(sorted(TRACKING_PARAMS)), st.just("utm_source")), _label)
_fragment = st.one_of(st.none(), st.text(alphabet=string.ascii_letters + "-/", max_size=10))


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_host)
    if draw(st.booleans()):
        host = host.upper()
    port = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=65535)))
    path = "/".join(draw(st.lists(_segment, max_size=4)))
    params = draw(st.lists(_param, max_size=5))
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{path}"
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(_fragment)
    if fragment is not None:
        url += "#" + fragment
    return url


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
@example("http://%")
@example("http://[")
@example("http://a:b@c:d@e/")
@example("http://\udcff.org/")
@example("http://ａ。ｂ/")
def test_never_crashes_except_invalid_url(text: str) -> None:
    try:
        result = normalize_url(text)
    except InvalidURL:
        return
    assert isinstance(result, str)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(urls(), st.text(max_size=60), st.builds(lambda t: "http://" + t, st.text(max_size=40))))
@example("http://x.org/%2E%2E/a")
@example("http://x.org/a/..%2F..")
@example("http://x.org/?%")
@example("http://ｘ.org./")
def test_idempotent(text: str) -> None:
    try:
        once = normalize_url(text)
    except InvalidURL:
        return
    assert normalize_url(once) == once


@settings(max_examples=300)
@given(urls())
def test_tracking_params_removed_others_kept_in_order(url: str) -> None:
    result = normalize_url(url)
    query = result.partition("?")[2].partition("#")[0]
    names = [piece.split("=", 1)[0] for piece in query.split("&") if piece]
    assert not any(is_tracking_param(name) for name in names)
    original = url.partition("?")[2].partition("#")[0]
    kept = [
        piece.split("=", 1)[0]
        for piece in original.split("&")
        if piece and not is_tracking_param(piece.split("=", 1)[0])
    ]
    assert names == kept


@settings(max_examples=300)
@given(urls())
def test_fragment_removed_and_result_is_ascii(url: str) -> None:
    result = normalize_url(url)
    assume("#!" not in url)
    assert "#" not in result
    assert result.isascii()


@settings(max_examples=200)
@given(urls())
def test_scheme_and_host_lower_case_and_no_default_port(url: str) -> None:
    result = normalize_url(url)
    scheme, _, rest = result.partition("://")
    host = rest.split("/", 1)[0]
    assert scheme == scheme.lower() and host == host.lower()
    assert not (scheme == "http" and host.endswith(":80")) and not (scheme == "https" and host.endswith(":443"))
    assert rest.count("/") >= 1


@settings(max_examples=200)
@given(urls())
def test_case_of_scheme_and_host_does_not_matter(url: str) -> None:
    scheme, sep, rest = url.partition("://")
    host, slash, tail = rest.partition("/")
    assert normalize_url(f"{scheme.upper()}{sep}{host.upper()}{slash}{tail}") == normalize_url(url)
