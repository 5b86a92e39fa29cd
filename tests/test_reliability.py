"""What a crawl survives (README "What it survives"): server faults, bad encodings, hostile pages, a site
restarted mid-crawl, a redesign. Crawls run the real command against the replica over real HTTP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.decoding import decode_problem
from crawler.extensions.health import evaluate
from crawler.items import ArticleItem
from crawler.middlewares.retry import DEFAULT_MAX_SECONDS, backoff_delay
from crawler.settings import RETRY_TIMES
from crawler.spiders.articles import ArticlesSpider
from crawler.urls import parse_article_url
from tests.accounting import assert_every_page_accounted, read_manifest
from tests.crawling import FAST_SETTINGS, CrawlResult, crawl
from tests.outage import RESTART_ARTICLES, crawl_through_an_outage, start_replica, stop, wait_for_log
from tests.replica.site import Site
from tests.replica.testing import serve_replica
from tests.test_dataset_e2e import assert_complete
from tests.test_extract_safety import assert_safe

FAULT_ARTICLES = 200
SLOW_SECONDS = 3.0
# Below SLOW_SECONDS, so that the slow page times out on every attempt.
FAULT_SETTINGS = {"DOWNLOAD_TIMEOUT": "1"}
REPLICA_BASE = "http://127.0.0.1:8000"
BACKOFF_BASE = float(FAST_SETTINGS["RETRY_BACKOFF_BASE"])
RATIO = 0.05
# Markers of active content or of a decoding accident that no stored text may contain.
ACTIVE_CONTENT = ("<script", "<style", "<iframe", "javascript:", "data:text", " onerror=", " onclick=")


def read_rows(dataset: Path) -> pa.Table:
    return pads.dataset(dataset, format="parquet", partitioning="hive").to_table()


@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlResult, Path]:
    dataset = tmp_path_factory.mktemp("faults") / "articles"
    with serve_replica(articles=FAULT_ARTICLES, faults=True, slow_seconds=SLOW_SECONDS) as site:
        result = crawl(site, dataset, args={"editions": "gb,b5"}, settings=FAULT_SETTINGS)
    return result, dataset


@pytest.mark.slow
def test_fault_crawl_succeeds_and_every_page_is_a_row_or_a_counted_loss(
    fault_crawl: tuple[CrawlResult, Path],
) -> None:
    result, dataset = fault_crawl
    assert result.returncode == 0, result.log[-4000:]
    manifest = read_manifest(dataset, result.stats["run/id"])
    assert manifest["status"] == "finished" and manifest["health"]["ok"]
    assert_every_page_accounted(result.stats, manifest, dataset)


@pytest.mark.slow
def test_each_fault_is_counted_under_its_reason(fault_crawl: tuple[CrawlResult, Path]) -> None:
    result, dataset = fault_crawl
    faults = Site(articles=FAULT_ARTICLES, faults=True).fault_paths()
    manifest = read_manifest(dataset, result.stats["run/id"])
    # Both editions' dead links share their article ids: each is requested once.
    dead = len({ref.article_id for path in faults["dead"] if (ref := parse_article_url(path))})
    assert manifest["pages_failed"] == {
        "articles": dead + 5,
        "http_404": dead,
        "timeout": len(faults["slow"]),
        "truncated": len(faults["truncated"]),
        "too_large": len(faults["too_big"]) + len(faults["gzip_bomb"]),
        "offsite": len(faults["redirect"]),
    }
    assert manifest["extraction_failures"] == {"not_an_article": len(faults["not_article"])}
    # Retried before being given up on (3 retries by default) or recovered (the flaky 500s).
    assert result.stats["retry/reason_count/scrapy.exceptions.DownloadTimeoutError"] >= 3
    flaky = {ref.article_id for path in faults["flaky"] if (ref := parse_article_url(path))}
    assert result.stats["retry/reason_count/500 Internal Server Error"] == len(flaky)
    # Each retry waited its back-off: the flaky pages before their one retry, the others before each of theirs
    # until they were given up on.
    given_up = result.stats["retry/max_reached"]
    once = result.stats["retry/count"] - given_up * RETRY_TIMES
    schedule = [
        round(backoff_delay(n, BACKOFF_BASE, DEFAULT_MAX_SECONDS) * 1000) for n in range(1, RETRY_TIMES + 1)
    ]
    assert result.stats["retry/backoff/milliseconds"] == once * schedule[0] + given_up * sum(schedule)


@pytest.mark.slow
def test_flaky_and_re_encoded_articles_are_all_archived_once(fault_crawl: tuple[CrawlResult, Path]) -> None:
    _, dataset = fault_crawl
    site = Site(articles=FAULT_ARTICLES, faults=True)
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), site)


@pytest.mark.slow
def test_stored_text_is_decoded_and_inert(fault_crawl: tuple[CrawlResult, Path]) -> None:
    result, dataset = fault_crawl
    rows = read_rows(dataset).to_pylist()
    truth = {(t["article_id"], t["edition"]): t for t in Site(articles=FAULT_ARTICLES).truth()}
    for row in rows:
        expected = truth[(row["article_id"], row["edition"])]
        assert (row["title"], row["body_text"]) == (expected["title"], expected["body_text"]), row["url"]
        texts = [value for value in row.values() if isinstance(value, str)]
        texts += [v for value in row.values() if isinstance(value, list) for v in value if isinstance(v, str)]
        assert decode_problem("\n".join(texts)) is None, row["url"]
        for text in texts:
            assert not any(marker in text.lower() for marker in ACTIVE_CONTENT), row["url"]
        assert_safe(row["body_html"] or "")
    # The redirect to another host was not followed (Scrapy may count one filtered request twice: at
    # scheduling and again in the downloader middleware, so only "at least once" is stable).
    assert result.stats["offsite/filtered"] >= 1
    assert result.stats["offsite/domains"] == 1
    assert result.stats["robotstxt/request_count"] == 1  # robots.txt consulted by default


# ---- encodings, through Scrapy's own decoding of the replica's exact bytes and headers ----------------------


@pytest.fixture(scope="module")
def fault_site() -> Site:
    return Site(articles=60, faults=True)


def parse_page(body: bytes, headers: dict[str, str], path: str) -> tuple[list[ArticleItem], dict[str, Any]]:
    crawler = get_crawler(ArticlesSpider, {})
    spider = ArticlesSpider.from_crawler(crawler, site=REPLICA_BASE)
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    ref = parse_article_url(path)
    assert ref is not None
    # Tied to its request, as every response Scrapy hands a callback is (the spider reads its meta).
    response = HtmlResponse(
        REPLICA_BASE + path, body=body, headers=headers, request=Request(REPLICA_BASE + path)
    )
    # The spider also follows the page's related links: only the items matter here.
    items = [item for item in spider.parse_article(response, ref) if isinstance(item, ArticleItem)]
    return items, crawler.stats.get_stats()


@pytest.mark.parametrize("kind", ["gbk", "gb18030", "big5", "malformed"])
def test_re_encoded_and_malformed_pages_decode_to_the_truth(fault_site: Site, kind: str) -> None:
    truth = {(t["url"].split(".com", 1)[1]): t for t in fault_site.truth()}
    for path in fault_site.fault_paths()[kind]:
        page = fault_site.get(path)
        items, stats = parse_page(page.body, page.headers, path)
        assert len(items) == 1, stats
        assert (items[0].title, items[0].body_text) == (truth[path]["title"], truth[path]["body_text"])


@pytest.mark.parametrize(
    ("codec", "label"), [("gbk", "iso-8859-1"), ("gbk", "utf-8"), ("utf-8", "gbk"), ("big5", "windows-1252")]
)
def test_mislabelled_page_is_decoded_to_the_truth_not_stored_as_mojibake(
    fault_site: Site, codec: str, label: str
) -> None:
    """The spider reads the page's bytes with ``crawler.decoding.decode_page``, which does not trust a label
    the bytes contradict (issue 11); a page it still got wrong would be a counted decode_error."""
    path = fault_site.fault_paths()["big5" if codec == "big5" else "gbk"][0]
    html = fault_site.render_clean(path)
    assert html is not None
    body = (
        html.body.decode().replace('<meta charset="utf-8">', "", 1).encode(codec, errors="xmlcharrefreplace")
    )
    items, stats = parse_page(body, {"Content-Type": f"text/html; charset={label}"}, path)
    truth = {(t["url"].split(".com", 1)[1]): t for t in fault_site.truth()}
    assert [(item.title, item.body_text) for item in items] == [
        (truth[path]["title"], truth[path]["body_text"])
    ]
    assert "articles/failed/decode_error" not in stats


def test_a_page_whose_text_is_already_mojibake_is_a_counted_decode_error(fault_site: Site) -> None:
    """Doubly encoded UTF-8 (UTF-8 bytes read as cp1252 and saved as UTF-8) decodes without error to
    mojibake: it is counted as decode_error, not stored."""
    path = fault_site.fault_paths()["gbk"][0]
    html = fault_site.render_clean(path)
    assert html is not None
    text = html.body.decode()
    start, end = text.index("<body>"), text.index("</body>")
    doubled = text[:start] + text[start:end].encode().decode("cp1252", errors="ignore") + text[end:]
    items, stats = parse_page(doubled.encode(), {"Content-Type": "text/html; charset=utf-8"}, path)
    assert items == []
    assert stats["articles/failed/decode_error"] == 1


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@settings(max_examples=200, deadline=None)
@given(st.text(CJK, min_size=2, max_size=40), st.sampled_from(["utf-8", "gbk", "gb18030"]))
def test_chinese_decoded_with_a_western_charset_is_detected(text: str, codec: str) -> None:
    for wrong in ("cp1252", "latin-1"):
        assert decode_problem(text.encode(codec).decode(wrong, errors="replace")) is not None


def test_real_chinese_text_is_not_mistaken_for_mojibake(replica_truth: list[dict[str, Any]]) -> None:
    for row in replica_truth:
        assert decode_problem(f"{row['title']}\n{row['body_text']}") is None, row["url"]
    typography = "他说：“这是……真的吗？”——唐纳德·川普 Beyoncé、Café 30°C 5×3 ©大纪元"
    assert decode_problem(typography) is None


# ---- the site stops and comes back mid-crawl ---------------------------------------------------------------

# Lost pages to wait for while the site is down: enough to be far above HEALTH_MAX_FAILED_RATIO.
LOST_PAGES_WHILE_DOWN = 20


def crawl_through_a_restart(tmp_path: Path, site: str, server: subprocess.Popen[str]) -> tuple[int, str]:
    """Crawl; once articles flow, stop the site until pages are given up on, then bring it back on its port."""
    log = tmp_path / "crawl.log"
    settings = {
        **FAST_SETTINGS,
        "CONCURRENT_REQUESTS": "2",
        "PARQUET_FLUSH_ROWS": "10",
        "DOWNLOAD_TIMEOUT": "5",
        # While the site is down each attempt is refused after 0.3 s (Twisted's HostnameEndpoint waits that
        # long before it reports a refused connection), and by default a retry goes behind every queued
        # request: no page was given up on before every queued one had been tried RETRY_TIMES times, a
        # minute here. One retry, sent next, gives up on pages while the site is still down in seconds.
        "RETRY_TIMES": "1",
        "RETRY_PRIORITY_ADJUST": "0",
        "PARQUET_URI": tmp_path / "articles",
    }

    def until_pages_are_lost(crawler: subprocess.Popen[Any]) -> None:
        wait_for_log(log, "connection_refused", LOST_PAGES_WHILE_DOWN, crawler)

    port = int(site.rsplit(":", 1)[1])
    returncode = crawl_through_an_outage(log, server, port, settings, until_pages_are_lost)
    return returncode, log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_site_down_mid_crawl_fails_the_run_loudly_and_the_next_run_fills_the_gap(tmp_path: Path) -> None:
    dataset = tmp_path / "articles"
    server, port = start_replica(0)
    site = f"http://127.0.0.1:{port}"
    returncode, log = crawl_through_a_restart(tmp_path, site, server)
    assert returncode == 3, log[-4000:]
    assert "Health check failed" in log and "connection_refused" in log
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in (dataset / "_runs").glob("*.json")]
    assert [m["status"] for m in manifests] == ["failed"]
    assert manifests[0]["pages_failed"]["connection_refused"] >= LOST_PAGES_WHILE_DOWN
    server, _ = start_replica(port)
    try:
        again = crawl(site, dataset, args={"refresh_days": "0"})
    finally:
        stop(server)
    assert again.returncode == 0, again.log[-3000:]
    assert "paging past known articles" in again.log
    assert_complete(read_rows(dataset).column("article_id").to_pylist(), Site(articles=RESTART_ARTICLES))


# ---- health verdicts on lost pages ------------------------------------------------------------------------


def test_a_lost_list_page_fails_the_health_check() -> None:
    stats = {"pages/list": 9, "articles/links_found": 180, "pages/failed/lists": 1, "pages/failed/timeout": 1}
    verdict = evaluate(stats, RATIO)
    assert not verdict.ok
    assert "1 list page(s) could not be fetched (timeout: 1)" in verdict.reasons[0]


def test_lost_article_pages_beyond_the_ratio_fail_the_health_check() -> None:
    base = {"pages/list": 5, "articles/links_found": 100, "articles/requested": 100}
    lost = {"pages/failed/articles": 6, "pages/failed/connection_refused": 6}
    verdict = evaluate({**base, **lost, "articles/pages": 94, "articles/extracted": 94}, RATIO)
    assert not verdict.ok
    assert "6 of 100 requested article page(s)" in verdict.reasons[0]
    assert "connection_refused: 6" in verdict.reasons[0]
    at_ratio = {"pages/failed/articles": 5, "articles/pages": 95, "articles/extracted": 95}
    assert evaluate({**base, **at_ratio}, RATIO).ok
