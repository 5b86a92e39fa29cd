"""``scrapy compact``: merge each partition's part files into one, under the dataset lock (SPEC.md section 1)."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager

import pyarrow.fs as pafs
from scrapy.addons import AddonManager
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.extensions.run import lock_class
from pipelines.dataset import storage
from pipelines.dataset.compact import compact, recover_dataset
from pipelines.dataset.lock import DatasetLockedError
from pipelines.dataset.manifest import new_run_id
from pipelines.parquet import ParquetConfig

FAILED_EXIT = 1


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[-s PARQUET_URI=...]"

    def short_desc(self) -> str:
        return "Merge the part files of each dataset partition into one file"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy compact takes no arguments; set the dataset with -s PARQUET_URI=...")
        assert self.settings is not None
        config = ParquetConfig.from_settings(self.settings)
        fs, root = storage.resolve(config.uri)
        if fs.get_file_info(root).type != pafs.FileType.Directory:
            print(f"compact: no dataset at {root}", file=sys.stderr)
            self.exitcode = FAILED_EXIT
            return
        compact_id = new_run_id()
        try:
            with self._exclusive(fs, root, compact_id):
                for line in recover_dataset(fs, root):
                    print(f"recovery: {line}")
                results = compact(
                    fs, root, compact_id, compression=config.compression, row_group_size=config.row_group_size
                )
        except DatasetLockedError as exc:
            print(f"compact: {exc}", file=sys.stderr)
            self.exitcode = FAILED_EXIT
            return
        for result in results:
            print(f"{result.partition}: {result.inputs} files -> {result.output} ({result.rows} rows)")
        print(f"compacted {len(results)} partition(s) of {root}")

    def _exclusive(self, fs: pafs.FileSystem, root: str, compact_id: str) -> AbstractContextManager[object]:
        """The ``DATASET_LOCK_CLASS``'s: the local lock, or with the distributed add-on (which this command
        applies as a crawl does) the guarantee that no worker is running."""
        assert self.settings is not None
        AddonManager.load_pre_crawler_settings(self.settings)
        return lock_class(self.settings).for_maintenance(fs, root, compact_id, self.settings)
