"""What the mirror and the report read: the articles dataset and its run manifests (removal records: the
dataset package's ``removals.read_events``)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from pipelines.dataset import storage
from pipelines.dataset.layout import part_files
from pipelines.dataset.manifest import RUNS_DIR
from pipelines.dataset.schema import ARTICLE_SCHEMA


class NoDatasetError(FileNotFoundError):
    """Nothing at the dataset URI."""


def open_root(uri: str) -> tuple[pafs.FileSystem, str]:
    fs, root = storage.resolve(uri)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        raise NoDatasetError(f"no dataset at {root}")
    return fs, root


def open_dataset(uri: str) -> pads.Dataset:
    """The committed part files, read in the current schema: files of an earlier schema version give nulls
    for the columns added since (as ``schema.conform`` does)."""
    fs, root = open_root(uri)
    return pads.dataset(part_files(fs, root), schema=ARTICLE_SCHEMA, format="parquet", filesystem=fs)


def read_manifests(fs: pafs.FileSystem, root: str) -> list[dict[str, Any]]:
    """Every readable run manifest, oldest run first (run ids sort by start time)."""
    selector = pafs.FileSelector(f"{root}/{RUNS_DIR}", allow_not_found=True)
    documents = []
    for info in sorted(fs.get_file_info(selector), key=lambda i: i.base_name):
        if info.base_name.startswith(".") or not info.base_name.endswith(".json"):
            continue
        try:
            with fs.open_input_stream(info.path) as stream:
                document = json.loads(stream.read().decode("utf-8"))
        except (OSError, ValueError):
            continue  # a manifest being replaced right now, or damaged: the report shows the others
        if isinstance(document, dict):
            documents.append(document)
    return documents
