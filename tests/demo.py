"""`make demo`: serve the bundled replica, crawl it with the real `scrapy crawl articles`, summarise the dataset.

Run as ``python -m tests.demo [--articles N] [--output DIR]``. Exit status is the crawl's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.dataset.summary import dataset_summary
from tests.crawling import start_crawl
from tests.replica.testing import serve_replica

# The replica is on loopback: lift the politeness limits meant for the real site.
REPLICA_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "PROGRESS_INTERVAL": "5",
}


def run_crawl(site: str, output: Path, editions: str = "gb,b5") -> int:
    """The real `scrapy crawl articles` of the replica into ``output``; its exit status."""
    args = {"editions": editions, "refresh_days": "0"}
    return start_crawl(site, args=args, settings={"PARQUET_URI": output.resolve(), **REPLICA_SETTINGS}).wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=300, help="articles per edition in the replica")
    parser.add_argument("--output", type=Path, default=Path("output/demo"), help="dataset root to write")
    args = parser.parse_args()
    with serve_replica(articles=args.articles) as site:
        print(f"replica serving {site} with {args.articles} articles per edition", flush=True)
        status = run_crawl(site, args.output)
    if status != 0:
        print(f"crawl failed with exit status {status}", file=sys.stderr)
        return status
    print()
    print(dataset_summary(str(args.output)))
    print()
    print("Next, the same archive as Markdown pages, one per article (README: Reading it as pages),")
    print(
        "and as an HTML report of runs, coverage, edits, removals and near duplicates (README: Watching it):"
    )
    print(f"  .venv/bin/scrapy mirror -o output/mirror -s PARQUET_URI={args.output}")
    print(f"  .venv/bin/scrapy report -o output/report.html -s PARQUET_URI={args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
