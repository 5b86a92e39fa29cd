"""Hostile pages (README "What it survives"): no date on a page can send a write outside the dataset root, and
no text field (not only body_html) carries active markup, wherever the page put it."""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from crawler.extract import extract
from crawler.items import ArticleItem
from pipelines.dataset.layout import PARTITION_FORMATS, partition_dir
from pipelines.fingerprint import FingerprintPipeline, InvalidDate
from pipelines.parquet import InvalidRowError
from tests.test_extract_safety import FULL_PAGE, HOSTILE_FRAGMENTS, URL
from tests.test_parquet import make_item, make_pipeline

# ---- partitions come only from validated dates ------------------------------------------------------------

# Every fixed offset a datetime accepts (strictly within a day), so that conversion to UTC can leave the calendar.
OFFSETS = st.builds(
    timezone,
    st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)),
)
ANY_DATETIME = st.datetimes(timezones=st.none() | OFFSETS)
PARTITION_NAMES = {"date": re.compile(r"date=\d{4}-\d{2}-\d{2}"), "month": re.compile(r"month=\d{4}-\d{2}")}


def assert_inside(root: Path, partition: str) -> None:
    """The part file's path, normalised, is exactly one folder below the root."""
    path = os.path.normpath(os.path.join(root, partition, "part-x.parquet"))
    assert os.path.dirname(os.path.dirname(path)) == str(root)
    assert ".." not in partition and os.sep not in partition and "/" not in partition


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=OFFSETS))
def test_partition_names_are_digits_in_one_folder(moment: datetime) -> None:
    for kind, name in PARTITION_NAMES.items():
        partition = partition_dir(kind, moment)
        assert name.fullmatch(partition), partition
        assert partition == f"{kind}={moment.astimezone(UTC).strftime(PARTITION_FORMATS[kind])}"
        assert_inside(Path("/data/articles"), partition)
    assert set(PARTITION_NAMES) == set(PARTITION_FORMATS)


@settings(max_examples=300, deadline=None)
@given(ANY_DATETIME)
def test_any_published_at_is_stored_in_its_partition_or_dropped_and_counted(
    tmp_path_factory: pytest.TempPathFactory, moment: datetime
) -> None:
    root = tmp_path_factory.mktemp("articles")
    crawler = get_crawler(settings_dict={})
    assert crawler.stats is not None
    cleaner = FingerprintPipeline(crawler.stats)
    exporter = make_pipeline(root)
    item = make_item(1, moment)
    try:
        cleaned = cleaner.process_item(item)
    except ValueError:  # a naive datetime is an extraction bug: rejected loudly (the spider never makes one)
        assert moment.utcoffset() is None
        return
    except InvalidDate:  # at the edge of the calendar: no UTC instant
        assert crawler.stats.get_value("articles/dropped/invalid_date") == 1
        return
    try:
        exporter.process_item(cleaned)
    except InvalidRowError:
        assert exporter.crawler.stats is not None
        assert exporter.crawler.stats.get_value("articles/dropped/invalid_row") == 1
        assert cleaned.published_at.year < 1000
        return
    partition = partition_dir("date", cleaned.published_at)
    assert PARTITION_NAMES["date"].fullmatch(partition), partition
    assert_inside(root, partition)


# ---- no active markup in any text field --------------------------------------------------------------------

# Plus code whose text would read as active content if it leaked into a field.
HOSTILE = (
    "".join(HOSTILE_FRAGMENTS)
    + '<script>var go = "javascript:void(0)";</script><style>a[onclick=x]{}</style>'
)

# JSON-LD as sites write it: "<" escaped, so that "</script>" in a string cannot end the script element.
HOSTILE_JSON = json.dumps(HOSTILE, ensure_ascii=False).replace("<", "\\u003c")[1:-1]
# Where a page puts text that becomes a field: elements (title, captions, tags, breadcrumbs, byline, editor)...
IN_ELEMENTS = [
    ("多地停课</h1>", f"多地停课{HOSTILE}</h1>"),
    ("台风过境后的街道。", f"台风过境后的街道。{HOSTILE}"),
    ("路上积水严重", f"路上积水严重{HOSTILE}"),
    ('rel="tag">停课</a>', f'rel="tag">停<b onclick="x">课</b>{HOSTILE}</a>'),
    ('">大陆新闻</a>', f'">大陆新闻{HOSTILE}</a>'),
    ("<p>责任编辑：方明</p>", f"<p>责任编辑：方明{HOSTILE}</p>"),
    ("记者王明、李华", f"记者王明{HOSTILE}、李华"),
]
# ...and attributes and JSON-LD, whose text is markup only if a reader renders it (og:title and articleSection
# are used once the h1 and the section meta are gone).
IN_ATTRIBUTES = [
    ('<h1 class="title">组图：台风过境 多地停课</h1>', ""),
    ('<meta property="article:section" content="台湾">', ""),
    ('content="组图：台风过境 多地停课 - 大纪元"', f'content="组图{html.escape(HOSTILE)} - 大纪元"'),
    ('"articleSection":"要闻"', f'"articleSection":"要闻{HOSTILE_JSON}"'),
    ('content="台风,停课,大纪元"', f'content="台风,{html.escape(HOSTILE)},大纪元"'),
]
ACTIVE = re.compile(r"<\s*[a-z!/?]|javascript:|vbscript:|data:text|\bon[a-z]+\s*=", re.IGNORECASE)


def text_values(item: ArticleItem) -> dict[str, str]:
    """Every text value of a row but body_html (checked by test_extract_safety): fields, list entries, images."""
    values: dict[str, str] = {}
    for field in fields(ArticleItem):
        value = getattr(item, field.name)
        if isinstance(value, str):
            values[field.name] = value
        elif isinstance(value, list):
            for n, entry in enumerate(value):
                parts = asdict(entry) if is_dataclass(entry) and not isinstance(entry, type) else {"": entry}
                values.update(
                    {f"{field.name}[{n}]{key}": text for key, text in parts.items() if isinstance(text, str)}
                )
    values.pop("body_html")
    return values


@pytest.mark.parametrize("slots", [IN_ELEMENTS, IN_ATTRIBUTES], ids=["elements", "attributes"])
def test_every_text_field_of_a_hostile_page_is_plain_text(slots: list[tuple[str, str]]) -> None:
    page = FULL_PAGE
    for original, hostile in slots:
        assert original in page, original
        page = page.replace(original, hostile)
    crawler = get_crawler(settings_dict={})
    assert crawler.stats is not None
    item = ArticleItem.from_article(extract(page, URL), crawled_at=datetime(2026, 10, 8, tzinfo=UTC))
    row = FingerprintPipeline(crawler.stats).process_item(item)
    values = text_values(row)
    assert {"title", "section", "tags[1]", "images[0]caption"} <= set(values)
    for name, value in values.items():
        assert not ACTIVE.search(value), (name, value)
