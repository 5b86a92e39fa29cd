"""The one normalization entry point: every extractor's Article leaves ``crawler.extract`` through
:func:`normalized_article` (``api.extract`` and ``api.extract_page``), so nothing downstream normalizes again.

The body is normalized where it is read, line by line (``body.read_body``, ``generic.content``): normalizing
the whole text again here would double the work on the largest field. The short fields are normalized here, as
the last step, because some of them come from places that can carry markup (meta attributes, JSON-LD strings).
"""

from __future__ import annotations

import re
from dataclasses import replace

from crawler.extract.dom import INVISIBLE_TAGS, parse_document, visible_text
from crawler.extract.model import Article, Image
from crawler.extract.text import normalize_line

# A tag, end tag, comment or declaration starting: text fields hold none, whatever the page put in them.
_MARKUP_RE = re.compile(r"<[A-Za-z/!?]")


def normalized_article(article: Article) -> Article:
    """``article`` with every short text field plain and normalized, list fields without empty or repeated
    entries, images unique by URL, and ``char_count`` the body's length."""
    return replace(
        article,
        title=plain_line(article.title),
        section=optional_line(article.section),
        categories=clean_lines(article.categories),
        tags=clean_lines(article.tags),
        authors=clean_lines(article.authors),
        editor=optional_line(article.editor),
        dateline=optional_line(article.dateline),
        images=clean_images(article.images),
        char_count=len(article.body_text),
    )


def plain_line(value: str) -> str:
    """One normalized line of plain text. Markup that reached a text field (a meta attribute or a JSON-LD
    string carrying HTML) is reduced to its visible text, as an element's would be; a ``<`` directly followed
    by a letter is read as markup even in real text, a trade-off Chinese titles (they quote with 《》) can afford."""
    if _MARKUP_RE.search(value):
        value = visible_text(parse_document(f"<div>{value}</div>"), INVISIBLE_TAGS)
    return normalize_line(value)


def clean_lines(values: list[str]) -> list[str]:
    """Each entry normalized; empty entries and repeats removed, first occurrence order kept."""
    return list(dict.fromkeys(line for line in map(plain_line, values) if line))


def optional_line(value: str | None) -> str | None:
    return (plain_line(value) or None) if value is not None else None


def clean_images(images: list[Image]) -> list[Image]:
    """Each image URL once (the first), captions and credits plain; an image without a URL is dropped."""
    by_url: dict[str, Image] = {}
    for image in images:
        url = image.url.strip()
        if url and url not in by_url:
            by_url[url] = Image(url, optional_line(image.caption), optional_line(image.credit))
    return list(by_url.values())
