"""`scrapy mirror` and `scrapy report` on a synthetic archive: first mirror, reruns, and the report's build time.

The articles have the shape of real ones (six paragraphs of about 120 characters, a tag link each, a figure),
spread over 200 days of one edition. A rerun over an unchanged dataset reads only the index columns and
writes nothing; after 1% of the articles get a new version it renders those and their day indexes only.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from bench.figures import Figure, Target, single
from crawler.extract.model import Image
from crawler.items import ArticleItem
from pipelines.dataset.schema import items_to_table
from publish.mirror import build_mirror
from publish.report import build_report

ARTICLES = 10_000
DAYS = 200
NEW_VERSION_SHARE = 0.01
FIRST_NUMBER = 13_000_000
# A rerun that finds nothing new costs at most this share of the first run.
MAX_UNCHANGED_RERUN_SHARE = 0.1
TAG_URL = "https://www.epochtimes.com/gb/tag/%E4%B8%AD%E5%85%B1.html"


def article(index: int, version: int = 1) -> ArticleItem:
    day = datetime(2025, 1, 1, 4, tzinfo=UTC) + timedelta(days=index % DAYS, minutes=index)
    number = FIRST_NUMBER + index
    url = f"https://www.epochtimes.com/gb/{day.year % 100}/{day.month}/{day.day}/n{number}.htm"
    lines = [
        f"第{p}段，版本{version}。" + "据报导，当局周四公布了新的数据，讨论经济发展等问题。" * 4
        for p in range(6)
    ]
    image = f"https://i.epochtimes.com/assets/uploads/2025/01/id{number}.jpg"
    body_html = "".join(f'<p>{line[:20]}<a href="{TAG_URL}">中共</a>{line[20:]}</p>' for line in lines)
    body_html += f'<p><figure><img src="{image}"><figcaption>图片说明（大纪元）</figcaption></figure></p>'
    return ArticleItem(
        article_id=f"n{number}",
        url=url,
        edition="gb",
        language="zh-Hans",
        title=f"标题{index} 版本{version}",
        published_at=day,
        date_source="page",
        body_text="\n".join(line[:20] + "中共" + line[20:] for line in lines),
        body_html=body_html,
        images=[Image(image, "图片说明", "大纪元")],
        tags=["中共"],
        authors=["李馨"],
        crawled_at=day + timedelta(days=version),
        version=version,
        run_id="bench",
        content_hash="x",
        simhash=0,
    )


def write(root: Path, items: list[ArticleItem], name: str) -> None:
    folder = root / "date=2025-01-01"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(items_to_table(items), folder / f"part-{name}.parquet")


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as scratch:
        dataset, out = Path(scratch) / "articles", Path(scratch) / "mirror"
        write(dataset, [article(i) for i in range(ARTICLES)], "bench-1")
        first = timed(lambda: build_mirror(str(dataset), out))
        unchanged = timed(lambda: build_mirror(str(dataset), out))
        edited = range(0, ARTICLES, round(1 / NEW_VERSION_SHARE))
        write(dataset, [article(i, 2) for i in edited], "bench-2")
        started = time.perf_counter()
        result = build_mirror(str(dataset), out)
        after_edits = time.perf_counter() - started
        report = timed(lambda: build_report(str(dataset)))
    return [
        single(f"mirror, first run ({ARTICLES:,} articles)", ARTICLES / first, "pages/s"),
        single("mirror, rerun over an unchanged dataset", unchanged, "s"),
        single(
            "mirror, unchanged rerun / first run",
            unchanged / first,
            "",
            Target("<=", MAX_UNCHANGED_RERUN_SHARE),
        ),
        single(f"mirror, rerun after {len(edited)} new versions", after_edits, "s"),
        single(
            "mirror, pages written by that rerun",
            len(result.pages_written),
            "pages",
            Target("<=", len(edited)),
        ),
        single(f"report build ({ARTICLES:,} articles, {len(edited)} edits)", report, "s"),
    ]
