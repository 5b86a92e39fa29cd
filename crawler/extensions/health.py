"""The run's health check (SPEC.md section 4): did the crawl still understand the site's markup?

Inputs are the spider's stats: ``pages/list`` (list pages parsed), ``articles/links_found`` (article links seen
on them), ``articles/requested``, ``articles/pages`` (article pages received for extraction),
``articles/extracted`` and ``articles/failed`` (+ ``articles/failed/<reason>``), and the pages given up on after
retries: ``pages/failed/lists``, ``pages/failed/articles`` (+ ``pages/failed/<reason>``). Issue 11 adds what
the site's parsers could not read although the page was an article: ``articles/fallback`` (rows from the
general extractor) and the cross-check's ``crosscheck/checked``, ``crosscheck/disagreed``, ``crosscheck/worst``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings

from crawler import stats as keys
from crawler.config import SettingError, fraction
from pipelines.dataset.manifest import HealthVerdict

DEFAULT_MAX_FAILED_RATIO = 0.05
DEFAULT_MAX_FALLBACK_RATIO = 0.05
DEFAULT_MAX_DISAGREEMENT_RATIO = 0.2
# One odd page in a small run is no trend: a share of disagreements fails the run from this many on.
MIN_DISAGREEMENTS = 2
# More than half the responses were bot walls: a blocked run, whatever else it fetched.
MAX_BLOCKED_SHARE = 0.5
FAILED_REASON_PREFIX = "articles/failed/"
FETCH_FAILED_PREFIX = "pages/failed/"
# pages/failed/<kind> and blocked/pages counters sit next to per-reason ones: not reasons.
_FETCH_FAILED_KINDS = ("lists", "articles", "pages", "feeds", "related")

_MARKUP_HINT = "the site's markup probably changed"


class HealthConfigError(SettingError):
    """A HEALTH_MAX_*_RATIO setting is not a number between 0 and 1."""


RATIO_SETTINGS = (
    ("HEALTH_MAX_FAILED_RATIO", DEFAULT_MAX_FAILED_RATIO),
    ("HEALTH_MAX_FALLBACK_RATIO", DEFAULT_MAX_FALLBACK_RATIO),
    ("HEALTH_MAX_DISAGREEMENT_RATIO", DEFAULT_MAX_DISAGREEMENT_RATIO),
)


def health_limits(settings: BaseSettings) -> dict[str, float]:
    """The HEALTH_MAX_*_RATIO settings by name, each a number in [0, 1]; HealthConfigError naming the first bad one."""
    return {name: fraction(settings, name, default, HealthConfigError) for name, default in RATIO_SETTINGS}


def _count(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def _failure_breakdown(stats: Mapping[str, Any], prefix: str = FAILED_REASON_PREFIX) -> str:
    reasons = sorted(
        (key.removeprefix(prefix), int(value))
        for key, value in stats.items()
        if key.startswith(prefix) and key.removeprefix(prefix) not in _FETCH_FAILED_KINDS
    )
    if not reasons:
        return ""
    return " (" + ", ".join(f"{reason}: {count}" for reason, count in reasons) + ")"


def evaluate(
    stats: Mapping[str, Any],
    max_failed_ratio: float,
    *,
    max_fallback_ratio: float = DEFAULT_MAX_FALLBACK_RATIO,
    max_disagreement_ratio: float = DEFAULT_MAX_DISAGREEMENT_RATIO,
) -> HealthVerdict:
    """Healthy unless lists yielded no links, articles yielded no rows, too many extractions failed, too many
    articles needed the general extractor, or too many cross-checked pages disagree.

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
    reasons += _fetch_failures(stats, max_failed_ratio)
    reasons += _markup_drift(stats, max_fallback_ratio, max_disagreement_ratio)
    reasons += _blocked(stats)
    return HealthVerdict(ok=not reasons, reasons=reasons)


def _markup_drift(
    stats: Mapping[str, Any], max_fallback_ratio: float, max_disagreement_ratio: float
) -> list[str]:
    """Articles stored, but not as the site's parsers expect to read them (issue 11): the rows are kept (the
    general extractor's are plausible articles), the run fails so that someone looks at the markup."""
    extracted = _count(stats, keys.EXTRACTED)
    fallback = _count(stats, keys.FALLBACK)
    checked = _count(stats, keys.CROSSCHECK_CHECKED)
    disagreed = _count(stats, keys.CROSSCHECK_DISAGREED)
    reasons = []
    if extracted and fallback / extracted > max_fallback_ratio:
        reasons.append(
            f"{fallback} of {extracted} articles needed the general extractor: {_MARKUP_HINT} "
            f"({fallback / extracted:.1%} > HEALTH_MAX_FALLBACK_RATIO {max_fallback_ratio:.1%}; "
            "the rows are kept, with extractor = generic)"
        )
    if checked and disagreed >= MIN_DISAGREEMENTS and disagreed / checked > max_disagreement_ratio:
        worst = ", ".join(
            f"{entry['url']} ({entry['f1']:.2f})" for entry in stats.get(keys.CROSSCHECK_WORST) or []
        )
        reasons.append(
            f"{disagreed} of {checked} cross-checked articles read differently by the site's parser and the "
            f"general extractor: {_MARKUP_HINT}, the stored bodies may be incomplete "
            f"({disagreed / checked:.1%} > HEALTH_MAX_DISAGREEMENT_RATIO {max_disagreement_ratio:.1%}); "
            f"worst: {worst}"
        )
    return reasons


def _fetch_failures(stats: Mapping[str, Any], max_failed_ratio: float) -> list[str]:
    """Pages given up on after retries (site down, restarted, timing out): the run missed part of the site.

    A lost list page ends its channel's paging there, so any is a failure; lost article pages beyond the
    ratio too. Either way the run must not pass for complete: cron sees the exit status.
    """
    lists = _count(stats, f"{FETCH_FAILED_PREFIX}lists")
    articles = _count(stats, f"{FETCH_FAILED_PREFIX}articles")
    requested = _count(stats, "articles/requested")
    breakdown = _failure_breakdown(stats, FETCH_FAILED_PREFIX)
    reasons = []
    if lists:
        reasons.append(
            f"{lists} list page(s) could not be fetched{breakdown}: the crawl missed part of the site; "
            "the next run pages past known articles to fill the gap"
        )
    if requested and articles / requested > max_failed_ratio:
        reasons.append(
            f"{articles} of {requested} requested article page(s) could not be fetched "
            f"({articles / requested:.1%} > HEALTH_MAX_FAILED_RATIO {max_failed_ratio:.1%}){breakdown}: "
            "the site was unreachable or failing for part of the run"
        )
    return reasons


def _blocked(stats: Mapping[str, Any]) -> list[str]:
    """A run whose answers were mostly bot walls saw almost nothing of the site: it must not pass."""
    blocked = _count(stats, keys.BLOCKED_PAGES)
    # robots.txt is served apart from the site's pages (and allowed through by walls): not an answer about them.
    responses = _count(stats, keys.RESPONSES) - _count(stats, keys.ROBOTS_RESPONSES)
    if not blocked or blocked <= MAX_BLOCKED_SHARE * responses:
        return []
    breakdown = _failure_breakdown(stats, keys.BLOCKED_PREFIX)
    return [
        f"{blocked} of {responses} responses were block or challenge pages{breakdown}: the site is blocking "
        "the crawler (nothing from those pages was stored; slow down or ask the site before the next run)"
    ]
