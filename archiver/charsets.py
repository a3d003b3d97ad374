"""Charset labels from pages and servers to Python codecs: the one place.

A declared charset is untrusted input. ``text_codec`` turns a label (from a
``Content-Type`` header, a ``<meta charset>`` or an ``<?xml encoding?>``)
into a codec only when it names a text encoding a browser could read, with the
WHATWG aliases (``iso-8859-1``, ``ascii`` ... mean windows-1252); never
``base64``, ``rot13``, ``hex``, ``zlib``, ``idna``, ``undefined``, ``utf-7``.
A caller given None decodes as if nothing had been declared.
``decode_declared`` decodes with such a codec and never raises.
"""

from __future__ import annotations

import codecs
import re

WINDOWS_1252_LABELS = {
    "iso-8859-1",
    "iso8859-1",
    "latin-1",
    "latin1",
    "l1",
    "ascii",
    "us-ascii",
    "cp819",
    "iso_8859-1",
}

# Python text codecs no browser decodes a page with: they raise on arbitrary
# bytes (idna, undefined), are not character sets (punycode, the escape codecs)
# or are refused by the WHATWG Encoding Standard because they hide markup from
# filters (utf-7). mbcs and oem exist on Windows only.
_NOT_PAGE_CODECS = frozenset({
    "idna", "punycode", "undefined", "utf-7", "unicode-escape", "raw-unicode-escape", "mbcs", "oem",
})  # fmt: skip
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def text_codec(label: str) -> str | None:
    """The Python codec for a charset label a page or a server declared, following
    the WHATWG aliases; None unless it names a text encoding a browser could read."""
    label = label.strip().strip("\"'").strip().lower()
    if label in WINDOWS_1252_LABELS or label == "x-user-defined":
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", False) or info.name in _NOT_PAGE_CODECS:
        return None
    return info.name


def decode_declared(data: bytes, codec: str) -> str | None:
    """``data`` decoded with a codec from :func:`text_codec` (undecodable bytes
    become U+FFFD); None if the codec fails anyway. Never raises."""
    try:
        return data.decode(codec, errors="replace")
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def header_charset(content_type: str | None) -> str | None:
    """The charset label of a ``Content-Type`` header value, as written (None without one)."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match[1] if match else None
