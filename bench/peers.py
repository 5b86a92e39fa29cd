"""The peers a user would otherwise pick, run as their users run them on the replica, and their output read
back as `bench.accuracy.Extracted` by article path.

- news-please: its `RecursiveCrawler` (Scrapy) started at the site's root, in its own `single_crawler.py`
  process. It derives its allowed domain from the start URL without the port, so the site must be served on
  port 80 with `/` redirecting to `/gb/` and its links pointing at that host (`rewrite_links`). It needs
  `jieba` to read Chinese, `newspaper_extractor_no_images` (the default extractor downloads every image), no
  `readability_extractor` (it fails on every page with the pinned readability-lxml 0.8) and the
  `meta_contains_article_keyword` heuristic (its default `og_type` test misses most of the site's pages).
- trafilatura: `bench.peer_trafilatura` (its focused crawler, then the downloads and extraction).

CPU is the peer's whole process tree (user + system, from the rusage of waited-for children).
"""

from __future__ import annotations

import configparser
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import newsplease

from bench.accuracy import Extracted
from bench.crawls import children_cpu_seconds
from tests.crawling import PROJECT_ROOT

CANONICAL_HOSTS = (b"https://www.epochtimes.com", b"http://www.epochtimes.com")
# Its defaults but the image-free newspaper extractor, and without its readability extractor: news-please
# 1.6.16 hands readability the page as bytes, which readability-lxml 0.8 (pinned by the bench extra) refuses.
NEWSPLEASE_EXTRACTORS = [
    "newspaper_extractor_no_images",
    "date_extractor",
    "lang_detect_extractor",
]
NEWSPLEASE_HEURISTICS = {
    "meta_contains_article_keyword": True,
    "og_type": False,
    "linked_headlines": False,
    "self_linked_headlines": False,
}
TRAFILATURA_AUTHOR_SEPARATOR = ";"
PEER_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class PeerRun:
    cpu_seconds: float
    articles: dict[str, Extracted]  # by URL path, first extraction of a path wins


def rewrite_links(base: str) -> Callable[[bytes], bytes]:
    """A page rewriter pointing the site's absolute links at `base` (news-please follows only its own host)."""
    target = base.encode()

    def rewrite(body: bytes) -> bytes:
        for host in CANONICAL_HOSTS:
            body = body.replace(host, target)
        return body

    return rewrite


def run_process(command: list[str], cwd: Path, log: Path) -> float:
    """Run `command` to completion; returns the CPU seconds of its process tree, raises with the log's tail."""
    before = children_cpu_seconds()
    with log.open("wb") as out:
        done = subprocess.run(
            command, cwd=cwd, stdout=out, stderr=out, timeout=PEER_TIMEOUT_SECONDS, check=False
        )
    cpu = children_cpu_seconds() - before
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"{command[1]} exited with {done.returncode}:\n{tail}")
    return cpu


def newsplease_run(base: str, scratch: Path, concurrency: int) -> PeerRun:
    config_dir, data = scratch / "config", scratch / "repo"
    config_dir.mkdir(parents=True)
    config_file, sitelist = config_dir / "config.cfg", config_dir / "sitelist.hjson"
    config_file.write_text(_newsplease_config(data, concurrency), encoding="utf-8")
    site = {
        "url": base + "/",
        "crawler": "RecursiveCrawler",
        "overwrite_heuristics": NEWSPLEASE_HEURISTICS,
        "pass_heuristics_condition": "meta_contains_article_keyword",
    }
    sitelist.write_text(json.dumps({"base_urls": [site]}), encoding="utf-8")
    script = Path(newsplease.__file__).with_name("single_crawler.py")
    command = [sys.executable, str(script), str(config_file), str(sitelist), "0", "False", "False"]
    cpu = run_process(command, scratch, scratch / "newsplease.log")
    return PeerRun(cpu, _first_by_path(_newsplease_articles(data)))


def trafilatura_run(base: str, scratch: Path, concurrency: int) -> PeerRun:
    scratch.mkdir(parents=True)
    output = scratch / "trafilatura.jsonl"
    command = [sys.executable, "-m", "bench.peer_trafilatura", base + "/gb/", str(output), str(concurrency)]
    cpu = run_process(command, PROJECT_ROOT, scratch / "trafilatura.log")
    rows = (json.loads(line) for line in output.read_text(encoding="utf-8").splitlines())
    return PeerRun(cpu, _first_by_path((row["url"], _trafilatura_article(row)) for row in rows))


def _newsplease_config(data: Path, concurrency: int) -> str:
    """The package's own config.cfg with what this bench changes."""
    config = configparser.RawConfigParser()
    config.read(Path(newsplease.__file__).with_name("config") / "config.cfg", encoding="utf-8")
    config.set("Files", "working_path", str(data))
    config.set("ArticleMasterExtractor", "extractors", repr(NEWSPLEASE_EXTRACTORS))
    config.set("Scrapy", "LOG_LEVEL", "ERROR")
    config.set("Scrapy", "CONCURRENT_REQUESTS", str(concurrency))
    config.set("Scrapy", "CONCURRENT_REQUESTS_PER_DOMAIN", str(concurrency))
    text = io.StringIO()
    config.write(text)
    return text.getvalue()


def _newsplease_articles(data: Path) -> Iterator[tuple[str, Extracted]]:
    for path in sorted((data / "data").rglob("*.json")):
        row: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        published = row.get("date_publish")
        yield (
            row["url"],
            Extracted(
                title=row.get("title"),
                published=datetime.fromisoformat(published) if published else None,
                authors=tuple(row.get("authors") or ()),
                body=row.get("maintext") or "",
            ),
        )


def _trafilatura_article(row: dict[str, Any]) -> Extracted:
    author = row.get("author") or ""
    date = row.get("date") or ""
    # A date without a time of day is no publication instant.
    published = datetime.fromisoformat(date) if "T" in date or " " in date else None
    return Extracted(
        title=row.get("title"),
        published=published,
        authors=tuple(name for name in author.split(TRAFILATURA_AUTHOR_SEPARATOR) if name.strip()),
        body=row.get("text") or "",
    )


def _first_by_path(pairs: Iterator[tuple[str, Extracted]]) -> dict[str, Extracted]:
    found: dict[str, Extracted] = {}
    for url, extracted in pairs:
        found.setdefault(urlsplit(url).path, extracted)
    return found
