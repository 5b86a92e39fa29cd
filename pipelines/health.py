"""The run's health check (SPEC.md section 4): did the crawl still understand the site's markup?

Inputs are the spider's stats: ``pages/list`` (list pages parsed), ``articles/links_found`` (article links seen
on them), ``articles/pages`` (article pages received for extraction), ``articles/extracted`` and
``articles/failed`` (+ ``articles/failed/<reason>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_FAILED_RATIO = 0.05
FAILED_REASON_PREFIX = "articles/failed/"

_MARKUP_HINT = "the site's markup probably changed"


class HealthConfigError(ValueError):
    """HEALTH_MAX_FAILED_RATIO is not a number between 0 and 1."""


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)


def validate_max_failed_ratio(value: Any) -> float:
    """The ratio as a float, or HealthConfigError naming the setting."""
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise HealthConfigError(
            f"HEALTH_MAX_FAILED_RATIO must be a number in [0, 1], got {value!r}"
        ) from None
    if not 0.0 <= ratio <= 1.0:
        raise HealthConfigError(f"HEALTH_MAX_FAILED_RATIO must be in [0, 1], got {ratio}")
    return ratio


def _count(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def _failure_breakdown(stats: Mapping[str, Any]) -> str:
    reasons = sorted(
        (key.removeprefix(FAILED_REASON_PREFIX), int(value))
        for key, value in stats.items()
        if key.startswith(FAILED_REASON_PREFIX)
    )
    if not reasons:
        return ""
    return " (" + ", ".join(f"{reason}: {count}" for reason, count in reasons) + ")"


def evaluate(stats: Mapping[str, Any], max_failed_ratio: float) -> HealthVerdict:
    """Healthy unless lists yielded no links, articles yielded no rows, or too many extractions failed.

    A run that saw links but requested no article (all already archived) is healthy: it is the normal cron case.
    """
    list_pages = _count(stats, "pages/list")
    links = _count(stats, "articles/links_found")
    pages = _count(stats, "articles/pages")
    extracted = _count(stats, "articles/extracted")
    failed = _count(stats, "articles/failed")
    reasons: list[str] = []
    if list_pages and not links:
        reasons.append(
            f"{list_pages} list page(s) parsed but no article link found: {_MARKUP_HINT} (list pages)"
        )
    if pages and not extracted:
        reasons.append(
            f"{pages} article page(s) fetched but none extracted{_failure_breakdown(stats)}: "
            f"{_MARKUP_HINT} (article pages)"
        )
    elif pages and failed / pages > max_failed_ratio:
        reasons.append(
            f"{failed} of {pages} article page(s) failed extraction ({failed / pages:.1%} > "
            f"HEALTH_MAX_FAILED_RATIO {max_failed_ratio:.1%}){_failure_breakdown(stats)}: {_MARKUP_HINT}"
        )
    return HealthVerdict(ok=not reasons, reasons=reasons)
