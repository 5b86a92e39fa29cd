"""Run the real `scrapy crawl articles` command against a replica, as cron and users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
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


def start_crawl(
    site: str,
    *,
    args: Mapping[str, object] | None = None,
    settings: Mapping[str, object] | None = None,
    options: Sequence[str] = (),
    wrapper: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[Any]:
    """Start `scrapy crawl articles -a site=SITE` as cron and users do: from the project root, this checkout
    first on the import path. ``args`` become ``-a``, ``settings`` ``-s`` (as given: no defaults added),
    ``options`` other command-line options (``-O feed.jsonl``); ``wrapper`` runs it through another command
    (``prlimit --fsize=N --``, ``setpriv ... --``), ``env`` adds environment variables, ``popen`` goes to
    ``subprocess.Popen`` (output streams, ``text``)."""
    command = [*wrapper, sys.executable, "-m", "scrapy", "crawl", "articles", "-a", f"site={site}"]
    for name, value in (args or {}).items():
        command += ["-a", f"{name}={value}"]
    for name, value in (settings or {}).items():
        command += ["-s", f"{name}={value}"]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    return subprocess.Popen([*command, *options], cwd=PROJECT_ROOT, env=environment, **popen)


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
    """Run `scrapy crawl articles` (:func:`start_crawl`) to its end, ``FAST_SETTINGS`` under ``settings``, the
    dataset at ``dataset`` (captures next to it); stats come from its STATS_JSON dump, the log from stderr."""
    merged: dict[str, object] = {**FAST_SETTINGS, **(settings or {})}
    if dataset is not None:
        merged["PARQUET_URI"] = str(dataset)
        # Captures next to the dataset, never in the project's output/.
        merged.setdefault("WARC_URI", str(dataset.parent / f"{dataset.name}-warc"))
    else:
        merged.setdefault("WARC_URI", "")
    options = ["-O", str(feed)] if feed is not None else []
    with tempfile.TemporaryDirectory() as scratch:
        stats_file = Path(scratch) / "stats.json"
        merged["STATS_JSON"] = stats_file
        process = start_crawl(
            site,
            args=args,
            settings=merged,
            options=options,
            wrapper=wrapper,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        log = _finish(process, timeout)
        stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlResult(process.returncode, log, stats)


def _finish(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's stderr once it has exited; killed (and reaped) when it outlives ``timeout``."""
    try:
        _, log = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return str(log)


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
