"""The replica site: `Site.get(path)` answers any path like the real site would (docs/DESIGN.md "Site shape").

Truth: `Site.truth()` yields what a perfect extraction of each article page gives. Article pages that faults
replace but that still are articles (GBK, GB18030, Big5, malformed, 500-then-200) stay in the truth with their
normal values; pure fault pages (dead links, slow, truncated, redirect, too big, gzip bomb, non-article) never
are articles and are not in the truth.

Fault paths (`Site.fault_paths()`, only with `faults=True`), all linked from page 1 of every channel of
their edition (`div.hot`):
- `flaky`: every article whose index % 17 == 5 answers 500 on its first request per path, then 200.
- `dead`: `/{ed}/.../n90000001.htm`, `n90000002.htm` answer 404.
- `slow`: `/gb/.../n90000003.htm` answers after `slow_seconds` (default 40 s) without blocking the server.
- `truncated`: `/gb/.../n90000004.htm` declares a Content-Length larger than the body and closes the connection.
- `redirect`: `/gb/.../n90000005.htm` answers 302 to `http://evil.example.net/...`.
- `too_big`: `/gb/.../n90000006.htm` streams 21 MiB of HTML.
- `gzip_bomb`: `/gb/.../n90000007.htm` is ~1 MiB of gzip on the wire, over 1 GiB once decompressed.
- `not_article`: `/gb/.../n90000008.htm` is a topic page at an article-shaped URL.
- `gbk`, `gb18030`, `big5`, `malformed`: real articles (the newest ones not flaky) served in GBK (header charset),
  GB18030 (declared only in `<meta charset>`), Big5 (b5, header charset), and with broken markup.
The pure fault URLs carry the newest article's URL date, so date-windowed crawls meet them too.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.replica import content as content_mod
from tests.replica import era2018, render, text, unknown
from tests.replica.clock import Timeline, timeline
from tests.replica.content import Content
from tests.replica.model import (
    CHANNELS,
    IMAGE_BASE,
    LEGACY_LIST_CHANNEL,
    ArticleMeta,
    build_metadata,
    rng_for,
)

EDITIONS = ("gb", "b5")
HTML = "text/html; charset=utf-8"
FLAKY_PERIOD, FLAKY_PHASE = 17, 5
FAULT_NUMBER_BASE = 90_000_000
EVIL_HOST = "http://evil.example.net"
TOO_BIG_BYTES = 21 * 1024 * 1024
BOMB_CHUNK = 16 * 1024 * 1024
BOMB_CHUNKS = 65  # 1,040 MiB decompressed
STREAM_CHUNK = 64 * 1024
TRUNCATED_MISSING = 5000
RELATED_COUNT = 3
HOME_ITEMS = 10
HOME_ERAS = ("current", "2018")
# A feed's window (SITE.md 2.6 gives no size): the newest 20 articles still on the site, as WordPress feeds list
# the latest posts by publication (its default is 10; news sites raise it). Each item carries the article's
# current title and full text (`content:encoded`), edits included, as the page shows them at that instant.
FEED_ITEMS = render.ITEMS_PER_PAGE
LIST_MARKUPS = ("known", "unknown")

_ARTICLE_RE = re.compile(r"^/(gb|b5)/(\d{1,2})/(\d{1,2})/(\d{1,2})/n(\d+)\.htm$")
_LIST_RE = re.compile(r"^/(gb|b5)/([a-z]+\d*)(?:_([\d]+))?\.htm$")
_RSS_RE = re.compile(r"^/(gb|b5)/([a-z]+\d*)\.xml$")
_TAG_RE = re.compile(r"^/(gb|b5)/tag/(.+)\.html$")
_HOME_RE = re.compile(r"^/(gb|b5)/(?:index\.html?)?$")
_FEED_RE = re.compile(r"^/(gb|b5)/feed/?$")
ROBOTS = "User-agent: *\nDisallow: /gb/search/\nDisallow: /b5/search/\n"
_PURE_FAULTS = ("dead", "dead", "slow", "truncated", "redirect", "too_big", "gzip_bomb", "not_article")


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0  # seconds the server waits before answering (slow fault)
    stream: Callable[[], Iterator[bytes]] | None = None  # body produced lazily (too-big fault)
    truncate: bool = False  # the server closes the connection before Content-Length bytes


def _html(body: str, status: int = 200) -> Page:
    return Page(status, {"Content-Type": HTML}, body.encode())


NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>404</title></head><body><h1>404 Not Found</h1></body></html>\n"
)


def not_found() -> Page:
    return _html(NOT_FOUND_HTML, 404)


# What a CDN's bot wall serves instead of the site (403/503), and a 200 that is not the site at all.
CHALLENGE_HTML = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    '<div id="challenge-platform"><h1>Checking if the site connection is secure</h1>'
    "<p>Enable JavaScript and cookies to continue</p></div></body></html>\n"
)
NOT_THE_SITE_HTML = (
    "<!DOCTYPE html><html><head><title>Security check</title></head><body>"
    '<h1>Please verify you are a human</h1><form><div class="captcha"></div></form></body></html>\n'
)
RETRY_AFTER_SECONDS = 1
BLOCK_MODES = ("", "some", "all")
# blocks="some": article numbers by remainder -> the block they meet.
_BLOCK_PERIOD = 11
_BLOCKS_BY_REMAINDER = {1: "rate_limited", 2: "challenge_503", 3: "challenge_403", 4: "not_the_site"}


def _not_modified(headers: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; else If-Modified-Since (second precision)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """A gzip member over 1 GiB of zeros, built from one compressed chunk repeated (full flushes reset the state)."""
    zeros = bytes(BOMB_CHUNK)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(BOMB_CHUNKS):
        crc = zlib.crc32(zeros, crc)
    header = gzip.compress(b"", mtime=0)[:10]  # fixed mtime: same bytes every run
    trailer = crc.to_bytes(4, "little") + (BOMB_CHUNK * BOMB_CHUNKS % 2**32).to_bytes(4, "little")
    return header + first + repeated * (BOMB_CHUNKS - 1) + tail + trailer


def _too_big_chunks() -> Iterator[bytes]:
    filler = ("<p>" + "大纪元" * 2000 + "</p>\n").encode()
    head = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>big</title></head><body>\n'
    tail = b"</body></html>\n"
    remaining = TOO_BIG_BYTES - len(head) - len(tail)
    yield head
    while remaining > 0:
        piece = filler[: min(len(filler), remaining)]
        remaining -= len(piece)
        yield piece
    yield tail


@dataclass(slots=True)
class Site:
    """A deterministic replica of www.epochtimes.com/gb and /b5 with `articles` articles per edition."""

    articles: int = 200
    seed: int = 0
    revision: int = 0
    faults: bool = False
    redesign: bool = False
    unknown_layouts: bool = False
    half_broken: bool = False
    slow_seconds: float = 40.0
    home_era: str = (
        "current"  # "2018": the Foundation-theme home page of SITE.md 2.3, with nimpart and rankings
    )
    list_markup: str = (
        "known"  # "unknown": archive pages in a list markup no parser knows, beside a hot sidebar
    )
    clock: datetime | None = None
    blocks: str = ""
    _metas: list[ArticleMeta] = field(init=False, repr=False)
    _visible: list[ArticleMeta] = field(init=False, repr=False)
    _timelines: dict[int, Timeline] = field(init=False, repr=False, default_factory=dict)
    _by_number: dict[int, ArticleMeta] = field(init=False, repr=False)
    _channel_items: dict[str, list[int]] = field(init=False, repr=False)
    _protected: frozenset[int] = field(init=False, repr=False)
    _hits: dict[str, int] = field(init=False, repr=False, default_factory=dict)
    _faults: dict[str, list[str]] = field(init=False, repr=False, default_factory=dict)
    _fault_by_path: dict[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.home_era not in HOME_ERAS or self.list_markup not in LIST_MARKUPS:
            raise ValueError(f"home_era must be one of {HOME_ERAS}, list_markup one of {LIST_MARKUPS}")
        if self.blocks not in BLOCK_MODES:
            raise ValueError(f"blocks must be one of {BLOCK_MODES}, got {self.blocks!r}")
        self._metas = build_metadata(self.seed, self.articles)
        involved = set()
        for meta in self._metas:
            source = meta.copy_of if meta.copy_of is not None else meta.near_copy_of
            if source is not None:
                involved |= {meta.index, source}
        self._protected = frozenset(involved)
        published = self._metas
        if self.clock is not None:
            clock = self.clock
            published = [m for m in self._metas if m.published <= clock]
            self._timelines = {m.index: timeline(self.seed, m, m.index in self._protected) for m in published}
        self._by_number = {m.number: m for m in published}
        self._visible = [m for m in published if not self._gone(m)]
        self._channel_items = {name: [] for name, _ in CHANNELS}
        for meta in reversed(self._visible):  # newest first
            for channel in meta.channels:
                self._channel_items[channel].append(meta.index)
        if self.faults:
            self._plan_faults()

    # ---- public API -------------------------------------------------------------------------------------------

    def channels(self) -> list[str]:
        return [name for name, _ in CHANNELS]

    def metadata(self) -> list[ArticleMeta]:
        return list(self._metas)

    def article_urls(self) -> list[str]:
        return [content_mod.CANONICAL_BASE + m.path(ed) for m in self._metas for ed in EDITIONS]

    def truth(self) -> Iterator[dict[str, Any]]:
        for meta in self._metas:
            extractor = self.extractor_for(meta)
            for edition in EDITIONS:
                row = content_mod.truth_dict(meta, self.content(meta, edition))
                yield row if extractor == row["extractor"] else {**row, "extractor": extractor}

    def unknown_layout(self, meta: ArticleMeta) -> str | None:
        """`video` or `culture` when `unknown_layouts` serves the article in a layout no parser knows."""
        if not self.unknown_layouts or self.redesign:
            return None
        return unknown.unknown_layout(meta, meta.index in self._protected)

    def extractor_for(self, meta: ArticleMeta) -> str:
        """The parser that can read the article's page: its layout's, or the general extractor's."""
        return "generic" if self.redesign or self.unknown_layout(meta) else meta.layout

    def exact_copies(self) -> dict[str, str]:
        return {m.article_id: self._metas[m.copy_of].article_id for m in self._metas if m.copy_of is not None}

    def near_copies(self) -> dict[str, str]:
        return {
            m.article_id: self._metas[m.near_copy_of].article_id
            for m in self._metas
            if m.near_copy_of is not None
        }

    def edited_ids(self, since_revision: int = 0) -> set[str]:
        return {m.article_id for m in self._metas if any(r > since_revision for r in self._rounds(m))}

    def fault_paths(self) -> dict[str, list[str]]:
        return {kind: list(paths) for kind, paths in self._faults.items()}

    def content(self, meta: ArticleMeta, edition: str) -> Content:
        gb = content_mod.gb_content(self.seed, self._metas, meta, self._rounds(meta))
        if self.clock is not None:
            gb = replace(gb, modified=self._timelines[meta.index].last_change(self.clock))
        return gb if edition == "gb" else content_mod.to_b5(gb)

    def get(self, target: str, headers: Mapping[str, str] | None = None) -> Page:
        """The page at `target` (a path with an optional query string); 404 for anything unknown.

        `headers` are the request's (names in any case): article pages answer `If-None-Match` and
        `If-Modified-Since` with 304 when unchanged."""
        path = urlsplit(target).path
        if path == "/robots.txt":
            return Page(200, {"Content-Type": "text/plain; charset=utf-8"}, ROBOTS.encode())
        blocked = self._block_page(path)
        if blocked is not None:
            return blocked
        fault = self._fault_by_path.get(path)
        if fault is not None:
            return self._fault_page(fault, path)
        article = self._article_state(path, {k.lower(): v for k, v in (headers or {}).items()})
        if article is not None:
            return article
        return self.render_clean(path) or not_found()

    def timelines(self) -> dict[str, Timeline]:
        """article_id -> its life on the site (clock mode only; empty otherwise)."""
        return {self._metas[i].article_id: t for i, t in self._timelines.items()}

    def validators(self, meta: ArticleMeta, edition: str) -> tuple[str, str]:
        """`(ETag, Last-Modified)` of an article page: they change exactly when its text does (the page's view
        counter, related links and ads change on every render, as a CMS's revision ETag ignores them)."""
        rounds = ",".join(map(str, self._rounds(meta)))
        key = f"{self.seed}/{meta.number}/{edition}/{rounds}".encode()
        etag = f'"{hashlib.blake2b(key, digest_size=8).hexdigest()}"'
        if self.clock is not None:
            modified = self._timelines[meta.index].last_change(self.clock)
        else:
            modified = content_mod.modified_at(self.seed, meta, self._rounds(meta))
        return etag, format_datetime(modified.astimezone(UTC), usegmt=True)

    def render_clean(self, path: str) -> Page | None:
        """The fault-free page at `path`, or None if the site has no such page (used by the static export)."""
        for pattern, handler in self._routes():
            match = pattern.match(path)
            if match is not None:
                return handler(*match.groups())
        return None

    def static_paths(self) -> Iterator[str]:
        """Every path of the fault-free site (for the static export)."""
        yield "/robots.txt"
        for edition in EDITIONS:
            yield f"/{edition}/"
            yield f"/{edition}/feed"
            for channel in self._walkable_channels():
                yield f"/{edition}/{channel}.xml"
                for page in range(1, self._last_page(channel) + 1):
                    yield render.channel_path(edition, channel, page)
            for ranking in self._rankings():
                yield render.channel_path(edition, ranking)
            for tag in self._all_tags(edition):
                yield f"/{edition}/tag/{tag}.html"
            for meta in self._metas:
                yield meta.path(edition)

    # ---- routing ----------------------------------------------------------------------------------------------

    def _routes(self) -> list[tuple[re.Pattern[str], Callable[..., Page | None]]]:
        return [
            (_ARTICLE_RE, self._article),
            (_HOME_RE, self._home),
            (_LIST_RE, self._list),
            (_RSS_RE, self._rss),
            (_FEED_RE, self._feed),
            (_TAG_RE, self._tag),
        ]

    def _gone(self, meta: ArticleMeta) -> bool:
        return self.clock is not None and self._timelines[meta.index].gone(self.clock)

    def _article_state(self, path: str, headers: Mapping[str, str]) -> Page | None:
        """A removed article's answer, a 304, or the page with its validators; None if `path` is no article."""
        match = _ARTICLE_RE.match(path)
        meta = self._by_number.get(int(match.group(5))) if match else None
        if match is None or meta is None or meta.path(match.group(1)) != path:
            return None
        edition = match.group(1)
        if self._gone(meta):
            removal = self._timelines[meta.index].removal
            if removal == "home":
                location = f"{content_mod.CANONICAL_BASE}/{edition}/"
                return Page(302, {"Location": location, "Content-Type": HTML}, b"")
            return _html(NOT_FOUND_HTML, 410 if removal == "410" else 404)
        etag, last_modified = self.validators(meta, edition)
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if _not_modified(headers, etag, last_modified):
            return Page(304, validators, b"")
        page = _html(self.article_html(meta, edition))
        return replace(page, headers={**page.headers, **validators})

    def _rounds(self, meta: ArticleMeta) -> list[int]:
        if self.clock is not None:
            return list(range(1, self._timelines[meta.index].edits_until(self.clock) + 1))
        return content_mod.edited_rounds(self.seed, meta, self.revision, meta.index in self._protected)

    def _article(self, edition: str, yy: str, month: str, day: str, number: str) -> Page | None:
        meta = self._by_number.get(int(number))
        if meta is None or meta.path(edition) != f"/{edition}/{yy}/{month}/{day}/n{number}.htm":
            return None
        return _html(self.article_html(meta, edition))

    def article_html(self, meta: ArticleMeta, edition: str) -> str:
        content = self.content(meta, edition)
        if self.redesign:
            return render.redesigned_article(content)
        # Over simulated time every render differs in what no reader counts as the text: the view counter,
        # link variants, noise blocks and invisible characters.
        salt = () if self.clock is None else (self.clock.strftime("%Y%m%d%H"),)
        rng = rng_for(self.seed, "page", meta.index, edition, *salt)
        layout = self.unknown_layout(meta)
        if layout == unknown.VIDEO:
            return unknown.video_article(meta, content, self._related(meta, edition), rng)
        if layout == unknown.CULTURE:
            return unknown.culture_article(meta, content, self._related(meta, edition), rng)
        html = self._layout_html(meta, content, rng)
        return unknown.split_body(html) if self.half_broken else html

    def _layout_html(self, meta: ArticleMeta, content: Content, rng: random.Random) -> str:
        if meta.layout == "pre2013":
            return render.pre2013_article(meta, content, rng)
        if meta.layout == "legacy":
            return render.legacy_article(meta, content, rng)
        return render.current_article(meta, content, self._related(meta, content.edition), rng)

    def _related(self, meta: ArticleMeta, edition: str) -> list[tuple[str, str]]:
        earlier = self._metas[max(0, meta.index - RELATED_COUNT) : meta.index]
        return [(m.path(edition), self._title(m, edition)) for m in reversed(earlier)]

    def _title(self, meta: ArticleMeta, edition: str) -> str:
        title = content_mod.title_for(self.seed, meta)
        return title if edition == "gb" else text.s2t(title)

    def _list_item(self, index: int, edition: str) -> render.ListItem:
        meta = self._metas[index]
        rng = rng_for(self.seed, "excerpt", index)
        excerpt = text.paragraph(rng, 30)[: render.EXCERPT_CHARS]
        image = content_mod.Image(f"{IMAGE_BASE}/thumb/{meta.number}.jpg", None, "")
        return render.ListItem(
            meta, self._title(meta, edition), excerpt if edition == "gb" else text.s2t(excerpt), image
        )

    def _walkable_channels(self) -> list[str]:
        """The channels a crawl may walk: the 2018 home page adds the 要闻 list (every article)."""
        return self.channels() + ([era2018.NIMPART] if self.home_era == "2018" else [])

    def _rankings(self) -> tuple[str, ...]:
        return era2018.RANKINGS if self.home_era == "2018" else ()

    def _items_of(self, channel: str) -> list[int] | None:
        if channel in self._channel_items:
            return self._channel_items[channel]
        if channel in self._walkable_channels():
            return [m.index for m in reversed(self._visible)]
        return None

    def _channel_title(self, channel: str, edition: str) -> str:
        title = dict(CHANNELS).get(channel, "要闻")
        return title if edition == "gb" else text.s2t(title)

    def _last_page(self, channel: str) -> int:
        return max(1, -(-len(self._items_of(channel) or ()) // render.ITEMS_PER_PAGE))

    def _list(self, edition: str, channel: str, page_text: str | None) -> Page | None:
        if channel in self._rankings():
            return None if page_text else self._ranking(edition, channel)
        all_items = self._items_of(channel)
        if all_items is None:
            return None
        page = int(page_text) if page_text else 1
        last = self._last_page(channel)
        if page_text is not None and (page < 2 or page > last):
            return None
        start = (page - 1) * render.ITEMS_PER_PAGE
        items = [self._list_item(i, edition) for i in all_items[start : start + render.ITEMS_PER_PAGE]]
        title = self._channel_title(channel, edition)
        rng = rng_for(self.seed, "list", edition, channel, page)
        if page == 1:
            extra = self._fault_links(edition) + self._hot_links(edition)
            return _html(render.front_page(edition, channel, title, items, last, extra, rng))
        return _html(self._archive_html(edition, channel, title, items, page, last, rng))

    def _archive_html(
        self,
        edition: str,
        channel: str,
        title: str,
        items: list[render.ListItem],
        page: int,
        last: int,
        rng: random.Random,
    ) -> str:
        """Pages 2 and later of a list."""
        if self.list_markup == "unknown":
            hot = self._newest_items(edition, era2018.HOT_ITEMS)
            return era2018.unknown_list_page(edition, channel, title, items, hot, page, last, rng)
        if channel == LEGACY_LIST_CHANNEL:
            return render.legacy_list_page(edition, channel, title, items, page, last, rng)
        return render.archive_page(edition, channel, title, items, page, last, rng)

    def _newest_items(self, edition: str, count: int) -> list[render.ListItem]:
        return [self._list_item(m.index, edition) for m in reversed(self._visible[-count:])]

    def _hot_links(self, edition: str) -> list[tuple[str, str]]:
        """With unknown list markup, page 1 also carries the hot sidebar (the site's newest articles)."""
        if self.list_markup != "unknown":
            return []
        hot = self._newest_items(edition, era2018.HOT_ITEMS)
        return [(content_mod.CANONICAL_BASE + i.meta.path(edition), i.title) for i in hot]

    def _ranking(self, edition: str, name: str) -> Page:
        rng = rng_for(self.seed, "ranking", edition, name)
        picks = rng.sample(range(len(self._metas)), min(era2018.RANKING_ITEMS, len(self._metas)))
        items = [self._list_item(i, edition) for i in picks]
        return _html(era2018.ranking_page(edition, "排行", items, rng))

    def _home(self, edition: str) -> Page:
        rng = rng_for(self.seed, "home", edition)
        if self.home_era == "2018":
            shown = sum(size for _, size in era2018.BLOCK_SIZES)
            titles = {n: self._channel_title(n, edition) for n, _ in CHANNELS}
            oldest = [self._list_item(m.index, edition) for m in self._metas[: era2018.OLD_ITEMS]]
            home = era2018.Home2018(edition, titles, self._newest_items(edition, shown), oldest)
            return _html(era2018.home_2018(home, rng))
        channels = [(n, t if edition == "gb" else text.s2t(t)) for n, t in CHANNELS]
        return _html(render.home_page(edition, channels, self._newest_items(edition, HOME_ITEMS), rng))

    def _rss_page(self, edition: str, title: str, self_path: str, indices: list[int]) -> Page:
        entries = [(self._metas[i], self.content(self._metas[i], edition)) for i in indices]
        body = render.rss(edition, title, self_path, entries)
        return Page(200, {"Content-Type": "application/rss+xml; charset=utf-8"}, body.encode())

    def _rss(self, edition: str, channel: str) -> Page | None:
        all_items = self._items_of(channel)
        if all_items is None:
            return None
        indices = all_items[:FEED_ITEMS]
        return self._rss_page(
            edition, self._channel_title(channel, edition), f"/{edition}/{channel}.xml", indices
        )

    def _feed(self, edition: str) -> Page:
        indices = [m.index for m in reversed(self._visible[-FEED_ITEMS:])]
        return self._rss_page(
            edition,
            text.SITE_NAME_GB if edition == "gb" else text.s2t(text.SITE_NAME_GB),
            f"/{edition}/feed",
            indices,
        )

    def _tags_of(self, meta: ArticleMeta, edition: str) -> tuple[str, ...]:
        return self.content(meta, edition).tags

    def _all_tags(self, edition: str) -> list[str]:
        vocabulary = text.TAGS if edition == "gb" else tuple(text.s2t(t) for t in text.TAGS)
        return list(vocabulary)

    def _tag(self, edition: str, quoted: str) -> Page | None:
        tag = unquote(quoted)
        if tag not in self._all_tags(edition):
            return None
        indices = [m.index for m in reversed(self._visible) if tag in self._tags_of(m, edition)]
        items = [self._list_item(i, edition) for i in indices]
        return _html(render.tag_page(edition, tag, items, rng_for(self.seed, "tag", edition, tag)))

    # ---- faults -----------------------------------------------------------------------------------------------

    def _plan_faults(self) -> None:
        newest = self._metas[-1]
        d = newest.url_date
        pure: dict[str, list[str]] = {}
        for offset, kind in enumerate(_PURE_FAULTS, start=1):
            editions = EDITIONS if kind == "dead" else ("gb",)
            for edition in editions:
                path = f"/{edition}/{d.year % 100}/{d.month}/{d.day}/n{FAULT_NUMBER_BASE + offset}.htm"
                pure.setdefault(kind, []).append(path)
        flaky = [m for m in self._metas if m.index % FLAKY_PERIOD == FLAKY_PHASE]
        steady = [
            m
            for m in reversed(self._metas)
            if m.index % FLAKY_PERIOD != FLAKY_PHASE and m.layout == "current"
        ]
        encoded = {
            "gbk": [steady[0].path("gb")],
            "gb18030": [steady[1].path("gb")],
            "big5": [steady[2].path("b5")],
            "malformed": [steady[3].path("gb"), steady[3].path("b5")],
        }
        self._faults = {"flaky": [m.path(ed) for m in flaky for ed in EDITIONS], **pure, **encoded}
        self._fault_by_path = {path: kind for kind, paths in self._faults.items() for path in paths}

    def _fault_links(self, edition: str) -> list[tuple[str, str]]:
        """Links from channel front pages to every fault page of the edition, so that a crawl meets them."""
        if not self.faults:
            return []
        kinds = [k for k in self._faults if k != "flaky"]
        return [
            (content_mod.CANONICAL_BASE + path, f"{kind} {n}")
            for kind in kinds
            for n, path in enumerate(self._faults[kind])
            if path.startswith(f"/{edition}/")
        ]

    def _block_page(self, path: str) -> Page | None:
        """blocks="all": a bot wall in front of every page; "some": a few articles rate-limited once (429 with
        Retry-After), or walled for good (403/503 challenge, a 200 captcha page)."""
        if self.blocks == "all":
            return _html(CHALLENGE_HTML, 403)
        match = _ARTICLE_RE.match(path)
        if self.blocks != "some" or match is None:
            return None
        kind = _BLOCKS_BY_REMAINDER.get(int(match.group(5)) % _BLOCK_PERIOD)
        if kind == "rate_limited":
            self._hits[path] = self._hits.get(path, 0) + 1
            if self._hits[path] > 1:
                return None
            page = _html("<html><body><h1>429 Too Many Requests</h1></body></html>\n", 429)
            return replace(page, headers={**page.headers, "Retry-After": str(RETRY_AFTER_SECONDS)})
        walls = {
            "challenge_503": _html(CHALLENGE_HTML, 503),
            "challenge_403": _html(CHALLENGE_HTML, 403),
            "not_the_site": _html(NOT_THE_SITE_HTML),
        }
        return walls.get(kind or "")

    def blocked_numbers(self) -> dict[int, str]:
        """Article number -> block kind, for blocks="some"."""
        if self.blocks != "some":
            return {}
        found = {m.number: _BLOCKS_BY_REMAINDER.get(m.number % _BLOCK_PERIOD) for m in self._visible}
        return {number: kind for number, kind in found.items() if kind is not None}

    def _fault_page(self, kind: str, path: str) -> Page:
        handler = getattr(self, f"_fault_{kind}")
        page: Page = handler(path)
        return page

    def _fault_flaky(self, path: str) -> Page:
        self._hits[path] = self._hits.get(path, 0) + 1
        if self._hits[path] == 1:
            return _html("<html><body><h1>500 Internal Server Error</h1></body></html>\n", 500)
        return self.render_clean(path) or not_found()

    def _fault_dead(self, path: str) -> Page:
        return not_found()

    def _fault_slow(self, path: str) -> Page:
        return Page(
            200, {"Content-Type": HTML}, b"<html><body><p>slow</p></body></html>\n", delay=self.slow_seconds
        )

    def _fault_truncated(self, path: str) -> Page:
        body = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>cut</title></head><body><p>cut'
        headers = {"Content-Type": HTML, "Content-Length": str(len(body) + TRUNCATED_MISSING)}
        return Page(200, headers, body, truncate=True)

    def _fault_redirect(self, path: str) -> Page:
        return Page(302, {"Location": EVIL_HOST + path, "Content-Type": HTML}, b"")

    def _fault_too_big(self, path: str) -> Page:
        headers = {"Content-Type": HTML, "Content-Length": str(TOO_BIG_BYTES)}
        return Page(200, headers, b"", stream=_too_big_chunks)

    def _fault_gzip_bomb(self, path: str) -> Page:
        return Page(200, {"Content-Type": HTML, "Content-Encoding": "gzip"}, gzip_bomb())

    def _fault_not_article(self, path: str) -> Page:
        links = "".join(f'<li><a href="{m.path("gb")}">{m.article_id}</a></li>' for m in self._metas[-5:])
        html = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>专题</title></head><body><ul>{links}</ul></body></html>\n'
        return _html(html)

    def _encoded(self, path: str, codec: str, header_charset: bool) -> Page:
        page = self.render_clean(path)
        assert page is not None, path
        html = page.body.decode().replace('<meta charset="utf-8">', f'<meta charset="{codec}">', 1)
        content_type = f"text/html; charset={codec}" if header_charset else "text/html"
        return Page(200, {"Content-Type": content_type}, html.encode(codec, errors="xmlcharrefreplace"))

    def _fault_gbk(self, path: str) -> Page:
        return self._encoded(path, "gbk", header_charset=True)

    def _fault_gb18030(self, path: str) -> Page:
        return self._encoded(path, "gb18030", header_charset=False)

    def _fault_big5(self, path: str) -> Page:
        return self._encoded(path, "big5", header_charset=True)

    def _fault_malformed(self, path: str) -> Page:
        page = self.render_clean(path)
        assert page is not None, path
        html = page.body.decode()
        html = (
            html.replace("</p>", "</p>\n</p>")
            .replace("</div></div></main>", "")
            .replace("</body></html>", "")
        )
        html = html.replace('<div id="artbody"', '<div class="unclosed"><span>\n<div id="artbody"', 1)
        return _html(html)
