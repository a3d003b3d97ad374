"""Comment dates as sites print them, turned into ISO 8601 where possible.

Understood (English and German, the languages of the test corpus):
``2019-08-02T05:38:48-04:00``, ``August 3, 2019 at 4:11 am``, ``3 August 2019``,
``7. Dez 2018 um 13:22 Uhr``, ``29.07.2006 um 16:43``, ``17.07, 2011 @ 13:24``.
The result is ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (no time zone is
invented); a date written some other way is kept as found by the caller.
"""

from __future__ import annotations

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


def find_date(text: str) -> str | None:
    """The first date in ``text`` as ISO 8601, or None when none is recognized."""
    best: tuple[int, str] | None = None
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            iso = _to_iso(match)
            if iso is not None:
                if best is None or match.start() < best[0]:
                    best = (match.start(), iso)
                break
    return best[1] if best else None


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
