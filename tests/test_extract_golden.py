"""Golden pages (tests/pages/README.md): every field compared on its own, so a failure names the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import ExtractionError, MissingField, extract
from crawler.extract.byline import split_opening

PAGES = Path(__file__).parent / "pages"
SIDECAR_PREFIX = "_"
CASES = sorted(path.stem for path in PAGES.glob("*.json"))
ARTICLE_CASES = [name for name in CASES if "_error" not in json.loads((PAGES / f"{name}.json").read_text())]


def load(name: str) -> tuple[str, str, dict[str, Any]]:
    expected = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    markup = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    return markup, expected["_fetched_url"], expected


def field_cases() -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = []
    for name in ARTICLE_CASES:
        expected = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
        cases.extend((name, key) for key in expected if not key.startswith(SIDECAR_PREFIX))
    return cases


_extracted: dict[str, dict[str, Any]] = {}


def extracted(name: str) -> dict[str, Any]:
    if name not in _extracted:
        markup, url, _ = load(name)
        _extracted[name] = extract(markup, url).to_json_dict()
    return _extracted[name]


def test_golden_folder_is_complete() -> None:
    assert len(ARTICLE_CASES) >= 10
    assert all((PAGES / f"{name}.html").exists() for name in CASES)


@pytest.mark.parametrize(("page", "field_name"), field_cases())
def test_golden_field(page: str, field_name: str) -> None:
    _, _, expected = load(page)
    assert extracted(page)[field_name] == expected[field_name]


@pytest.mark.parametrize("page", ARTICLE_CASES)
def test_golden_expectations_cover_every_field(page: str) -> None:
    _, _, expected = load(page)
    produced = set(extracted(page)) - {"body_html"}
    assert produced == {key for key in expected if not key.startswith(SIDECAR_PREFIX)}


@pytest.mark.parametrize("page", [name for name in CASES if name not in ARTICLE_CASES])
def test_golden_failure(page: str) -> None:
    markup, url, expected = load(page)
    with pytest.raises(ExtractionError) as raised:
        extract(markup, url)
    assert type(raised.value).__name__ == expected["_error"]
    if isinstance(raised.value, MissingField):
        assert raised.value.field_name == expected["_field"]


@pytest.mark.parametrize(
    ("first_paragraph", "authors", "rest"),
    [
        ("【大纪元2021年12月31日讯】（大纪元记者李馨综合报导）美国", ["李馨"], "美国"),
        ("（大纪元记者李馨台湾台北报导）文", ["李馨"], "文"),
        ("（大紀元記者侯駿霖台灣台北報導）文", ["侯駿霖"], "文"),
        ("（大紀元記者侯駿霖臺灣臺北報導）文", ["侯駿霖"], "文"),
        ("（大纪元记者王明、李华纽约报导）文", ["王明", "李华"], "文"),
        ("（大纪元记者王明、李华报导）文", ["王明", "李华"], "文"),
        ("（大纪元记者王明／李华报导）文", ["王明", "李华"], "文"),
        ("（英文大纪元记者史密斯报导／李华编译）文", ["史密斯", "李华"], "文"),
        ("（英文大紀元記者史密斯報導／李華編譯）文", ["史密斯", "李華"], "文"),
        ("（大纪元记者王明编译）文", ["王明"], "文"),
        ("（大纪元记者王明综合编译）文", ["王明"], "文"),
        ("（记者王明／台湾台北报导）文", ["王明"], "文"),
        ("文：王明 | 翻译：李华", ["王明", "李华"], ""),
        ("文：約翰‧史密斯 | 翻譯：李華", ["約翰‧史密斯", "李華"], ""),
        ("作者：王明 / 整理：李华・大纪元", ["王明", "李华"], ""),
        ("（大纪元综合报导）文", [], "文"),
        ("没有署名的段落（NATO）", [], "没有署名的段落（NATO）"),
    ],
)
def test_byline_variants(first_paragraph: str, authors: list[str], rest: str) -> None:
    opening = split_opening(first_paragraph)
    assert (opening.authors, opening.rest) == (authors, rest)
