"""Opening dateline and byline of the first paragraph, and the authors they name (docs/DESIGN.md table)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from opencc import OpenCC

_TO_TRADITIONAL = OpenCC("s2t")

# Where reporters file from: Taiwan's cities and counties, the cities of the overseas editions, China's large
# cities, countries and regions. A place outside this list is split off by length (see name_and_place).
PLACES_GB = (
    "台湾台北", "台湾台中", "台湾高雄", "台北", "新北", "桃园", "台中", "台南", "高雄", "基隆", "新竹", "苗栗",
    "彰化", "南投", "云林", "嘉义", "屏东", "宜兰", "花莲", "台东", "澎湖", "金门", "马祖",
    "纽约", "华盛顿", "华府", "旧金山", "洛杉矶", "休斯顿", "芝加哥", "波士顿", "西雅图", "费城", "亚特兰大",
    "达拉斯", "迈阿密", "拉斯维加斯", "圣地亚哥", "圣荷西", "硅谷", "湾区", "底特律", "丹佛", "凤凰城", "奥兰多",
    "匹兹堡", "新泽西", "长岛", "法拉盛", "曼哈顿", "檀香山", "夏威夷", "加州", "德州",
    "多伦多", "温哥华", "渥太华", "蒙特利尔", "卡尔加里", "埃德蒙顿", "满地可",
    "悉尼", "墨尔本", "布里斯班", "珀斯", "阿德莱德", "堪培拉", "奥克兰", "惠灵顿", "基督城",
    "东京", "大阪", "京都", "名古屋", "横滨", "福冈", "首尔", "釜山",
    "伦敦", "巴黎", "柏林", "法兰克福", "慕尼黑", "汉堡", "罗马", "米兰", "马德里", "巴塞罗那", "维也纳",
    "布拉格", "布鲁塞尔", "阿姆斯特丹", "日内瓦", "苏黎世", "斯德哥尔摩", "哥本哈根", "奥斯陆", "赫尔辛基",
    "华沙", "雅典", "都柏林", "里斯本", "莫斯科", "基辅", "布达佩斯",
    "香港", "澳门", "新加坡", "吉隆坡", "曼谷", "雅加达", "马尼拉", "河内", "耶路撒冷", "特拉维夫", "迪拜",
    "北京", "上海", "广州", "深圳", "成都", "武汉", "南京", "天津", "重庆", "杭州", "西安", "沈阳", "大连",
    "青岛", "长春", "哈尔滨",
    "台湾", "美国", "加拿大", "澳洲", "澳大利亚", "新西兰", "日本", "韩国", "英国", "法国", "德国", "欧洲",
    "以色列", "乌克兰", "大陆",
)  # fmt: skip
# Spellings of Taiwan and Hong Kong that are not OpenCC's conversion of a gb spelling above.
PLACES_B5_ONLY = (
    "雪梨", "卡加利", "愛民頓", "滿地可", "蒙特婁", "休士頓", "聖地牙哥", "伯斯", "坎培拉", "布里斯本",
    "紐西蘭", "矽谷", "灣區", "鳳凰城", "華府", "紐澤西", "拉斯維加斯",
)  # fmt: skip
# Two-character surnames: with them a four-character segment is a whole name, not a name and a place.
COMPOUND_SURNAMES_GB = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙", "宇文",
    "端木", "司徒", "西门", "南宫",
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


# Looked up by suffix length: the regex alternation of them tried every place at every position.
_PLACE_WORDS = frozenset(_with_traditional((*PLACES_GB, *PLACES_B5_ONLY)))
_PLACE_LENGTHS = sorted({len(word) for word in _PLACE_WORDS}, reverse=True)
_COMPOUND_SURNAMES = _alternation(COMPOUND_SURNAMES_GB)
_REPORT = _alternation(("报导", "报道", "编译"))
_ROUNDUP = _alternation(("综合",))
_REPORTER = _alternation(("记者",))
_SITE = _alternation(("大纪元",))
_FEATURE_LABEL = _alternation(("文", "作者", "翻译", "整理"))

DATELINE_RE = re.compile(r"^【[^【】]{1,40}[讯訊]】")
# A leading full-width parenthetical that ends in a reporting verb: （大纪元记者A综合报导）, （大纪元综合报导）.
_PAREN_BYLINE_RE = re.compile(rf"^（([^（）]{{0,60}}?(?:{_REPORT}))）")
# Whoever employs the reporter comes first: 大纪元记者, 英文大纪元记者, 大纪元特约记者, 大纪元驻欧洲记者, 记者.
_REPORTER_PREFIX_RE = re.compile(rf"^[^（）／/、，,\s]{{0,10}}?(?:{_REPORTER})")
_REPORT_SUFFIX_RE = re.compile(rf"(?:{_ROUNDUP})?(?:{_REPORT})$")
_COMPOUND_SURNAME_RE = re.compile(rf"^(?:{_COMPOUND_SURNAMES})")
_SEGMENT_SPLIT_RE = re.compile(r"\s*[／/]\s*")
# Spaces separate names only between Han characters: a Latin name keeps its own (Zachary Stieber).
_NAME_SPLIT_RE = re.compile(r"\s*[、，,]\s*|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_COLON = "[：:︰]"
# 文：A | 翻译：B   /   作者：A / 整理：B・大纪元 : a paragraph that is nothing but labelled names.
_FEATURE_SEGMENT = rf"(?:{_FEATURE_LABEL}){_COLON}\s*[^|｜/／：:︰]+?"
_FEATURE_BYLINE_RE = re.compile(rf"^{_FEATURE_SEGMENT}(?:\s*[|｜/／]\s*{_FEATURE_SEGMENT})*$")
_FEATURE_SPLIT_RE = re.compile(r"\s*[|｜/／]\s*")
_FEATURE_LABEL_RE = re.compile(rf"^(?:{_FEATURE_LABEL}){_COLON}\s*")
_SITE_SUFFIX_RE = re.compile(rf"\s*[・‧·]\s*(?:{_SITE})$")
_NAME_RE = re.compile(
    r"^(?:[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]+(?:[‧·・][\u4e00-\u9fff]+)+"
    r"|[A-Z][A-Za-z'.-]+(?: [A-Z][A-Za-z'.-]+){1,3})$"
)
_HAN_ONLY_RE = re.compile(r"^[\u4e00-\u9fff]+$")
# Chinese given names make a name of 2 or 3 characters (3 or 4 with a two-character surname); a place is at
# least 2. Longer Han segments without a known place are split by these lengths.
_PLAIN_NAME_MAX = 3
_PLACE_MIN = 2

# What went wrong with a byline (the crawl counts them by form: bylines/<issue>).
UNKNOWN_PLACE = "unknown_place"  # a name was split off a place that is in no list: check the name
REPORTER_UNPARSED = "reporter_unparsed"  # a reporter byline that gave no name
FEATURE_UNPARSED = "feature_unparsed"  # a 文：/作者： line that gave no name


@dataclass(slots=True)
class Opening:
    """What the first paragraph opens with, and the text left after it."""

    rest: str
    dateline: str | None = None
    authors: list[str] = field(default_factory=list)
    byline_issue: str | None = None


@dataclass(frozen=True, slots=True)
class Names:
    """Names read from a byline, and whether one of them had to be cut off an unknown place."""

    names: list[str]
    guessed_place: bool = False


def split_opening(first_line: str) -> Opening:
    """Peel the dateline and the byline (parenthetical or feature line) off the first paragraph."""
    dateline_match = DATELINE_RE.match(first_line)
    dateline = dateline_match.group(0) if dateline_match else None
    rest = first_line[dateline_match.end() :].lstrip() if dateline_match else first_line
    paren = _PAREN_BYLINE_RE.match(rest)
    if paren is not None:
        found = read_reporter_byline(paren.group(1))
        issue = _issue(found, REPORTER_UNPARSED) if _REPORTER_PREFIX_RE.match(paren.group(1)) else None
        return Opening(rest[paren.end() :].lstrip(), dateline, found.names, issue)
    if _FEATURE_BYLINE_RE.match(rest):
        names = feature_names(rest)
        return Opening("", dateline, names, None if names else FEATURE_UNPARSED)
    return Opening(rest, dateline)


def _issue(found: Names, unparsed: str) -> str | None:
    if not found.names:
        return unparsed
    return UNKNOWN_PLACE if found.guessed_place else None


def read_reporter_byline(byline: str) -> Names:
    prefix = _REPORTER_PREFIX_RE.match(byline)
    if prefix is None:
        return Names([])
    names: list[str] = []
    guessed = False
    for segment in _SEGMENT_SPLIT_RE.split(byline[prefix.end() :]):
        for part in _NAME_SPLIT_RE.split(_REPORT_SUFFIX_RE.sub("", segment)):
            name, guessed_here = name_and_place(part)
            names.append(name)
            guessed = guessed or guessed_here
    valid = _valid_names(names)
    return Names(valid, guessed and bool(valid))


def name_and_place(segment: str) -> tuple[str, bool]:
    """The name at the start of ``segment`` (``王明台北``, ``王明``) and whether its place was guessed.

    Known places are cut off the end (several: ``台湾台北``); a segment that is only a place leaves no name.
    A Han segment still too long for a name ends in a place no list knows: the name is cut by length.
    """
    name = segment
    while (shorter := _without_place(name)) != name:
        name = shorter
    if name != segment or not _HAN_ONLY_RE.match(name):
        return name, False
    longest = _PLAIN_NAME_MAX + (1 if _COMPOUND_SURNAME_RE.match(name) else 0)
    if len(name) <= longest:
        return name, False
    # The longest name that leaves a place of two characters or more; else one character shorter.
    length = longest if len(name) - longest >= _PLACE_MIN else longest - 1
    return name[:length], True


def _without_place(name: str) -> str:
    """``name`` without the longest known place it ends with (before a final newline, where ``$`` matches too:
    what a regex substitution of the places anchored at the end removes)."""
    end = len(name) - 1 if name.endswith("\n") else len(name)
    for length in _PLACE_LENGTHS:
        if length <= end and name[end - length : end] in _PLACE_WORDS:
            return name[: end - length] + name[end:]
    return name


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
