"""Opening dateline and byline of the first paragraph, and the authors they name (docs/DESIGN.md table)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from opencc import OpenCC

_TO_TRADITIONAL = OpenCC("s2t")

PLACES_GB = (
    "台湾台北", "台湾台中", "台湾高雄", "纽约", "华盛顿", "旧金山", "洛杉矶", "休斯顿", "多伦多",
    "温哥华", "悉尼", "墨尔本", "香港", "东京", "伦敦", "巴黎", "柏林", "首尔",
)  # fmt: skip


def _with_traditional(words: tuple[str, ...]) -> tuple[str, ...]:
    """gb words plus their b5 spellings: OpenCC's (臺灣台北), Taiwan's usage (台灣台北) and the formal 臺灣臺北."""
    traditional = [_TO_TRADITIONAL.convert(word) for word in words]
    taiwan_usage = [word.replace("臺", "台") for word in traditional]
    formal = [word.replace("台", "臺") for word in traditional]
    return tuple(dict.fromkeys((*words, *traditional, *taiwan_usage, *formal)))


def _alternation(words: tuple[str, ...]) -> str:
    # Longest first, so that 台湾台北 wins over any shorter word it contains.
    return "|".join(map(re.escape, sorted(_with_traditional(words), key=len, reverse=True)))


_PLACES = _alternation(PLACES_GB)
_REPORT = _alternation(("报导", "报道", "编译"))
_ROUNDUP = _alternation(("综合",))
_REPORTER = _alternation(("英文大纪元记者", "大纪元记者", "记者"))
_SITE = _alternation(("大纪元",))
_FEATURE_LABEL = _alternation(("文", "作者", "翻译", "整理"))

DATELINE_RE = re.compile(r"^【[^【】]{1,40}[讯訊]】")
# A leading full-width parenthetical that ends in a reporting verb: （大纪元记者A综合报导）, （大纪元综合报导）.
_PAREN_BYLINE_RE = re.compile(rf"^（([^（）]{{0,60}}?(?:{_REPORT}))）")
_REPORTER_PREFIX_RE = re.compile(rf"^(?:{_REPORTER})")
_REPORT_SUFFIX_RE = re.compile(rf"(?:{_ROUNDUP})?(?:{_REPORT})$")
_PLACE_SUFFIX_RE = re.compile(rf"(?:{_PLACES})$")
_SEGMENT_SPLIT_RE = re.compile(r"\s*[／/]\s*")
_NAME_SPLIT_RE = re.compile(r"\s*[、，,]\s*")
# 文：A | 翻译：B   /   作者：A / 整理：B・大纪元 : a paragraph that is nothing but labelled names.
_FEATURE_SEGMENT = rf"(?:{_FEATURE_LABEL})[：:]\s*[^|｜/／：:]+?"
_FEATURE_BYLINE_RE = re.compile(rf"^{_FEATURE_SEGMENT}(?:\s*[|｜/／]\s*{_FEATURE_SEGMENT})*$")
_FEATURE_SPLIT_RE = re.compile(r"\s*[|｜/／]\s*")
_FEATURE_LABEL_RE = re.compile(rf"^(?:{_FEATURE_LABEL})[：:]\s*")
_SITE_SUFFIX_RE = re.compile(rf"\s*[・‧·]\s*(?:{_SITE})$")
_NAME_RE = re.compile(r"^(?:[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]+(?:[‧·・][\u4e00-\u9fff]+)+)$")


@dataclass(slots=True)
class Opening:
    """What the first paragraph opens with, and the text left after it."""

    rest: str
    dateline: str | None = None
    authors: list[str] = field(default_factory=list)


def split_opening(first_line: str) -> Opening:
    """Peel the dateline and the byline (parenthetical or feature line) off the first paragraph."""
    dateline_match = DATELINE_RE.match(first_line)
    dateline = dateline_match.group(0) if dateline_match else None
    rest = first_line[dateline_match.end() :].lstrip() if dateline_match else first_line
    paren = _PAREN_BYLINE_RE.match(rest)
    if paren is not None:
        return Opening(rest[paren.end() :].lstrip(), dateline, reporter_names(paren.group(1)))
    if _FEATURE_BYLINE_RE.match(rest):
        return Opening("", dateline, feature_names(rest))
    return Opening(rest, dateline)


def reporter_names(byline: str) -> list[str]:
    """Names in a parenthetical byline's content; none unless it credits a reporter."""
    prefix = _REPORTER_PREFIX_RE.match(byline)
    if prefix is None:
        return []
    names: list[str] = []
    for segment in _SEGMENT_SPLIT_RE.split(byline[prefix.end() :]):
        bare = _PLACE_SUFFIX_RE.sub("", _REPORT_SUFFIX_RE.sub("", segment))
        names.extend(_PLACE_SUFFIX_RE.sub("", name) for name in _NAME_SPLIT_RE.split(bare))
    return _valid_names(names)


def feature_names(line: str) -> list[str]:
    """Names in a ``文：A | 翻译：B`` or ``作者：A / 整理：B・大纪元`` line."""
    names = (
        _SITE_SUFFIX_RE.sub("", _FEATURE_LABEL_RE.sub("", segment))
        for segment in _FEATURE_SPLIT_RE.split(line)
    )
    return _valid_names(names)


def _valid_names(names: Iterable[str]) -> list[str]:
    stripped = (name.strip() for name in names)
    return list(dict.fromkeys(name for name in stripped if _NAME_RE.match(name)))
