"""What the refresh schedule needs of the dataset: the latest version of every article still watched.

Read at start from the dataset itself (no side file): for articles published within the watch (``max_age``),
the latest version's URL, publication, capture time and HTTP validators. Files written before the validators
were stored (schema_version 1) read as nulls: those articles are fetched in full once, then conditionally.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from crawler.refresh import Known
from pipelines.dataset.archive import part_files

_UTC_MICROS = pa.timestamp("us", tz="UTC")
STATE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("url", pa.string()),
        pa.field("published_at", _UTC_MICROS),
        pa.field("crawled_at", _UTC_MICROS),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
    ]
)


_PARTITION_RE = re.compile(r"/(?:date=(\d{4}-\d{2}-\d{2})|month=(\d{4}-\d{2}))/")


def _partition_before(path: str, cutoff: datetime) -> bool:
    """A part file whose partition (the UTC date or month of published_at) ends before ``cutoff``: not read,
    so that a start-up reads the footers of a month of partitions, not of the whole archive."""
    match = _PARTITION_RE.search(path)
    if match is None:
        return False
    day, month = match.groups()
    if day is not None:
        end = date.fromisoformat(day) + timedelta(days=1)
    else:
        year, number = map(int, month.split("-"))
        end = date(year + number // 12, number % 12 + 1, 1)
    return datetime.combine(end, time(0), UTC) <= cutoff


def load_known(fs: pafs.FileSystem, root: str, now: datetime, max_age: timedelta) -> list[Known]:
    """The latest version of each article published after ``now - max_age``, as :class:`Known`."""
    cutoff = now - max_age
    files = [path for path in part_files(fs, root) if not _partition_before(path, cutoff)]
    if not files:
        return []
    dataset = pads.dataset(files, format="parquet", filesystem=fs, schema=STATE_SCHEMA)
    recent = pc.field("published_at") >= pa.scalar(cutoff, type=_UTC_MICROS)
    table = dataset.to_table(columns=STATE_SCHEMA.names, filter=recent)
    latest: dict[str, dict[str, object]] = {}
    for row in table.sort_by([("article_id", "ascending"), ("version", "ascending")]).to_pylist():
        latest[str(row["article_id"])] = row
    return [
        Known(
            article_id=str(row["article_id"]),
            url=str(row["url"]),
            published_at=row["published_at"],  # type: ignore[arg-type]
            changed_at=row["crawled_at"],  # type: ignore[arg-type]
            version=int(row["version"]),  # type: ignore[call-overload]
            etag=row["etag"],  # type: ignore[arg-type]
            last_modified=row["last_modified"],  # type: ignore[arg-type]
        )
        for row in latest.values()
    ]
