"""Extraction hands over normalized text (``crawler.extract.normalize`` and the body readers): the pipelines
downstream only fingerprint it (tests/test_fingerprint.py)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from crawler.extract import extract, extract_page
from crawler.extract.dom import has_class, has_token
from crawler.extract.model import Image
from crawler.extract.normalize import normalized_article
from crawler.extract.text import normalize_line, normalize_lines
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


# The normalization as docs/DESIGN.md defines it, spelled out one step at a time: the fast paths of
# crawler.extract.text (one pass per body, str.split for spaces) must give exactly this.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0\u3000\u2000-\u200a\u202f\u205f\x00-\x08\x0b-\x1f\x7f-\x9f]+")
_FULL_WIDTH_ALNUM = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
_REPLACED = {**dict.fromkeys(map(ord, _ZERO_WIDTH)), **{code: code - 0xFEE0 for code in _FULL_WIDTH_ALNUM}}


def _defined_normalization(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).translate(_REPLACED)).strip()


# Characters where the fast paths could part from the definition: every kind of space and control character,
# the ones str.split and the regex disagree on (\u1680, \u2028, \u2029, \x1c), zero-width and full-width
# characters, combining marks and Hangul jamo (NFC composes them with what precedes), and the private-use
# character normalize_lines joins lines with.
_TRICKY = "".join(map(chr, range(0xA0))) + (
    "\u00a0\u3000\u2000\u200a\u202f\u205f\u1680\u2028\u2029\u200b\u200d\ufeff\u00ad\uff10\uff21\uff5a"
    "\ue000\u0301\u0327\u1100\u1161\u11a8\u212b\u0344e中。"
)
TEXTS = st.text(alphabet=_TRICKY, max_size=12)


@settings(max_examples=1000, deadline=None)
@given(st.lists(TEXTS, max_size=5))
@example(["e", "\u0301x"])
@example(["\u1100", "\u1161"])
@example(["a\ue000b", " c "])
@example(["a\u2028 b", "\x1c\x00 c"])
def test_normalization_of_lines_is_the_defined_one_line_by_line(texts: list[str]) -> None:
    expected = [_defined_normalization(text) for text in texts]
    assert [normalize_line(text) for text in texts] == expected
    assert normalize_lines(texts) == expected


CLASS_VALUES = st.text(alphabet=" \t\n\r\u00a0\u3000\x85ab-", max_size=10)


@settings(max_examples=500, deadline=None)
@given(CLASS_VALUES, st.sampled_from(["a", "ab", "a-b", "b"]))
@example("x\u00a0a", "a")
@example("\ta\n", "a")
def test_has_token_reads_a_class_as_the_xpath_class_test_does(value: str, name: str) -> None:
    element = etree.Element("div", {"class": value})
    assert has_token(element, "class", name) == etree.XPath(f"boolean(self::*[{has_class(name)}])")(element)
