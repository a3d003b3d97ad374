"""Bytes of a page or file to text, and telling what the bytes are.

``decode_document`` follows the order browsers use: a byte-order mark, then the
charset the caller got from HTTP, then a ``<meta charset>`` / ``<?xml
encoding?>`` declaration in the first 4 KB, then strict UTF-8, and last
windows-1252 (which, as in browsers, also stands for the ``iso-8859-1`` and
``ascii`` labels). Undecodable bytes become U+FFFD; every guess or repair is
reported as a note so the caller can tell the user.

A declared charset is untrusted input: :mod:`archiver.charsets` is the one
place a label becomes a codec, and only for text encodings a browser could read
(never ``base64``, ``rot13``, ``hex``, ``idna``, ``undefined``, ``utf-7`` ...);
any other label is ignored (with a note) and the bytes are decoded as if
nothing had been declared.

``sniff`` says when bytes are plainly not an HTML page (an image, a PDF, a
compressed body, JSON, a feed), so the collector can say so instead of
harvesting garbage.
"""

from __future__ import annotations

import codecs
import json
import re

from ..charsets import decode_declared, text_codec

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""", re.I)
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b", "gzip-compressed data (a body that was not decompressed?)"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"(\xb5/\xfd", "zstd-compressed data"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 file"),
    (b"\x00asm", "a WebAssembly module"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
)
_FEED_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(rss|feed|urlset|sitemapindex|rdf:RDF)\b", re.S)


def decode_document(data: bytes, declared: str | None = None, *, html: bool = True) -> tuple[str, list[str]]:
    """Decode ``data``; return the text and notes about guesses and repairs."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoded = _decode(data[len(bom) :], encoding, f"byte-order mark says {encoding}")
            if decoded is not None:  # a BOM's codec always decodes
                return decoded
    notes: list[str] = []
    document_label = _declared_in(data) if html else None
    for origin, label in (("HTTP", declared), ("the document", document_label)):
        if not label:
            continue
        codec = text_codec(label)
        if codec is None:
            notes.append(f"unknown or non-text charset {label!r} declared in {origin}; ignored")
            continue
        if origin == "the document" and codec.startswith("utf-16"):
            codec = "utf-8"  # a declaration readable as ASCII cannot be UTF-16 (HTML spec)
        decoded = _decode(data, codec, f"charset {label!r} declared in {origin}")
        if decoded is None:
            notes.append(f"charset {label!r} declared in {origin} could not decode the page; ignored")
            continue
        text, more = decoded
        return text, notes + more
    return _fallback(data, notes)


def _fallback(data: bytes, notes: list[str]) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8"), notes
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    notes.append("not valid UTF-8 and no charset declared; decoded as windows-1252")
    return text, notes


def _decode(data: bytes, encoding: str, why: str) -> tuple[str, list[str]] | None:
    text = decode_declared(data, encoding)
    if text is None:
        return None
    bad = text.count("\ufffd")
    if bad and encoding == "utf-8":
        try:
            return data.decode("cp1252"), [f"{why}, but the bytes are not UTF-8; decoded as windows-1252"]
        except UnicodeDecodeError:
            pass
    return text, [f"{why}, but {bad} byte sequence(s) could not be decoded and were replaced"] if bad else []


def _declared_in(data: bytes) -> str | None:
    head = data[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def sniff(data: bytes | str) -> str | None:
    """What ``data`` is when it is plainly not an HTML page, else None."""
    head = data[:2048]
    raw = head.encode("utf-8", "replace") if isinstance(head, str) else head
    if not raw.strip():
        return "an empty document"
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return what
    if b"\x00" in raw and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary data"
    stripped = raw.lstrip()
    if stripped[:1] in (b"{", b"[") and _is_json(data):
        return "JSON"
    feed = _FEED_ROOT.match(raw)
    if feed:
        kind = feed.group(1).decode()
        return "a sitemap" if kind in ("urlset", "sitemapindex") else "an RSS/Atom feed"
    return None


def _is_json(data: bytes | str) -> bool:
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True
