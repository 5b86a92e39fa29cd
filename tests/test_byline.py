"""Bylines as the real site prints them (issue 11): places outside DESIGN.md's list, and the forms counted when
no name comes out. The DESIGN.md table itself is tests/test_extract_golden.py::test_byline_variants."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler import stats as keys
from crawler.extract.byline import (
    FEATURE_UNPARSED,
    REPORTER_UNPARSED,
    UNKNOWN_PLACE,
    name_and_place,
    split_opening,
)
from pipelines.dataset.manifest import RunManifest
from tests.test_reliability import parse_page

# Places real /b5/ bylines name that DESIGN.md's closed list does not: each must leave the reporter's name.
REAL_PLACES_B5 = (
    "台北", "新北", "桃園", "台中", "台南", "高雄", "花蓮", "舊金山", "芝加哥", "波士頓", "西雅圖", "渥太華",
    "蒙特利爾", "卡加利", "雪梨", "奧克蘭", "大阪", "法蘭克福", "臺北", "台灣新竹", "休士頓", "華府",
)  # fmt: skip


@pytest.mark.parametrize("place", REAL_PLACES_B5)
@pytest.mark.parametrize("name", ["鍾元", "吳旻洲"])
def test_a_place_outside_the_design_list_leaves_the_name(place: str, name: str) -> None:
    opening = split_opening(f"【大紀元2024年03月05日訊】（大紀元記者{name}{place}報導）立法院今天")
    assert (opening.authors, opening.rest, opening.byline_issue) == ([name], "立法院今天", None)


@pytest.mark.parametrize(
    ("first_paragraph", "authors", "issue"),
    [
        # Several reporters, the place after the last one.
        ("（大紀元記者陳霆、黃宣尹台北報導）文", ["陳霆", "黃宣尹"], None),
        ("（大纪元记者王明宇、李馨芝加哥报导）文", ["王明宇", "李馨"], None),
        # The place as its own segment after a slash is no author.
        ("（記者王明／台北報導）文", ["王明"], None),
        ("（记者王明／新北报导）文", ["王明"], None),
        # Other employers before 記者.
        ("（大紀元特約記者王明雪梨報導）文", ["王明"], None),
        ("（大紀元駐歐洲記者林書平法蘭克福報導）文", ["林書平"], None),
        # Names separated by spaces (U+3000 is a space after normalization, and in Python's \s).
        ("（大紀元記者張建　周長慶報導）文", ["張建", "周長慶"], None),
        ("（大紀元記者 李馨 台北報導）文", ["李馨"], None),
        # A Latin name of an English-edition reporter keeps its space.
        ("（英文大紀元記者Zachary Stieber報導／陳俊村編譯）文", ["Zachary Stieber", "陳俊村"], None),
        # A two-character surname makes a four-character name.
        ("（大紀元記者歐陽明月報導）文", ["歐陽明月"], None),
        ("（大紀元記者歐陽明月台北報導）文", ["歐陽明月"], None),
        # A place no list knows: the name is cut by length and the byline is flagged.
        ("（大紀元記者李馨新莊報導）文", ["李馨"], UNKNOWN_PLACE),
        ("（大紀元記者吳旻洲斗六報導）文", ["吳旻洲"], UNKNOWN_PLACE),
        ("（大紀元記者吳旻洲阿拉斯加報導）文", ["吳旻洲"], UNKNOWN_PLACE),
        # A reporter byline that gives no name at all.
        ("（大紀元記者a b報導）文", [], REPORTER_UNPARSED),
        ("（大紀元記者報導）文", [], REPORTER_UNPARSED),
        # A feature line whose names are no names.
        ("文：123 | 翻譯：456", [], FEATURE_UNPARSED),
        ("文︰王明", ["王明"], None),
        # No reporter credited: nothing to count.
        ("（大紀元綜合報導）文", [], None),
        ("（據中央社報導）文", [], None),
        ("沒有署名的段落", [], None),
    ],
)
def test_byline_forms(first_paragraph: str, authors: list[str], issue: str | None) -> None:
    opening = split_opening(first_paragraph)
    assert (opening.authors, opening.byline_issue) == (authors, issue)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("王明", ("王明", False)),
        ("王明宇", ("王明宇", False)),
        ("王明台北", ("王明", False)),
        ("王明台灣台北", ("王明", False)),
        ("台北", ("", False)),
        ("王明新莊", ("王明", True)),
        ("王明宇新莊", ("王明宇", True)),
        ("約翰‧史密斯", ("約翰‧史密斯", False)),
    ],
)
def test_name_and_place(segment: str, expected: tuple[str, bool]) -> None:
    assert name_and_place(segment) == expected


SEED = Path(__file__).parent / "pages" / "seed_n13470319.html"
SEED_PATH = "/gb/21/12/30/n13470319.htm"


@pytest.mark.parametrize(
    ("byline", "counted"),
    [
        ("（大纪元记者李馨新庄报导）", {"unknown_place": 1}),
        ("（大纪元记者a b报导）", {"reporter_unparsed": 1}),
        ("（大纪元记者李馨台北报导）", {}),
    ],
)
def test_the_crawl_counts_flagged_bylines_by_form_and_the_manifest_lists_them(
    byline: str, counted: dict[str, int]
) -> None:
    page = SEED.read_text(encoding="utf-8").replace("（大纪元记者李馨综合报导）", byline, 1)
    items, stats = parse_page(page.encode(), {"Content-Type": "text/html; charset=utf-8"}, SEED_PATH)
    assert len(items) == 1 and items[0].authors == ([] if "reporter_unparsed" in counted else ["李馨"])
    assert keys.reason_counts(stats, keys.BYLINES_PREFIX) == counted
    manifest = RunManifest("r", datetime.now(UTC), {}).document(stats)
    assert manifest["bylines"] == counted
