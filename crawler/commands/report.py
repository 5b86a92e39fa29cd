"""``scrapy report -o report.html``: one self-contained HTML page about the archive (publish/report.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.fs as pafs

from crawler.dataset_command import DatasetCommand
from pipelines.dataset import storage
from publish.report import build_report
from publish.source import NoDatasetError


class Command(DatasetCommand):
    command = "report"
    output_metavar = "FILE"
    output_help = "the HTML file to write"

    def syntax(self) -> str:
        return "-o FILE.html [-s PARQUET_URI=...]"

    def short_desc(self) -> str:
        return "Write an HTML report of the archive: runs, articles per day, coverage, edits, removals, duplicates"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self.require_output(args, opts, "report.html")
        try:
            page = build_report(self.dataset_uri())
        except NoDatasetError as exc:
            self.fail(exc)
            return
        path = Path(opts.output).resolve()
        storage.write_bytes_atomically(pafs.LocalFileSystem(), str(path), page.encode("utf-8"))
        print(f"report: wrote {path} ({len(page) // 1024} KiB)")
