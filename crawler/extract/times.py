"""Publication and modification instants (docs/DESIGN.md, published_at / updated_at rules)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
# Noon UTC falls on the same calendar day in New York and in Beijing.
URL_DATE_CLOCK = time(12, 0, tzinfo=UTC)

SOURCE_PAGE = "page"
SOURCE_DATELINE = "dateline"
SOURCE_URL = "url"

_VISIBLE_CLOCK_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\s*(\d{1,2}):(\d{2})\s*([AaPp])\.?[Mm]")
_CHINESE_DATETIME_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})")
_CHINESE_DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_NOON = 12

Clock = tuple[int, int]


def _from_iso(value: str | None) -> datetime | None:
    """The datetime an ISO 8601 value writes, as written (offset or none); None if absent or unparsable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 instant in UTC; a value without offset is a Beijing wall clock; None if unparsable."""
    return _instant(_from_iso(value))


def _instant(parsed: datetime | None) -> datetime | None:
    """A parsed ISO value in UTC, one without offset read as a Beijing wall clock."""
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BEIJING)
    return _to_utc(parsed)


def declared_clock(value: str | None) -> Clock | None:
    """The wall clock (HH, MM) written in an ISO value, whatever offset it declares."""
    parsed = _from_iso(value)
    return None if parsed is None else (parsed.hour, parsed.minute)


def parse_json_ld_time(value: str | None, printed_clock: Clock | None) -> datetime | None:
    """A JSON-LD time; its ``Z`` is false (the clock is Beijing's) when the page prints the same clock."""
    if value is None:
        return None
    stripped = value.strip()
    parsed = _from_iso(stripped)  # parsed once, for the clock it declares and as the instant
    if (
        parsed is not None
        and stripped.endswith(("Z", "z"))
        and printed_clock is not None
        and (parsed.hour, parsed.minute) == printed_clock
    ):
        return parse_iso(stripped[:-1])
    return _instant(parsed)


def parse_visible_time(text: str | None) -> datetime | None:
    """Current theme's ``更新 YYYY-MM-DD h:mm AM|PM`` (Beijing, 12-hour clock)."""
    match = _VISIBLE_CLOCK_RE.search(text or "")
    if match is None:
        return None
    year, month, day, hour, minute = (int(group) for group in match.groups()[:5])
    if not 1 <= hour <= _NOON:
        return None
    hour %= _NOON
    if match.group(6) in "Pp":
        hour += _NOON
    return _beijing(year, month, day, hour, minute)


def beijing_clock(instant: datetime | None) -> Clock | None:
    """The wall clock in Beijing of an instant (what a page's visible time printed)."""
    if instant is None:
        return None
    local = instant.astimezone(BEIJING)
    return local.hour, local.minute


def parse_chinese_datetime(text: str | None) -> datetime | None:
    """Pre-2013 ``YYYY年M月D日 HH:MM`` (Beijing, 24-hour clock)."""
    match = _CHINESE_DATETIME_RE.search(text or "")
    if match is None:
        return None
    year, month, day, hour, minute = (int(group) for group in match.groups())
    return _beijing(year, month, day, hour, minute)


def dateline_time(dateline: str | None) -> datetime | None:
    """Midnight in Beijing of the dateline's calendar day."""
    match = _CHINESE_DATE_RE.search(dateline or "")
    if match is None:
        return None
    year, month, day = (int(group) for group in match.groups())
    return _beijing(year, month, day, 0, 0)


def url_time(url_date: date) -> datetime:
    return datetime.combine(url_date, URL_DATE_CLOCK)


def choose_published(
    page_times: Iterable[datetime | None], dateline: str | None, url_date: date
) -> tuple[datetime, str]:
    """The first usable page time, else the dateline's day, else the URL's day, with its source."""
    for candidate in page_times:
        if candidate is not None:
            return candidate, SOURCE_PAGE
    from_dateline = dateline_time(dateline)
    if from_dateline is not None:
        return from_dateline, SOURCE_DATELINE
    return url_time(url_date), SOURCE_URL


def _beijing(year: int, month: int, day: int, hour: int, minute: int) -> datetime | None:
    try:
        return _to_utc(datetime(year, month, day, hour, minute, tzinfo=BEIJING))
    except (ValueError, OverflowError):
        return None


def _to_utc(moment: datetime) -> datetime | None:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None
