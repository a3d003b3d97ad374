"""Comment dates as sites print them, turned into ISO 8601 where possible.

The common shapes are read by a few patterns (fast, no dependency):
``2019-08-02T05:38:48-04:00``, ``August 3, 2019 at 4:11 am``, ``3 August 2019``,
``7. Dez 2018 um 13:22 Uhr``, ``29.07.2006 um 16:43``, ``17.07, 2011 @ 13:24``.
A short date text in any other shape or language (``3 de marzo de 2021 a las
14:05``, ``12 февраля 2020 в 10:15``, ``2019年6月3日``) goes to ``dateparser``,
which knows the month names and word orders of some 200 locales: in the
page's language (``<html lang>``) when the caller knows it, else in the
common languages of ``COMMON_LANGUAGES`` (guessing among all 200 costs
seconds). Only an absolute date with day, month and year is taken, and only
a text with a year in it is tried (``vor 3 Tagen`` depends on when the page
was read, and is kept as found). The result is ``YYYY-MM-DD``
or ``YYYY-MM-DDTHH:MM`` (no time zone is invented); a date written some other
way is kept as found by the caller.
"""

from __future__ import annotations

import functools
import re
from datetime import date

_MONTHS = {
    "jan": 1,
    "january": 1,
    "januar": 1,
    "jänner": 1,
    "jän": 1,
    "feb": 2,
    "february": 2,
    "februar": 2,
    "mar": 3,
    "march": 3,
    "mär": 3,
    "märz": 3,
    "maerz": 3,
    "mrz": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "mai": 5,
    "jun": 6,
    "june": 6,
    "juni": 6,
    "jul": 7,
    "july": 7,
    "juli": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "okt": 10,
    "oktober": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
    "dez": 12,
    "dezember": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TIME = (
    r"(?:(?:,|\s)\s*(?:at|um|@|-|,|/|\|)?\s*"
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::\d{2})?\s*(?P<ampm>[ap]\.?m\.?)?)?"
)
_PATTERNS = [
    re.compile(r"(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2}))?"),
    re.compile(r"\b(?P<day>\d{1,2})\.\s*(?P<mnum>\d{1,2})[.,]\s*(?P<year>\d{4}|\d{2})\b" + _TIME, re.I),
    re.compile(r"\b(?P<day>\d{1,2})\.?\s+" + _MONTH + r"\s+(?P<year>\d{4})\b" + _TIME, re.I),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b" + _TIME, re.I),
]


MAX_PARSED_TEXT = 80  # longer texts are not handed to dateparser (comment text, not a date line)
_DATEPARSER_SETTINGS = {
    "PARSERS": ["custom-formats", "absolute-time"],  # no relative dates ("3 days ago")
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
    "PREFER_DATES_FROM": "past",
}
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\b\d{1,2}[./-]\d{1,2}[./-]\d{2}\b")
COMMON_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "pl", "sv", "da", "tr", "ja", "zh")
_NOT_DATE_CHARS = re.compile(r"[|–—#]+")


def find_date(text: str, language: str | None = None) -> str | None:
    """The first date in ``text`` as ISO 8601, or None when none is recognized.

    ``language`` is the page's language (``de``, ``pt-BR`` ...), if known."""
    best: tuple[int, str] | None = None
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            iso = _to_iso(match)
            if iso is not None:
                if best is None or match.start() < best[0]:
                    best = (match.start(), iso)
                break
    if best:
        return best[1]
    primary = (language or "").split("-")[0].split("_")[0].lower()
    return _parse_any_language(text, primary if primary.isalpha() and len(primary) in (2, 3) else None)


@functools.lru_cache(maxsize=1024)
def _parse_any_language(text: str, language: str | None) -> str | None:
    """A short date text in any language, through dateparser (None when it is not a date)."""
    text = " ".join(_NOT_DATE_CHARS.sub(" ", text).split())
    if not text or len(text) > MAX_PARSED_TEXT or not _YEAR.search(text):
        return None
    import dateparser  # noqa: PLC0415 - 0.1 s to import; most pages' dates are read by the patterns above

    parsed = None
    for languages in ([language] if language else [], list(COMMON_LANGUAGES)):
        if not languages:
            continue
        try:
            parsed = dateparser.parse(text, languages=languages, settings=_DATEPARSER_SETTINGS)  # type: ignore[arg-type]
        except (ValueError, TypeError, OverflowError, LookupError):  # a language dateparser does not know
            continue
        if parsed is not None:
            break
    if parsed is None or not 1970 <= parsed.year <= 2100:
        return None
    if parsed.hour == 0 and parsed.minute == 0 and not re.search(r"\d[:.h]\d{2}", text):
        return parsed.date().isoformat()
    return f"{parsed.date().isoformat()}T{parsed.hour:02d}:{parsed.minute:02d}"


def _to_iso(match: re.Match[str]) -> str | None:
    fields = match.groupdict()
    year = int(fields["year"])
    if year < 100:
        year += 2000 if year < 70 else 1900
    month = int(fields["mnum"]) if fields.get("mnum") else _MONTHS.get(fields["month"].lower().rstrip("."), 0)
    try:
        day = date(year, month, int(fields["day"]))
    except ValueError:
        return None
    if not fields.get("hour"):
        return day.isoformat()
    hour, minute = int(fields["hour"]), int(fields["minute"])
    ampm = (fields.get("ampm") or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return day.isoformat()
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"
