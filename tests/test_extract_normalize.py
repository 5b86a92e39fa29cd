"""Extraction hands over normalized text (``crawler.extract.normalize`` and the body readers): the pipelines
downstream only fingerprint it (tests/test_fingerprint.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.extract import extract, extract_page
from crawler.extract.model import Image
from crawler.extract.normalize import normalized_article
from crawler.items import ArticleItem
from tests.archive_data import sample_item
from tests.test_extract_safety import FULL_PAGE, URL, with_body

GENERIC_PAGE = (Path(__file__).parent / "pages" / "generic" / "zh_gb2312.html").read_bytes().decode("gb18030")
GENERIC_URL = "https://news.example.com/2021/12/30/a.html"
GENERIC_FIRST_PARAGRAPH = "<p>　　据气象部门介绍"
MESSY_PARAGRAPHS = "<p>第一段\u00a0 文字</p><p> \u3000</p><p>  第二段 </p>"


def test_extraction_normalizes_text_fields_and_deduplicates_lists() -> None:
    item = sample_item(
        title="  \u3000更新：ＡＢＣ\u200b 新闻 ",
        section=" 大陆新闻 ",
        categories=["大陆新闻", " ", "大陆新闻", "政治"],
        tags=["民调", "民调\u200b", ""],
        authors=[" 李明 "],
        editor="  ",
        dateline="【大纪元2021年12月31日讯】",
        images=[
            Image("https://i.epochtimes.com/a.jpg", " 图说 ", ""),
            Image("https://i.epochtimes.com/a.jpg", "重复", None),
            Image(" ", "no url", None),
        ],
        char_count=999,
    )
    cleaned = normalized_article(item)
    assert cleaned.title == "更新：ABC 新闻"
    assert cleaned.char_count == len(item.body_text)
    assert cleaned.section == "大陆新闻"
    assert cleaned.categories == ["大陆新闻", "政治"]
    assert cleaned.tags == ["民调"]
    assert cleaned.authors == ["李明"]
    assert cleaned.editor is None
    assert cleaned.images == [Image("https://i.epochtimes.com/a.jpg", "图说", None)]


def test_url_is_canonical_and_alternates_are_clean_absolute_and_distinct() -> None:
    article = extract(FULL_PAGE, "http://epochtimes.com/b5/21/12/30/n13470319.htm?utm_source=rss#comments")
    cleaned = ArticleItem.from_article(
        article,
        crawled_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        alternate_urls=[
            "https://www.epochtimes.com/b5/21/12/30/n13470319.htm",
            "/gb/21/12/30/n13470319.htm?utm_source=x",
            "http://www.epochtimes.com/gb/21/12/30/n13470319.htm#top",
            "http://www.epochtimes.com/gb/21/12/30/n13470319.htm",
            "javascript:void(0)",
        ],
    )
    assert cleaned.url == "https://www.epochtimes.com/b5/21/12/30/n13470319.htm"
    assert cleaned.edition == "b5"
    assert cleaned.language == "zh-Hant"
    assert cleaned.alternate_urls == [
        "https://www.epochtimes.com/gb/21/12/30/n13470319.htm",
        "http://www.epochtimes.com/gb/21/12/30/n13470319.htm",
    ]


@pytest.mark.parametrize("extractor", ["site", "generic"])
def test_extraction_normalizes_the_body_line_by_line(extractor: str) -> None:
    if extractor == "site":
        article = extract(with_body(MESSY_PARAGRAPHS), URL)
    else:
        page = GENERIC_PAGE.replace(GENERIC_FIRST_PARAGRAPH, MESSY_PARAGRAPHS + GENERIC_FIRST_PARAGRAPH)
        article = extract_page(page.encode("utf-8"), GENERIC_URL, generic=True)
    assert "第一段 文字\n第二段" in article.body_text
    assert article.char_count == len(article.body_text)
