"""What every layout parser hands over, and the assembly into an Article with the required-field checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.extract.body import clean_html, read_body
from crawler.extract.dom import Element, meta_value
from crawler.extract.errors import MissingField
from crawler.extract.fields import section_from, tags_from, title_from
from crawler.extract.images import unique_images
from crawler.extract.model import Article, Image
from crawler.extract.times import choose_published, parse_iso
from crawler.urls import LANGUAGE_BY_EDITION, ArticleRef


@dataclass(slots=True)
class LayoutFields:
    """The fields whose markup differs between layouts."""

    heading: str
    body: Element | None
    page_times: list[datetime | None]
    updated_at: datetime | None = None
    categories: list[str] = field(default_factory=list)
    lead_image: Image | None = None
    json_ld: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Parser:
    """A layout: a cheap probe that finds the element its markup is recognised by (None: not this layout), and
    the reader of its fields, given that element so that it is not looked for twice."""

    name: str
    probe: Callable[[Element], Element | None]
    read: Callable[[Element, Element, str], LayoutFields]


def published_meta(root: Element) -> datetime | None:
    return parse_iso(meta_value(root, "property", "article:published_time"))


def assemble(root: Element, ref: ArticleRef, fields: LayoutFields, extractor: str) -> Article:
    url = ref.canonical_url
    title = title_from(fields.heading, root)
    if not title:
        raise MissingField("title", url)
    if fields.body is None:
        raise MissingField("body_text", url)
    body = read_body(fields.body, url)
    if not body.text:
        raise MissingField("body_text", url)
    published_at, date_source = choose_published(fields.page_times, body.dateline, ref.url_date)
    section = section_from(root, fields.json_ld, fields.categories)
    tags = tags_from(root)
    # Last: it rewrites the body element in place, and the tags and section above read the page's elements.
    body_html = clean_html(fields.body, url, body.figure_urls)
    return Article(
        article_id=ref.article_id,
        url=url,
        edition=ref.edition,
        language=LANGUAGE_BY_EDITION[ref.edition],
        title=title,
        published_at=published_at,
        date_source=date_source,
        body_text=body.text,
        updated_at=fields.updated_at,
        section=section,
        categories=fields.categories,
        tags=tags,
        authors=body.authors,
        editor=body.editor,
        dateline=body.dateline,
        body_html=body_html,
        images=unique_images([fields.lead_image, *body.images]),
        char_count=len(body.text),
        extractor=extractor,
        byline_issue=body.byline_issue,
    )
