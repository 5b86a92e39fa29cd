"""The one normalization entry point: every extractor's Article leaves ``crawler.extract`` through
:func:`normalized_article` (``api.extract`` and ``api.extract_page``), so nothing downstream normalizes again.

The body is normalized where it is read, its lines in one pass (``body.read_body``, ``generic.content``):
normalizing the whole text again here would double the work on the largest field. The short fields are
normalized here, together, as the last step, because some of them come from places that can carry markup (meta
attributes, JSON-LD strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from itertools import islice

from crawler.extract.dom import INVISIBLE_TAGS, parse_document, visible_text
from crawler.extract.model import Article, Image
from crawler.extract.text import normalize_lines

# A tag, end tag, comment or declaration starting: text fields hold none, whatever the page put in them.
_MARKUP_RE = re.compile(r"<[A-Za-z/!?]")


def normalized_article(article: Article) -> Article:
    """``article`` with every short text field plain and normalized, list fields without empty or repeated
    entries, images unique by URL, and ``char_count`` the body's length.

    All of these fields are normalized in one pass (``normalize_lines``): a call per field cost more than the
    normalization itself."""
    images = _unique_by_url(article.images)
    optional = [article.section, article.editor, article.dateline]
    for image in images.values():
        optional += (image.caption, image.credit)
    lists = (article.categories, article.tags, article.authors)
    values = [
        article.title,
        *(value or "" for value in optional),
        *(entry for entries in lists for entry in entries),
    ]
    lines = iter(plain_lines(values))
    title = next(lines)
    section, editor, dateline, *credited = [
        (line or None) if value is not None else None
        for value, line in zip(optional, islice(lines, len(optional)), strict=True)
    ]
    categories, tags, authors = (_unique_lines(islice(lines, len(entries))) for entries in lists)
    return replace(
        article,
        title=title,
        section=section,
        categories=categories,
        tags=tags,
        authors=authors,
        editor=editor,
        dateline=dateline,
        images=[
            Image(url, caption, credit)
            for url, caption, credit in zip(images, credited[::2], credited[1::2], strict=True)
        ],
        char_count=len(article.body_text),
    )


def plain_lines(values: list[str]) -> list[str]:
    """Each value one normalized line of plain text. Markup that reached a text field (a meta attribute or a
    JSON-LD string carrying HTML) is reduced to its visible text, as an element's would be; a ``<`` directly
    followed by a letter is read as markup even in real text, a trade-off Chinese titles (they quote with 《》)
    can afford."""
    if _MARKUP_RE.search("\n".join(values)) is None:  # one search for all: markup is rare
        return normalize_lines(values)
    return normalize_lines([_visible(value) for value in values])


def _visible(value: str) -> str:
    if _MARKUP_RE.search(value):
        return visible_text(parse_document(f"<div>{value}</div>"), INVISIBLE_TAGS)
    return value


def _unique_lines(lines: Iterable[str]) -> list[str]:
    """Non-empty lines, repeats removed, first occurrence order kept."""
    return list(dict.fromkeys(line for line in lines if line))


def _unique_by_url(images: list[Image]) -> dict[str, Image]:
    """The first image of each URL (stripped), by URL; an image without a URL is dropped."""
    by_url: dict[str, Image] = {}
    for image in images:
        url = image.url.strip()
        if url and url not in by_url:
            by_url[url] = image
    return by_url
