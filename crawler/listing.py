"""List pages (home, channel front pages, archive pages): pure functions over HTML text and the page URL.

Both list layouts of SITE.md section 3 are read by named selectors; a generic fallback (any article-shaped
link inside the main column) keeps the crawl going on a list markup we do not know yet.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from crawler.urls import ARTICLE_PATH_RE, parse_list_url

# SITE.md 3.1 (current, about 2019 on) and 3.2 (Foundation theme, about 2014-2018).
CURRENT_ITEM_LINKS = lxml.etree.XPath(
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' post_list ')]"
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' one_post ')]"
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' title ')]/a/@href"
)
LEGACY_ITEM_LINKS = lxml.etree.XPath(
    "//div[@id='artlist']//div[contains(concat(' ', normalize-space(@class), ' '), ' arttitle ')]/a/@href"
)
MAIN_COLUMN_LINKS = lxml.etree.XPath("//*[@id='main']//a/@href")
ALL_LINKS = lxml.etree.XPath("//a/@href")
PAGINATION_TEXTS = lxml.etree.XPath(
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' pagination ')]//a/text()"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' menu_page ')]//a/text()"
)
PAGE_NUMBER_RE = re.compile(r"^\s*(\d{1,3}(?:,\d{3})*|\d+)\s*$")


def _parse(html: str) -> lxml.html.HtmlElement | None:
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None


def _absolute(hrefs: list[str], page_url: str) -> list[str]:
    return [urljoin(page_url, href.strip()) for href in hrefs if href.strip()]


def _is_article(url: str) -> bool:
    path = url.split("://", 1)[-1].partition("/")[2].split("?", 1)[0].split("#", 1)[0]
    return ARTICLE_PATH_RE.match("/" + path) is not None


def article_links(html: str, page_url: str) -> list[str]:
    """Absolute URLs of the articles a list page links to, in page order (duplicates kept)."""
    doc = _parse(html)
    if doc is None:
        return []
    for selector in (CURRENT_ITEM_LINKS, LEGACY_ITEM_LINKS, MAIN_COLUMN_LINKS):
        links = [url for url in _absolute(selector(doc), page_url) if _is_article(url)]
        if links:
            return links
    return []


def max_page(html: str) -> int | None:
    """The last page number the pagination block offers (``1,234`` style numbers), None without pagination."""
    doc = _parse(html)
    if doc is None:
        return None
    numbers = [
        int(match.group(1).replace(",", ""))
        for text in PAGINATION_TEXTS(doc)
        if (match := PAGE_NUMBER_RE.match(text))
    ]
    return max(numbers) if numbers else None


def channel_links(html: str, page_url: str, edition: str) -> list[str]:
    """Page-1 URLs of every channel of ``edition`` the page links to, first occurrence order."""
    doc = _parse(html)
    if doc is None:
        return []
    seen: dict[str, str] = {}
    for url in _absolute(ALL_LINKS(doc), page_url):
        ref = parse_list_url(url)
        if ref is not None and ref.edition == edition and ref.channel not in seen:
            seen[ref.channel] = url
    return list(seen.values())
