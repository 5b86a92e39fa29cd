"""The ``articles`` spider's arguments (``-a name=value``, SPEC.md section 1), parsed and checked once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit, urlunsplit

from crawler.urls import CANONICAL_BASE, EDITIONS, parse_list_url
from pipelines.dataset.warc import expand_paths

REAL_SITE = CANONICAL_BASE
# discovery=: "lists" walks home pages and channel lists; "feeds" reads the feeds and walks the lists only for an
# edition whose feed shows a gap (or fails); "all" does both every time.
DISCOVERY_MODES = ("lists", "feeds", "all")
# DISCOVERY_FEEDS default: feed paths per edition, `{edition}` replaced (SITE.md 2.6; the replica serves these).
DEFAULT_FEEDS: tuple[str, ...] = ("/{edition}/feed",)


class SpiderArgumentError(ValueError):
    """A spider argument (``-a name=value``) or DISCOVERY_FEEDS the spider cannot use: a user's mistake."""


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    """Spider arguments (SPEC.md section 1), validated once; a bad value stops the run before any request."""

    site: str
    editions: tuple[str, ...]
    since: date | None
    until: date | None
    channels: tuple[str, ...]
    full: bool
    # None (the default): known articles are left to the refresh schedule (crawler.middlewares.refresh);
    # N: also re-fetch, every run, known articles whose URL date is within the last N days (the old rule).
    refresh_days: int | None
    # WARC files to read instead of fetching (import, rebuild): URIs, in the order given.
    warc: tuple[str, ...] = ()
    discovery: str = "lists"

    @classmethod
    def parse(
        cls,
        site: str = REAL_SITE,
        editions: str = "gb",
        since: str | None = None,
        until: str | None = None,
        channels: str | None = None,
        full: str = "0",
        refresh_days: str | int | None = None,
        warc: str | None = None,
        discovery: str = "lists",
    ) -> CrawlOptions:
        return cls(
            site=_parse_site(site),
            editions=_parse_editions(editions),
            since=_parse_date("since", since),
            until=_parse_date("until", until),
            channels=_parse_channels(channels),
            full=_parse_flag("full", full),
            refresh_days=None
            if refresh_days in (None, "")
            else _parse_non_negative("refresh_days", refresh_days),
            warc=_parse_warc(warc),
            discovery=_parse_choice("discovery", discovery, DISCOVERY_MODES),
        )


def parse_feed_paths(values: list[str]) -> tuple[str, ...]:
    """The DISCOVERY_FEEDS setting: site paths with an `{edition}` placeholder; rejected at start-up otherwise."""
    paths = tuple(value.strip() for value in values if value.strip())
    for path in paths:
        if not path.startswith("/") or "{edition}" not in path or "{" in path.replace("{edition}", ""):
            raise SpiderArgumentError(
                f"DISCOVERY_FEEDS must be site paths containing {{edition}}, got {path!r}"
            )
    return paths


def _parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    text = value.strip().lower()
    if text not in choices:
        raise SpiderArgumentError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return text


def _parse_site(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SpiderArgumentError(f"site must be an http(s) base URL such as {REAL_SITE}, got {value!r}")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _parse_warc(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        return tuple(expand_paths(value))
    except (OSError, ValueError) as error:
        raise SpiderArgumentError(f"warc must name WARC files, folders or globs: {error}") from None


def _parse_editions(value: str) -> tuple[str, ...]:
    editions = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not editions or any(edition not in EDITIONS for edition in editions):
        raise SpiderArgumentError(f"editions must be gb, b5 or gb,b5, got {value!r}")
    return editions


def _parse_date(name: str, value: str | None) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SpiderArgumentError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def _parse_channels(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    channels = tuple(part.strip() for part in value.split(",") if part.strip())
    for channel in channels:
        if parse_list_url(f"/gb/{channel}.htm") is None:
            raise SpiderArgumentError(
                f"channels must be channel page names such as nsc413 or ncid277, got {channel!r}"
            )
    return channels


def _parse_flag(name: str, value: str | bool) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise SpiderArgumentError(f"{name} must be 0 or 1, got {value!r}")


def _parse_non_negative(name: str, value: str | int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SpiderArgumentError(f"{name} must be a whole number of days, got {value!r}") from None
    if number < 0:
        raise SpiderArgumentError(f"{name} must not be negative, got {value!r}")
    return number
