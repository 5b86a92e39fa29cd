"""Bot walls and rate limits: is a response the site, or something standing in front of it? Pure functions.

A block page is never an article, a removal or a redesign: it says nothing about the site. It is a 403, 429 or
503 whose HTML carries a challenge marker (Cloudflare's "Just a moment...", a captcha), or a 200 HTML page that
carries such a marker and none of the site's own (a captcha interstitial served with 200).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy.exceptions import IgnoreRequest

# Lower-case markers of bot walls and captcha pages (Cloudflare, Akamai, generic captcha vendors).
CHALLENGE_MARKERS: tuple[str, ...] = (
    "challenge-platform",
    "cf-challenge",
    "cf-browser-verification",
    "just a moment...",
    "checking your browser",
    "checking if the site connection is secure",
    "attention required",
    "verify you are a human",
    "are you a robot",
    "captcha",
    "access denied",
)
# Every page of the site names it (title suffix, logo, footer) in one of its scripts or in the host name.
SITE_MARKERS: tuple[str, ...] = ("大纪元", "大紀元", "epochtimes")
_SITE_MARKER_BYTES = tuple(marker.encode() for marker in SITE_MARKERS)
WALL_STATUSES = frozenset({403, 429, 503})
OK = 200
# A block page is small; reading the start of a large page is enough to find the markers.
SNIFF_BYTES = 64 * 1024


class Blocked(IgnoreRequest):
    """A response that was a block page: dropped before any callback, counted under ``blocked/``."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"blocked ({reason}): {url}")
        self.reason = reason


def block_reason(status: int, content_type: str, body: bytes) -> str | None:
    """``challenge_<status>`` or ``not_the_site`` for a block page, None for anything else.

    Runs on every response, so the common case is one byte search: a 200 that names the site is the site."""
    if status != OK and status not in WALL_STATUSES:
        return None
    start = body[:SNIFF_BYTES]
    if status == OK and any(marker in start for marker in _SITE_MARKER_BYTES):
        return None
    if "html" not in content_type.lower() and start.lstrip()[:1] != b"<":
        return None
    head = start.decode("utf-8", errors="replace").lower()
    if not any(marker in head for marker in CHALLENGE_MARKERS):
        return None
    if status in WALL_STATUSES:
        return f"challenge_{status}"
    return None if any(marker in head for marker in SITE_MARKERS) else "not_the_site"


def retry_after_seconds(value: str | None, now: datetime, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), at most ``cap``.

    None when there is no usable value (missing, malformed, negative): the caller's own back-off applies.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - now).total_seconds()
    return min(max(seconds, 0.0), cap) if math.isfinite(seconds) else None
