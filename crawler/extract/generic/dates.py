"""Dates as news pages write them: ISO values in metadata, and dates in the page's text in Chinese and
English forms (``2021年12月30日 15:35``, ``2021-12-30 15:35``, ``December 30, 2021 3:35 pm``).

A value without an offset is a wall clock in the page's own zone; ``local_zone`` says which zone that is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))
MIN_YEAR = 1990
MAX_YEAR = 2100
_NOON = 12

_SEP = r"\s*[-/.．]\s*"
_NUMERIC_RE = re.compile(
    rf"(?<![\d.])((?:19|20)\d\d)(?:\s*年\s*|{_SEP})(\d{{1,2}})(?:\s*月\s*|{_SEP})(\d{{1,2}})(?!\d)\s*日?"
    r"(?:[\s,T]*(?:[（(][^()（）]{1,3}[)）]\s*)?(?:(上午|下午|晚上|凌晨|早上|中午)\s*)?"
    r"(\d{1,2})\s*(?:[:：]|时|點|点)\s*(\d{2})(?:\s*(?:[:：]|分)\s*(\d{2}))?(?!\d)\s*(?:([AaPp])\.?[Mm]\.?)?)?"
)
_SLASHED_RE = re.compile(
    r"(?<![\d/])(\d{1,2})/(\d{1,2})/((?:19|20)\d\d)(?![\d/])"
    r"(?:(?:\s+|\s*[-–,]\s*)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
)
_YEAR_MONTH_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月(?!\s*\d)")
_MONTHS_IN_YEAR = 12
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_CLOCK = r"(?:[\s,]+(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])?\.?[Mm]?\.?)?"
_ENGLISH_MDY_RE = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)\b{_CLOCK}", re.I)
_ENGLISH_DMY_RE = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+((?:19|20)\d\d)\b{_CLOCK}", re.I)
# Every form writes a four-digit year: a cheap test before the three full patterns.
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_AFTERNOON = frozenset({"下午", "晚上"})
_MORNING = frozenset({"上午", "凌晨", "早上"})


@dataclass(frozen=True, slots=True)
class Found:
    """A date written in text: the wall clock (midnight when no time is written), where it starts."""

    value: datetime
    has_time: bool
    start: int


def parse_iso(value: str | None, local_zone: timezone) -> datetime | None:
    """An ISO 8601 value (also ``2021-12-30 15:35`` and a trailing ``Z``); naive values are ``local_zone``."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        found = first_date(text)
        return None if found is None else found.value.replace(tzinfo=local_zone)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=local_zone)


def dates_in(text: str) -> list[Found]:
    """Every plausible date written in ``text``, in order."""
    if not _YEAR_RE.search(text):
        return []
    found = [
        *(_numeric(match) for match in _NUMERIC_RE.finditer(text)),
        *(_slashed(match) for match in _SLASHED_RE.finditer(text)),
        *(_english(match, month_first=True) for match in _ENGLISH_MDY_RE.finditer(text)),
        *(_english(match, month_first=False) for match in _ENGLISH_DMY_RE.finditer(text)),
    ]
    return sorted((item for item in found if item is not None), key=lambda item: item.start)


def first_date(text: str) -> Found | None:
    return next(iter(dates_in(text)), None)


def _numeric(match: re.Match[str]) -> Found | None:
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    hour_text = match.group(5)
    if hour_text is None:
        return _found(year, month, day, None, match.start())
    hour = _twelve_hour(int(hour_text), match.group(4), match.group(8))
    seconds = int(match.group(7) or 0)
    return _found(year, month, day, (hour, int(match.group(6)), seconds), match.start())


def _slashed(match: re.Match[str]) -> Found | None:
    """``9/17/2004 5:54:13 AM``: month first unless the first number cannot be a month."""
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    month, day = (second, first) if first > _MONTHS_IN_YEAR else (first, second)
    if match.group(4) is None:
        return _found(year, month, day, None, match.start())
    hour = _twelve_hour(int(match.group(4)), None, match.group(7))
    return _found(year, month, day, (hour, int(match.group(5)), int(match.group(6) or 0)), match.start())


def month_in(text: str) -> Found | None:
    """A month without a day (``1998年3月号``, ``2003-5``): the first of that month, no time."""
    match = _YEAR_MONTH_RE.search(text)
    if match is None:
        return None
    return _found(int(match.group(1)), int(match.group(2)), 1, None, match.start())


def _english(match: re.Match[str], *, month_first: bool) -> Found | None:
    month_text, day_text = (
        (match.group(1), match.group(2)) if month_first else (match.group(2), match.group(1))
    )
    month = _MONTHS[month_text.lower()]
    year = int(match.group(3))
    if match.group(4) is None:
        return _found(year, month, int(day_text), None, match.start())
    marker = match.group(7)
    hour = _twelve_hour(int(match.group(4)), None, marker)
    return _found(
        year, month, int(day_text), (hour, int(match.group(5)), int(match.group(6) or 0)), match.start()
    )


def _twelve_hour(hour: int, chinese_marker: str | None, latin_marker: str | None) -> int:
    afternoon = chinese_marker in _AFTERNOON or (latin_marker is not None and latin_marker in "Pp")
    morning = chinese_marker in _MORNING or (latin_marker is not None and latin_marker in "Aa")
    if afternoon and hour < _NOON:
        return hour + _NOON
    if morning and hour == _NOON:
        return 0
    return hour


def _found(year: int, month: int, day: int, clock: tuple[int, int, int] | None, start: int) -> Found | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    hour, minute, second = clock or (0, 0, 0)
    try:
        value = datetime(year, month, day, hour, minute, second)  # naive: the zone is the caller's
    except ValueError:
        return None
    return Found(value, clock is not None, start)
