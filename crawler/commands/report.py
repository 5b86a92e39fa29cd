"""``scrapy report -o report.html``: one self-contained HTML page about the archive (publish/report.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow.fs as pafs
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from pipelines.dataset import storage
from pipelines.parquet import ParquetConfig
from publish.report import build_report
from publish.source import NoDatasetError

FAILED_EXIT = 1


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "-o FILE.html [-s PARQUET_URI=...]"

    def short_desc(self) -> str:
        return "Write an HTML report of the archive: runs, articles per day, coverage, edits, removals, duplicates"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="the HTML file to write")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args or not opts.output:
            raise UsageError("usage: scrapy report -o report.html (the dataset is PARQUET_URI)")
        assert self.settings is not None
        uri = ParquetConfig.from_settings(self.settings).uri
        try:
            page = build_report(uri)
        except NoDatasetError as exc:
            print(f"report: {exc}", file=sys.stderr)
            self.exitcode = FAILED_EXIT
            return
        path = Path(opts.output).resolve()
        storage.write_bytes_atomically(pafs.LocalFileSystem(), str(path), page.encode("utf-8"))
        print(f"report: wrote {path} ({len(page) // 1024} KiB)")
