"""One walk over a fetched page (home, list, tag or article page): every article link wherever it sits, the page's
main list, and the list pages it links to. Pure functions over HTML text and the page URL.

Discovery does not hang on one selector: article links are recognised by the URL grammar (SITE.md 2.1), not by
the markup around them. Markup matters in one place only, the main list that decides paging: the list markup we
know (SITE.md 3.1 `div.post_list`, 3.2 `div#artlist`) when the page has it, otherwise the block with the most
items that hold an article link, so that a sidebar of "hot" articles neither stops nor prolongs paging.

Linear in the page: lxml parses once, then one `iterwalk` visits each element once (a start and an end event),
keeping for each open element only where its links begin and how many of its children hold an article link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from crawler.urls import ARTICLE_PATH_RE, EDITIONS, LIST_PATH_RE, ListRef

# SITE.md 3.1 (current, about 2019 on) and 3.2 (Foundation theme, about 2014-2018).
KNOWN_LIST_CLASSES = frozenset({"post_list"})
KNOWN_LIST_IDS = frozenset({"artlist"})
# Pagination blocks whose link texts are page numbers (`1,234` style); their hrefs are read whatever the markup.
PAGINATION_CLASSES = frozenset({"pagination", "menu_page"})
# SITE.md 2.3: a channel shown only as a tab, `a[slugid="nsc414"][href="#nsc414"]`, is `/{edition}/nsc414.htm`.
TAB_CHANNEL_ATTRIBUTE = "slugid"
# The path of an absolute, protocol-relative or root-relative href: cheaper than urlsplit, the slowest step of
# a link before.
# The host part admits no brackets: an IPv6 literal is never the site, and a broken one would make urlsplit
# raise later on.
HREF_PATH_RE = re.compile(r"^(?:(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[A-Za-z0-9.:@%_~+-]*)?(/[^?#]*)")
PAGE_NUMBER_RE = re.compile(r"^\s*(\d{1,3}(?:,\d{3})+|\d+)\s*$")

RULE_KNOWN_MARKUP = "known_markup"
RULE_LARGEST_BLOCK = "largest_block"
RULE_NONE = "none"


@dataclass(frozen=True, slots=True)
class PageLinks:
    """What one page links to. URLs are absolute, as written on the page (scheme, host, query and fragment)."""

    articles: tuple[str, ...] = ()  # every article link, page order, duplicates kept
    main_list: tuple[str, ...] = ()  # the article links of the main list (a subset of `articles`)
    main_list_rule: str = RULE_NONE  # how the main list was found
    lists: tuple[ListRef, ...] = ()  # every list page linked, tab-only channels as their page 1; unique
    page_numbers: tuple[int, ...] = ()  # numbers printed in a known pagination block
    nodes: int = 0  # elements visited, each once

    def channels(self, edition: str) -> list[ListRef]:
        """Page 1 of every channel of `edition` the page links to (any page of it), first occurrence order."""
        seen = dict.fromkeys(ListRef(r.edition, r.channel, 1) for r in self.lists if r.edition == edition)
        return list(seen)

    def last_page(self, ref: ListRef) -> int | None:
        """The highest page of `ref`'s channel the page offers: its links to that channel's pages, and the
        numbers of a known pagination block; None when it offers none."""
        numbers = [r.page for r in self.lists if r.edition == ref.edition and r.channel == ref.channel]
        numbers += self.page_numbers
        return max(numbers) if numbers else None


EMPTY = PageLinks()


@dataclass(slots=True)
class _Open:
    """An element whose end has not been seen yet."""

    first_link: int  # index in `articles` of the first link inside it
    items: int = 0  # children holding at least one article link
    known_list: bool = False
    pagination: bool = False


@dataclass(slots=True)
class _Walk:
    page_url: str
    origin: str  # scheme://host of the page, for root-relative hrefs
    edition: str | None
    articles: list[str] = field(default_factory=list)
    lists: dict[ListRef, None] = field(default_factory=dict)
    page_numbers: list[int] = field(default_factory=list)
    known_ranges: list[tuple[int, int]] = field(default_factory=list)
    best_block: tuple[int, int, int, int] = (0, 0, 0, 0)  # items, links, first, end
    stack: list[_Open] = field(default_factory=list)
    known_depth: int = 0
    pagination_depth: int = 0
    nodes: int = 0

    def enter(self, element: lxml.html.HtmlElement) -> None:
        self.nodes += 1
        class_attribute = element.get("class")
        classes = class_attribute.split() if class_attribute else ()
        known = element.get("id") in KNOWN_LIST_IDS or not KNOWN_LIST_CLASSES.isdisjoint(classes)
        pagination = not PAGINATION_CLASSES.isdisjoint(classes)
        self.known_depth += known
        self.pagination_depth += pagination
        self.stack.append(_Open(len(self.articles), known_list=known, pagination=pagination))
        if element.tag == "a":
            self._link(element)

    def leave(self) -> None:
        block = self.stack.pop()
        self.known_depth -= block.known_list
        self.pagination_depth -= block.pagination
        end = len(self.articles)
        links = end - block.first_link
        if not links:
            return
        if self.stack:
            self.stack[-1].items += 1
        if block.known_list and not self.known_depth:
            self.known_ranges.append((block.first_link, end))
        # Strictly larger: among equal blocks the first to close (the innermost, then the earliest) wins.
        if (block.items, links) > self.best_block[:2]:
            self.best_block = (block.items, links, block.first_link, end)

    def _link(self, element: lxml.html.HtmlElement) -> None:
        slug = element.get(TAB_CHANNEL_ATTRIBUTE)
        if slug and self.edition is not None:
            self._add_list(f"/{self.edition}/{slug.strip()}.htm")
        href = (element.get("href") or "").strip()
        if not href or href.startswith("#"):
            return
        url = self._absolute(href)
        match = HREF_PATH_RE.match(url)
        if match is None:  # another scheme (mailto:, javascript:) or no path
            return
        path = match.group(1)
        if ARTICLE_PATH_RE.match(path):
            self.articles.append(url)
        elif self._add_list(path) and self.pagination_depth:
            number = PAGE_NUMBER_RE.match(element.text_content())
            if number:
                self.page_numbers.append(int(number.group(1).replace(",", "")))

    def _absolute(self, href: str) -> str:
        if href.startswith(("https://", "http://")):
            return href
        if href.startswith("/") and not href.startswith("//"):
            return self.origin + href
        return urljoin(self.page_url, href)

    def _add_list(self, path: str) -> bool:
        match = LIST_PATH_RE.match(path)
        if match is None:
            return False
        edition, channel, page = match.groups()
        self.lists.setdefault(ListRef(edition, channel, int(page) if page else 1))
        return True

    def result(self) -> PageLinks:
        if self.known_ranges:
            main = [url for first, end in self.known_ranges for url in self.articles[first:end]]
            rule = RULE_KNOWN_MARKUP
        elif self.best_block[1]:
            main = self.articles[self.best_block[2] : self.best_block[3]]
            rule = RULE_LARGEST_BLOCK
        else:
            main, rule = [], RULE_NONE
        return PageLinks(
            articles=tuple(self.articles),
            main_list=tuple(main),
            main_list_rule=rule,
            lists=tuple(self.lists),
            page_numbers=tuple(self.page_numbers),
            nodes=self.nodes,
        )


def scan(html: str, page_url: str, edition: str | None = None) -> PageLinks:
    """Every link of the page that discovery uses, from one walk. `edition` (default: the page URL's first path
    segment) names the channels of tab links, which carry only a channel name."""
    doc = _parse(html)
    if doc is None:
        return EMPTY
    walk = _Walk(page_url, _origin(page_url), edition or _edition_of(page_url))
    for event, element in lxml.etree.iterwalk(doc, events=("start", "end")):
        if not isinstance(element.tag, str):  # comments and processing instructions: no links, no items
            continue
        if event == "start":
            walk.enter(element)
        else:
            walk.leave()
    return walk.result()


def _parse(html: str) -> lxml.html.HtmlElement | None:
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None


def _origin(page_url: str) -> str:
    try:
        parts = urlsplit(page_url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def _edition_of(page_url: str) -> str | None:
    try:
        first = urlsplit(page_url).path.strip("/").split("/", 1)[0]
    except ValueError:
        return None
    return first if first in EDITIONS else None
