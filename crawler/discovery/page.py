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

import functools
import html as html_module
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree

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
# An href attribute, quoted either way or bare. No leading `<a` context on purpose: with it, a hostile page of
# unclosed tags would make each attempt scan to the end of the page. Kept where the character before it is no
# word character, tested on each match (a `\bhref` pattern, same matches, kept the regex engine from searching
# for the name: 3 times slower on an article page, the crawl's costliest regex). The name in any case, spelled
# as classes: the same matches as IGNORECASE (no other character folds to one of these letters), and a third
# faster to search for over a page.
_HREF_VALUE = r"""\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"""
HREF_RE = re.compile(f"[hH][rR][eE][fF]{_HREF_VALUE}")
# HREF_RE on a page that writes the name in lowercase only (most pages; the two searches below tell): the same
# matches, and a literal name, which the regex engine searches for four times faster than classes.
_LOWERCASE_HREF_RE = re.compile(f"href{_HREF_VALUE}")
# The name in any case but lowercase: "H" then any case, or "h" then any case but lowercase. Each starts with a
# literal, searched for as fast.
_NOT_LOWERCASE_NAME_RES = (re.compile("H(?i:ref)"), re.compile("h(?!ref)(?i:ref)"))
_ABSOLUTE = ("https://", "http://")
# Hrefs seen lately (article_links): a site's navigation, tags and related articles recur from page to page.
HREF_CACHE_SIZE = 8192
# What _direct_article_link returns for an href resolved against the page's URL: never an article link.
RELATIVE = ""
PAGE_NUMBER_RE = re.compile(r"^\s*(\d{1,3}(?:,\d{3})+|\d+)\s*$")

HTML_PARSER = lxml.etree.HTMLParser(remove_comments=True, remove_pis=True)

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


KNOWN = 1
PAGINATION = 2
# Cheap test before splitting a class attribute: most elements carry none of these names.
_MARKER_RE = re.compile("|".join(sorted(KNOWN_LIST_CLASSES | PAGINATION_CLASSES)))


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
    nodes: int = 0

    def run(self, root: lxml.etree._Element) -> None:
        """One loop with local names and no call per element: it runs for every element of pages as large as
        DOWNLOAD_MAXSIZE, where a method call per start and end event doubled the time."""
        articles = self.articles
        # Per open element: where its links begin in `articles`, its children holding an article link, and
        # whether it is a known list or a pagination block.
        firsts: list[int] = []
        items: list[int] = []
        flags: list[int] = []
        known_depth = pagination_depth = nodes = 0
        best = self.best_block
        for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
            if not isinstance(element.tag, str):  # comments and processing instructions
                continue
            if event == "start":
                nodes += 1
                flag = _flags(element) if element.get("class") or element.get("id") else 0
                known_depth += flag & KNOWN
                pagination_depth += flag & PAGINATION
                firsts.append(len(articles))
                items.append(0)
                flags.append(flag)
                if element.tag == "a":
                    self._link(element, in_pagination=pagination_depth > 0)
                continue
            first, held, flag = firsts.pop(), items.pop(), flags.pop()
            known_depth -= flag & KNOWN
            pagination_depth -= flag & PAGINATION
            end = len(articles)
            if end == first:
                continue
            if items:
                items[-1] += 1
            if flag & KNOWN and not known_depth:
                self.known_ranges.append((first, end))
            # Strictly larger: among equal blocks the first to close (the innermost, then the earliest) wins.
            if (held, end - first) > best[:2]:
                best = (held, end - first, first, end)
        self.best_block = best
        self.nodes = nodes

    def _link(self, element: lxml.etree._Element, in_pagination: bool) -> None:
        slug = element.get(TAB_CHANNEL_ATTRIBUTE)
        if slug and self.edition is not None:
            self._add_list(f"/{self.edition}/{slug.strip()}.htm")
        resolved = _resolve(element.get("href") or "", self.page_url, self.origin)
        if resolved is None:
            return
        url, path = resolved
        if ARTICLE_PATH_RE.match(path):
            self.articles.append(url)
        elif self._add_list(path) and in_pagination:
            number = PAGE_NUMBER_RE.match("".join(element.itertext()))
            if number:
                self.page_numbers.append(int(number.group(1).replace(",", "")))

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
    walk.run(doc)
    return walk.result()


def scan_articles(html: str, page_url: str) -> tuple[str, ...]:
    """``scan(html, page_url).articles`` alone: the article links of the page's ``<a>`` elements, page order, for
    a reader that needs no main list, channels or paging (the rebuild). Visiting only the links, not every element
    twice as the walk does, halves the cost of a list page (the parse is the rest)."""
    doc = _parse(html)
    if doc is None:
        return ()
    origin = _origin(page_url)
    found = []
    for element in doc.iter("a"):
        resolved = _resolve(element.get("href") or "", page_url, origin)
        if resolved is not None and ARTICLE_PATH_RE.match(resolved[1]):
            found.append(resolved[0])
    return tuple(found)


def article_links(html: str, page_url: str) -> list[str]:
    """Every article link of a page (any `href`, the canonical `<link>` too), page order, without the page's
    structure: for article pages, whose links (related blocks) only feed discovery. A scan of the `href` attributes, about 30 times cheaper than a parse
    and walk, and linear too."""
    origin = _origin(page_url)
    links = []
    for href in _href_values(html):
        url = _direct_article_link(href, origin)
        if url == RELATIVE:
            url = _article_link(html_module.unescape(href), page_url, origin)
        if url is not None:
            links.append(url)
    return links


@functools.lru_cache(maxsize=HREF_CACHE_SIZE)
def _direct_article_link(href: str, origin: str) -> str | None:
    """``_article_link`` of a raw href whose URL does not depend on the page's path (absolute or root-relative),
    else ``RELATIVE``: each such href read once while it recurs (navigation, tags, related blocks)."""
    unescaped = html_module.unescape(href)
    if not _is_direct(unescaped.strip()):
        return RELATIVE
    return _article_link(unescaped, "", origin)


def _article_link(href: str, page_url: str, origin: str) -> str | None:
    resolved = _resolve(href, page_url, origin)
    return resolved[0] if resolved is not None and ARTICLE_PATH_RE.match(resolved[1]) else None


def _href_values(html: str) -> Iterator[str]:
    """The value of every href attribute (a word boundary before its name), in page order."""
    pattern = HREF_RE if any(name.search(html) for name in _NOT_LOWERCASE_NAME_RES) else _LOWERCASE_HREF_RE
    position = 0
    while (attribute := pattern.search(html, position)) is not None:
        start = attribute.start()
        before = html[start - 1] if start else ""
        if before.isalnum() or before == "_":
            position = start + 1  # an href inside this one's value may still count
            continue
        quoted, single, bare = attribute.groups(default="")
        yield quoted or single or bare
        position = attribute.end()


def _resolve(href: str, page_url: str, origin: str) -> tuple[str, str] | None:
    """The absolute URL of an href and its path; None for fragments, other schemes (mailto:, javascript:) and
    broken hosts."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    if href.startswith(_ABSOLUTE):
        url = href
    elif href.startswith("/") and not href.startswith("//"):
        url = origin + href
    else:
        url = urljoin(page_url, href)
    match = HREF_PATH_RE.match(url)
    return None if match is None else (url, match.group(1))


def _is_direct(href: str) -> bool:
    """Whether ``_resolve`` reads the (stripped) href without the page's URL: none, a fragment, absolute or
    root-relative."""
    return (
        not href or href.startswith(("#", *_ABSOLUTE)) or (href.startswith("/") and not href.startswith("//"))
    )


def _flags(element: lxml.etree._Element) -> int:
    flag = KNOWN if element.get("id") in KNOWN_LIST_IDS else 0
    class_attribute = element.get("class") or ""
    if _MARKER_RE.search(class_attribute):
        names = class_attribute.split()
        flag |= KNOWN if not KNOWN_LIST_CLASSES.isdisjoint(names) else 0
        flag |= PAGINATION if not PAGINATION_CLASSES.isdisjoint(names) else 0
    return flag


def _parse(html: str) -> lxml.etree._Element | None:
    """The document tree; plain lxml elements, not lxml.html's, whose Python class lookup runs for each one."""
    if not html.strip():
        return None
    try:
        return lxml.etree.fromstring(html, HTML_PARSER)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError):
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
