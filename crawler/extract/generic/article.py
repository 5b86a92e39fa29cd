"""Any news page to its fields (``read_generic``) or to an Article (``extract_generic``).

Nothing here knows a particular site. An Epoch Times article URL only lends the row its site id and edition,
so that a page of the site that its own parsers cannot read still lands under the right key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from html import escape
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from crawler.extract.dom import Element, first, line_of
from crawler.extract.errors import MissingField, NotAnArticle
from crawler.extract.generic.bylines import (
    authors_in,
    credited_editors_in,
    editors_in,
    line_authors,
    standalone_name,
)
from crawler.extract.generic.content import (
    HEADING_TAGS,
    Content,
    Line,
    find_content,
    images_in,
    strip_furniture,
)
from crawler.extract.generic.dates import CHINA, Found, dates_in, month_in, parse_iso
from crawler.extract.generic.language import page_language
from crawler.extract.generic.lead import split_lead
from crawler.extract.generic.metadata import PageMeta, read_meta
from crawler.extract.generic.taxonomy import categories_in_lines, marked_trail_possible
from crawler.extract.images import web_url
from crawler.extract.model import Article, Image
from crawler.extract.text import normalize_line
from crawler.extract.times import url_time
from crawler.urls import LANGUAGE_BY_EDITION, parse_article_url

EXTRACTOR_NAME = "generic"
SOURCE_PAGE = "page"
SOURCE_URL = "url"
_PARSER = etree.HTMLParser(
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    no_network=True,
    remove_blank_text=False,
    collect_ids=False,
)
# Labels that introduce the publication time: a date after one of them beats any other date in the text.
_DATE_LABEL_RE = re.compile(
    r"(?:发布|發布|发表|發表|更新|时间|時間|日期|出版|刊登|Published|Posted|Updated|Date)\s*(?:时间|時間|日期|于|於)?\s*[:：]?\s*$",
    re.I,
)
_URL_DATE_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-/_]?(0[1-9]|1[0-2])[-/_]?(0[1-9]|[12]\d|3[01])(?!\d)")
_META_LINE_RE = re.compile(
    r"来源|來源|作者|记者|記者|编辑|編輯|发布|發布|日期|时间|時間|字号|字體|浏览|瀏覽|点击|點擊"
)
_MAX_META_LINE_WEIGHT = 60
# A line that ends a sentence is prose, even when it names a reporter or a date.
_SENTENCE_END_RE = re.compile(r"[。！？!?]|\.\s")
_ID_HEX = 16
_MAX_IMAGES = 30
_FIGCAPTION = etree.XPath(".//figcaption")
_BYLINE_WINDOW = 8
_OPENING_LINES = 6
# A paragraph this long never repeats word for word in one article: a second copy is the page's duplicate.
_MIN_REPEATED_WEIGHT = 20
_SPACES_RE = re.compile(r"\s+")
_OUTLET_SUFFIX_RE = re.compile(r"^(?P<person>.+?)\s*[·‧・]\s*(?P<outlet>[^·‧・]+)$")
_MIN_TITLE_MATCH = 4
_HEADLINE_LINES = 3
_MAX_HEADLINE_CHARS = 40
_DATE_WINDOW = 25
_OPENING_DATE_LINES = 6
_ZONE_STEP = timedelta(minutes=15)
_MONTHS_IN_YEAR = 12
_MAX_ZONE_OFFSET = timedelta(hours=14)


@dataclass(slots=True)
class GenericPage:
    """Every field the general extractor reads; any may be missing (the benchmark scores them one by one)."""

    url: str
    canonical_url: str
    title: str | None
    language: str
    lines: list[Line]
    published_at: datetime | None = None
    published_has_time: bool = False
    date_source: str | None = None
    updated_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    editor: str | None = None
    images: list[Image] = field(default_factory=list)
    dateline: str | None = None
    section: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def body_text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def body_html(self) -> str:
        return "".join(_line_html(line) for line in self.lines)


def parse_page(html: str | bytes) -> Element:
    """The page's tree from its text, or from its UTF-8 bytes (crawler.decoding.page_markup)."""
    try:
        # Control characters pass through libxml2's HTML parser; text is normalized line by line later and
        # body_html is rebuilt from that text, so none reaches the output. Lone surrogates cannot be UTF-8.
        markup = html if isinstance(html, bytes) else html.encode("utf-8", errors="replace")
        root = etree.fromstring(markup, _PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise NotAnArticle(f"unparsable document: {exc}") from exc
    if root is None:
        raise NotAnArticle("empty document")
    return root


def read_generic(html: str | bytes, url: str) -> GenericPage:
    """The fields of the article on ``html`` (the page's text, or its UTF-8 bytes: page_markup); NotAnArticle
    when nothing on it reads like one."""
    root = parse_page(html)
    meta = read_meta(root, url, marked_trail_possible=marked_trail_possible(html))
    strip_furniture(root)
    content = find_content(root)
    if content is None:
        raise NotAnArticle(f"no article text: {url}")
    title = meta.title or None
    lines, dateline = _opened(*_without_head_lines(content.lines, title))
    if not lines:
        raise NotAnArticle(f"no article text: {url}")
    text = "\n".join(line.text for line in lines)
    language = page_language(meta.language, text)
    zone = CHINA if language.startswith("zh") else UTC
    page = GenericPage(
        url=url,
        canonical_url=_canonical(url, meta.canonical_url),
        title=title,
        language=language,
        lines=lines,
        images=_images(content, url),
        dateline=dateline,
        tags=meta.tags,
        categories=meta.categories or categories_in_lines(reversed(content.before), title),
    )
    page.section = meta.section or next(iter(page.categories), None)
    _set_published(page, meta, content, zone)
    page.updated_at = next((value for value in (parse_iso(raw, zone) for raw in meta.updated) if value), None)
    _set_people(page, meta, content)
    return page


def extract_generic(html: str, url: str) -> Article:
    """The page as an Article: needs a title, a body and a publication date (MissingField otherwise)."""
    page = read_generic(html, url)
    if not page.title:
        raise MissingField("title", url)
    ref = parse_article_url(url)
    if ref is not None and page.date_source != SOURCE_PAGE:
        # The site's own rule: its URL's day at noon UTC (crawler.extract.times.url_time).
        page.published_at, page.date_source = url_time(ref.url_date), SOURCE_URL
    if page.published_at is None or page.date_source is None:
        raise MissingField("published_at", url)
    article_id = ref.article_id if ref else url_article_id(page.canonical_url)
    body_text = page.body_text
    return Article(
        article_id=article_id,
        url=ref.canonical_url if ref else page.canonical_url,
        edition=ref.edition if ref else None,
        language=LANGUAGE_BY_EDITION[ref.edition] if ref else page.language,
        title=page.title,
        published_at=page.published_at.astimezone(UTC),
        date_source=page.date_source,
        body_text=body_text,
        updated_at=page.updated_at.astimezone(UTC) if page.updated_at else None,
        section=page.section,
        categories=page.categories,
        tags=page.tags,
        authors=page.authors,
        editor=page.editor,
        dateline=page.dateline,
        body_html=page.body_html,
        images=page.images,
        char_count=len(body_text),
        extractor=EXTRACTOR_NAME,
    )


def url_article_id(canonical_url: str) -> str:
    """A stable id for another site's page: ``u`` and 16 hex digits of its canonical URL's SHA-256."""
    return "u" + hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:_ID_HEX]


def _canonical(url: str, declared: str | None) -> str:
    """The page's canonical URL when it stays on the page's own site, else the fetched URL; https, no
    fragment, host lowercased: the same page always gets the same id."""
    chosen = url
    if declared and _site(declared) == _site(url):
        chosen = declared
    parts = urlsplit(chosen.strip())
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return ".".join(host.split(".")[-2:])


def _without_head_lines(lines: list[Line], title: str | None) -> tuple[list[Line], list[Line]]:
    """Without the headline (whole or in parts) at the top, the short date/source/byline lines around it,
    and second copies of a paragraph (pages that carry a print or mobile copy of the article); and the
    head lines dropped."""
    out = list(lines)
    head: list[Line] = []
    squeezed_title = _squeeze(title or "")
    while len(out) > 1 and (
        (
            squeezed_title
            and len(_squeeze(out[0].text)) >= _MIN_TITLE_MATCH
            and _squeeze(out[0].text) in squeezed_title
        )
        or (
            out[0].weight < _MAX_META_LINE_WEIGHT
            and not _SENTENCE_END_RE.search(out[0].text)
            and (dates_in(out[0].text) or _META_LINE_RE.search(out[0].text) or line_authors(out[0].text))
        )
    ):
        head.append(out.pop(0))
    seen: set[str] = set()
    unique: list[Line] = []
    for line in out:
        if line.weight >= _MIN_REPEATED_WEIGHT:
            if line.text in seen:
                continue
            seen.add(line.text)
        unique.append(line)
    return unique, head


def _opened(lines: list[Line], head: list[Line]) -> tuple[list[Line], str | None]:
    """The lines with the first one's dateline and bracketed byline peeled off, and the dateline: the
    first one's, or that of a head line dropped as a short date line (【大纪元2024年12月24日讯】 alone)."""
    dateline = next((found for line in head if (found := split_lead(line.text).dateline)), None)
    if not lines:
        return lines, dateline
    lead = split_lead(lines[0].text)
    if lead.rest == lines[0].text:
        return lines, dateline
    rest = [Line(lead.rest, lines[0].tag, lines[0].weight, lines[0].link_weight)] if lead.rest else []
    return [*rest, *lines[1:]], dateline or lead.dateline


def _squeeze(text: str) -> str:
    return _SPACES_RE.sub("", text)


def _set_published(page: GenericPage, meta: PageMeta, content: Content, zone: timezone) -> None:
    declared = [value for value in (parse_iso(raw, zone) for raw in meta.published) if value]
    written = _written_date(content)
    declared_with_time = [
        value for value in declared if (value.hour, value.minute, value.second) != (0, 0, 0)
    ]
    # A declared instant keeps the offset it is written with: its clock is the one the page shows.
    if declared_with_time:
        shown = written.value if written is not None and written.has_time else None
        page.published_at, page.published_has_time = _as_shown(declared_with_time[0], shown), True
    elif written is not None and (written.has_time or not declared):
        page.published_at, page.published_has_time = written.value.replace(tzinfo=zone), written.has_time
    elif declared:
        page.published_at = declared[0]
    if page.published_at is not None:
        page.date_source = SOURCE_PAGE
        return
    url_day = _url_date(page.url)
    if url_day is not None:
        page.published_at = datetime(url_day.year, url_day.month, url_day.day, tzinfo=zone)
        page.date_source = SOURCE_URL


def _as_shown(instant: datetime, shown: datetime | None) -> datetime:
    """The declared instant on the clock the page shows it with. Metadata often gives UTC while the text
    shows local time (``12:48+00:00`` declared, ``13:48`` written): when the written clock differs from
    the declared one by a whole zone offset (quarter hours, at most 14 hours), the page's zone is that
    offset. The instant never changes, only the offset it is written with."""
    if shown is None:
        return instant
    declared_clock = instant.replace(tzinfo=None, second=0, microsecond=0)
    for clock in _readings(shown.replace(second=0, microsecond=0)):
        offset = clock - declared_clock + (instant.utcoffset() or timedelta())
        if offset != instant.utcoffset() and not offset % _ZONE_STEP and abs(offset) <= _MAX_ZONE_OFFSET:
            return instant.astimezone(timezone(offset))
    return instant


def _readings(value: datetime) -> list[datetime]:
    """A written date as read, and with day and month swapped when both can be a month (06/02/2022 is
    6 February in Europe, June 2 in the US)."""
    if value.day > _MONTHS_IN_YEAR or value.day == value.month:
        return [value]
    return [value, value.replace(month=value.day, day=value.month)]


def _written_date(content: Content) -> Found | None:
    """The date written next to the text: after a label, else the nearest with a time above the text, else
    any nearby date (above the text first, then its first and last lines, then below it)."""
    before = content.before[-_DATE_WINDOW:]
    opening = [line.text for line in content.lines[:_OPENING_DATE_LINES]]
    closing = [line.text for line in content.lines[-3:]]
    after = content.after[:_DATE_WINDOW]
    # Each line with the line above it in the page, nearest the text first.
    around = [
        *((line, before[index - 1] if index else "") for index, line in reversed(list(enumerate(before)))),
        *zip(opening, [before[-1] if before else "", *opening], strict=False),
        *zip(closing, ["", *closing], strict=False),
        *zip(after, ["", *after], strict=False),
    ]
    candidates: list[tuple[Found, bool]] = []
    for line, above in around:
        for found in dates_in(line):
            # A date after a label or a byline (本报记者 某某 2003-7-24), or alone under one, is the article's.
            head = line[: found.start]
            labelled = (
                bool(_DATE_LABEL_RE.search(head))
                or bool(line_authors(head))
                or (not head.strip() and (bool(_DATE_LABEL_RE.search(above)) or bool(line_authors(above))))
            )
            candidates.append((found, labelled))
    for wanted in (
        lambda item: item[1],
        lambda item: item[0].has_time,
        lambda item: True,
    ):
        chosen = next((found for found, labelled in candidates if wanted((found, labelled))), None)
        if chosen is not None:
            return chosen
    # A magazine's issue (《北京之春》1998年3月号) dates its articles to the month.
    return next((found for found in (month_in(line) for line, _ in around) if found), None)


def _url_date(url: str) -> date | None:
    match = _URL_DATE_RE.search(urlsplit(url).path)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _set_people(page: GenericPage, meta: PageMeta, content: Content) -> None:
    """Authors from the bylines around the text, else the page's metadata, else the editor a reprint credits
    with a plain 编辑：; the site's own name is never an author."""
    before = content.before[-_BYLINE_WINDOW:]
    lines = content.raw
    nearby = [*before, *lines[:_OPENING_LINES], *lines[-6:], *content.after[:_BYLINE_WINDOW]]
    editors = editors_in([*lines[-6:], *content.after[:_BYLINE_WINDOW], *before])
    page.editor = editors[0] if editors else None
    # The lines around the text are normalized lines (content._lines).
    authors = [name for name in authors_in(nearby, normalized=True) if name not in editors]
    if not authors:
        authors = [
            name for name in map(standalone_name, _after_title(lines[:_OPENING_LINES], page.title)) if name
        ][:1]
    credited = credited_editors_in([*lines[-6:], *content.after[:_BYLINE_WINDOW], *before])[:1]
    page.authors = _without_site(authors or meta.authors or credited, meta.site_names)


def _without_site(names: list[str], site_names: frozenset[str]) -> list[str]:
    """Names without the site's own name: a credit （大纪元） is no author, 张婷・大纪元 is 张婷."""
    people = (_person(name, site_names) for name in names)
    return list(dict.fromkeys(person for person in people if person))


def _person(name: str, site_names: frozenset[str]) -> str | None:
    match = _OUTLET_SUFFIX_RE.match(name)
    if match is not None and match.group("outlet") in site_names:
        return match.group("person")
    return None if name in site_names else name


def _after_title(lines: list[str], title: str | None) -> list[str]:
    """Lines right under a headline, where a column prints its author's name alone. A headline is the page's
    title, or (pages whose <title> is a placeholder) a short line without a sentence's end opening the text."""
    under = []
    for index, line in enumerate(lines[: min(_HEADLINE_LINES, len(lines)) - 1]):
        matches_title = bool(title) and (
            line == title
            or (len(line) >= _MIN_TITLE_MATCH and (line in (title or "") or (title or "") in line))
        )
        if matches_title or (len(line) <= _MAX_HEADLINE_CHARS and not _SENTENCE_END_RE.search(line)):
            under.append(lines[index + 1])
    return under


def _images(content: Content, url: str) -> list[Image]:
    images: list[Image] = []
    for img in images_in(content.roots):
        source = img.get("data-original") or img.get("data-src") or img.get("src") or ""
        absolute = web_url(source, url)
        if absolute is None or any(image.url == absolute for image in images):
            continue
        figure = next(img.iterancestors("figure"), None)
        written = line_of(first(_FIGCAPTION(figure))) if figure is not None else ""
        caption = written or normalize_line(img.get("alt") or img.get("title") or "") or None
        images.append(Image(url=absolute, caption=caption))
        if len(images) >= _MAX_IMAGES:
            break
    return images


def _line_html(line: Line) -> str:
    tag = line.tag if line.tag in HEADING_TAGS else "p"
    return f"<{tag}>{escape(line.text, quote=False)}</{tag}>"
