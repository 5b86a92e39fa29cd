"""Where the dataset lives: a local folder or an S3-compatible bucket, behind pyarrow's filesystem layer."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.dataset.schema import dictionary_paths, statistics_paths

logger = logging.getLogger(__name__)


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path of a dataset URI (``output/articles``, ``/abs/path``, ``s3://bucket/prefix``)."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).resolve())
    fs, root = pafs.FileSystem.from_uri(uri)
    return fs, root.rstrip("/")


# Work in progress is hidden from readers twice over: a leading "." (pyarrow.dataset skips it) and a suffix
# that is not ".parquet" (DuckDB's and polars' globs read hidden files too).
TEMPORARY_PREFIX = "."
TEMPORARY_SUFFIX = ".tmp"
DATA_SUFFIX = ".parquet"


class OutputNotWritableError(RuntimeError):
    """The dataset root cannot be created or written."""


def temporary_name(final_name: str) -> str:
    return f"{TEMPORARY_PREFIX}{final_name}{TEMPORARY_SUFFIX}"


def is_temporary(name: str) -> bool:
    return name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)


def ensure_writable(fs: pafs.FileSystem, root: str, probe_name: str) -> None:
    """Create ``root`` and prove it writable by writing and deleting a probe, or raise OutputNotWritableError."""
    probe = f"{root}/{temporary_name(probe_name)}"
    try:
        fs.create_dir(root, recursive=True)
        with fs.open_output_stream(probe) as out:
            out.write(b"probe")
        # The lock holder's start-up sweep may have removed it already: the write is what was proven.
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(probe)
    except (OSError, pa.ArrowException) as exc:
        raise OutputNotWritableError(f"output {root} is not writable: {exc}") from exc


def _row_groups(tables: Iterable[pa.Table], row_group_size: int) -> Iterator[pa.Table]:
    """The rows of ``tables`` regrouped so that small inputs still make row groups of ``row_group_size``."""
    pending: list[pa.Table] = []
    pending_rows = 0
    for table in tables:
        pending.append(table)
        pending_rows += table.num_rows
        if pending_rows >= row_group_size:
            yield pa.concat_tables(pending)
            pending, pending_rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def write_temporary(
    fs: pafs.FileSystem,
    path: str,
    tables: Iterable[pa.Table],
    schema: pa.Schema,
    *,
    compression: str,
    row_group_size: int,
) -> str:
    """Write ``tables`` as one file under a hidden name next to ``path``; returns that name. No file on failure.

    Tables are consumed one by one, so memory holds about one row group, not the whole file.
    """
    directory, name = path.rsplit("/", 1)
    temporary = f"{directory}/{temporary_name(name)}"
    fs.create_dir(directory, recursive=True)
    try:
        with (
            fs.open_output_stream(temporary) as out,
            pq.ParquetWriter(
                out,
                schema,
                compression=compression,
                use_dictionary=dictionary_paths(schema),
                write_statistics=statistics_paths(schema),
            ) as writer,
        ):
            for group in _row_groups(tables, row_group_size):
                writer.write_table(group, row_group_size=row_group_size)
    except BaseException:
        _delete_quietly(fs, temporary)
        raise
    return temporary


def write_table_atomically(
    fs: pafs.FileSystem, path: str, table: pa.Table, *, compression: str, row_group_size: int
) -> None:
    """Write ``table`` hidden, then rename it to ``path``: a reader sees the complete file or nothing."""
    temporary = write_temporary(
        fs, path, [table], table.schema, compression=compression, row_group_size=row_group_size
    )
    try:
        fs.move(temporary, path)
    except BaseException:
        _delete_quietly(fs, temporary)
        raise


def write_bytes_atomically(fs: pafs.FileSystem, path: str, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` through a hidden temporary file: readers see the old or the new content."""
    directory, name = path.rsplit("/", 1)
    temporary = f"{directory}/{temporary_name(name)}"
    fs.create_dir(directory, recursive=True)
    try:
        with fs.open_output_stream(temporary) as out:
            out.write(payload)
        fs.move(temporary, path)
    except (OSError, pa.ArrowException):
        # A full disk fails the write (or the close); the old content stays and no half file is left.
        _delete_quietly(fs, temporary)
        raise


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    # Nothing was created, or the disk is gone: the next run's start-up sweep removes what is left.
    with contextlib.suppress(OSError, pa.ArrowException):
        fs.delete_file(path)


def list_files(fs: pafs.FileSystem, root: str) -> list[pafs.FileInfo]:
    """Every regular file under ``root``, in path order."""
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path)


def remove_temporaries(fs: pafs.FileSystem, root: str) -> list[str]:
    """Delete the temporary files a killed writer left under ``root``, and on S3 abort its incomplete uploads;
    only safe while holding the lock as the only writer (then no upload under ``root`` is live)."""
    removed = []
    for info in list_files(fs, root):
        if is_temporary(info.base_name):
            # A starting run's write probe comes and goes before it takes the lock: gone already is fine.
            with contextlib.suppress(FileNotFoundError):
                fs.delete_file(info.path)
                removed.append(info.path)
    try:
        return removed + sweep_killed_uploads(fs, root, grace=timedelta(0))
    except OSError as error:
        # Invisible and harmless to readers: a missing permission must not stop the run.
        logger.warning("Cannot abort the incomplete uploads under %s: %s", root, error)
        return removed


# An upload younger than this may be a live writer's (another worker's, on shared storage): never swept.
DEFAULT_SWEEP_GRACE = timedelta(hours=24)


def sweep_killed_uploads(
    fs: pafs.FileSystem, root: str, *, grace: timedelta, spare: str | None = None, now: datetime | None = None
) -> list[str]:
    """On S3, what killed writers left under ``root``: hidden temporary objects (an upload completed but never
    copied to its name) and incomplete multipart uploads of hidden keys (an upload cut short: invisible to a
    listing, but stored and billed). Only those older than ``grace`` and whose name does not hold ``spare``
    (the current run's id) are deleted or aborted; returns one line per leftover. Nothing on other filesystems.
    Run it under the lock."""
    if not isinstance(fs, pafs.S3FileSystem):
        return []
    cutoff = (now or datetime.now(UTC)) - grace

    def stale(name: str, moment: datetime | None) -> bool:
        spared = spare is not None and spare in name
        named = _named_moment(name)
        # The later of the server's time and the run start in the name: a server whose clock is off (moto dates
        # every multipart upload 2010) must not make a live worker's upload look abandoned.
        if named is not None and moment is not None:
            moment = max(moment, named)
        return is_temporary(name) and not spared and moment is not None and moment < cutoff

    removed = []
    for info in list_files(fs, root):
        if stale(info.base_name, info.mtime):
            with contextlib.suppress(FileNotFoundError):
                fs.delete_file(info.path)
                removed.append(f"s3://{info.path}")
    bucket, _, prefix = root.partition("/")
    import botocore.exceptions  # noqa: PLC0415 - with boto3, below

    client = _s3_client(fs)
    try:
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                key = str(upload["Key"])
                if stale(key.rsplit("/", 1)[-1], upload.get("Initiated")):
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                    removed.append(f"s3://{bucket}/{key} (incomplete upload {upload['UploadId']})")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise OSError(f"cannot sweep the incomplete uploads under s3://{root}: {error}") from error
    return removed


# Run ids start with the run's start (20261202T093029Z-07045f), and so do the names of the files a run writes.
_RUN_START_RE = re.compile(r"(\d{8}T\d{6}Z)")


def _named_moment(name: str) -> datetime | None:
    match = _RUN_START_RE.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _s3_client(fs: pafs.S3FileSystem) -> Any:
    """A client of the same S3 service: region from the filesystem, endpoint and credentials from the standard
    AWS environment and files, as pyarrow takes them."""
    import boto3  # noqa: PLC0415 - about 0.3 s to import: only runs on S3 pay it

    return boto3.client("s3", region_name=fs.region or None)
