"""Run the real `scrapy crawl articles` command against a replica, as cron and users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "LOG_LEVEL": "INFO",
    # Retries still back off (crawler/middlewares/retry.py), on a replica's scale of time.
    "RETRY_BACKOFF_BASE": "0.05",
}


@dataclass
class CrawlResult:
    returncode: int
    log: str
    stats: dict[str, Any]


def crawl(
    site: str,
    dataset: Path | None,
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    feed: Path | None = None,
    timeout: float = 240,
    wrapper: Sequence[str] = (),
) -> CrawlResult:
    """Run `scrapy crawl articles` in a subprocess from the project root; stats come from its STATS_JSON dump.

    ``wrapper`` runs the command through another one (``prlimit --fsize=N --``, ``setpriv ... --``).
    """
    command = [*wrapper, sys.executable, "-m", "scrapy", "crawl", "articles", "-a", f"site={site}"]
    for name, value in (args or {}).items():
        command += ["-a", f"{name}={value}"]
    merged = {**FAST_SETTINGS, **(settings or {})}
    if dataset is not None:
        merged["PARQUET_URI"] = str(dataset)
        # Captures next to the dataset, never in the project's output/.
        merged.setdefault("WARC_URI", str(dataset.parent / f"{dataset.name}-warc"))
    else:
        merged.setdefault("WARC_URI", "")
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    if feed is not None:
        command += ["-O", str(feed)]
    with tempfile.TemporaryDirectory() as scratch:
        stats_file = Path(scratch) / "stats.json"
        command += ["-s", f"STATS_JSON={stats_file}"]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlResult(done.returncode, done.stderr, stats)


def scrapy(
    arguments: Sequence[str], settings: dict[str, str] | None = None, *, timeout: float = 240
) -> CrawlResult:
    """Any ``scrapy`` command (``rebuild``, ``compact``...) from the project root, with the final stats."""
    command = [sys.executable, "-m", "scrapy", *arguments]
    for name, value in {"LOG_LEVEL": "INFO", **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    with tempfile.TemporaryDirectory() as scratch:
        stats_file = Path(scratch) / "stats.json"
        command += ["-s", f"STATS_JSON={stats_file}"]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlResult(done.returncode, done.stdout + done.stderr, stats)


def read_feed(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
