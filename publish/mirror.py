"""``scrapy mirror``: the dataset as a tree of Markdown pages that a Git host's web view shows (issue 14).

Layout under the output folder, following the site's paths::

    README.md                       the editions, with their article and day counts
    gb/README.md                    the edition's days, newest first, with article counts
    gb/21/12/30/README.md           the day's articles, newest first
    gb/21/12/30/n13470319.md        one article, from its latest version
    .mirror/state.json              article id -> version of its page (what the next run compares with)
    .mirror/_lock                   held while a run writes

Incremental: only articles whose latest version differs from the state (or whose page is missing) are read in
full and rendered; only the day indexes that list them are rendered again; every file is written only when its
bytes change, through a hidden temporary renamed into place, so a reader sees a whole file or the previous one.
Nothing is ever deleted: a page stays where readers may have linked to it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from crawler.urls import EDITIONS, ArticleRef, parse_article_url
from pipelines.dataset import storage
from pipelines.dataset.lock import DatasetLock
from publish.markdown import (
    EarlierVersion,
    Image,
    PageArticle,
    article_page,
    beijing_time,
    escape,
    labels_for,
)
from publish.source import open_dataset

# Bump when pages render differently: every page is then rendered again (and rewritten if its bytes differ).
PAGE_FORMAT = 1
STATE_DIR = ".mirror"
STATE_FILE = "state.json"
INDEX_NAME = "README.md"
PAGE_SUFFIX = ".md"
# Articles read in full per dataset scan: bounds memory to a few thousand bodies.
READ_BATCH = 2000

CATALOGUE_COLUMNS = ("article_id", "version", "url", "edition", "title", "published_at", "crawled_at")
PAGE_COLUMNS = (
    "article_id", "version", "url", "edition", "title", "published_at", "updated_at", "crawled_at",
    "authors", "tags", "body_text", "body_html", "images",
)  # fmt: skip
EDITION_NAMES = {"gb": "大纪元 简体版（gb）", "b5": "大紀元 正體版（b5）"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as the indexes list it: its latest version and where its pages are.

    An article may have had several URLs (the dataset keeps the first edition a run saw, which can differ
    between runs): it has a page at each, all showing the latest version, and each of those days lists it,
    so no link a reader followed once stops working or stops being listed.
    """

    article_id: str
    version: int
    refs: tuple[ArticleRef, ...]  # the latest version's first
    title: str
    published_at: datetime
    earlier: tuple[EarlierVersion, ...]

    @property
    def page_paths(self) -> tuple[str, ...]:
        return tuple(f"{day_dir(ref)}/{self.article_id}{PAGE_SUFFIX}" for ref in self.refs)


def day_dir(ref: ArticleRef) -> str:
    d = ref.url_date
    return f"{ref.edition}/{d.year % 100}/{d.month}/{d.day}"


@dataclass(slots=True)
class MirrorResult:
    articles: int = 0
    pages_written: list[str] = field(default_factory=list)
    pages_unchanged: int = 0
    indexes_written: list[str] = field(default_factory=list)
    # Pages whose body could not be matched to body_html's blocks: rendered from body_text's plain lines.
    plain_bodies: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.articles} articles: {len(self.pages_written)} pages written, {self.pages_unchanged} unchanged, "
            f"{len(self.indexes_written)} index pages written"
            + (f", {len(self.plain_bodies)} bodies as plain paragraphs" if self.plain_bodies else "")
            + (f", {len(self.skipped)} rows skipped (URL is not an article URL)" if self.skipped else "")
        )


# --- reading the dataset --------------------------------------------------------------------------------


def catalogue(dataset: pads.Dataset, skipped: list[str]) -> list[Entry]:
    """Every article's latest version (and its earlier ones), from the few columns the indexes need."""
    table = dataset.to_table(columns=list(CATALOGUE_COLUMNS))
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        versions[row["article_id"]].append(row)
    entries = []
    for article_id, rows in versions.items():
        rows.sort(key=lambda r: (r["version"], r["crawled_at"]))
        latest = rows[-1]
        refs = _refs(article_id, [r["url"] for r in reversed(rows)], skipped)
        if not refs:
            continue
        earlier = tuple(
            EarlierVersion(r["version"], r["crawled_at"], r["title"])
            for r in rows[:-1]
            if r["version"] != latest["version"]
        )
        entries.append(
            Entry(article_id, latest["version"], refs, latest["title"], latest["published_at"], earlier)
        )
    return entries


def _refs(article_id: str, urls: Iterable[str], skipped: list[str]) -> tuple[ArticleRef, ...]:
    """The distinct article URLs of ``urls`` in order; others (which no crawl writes) are reported, not mirrored."""
    refs: dict[ArticleRef, None] = {}
    for url in urls:
        ref = parse_article_url(url)
        if ref is None or ref.article_id != article_id:
            skipped.append(url)
        else:
            refs[ref] = None
    return tuple(refs)


def read_pages(dataset: pads.Dataset, entries: Sequence[Entry]) -> Iterator[PageArticle]:
    """The latest version of each entry in full, a batch of ``READ_BATCH`` articles per dataset scan."""
    for start in range(0, len(entries), READ_BATCH):
        batch = {entry.article_id: entry for entry in entries[start : start + READ_BATCH]}
        wanted = pc.field("article_id").isin(pa.array(list(batch), pa.string()))
        rows = dataset.to_table(columns=list(PAGE_COLUMNS), filter=wanted).to_pylist()
        for row in rows:
            entry = batch.get(row["article_id"])
            if entry is not None and row["version"] == entry.version:
                del batch[row["article_id"]]
                yield page_article(row, entry.earlier)


def page_article(row: Mapping[str, Any], earlier: Sequence[EarlierVersion]) -> PageArticle:
    return PageArticle(
        article_id=row["article_id"],
        version=row["version"],
        url=row["url"],
        edition=row["edition"] or "gb",
        title=row["title"],
        published_at=row["published_at"],
        updated_at=row["updated_at"],
        crawled_at=row["crawled_at"],
        authors=tuple(row["authors"] or ()),
        tags=tuple(row["tags"] or ()),
        body_text=row["body_text"],
        body_html=row["body_html"],
        images=tuple(Image(i["url"], i["caption"], i["credit"]) for i in row["images"] or ()),
        earlier=tuple(earlier),
    )


# --- index pages ----------------------------------------------------------------------------------------


def newest_first(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.published_at, e.article_id), reverse=True)


def day_index(edition: str, day: date, entries: Iterable[Entry]) -> str:
    lines = [
        f"# {EDITION_NAMES.get(edition, edition)} {day.isoformat()}",
        "",
        f"[↑ {edition}](<../../../{INDEX_NAME}>)",
        "",
    ]
    labels = labels_for(edition)
    for entry in newest_first(entries):
        lines.append(
            f"- {beijing_time(entry.published_at)}（{labels.beijing_time}） "
            f"[{escape(entry.title)}](<{entry.article_id}{PAGE_SUFFIX}>)"
        )
    return "\n".join(lines) + "\n"


def edition_index(edition: str, days: Mapping[date, int]) -> str:
    lines = [f"# {EDITION_NAMES.get(edition, edition)}", "", f"[↑](<../{INDEX_NAME}>)", ""]
    for day in sorted(days, reverse=True):
        folder = f"{day.year % 100}/{day.month}/{day.day}"
        lines.append(f"- [{day.isoformat()}](<{folder}/{INDEX_NAME}>)：{days[day]} 篇")
    return "\n".join(lines) + "\n"


def root_index(editions: Mapping[str, tuple[int, int]]) -> str:
    lines = ["# 大纪元 / 大紀元", ""]
    for edition in sorted(
        editions, key=lambda e: (e not in EDITIONS, EDITIONS.index(e) if e in EDITIONS else 0, e)
    ):
        articles, days = editions[edition]
        lines.append(
            f"- [{EDITION_NAMES.get(edition, edition)}](<{edition}/{INDEX_NAME}>)：{articles} 篇，{days} 天"
        )
    return "\n".join(lines) + "\n"


# --- writing --------------------------------------------------------------------------------------------


def write_if_changed(out: Path, relative: str, text: str) -> bool:
    """Atomically replace ``out/relative`` with ``text`` unless it already holds exactly that; True if written."""
    path = out / relative
    payload = text.encode("utf-8")
    try:
        if path.read_bytes() == payload:
            return False
    except FileNotFoundError:
        pass
    storage.write_bytes_atomically(pafs.LocalFileSystem(), str(path), payload)
    return True


def load_state(out: Path) -> dict[str, int]:
    """Article id -> version of its page as last written; empty when missing, unreadable or of another format."""
    try:
        document = json.loads((out / STATE_DIR / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != PAGE_FORMAT:
        return {}
    versions = document.get("versions")
    return {str(k): int(v) for k, v in versions.items()} if isinstance(versions, dict) else {}


def save_state(out: Path, versions: Mapping[str, int]) -> None:
    document = {"format": PAGE_FORMAT, "versions": dict(sorted(versions.items()))}
    write_if_changed(out, f"{STATE_DIR}/{STATE_FILE}", json.dumps(document, indent=0) + "\n")


def build_mirror(uri: str, out: Path, run_id: str = "mirror") -> MirrorResult:
    """Bring the Markdown mirror under ``out`` up to date with the dataset at ``uri``."""
    dataset = open_dataset(uri)
    result = MirrorResult()
    out.mkdir(parents=True, exist_ok=True)
    with DatasetLock(out / STATE_DIR, run_id):
        storage.remove_temporaries(pafs.LocalFileSystem(), str(out))
        entries = catalogue(dataset, result.skipped)
        result.articles = len(entries)
        state = load_state(out)
        stale = [e for e in entries if state.get(e.article_id) != e.version or not _all_present(out, e)]
        result.pages_unchanged = sum(len(e.page_paths) for e in entries) - sum(
            len(e.page_paths) for e in stale
        )
        by_id = {e.article_id: e for e in stale}
        for article in read_pages(dataset, stale):
            page, structured = article_page(article)
            for path in by_id[article.article_id].page_paths:
                if write_if_changed(out, path, page):
                    result.pages_written.append(path)
                else:
                    result.pages_unchanged += 1
            if not structured:
                result.plain_bodies.append(by_id[article.article_id].page_paths[0])
            state[article.article_id] = article.version
        _write_indexes(out, entries, {day_dir(ref) for e in stale for ref in e.refs}, result)
        save_state(out, state)
    return result


def _all_present(out: Path, entry: Entry) -> bool:
    return all((out / path).is_file() for path in entry.page_paths)


def _write_indexes(out: Path, entries: Sequence[Entry], changed_days: set[str], result: MirrorResult) -> None:
    days: dict[str, list[Entry]] = defaultdict(list)
    day_refs: dict[str, ArticleRef] = {}
    for entry in entries:
        for ref in entry.refs:
            days[day_dir(ref)].append(entry)
            day_refs[day_dir(ref)] = ref
    written = result.indexes_written
    for directory in sorted(changed_days):
        ref = day_refs[directory]
        if write_if_changed(
            out, f"{directory}/{INDEX_NAME}", day_index(ref.edition, ref.url_date, days[directory])
        ):
            written.append(f"{directory}/{INDEX_NAME}")
    per_edition: dict[str, dict[date, int]] = defaultdict(dict)
    for directory, group in days.items():
        ref = day_refs[directory]
        per_edition[ref.edition][ref.url_date] = len(group)
    for edition, counts in per_edition.items():
        if write_if_changed(out, f"{edition}/{INDEX_NAME}", edition_index(edition, counts)):
            written.append(f"{edition}/{INDEX_NAME}")
    totals = {edition: (sum(counts.values()), len(counts)) for edition, counts in per_edition.items()}
    if write_if_changed(out, INDEX_NAME, root_index(totals)):
        written.append(INDEX_NAME)
