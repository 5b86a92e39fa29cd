"""URL grammar of the site (SITE.md section 2): pure functions, shared by the spider and extraction."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

CANONICAL_BASE = "https://www.epochtimes.com"
SITE_HOSTS = frozenset({"www.epochtimes.com", "epochtimes.com"})
EDITIONS = ("gb", "b5")
LANGUAGE_BY_EDITION = {"gb": "zh-Hans", "b5": "zh-Hant"}

# /{gb|b5}/{YY}/{M}/{D}/n{ID}.htm; year, month and day are not zero-padded (2005 is "5").
ARTICLE_PATH_RE = re.compile(r"^/(gb|b5)/(\d{1,2})/(\d{1,2})/(\d{1,2})/n(\d+)\.htm$")
# Flat list pages under the edition root, page 1 bare and page N as name_N.htm (SITE.md 2.2, 2.3): sections,
# category ids, archive lists, named channels, the 24-hour list and the 要闻 list `nimpart`. The ranking pages
# (`nrw`, `nscrw<N>`) re-list articles of other lists by popularity, so the grammar leaves them out on purpose.
LIST_PATH_RE = re.compile(r"^/(gb|b5)/((?:nsc|ncid|nf)\d+|nc[A-Za-z_]+|n24hr|nimpart)(?:_(\d+))?\.htm$")

HOME_PATH_RE = re.compile(r"^/(gb|b5)/?$")


@dataclass(frozen=True, slots=True)
class ArticleRef:
    edition: str
    url_date: date
    number: int

    @property
    def article_id(self) -> str:
        return f"n{self.number}"

    @property
    def canonical_url(self) -> str:
        d = self.url_date
        return f"{CANONICAL_BASE}/{self.edition}/{d.year % 100}/{d.month}/{d.day}/n{self.number}.htm"


@dataclass(frozen=True, slots=True)
class ListRef:
    edition: str
    channel: str
    page: int


# Links seen lately (site_article_link): an article's related links and a list's items recur from page to page.
SITE_LINK_CACHE_SIZE = 4096


# An http(s) URL whose host is letters, digits, dots and hyphens (a port maybe) and that holds no character
# urlsplit removes (tab, line feed, carriage return): its parts by one match, as urlsplit gives them, without
# urlsplit's general parsing, the most of a link's reading on a cache miss.
_PLAIN_URL_RE = re.compile(
    r"(https?)://([A-Za-z0-9.-]+(?::[0-9]*)?)(/[^?#\t\n\r]*|)(?:\?([^#\t\n\r]*))?(?:#([^\t\n\r]*))?\Z"
)


def _split_url(url: str) -> SplitResult:
    """``urlsplit(url)``, plain URLs split by one match (the links of pages mostly)."""
    plain = _PLAIN_URL_RE.match(url)
    if plain is None:
        return urlsplit(url)
    return SplitResult(*plain.groups(default=""))


def parse_article_url(url: str) -> ArticleRef | None:
    """The article an URL points to, whatever its scheme, host, query or fragment; None if not an article."""
    return _article_of_path(_split_url(url).path)


def _article_of_path(path: str) -> ArticleRef | None:
    match = ARTICLE_PATH_RE.match(path)
    if match is None:
        return None
    edition, yy, month, day, number = match.groups()
    try:
        url_date = date(2000 + int(yy), int(month), int(day))
    except ValueError:
        return None
    return ArticleRef(edition, url_date, int(number))


def parse_list_url(url: str) -> ListRef | None:
    match = LIST_PATH_RE.match(urlsplit(url).path)
    if match is None:
        return None
    edition, channel, page = match.groups()
    return ListRef(edition, channel, int(page) if page else 1)


def is_home_url(url: str) -> bool:
    """An edition's home page, `/gb/` or `/b5/` (SITE.md 2.3)."""
    return HOME_PATH_RE.match(urlsplit(url).path) is not None


def list_page_path(edition: str, channel: str, page: int) -> str:
    return f"/{edition}/{channel}.htm" if page <= 1 else f"/{edition}/{channel}_{page}.htm"


def is_site_url(url: str, site_base: str) -> bool:
    """True for the real site's hosts and for the crawl's own base (a replica), any scheme."""
    return _is_site(urlsplit(url), site_netloc(site_base))


def site_netloc(site_base: str) -> str:
    """What :func:`is_site_url` compares a URL's host and port with."""
    return urlsplit(site_base).netloc.lower()


def _is_site(parts: SplitResult, site: str) -> bool:
    if parts.scheme not in ("http", "https"):
        return False
    host = (parts.hostname or "").lower()
    return host in SITE_HOSTS or parts.netloc.lower() == site


@functools.lru_cache(maxsize=SITE_LINK_CACHE_SIZE)
def site_article_link(url: str, site: str) -> tuple[ArticleRef, str] | None:
    """The article a link points to and the link as the public knows it (:func:`public_variant`), when it is an
    article link of the site (:func:`is_site_url`, ``site`` from :func:`site_netloc`); else None. The three from
    one split of the URL, and each link once while it recurs."""
    parts = _split_url(url)
    ref = _article_of_path(parts.path)
    if ref is None or not _is_site(parts, site):
        return None
    return ref, _public_variant(parts)


def rebase(url: str, site_base: str) -> str:
    """The URL to fetch: the same path and query on the crawl's base (the real site or a replica)."""
    base = urlsplit(site_base)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


# An absolute http(s) URL that urljoin and urlsplit give back unchanged: lowercase scheme, a host, and no query,
# fragment, parameters (;), brackets, whitespace, control or non-ASCII character; most alternate URLs are.
_NOT_PLAIN = r"?#;\[\]\x00-\x20\x7f-\U0010ffff"
_PLAIN_WEB_URL = re.compile(rf"https?://[^/{_NOT_PLAIN}]+(?:/[^{_NOT_PLAIN}]*)?")


def without_query(url: str) -> str | None:
    """Absolute http(s) URL (relative ones against the canonical site) without query or fragment; None when it
    is not a web URL."""
    url = url.strip()
    if _PLAIN_WEB_URL.fullmatch(url):
        return url
    parts = urlsplit(urljoin(f"{CANONICAL_BASE}/", url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def alternate_urls(urls: list[str], canonical: str) -> list[str]:
    """The other URLs an article was seen under: web URLs without query, each once, never the canonical one."""
    if not urls:
        return []
    cleaned = (without_query(url) for url in urls)
    return list(dict.fromkeys(url for url in cleaned if url and url != canonical))


def public_variant(url: str) -> str:
    """The URL as the public knows it: the real host (a replica's own address means the canonical one), no query."""
    return _public_variant(urlsplit(url))


def _public_variant(parts: SplitResult) -> str:
    if (parts.hostname or "").lower() in SITE_HOSTS:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return f"{CANONICAL_BASE}{parts.path}"
