"""Every stats key the project writes, in one place (Scrapy's own, such as ``retry/count``, are Scrapy's).

Keys are grouped by the component that writes them; nobody else spells them. They appear in ``STATS_JSON``,
the run manifest and the health check, so their names are part of the interface: renaming one is a change of
behaviour, not of shape.

Counters keyed by a reason (``articles/dropped/<reason>``, ``articles/failed/<reason>``,
``pages/failed/<reason>``) are built with the functions below; ``reason_counts`` reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# --- spider (crawler.spiders.articles): discovery and extraction ------------------------------------------
PAGES_HOME = "pages/home"
PAGES_LIST = "pages/list"
PAGES_FEED = "pages/feed"
# How each list page's main list (what decides paging) was found: crawler.discovery.page.RULE_*.
MAIN_LIST_PREFIX = "discovery/main_list/"
LINKS_FOUND = "articles/links_found"
REQUESTED = "articles/requested"
SKIPPED_PREFIX = "articles/skipped/"
SKIPPED_OUT_OF_RANGE = f"{SKIPPED_PREFIX}out_of_range"
ARTICLE_PAGES = "articles/pages"
EXTRACTED = "articles/extracted"
EXTRACTION_FAILED = "articles/failed"
EXTRACTION_FAILED_PREFIX = f"{EXTRACTION_FAILED}/"
# Pages given up on (errback, off-site redirect): counted by reason and, separately, by kind of page (lists,
# articles, feeds, related).
PAGES_FAILED_PREFIX = "pages/failed/"
# Read by the general extractor (no layout parser could), and bylines the extraction flagged, by issue.
FALLBACK = "articles/fallback"
BYLINES_PREFIX = "bylines/"

# --- Scrapy's, counted by the project (crawler.extensions.corestats.ItemPipelines) ---------------------------
ITEMS_SCRAPED = "item_scraped_count"

# --- known articles (crawler.middlewares.known): requests not made because the archive has their answer ----
SKIPPED_KNOWN = f"{SKIPPED_PREFIX}known"
LISTS_STOPPED_ON_KNOWN = "lists/stopped_on_known"
# Feeds (discovery=feeds) that did not reach the archive, so the edition's lists were walked.
FEED_GAPS = "discovery/feed_gaps"

# --- cross-check (crawler.middlewares.crosscheck): the site's parsers against the general extractor ----------
CROSSCHECK_CHECKED = "crosscheck/checked"
CROSSCHECK_DISAGREED = "crosscheck/disagreed"
# Disagreements by field (crawler.extract.crosscheck.FIELDS): crosscheck/disagreed/body, .../authors, .../title.
CROSSCHECK_DISAGREED_PREFIX = "crosscheck/disagreed/"
CROSSCHECK_GENERIC_FAILED = "crosscheck/generic_failed"
# Not a counter: the lowest-scoring disagreements, a list of {"url", "f1", "fields"}.
CROSSCHECK_WORST = "crosscheck/worst"

# --- WARC capture (crawler.middlewares.capture) and reading captures (the spider, for import and rebuild) ----
WARC_RESPONSES_CAPTURED = "warc/responses_captured"
WARC_BYTES_WRITTEN = "warc/bytes_written"
WARC_FILES_WRITTEN = "warc/files_written"
WARC_CAPTURES_READ = "warc/captures_read"
# Hidden files, objects and incomplete S3 uploads that killed captures left, removed at a run's start.
WARC_LEFTOVERS_REMOVED = "warc/leftovers_removed"
WARC_SKIPPED_PREFIX = "warc/skipped/"
# The capture engine (crawler.rebuild, `scrapy rebuild`): its worker processes, and the CPU seconds spent in them
# (reading, extracting, fingerprinting pages; reading each file's capture order) and in the sequential stage
# (merging that order, versions, Parquet; with one process, the files' order too), so that where a rebuild's time
# goes is known even on a machine shared with other work.
REBUILD_PROCESSES = "rebuild/processes"
REBUILD_WORKER_CPU = "rebuild/worker_cpu_seconds"
REBUILD_MAIN_CPU = "rebuild/main_cpu_seconds"
# Captures older than the archive's rows of their article (pipelines.backfill): held, then inserted as versions.
BACKFILL_HELD = "backfill/held"
BACKFILL_INSERTED = "backfill/versions_inserted"
BACKFILL_RENUMBERED = "backfill/rows_renumbered"
BACKFILL_FILES_REWRITTEN = "backfill/files_rewritten"

# --- item pipelines: clean, dedupe, parquet ---------------------------------------------------------------
DROPPED_PREFIX = "articles/dropped/"
NEW = "articles/new"
NEW_VERSION = "articles/new_version"
NEAR_DUPLICATE = "articles/near_duplicate"
ARCHIVE_ERROR = "archive/error"
ARCHIVE_ARTICLES_AT_START = "archive/articles_at_start"
ROWS_WRITTEN = "parquet/rows_written"
FILES_WRITTEN = "parquet/files_written"
# What the start-up recovery of the dataset did: compactions and backfills finished or undone, a killed
# writer's temporaries and incomplete S3 uploads removed.
RECOVERY_ACTIONS = "parquet/recovery_actions"
COVERAGE_PREFIX = "coverage/"

# --- run lifecycle ----------------------------------------------------------------------------------------
RUN_ID = "run/id"
HEALTH_OK = "health/ok"
HEALTH_REASONS = "health/reasons"

# --- retry middleware (crawler.middlewares.retry) ---------------------------------------------------------
BACKOFF_COUNT = "retry/backoff/count"
BACKOFF_MILLISECONDS = "retry/backoff/milliseconds"
# Retries that waited the server's Retry-After instead of the back-off.
RETRY_AFTER_COUNT = "retry/retry_after/count"

# --- refresh checks (crawler.middlewares.refresh): `refresh/<outcome>` -------------------------------------
# watched, due, deferred, requests, confirm_requests, not_modified, fetched, removed, reappeared, still_gone,
# removals_withheld, failed, state_unreadable, feed_changed, feed_unchanged
REFRESH_PREFIX = "refresh/"

# --- block pages (crawler.middlewares.blocks) -------------------------------------------------------------
BLOCKED_PREFIX = "blocked/"
BLOCKED_PAGES = f"{BLOCKED_PREFIX}pages"
# Scrapy's own, read by the health check: the blocked share leaves robots.txt out.
RESPONSES = "downloader/response_count"
ROBOTS_RESPONSES = "robotstxt/response_count"

# --- distributed mode (crawler.distributed) ---------------------------------------------------------------
OPENED_CRAWL = "distributed/opened_crawl"
SCHEDULER_ENQUEUED = "scheduler/enqueued/redis"
SCHEDULER_DEQUEUED = "scheduler/dequeued/redis"
# Requests the shared dupefilter turned away: the key Scrapy's own dupefilter counts them under in a local run
# (scrapy-redis's logs them without counting).
DUPEFILTER_FILTERED = "dupefilter/filtered"
# Seconds the worker waited on an empty shared queue before closing (its fixed cost at the end of a crawl).
IDLE_SECONDS = "distributed/idle_seconds"


def refresh(outcome: str) -> str:
    return f"{REFRESH_PREFIX}{outcome}"


def blocked(reason: str) -> str:
    """``blocked/<reason>``: ``challenge_403``, ``challenge_429``, ``challenge_503``, ``not_the_site``."""
    return f"{BLOCKED_PREFIX}{reason}"


def dropped(reason: str, detail: str | None = None) -> str:
    """``articles/dropped/<reason>``, or ``.../<reason>/<detail>`` (a missing field's name)."""
    return f"{DROPPED_PREFIX}{reason}" + (f"/{detail}" if detail else "")


def warc_skipped(reason: str) -> str:
    """A WARC record an import or rebuild does not read, by reason (``other_site``, ``revisit``...)."""
    return f"{WARC_SKIPPED_PREFIX}{reason}"


def crosscheck_disagreed(field_name: str) -> str:
    """Cross-checked pages whose two readings disagree on ``field_name`` (body, authors, title)."""
    return f"{CROSSCHECK_DISAGREED_PREFIX}{field_name}"


def extraction_failed(reason: str) -> str:
    return f"{EXTRACTION_FAILED_PREFIX}{reason}"


def byline_issue(issue: str) -> str:
    return f"{BYLINES_PREFIX}{issue}"


def main_list(rule: str) -> str:
    return f"{MAIN_LIST_PREFIX}{rule}"


def page_failed(reason: str) -> str:
    return f"{PAGES_FAILED_PREFIX}{reason}"


def coverage(column: str) -> str:
    return f"{COVERAGE_PREFIX}{column}"


def reason_counts(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """``{reason: count}`` of the counters under ``prefix``, refinements (``missing_field/title``) included."""
    return {k.removeprefix(prefix): int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}


def total_dropped(stats: Mapping[str, Any]) -> int:
    """Items dropped by any pipeline, for any reason (refinements not counted twice)."""
    return sum(count for reason, count in reason_counts(stats, DROPPED_PREFIX).items() if "/" not in reason)
