"""Which links on a page are not citations.

A page links to many things it does not cite. ``noise_reason`` names why a
link is one of them (or returns None for a citation). The rules, in order:

- ``scheme``: only http, https and ftp links can cite a web page; ``mailto:``,
  ``javascript:``, ``tel:``, ``whatsapp:`` and the like are skipped;
- ``same page``: the page itself, whatever its fragment (``#comment-12``,
  ``#respond``) or query (``?replytocom=12``, ``?share=twitter``,
  ``?like_comment=3``), compared without ``www.``, scheme and trailing slash;
  on a site's root path only such noise queries count, since ``/?p=123`` is
  another article there;
- ``share button``: twitter.com/intent, facebook.com/sharer, linkedin
  shareArticle, reddit submit, whatsapp send ... (``SHARE_URLS``);
- ``login``: log-in, sign-up, register and log-out pages on any site
  (``wp-login.php``, ``/log-in``, ``/signup``, ``?action=register``);
- ``feed``: RSS/Atom feeds (``/feed/``, ``/comments/feed``, ``.rss``,
  ``?feed=rss2``, feedburner);
- ``site archive``: tag, category, author, topic, user-profile, date-archive,
  pagination and search pages of the page's own site (host without ``www.``);
- ``edit link``: ``action=edit`` / ``redlink=1`` links of the page's own site
  (wikis);
- ``credit``: "Powered by WordPress"-style links, told by their anchor text.

Links given by the markup (commenter homepages, comment permalinks) are the
HTML collector's business; this module only looks at URLs and anchor text.

``unwrap_redirect`` takes the cited URL out of a platform's redirect wrapper
(``disq.us/url?url=``, ``href.li/?``, ``google.com/url?q=``,
``l.facebook.com/l.php?u=``, ``t.umblr.com/redirect?z=``): the page cited is
the wrapped one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import UsageError

from .normalize import InvalidURL, normalize_url

CITABLE_SCHEMES = frozenset({"http", "https", "ftp"})
# Platform redirect wrappers: host -> (path prefix, query parameter holding the URL; None = the whole query)
_WRAPPERS = {
    "disq.us": ("/url", "url"),
    "href.li": ("/", None),
    "www.google.com": ("/url", "q"),
    "google.com": ("/url", "q"),
    "l.facebook.com": ("/l.php", "u"),
    "lm.facebook.com": ("/l.php", "u"),
    "t.umblr.com": ("/redirect", "z"),
}

SHARE_URLS = re.compile(
    r"^(?:[\w-]+\.)*(?:"
    r"(?:twitter|x)\.com/(?:intent/|share\b|home\?status=)|"
    r"facebook\.com/(?:sharer|share\.php|dialog/(?:share|feed|send))|"
    r"linkedin\.com/(?:sharearticle|sharing/|cws/share)|"
    r"pinterest\.[a-z.]+/pin/create|reddit\.com/submit|news\.ycombinator\.com/submitlink|"
    r"tumblr\.com/(?:share|widgets/share)|getpocket\.com/(?:save|edit)|plus\.google\.com/share|"
    r"wa\.me/(?:\?|$)|(?:api|web)\.whatsapp\.com/send|(?:t|telegram)\.me/share|vk\.com/share\.php|"
    r"xing\.com/(?:spi/shares|social/share|app/user\?op=share)|(?:buffer|bufferapp)\.com/add|"
    r"digg\.com/submit|mix\.com/add|flipboard\.com/bookmarklet|addtoany\.com/(?:share|add_to)|"
    r"addthis\.com/bookmark|sharethis\.com/share|service\.weibo\.com/share|connect\.ok\.ru/offer|"
    r"threads\.net/intent|bsky\.app/intent|mastodonshare\.com|toot\.kytta\.net|"
    r"stumbleupon\.com/submit|del\.icio\.us/post|delicious\.com/save|blogger\.com/blog-this"
    r")",
    re.I,
)
_LOGIN_PATH = re.compile(
    r"(?:^|/)(?:wp-login\.php|wp-signup\.php|wp-admin|log-?in|log-?out|sign-?in|sign-?up|sign-?out|"
    r"register|registration|anmelden|abmelden|registrieren|einloggen|ausloggen|"
    r"account/(?:login|signin|register))(?:[/.?]|$)",
    re.I,
)
_LOGIN_QUERY = re.compile(r"(?:^|&)action=(?:login|logout|register|signup|lostpassword)(?:&|$)", re.I)
_FEED_PATH = re.compile(
    r"(?:/(?:feed|rss|atom|rss2|rdf)(?:/(?:rss2?|atom|rdf))?/?$|\.(?:rss|atom|rdf)$|/(?:rss|atom|feed|index)\.xml$)",
    re.I,
)
_FEED_QUERY = re.compile(r"(?:^|&)feed=", re.I)
_FEED_HOSTS = ("feeds.feedburner.com", "feeds2.feedburner.com", "feedproxy.google.com")
_ARCHIVE_PATH = re.compile(
    r"(?:^|/)(?:tags?|category|categories|kategorie|kategorien|rubrik|author|authors|autor|autoren|topics?|"
    r"thema|themen|schlagwort|schlagworte|label|labels|users?|members?|profiles?|benutzer|u|search|suche)"
    r"(?:/[^/]+){0,2}$|(?:^|/)(?:archives?|archiv)(?:/\d{1,4}){0,3}$|^/\d{4}(?:/\d{1,2}){0,2}$|/page/\d+$",
    re.I,
)
_ARCHIVE_QUERY = re.compile(r"(?:^|&)(?:cat|tag|author|s|m|paged|category_name)=", re.I)
_EDIT_QUERY = re.compile(r"(?:^|&)(?:action=(?:edit|history|info|raw|submit)|redlink=1|oldid=|diff=)", re.I)
_CREDIT_ANCHOR = re.compile(
    r"\b(?:powered by|proudly powered|theme by|designed by|betrieben mit|bereitgestellt von)\b", re.I
)
_ABSOLUTE = re.compile(r"(?:https?|ftp)://", re.I)
_SELF_QUERY_KEYS = frozenset(
    {
        "replytocom",
        "like_comment",
        "_wpnonce",
        "share",
        "nb",
        "print",
        "amp",
        "output",
        "shared",
        "msg",
        "redirect_to",
        "unapproved",
        "moderation-hash",
        "cpage",
        "noamp",
        "lang",
        "hl",
    }
)
_ROOT_PATHS = frozenset({"", "/index.php", "/index.html", "/index.htm", "/default.aspx"})


def _site_key(url: str) -> tuple[str, str, str] | None:
    """(host without www., path without trailing slash, query) of a normalized URL."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None
    return host, parts.path.rstrip("/"), parts.query


@dataclass(frozen=True)
class Page:
    """The page a link was found on: its own URLs (base, canonical, og:url)."""

    keys: frozenset[tuple[str, str]]
    hosts: frozenset[str]

    @classmethod
    def from_urls(cls, urls: Iterable[str | None]) -> Page:
        keys: set[tuple[str, str]] = set()
        for url in urls:
            key = _site_key(_safe_normalize(url)) if url else None
            if key and key[0]:
                keys.add(key[:2])
        return cls(frozenset(keys), frozenset(host for host, _ in keys))


def _safe_normalize(url: str) -> str:
    try:
        return normalize_url(url)
    except InvalidURL:
        return ""


def noise_reason(normalized: str, page: Page, anchor: str | None = None) -> str | None:
    """Why the link ``normalized`` (a normalize_url result) is not a citation."""
    scheme = normalized.partition(":")[0]
    if scheme not in CITABLE_SCHEMES:
        return "scheme"
    key = _site_key(normalized)
    if key is None:
        return None
    host, path, query = key
    if (host, path) in page.keys and (path not in _ROOT_PATHS or _only_self_keys(query)):
        return "same page"
    host_path = normalized.split("://", 1)[-1]
    if SHARE_URLS.match(host_path):
        return "share button"
    if _LOGIN_PATH.search(path) or _LOGIN_QUERY.search(query):
        return "login"
    if _FEED_PATH.search(path) or _FEED_QUERY.search(query) or host in _FEED_HOSTS:
        return "feed"
    if host in page.hosts:
        if _ARCHIVE_PATH.search(path) or (path in _ROOT_PATHS and _ARCHIVE_QUERY.search(query)):
            return "site archive"
        if _EDIT_QUERY.search(query):
            return "edit link"
    if anchor and _CREDIT_ANCHOR.search(anchor):
        return "credit"
    return None


def _only_self_keys(query: str) -> bool:
    return all(piece.split("=", 1)[0].lower() in _SELF_QUERY_KEYS for piece in query.split("&") if piece)


def is_excluded(url: str, patterns: list[str]) -> bool:
    """True when ``url`` (as written or normalized) matches a ``[collect] exclude`` regex.

    Patterns are searched (``re.search``), not anchored. An invalid pattern
    raises UsageError naming it.
    """
    if not patterns:
        return False
    candidates = [url]
    normalized = _safe_normalize(url)
    if normalized and normalized != url:
        candidates.append(normalized)
    return any(_compiled(p).search(c) for p in patterns for c in candidates)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"[collect] exclude: invalid regular expression {pattern!r}: {exc}") from exc


def unwrap_redirect(url: str) -> str:
    """The URL inside a platform redirect wrapper (disq.us, href.li ...), else ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    rule = _WRAPPERS.get((parts.hostname or "").lower())
    if rule is None or not parts.path.startswith(rule[0]) or not parts.query:
        return url
    inner = unquote(parts.query) if rule[1] is None else (parse_qs(parts.query).get(rule[1]) or [""])[0]
    if parts.hostname == "disq.us":
        inner = re.sub(r":[\w-]+$", "", inner)
    return inner if _ABSOLUTE.match(inner) else url
