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
import logging
import re
import unicodedata
import zlib
from dataclasses import dataclass

from lxml.html import HtmlElement

from . import markup
from .charsets import decode_declared, header_charset, text_codec

log = logging.getLogger(__name__)

#: HTML beyond this many characters (after dropping scripts and styles) is cut
#: off before extraction. Trafilatura runs at about 2 MB/s on real pages but
#: turns superlinear on huge flat documents (2 MB of bare paragraphs: ~8 s);
#: the cap bounds what one pathological page can cost a check.
MAX_HTML_CHARS = 2_000_000
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


def decode_body(raw: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """Undo ``Content-Encoding`` and return at most ``limit`` bytes.

    Supports ``identity``, ``gzip``/``x-gzip`` (several members too) and
    ``deflate`` (zlib-wrapped or raw, both seen in the wild); a list such as
    ``"gzip, gzip"`` is undone right to left. Output past ``limit`` is never
    produced: decompression runs incrementally with ``max_length``, so a
    gzip bomb costs at most ``limit`` bytes of memory. A truncated stream yields
    what could be decoded. Raises ``ValueError`` naming an unsupported encoding
    (``br``, ``zstd``, ...) or describing corrupt compressed data.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data = raw
    for coding in reversed(codings):
        if coding in ("identity", "none"):
            continue
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, zlib.MAX_WBITS | 16, limit, multi_member=True)
        elif coding == "deflate":
            data = _inflate_deflate(data, limit)
        else:
            raise ValueError(f"unsupported content-encoding: {coding!r}")
    return data[:limit]


def _inflate_deflate(data: bytes, limit: int) -> bytes:
    """``deflate`` as the RFC says (zlib wrapper), else raw deflate."""
    try:
        return _inflate(data, zlib.MAX_WBITS, limit)
    except ValueError:
        return _inflate(data, -zlib.MAX_WBITS, limit)


def _inflate(data: bytes, wbits: int, limit: int, *, multi_member: bool = False) -> bytes:
    """Decompress ``data`` with zlib, producing no more than ``limit`` bytes."""
    out = bytearray()
    view = memoryview(data)
    start = 0
    while start < len(view) and len(out) < limit:
        inflater = zlib.decompressobj(wbits)
        try:
            start = _drain(inflater, view, start, out, limit)
        except zlib.error as exc:
            if out and multi_member:  # trailing garbage after a complete member
                break
            raise ValueError(f"corrupt compressed body: {exc}") from None
        if not (multi_member and inflater.eof):
            break
    return bytes(out)


def _drain(inflater: zlib._Decompress, view: memoryview, start: int, out: bytearray, limit: int) -> int:
    """Feed ``view[start:]`` through ``inflater`` into ``out`` until the stream
    ends, the input runs out or ``out`` reaches ``limit``; return the offset of
    the first input byte the stream did not use."""
    pos = start
    while len(out) < limit and not inflater.eof:
        piece: bytes | memoryview = inflater.unconsumed_tail
        if not piece and pos < len(view):
            piece = view[pos : pos + _CHUNK]
            pos += len(piece)
        chunk = inflater.decompress(piece, min(_CHUNK, limit - len(out)))
        out += chunk
        if not chunk and not piece:
            break  # input exhausted and nothing pending: a truncated stream
    return pos - len(inflater.unconsumed_tail) - len(inflater.unused_data)


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
