"""Progress in the log while a crawl runs, and a readable summary at its end."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler import stats as keys
from crawler.config import seconds_or_off

logger = logging.getLogger(__name__)

# (label, stats key) in the order a reader follows a page through the pipeline.
COUNTERS = (
    ("list pages", keys.PAGES_LIST),
    ("article pages", keys.ARTICLE_PAGES),
    ("extracted", keys.EXTRACTED),
    ("failed", keys.EXTRACTION_FAILED),
    ("written", keys.ROWS_WRITTEN),
)


def progress_line(stats: dict[str, Any], previous: dict[str, int], minutes: float) -> str:
    parts = []
    for label, key in COUNTERS:
        value = int(stats.get(key, 0))
        rate = (value - previous.get(key, 0)) / minutes if minutes > 0 else 0.0
        parts.append(f"{label} {value} ({rate:.0f}/min)")
    parts.append(f"dropped {keys.total_dropped(stats)}")
    return ", ".join(parts)


def summary_lines(stats: dict[str, Any]) -> list[str]:
    lines = [f"{label}: {int(stats.get(key, 0))}" for label, key in COUNTERS]
    for prefix, title in (
        (keys.DROPPED_PREFIX, "dropped"),
        (keys.EXTRACTION_FAILED_PREFIX, "extraction failed"),
        (keys.PAGES_FAILED_PREFIX, "fetch failed"),
        (keys.SKIPPED_PREFIX, "skipped"),
        (keys.BYLINES_PREFIX, "byline"),
    ):
        for reason, count in keys.reason_counts(stats, prefix).items():
            if "/" not in reason:
                lines.append(f"{title} ({reason}): {count}")
    lines += _extraction_health_lines(stats)
    lines.append(f"health: {'ok' if stats.get(keys.HEALTH_OK, 1) else 'FAILED'}")
    return lines


def _extraction_health_lines(stats: dict[str, Any]) -> list[str]:
    """The fallback and the cross-check (issue 11), when they saw anything."""
    lines = []
    if stats.get(keys.FALLBACK):
        lines.append(f"read by the general extractor: {stats[keys.FALLBACK]}")
    if stats.get(keys.CROSSCHECK_CHECKED) or stats.get(keys.CROSSCHECK_GENERIC_FAILED):
        lines.append(
            f"cross-checked: {int(stats.get(keys.CROSSCHECK_CHECKED, 0))}, disagreed: "
            f"{int(stats.get(keys.CROSSCHECK_DISAGREED, 0))}, general extractor failed: "
            f"{int(stats.get(keys.CROSSCHECK_GENERIC_FAILED, 0))}"
        )
    lines += [
        f"cross-check worst: {entry['url']} (body F1 {entry['f1']})"
        for entry in stats.get(keys.CROSSCHECK_WORST) or []
    ]
    return lines


class ProgressLog:
    """Like Scrapy's LogStats, but in the pipeline's own terms (pages, articles, drops)."""

    def __init__(self, crawler: Crawler, interval: float, stats_json: str | None) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stats_json = stats_json
        self.previous: dict[str, int] = {}
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLog:
        interval = seconds_or_off(crawler.settings, "PROGRESS_INTERVAL", 60.0)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval, crawler.settings.get("STATS_JSON"))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def _stats(self) -> dict[str, Any]:
        assert self.crawler.stats is not None
        return self.crawler.stats.get_stats()

    def spider_opened(self) -> None:
        self.loop = task.LoopingCall(self.log_progress)
        self.loop.start(self.interval, now=False)

    def log_progress(self) -> None:
        stats = self._stats()
        logger.info("Progress: %s", progress_line(stats, self.previous, self.interval / 60))
        self.previous = {key: int(stats.get(key, 0)) for _, key in COUNTERS}

    def spider_closed(self, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        stats = self._stats()
        logger.info("Crawl finished (%s):\n  %s", reason, "\n  ".join(summary_lines(stats)))
        if self.stats_json:
            # For monitoring and tests: the final stats as JSON (Scrapy only logs them as a Python repr).
            dump = {key: value for key, value in stats.items() if isinstance(value, (int, float, str))}
            dump["finish_reason"] = reason
            Path(self.stats_json).write_text(json.dumps(dump, indent=1, sort_keys=True), encoding="utf-8")
