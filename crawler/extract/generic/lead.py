"""The opening of a news text: the dateline as printed (``【大纪元2021年12月30日讯】``, ``本报讯``,
``新华社北京12月30日电``, ``WASHINGTON (Reuters) —``) and the bracketed byline after it (``（记者 张伟 北京报道）``).
The body starts after both (SPEC.md); the byline's names are read with the page's other bylines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.extract.generic.bylines import LABELLED, line_byline

_HAN = "\u4e00-\u9fff"
_DATE = r"\d{1,2}\s*月\s*\d{1,2}\s*日"
# Who files: a paper, agency, site or station (本报, 新华社, 中新网, 央视台, 本刊).
_NEWSROOM = rf"[{_HAN}A-Za-z]{{0,8}}?(?:社|网|網|报|報|台|刊|站)"
_DATELINE_RE = re.compile(
    # 【大纪元2021年12月30日讯】, [本报讯]: a bracketed marker that ends in 讯 or 电.
    rf"^(?P<d>[【\[][^【】\[\]]{{1,40}}?[讯訊电電][】\]])"
    # 新华社北京12月30日电, 本报上海1月5日讯: newsroom, place, day, then 电 or 讯.
    rf"|^(?P<w>{_NEWSROOM}[{_HAN}]{{0,10}}?{_DATE}(?:电|電|讯|訊))"
    # 本报讯, 本刊讯, 中新网讯: a newsroom's 讯 without a day.
    rf"|^(?P<n>{_NEWSROOM}(?:讯|訊))"
    # WASHINGTON (Reuters) —, BEIJING, Dec. 30 (Xinhua) --: a place in capitals, then a dash.
    r"|^(?P<e>[A-Z][A-Z.'\- ]{1,30}[A-Z](?:,\s*[A-Z][A-Za-z.]*\.?(?:\s+\d{1,2})?)?(?:\s*\([A-Za-z .]{2,24}\))?)"
    r"\s*(?:—|–|--|-)\s+"
)
# The bracketed byline after the dateline: （记者 张伟 北京报道）, (通讯员 李四).
_BRACKETED_BYLINE_RE = re.compile(r"^\s*[（(](?P<inner>[^（）()]{1,40})[）)]\s*")
_NAME_SPLIT_RE = re.compile(r"\s*[\s、，,]\s*")
_NAME_RE = re.compile(rf"[{_HAN}]{{2,4}}")
_REPORTING_RE = re.compile(r"记者|記者|通讯员|通訊員|报道|報道|报导|報導|撰稿|摄影|攝影")
_LEADING_PUNCTUATION_RE = re.compile(r"^[\s:：，,/／]+")
# (綜合報道)(星島日報報道): a roundup names its sources one bracket each.
_MAX_BYLINES = 2


@dataclass(frozen=True, slots=True)
class Lead:
    """The first line's dateline (None when it has none), and the line without its dateline and byline."""

    dateline: str | None
    rest: str


def split_lead(first_line: str) -> Lead:
    """Peel the dateline and a bracketed byline off the first line of the text."""
    match = _DATELINE_RE.match(first_line)
    dateline = None
    rest = first_line
    if match is not None:
        dateline = next(group for group in match.groups() if group is not None).strip()
        rest = first_line[match.end() :]
    for _ in range(_MAX_BYLINES):
        byline = _BRACKETED_BYLINE_RE.match(rest)
        if byline is None or not _is_byline(byline.group("inner"), after_dateline=dateline is not None):
            break
        rest = rest[byline.end() :]
    if rest is first_line:
        return Lead(None, first_line)
    return Lead(dateline, _LEADING_PUNCTUATION_RE.sub("", rest))


def _is_byline(inner: str, *, after_dateline: bool) -> bool:
    """A bracket that says it is a byline (记者, 报道, a labelled name); right after a dateline, also one
    that only names people (中新网重庆1月17日电 (连肖)). (不可能) opening a sentence is a gloss."""
    if _REPORTING_RE.search(inner):
        return True
    if line_byline(inner)[1] == LABELLED:
        return True
    return after_dateline and all(_NAME_RE.fullmatch(part) for part in _NAME_SPLIT_RE.split(inner.strip()))
