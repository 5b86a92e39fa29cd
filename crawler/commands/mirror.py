"""``scrapy mirror -o DIR``: the dataset as Markdown pages, one per article (publish/mirror.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from pipelines.dataset.lock import DatasetLockedError
from pipelines.dataset.manifest import new_run_id
from pipelines.parquet import ParquetConfig
from publish.mirror import build_mirror

FAILED_EXIT = 1


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "-o DIR [-s PARQUET_URI=...]"

    def short_desc(self) -> str:
        return "Write (or bring up to date) a Markdown page per article and day/edition index pages"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="DIR", help="folder of the mirror (created if missing)")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args or not opts.output:
            raise UsageError("usage: scrapy mirror -o DIR (the dataset is PARQUET_URI)")
        assert self.settings is not None
        uri = ParquetConfig.from_settings(self.settings).uri
        try:
            result = build_mirror(uri, Path(opts.output), new_run_id())
        except (FileNotFoundError, DatasetLockedError) as exc:
            print(f"mirror: {exc}", file=sys.stderr)
            self.exitcode = FAILED_EXIT
            return
        for path in result.plain_bodies:
            print(f"mirror: {path}: body_html did not match body_text, body shown as plain paragraphs")
        print(f"mirror {opts.output}: {result.summary()}")
