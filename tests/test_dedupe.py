from __future__ import annotations

import logging
from pathlib import Path

import opencc
import pyarrow.parquet as pq
import pytest
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem
from crawler.spiders.articles import ArticlesSpider
from pipelines.dataset.archive import ArchiveIndex
from pipelines.dataset.schema import items_to_table
from pipelines.dedupe import DedupePipeline, Duplicate, DuplicateContent
from pipelines.fingerprint import fingerprint_item
from tests.archive_data import SAMPLE_BODY, SAMPLE_TITLE, sample_item

TO_TRADITIONAL = opencc.OpenCC("s2t")
OTHER_BODY = "台风过境，多地停课停工。\n气象部门提醒民众注意防范强风豪雨，远离海边与山区。"
LONG_BODY = "\n".join(
    f"第{i}段：议员在会议上就预算案提出了详细的质询，并要求政府说明开支的用途。" for i in range(12)
)


def archived(item: ArticleItem, version: int) -> ArticleItem:
    row = fingerprint_item(item)
    row.version = version
    row.run_id = "earlier-run"
    return row


def write_archive(root: Path, rows: list[ArticleItem]) -> None:
    """Rows as the exporter writes them: the full schema, one date partition."""
    folder = root / "date=2021-12-31"
    folder.mkdir(parents=True)
    pq.write_table(items_to_table(rows), folder / "part-earlier-run-0.parquet")


def start(settings: dict[str, object]) -> tuple[Crawler, DedupePipeline]:
    crawler = get_crawler(ArticlesSpider, settings)
    crawler.spider = ArticlesSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    pipeline = DedupePipeline.from_crawler(crawler)
    pipeline.load_archive()
    return crawler, pipeline


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    root = tmp_path / "articles"
    write_archive(
        root,
        [
            archived(sample_item(100), 1),
            archived(sample_item(100, body_text="旧的正文。"), 2),
            archived(sample_item(200, title="台风", body_text=OTHER_BODY), 1),
            archived(sample_item(300, title="预算", body_text=LONG_BODY), 1),
        ],
    )
    return root


def test_archive_story(archive_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    crawler, pipeline = start({"PARQUET_URI": str(archive_root)})
    assert isinstance(crawler.spider, ArticlesSpider)
    assert "n100" in pipeline.index and "n400" not in pipeline.index

    # Latest archived text of n100 is "旧的正文。" (version 2): the sample body is a change.
    changed = pipeline.process_item(fingerprint_item(sample_item(100)))
    assert (changed.version, changed.near_duplicate_of) == (2 + 1, None)

    with caplog.at_level(logging.INFO, logger="pipelines.dedupe"), pytest.raises(Duplicate) as unchanged:
        pipeline.process_item(fingerprint_item(sample_item(200, title="台风", body_text=OTHER_BODY)))
    assert unchanged.value.reason == "duplicate"
    assert "https://www.epochtimes.com/gb/21/12/30/n200.htm" in caplog.text

    with pytest.raises(DuplicateContent) as copied:
        pipeline.process_item(fingerprint_item(sample_item(500, title="台风", body_text=OTHER_BODY)))
    assert (copied.value.reason, copied.value.original_id) == ("duplicate_content", "n200")

    edited = LONG_BODY.replace("第5段", "第五段")
    near = pipeline.process_item(fingerprint_item(sample_item(600, title="预算案", body_text=edited)))
    assert (near.version, near.near_duplicate_of) == (1, "n300")

    fresh = pipeline.process_item(
        fingerprint_item(sample_item(700, title="新闻", body_text="一篇全新的报道。"))
    )
    assert (fresh.version, fresh.near_duplicate_of) == (1, None)

    stats = crawler.stats
    assert stats.get_value("articles/new") == 2
    assert stats.get_value("articles/new_version") == 1
    assert stats.get_value("articles/near_duplicate") == 1
    assert stats.get_value("articles/dropped/duplicate") == 1
    assert stats.get_value("articles/dropped/duplicate_content") == 1
    assert "n700" in pipeline.index


def test_accepted_items_become_part_of_the_archive(archive_root: Path) -> None:
    _crawler, pipeline = start({"PARQUET_URI": str(archive_root)})
    pipeline.process_item(fingerprint_item(sample_item(800, title="标题", body_text="本次运行中的新文章。")))
    with pytest.raises(DuplicateContent) as copied:
        pipeline.process_item(
            fingerprint_item(sample_item(801, title="标题", body_text="本次运行中的新文章。"))
        )
    assert copied.value.original_id == "n800"


def test_gb_and_b5_of_one_article_in_one_run(tmp_path: Path) -> None:
    crawler, pipeline = start({"PARQUET_URI": str(tmp_path / "empty")})
    gb = pipeline.process_item(fingerprint_item(sample_item(900)))
    b5_item = sample_item(
        900,
        edition="b5",
        title=TO_TRADITIONAL.convert(SAMPLE_TITLE),
        body_text=TO_TRADITIONAL.convert(SAMPLE_BODY),
    )
    with pytest.raises(Duplicate):
        pipeline.process_item(fingerprint_item(b5_item))
    assert gb.version == 1
    assert crawler.stats.get_value("articles/dropped/duplicate") == 1


def test_a_second_copy_in_one_run_is_a_duplicate_even_with_other_text(tmp_path: Path) -> None:
    _crawler, pipeline = start({"PARQUET_URI": str(tmp_path / "empty")})
    pipeline.process_item(fingerprint_item(sample_item(910)))
    with pytest.raises(Duplicate):
        pipeline.process_item(fingerprint_item(sample_item(910, body_text="稍有不同的正文。")))


def test_the_index_is_empty_before_the_dataset_exists(tmp_path: Path) -> None:
    crawler, pipeline = start({"PARQUET_URI": str(tmp_path / "empty")})
    assert isinstance(pipeline.index, ArchiveIndex)
    assert len(pipeline.index) == 0
    assert crawler.stats.get_value("archive/articles_at_start") == 0


@pytest.mark.parametrize("value", ["-1", "17", "three", "2.5", True])
def test_a_bad_near_distance_fails_the_run(value: object, tmp_path: Path) -> None:
    crawler = get_crawler(ArticlesSpider, {"PARQUET_URI": str(tmp_path), "DEDUPE_NEAR_DISTANCE": value})
    with pytest.raises(ValueError, match="DEDUPE_NEAR_DISTANCE"):
        DedupePipeline.from_crawler(crawler)


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (" 16 ", 16), (5, 5)])
def test_near_distance_setting(value: object, expected: int, tmp_path: Path) -> None:
    crawler = get_crawler(ArticlesSpider, {"PARQUET_URI": str(tmp_path), "DEDUPE_NEAR_DISTANCE": value})
    assert DedupePipeline.from_crawler(crawler).max_distance == expected


def test_items_must_be_cleaned_first(tmp_path: Path) -> None:
    _crawler, pipeline = start({"PARQUET_URI": str(tmp_path / "empty")})
    with pytest.raises(ValueError, match="FingerprintPipeline"):
        pipeline.process_item(sample_item())
