"""What a page says about itself in its head and markup: title, canonical URL, language, times and authors
from ``<meta>``, JSON-LD, ``<time>`` and ``rel=author``. Read before the page is stripped for its text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from crawler.extract.dom import Element, ld_objects, line_of
from crawler.extract.generic.taxonomy import categories_from, declared_section, tags_from
from crawler.extract.images import web_url
from crawler.extract.text import normalize_line

# Every element metadata comes from, gathered in one walk of the tree (an XPath per field costs a walk each).
_TAGS = ("meta", "title", "link", "script", "time", "h1", "h2", "a")
_HTML_LANG = etree.XPath("/html/@lang | /html/@xml:lang")
_JSON_LD_TYPE = "application/ld+json"
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
    "citation_author",
    "author",
    "article:author",
    "byl",
    "sailthru.author",
    "parsely-author",
    "dc.creator",
    "dcterms.creator",
)
SITE_NAME_KEYS = ("og:site_name", "application-name", "twitter:site")
TITLE_KEYS = ("og:title", "twitter:title", "headline", "title")
LANGUAGE_KEYS = ("content-language", "og:locale", "language", "dc.language")
# 标题-网站名: between Chinese words an unspaced hyphen separates the site's name too.
_TITLE_SEPARATORS_RE = re.compile(
    r"\s+[-–—|·•:]\s+|\s*[|｜_—–]\s*|\s*--\s*|\s*::\s*|(?<=[\u4e00-\u9fff])-(?=[\u4e00-\u9fff])"
)
_MIN_HEADING_CHARS = 4
_AUTHOR_SPLIT_RE = re.compile(r"\s*[,，、;；]\s*|\s+and\s+")
_SPACED_HAN_RE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_MAX_SPACED_NAME = 4


@dataclass(slots=True)
class PageMeta:
    title: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    published: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # The site's own name (og:site_name, the rest of the page title): never a tag or an author.
    site_names: frozenset[str] = frozenset()


def read_meta(root: Element, url: str, *, marked_trail_possible: bool = True) -> PageMeta:
    """``marked_trail_possible``: whether the page's markup may hold a microdata or ARIA breadcrumb trail
    (taxonomy.marked_trail_possible); when not, that part of the search is skipped."""
    tags: dict[str, list[Element]] = {tag: [] for tag in _TAGS}
    for element in root.iter(*_TAGS):
        tags[element.tag].append(element)
    all_metas = _meta_values(tags["meta"])
    metas = {key: values[0] for key, values in all_metas.items()}
    ld_items = _ld_items(tags["script"])
    ld = _article_ld(ld_items)
    meta = PageMeta()
    meta.title = _title(tags, metas, ld)
    meta.site_names = _site_names(tags, metas, meta.title)
    meta.canonical_url = _canonical(tags["link"], metas, url)
    language = next((metas[key] for key in LANGUAGE_KEYS if key in metas), None)
    html_lang = next(iter(_HTML_LANG(root)), None)
    meta.language = normalize_line(str(html_lang)) if html_lang else language
    meta.published = [
        *_ld_values(ld, "datePublished"),
        *_ld_values(ld, "dateCreated"),
        *(metas[key] for key in PUBLISHED_KEYS if key in metas),
        *_time_values(tags["time"]),
    ]
    meta.updated = [*_ld_values(ld, "dateModified"), *(metas[key] for key in UPDATED_KEYS if key in metas)]
    meta.authors = _authors(tags["a"], metas, ld)
    meta.section = declared_section(all_metas, ld)
    meta.categories = categories_from(root, ld_items, meta.title, marked_trail_possible=marked_trail_possible)
    meta.tags = [tag for tag in tags_from(all_metas, ld, tags["a"]) if tag not in meta.site_names]
    return meta


def _meta_values(elements: list[Element]) -> dict[str, list[str]]:
    """Every meta value by lowercased key, in page order (article:tag repeats; most keys appear once)."""
    values: dict[str, list[str]] = {}
    for element in elements:
        key = (
            element.get("name")
            or element.get("property")
            or element.get("itemprop")
            or element.get("http-equiv")
        )
        content = normalize_line(element.get("content") or "")
        if key and content:
            values.setdefault(key.strip().lower(), []).append(content)
    return values


def _ld_items(scripts: list[Element]) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page (top level, list or @graph); scripts that do not parse are skipped."""
    items: list[dict[str, Any]] = []
    for script in scripts:
        if (script.get("type") or "").strip().lower() != _JSON_LD_TYPE or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):
            continue
        items += ld_objects(data)
    return items


def _article_ld(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The first JSON-LD object that has a headline or a publication date."""
    return next((item for item in items if "datePublished" in item or "headline" in item), {})


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


def _time_values(elements: list[Element]) -> list[str]:
    """``<time datetime>`` values, the one marked as the publication date first."""
    marked = [element for element in elements if element.get("itemprop") == "datePublished"]
    plain = [element for element in elements if element.get("itemprop") is None]
    return [normalize_line(value) for element in (*marked, *plain) if (value := element.get("datetime"))]


def _authors(links: list[Element], metas: dict[str, str], ld: dict[str, Any]) -> list[str]:
    names = _ld_names(ld.get("author"))
    for key in AUTHOR_KEYS:
        value = metas.get(key)
        if value and not value.startswith(("http://", "https://", "@")):
            names += [part.strip() for part in _AUTHOR_SPLIT_RE.split(value) if part.strip()]
    if not names:
        names = [line_of(element) for element in links if element.get("rel") == "author"]
    return [name for name in dict.fromkeys(map(_joined_han_name, names)) if name and len(name) <= 60]


def _joined_han_name(name: str) -> str:
    """``赵 培`` -> ``赵培``: a two- or three-character name spaced out to the width of a longer one."""
    joined = _SPACED_HAN_RE.sub("", name)
    return joined if len(joined) <= _MAX_SPACED_NAME and joined != name else name


def _title(tags: dict[str, list[Element]], metas: dict[str, str], ld: dict[str, Any]) -> str | None:
    """The headline without the site's name: a heading the page title contains, else the page title or
    og:title cut at its separators (longest part)."""
    page_title = line_of(next(iter(tags["title"]), None))
    declared = [value for key in TITLE_KEYS if (value := metas.get(key))]
    declared += _ld_values(ld, "headline")
    references = [text for text in (page_title, *declared) if text]
    for heading in (*tags["h1"], *tags["h2"]):
        text = line_of(heading)
        if len(text) >= _MIN_HEADING_CHARS and any(text in reference for reference in references):
            return text
    for candidate in (*_ld_values(ld, "headline"), metas.get("og:title"), page_title, *declared):
        if candidate:
            return _without_site_name(candidate)
    return None


def _site_names(tags: dict[str, list[Element]], metas: dict[str, str], title: str | None) -> frozenset[str]:
    page_title = line_of(next(iter(tags["title"]), None))
    parts = [part.strip() for part in _TITLE_SEPARATORS_RE.split(page_title) if part.strip()]
    declared = [metas[key] for key in SITE_NAME_KEYS if key in metas]
    return frozenset(part for part in (*parts[1:], *declared) if part != title)


def _without_site_name(title: str) -> str:
    parts = [part for part in _TITLE_SEPARATORS_RE.split(title) if part.strip()]
    if len(parts) <= 1:
        return title.strip()
    return max(parts, key=len).strip()


def _canonical(links: list[Element], metas: dict[str, str], url: str) -> str | None:
    canonical = [link.get("href") for link in links if (link.get("rel") or "").strip().lower() == "canonical"]
    for candidate in (*canonical, metas.get("og:url")):
        if candidate:
            absolute = web_url(str(candidate), url)
            if absolute:
                return absolute
    return None
