"""Wayback Machine replay URLs (``https://web.archive.org/web/20211230153500/https://www.epochtimes.com/...``)
unwrapped to the page they replay and the moment the archive captured it.

A WARC made by downloading replays (``wget`` over ``web.archive.org/web/...`` URLs, or a browser extension) has
the replay URL as ``WARC-Target-URI`` and the download's time as ``WARC-Date``: the page and the capture time
are in the URL. Any host is accepted (pywb and OpenWayback installations use the same path grammar), so is
``http``, a timestamp with a replay flavour (``id_`` = the original bytes, ``if_``, ``im_``, ``js_``...),
a percent-encoded original URL and the single slash some clients leave of ``https://``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

# /web/<timestamp><flavour>/<original>: the timestamp is 1 to 14 digits (the Wayback Machine redirects a short
# one to the nearest capture); the flavour is two letters and an underscore.
_REPLAY_PATH = re.compile(r"^/web/(\d{1,14})(?:[a-z]{2}_)?/(.+)$", re.IGNORECASE)
_FULL_TIMESTAMP = 14
# "https:/host/..." (a client merged the slashes) and "https%3A%2F%2Fhost..." (percent-encoded).
_SCHEME = re.compile(r"^(https?):/*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Replay:
    """The page a replay URL shows and, when its timestamp is complete, when the archive captured it."""

    url: str
    captured_at: datetime | None


def unwrap(url: str) -> Replay | None:
    """The original of a replay URL, or None when ``url`` is not one."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    # The original URL's own query is part of the replay URL's path-and-query.
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    match = _REPLAY_PATH.match(target)
    if match is None:
        return None
    timestamp, original = match.groups()
    if original[:8].lower().startswith(("http%3a", "https%3a")):
        original = unquote(original)
    scheme = _SCHEME.match(original)
    if scheme is None:
        # The Wayback Machine accepts a bare host ("/web/2021/www.epochtimes.com/..."), meaning http.
        if "." not in original.split("/", 1)[0]:
            return None
        original = f"http://{original}"
    else:
        original = f"{scheme.group(1).lower()}://{original[scheme.end() :]}"
    return Replay(original, _timestamp(timestamp))


def _timestamp(digits: str) -> datetime | None:
    if len(digits) != _FULL_TIMESTAMP:
        return None
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def original_url(url: str) -> str:
    """``url`` unwrapped when it is a replay URL, else as it is (for links found in replayed pages)."""
    replay = unwrap(url)
    return url if replay is None else replay.url


def capture_time(replay: Replay | None, record_date: datetime) -> datetime:
    """When the page was captured: the record's date, unless the record is a later download of the replay
    (its date after the replay's timestamp), then the timestamp."""
    if replay is None or replay.captured_at is None:
        return record_date
    # WARC-Date has whole seconds in many tools: a record made in the very second of the timestamp is the
    # archive's own capture, and its date is the more precise one.
    if record_date.replace(microsecond=0) > replay.captured_at:
        return replay.captured_at
    return record_date


# What the Wayback Machine adds to a replayed page (all but the ``id_`` flavour): links rewritten to replay URLs
# (absolute, protocol-relative or root-relative), its scripts in the head and its toolbar in the body.
_REWRITTEN_LINK = re.compile(
    rb"(?:(?:https?:)?//[A-Za-z0-9.-]+(?::\d+)?)?/web/\d{1,14}(?:[a-z]{2}_)?/(?=https?:/)", re.IGNORECASE
)
_INSERTS = re.compile(
    rb"<!-- BEGIN WAYBACK TOOLBAR INSERT -->.*?<!-- END WAYBACK TOOLBAR INSERT -->"
    rb"|<script[^>]*/_static/js/.*?<!-- End Wayback Rewrite JS Include -->",
    re.DOTALL | re.IGNORECASE,
)


def unrewrite(body: bytes) -> bytes:
    """A replayed page as the site served it: links point at the site again, the archive's inserts are gone."""
    return _REWRITTEN_LINK.sub(b"", _INSERTS.sub(b"", body))
