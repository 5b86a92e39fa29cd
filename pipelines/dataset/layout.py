"""The dataset's layout, written once: partitions, part-file names, and which files are article data.

``<root>/<partition>/part-<writer>-<n>.parquet``, where the partition is ``date=YYYY-MM-DD`` or ``month=YYYY-MM``
of the UTC publication instant and the writer a run id (or ``compact-<id>``, ``backfill-<id>-…``). A name
starting with ``.`` is work in progress (hidden temporaries), with ``_`` the dataset's own records (``_runs``,
``_removals``, ``_lock``, journals): neither is article data, at any depth.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

import pyarrow.fs as pafs

from pipelines.dataset import storage

PARTITION_FORMATS = {"date": "%Y-%m-%d", "month": "%Y-%m"}
PART_PREFIX = "part-"
# Days whose partition name is kept: thirty years of them.
PARTITION_CACHE_DAYS = 1 << 14
# Names that are never article data: hidden work in progress, the dataset's own records.
NOT_DATA_PREFIXES = (storage.TEMPORARY_PREFIX, "_")


def partition_dir(kind: str, published_at: datetime) -> str:
    """``date=YYYY-MM-DD`` or ``month=YYYY-MM`` of the UTC instant: built from digits only, never from page text."""
    return _partition_of_day(kind, published_at.astimezone(UTC).date())


# Formatted once per day: strftime took most of the time of a row's buffering, and rows share few days.
@functools.lru_cache(maxsize=PARTITION_CACHE_DAYS)
def _partition_of_day(kind: str, day: date) -> str:
    return f"{kind}={day.strftime(PARTITION_FORMATS[kind])}"


def part_name(writer: str, n: int | str) -> str:
    """``part-<writer>-<n>.parquet``."""
    return f"{PART_PREFIX}{writer}-{n}{storage.DATA_SUFFIX}"


def part_path(root: str, partition: str, writer: str, n: int | str) -> str:
    return f"{root}/{partition}/{part_name(writer, n)}"


def is_data(relative_path: str) -> bool:
    """A committed part file: ``part-*.parquet``, no hidden or private name anywhere in its path."""
    parts = relative_path.split("/")
    name = parts[-1]
    return (
        name.startswith(PART_PREFIX)
        and name.endswith(storage.DATA_SUFFIX)
        and not any(part.startswith(NOT_DATA_PREFIXES) for part in parts)
    )


def written_by(name: str, writer: str) -> bool:
    """Whether the part file ``name`` was written by ``writer`` (a run id): ``part-<writer>-<n>.parquet``."""
    return name.startswith(f"{PART_PREFIX}{writer}-") and name.endswith(storage.DATA_SUFFIX)


def part_files(fs: pafs.FileSystem, root: str) -> list[str]:
    """Every committed part file under ``root``, sorted (none when there is no dataset)."""
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    prefix = root.rstrip("/") + "/"
    return sorted(
        info.path
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File and is_data(info.path.removeprefix(prefix))
    )


def run_part_files(fs: pafs.FileSystem, root: str, run_id: str) -> list[str]:
    """The committed part files run ``run_id`` wrote."""
    return [path for path in part_files(fs, root) if written_by(path.rsplit("/", 1)[-1], run_id)]
