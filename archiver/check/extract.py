"""Main text, title and fingerprint of a fetched page (pure: no network, no DB).

The checker compares pages by their *main text*: the article as trafilatura
finds it, without reader comments, navigation, ads or "most read" boxes, so
that the chrome a site rotates on every request never looks like a change.

Three steps turn a stored response body into comparable values::

    decode_body(raw, content_encoding, limit=...)  -> bytes   (gzip/deflate, capped)
    decode_text(body, content_type)                 -> str     (charset sniffing)
    extract(html, url)                              -> Extracted

``extract`` never raises: an empty, non-HTML or broken page yields an
:class:`Extracted` with empty ``text``.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import logging
import re
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lxml.html import HtmlElement

from .. import markup
from ..charsets import decode_declared, header_charset, text_codec

log = logging.getLogger(__name__)

#: HTML beyond this many characters (after dropping scripts and styles) is cut
#: off before extraction. Trafilatura runs at about 2 MB/s on real pages but
#: turns superlinear on huge flat documents (2 MB of bare paragraphs: ~8 s);
#: the cap bounds what one pathological page can cost a check.
MAX_HTML_CHARS = 2_000_000
#: An HTML body is inflated to at most this many bytes for extraction (scripts
#: and styles, dropped before the cut above, can make up most of a page); the
#: rest of a bigger one, a decompression bomb above all, is never inflated.
MAX_HTML_BYTES = 8 * MAX_HTML_CHARS
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_CHUNK = 64 * 1024

# Elements that hold ads whatever the site; trafilatura already drops most
# chrome, these are the ad slots it lets through inside article bodies. Class
# and id tokens are matched whole, never as substrings ("header", "lead").
_AD_TOKENS = (
    "ad", "ads", "advert", "adverts", "advertisement", "advertising", "adsbygoogle",
    "ad-slot", "ad-unit", "ad-container", "ad-wrapper", "ad-banner", "google-ad",
    "anzeige", "werbung", "sponsored", "sponsored-content", "native-ad", "taboola", "outbrain",
)  # fmt: skip
_AD_XPATH = (
    "//*[("
    + " or ".join(f"contains(concat(' ', normalize-space(@class), ' '), ' {t} ') or @id='{t}'" for t in _AD_TOKENS)
    + " or starts-with(@id, 'div-gpt-ad') or @data-ad-slot or @data-ad-client"
    + " or @aria-label='Advertisement' or @aria-label='Anzeige')"
    + " and not(.//article) and string-length(normalize-space(.)) < 1500]"
)

# Lines that are only an ad label ("Advertisement", "Anzeige", "- Werbung -").
_AD_LABEL_LINE = re.compile(
    r"^[\W_]*(advertisement|advertising|ad|ads|sponsored|anzeige|werbung|publicité|publicidad)[\W_]*$",
    re.IGNORECASE,
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[^\S\n]+")


# ---------------------------------------------------------------- bytes -> text


def decode_body(raw: bytes | BinaryIO, content_encoding: str | None, *, limit: int) -> bytes:
    """Undo ``Content-Encoding`` and return at most ``limit`` bytes.

    ``raw`` is the body as sent, in memory or as a binary file (read in
    chunks). Supports ``identity``, ``gzip``/``x-gzip`` (several members too)
    and ``deflate`` (zlib-wrapped or raw, both seen in the wild); a list such
    as ``"gzip, gzip"`` is undone right to left. Decompression streams chunk
    by chunk with a running cap, and the output is built once: a gzip bomb
    costs ``limit`` bytes of memory (and 64 KB more), never a copy of them or
    of the body. A truncated stream yields what could be decoded. Raises
    ``ValueError`` naming an unsupported encoding (``br``, ``zstd``, ...) or
    describing corrupt compressed data.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c not in ("identity", "none")]
    for coding in codings:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise ValueError(f"unsupported content-encoding: {coding!r}")
    if not codings:
        return bytes(raw[:limit]) if isinstance(raw, (bytes, bytearray)) else raw.read(limit)
    chunks = _read(io.BytesIO(raw) if isinstance(raw, (bytes, bytearray)) else raw)
    for coding in reversed(codings):
        chunks = _inflate_deflate(chunks) if coding == "deflate" else _inflate(chunks, _GZIP, multi_member=True)
    out = io.BytesIO()
    for chunk in chunks:
        room = limit - out.tell()
        out.write(chunk[:room])
        if len(chunk) >= room:
            break
    return out.getvalue()  # the buffer itself, not a copy (CPython hands it over when no view is left)


_GZIP = zlib.MAX_WBITS | 16


def _read(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


def _inflate_deflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``deflate`` as the RFC says (zlib wrapper), else raw deflate, told by the first two bytes."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 2:
            break
    zlib_wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
    return _inflate(itertools.chain([head], chunks), zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)


def _inflate(chunks: Iterator[bytes], wbits: int, *, multi_member: bool = False) -> Iterator[bytes]:
    """Decompress ``chunks`` with zlib, at most ``_CHUNK`` bytes of output at a time.

    With ``multi_member``, a new stream may follow one that ended (gzip
    members); bytes after the end that do not start one are ignored."""
    inflater = zlib.decompressobj(wbits)
    produced = False
    for data in itertools.chain(chunks, [b""]):  # b"": the input ended, drain what is pending
        while True:
            try:
                out = inflater.decompress(data, _CHUNK)
            except zlib.error as exc:
                if produced:  # garbage after what could be decoded
                    return
                raise ValueError(f"corrupt compressed body: {exc}") from None
            if out:
                produced = True
                yield out
            if inflater.eof:
                if not multi_member:
                    return
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits)
                if not data:
                    break
                continue
            data = inflater.unconsumed_tail
            if not data and not out:
                break  # needs more input


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def decode_text(body: bytes, content_type: str | None) -> str:
    """Decode an HTML body as a browser would, never raising.

    Order: byte-order mark, ``charset`` of the Content-Type header, a
    ``<meta charset>`` or ``http-equiv`` declaration in the first 8 KB, then
    UTF-8. Undecodable bytes become U+FFFD. A declared label that names no
    text encoding (``base64``, ``rot13``, ``idna`` ...) is ignored
    (:func:`archiver.charsets.text_codec` decides, for collect too).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    for codec in (_header_charset(content_type), _meta_charset(body[:8192])):
        text = decode_declared(body, codec) if codec else None
        if text is not None:
            return text
    return body.decode("utf-8", errors="replace")


def _header_charset(content_type: str | None) -> str | None:
    label = header_charset(content_type)
    return text_codec(label) if label else None


def _meta_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    if not match:
        return None
    codec = text_codec(match[1].decode("ascii", "replace"))
    return "utf-8" if codec and codec.startswith("utf-16") else codec


# ---------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Extracted:
    """What the checker compares: main text (comments excluded) and title.

    ``text`` is normalized: NFC, one paragraph per line, single spaces, no
    empty lines, no ad labels. ``fingerprint`` is ``"sha1:<hex>"`` of ``text``,
    so equal fingerprints mean equal main texts. ``heading`` is the first
    ``<h1>``; ``truncated`` says the HTML was cut at ``MAX_HTML_CHARS`` or
    at the element budget of :mod:`archiver.markup`.
    """

    title: str | None
    text: str
    fingerprint: str
    heading: str | None = None
    words: int = 0
    truncated: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.text


def fingerprint(text: str) -> str:
    """Stable fingerprint of normalized text: ``"sha1:<40 hex>"``."""
    return "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract main text (without comments), title and heading of a page.

    Never raises: empty, non-HTML or broken input gives empty ``text``.
    """
    if isinstance(html, bytes):
        html = decode_text(html, None)
    html, truncated = _bounded(html)
    html, _ = markup.tame(html)
    tree = _parse(html)
    if tree is None:
        return _result(None, "", None, truncated)
    truncated = markup.cut(tree) or truncated
    title, heading = _labels(tree)
    return _result(title, _main_text(tree, url), heading, truncated)


def _labels(tree: HtmlElement) -> tuple[str | None, str | None]:
    """(title, first heading) of a parsed page; (None, None) if the tree is odd."""
    try:
        return page_title(tree), _first_heading(tree)
    except Exception as exc:  # noqa: BLE001 - a broken tree must not stop a check
        log.debug("no title: %s", exc)
        return None, None


def _bounded(html: str) -> tuple[str, bool]:
    """``html`` cut to ``MAX_HTML_CHARS`` (scripts and styles dropped first)."""
    if len(html) <= MAX_HTML_CHARS:
        return html, False
    html = _SCRIPT_STYLE.sub("", html)
    if len(html) <= MAX_HTML_CHARS:
        return html, False
    return html[:MAX_HTML_CHARS], True


def _result(title: str | None, text: str, heading: str | None, truncated: bool) -> Extracted:
    return Extracted(
        title=title,
        text=text,
        fingerprint=fingerprint(text),
        heading=heading,
        words=len(text.split()),
        truncated=truncated,
    )


def _parse(html: str) -> HtmlElement | None:
    if not html or not html.strip():
        return None
    from trafilatura.utils import load_html  # noqa: PLC0415 - trafilatura costs 0.1-0.2 s to import; only pages need it

    try:
        return load_html(html)
    except Exception as exc:  # noqa: BLE001 - lxml and trafilatura raise a zoo of errors
        log.debug("unparsable page: %s", exc)
        return None


def _main_text(tree: HtmlElement, url: str | None) -> str:
    """Trafilatura's main text, comments excluded, normalized."""
    from trafilatura import bare_extraction  # noqa: PLC0415 - see _parse

    try:
        doc = bare_extraction(
            tree,
            url=url,
            include_comments=False,
            include_tables=True,
            prune_xpath=_AD_XPATH,
            with_metadata=False,
        )
    except Exception as exc:  # noqa: BLE001 - never let one odd page stop a check
        log.debug("extraction failed for %s: %s", url, exc)
        return ""
    text = getattr(doc, "text", None)  # a Document, or None when nothing was found
    return normalize_text(text) if isinstance(text, str) else ""


MAX_PDF_PAGES = 500  # a longer PDF is compared by its first pages
logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns about every odd object of a broken file


def extract_pdf(data: bytes) -> Extracted:
    """Text and title of a PDF (pypdf), normalized like a page's main text.

    Never raises: a scanned (image-only), encrypted or broken PDF gives empty
    ``text``; the checker then compares the document by its bytes."""
    from pypdf import PdfReader  # noqa: PLC0415 - only PDFs need it

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return _result(None, "", None, False)
        pages = reader.pages
        text = "\n".join(page.extract_text() or "" for page in pages[:MAX_PDF_PAGES])
        title = reader.metadata.title if reader.metadata else None
        truncated = len(pages) > MAX_PDF_PAGES
    except Exception as exc:  # noqa: BLE001 - pypdf raises a zoo of errors on broken files
        log.debug("unreadable PDF: %s", exc)
        return _result(None, "", None, False)
    return _result(_clean(title) if isinstance(title, str) else None, normalize_text(text), None, truncated)


def normalize_text(text: str) -> str:
    """NFC, invisible characters dropped, single spaces, no blank or ad-label lines."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not _AD_LABEL_LINE.match(line))


def page_title(tree: HtmlElement) -> str | None:
    """The ``<title>``, else ``og:title``, else the first ``<h1>``; normalized."""
    for xpath in ("//title[not(ancestor::svg)]", "//meta[@property='og:title']/@content"):
        for node in tree.xpath(xpath):
            value = _clean(node if isinstance(node, str) else node.text_content())
            if value:
                return value
    return _first_heading(tree)


def _first_heading(tree: HtmlElement) -> str | None:
    for node in tree.iter("h1"):
        value = _clean(node.text_content())
        if value:
            return value
    return None


def _clean(value: str, limit: int = 500) -> str | None:
    value = " ".join(unicodedata.normalize("NFC", str(value)).translate(_INVISIBLE).split())
    return value[:limit] or None
