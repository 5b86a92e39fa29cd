"""What a page says about itself in its head and markup: title, canonical URL, language, times and authors
from ``<meta>``, JSON-LD, ``<time>`` and ``rel=author``. Read before the page is stripped for its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from crawler.extract.dom import Element, line_of
from crawler.extract.images import web_url
from crawler.extract.text import normalize_line

_METAS = etree.XPath("//meta[@content]")
_JSON_LD = etree.XPath("//script[@type='application/ld+json']/text()")
_TITLE = etree.XPath("//title")
_HEADINGS = etree.XPath("//body//h1 | //body//h2")
_CANONICAL = etree.XPath("//link[@rel='canonical']/@href")
_HTML_LANG = etree.XPath("/html/@lang | /html/@xml:lang")
_TIMES = etree.XPath("//time[@datetime] | //*[@itemprop='datePublished' or @itemprop='dateModified']")
_RELATION_AUTHORS = etree.XPath("//a[@rel='author'] | //*[@itemprop='author']")
# Meta names, lowercased, most specific first.
PUBLISHED_KEYS = (
    "article:published_time", "og:published_time", "og:article:published_time", "datepublished",
    "publishdate", "publish_date", "publish-date", "pubdate", "publication_date", "sailthru.date",
    "parsely-pub-date", "dc.date.issued", "dcterms.created", "dc.date.created", "dc.date", "date",
    "article.published", "published_time", "weibo:article:create_at", "created", "creation_date",
)  # fmt: skip
UPDATED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "lastmod",
    "last-modified",
    "dcterms.modified",
)
AUTHOR_KEYS = (
    "author",
    "article:author",
    "byl",
    "sailthru.author",
    "parsely-author",
    "dc.creator",
    "dcterms.creator",
)
TITLE_KEYS = ("og:title", "twitter:title", "headline", "title")
LANGUAGE_KEYS = ("content-language", "og:locale", "language", "dc.language")
_TITLE_SEPARATORS_RE = re.compile(r"\s+[-–—|·•:]\s+|\s*[|｜_—–]\s*|\s*--\s*|\s*::\s*")
_MIN_HEADING_CHARS = 4


@dataclass(slots=True)
class PageMeta:
    title: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    published: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)


def read_meta(root: Element, url: str) -> PageMeta:
    metas = _meta_values(root)
    ld = _article_ld(root)
    meta = PageMeta()
    meta.title = _title(root, metas, ld)
    meta.canonical_url = _canonical(root, metas, url)
    language = next((metas[key] for key in LANGUAGE_KEYS if key in metas), None)
    html_lang = next(iter(_HTML_LANG(root)), None)
    meta.language = normalize_line(str(html_lang)) if html_lang else language
    meta.published = [
        *_ld_values(ld, "datePublished"),
        *_ld_values(ld, "dateCreated"),
        *(metas[key] for key in PUBLISHED_KEYS if key in metas),
        *_time_values(root, "datePublished"),
    ]
    meta.updated = [*_ld_values(ld, "dateModified"), *(metas[key] for key in UPDATED_KEYS if key in metas)]
    meta.authors = _authors(root, metas, ld)
    return meta


def _meta_values(root: Element) -> dict[str, str]:
    values: dict[str, str] = {}
    for element in _METAS(root):
        key = (
            element.get("name")
            or element.get("property")
            or element.get("itemprop")
            or element.get("http-equiv")
        )
        content = normalize_line(element.get("content") or "")
        if key and content:
            values.setdefault(key.strip().lower(), content)
    return values


def _article_ld(root: Element) -> dict[str, Any]:
    """The first JSON-LD object that has a headline or a publication date (top level, list or @graph)."""
    for raw in _JSON_LD(root):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for candidate in _ld_objects(data):
            if "datePublished" in candidate or "headline" in candidate:
                return candidate
    return {}


def _ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if isinstance(graph, list):
                yield from (member for member in graph if isinstance(member, dict))


def _ld_values(ld: dict[str, Any], key: str) -> list[str]:
    value = ld.get(key)
    values = value if isinstance(value, list) else [value]
    return [normalize_line(item) for item in values if isinstance(item, str) and item.strip()]


def _ld_names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and normalize_line(name):
            names.append(normalize_line(name))
    return names


def _time_values(root: Element, prop: str) -> list[str]:
    values = []
    for element in _TIMES(root):
        if element.get("itemprop") not in (None, prop):
            continue
        value = element.get("datetime") or element.get("content") or line_of(element)
        if value:
            values.append(normalize_line(value))
    return values


def _authors(root: Element, metas: dict[str, str], ld: dict[str, Any]) -> list[str]:
    names = _ld_names(ld.get("author"))
    for key in AUTHOR_KEYS:
        value = metas.get(key)
        if value and not value.startswith(("http://", "https://", "@")):
            names += [part.strip() for part in re.split(r"\s*[,，、;；]\s*|\s+and\s+", value) if part.strip()]
    if not names:
        names = [line_of(element) for element in _RELATION_AUTHORS(root)]
    return [name for name in dict.fromkeys(names) if name and len(name) <= 60]


def _title(root: Element, metas: dict[str, str], ld: dict[str, Any]) -> str | None:
    """The headline without the site's name: a heading the page title contains, else the page title or
    og:title cut at its separators (longest part)."""
    page_title = line_of(next(iter(_TITLE(root)), None))
    declared = [value for key in TITLE_KEYS if (value := metas.get(key))]
    declared += _ld_values(ld, "headline")
    references = [text for text in (page_title, *declared) if text]
    for heading in _HEADINGS(root):
        text = line_of(heading)
        if len(text) >= _MIN_HEADING_CHARS and any(text in reference for reference in references):
            return text
    for candidate in (*_ld_values(ld, "headline"), metas.get("og:title"), page_title, *declared):
        if candidate:
            return _without_site_name(candidate)
    return None


def _without_site_name(title: str) -> str:
    parts = [part for part in _TITLE_SEPARATORS_RE.split(title) if part.strip()]
    if len(parts) <= 1:
        return title.strip()
    return max(parts, key=len).strip()


def _canonical(root: Element, metas: dict[str, str], url: str) -> str | None:
    for candidate in (*_CANONICAL(root), metas.get("og:url")):
        if candidate:
            absolute = web_url(str(candidate), url)
            if absolute:
                return absolute
    return None
