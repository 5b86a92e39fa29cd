"""The general extractor on 527 real pages nobody here wrote (``../shared/realpages``, read at run time: its
GPL pages must not be copied into the project), against trafilatura, readability-lxml and GNE.

Per set (chinese-wce 35 hand-labelled Chinese pages, daniel-zh 401 Chinese pages, scrapinghub-aeb 91 mostly
English pages) and field: body F1 (``crawler.extract.similarity.body_f1``), authors (every labelled name among
the extracted ones), date on the labelled day, date and HH:MM when the label has a time; and pages per second
of CPU time, every tool timed on the same pages, the tools taking turns every 25 pages. All tools get the
same decoded text; ours is timed from the page's bytes (``page_markup``: UTF-8 bytes are checked and parsed as
they are, other pages decoded). daniel-zh references start with the headline, so on that set every tool is
scored on its title and body together. A tool that fails on a page scores 0 there.

``REALPAGES_DIR`` overrides where the pages are (default: ``../shared/realpages`` next to the repository).
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from gne import GeneralNewsExtractor
from lxml import html as lxml_html
from readability import Document
from trafilatura import bare_extraction

from bench.figures import Figure, Target, measured
from crawler.decoding import decode_page, page_markup
from crawler.extract.errors import ExtractionError
from crawler.extract.generic import read_generic
from crawler.extract.generic.dates import first_date
from crawler.extract.similarity import body_f1

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "realpages"
SETS = ("chinese-wce", "daniel-zh", "scrapinghub-aeb")
TOOLS = ("ours", "trafilatura", "readability", "gne")
TITLED_SET = "daniel-zh"
BODY_TARGETS = {"chinese-wce": 0.95, "daniel-zh": 0.95, "scrapinghub-aeb": 0.96}
AUTHOR_TARGET = 0.8
DAY_TARGET = 0.9
TIME_TARGET = 0.85
MIN_TIMES_TRAFILATURA = 10
# Each tool reads a chunk of pages in a row (its caches stay warm, as in a crawl), the tools taking turns chunk
# by chunk so that a change of load on the shared machine falls on all of them alike.
CHUNK_PAGES = 25
_LABEL_RE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?:\s+(\d{1,2}):(\d{2}))?")
_NAME_SPLIT_RE = re.compile(r"[\s,，、;；/／|]+")


@dataclass(frozen=True, slots=True)
class Result:
    """What one tool read on one page; empty values when it read nothing."""

    title: str = ""
    body: str = ""
    authors: tuple[str, ...] = ()
    published: str = ""


@dataclass(slots=True)
class Page:
    source: str
    page_id: str
    raw: bytes
    html: str
    truth: dict[str, str]
    url: str


@dataclass(slots=True)
class Tally:
    """Scores of one tool on one set."""

    body: list[float] = field(default_factory=list)
    authors: list[bool] = field(default_factory=list)
    day: list[bool] = field(default_factory=list)
    clock: list[bool] = field(default_factory=list)


def realpages_dir() -> Path:
    return Path(os.environ.get("REALPAGES_DIR", str(DEFAULT_DIR)))


def load_module(folder: Path) -> ModuleType:
    loader = folder / "load.py"
    if not loader.exists():
        raise FileNotFoundError(f"{loader} not found: set REALPAGES_DIR to the realpages folder")
    spec = importlib.util.spec_from_file_location("realpages_load", loader)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {loader}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pages() -> Iterator[Page]:
    loader = load_module(realpages_dir())
    for source, page_id, raw, truth in loader.iter_pages(list(SETS)):
        url = truth.get("url") or f"https://realpages.invalid/{source}/{page_id}.html"
        yield Page(source, page_id, raw, decode_page(raw), truth, url)


# ---- the tools ---------------------------------------------------------------------------------------------


def ours(page: Page) -> Result:
    try:
        found = read_generic(page_markup(page.raw), page.url)
    except ExtractionError:
        return Result()
    published = ""
    if found.published_at is not None:
        published = found.published_at.strftime("%Y-%m-%d %H:%M" if found.published_has_time else "%Y-%m-%d")
    return Result(
        found.title or "", found.body_text, tuple(found.authors), published if found.published_at else ""
    )


def trafilatura(page: Page) -> Result:
    document: Any = bare_extraction(page.html, url=page.url, with_metadata=True)
    if document is None:
        return Result()
    authors = document.author or ""
    return Result(
        document.title or "", document.text or "", (authors,) if authors else (), document.date or ""
    )


def readability(page: Page) -> Result:
    document = Document(page.html)
    summary = document.summary(html_partial=True)
    return Result(document.short_title() or "", _html_text(summary))


def gne(page: Page) -> Result:
    found = GeneralNewsExtractor().extract(page.html)
    author = found.get("author") or ""
    return Result(
        found.get("title") or "",
        found.get("content") or "",
        (author,) if author else (),
        found.get("publish_time") or "",
    )


EXTRACTORS: dict[str, Callable[[Page], Result]] = {
    "ours": ours,
    "trafilatura": trafilatura,
    "readability": readability,
    "gne": gne,
}


def _html_text(markup: str) -> str:
    """Readability's HTML as text: one line per block."""
    if not markup.strip():
        return ""
    root = lxml_html.fromstring(markup)
    for element in root.iter("p", "div", "br", "h1", "h2", "h3", "h4", "li", "tr"):
        element.tail = "\n" + (element.tail or "")
    return str(root.text_content())


def run_tool(name: str, page: Page) -> tuple[Result, float]:
    started = time.process_time()
    try:
        result = EXTRACTORS[name](page)
    except Exception:  # a third-party tool failing on a page scores 0 there, like an empty result
        result = Result()
    return result, time.process_time() - started


# ---- scoring -------------------------------------------------------------------------------------------------


def score(page: Page, result: Result, tally: Tally) -> None:
    scored = f"{result.title}\n{result.body}" if page.source == TITLED_SET and result.body else result.body
    tally.body.append(body_f1(scored, page.truth.get("body", "")))
    if "author" in page.truth:
        tally.authors.append(authors_correct(page.truth["author"], result.authors))
    if "publish_time" in page.truth:
        day, clock = date_correct(page.truth["publish_time"], result.published)
        tally.day.append(day)
        tally.clock.append(clock)


def authors_correct(label: str, extracted: tuple[str, ...]) -> bool:
    """Every labelled name is one of the extracted names (or a word of one: tools that return one string)."""
    found = set(extracted) | {word for name in extracted for word in _NAME_SPLIT_RE.split(name) if word}
    return all(name in found for name in label.split())


def date_correct(label: str, extracted: str) -> tuple[bool, bool]:
    """(same labelled day, also the same HH:MM when the label has one); parts the label lacks are not compared."""
    match = _LABEL_RE.match(label)
    found = first_date(extracted) if extracted else None
    if match is None or found is None:
        return False, False
    value: datetime = found.value
    wanted = [int(part) if part else None for part in match.groups()]
    year, month, day, hour, minute = wanted
    same_day = value.year == year and month in (None, value.month) and day in (None, value.day)
    if hour is None:
        return same_day, same_day
    return same_day, same_day and found.has_time and (value.hour, value.minute) == (hour, minute)


# ---- the run -------------------------------------------------------------------------------------------------


def run() -> list[Figure]:
    tallies = {(source, tool): Tally() for source in SETS for tool in TOOLS}
    seconds = dict.fromkeys(TOOLS, 0.0)
    every_page = list(pages())
    count = len(every_page)
    for start in range(0, count, CHUNK_PAGES):
        chunk = every_page[start : start + CHUNK_PAGES]
        for tool in TOOLS:
            for page in chunk:
                result, spent = run_tool(tool, page)
                seconds[tool] += spent
                score(page, result, tallies[page.source, tool])
    figures = [figure for source in SETS for figure in set_figures(source, tallies)]
    rates = {tool: count / seconds[tool] for tool in TOOLS}
    figures += [measured(f"realpages: {tool} pages/s (CPU)", [rates[tool]], "pages/s") for tool in TOOLS]
    figures.append(
        measured(
            "realpages: ours / trafilatura pages/s",
            [rates["ours"] / rates["trafilatura"]],
            "ratio",
            Target(">=", MIN_TIMES_TRAFILATURA),
        )
    )
    print(matrix(tallies, rates))
    return figures


def set_figures(source: str, tallies: dict[tuple[str, str], Tally]) -> list[Figure]:
    figures = []
    for tool in TOOLS:
        tally = tallies[source, tool]
        ours_tool = tool == "ours"
        figures.append(
            _mean(
                f"realpages {source} body F1: {tool}",
                tally.body,
                Target(">=", BODY_TARGETS[source]) if ours_tool else None,
            )
        )
        for label, values, target in (
            ("authors", tally.authors, AUTHOR_TARGET),
            ("date (day)", tally.day, DAY_TARGET),
            ("date+time", tally.clock, TIME_TARGET),
        ):
            if values:
                figures.append(
                    _mean(
                        f"realpages {source} {label}: {tool}",
                        [float(v) for v in values],
                        Target(">=", target) if ours_tool else None,
                    )
                )
    return figures


def _mean(name: str, values: list[float], target: Target | None) -> Figure:
    figure = measured(name, [statistics.fmean(values)], "share", target)
    return figure


def matrix(tallies: dict[tuple[str, str], Tally], rates: dict[str, float]) -> str:
    """The README's table: one row per set and field, one column per tool."""
    rows: list[tuple[str, ...]] = [("set", "field", "n", *TOOLS)]
    for source in SETS:
        for label, attribute in (
            ("body F1", "body"),
            ("authors", "authors"),
            ("date (day)", "day"),
            ("date+time", "clock"),
        ):
            columns = [getattr(tallies[source, tool], attribute) for tool in TOOLS]
            if not columns[0]:
                continue
            rows.append(
                (
                    source,
                    label,
                    str(len(columns[0])),
                    *(f"{statistics.fmean(map(float, c)):.3f}" for c in columns),
                )
            )
    rows.append(("all", "pages/s (CPU)", "", *(f"{rates[tool]:.0f}" for tool in TOOLS)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )
