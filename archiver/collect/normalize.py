"""Canonical form of a cited URL (SPEC §7): one function, property-tested.

``normalize_url`` turns the URL as written into the key the store uses:

- scheme and host lower-cased; a non-ASCII host is IDNA-encoded (punycode,
  UTS #46 mapping, so ``BÜCHER.de`` and ``bücher.de`` agree); one trailing dot
  of the host is dropped; percent-escapes in the host are decoded first;
- the default port of the scheme (http 80, https 443, ftp 21) is dropped, a
  leading-zero port is written plainly (``:080`` -> nothing for http);
- an empty path becomes ``/``; ``.`` and ``..`` segments are resolved
  (RFC 3986 §5.2.4); the path keeps its case;
- percent-encoding is made uniform (RFC 3986 §6.2.2): escapes of unreserved
  characters are decoded (``%7E`` -> ``~``), other escapes upper-cased, and
  characters RFC 3986 does not allow (space, non-ASCII, ``"<>\\^`{|}``) are
  UTF-8 percent-encoded; ``[`` and ``]`` are kept as browsers keep them; a
  ``%`` that starts no escape becomes ``%25``;
- the query keeps its order; tracking parameters (``TRACKING_PARAMS``,
  ``TRACKING_PREFIXES``) and empty ``&&`` pieces are removed; a query left
  empty drops its ``?``;
- the fragment is dropped, except a hash-bang (``#!``) fragment, which on
  AJAX-era sites (``twitter.com/#!/user/status/1``) names the content itself.

URLs whose scheme has no ``//`` authority (``mailto:``, ``javascript:``) only get
the scheme lower-cased and the fragment dropped: which schemes are fetched is
not this module's concern (see ``is_fetchable_scheme``). Whatever cannot be a
URL (no scheme, no host, a bad port, a forbidden character in the host, an
empty host label) raises ``archiver.errors.InvalidURL`` with a message saying
why; nothing else is ever raised. The function is idempotent.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import idna

from ..errors import InvalidURL

__all__ = [
    "InvalidURL",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "is_fetchable_scheme",
    "is_tracking_param",
    "normalize_url",
]

# Query parameters that only tell the target who sent the visitor (campaign,
# click and mailing identifiers). Compared case-insensitively. ``ref`` and
# ``source`` are deliberately absent: many sites use them for content (GitHub's
# ``?ref=branch``).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "rb_clickid",
        "_openstat",
        "ref_src",
        "ref_url",
        "wt_mc",
        "wt.mc_id",
    }
)
TRACKING_PREFIXES = ("utm_",)

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
FETCHABLE_SCHEMES = frozenset({"http", "https"})

# RFC 3986 appendix B, with the scheme made mandatory further down.
_URL_RE = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/[]"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))
_USERINFO_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":"))
# WHATWG "forbidden host code points", plus the separators that cannot survive
# in an authority.
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #%/:<>?@[\\]^|*\"'`{}") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def is_fetchable_scheme(url: str) -> bool:
    """True when ``url`` uses a scheme archiver fetches (http or https)."""
    scheme, sep, _ = url.strip().partition(":")
    return bool(sep) and scheme.lower() in FETCHABLE_SCHEMES


def is_tracking_param(name: str) -> bool:
    """True when a query parameter name is one of the stripped tracking names."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


@functools.lru_cache(maxsize=4096)  # a sweep normalizes each URL when collecting and again when storing
def normalize_url(url: str) -> str:
    """Return the canonical form of an absolute URL; raise InvalidURL if it is none.

    >>> normalize_url("HTTPS://Example.COM:443/a/./b/../C?utm_source=x&id=1#top")
    'https://example.com/a/C?id=1'
    """
    if not isinstance(url, str):
        raise InvalidURL(f"not a URL: {url!r}")
    text = url.strip(" \t\n\r\x0c\x00").translate(_TAB_NEWLINE)
    match = _URL_RE.match(text)
    if not text or match is None or match.group(1) is None:
        raise InvalidURL(f"not an absolute URL (no scheme): {url!r}")
    scheme_raw, authority, path, query, fragment = match.groups()
    if not _SCHEME_RE.match(scheme_raw):
        raise InvalidURL(f"not an absolute URL (bad scheme {scheme_raw!r}): {url!r}")
    scheme = scheme_raw.lower()
    if authority is None:
        if scheme in DEFAULT_PORTS:
            raise InvalidURL(f"{scheme} URL without a host: {url!r}")
        return _opaque(scheme, text, fragment)
    netloc = _normalize_authority(authority, scheme, url)
    path = _remove_dot_segments(_normalize_escapes(path, _PATH_SAFE)) or "/"
    result = f"{scheme}://{netloc}{path}"
    query = _normalize_query(query)
    if query:
        result += "?" + query
    if fragment is not None and fragment.startswith("!"):
        result += "#" + _normalize_escapes(fragment, _QUERY_SAFE | {"#"})
    return result


def _opaque(scheme: str, text: str, fragment: str | None) -> str:
    """A URL without authority (``mailto:``): lower-case scheme, no fragment."""
    rest = text[len(scheme) + 1 :]
    if fragment is not None:
        rest = rest[: len(rest) - len(fragment) - 1]
    return f"{scheme}:{rest}"


def _normalize_authority(authority: str, scheme: str, url: str) -> str:
    userinfo, at, hostport = authority.rpartition("@")
    host, port = _split_port(hostport, url)
    host = _normalize_host(host, url)
    port_text = ""
    if port:
        if not port.isascii() or not port.isdigit():
            raise InvalidURL(f"bad port {port!r} in {url!r}")
        number = int(port)
        if number > 65535:
            raise InvalidURL(f"port {number} out of range in {url!r}")
        if number != DEFAULT_PORTS.get(scheme):
            port_text = f":{number}"
    prefix = _normalize_escapes(userinfo, _USERINFO_SAFE) + "@" if at else ""
    return f"{prefix}{host}{port_text}"


def _split_port(hostport: str, url: str) -> tuple[str, str]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidURL(f"unclosed '[' in host of {url!r}")
        rest = hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"unexpected {rest!r} after IPv6 host in {url!r}")
        return hostport[: end + 1], rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def _normalize_host(host: str, url: str) -> str:
    if host.startswith("["):
        return _normalize_ipv6(host, url)
    if "%" in host:
        host = _decode_host_escapes(host, url)
    if not host.isascii():
        host = _idna_encode(host, url)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidURL(f"empty host in {url!r}")
    bad = sorted({c for c in host if c in _FORBIDDEN_HOST})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise InvalidURL(f"forbidden character {shown} in host {host!r} of {url!r}")
    labels = host.split(".")
    if any(not label for label in labels):
        raise InvalidURL(f"empty label in host {host!r} of {url!r}")
    if len(host) > 253 or any(len(label) > 63 for label in labels):
        raise InvalidURL(f"host name too long in {url!r}")
    return host


def _normalize_ipv6(host: str, url: str) -> str:
    inner = host[1:-1]
    if inner[:1].lower() == "v":  # IPvFuture: keep as written, lower-cased
        return host.lower()
    try:
        return f"[{ipaddress.IPv6Address(inner).compressed}]"
    except ValueError as exc:
        raise InvalidURL(f"bad IPv6 address {host!r} in {url!r}") from exc


def _decode_host_escapes(host: str, url: str) -> str:
    try:
        raw = _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), host)
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        raise InvalidURL(f"bad percent-escape in host of {url!r}") from exc


def _idna_encode(host: str, url: str) -> str:
    """Punycode a non-ASCII host: IDNA 2008 with UTS #46, else IDNA 2003."""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        return host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError) as exc:
        raise InvalidURL(f"host {host!r} cannot be IDNA-encoded in {url!r}") from exc


def _normalize_escapes(part: str, safe: frozenset[str]) -> str:
    """Uniform percent-encoding of one URL component (idempotent)."""
    out: list[str] = []
    i = 0
    n = len(part)
    while i < n:
        char = part[i]
        if char == "%":
            escape = _ESCAPE_RE.match(part, i)
            if escape:
                decoded = chr(int(escape.group(1), 16))
                out.append(decoded if decoded in _UNRESERVED else escape.group(0).upper())
                i += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, for a path that begins with '/' (or is empty)."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        if segment == "..":
            if len(output) > 0:
                output.pop()
            if last:
                output.append("")
        elif segment == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _normalize_query(query: str | None) -> str:
    if not query:
        return ""
    pieces = _normalize_escapes(query, _QUERY_SAFE).split("&")
    kept = [p for p in pieces if p and not is_tracking_param(p.split("=", 1)[0])]
    return "&".join(kept)
