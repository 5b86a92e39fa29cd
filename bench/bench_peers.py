"""Peers side by side: our crawl, news-please and trafilatura on the same replica export (gb edition), in the
same run, at the same concurrency; for each, the share of the site's articles captured, CPU per captured
article (the whole process tree, start-up included) and field accuracy against the replica's truth
(`bench.accuracy`). How each peer is made to run: `bench.peers`.

Ours crawls the export as every crawl bench does (nginx on a free port). The peers crawl a copy whose absolute
links point at `http://127.0.0.1`, served on port 80 (news-please needs it; trafilatura reads the same copy).
Our dataset stores an exact copy of another article's text once, by design (dropped as `duplicate_content`):
an article counts as captured when the dataset holds it or an exact copy of it. Accuracy is over the articles a tool
captured. `BENCH_PEERS_ARTICLES` overrides the site's size (default 2,000, as the figures in README.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.dataset as pads

from bench.accuracy import FIELDS, Extracted, field_scores
from bench.crawls import children_cpu_seconds, crawl_articles
from bench.figures import Figure, Target, single
from bench.peers import PeerRun, newsplease_run, rewrite_links, trafilatura_run
from bench.server import HTTP_PORT, export_for_crawl, nginx
from tests.replica.site import Site

ARTICLES = int(os.environ.get("BENCH_PEERS_ARTICLES", "2000"))
EDITION = "gb"
CONCURRENCY = 16
PEER_BASE = "http://127.0.0.1"
OURS = "our crawl"
COLUMNS = ("captured", "CPU per article", *FIELDS)
FIELD_FIGURES = {
    "title": ("title right", "share"),
    "date": ("date right to the minute", "share"),
    "authors": ("authors right", "share"),
    "body F1": ("body F1, mean", "F1"),
}
_DATASET_COLUMNS = ["url", "title", "published_at", "authors", "body_text"]


def run() -> list[Figure]:
    site = Site(articles=ARTICLES)
    truth = {urlsplit(row["url"]).path: row for row in site.truth() if row["edition"] == EDITION}
    same_text = _same_text_paths(site)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as scratch_name:
        scratch = Path(scratch_name)
        export_for_crawl(site, scratch / "site")
        export_for_crawl(site, scratch / "peer-site", rewrite=rewrite_links(PEER_BASE))
        with nginx(scratch / "site") as server:
            ours = _our_run(server.base, scratch / "dataset")
        with nginx(scratch / "peer-site", port=HTTP_PORT, home=f"/{EDITION}/") as server:
            runs = {
                OURS: ours,
                "news-please": newsplease_run(server.base, scratch / "news-please", CONCURRENCY),
                "trafilatura": trafilatura_run(server.base, scratch / "trafilatura", CONCURRENCY),
            }
    columns = {
        tool: _columns(result, truth, same_text if tool == OURS else {}) for tool, result in runs.items()
    }
    return _figures(columns)


def _our_run(base: str, dataset: Path) -> PeerRun:
    before = children_cpu_seconds()
    concurrency = str(CONCURRENCY)
    crawl_articles(
        base, dataset, {"CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency}
    )
    cpu = children_cpu_seconds() - before
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table(columns=_DATASET_COLUMNS)
    articles = {
        urlsplit(row["url"]).path: Extracted(
            title=row["title"],
            published=row["published_at"],
            authors=tuple(row["authors"] or ()),
            body=row["body_text"],
        )
        for row in table.to_pylist()
    }
    return PeerRun(cpu, articles)


def _same_text_paths(site: Site) -> dict[str, set[str]]:
    """Path of each article of an exact-copy group -> the paths of the group (which one a crawl keeps depends on
    which it fetches first)."""
    paths = {meta.article_id: meta.path(EDITION) for meta in site.metadata()}
    groups: dict[str, set[str]] = {}
    for copy, original in site.exact_copies().items():
        group = groups.setdefault(paths[original], {paths[original]})
        group.add(paths[copy])
        groups[paths[copy]] = group
    return groups


def _columns(
    result: PeerRun, truth: dict[str, dict[str, Any]], same_text: dict[str, set[str]]
) -> dict[str, float]:
    pairs = [(result.articles[path], row) for path, row in truth.items() if path in result.articles]
    held_elsewhere = sum(
        1
        for path in truth
        if path not in result.articles and any(other in result.articles for other in same_text.get(path, ()))
    )
    captured = len(pairs) + held_elsewhere
    return {
        "captured": captured / len(truth),
        "CPU per article": 1000 * result.cpu_seconds / max(captured, 1),
        **field_scores(pairs),
    }


def _better(column: str) -> Callable[[float, float], bool]:
    """Whether a first value is at least as good as a second in `column`."""
    if column == "CPU per article":
        return lambda mine, theirs: mine <= theirs
    return lambda mine, theirs: mine >= theirs


def _figures(columns: dict[str, dict[str, float]]) -> list[Figure]:
    figures: list[Figure] = []
    for tool, values in columns.items():
        figures.append(single(f"peers, {tool}: articles captured", values["captured"], "share"))
        figures.append(single(f"peers, {tool}: CPU per captured article", values["CPU per article"], "ms"))
        for field in FIELDS:
            label, unit = FIELD_FIGURES[field]
            figures.append(single(f"peers, {tool}: {label}", values[field], unit))
    ours = columns[OURS]
    best = sum(
        all(_better(column)(ours[column], values[column]) for values in columns.values())
        for column in COLUMNS
    )
    figures.append(
        single("peers: columns where our crawl is the best", best, "columns", Target(">=", len(COLUMNS)))
    )
    return figures
