"""Heuristics the checker applies to what it fetched (pure: values in, values out).

Each function answers one question about URLs, statuses or page text:

- URL shape: :func:`is_site_root`, :func:`looks_like_404_path`,
  :func:`redirect_to_root`, :func:`is_trivial_redirect`, :func:`probe_url`.
- Page kind: :func:`looks_parked`, :func:`looks_like_challenge`,
  :func:`looks_like_error_page`, :func:`same_as_probe`.
- HTTP: :func:`classify_status`, :func:`parse_retry_after`.

They decide nothing about a link's state; ``check`` combines them (SPEC §5).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from .diff import similarity
from ..models import Verdict

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]

# ---------------------------------------------------------------- URL shapes

_INDEX_PAGE = re.compile(r"^(index|default|home|start|main)(\.(html?|php|aspx?|jsp|cfm|shtml))?$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[a-z]{2}([-_][a-z]{2})?$", re.IGNORECASE)
_ROOT_QUERY_KEYS = frozenset({"lang", "hl", "locale", "ref", "source", "from", "redirect", "redirected"})
_404_SEGMENT = re.compile(
    r"^(404|error|error[-_]?404|404[-_]?(error|page|not[-_]?found)|http[-_]?404|page[-_]?404|not[-_]?found"
    r"|page[-_]?not[-_]?found|file[-_]?not[-_]?found|fehler|fehlerseite|fehler[-_]?404|nicht[-_]?gefunden"
    r"|seite[-_]?nicht[-_]?gefunden|page[-_]?introuvable|pagina[-_]?no[-_]?encontrada)"
    r"(\.(html?|php|aspx?|jsp|shtml|cfm))?$",
    re.IGNORECASE,
)
_404_QUERY = re.compile(
    r"(^|&)(code|status|error|err|errorcode|statuscode|e)=404\b|aspxerrorpath=|^404;", re.IGNORECASE
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> tuple[str, str, str, str]:
    """(scheme, host, path, query) of a URL, lower-cased where case does not matter."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").rstrip(".").lower()
    return parts.scheme.lower(), host, parts.path, parts.query


def is_site_root(url: str) -> bool:
    """The home page of a site: ``/``, ``/index.html``, ``/en/`` and the like.

    A query makes it a different page unless it only picks a language or
    records where the visitor came from (``/?lang=en``).
    """
    _, _, path, query = _split(url)
    segments = [s for s in unquote(path).split("/") if s]
    if len(segments) > 2:
        return False
    if len(segments) == 2 and not (_LANGUAGE.match(segments[0]) and _INDEX_PAGE.match(segments[1])):
        return False
    if len(segments) == 1 and not (_INDEX_PAGE.match(segments[0]) or _LANGUAGE.match(segments[0])):
        return False
    keys = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
    return all(k in _ROOT_QUERY_KEYS or k.startswith("utm_") for k in keys)


def looks_like_404_path(url: str) -> bool:
    """A URL sites redirect to when a page is missing: ``/404``, ``/not-found``,
    ``/error?code=404``, ``/Error.aspx?aspxerrorpath=...``, ``/seite-nicht-gefunden``."""
    _, _, path, query = _split(url)
    segments = [s for s in unquote(path).split("/") if s]
    if any(s == "404" or s.startswith("404.") for s in segments):
        return True
    if segments and _404_SEGMENT.match(segments[-1]):
        return True
    return bool(_404_QUERY.search(query))


def redirect_to_root(cited_url: str, final_url: str) -> bool:
    """The fetch of a deep link ended on the site root or an error path (soft-404)."""
    if is_site_root(cited_url) or looks_like_404_path(cited_url):
        return False
    if _comparable(cited_url) == _comparable(final_url):
        return False
    return is_site_root(final_url) or looks_like_404_path(final_url)


def _comparable(url: str) -> tuple[str, str, str]:
    """Host without ``www.``, path without trailing slash, query: what makes a page."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").rstrip(".").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = _norm_escapes(parts.path).rstrip("/") or "/"
    return host, path, _norm_escapes(parts.query)


def _norm_escapes(text: str) -> str:
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m[0].upper(), text)


def is_trivial_redirect(a: str, b: str) -> bool:
    """``a`` and ``b`` differ at most in http→https, ``www.``, a trailing slash,
    host case, a default port or the fragment: not a move (SPEC §5)."""
    schemes = {urlsplit(a.strip()).scheme.lower(), urlsplit(b.strip()).scheme.lower()}
    if not schemes <= {"http", "https"}:
        return a.strip() == b.strip()
    return _comparable(a) == _comparable(b)


def probe_url(url: str, rng: random.Random) -> str:
    """A random URL of the same shape on the same host, for the soft-404 probe.

    The last path segment is replaced character class by character class
    (lower, upper, digit; separators and the extension kept), padded so it is
    long enough never to exist; an all-digit id gets four more digits (a
    same-length id might be a real article). When the query carries the
    identity (``/article.php?id=123``, ``/?p=42``) the query values are
    randomized instead. The trailing slash is kept, the fragment dropped.
    """
    parts = urlsplit(url.strip())
    path, query = parts.path, parts.query
    segments = path.split("/")
    last = max((i for i, s in enumerate(segments) if s), default=None)
    if query and (last is None or _is_script(segments[last])):
        query = _probe_query(query, rng)
    elif last is None:
        path = "/" + _random_like("", rng)
    else:
        segments[last] = _random_segment(segments[last], rng)
        path = "/".join(segments)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _is_script(segment: str) -> bool:
    return bool(re.search(r"\.(php\d?|aspx?|jsp|cgi|pl|cfm|do|action)$", segment, re.IGNORECASE)) or bool(
        _INDEX_PAGE.match(segment)
    )


def _random_segment(segment: str, rng: random.Random) -> str:
    stem, dot, ext = unquote(segment).rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,5}", ext) or not stem:
        stem, dot, ext = unquote(segment), "", ""
    return quote(_random_like(stem, rng), safe="-_~!$&'()*+,;=:@") + dot + ext


def _random_like(value: str, rng: random.Random, min_random: int = 12) -> str:
    """A random string of ``value``'s shape with at least ``min_random`` random characters."""
    if value.isdigit():
        return "".join(rng.choice(string.digits) for _ in range(len(value) + 4))
    out, count = [], 0
    for ch in value:
        pool = _pool(ch)
        out.append(rng.choice(pool) if pool else ch)
        count += bool(pool)
    tail_pool = string.ascii_lowercase if not value or not value[-1].isdigit() else string.digits
    if count < min_random:
        out.append("".join(rng.choice(tail_pool) for _ in range(min_random - count)))
    return "".join(out)


def _pool(ch: str) -> str:
    if ch in string.ascii_lowercase or (ch.isalpha() and ch.islower()):
        return string.ascii_lowercase
    if ch in string.ascii_uppercase or ch.isalpha():
        return string.ascii_uppercase
    if ch.isdigit():
        return string.digits
    return ""


def _probe_query(query: str, rng: random.Random) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, _random_like(v, rng, min_random=8) if v else v) for k, v in pairs])


# ---------------------------------------------------------------- page kinds

_TAGS = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->|<[^>]+>", re.DOTALL | re.IGNORECASE)
_ENTITY = re.compile(r"&(nbsp|#160|#xa0);", re.IGNORECASE)


def visible_words(html_text: str, limit: int = 2_000_000) -> list[str]:
    """Rough visible words of an HTML source (scripts, styles, tags dropped)."""
    return _ENTITY.sub(" ", _TAGS.sub(" ", html_text[:limit])).split()


_PARKING_MARKERS = re.compile(
    r"sedoparking\.com|parkingcrew\.net|bodis\.com|parklogic\.com|above\.com/marketplace"
    r"|img\d?\.wsimg\.com/parking-lander|parking-lander|dsnextgen\.com|/adsense/domains/caf\.js"
    r"|domainparking|parked-content\.godaddy|cashparking|smartname\.com|voodoo\.com/park"
    r"|trafficparking|parkingpage|park\.above\.com|dan\.com/buy-domain|afternic\.com/forsale"
    r"|hugedomains\.com/domain_profile|\bpk\.bodis\b",
    re.IGNORECASE,
)
# Pure domain marketplaces: a cited page redirected here, to a URL naming a
# domain, is a domain for sale. (Registrars such as GoDaddy are caught by the
# parking markers of their landers instead: they also host real articles.)
_MARKETPLACE_HOSTS = (
    "sedo.com", "dan.com", "afternic.com", "hugedomains.com", "buydomains.com", "undeveloped.com",
    "domainmarket.com", "bodis.com", "parkingcrew.net", "atom.com", "squadhelp.com", "brandbucket.com",
)  # fmt: skip
_PARKED_PHRASES = re.compile(
    r"(this|the) domain( name)? (is|may be|might be|could be) (for sale|available|parked)"
    r"|domain( name)? (is )?for sale|buy this domain|make an offer on this domain|this domain is parked"
    r"|parked (free|domain)|domain parking|this web ?page is parked|inquire about this domain"
    r"|(diese|die) domain (steht zum verkauf|kaufen|ist (möglicherweise )?zu verkaufen|wurde registriert)"
    r"|domain (kaufen|zu verkaufen|steht zum verkauf)|domain has expired|domain (name )?expired"
    r"|ce domaine est (à vendre|parqué)|este dominio está a la venta",
    re.IGNORECASE,
)


def looks_parked(html_text: str, title: str | None, final_url: str) -> bool:
    """A parked or for-sale domain page instead of the cited content.

    True when the fetch ended on a domain marketplace, the page loads a
    parking service, the title says the domain is for sale, or a short page
    says so (a long article that merely mentions domain sales does not count).
    """
    host = _split(final_url)[1]
    if any(host == m or host.endswith("." + m) for m in _MARKETPLACE_HOSTS) and _names_a_domain(final_url):
        return True
    if title and _PARKED_PHRASES.search(title):
        return True
    head = html_text[:300_000]
    words = visible_words(head)
    if len(words) >= 400:  # a real page that may mention parking or domain sales
        return False
    if _PARKING_MARKERS.search(head) or _PARKED_PHRASES.search(" ".join(words)):
        return True
    # the ww1./ww2. hop of Bodis/ParkingCrew landers, which render by script
    return bool(re.match(r"^ww\d\.", host)) and len(words) < 50


def _names_a_domain(url: str) -> bool:
    """A marketplace URL about one domain (``/forsale/example.com``, ``?domain=x.de``)."""
    parts = urlsplit(url)
    return bool(re.search(r"[a-z0-9-]+\.[a-z]{2,}", unquote(parts.path + "?" + parts.query).lower()))


_CHALLENGE_TITLE = re.compile(
    r"^(just a moment\.*|attention required!? \| cloudflare|please wait\.*|one moment, please\.*"
    r"|ddos-guard|ddos protection by .*|access denied|robot check|are you a robot\??|security check"
    r"|verify(ing)? you are (a )?human|human verification|captcha|pardon our interruption\.*"
    r"|checking your browser.*|vercel security checkpoint|request rejected|bot verification"
    r"|you have been blocked|access to this page has been denied\.?)$",
    re.IGNORECASE,
)
_CHALLENGE_MARKERS = re.compile(
    r"cf_chl_opt|cf-browser-verification|cf_chl_prog|/cdn-cgi/challenge-platform/h/"
    r"|checking your browser before accessing|enable javascript and cookies to continue"
    r"|check\.ddos-guard\.net|ddos-guard\.net/|__ddg\d?_|errors\.edgesuite\.net"
    r"|you don't have permission to access .{0,200} on this server\.?.{0,300}reference #"
    r"|incapsula incident id|_incapsula_resource|captcha-delivery\.com|px-captcha|perimeterx"
    r"|/\.well-known/sgcaptcha|awswaf|verify you are human by completing"
    r"|please complete the security check|please enable cookies.{0,100}cloudflare",
    re.IGNORECASE | re.DOTALL,
)
_CAPTCHA = re.compile(r"g-recaptcha|h-captcha|hcaptcha\.com|recaptcha/api|turnstile|captcha", re.IGNORECASE)


def looks_like_challenge(status: int, headers: Headers | None, html_text: str) -> bool:
    """A bot challenge or WAF refusal (Cloudflare, DDoS-Guard, Akamai, Imperva, ...).

    Such a page says the server refuses *us*: the link is blocked, not dead.
    Vendor markers only count on short pages, so an article that embeds a
    captcha in its comment form is not mistaken for one.
    """
    fields = _header_map(headers)
    if "challenge" in fields.get("cf-mitigated", "").lower():
        return True
    head = html_text[:300_000]
    title = _html_title(head)
    words = len(visible_words(head))
    if title and _CHALLENGE_TITLE.match(title) and words < 300:
        return True
    if words < 300 and _CHALLENGE_MARKERS.search(head):
        return True
    refusing = status in (403, 429, 503) or status >= 520
    return refusing and words < 150 and bool(_CAPTCHA.search(head))


def _header_map(headers: Headers | None) -> dict[str, str]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in items:
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out.setdefault(k.lower(), v)
    return out


def _html_title(html_text: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title\s*>", html_text, re.IGNORECASE | re.DOTALL)
    return " ".join(match[1].split()) if match else None


# Titles that name an error whatever the page length ...
_ERROR_TITLE_STRONG = re.compile(
    r"page (was )?not found|file not found|page (does not|doesn'?t|doesn’t) exist|seite nicht gefunden"
    r"|page (cannot|can'?t|can’t|could not|couldn'?t) be found|seite existiert nicht|page introuvable"
    r"|pagina non trovata|página no encontrada|pagina niet gevonden|strona nie znaleziona"
    r"|\b404\b.{0,20}(not found|error|page|seite|fehler|nicht)|(error|fehler|page|seite|http)\W{0,3}404\b"
    r"|^\W*404\W*$|^404\s*[-–|:]|oops!?.{0,40}(page|can'?t|can’t|not found)",
    re.IGNORECASE,
)
# ... and ones that do so only on a short page.
_ERROR_TITLE_WEAK = re.compile(
    r"not found|nicht gefunden|nothing (was )?found|no longer (exists|available)|\b404\b"
    r"|^\W*(error|fehler)\W*(\d{3})?\W*$",
    re.IGNORECASE,
)
_ERROR_TEXT = re.compile(
    r"nothing (was )?found at this location|the page you (are|were|'re|’re) looking for"
    r"|the (page|url|resource) you requested|requested (page|url) (was|could) not"
    r"|die (angeforderte|gewünschte|gesuchte) seite|die seite,? die sie (suchen|aufrufen)"
    r"|seite (wurde )?nicht gefunden|page (was )?not found|(page|article) (does not|doesn'?t|doesn’t) exist"
    r"|(page|article) (cannot|can'?t|can’t|could not) be found|\b404\b",
    re.IGNORECASE,
)


def looks_like_error_page(title: str | None, text: str, *, heading: str | None = None) -> bool:
    """An error page served with a success status ("Page not found", "Seite nicht
    gefunden", "404"): an error phrase in the title or heading, or in the
    opening of a short main text. Long pages need an unambiguous title."""
    words = len(text.split())
    labels = [v for v in (title, heading) if v]
    if words <= 1000 and any(_ERROR_TITLE_STRONG.search(v) for v in labels):
        return True
    if words <= 250 and any(_ERROR_TITLE_WEAK.search(v) for v in labels):
        return True
    opening = " ".join(text.split()[:60])
    return words < 120 and bool(_ERROR_TEXT.search(opening))


PROBE_SIMILARITY = 0.85


def same_as_probe(live_final_url: str, live_text: str, probe_final_url: str, probe_text: str) -> bool:
    """The host answers the random probe as it answers the cited URL.

    True when both fetches ended on the same URL (a redirect of unknown paths
    to one page), or when their main texts are nearly identical once each URL's
    own path is masked out (error pages that echo the requested path). Two
    empty texts prove nothing (a page rendered by script), so they do not count.
    ``check`` must also make sure the cited copy did not look like this answer.
    """
    if _comparable(live_final_url) == _comparable(probe_final_url):
        return True
    if not live_text.strip() and not probe_text.strip():
        return False
    live = _mask_url(live_text, live_final_url)
    probe = _mask_url(probe_text, probe_final_url)
    return similarity(live, probe) >= PROBE_SIMILARITY


def _mask_url(text: str, url: str) -> str:
    parts = urlsplit(url)
    last = next((s for s in reversed(parts.path.split("/")) if s), "")
    for needle in sorted({url, parts.path, unquote(parts.path), last, unquote(last)}, key=len, reverse=True):
        if len(needle) > 1:
            text = text.replace(needle, " REQUESTED ")
    return text


# ---------------------------------------------------------------- HTTP

_BLOCKING = frozenset({401, 403, 406, 407, 418, 429, 451, 999})


def classify_status(status: int) -> tuple[Verdict, str] | None:
    """Verdict implied by a final HTTP status alone; None for 1xx/2xx/3xx.

    404/410/5xx and other 4xx are failures (evidence of rot, confirmed over
    time by ``check``); 401/403/407/429/451 (and 406/418/999, which sites use
    to refuse bots) mean blocked, which is never evidence of death.
    """
    if 100 <= status < 400:
        return None
    if status in _BLOCKING:
        return Verdict.BLOCKED, f"http-{status}"
    if 500 <= status < 600:
        return Verdict.FAILED, "http-5xx"
    return Verdict.FAILED, f"http-{status}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``now`` per a Retry-After header (delta-seconds or
    HTTP-date); never negative; None when absent or unparsable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
