"""When the site's markup is not what its parsers expect (issue 11): every page is archived or flagged, never
silently wrong. Real crawls of the replica over HTTP, rows read back from the Parquet dataset.

- unknown layouts (2 in 50 articles): archived by the general extractor (extractor = generic), counted, and
  the run passes (under HEALTH_MAX_FALLBACK_RATIO);
- a redesign (every article page): archived by the general extractor, the run fails (exit 3) saying so;
- half-broken pages (body split across two containers): the site's parser reads a part of the body without
  any error; the cross-check flags it and the run fails (exit 3) naming the worst URLs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import pyarrow.dataset as pads
import pytest
from scrapy.utils.test import get_crawler

from crawler.extensions.health import HealthConfigError, evaluate
from crawler.extensions.run import RunLifecycle
from crawler.extract.crosscheck import DEFAULT_MIN_F1, DEFAULT_RATE, cross_check, is_sampled
from crawler.extract.model import Article
from crawler.extract.similarity import body_f1
from crawler.middlewares.crosscheck import CrossCheckConfigError, CrossCheckMiddleware
from crawler.spiders.articles import ArticlesSpider
from tests.accounting import read_manifest
from tests.crawling import CrawlResult, crawl
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete

ARTICLES = 100
HEALTH_FAILED_EXIT = 3


def _rows(dataset: Path) -> dict[str, dict[str, Any]]:
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table()
    return {row["article_id"]: row for row in table.to_pylist()}


def _truth(site: Site) -> dict[str, dict[str, Any]]:
    return {row["article_id"]: row for row in site.truth() if row["edition"] == "gb"}


def _crawl(
    dataset: Path,
    settings: dict[str, str] | None = None,
    *,
    redesign: bool = False,
    unknown_layouts: bool = False,
    half_broken: bool = False,
) -> CrawlResult:
    replica = serve_replica(
        articles=ARTICLES, redesign=redesign, unknown_layouts=unknown_layouts, half_broken=half_broken
    )
    with replica as site:
        return crawl(site, dataset, settings=settings)


@pytest.mark.slow
def test_unknown_layouts_are_archived_by_the_general_extractor_and_counted(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    result = _crawl(dataset, unknown_layouts=True)
    assert result.returncode == 0, result.log[-3000:]
    site = Site(articles=ARTICLES, unknown_layouts=True)
    truth, rows = _truth(site), _rows(dataset)
    assert_complete(list(rows), site)
    generic = {aid for aid, row in truth.items() if row["extractor"] == "generic"}
    assert generic and {aid for aid, row in rows.items() if row["extractor"] == "generic"} == generic
    for aid in generic:
        row, expected = rows[aid], truth[aid]
        assert row["title"] == expected["title"]
        assert abs(row["published_at"] - datetime.fromisoformat(expected["published_at"])) < timedelta(days=1)
        assert body_f1(row["body_text"], expected["body_text"]) >= 0.9, row["url"]
    assert {row["extractor"] for aid, row in rows.items() if aid not in generic} == {
        "current",
        "legacy",
        "pre2013",
    }
    assert result.stats["articles/fallback"] == len(generic)
    manifest = read_manifest(dataset, result.stats["run/id"])
    assert manifest["articles_fallback"] == len(generic)
    assert manifest["health"]["ok"]


@pytest.mark.slow
def test_a_redesign_is_archived_by_the_general_extractor_and_fails_the_run(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    result = _crawl(dataset, redesign=True)
    assert result.returncode == HEALTH_FAILED_EXIT, result.log[-3000:]
    site = Site(articles=ARTICLES)
    truth, rows = _truth(site), _rows(dataset)
    extracted = int(result.stats["articles/extracted"])
    message = (
        f"{result.stats['articles/fallback']} of {extracted} articles needed the general extractor: "
        "the site's markup probably changed"
    )
    assert message in result.log
    assert f"read by the general extractor: {result.stats['articles/fallback']}" in result.log
    assert len(set(rows) & set(truth)) >= 0.95 * len(truth)
    assert {row["extractor"] for row in rows.values()} == {"generic"}
    scores = [
        body_f1(rows[aid]["body_text"], truth[aid]["body_text"]) if aid in rows else 0.0 for aid in truth
    ]
    assert mean(scores) >= 0.9
    manifest = read_manifest(dataset, result.stats["run/id"])
    assert manifest["status"] == "failed" and not manifest["health"]["ok"]
    assert manifest["articles_fallback"] == extracted  # rows: minus exact copies (duplicate_content)


@pytest.mark.slow
def test_half_broken_pages_are_flagged_by_the_cross_check(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    result = _crawl(dataset, {"EXTRACT_CROSSCHECK_RATE": "0.25"}, half_broken=True)
    assert result.returncode == HEALTH_FAILED_EXIT, result.log[-3000:]
    checked, disagreed = int(result.stats["crosscheck/checked"]), int(result.stats["crosscheck/disagreed"])
    assert checked >= 10 and disagreed >= 0.8 * checked
    assert re.search(rf"{disagreed} of {checked} cross-checked articles read differently", result.log)
    assert f"cross-checked: {checked}, disagreed: {disagreed}" in result.log  # the end-of-run summary
    manifest = read_manifest(dataset, result.stats["run/id"])
    worst = manifest["crosscheck"]["worst"]
    assert manifest["crosscheck"]["disagreed"] == disagreed and len(worst) == 5
    assert all(entry["f1"] < 0.8 and entry["url"] in result.log for entry in worst)
    # Counted by field: the half-missing bodies.
    assert 0 < int(result.stats["crosscheck/disagreed/body"]) <= disagreed
    assert all("body" in entry["fields"] for entry in worst)
    assert not manifest["health"]["ok"]


@pytest.mark.slow
def test_the_cross_check_agrees_with_the_site_parsers_on_every_page_of_the_replica(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    result = _crawl(dataset, {"EXTRACT_CROSSCHECK_RATE": "1"})
    assert result.returncode == 0, result.log[-3000:]
    assert int(result.stats["crosscheck/checked"]) == int(result.stats["articles/extracted"]) == ARTICLES
    # Bodies, authors and titles alike, on every page of both extractors.
    assert not [key for key in result.stats if key.startswith("crosscheck/disagreed")]
    assert "articles/fallback" not in result.stats


def _article(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "article_id": "n1",
        "url": "https://www.epochtimes.com/gb/26/1/12/n1.htm",
        "edition": "gb",
        "language": "zh-Hans",
        "title": "专家解读香港言论自由",
        "published_at": datetime(2026, 1, 12, tzinfo=UTC),
        "date_source": "page",
        "body_text": "这是白宫今年以来第四次就人权问题举行了会谈。" * 5,
        "authors": ["王明宇", "林书平"],
    }
    return Article(**{**fields, **changes})


@pytest.mark.parametrize(
    ("generic", "fields"),
    [
        ({}, []),
        ({"authors": ["林书平", "王明宇"]}, []),  # the same names in another order
        ({"title": "专家解读 香港言论自由"}, []),
        ({"title": "专家解读香港言论自由：三问"}, []),  # a subtitle kept by one of them
        ({"authors": ["王明宇"]}, ["authors"]),
        ({"authors": []}, ["authors"]),
        ({"title": "另一篇文章的标题"}, ["title"]),
        ({"body_text": "完全不同的一段文字，和原文没有任何关系。" * 2, "authors": []}, ["body", "authors"]),
    ],
)
def test_the_cross_check_compares_body_authors_and_title(generic: dict[str, Any], fields: list[str]) -> None:
    check = cross_check(_article(), _article(**generic))
    assert check.disagreements(DEFAULT_MIN_F1) == fields
    assert check.agrees(DEFAULT_MIN_F1) == (not fields)


def test_the_default_sample_is_deterministic_and_near_the_rate() -> None:
    ids = [f"n{13_000_000 + i}" for i in range(20_000)]
    sampled = [aid for aid in ids if is_sampled(aid, DEFAULT_RATE)]
    assert sampled == [aid for aid in ids if is_sampled(aid, DEFAULT_RATE)]
    assert abs(len(sampled) / len(ids) - DEFAULT_RATE) < 0.01
    assert not any(is_sampled(aid, 0.0) for aid in ids) and all(is_sampled(aid, 1.0) for aid in ids)


@pytest.mark.parametrize(
    ("stats", "failing"),
    [
        ({"articles/extracted": 100, "articles/fallback": 5}, False),
        ({"articles/extracted": 100, "articles/fallback": 6}, True),
        ({"articles/extracted": 10, "crosscheck/checked": 10, "crosscheck/disagreed": 2}, False),
        ({"articles/extracted": 10, "crosscheck/checked": 10, "crosscheck/disagreed": 3}, True),
        # One odd page in a small run is no trend.
        ({"articles/extracted": 2, "crosscheck/checked": 1, "crosscheck/disagreed": 1}, False),
    ],
)
def test_health_limits_on_fallback_and_disagreement(stats: dict[str, int], failing: bool) -> None:
    base = {"pages/list": 1, "articles/links_found": 100, "articles/pages": stats["articles/extracted"]}
    verdict = evaluate({**base, **stats}, 0.05)
    assert verdict.ok is not failing
    assert all("the site's markup probably changed" in reason for reason in verdict.reasons)


@pytest.mark.parametrize("name", ["EXTRACT_CROSSCHECK_RATE", "EXTRACT_CROSSCHECK_MIN_F1"])
@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "often"])
def test_a_bad_cross_check_setting_is_rejected_at_start_naming_it(name: str, value: str) -> None:
    with pytest.raises(CrossCheckConfigError, match=name):
        CrossCheckMiddleware.from_crawler(get_crawler(ArticlesSpider, {name: value}))


@pytest.mark.parametrize("name", ["HEALTH_MAX_FALLBACK_RATIO", "HEALTH_MAX_DISAGREEMENT_RATIO"])
def test_a_bad_health_ratio_is_rejected_at_start_naming_it(name: str, tmp_path: Path) -> None:
    exporter = {"ITEM_PIPELINES": {"pipelines.parquet.ParquetPipeline": 300}}
    crawler = get_crawler(ArticlesSpider, {name: "2", "PARQUET_URI": str(tmp_path / "articles"), **exporter})
    with pytest.raises(HealthConfigError, match=name):
        RunLifecycle.from_crawler(crawler)
