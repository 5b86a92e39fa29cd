"""Where a page files its article: section, breadcrumb categories and tags, from what the page declares
(``article:section``, ``article:tag``, JSON-LD ``articleSection``, ``keywords`` and ``BreadcrumbList``, meta
keywords, ``rel=tag`` links) and from its breadcrumb trail (a marked-up trail, or a line such as
``当前位置：首页 > 新闻 > 国内 > 正文``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from crawler.extract.dom import Element, line_of, unique
from crawler.extract.text import normalize_line

SECTION_KEYS = ("article:section", "og:article:section", "section", "category")
TAG_META_KEYS = ("article:tag", "og:article:tag")
KEYWORD_META_KEYS = ("news_keywords", "keywords")
# A marked-up breadcrumb trail: schema.org microdata or ARIA, or a class or id naming one. One walk of the
# elements in Python reading two attributes each costs a quarter less than an XPath over the class and id
# attribute nodes (which walks the tree once per attribute); substring tests ("rumb", "osition", "ocation")
# narrow the candidates cheaply and _TRAIL_MARK_RE decides. Microdata and ARIA trails are looked for only on
# pages whose markup has their words.
# In both "BreadcrumbList" and "breadcrumb": one search of the page.
_TRAIL_WORD = "readcrumb"
_TRAIL_MARK_RE = re.compile(r"crumb|(?<![a-z])(?:position|location|cur_?pos)(?![a-z])", re.I)
_LINKS = etree.XPath(".//a")
_BREADCRUMB_LIST = "BreadcrumbList"
# The trail's first step (the site's home) and last (the page itself) are not categories.
_HOME_RE = re.compile(
    r"^(?:首页|首頁|主页|主頁|网站首页|網站首頁|返回首页|Home|Homepage|Start|Startseite|Accueil|Inicio)$",
    re.I,
)
_HERE_RE = re.compile(r"^(?:正文|正文内容|內文|内文|内容|文章|详情|詳情|阅读|閱讀)$")
# 当前位置：首页 > 新闻 > 国内 > 正文
_TRAIL_LABEL_RE = re.compile(
    r"^(?:当前位置|當前位置|您的位置|你的位置|您现在的位置|您現在的位置|所在位置|位置)\s*[:：]?\s*"
)
_TRAIL_SEPARATOR_RE = re.compile(r"\s*(?:>>|>|»|›|→|＞|/)\s*")
_ROOT_PATH_RE = re.compile(r"^/?(?:index\.\w+|default\.\w+)?$")
_MIN_TRAIL_STEPS = 2
_MAX_STEP_CHARS = 20
_KEYWORD_SPLIT_RE = re.compile(r"\s*[,，、;；|｜]\s*")
_SPACED_WORDS_RE = re.compile(r"\s+")
_MAX_TAGS = 20
_MAX_TAG_CHARS = 40


def tags_from(metas: dict[str, list[str]], ld: dict[str, Any], links: Iterable[Element]) -> list[str]:
    """The article's own tags (``article:tag``, ``rel=tag`` links), else its JSON-LD keywords, else the
    keywords meta."""
    tagged = [*(value for key in TAG_META_KEYS for value in metas.get(key, [])), *_rel_tags(links)]
    if tagged:
        return _clean_tags(tagged)
    keywords = ld.get("keywords")
    if isinstance(keywords, list):
        return _clean_tags(item for item in keywords if isinstance(item, str))
    if isinstance(keywords, str) and keywords.strip():
        return _clean_tags(_split_keywords(keywords))
    for key in KEYWORD_META_KEYS:
        for value in metas.get(key, []):
            return _clean_tags(_split_keywords(value))
    return []


def declared_section(metas: dict[str, list[str]], ld: dict[str, Any]) -> str | None:
    """The section the page declares: JSON-LD ``articleSection``, else ``article:section``."""
    section = ld.get("articleSection")
    if isinstance(section, list):
        section = next((item for item in section if isinstance(item, str)), None)
    declared = [section] if isinstance(section, str) else []
    declared += [value for key in SECTION_KEYS for value in metas.get(key, [])]
    return next((cleaned for value in declared if (cleaned := normalize_line(value))), None)


def marked_trail_possible(markup: str | bytes) -> bool:
    """Whether the page's markup (text or bytes) has the words of a microdata or ARIA breadcrumb trail."""
    if isinstance(markup, bytes):
        return _TRAIL_WORD.encode("ascii") in markup
    return _TRAIL_WORD in markup


def categories_from(
    root: Element,
    ld_items: Iterable[dict[str, Any]],
    title: str | None,
    *,
    marked_trail_possible: bool = True,
) -> list[str]:
    """The breadcrumb trail's steps between the home page and the article: JSON-LD first, else a
    marked-up trail of links."""
    for item in ld_items:
        if _is_type(item, _BREADCRUMB_LIST):
            return _steps(_ld_trail(item), title)
    for element in _trail_marked(root, marked_trail_possible=marked_trail_possible):
        steps = _steps([line_of(link) for link in _LINKS(element) if _is_step(link.get("href"))], title)
        if steps:
            return steps
    return []


def _trail_marked(root: Element, *, marked_trail_possible: bool) -> Iterator[Element]:
    """The elements marked as a breadcrumb trail, in document order."""
    for element in root.iter():
        for name in ("class", "id"):
            value = element.get(name)
            if (
                value is not None
                and ("rumb" in value or "osition" in value or "ocation" in value)
                and _TRAIL_MARK_RE.search(value)
            ):
                yield element
                break
        else:
            if marked_trail_possible and (
                "BreadcrumbList" in (element.get("itemtype") or "")
                or "readcrumb" in (element.get("aria-label") or "")
            ):
                yield element


def categories_in_lines(lines: Iterable[str], title: str | None) -> list[str]:
    """A breadcrumb written as a line above the text (``当前位置：首页 > 新闻 > 国内 > 正文``)."""
    for line in lines:
        text = _TRAIL_LABEL_RE.sub("", line)
        parts = [part for part in _TRAIL_SEPARATOR_RE.split(text) if part]
        if len(parts) > _MIN_TRAIL_STEPS and _HOME_RE.match(parts[0]):
            return _steps(parts, title)
    return []


def _steps(names: list[str], title: str | None) -> list[str]:
    steps = [normalize_line(name) for name in names]
    steps = [
        step
        for step in steps
        if step and not _HOME_RE.match(step) and not _HERE_RE.match(step) and step != title
    ]
    return unique(step for step in steps if len(step) <= _MAX_STEP_CHARS)


def _is_step(href: str | None) -> bool:
    """A link to a section: not to the site's home (its logo or name opens many trails), not a script."""
    if not href:
        return False
    target = href.strip().lower()
    if target.startswith(("javascript:", "#", "mailto:")):
        return False
    return _ROOT_PATH_RE.match(urlsplit(target).path) is None


def _ld_trail(item: dict[str, Any]) -> list[str]:
    elements = item.get("itemListElement")
    if not isinstance(elements, list):
        return []
    steps = [element for element in elements if isinstance(element, dict)]
    steps.sort(key=_position)
    names = []
    for step in steps:
        name = step.get("name")
        inner = step.get("item")
        if not isinstance(name, str) and isinstance(inner, dict):
            name = inner.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


def _position(step: dict[str, Any]) -> int:
    value = step.get("position")
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _is_type(item: dict[str, Any], kind: str) -> bool:
    declared = item.get("@type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


def _rel_tags(links: Iterable[Element]) -> list[str]:
    # Most of a page's links have no rel: those are passed over before any string work.
    return [line_of(link) for link in links if (rel := link.get("rel")) and "tag" in rel.lower().split()]


def _split_keywords(value: str) -> list[str]:
    parts = _KEYWORD_SPLIT_RE.split(value.strip())
    if len(parts) == 1:
        # 暴雨 积水 交通: Chinese keywords are often separated by spaces alone.
        parts = _SPACED_WORDS_RE.split(parts[0]) if not parts[0].isascii() else parts
    return parts


def _clean_tags(values: Iterable[str]) -> list[str]:
    cleaned = (normalize_line(value) for value in values)
    return unique(value for value in cleaned if len(value) <= _MAX_TAG_CHARS)[:_MAX_TAGS]
