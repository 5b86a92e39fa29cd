"""What the commands that read an existing dataset and crawl nothing share (``scrapy mirror``, ``scrapy report``):
the dataset at ``PARQUET_URI``, an ``-o`` output that is required, a failure as one line on stderr and exit 1.
Not in ``crawler/commands/``: Scrapy makes a command of every ScrapyCommand subclass defined there."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from pipelines.parquet import ParquetConfig

FAILED_EXIT = 1


class DatasetCommand(ScrapyCommand):
    """Base of a command over the dataset; subclasses set ``command`` (its name) and ``output_help``."""

    requires_project = True
    requires_crawler_process = False
    command = ""
    output_metavar = "PATH"
    output_help = ""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar=self.output_metavar, help=self.output_help)

    def require_output(self, args: list[str], opts: argparse.Namespace, example: str) -> None:
        """UsageError unless the command got ``-o`` and no positional argument."""
        if args or not opts.output:
            raise UsageError(f"usage: scrapy {self.command} -o {example} (the dataset is PARQUET_URI)")

    def dataset_uri(self) -> str:
        assert self.settings is not None
        return ParquetConfig.from_settings(self.settings).uri

    def fail(self, message: object) -> None:
        print(f"{self.command}: {message}", file=sys.stderr)
        self.exitcode = FAILED_EXIT
