"""Is an archived article gone from the site? Pure classification of a refresh check's answer.

Gone means 404 or 410, or a redirect to the edition's home page or a list page (how a CMS often retires a
post). Anything else (5xx, timeouts, a bot wall) says nothing about the article: an outage is never a removal.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.urls import parse_list_url

GONE_STATUSES = frozenset({404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HOME_PATH_RE = re.compile(r"^/(?:(?:gb|b5)/?(?:index\.html?)?)?$")


def gone_reason(status: int, location: str | None) -> str | None:
    """``http_404``, ``http_410``, ``redirect_home`` or ``redirect_list``; None when the answer is not gone."""
    if status in GONE_STATUSES:
        return f"http_{status}"
    if status not in REDIRECT_STATUSES or not location:
        return None
    path = urlsplit(location).path or "/"
    if _HOME_PATH_RE.match(path):
        return "redirect_home"
    if parse_list_url(path) is not None:
        return "redirect_list"
    return None
