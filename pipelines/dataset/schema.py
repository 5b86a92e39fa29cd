"""The dataset's Arrow schema (SPEC.md section 2) and the column-wise conversion of items into a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from crawler.items import ArticleItem

# Bump when a column is added or changes meaning or type; readers check it in the file metadata.
# 2: `extractor` (the parser that produced the row). Files of version 1 read it as null (see ``conform``).
# 3: `warc_file`, `warc_offset` (where the row's capture is). Earlier files read them as null.
# 4: `etag` and `last_modified` (the page's HTTP validators). Files of earlier versions read them as null.
SCHEMA_VERSION = "4"
SCHEMA_VERSION_KEY = b"schema_version"

_UTC_MICROS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())
_IMAGE = pa.struct([("url", pa.string()), ("caption", pa.string()), ("credit", pa.string())])

ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("alternate_urls", _STRINGS),
        pa.field("edition", pa.string()),
        pa.field("language", pa.string()),
        pa.field("title", pa.string(), nullable=False),
        pa.field("published_at", _UTC_MICROS, nullable=False),
        pa.field("date_source", pa.string()),
        pa.field("updated_at", _UTC_MICROS),
        pa.field("section", pa.string()),
        pa.field("categories", _STRINGS),
        pa.field("tags", _STRINGS),
        pa.field("authors", _STRINGS),
        pa.field("editor", pa.string()),
        pa.field("dateline", pa.string()),
        pa.field("body_text", pa.string(), nullable=False),
        pa.field("body_html", pa.string()),
        pa.field("images", pa.list_(_IMAGE)),
        pa.field("char_count", pa.int32()),
        pa.field("content_hash", pa.string()),
        pa.field("simhash", pa.int64()),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("crawled_at", _UTC_MICROS, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("extractor", pa.string()),
        pa.field("warc_file", pa.string()),
        pa.field("warc_offset", pa.int64()),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

REQUIRED_COLUMNS: tuple[str, ...] = tuple(f.name for f in ARTICLE_SCHEMA if not f.nullable)

# Columns whose values repeat from row to row (an edition, a section, the run, the WARC file): dictionary-encoded
# in the Parquet files. The others hold values of their own row (ids, URLs, texts, times, hashes): plain, which
# zstd compresses as well, where a dictionary page was a second compression call per column of every part file, a
# third of writing one of tens of rows (a flush writes one per date; figures in bench/HISTORY.md).
# Every column is in exactly one of the two groups (tests/test_parquet.py).
DICTIONARY_COLUMNS = frozenset(
    {
        "version",
        "edition",
        "language",
        "date_source",
        "section",
        "categories",
        "tags",
        "authors",
        "editor",
        "dateline",
        "run_id",
        "extractor",
        "warc_file",
    }
)
PLAIN_COLUMNS = frozenset(
    {
        "article_id",
        "url",
        "alternate_urls",
        "title",
        "published_at",
        "updated_at",
        "body_text",
        "body_html",
        "images",
        "char_count",
        "content_hash",
        "simhash",
        "near_duplicate_of",
        "crawled_at",
        "warc_offset",
        "etag",
        "last_modified",
    }
)


# The article's own free text (long, and unique to its row): no min/max statistics in the Parquet files. No reader
# selects files by the smallest and largest body of their rows, which each file's footer held in full, a tenth of
# the bytes of a part file and a fifth of the time to write one of tens of rows (figures in bench/HISTORY.md).
UNSUMMARISED_COLUMNS = frozenset({"title", "dateline", "body_text", "body_html", "images"})


def statistics_paths(schema: pa.Schema) -> list[str]:
    """The Parquet column paths with min/max statistics in a file of ``schema``: those of its columns not in
    UNSUMMARISED_COLUMNS (a list column's values are at ``NAME.list.element``)."""
    return [_values_path(field) for field in schema if field.name not in UNSUMMARISED_COLUMNS]


def _values_path(field: pa.Field) -> str:
    return f"{field.name}.list.element" if pa.types.is_list(field.type) else field.name


def dictionary_paths(schema: pa.Schema) -> list[str]:
    """The Parquet column paths to dictionary-encode in a file of ``schema``: those of its columns in
    DICTIONARY_COLUMNS (a list column's values are at ``NAME.list.element``)."""
    return [_values_path(field) for field in schema if field.name in DICTIONARY_COLUMNS]


def schema_version_of(schema: pa.Schema) -> str | None:
    """The version a file was written in (None for a file without one)."""
    raw = (schema.metadata or {}).get(SCHEMA_VERSION_KEY)
    return raw.decode() if raw is not None else None


def conform(table: pa.Table) -> pa.Table:
    """Rows of a file of any earlier schema version in the current schema: columns added since are null.

    Columns are matched by name, so a file's column order does not matter either.
    """
    for field in ARTICLE_SCHEMA:
        if field.name not in table.column_names:
            if not field.nullable:
                raise ValueError(f"rows without the required column {field.name!r} cannot be conformed")
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)


_INT32_BITS = 32
# Partition names spell the year with four digits (date=YYYY-MM-DD); no news article is older anyway.
MIN_YEAR = 1000
_INT64_BITS = 64


def _images(item: ArticleItem) -> list[dict[str, str | None]]:
    return [{"url": i.url, "caption": i.caption, "credit": i.credit} for i in item.images]


# Columns whose item attribute is not the Arrow value as is.
_CONVERTERS: dict[str, Callable[[ArticleItem], Any]] = {"images": _images}


def items_to_table(items: Sequence[ArticleItem]) -> pa.Table:
    """One row per item, built column by column (one Arrow conversion per column, not per cell)."""
    arrays = []
    for field in ARTICLE_SCHEMA:
        convert = _CONVERTERS.get(field.name)
        values = [convert(i) if convert else getattr(i, field.name) for i in items]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=ARTICLE_SCHEMA)


def _fits_signed(value: int, bits: int) -> bool:
    bound: int = 2 ** (bits - 1)
    return -bound <= value < bound


def _utc_year(value: datetime) -> int:
    """The UTC year of an aware datetime; 0 when it has none (year 1 at +08:00 is in year 0 UTC)."""
    try:
        return value.astimezone(UTC).year
    except OverflowError:
        return 0


def _is_aware(value: datetime | None) -> bool:
    return value is None or value.utcoffset() is not None


def row_problem(item: ArticleItem) -> str | None:
    """Why ``item`` cannot be stored as a row, or None.

    Checked per item so that one bad item is dropped alone instead of failing a whole flush.
    """
    missing = [name for name in REQUIRED_COLUMNS if getattr(item, name) is None]
    if missing:
        return f"missing required column(s): {', '.join(missing)}"
    if not (_is_aware(item.published_at) and _is_aware(item.crawled_at) and _is_aware(item.updated_at)):
        return "naive datetime: timestamps must carry a time zone"
    if _utc_year(item.published_at) < MIN_YEAR:
        return (
            f"published_at {item.published_at.isoformat()} is not a UTC instant from the year {MIN_YEAR} on"
        )
    if not (_fits_signed(item.version or 0, _INT32_BITS) and _fits_signed(item.char_count, _INT32_BITS)):
        return "version or char_count out of int32 range"
    if item.simhash is not None and not _fits_signed(item.simhash, _INT64_BITS):
        return "simhash out of signed int64 range"
    return None
