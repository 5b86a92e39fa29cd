"""Where the dataset lives: a local folder or an S3-compatible bucket, behind pyarrow's filesystem layer."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path of a dataset URI (``output/articles``, ``/abs/path``, ``s3://bucket/prefix``)."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).resolve())
    fs, root = pafs.FileSystem.from_uri(uri)
    return fs, root.rstrip("/")
