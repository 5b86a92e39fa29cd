"""Per-article inputs of the README's "Scale" section (the whole-archive backfill on paper), measured.

- From one local crawl of the gb replica (nginx-served, `PARQUET_PARTITION=month`, then `scrapy compact`):
  requests per article written and Parquet bytes per article once compacted, and with every row in one file.
- From one distributed crawl of the same export (one worker, a fresh redis-server): Redis memory per article
  at the end of the crawl (the seen-requests set and the archive index stay until the next crawl), in all and
  by key.
- Real page sizes: the replica's pages are lean, the real site's are not. The median size of the real Chinese
  news article pages in `../shared/realpages/daniel-zh` (401 pages of 150 sites, read at run time, never
  copied; `REALPAGES_DIR` overrides the folder), raw and gzip-compressed one by one (as a WARC record is), stands in for an article page of the site.
"""

from __future__ import annotations

import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import redis

from bench.bench_workers import REDIS_PACKAGES
from bench.crawls import compact, crawl_articles, finished_stats, scrapy_arguments, scrapy_env
from bench.figures import Figure, single
from bench.server import ensure_installed, export_for_crawl, nginx
from crawler.distributed.keys import CrawlKeys
from pipelines.parquet import DEFAULT_COMPRESSION
from tests.crawling import PROJECT_ROOT
from tests.replica.site import Site
from tests.services import redis_server

ARTICLES = 2_000
# The shared folder sits beside the repository (`REALPAGES_DIR` points elsewhere, e.g. from a worktree).
REALPAGES = Path(os.environ.get("REALPAGES_DIR", PROJECT_ROOT.parent / "shared" / "realpages"))
REAL_PAGES = REALPAGES / "daniel-zh" / "html"
GZIP_LEVEL = 6
IDLE_SECONDS = 1
WORKER_TIMEOUT_SECONDS = 300


def run() -> list[Figure]:
    ensure_installed("redis-server", REDIS_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch_name:
        scratch = Path(scratch_name)
        export_for_crawl(Site(articles=ARTICLES), scratch / "site")
        with nginx(scratch / "site") as server:
            local = _local(server.base, scratch / "local")
            distributed = _distributed(server.base, scratch / "distributed")
    return local + distributed + _real_pages()


def _local(site: str, dataset: Path) -> list[Figure]:
    crawl = crawl_articles(site, dataset, {"PARQUET_PARTITION": "month"})
    compact(dataset)
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table()
    parquet_bytes = sum(path.stat().st_size for path in dataset.rglob("*.parquet"))
    # The replica spreads its articles over 18 years (a few a month), so per-file footers weigh; the real
    # archive holds about 45,000 articles a month: every row in one file is the closer estimate.
    one_file = dataset.parent / "one-file.parquet"
    pq.write_table(table, one_file, compression=DEFAULT_COMPRESSION)
    rows = table.num_rows
    return [
        single("scale: requests per article written (local crawl)", crawl.requests / rows, "requests"),
        single("scale: Parquet bytes per article (month partitions)", parquet_bytes / rows, "bytes"),
        single("scale: Parquet bytes per article (one file)", one_file.stat().st_size / rows, "bytes"),
    ]


def _distributed(site: str, scratch: Path) -> list[Figure]:
    scratch.mkdir()
    keys = CrawlKeys(f"bench-{uuid.uuid4().hex[:8]}")
    settings = {
        "PARQUET_URI": str(scratch / "dataset"),
        "REDIS_KEY_PREFIX": keys.prefix,
        "MAX_IDLE_TIME_BEFORE_CLOSE": str(IDLE_SECONDS),
    }
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        before = int(client.info("memory")["used_memory"])
        arguments = ["crawl", "articles", "-a", f"site={site}"]
        stats_file, log_file = scratch / "stats.json", scratch / "log.txt"
        command = [sys.executable, *scrapy_arguments(arguments, {**settings, "REDIS_URL": url}, stats_file)]
        with log_file.open("wb") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=scrapy_env(), stdout=log, stderr=log)
            process.wait(WORKER_TIMEOUT_SECONDS)
        stats = finished_stats(process, arguments, stats_file, log_file)
        articles = int(stats["parquet/rows_written"])
        total = int(client.info("memory")["used_memory"]) - before
        by_key = {
            "seen requests": keys.dupefilter,
            "archive index, ids": keys.archive_ids,
            "archive index, hashes": keys.archive_hashes,
        }
        usage = {name: int(client.memory_usage(key) or 0) for name, key in by_key.items()}
    return [
        single("scale: Redis memory per article (distributed crawl)", total / articles, "bytes"),
        *(
            single(f"scale: Redis {name} per article", used / articles, "bytes")
            for name, used in usage.items()
        ),
    ]


def _real_pages() -> list[Figure]:
    if not REAL_PAGES.is_dir():
        print(f"[bench] scale: no real pages at {REAL_PAGES} (set REALPAGES_DIR): their figures left out")
        return []
    pages = [path.read_bytes() for path in sorted(REAL_PAGES.iterdir()) if path.is_file()]
    return [
        single("scale: real news article page, median", statistics.median(map(len, pages)), "bytes"),
        single(
            "scale: real news article page gzipped, median",
            statistics.median(len(gzip.compress(page, compresslevel=GZIP_LEVEL)) for page in pages),
            "bytes",
        ),
    ]
