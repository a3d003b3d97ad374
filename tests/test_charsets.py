"""Charset labels from pages become codecs only for text encodings a browser reads."""

from __future__ import annotations

import pytest

from archiver.charsets import decode_declared, header_charset, text_codec
from archiver.collect.decode import decode_document
from archiver.check.extract import decode_text

NOT_TEXT = ["rot13", "rot_13", "base64", "hex", "hex_codec", "zlib", "bz2", "uu", "quopri", "idna", "undefined",
            "punycode", "utf-7", "unicode_escape", "raw_unicode_escape", "mbcs", "no-such-charset", "", "aliases"]


@pytest.mark.parametrize("label", NOT_TEXT)
def test_labels_that_name_no_text_encoding_are_refused(label: str) -> None:
    assert text_codec(label) is None


@pytest.mark.parametrize(("label", "codec"), [
    ("utf-8", "utf-8"), ("UTF8", "utf-8"), ("iso-8859-1", "cp1252"), ("ascii", "cp1252"), ("latin1", "cp1252"),
    ("windows-1251", "cp1251"), ("shift_jis", "shift_jis"), ("gbk", "gbk"), ("koi8-r", "koi8-r"),
    ("'utf-8'", "utf-8"), ("x-user-defined", "cp1252"),
])
def test_text_encodings_are_named(label: str, codec: str) -> None:
    assert text_codec(label) == codec


def test_decoding_never_raises() -> None:
    data = bytes(range(256)) * 4
    for label in ("utf-8", "utf-16", "utf-32", "cp1252", "shift_jis", "iso2022_jp"):
        codec = text_codec(label)
        assert codec is not None and decode_declared(data, codec) is not None


@pytest.mark.parametrize("label", NOT_TEXT)
def test_pages_declaring_them_decode_as_if_nothing_was_declared(label: str) -> None:
    page = f'<html><head><meta charset="{label}"></head><body><p>Grüße</p></body></html>'.encode()
    assert "Grüße" in decode_text(page, f"text/html; charset={label}")
    text, notes = decode_document(page, label)
    assert "Grüße" in text
    if label:
        assert any(f"charset {label!r} declared in HTTP; ignored" in note for note in notes)


def test_header_charset() -> None:
    assert header_charset('text/html; charset="Shift_JIS"') == "Shift_JIS"
    assert header_charset("text/html") is None
