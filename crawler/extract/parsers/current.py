"""The current theme (about 2019 on): main#main div.article, JSON-LD, div.info time, featured image."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.extract.dom import (
    Element,
    first,
    first_with_class,
    has_token,
    line_of,
    lines_of,
    news_article_ld,
    unique,
    with_token,
)
from crawler.extract.fields import body_of
from crawler.extract.images import image_of
from crawler.extract.model import Image
from crawler.extract.parsers.base import LayoutFields, Parser, published_meta
from crawler.extract.times import (
    beijing_clock,
    declared_clock,
    parse_iso,
    parse_json_ld_time,
    parse_visible_time,
)

# Elements are found by walks, not XPath: one XPath call costs more than walking a whole page of this site.


def article_of(root: Element) -> Element | None:
    """``//main[@id='main']//div[.article]``: the first such div in document order."""
    return next(
        (
            div
            for div in with_token(root.iter("div"), "class", "article")
            if any(main.get("id") == "main" for main in div.iterancestors("main"))
        ),
        None,
    )


def info_time(article: Element) -> Element | None:
    """``.//div[.info]//time``: the first time inside a div.info inside the article."""
    for time_element in article.iterdescendants("time"):
        for ancestor in time_element.iterancestors():
            if ancestor is article:
                break
            if ancestor.tag == "div" and has_token(ancestor, "class", "info"):
                return time_element
    return None


def heading_of(article: Element) -> str:
    """h1.title is the norm; newer pages use h1.articleTitle or a bare h1."""
    headings = list(article.iterdescendants("h1"))
    return line_of(first_with_class(headings, "title", "articleTitle")) or line_of(first(headings))


def read(root: Element, article: Element, base_url: str) -> LayoutFields:
    """The fields of a page whose ``article_of`` is ``article``."""
    ld = news_article_ld(root)
    time_element = info_time(article)
    visible = parse_visible_time(line_of(time_element))
    modified_attr = time_element.get("datetime") if time_element is not None else None
    breadcrumbs = list(with_token(article.iterdescendants("a"), "class", "breadcrumbs"))
    return LayoutFields(
        heading=heading_of(article),
        body=body_of(root),
        page_times=[
            published_meta(root),
            parse_json_ld_time(_ld_time(ld, "datePublished"), beijing_clock(visible)),
            visible,
        ],
        updated_at=_updated_at(ld, modified_attr),
        categories=unique(lines_of(breadcrumbs)[1:]),
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
    container = first_with_class(article.iterdescendants("div"), "featured_image", "arttop")
    if container is None:
        return None
    return image_of(container, first_with_class(container.iterdescendants("div"), "caption"), base_url)


PARSER = Parser("current", article_of, read)
