"""The current theme (about 2019 on): main#main div.article, JSON-LD, div.info time, featured image."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree

from crawler.extract.dom import Element, first, has_class, line_of, news_article_ld, unique
from crawler.extract.fields import BODY, texts
from crawler.extract.images import image_of
from crawler.extract.model import Image
from crawler.extract.parsers.base import LayoutFields, Parser, published_meta
from crawler.extract.times import (
    declared_clock,
    parse_iso,
    parse_json_ld_time,
    parse_visible_time,
    visible_clock,
)

ARTICLE = etree.XPath(f"//main[@id='main']//div[{has_class('article')}]")
# h1.title is the norm; newer pages use h1.articleTitle or a bare h1.
TITLED_HEADING = etree.XPath(f".//h1[{has_class('title')} or {has_class('articleTitle')}]")
ANY_HEADING = etree.XPath(".//h1")
INFO_TIME = etree.XPath(f".//div[{has_class('info')}]//time")
BREADCRUMBS = etree.XPath(f".//a[{has_class('breadcrumbs')}]")
LEAD_IMAGE = etree.XPath(f".//div[{has_class('featured_image')} or {has_class('arttop')}]")
CAPTION = etree.XPath(f".//div[{has_class('caption')}]")


def matches(root: Element) -> bool:
    return bool(ARTICLE(root))


def read(root: Element, base_url: str) -> LayoutFields:
    article = ARTICLE(root)[0]
    ld = news_article_ld(root)
    time_element = first(INFO_TIME(article))
    printed = line_of(time_element)
    modified_attr = time_element.get("datetime") if time_element is not None else None
    return LayoutFields(
        heading=line_of(first(TITLED_HEADING(article))) or line_of(first(ANY_HEADING(article))),
        body=first(BODY(root)),
        page_times=[
            published_meta(root),
            parse_json_ld_time(_ld_time(ld, "datePublished"), visible_clock(printed)),
            parse_visible_time(printed),
        ],
        updated_at=_updated_at(ld, modified_attr),
        categories=unique(texts(BREADCRUMBS(article))[1:]),
        lead_image=_lead_image(article, base_url),
        json_ld=ld,
    )


def _updated_at(ld: dict[str, Any], modified_attr: str | None) -> datetime | None:
    """JSON-LD dateModified (its false Z judged against the time element's clock), else the time element."""
    from_ld = parse_json_ld_time(_ld_time(ld, "dateModified"), declared_clock(modified_attr))
    return from_ld if from_ld is not None else parse_iso(modified_attr)


def _ld_time(ld: dict[str, Any], key: str) -> str | None:
    value = ld.get(key)
    return value if isinstance(value, str) else None


def _lead_image(article: Element, base_url: str) -> Image | None:
    container = first(LEAD_IMAGE(article))
    if container is None:
        return None
    return image_of(container, first(CAPTION(container)), base_url)


PARSER = Parser("current", matches, read)
