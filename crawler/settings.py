"""Scrapy settings: polite defaults for the real site (SPEC.md section 5). Tests and benchmarks lift limits with -s."""

from __future__ import annotations

BOT_NAME = "crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

USER_AGENT = "epochtimes-archive/0.1 (+https://github.com/epochtimes-archive; research archive crawler)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Each retry waits RETRY_BACKOFF_BASE seconds, doubling, at most RETRY_BACKOFF_MAX (crawler/middlewares/retry.py).
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 30.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # Before the retry middleware in the response chain: a challenge page is dropped, not retried.
    "crawler.middlewares.blocks.BlockMiddleware": 560,
    # Next to the downloader: sees requests as sent and responses as received (before redirects, decompression).
    "crawler.middlewares.capture.WarcCaptureMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # Above HttpErrorMiddleware (50): a check's 304 or 404 reaches this one's process_spider_exception first.
    "crawler.middlewares.refresh.RefreshMiddleware": 60,
    # Above the refresh middleware: it sees only the article requests discovery makes (settled ones dropped).
    "crawler.middlewares.known.KnownArticlesMiddleware": 100,
    "crawler.middlewares.crosscheck.CrossCheckMiddleware": 600,
}
DOWNLOAD_TIMEOUT = 30
# A news page is well under 2 MB; anything near 20 MB (or a gzip bomb) is refused by size.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024

# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output; the pipelines are synchronous and a
# page yields one item (or a list page's requests), so the default of 100 only adds 100 idle tasks per page (the
# crawl's top cost in the profile, see the README's Performance section).
CONCURRENT_ITEMS = 1
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REDIRECT_ENABLED = True
LOG_LEVEL = "INFO"
# Scrapy's, without building the per-page DEBUG lines (Crawled, Scraped from) that LOG_LEVEL leaves out.
LOG_FORMATTER = "crawler.logformatter.LogFormatter"

ITEM_PIPELINES = {
    "pipelines.fingerprint.FingerprintPipeline": 100,
    # Imports and rebuilds only: captures older than the archive's rows of their article.
    "pipelines.backfill.BackfillPipeline": 150,
    "pipelines.dedupe.DedupePipeline": 200,
    "pipelines.parquet.ParquetPipeline": 300,
}

PARQUET_URI = "output/articles"
PARQUET_PARTITION = "date"
HEALTH_MAX_FAILED_RATIO = 0.05
# Article pages that only the general extractor could read (crawler/extract/generic), and cross-checked pages
# whose two readings disagree (crawler/middlewares/crosscheck.py): beyond these shares the run fails its health check.
HEALTH_MAX_FALLBACK_RATIO = 0.05
HEALTH_MAX_DISAGREEMENT_RATIO = 0.2

EXTRACT_CROSSCHECK_RATE = 0.05
EXTRACT_CROSSCHECK_MIN_F1 = 0.8

FEED_EXPORT_ENCODING = "utf-8"

# Scrapy's, without a shim that cost more than the stats themselves (crawler/extensions/corestats.py).
STATS_CLASS = "crawler.extensions.corestats.StatsCollector"
# Scrapy's, counting the items scraped without a signal receiver per item (crawler/extensions/corestats.py).
ITEM_PROCESSOR = "crawler.extensions.corestats.ItemPipelines"
EXTENSIONS = {
    # Scrapy's own fails an assertion when a crawl closes without having opened (crawler/extensions/corestats.py).
    "scrapy.extensions.corestats.CoreStats": None,
    "crawler.extensions.corestats.CoreStats": 0,
    # Before the progress log (500): the health verdict is in the stats when the summary and STATS_JSON are written.
    "crawler.extensions.run.RunLifecycle": 100,
    "crawler.extensions.progress.ProgressLog": 500,
    # The start-up heap left out of the garbage collector's passes (crawler/extensions/heap.py).
    "crawler.extensions.heap.CollectorTuning": 900,
}
PROGRESS_INTERVAL = 60.0
# A path: the final stats are also written there as JSON (monitoring, tests).
STATS_JSON = None

# Distributed mode: switched on by -s REDIS_URL=redis://host:port/db (see crawler/distributed/addon.py).
ADDONS = {
    "crawler.distributed.addon.DistributedMode": 0,
}
