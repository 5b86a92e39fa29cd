"""Synthetic archives for tests and benchmarks (realistic index columns, placeholder text), and sample items.

``make_synthetic_dataset(root, n)`` writes n rows in the dataset's hive layout with the real schema, fast
enough for 1,000,000 rows (a few seconds): every column is generated as a whole numpy/Arrow array.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from crawler.items import ArticleItem
from pipelines.dataset.schema import ARTICLE_SCHEMA

BEIJING = timezone(timedelta(hours=8))
FIRST_ARTICLE_NUMBER = 10_000_000
FIRST_DAY = date(2020, 1, 1)
ROWS_PER_DAY = 2_500
MAX_DAYS = 400
# One row in twenty is a later version of an article that also has an earlier row.
EXTRA_VERSION_SHARE = 0.05
HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
SHA256_BYTES = 32
_EPOCH = date(1970, 1, 1)
_MICROS_PER_DAY = 86_400 * 1_000_000
_PLACEHOLDERS: dict[str, pa.Scalar] = {
    "url": pa.scalar("https://www.epochtimes.com/gb/20/1/1/n1.htm"),
    "title": pa.scalar("合成标题"),
    "body_text": pa.scalar("合成正文"),
    "run_id": pa.scalar("synthetic"),
}


@dataclass(frozen=True, slots=True)
class SyntheticDataset:
    """What was written, so tests can check lookups against it."""

    article_ids: list[str]
    versions: npt.NDArray[np.int32]
    content_hashes: list[str]
    simhashes: npt.NDArray[np.int64]

    @property
    def article_count(self) -> int:
        return len(set(self.article_ids))


def make_synthetic_dataset(root: Path | str, n: int, seed: int = 0) -> SyntheticDataset:
    """Write ``n`` rows under ``root`` as ``date=YYYY-MM-DD/part-synthetic-<i>.parquet`` (zstd)."""
    if n < 1:
        raise ValueError(f"a synthetic dataset needs at least one row, got n={n}")
    rng = np.random.default_rng(seed)
    numbers, versions = _numbers_and_versions(rng, n)
    # Rows grouped by day, so each partition gets one file of one row group, as after `scrapy compact`.
    days = np.sort(rng.integers(0, max(1, min(MAX_DAYS, n // ROWS_PER_DAY)), size=n))
    hashes = _random_hex_digests(rng, n)
    simhashes = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    columns = {
        "article_id": pc.binary_join_element_wise("n", pc.cast(pa.array(numbers), pa.string()), ""),
        "version": pa.array(versions, pa.int32()),
        "content_hash": hashes,
        "simhash": pa.array(simhashes, pa.int64()),
        "published_at": _timestamps(days),
        "crawled_at": _timestamps(days + 1),
    }
    table = _full_table(columns, n).append_column("date", _day_names(days))
    pads.write_dataset(
        table,
        str(root),
        format="parquet",
        partitioning=["date"],
        partitioning_flavor="hive",
        basename_template="part-synthetic-{i}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        min_rows_per_group=n,
        file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"),
    )
    return SyntheticDataset(
        article_ids=columns["article_id"].to_pylist(),
        versions=versions,
        content_hashes=hashes.to_pylist(),
        simhashes=simhashes,
    )


def _numbers_and_versions(
    rng: np.random.Generator, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Distinct increasing article numbers with gaps, plus extra version-2 rows for some of them."""
    extra = int(n * EXTRA_VERSION_SHARE) if n > 1 else 0
    articles = n - extra
    numbers = FIRST_ARTICLE_NUMBER + np.arange(articles, dtype=np.int64) * 2 + rng.integers(0, 2, articles)
    revised = rng.choice(articles, size=extra, replace=False)
    all_numbers = np.concatenate((numbers, numbers[revised]))
    versions = np.concatenate((np.ones(articles, np.int32), np.full(extra, 2, np.int32)))
    shuffle = rng.permutation(n)
    return all_numbers[shuffle], versions[shuffle]


def _random_hex_digests(rng: np.random.Generator, n: int) -> pa.StringArray:
    raw = rng.integers(0, 256, size=(n, SHA256_BYTES), dtype=np.uint8)
    chars = np.empty((n, SHA256_BYTES * 2), dtype=np.uint8)
    chars[:, 0::2] = HEX_DIGITS[raw >> 4]
    chars[:, 1::2] = HEX_DIGITS[raw & 0x0F]
    offsets = np.arange(0, chars.size + 1, SHA256_BYTES * 2, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _timestamps(days: npt.NDArray[np.int64]) -> pa.Array:
    first_day = (FIRST_DAY - _EPOCH).days
    micros = (days + first_day) * _MICROS_PER_DAY + _MICROS_PER_DAY // 2
    return pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _day_names(days: npt.NDArray[np.int64]) -> pa.Array:
    names = np.array([(FIRST_DAY + timedelta(days=int(d))).isoformat() for d in range(int(days.max()) + 1)])
    return pa.DictionaryArray.from_arrays(pa.array(days.astype(np.int32)), pa.array(names)).cast(pa.string())


def _full_table(columns: dict[str, pa.Array], n: int) -> pa.Table:
    """Every schema column: generated, placeholder text for required text, nulls for the rest."""
    arrays = []
    for field in ARTICLE_SCHEMA:
        if field.name in columns:
            arrays.append(columns[field.name])
        elif field.name in _PLACEHOLDERS:
            arrays.append(pa.repeat(_PLACEHOLDERS[field.name], n))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=ARTICLE_SCHEMA)


SAMPLE_TITLE = "中国经济放缓 专家：问题在制度"
SAMPLE_BODY = (
    "近日公布的数据显示，中国经济增长继续放缓，多个行业的订单减少。\n"
    "专家认为，问题的根源在于制度，而不是短期的市场波动。\n"
    "有分析人士指出，地方政府的债务问题也在加重，发展前景并不乐观。"
)


def sample_item(
    number: int = 13470319,
    /,
    *,
    edition: str = "gb",
    title: str = SAMPLE_TITLE,
    body_text: str = SAMPLE_BODY,
    **changes: Any,
) -> ArticleItem:
    """An article item as the spider yields it (before cleaning); ``changes`` override any field."""
    item = ArticleItem(
        article_id=f"n{number}",
        url=f"https://www.epochtimes.com/{edition}/21/12/30/n{number}.htm",
        edition=edition,
        language="zh-Hans" if edition == "gb" else "zh-Hant",
        title=title,
        published_at=datetime(2021, 12, 31, 10, 30, tzinfo=BEIJING),
        date_source="page",
        body_text=body_text,
        crawled_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
    )
    return replace(item, **changes)
