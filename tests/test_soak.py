"""Soak: 20,000 articles of a replica with every fault, crawled in one run, memory sampled all along.

About a minute on 2 cores, so it runs in `make test`; ``pytest tests/test_soak.py -s`` prints the figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from tests.accounting import assert_every_page_accounted, read_manifest
from tests.crawling import FAST_SETTINGS, start_crawl
from tests.replica.testing import serve_replica

SOAK_ARTICLES = 20_000
SLOW_SECONDS = 3.0
SAMPLE_SECONDS = 1.0
SOAK_TIMEOUT = 3600.0
# The archive overlay and the per-article URL map grow by design (well under 1 KB per article); anything
# beyond this over the second half of the run is a leak.
MAX_SECOND_HALF_GROWTH_BYTES = 64 * 1024 * 1024
SOAK_SETTINGS = {**FAST_SETTINGS, "DOWNLOAD_TIMEOUT": "2", "PROGRESS_INTERVAL": "30"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(SOAK_TIMEOUT),
]


def _crawl_sampling_rss(site: str, dataset: Path, stats_file: Path) -> tuple[int, list[int], str]:
    settings = {**SOAK_SETTINGS, "PARQUET_URI": dataset, "STATS_JSON": stats_file}
    log = dataset.parent / "crawl.log"
    with log.open("w", encoding="utf-8") as sink:
        process = start_crawl(site, settings=settings, stderr=sink, stdout=sink)
        watched = psutil.Process(process.pid)
        samples: list[int] = []
        while process.poll() is None:
            try:
                samples.append(watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(SAMPLE_SECONDS)
        returncode = process.wait()
    return returncode, samples, log.read_text(encoding="utf-8")


def test_soak_with_faults_completes_accounts_for_every_page_with_flat_memory(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    stats_file = tmp_path / "stats.json"
    started = time.monotonic()
    with serve_replica(articles=SOAK_ARTICLES, faults=True, slow_seconds=SLOW_SECONDS) as site:
        returncode, samples, log = _crawl_sampling_rss(site, dataset, stats_file)
    elapsed = time.monotonic() - started
    assert returncode == 0, log[-4000:]
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    manifest = read_manifest(dataset, stats["run/id"])
    assert manifest["status"] == "finished" and manifest["health"]["ok"]
    assert_every_page_accounted(stats, manifest, dataset)
    assert stats["parquet/rows_written"] > SOAK_ARTICLES * 0.95
    half = len(samples) // 2
    growth = max(samples[half:]) - max(samples[:half])
    print(
        f"\nsoak: {SOAK_ARTICLES} articles in {elapsed:.0f} s, {stats['parquet/rows_written']} rows, "
        f"{stats['downloader/request_count']} requests, RSS first-half peak {max(samples[:half]) / 2**20:.0f} MiB, "
        f"second-half peak {max(samples[half:]) / 2**20:.0f} MiB, growth {growth / 2**20:.1f} MiB, "
        f"lost pages {manifest['pages_failed']}, extraction failures {manifest['extraction_failures']}"
    )
    assert growth < MAX_SECOND_HALF_GROWTH_BYTES
