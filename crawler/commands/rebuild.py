"""``scrapy rebuild``: re-extract every WARC capture under ``WARC_URI`` with today's parsers into a new dataset.

It is the ``articles`` spider reading the captures instead of the site (``-a warc=WARC_URI``), with the
pipelines of a crawl: versions in capture order, duplicates dropped, near-duplicates flagged, manifests and the
health check. Not one request goes to the site. ``--compare OLD`` reports the rows that changed, by field.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.commands.crawl import HEALTH_FAILED_EXIT, RUN_FAILED_EXIT, SUCCESS_REASONS
from crawler.middlewares.capture import URI_SETTING, capture_uri
from pipelines.dataset import rebuild, storage
from pipelines.dataset.warc import expand_paths
from pipelines.parquet import ParquetConfig

SPIDER = "articles"


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "-s WARC_URI=CAPTURES -s PARQUET_URI=NEW [--compare OLD] [-a site=...]"

    def short_desc(self) -> str:
        return "Re-extract every WARC capture into a new dataset, with today's parsers"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--compare", metavar="OLD", help="report the rows that changed against OLD")
        parser.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE", help="spider argument"
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        try:
            opts.spargs = dict(arg.split("=", 1) for arg in opts.spargs)
        except ValueError:
            raise UsageError("spider arguments are NAME=VALUE", print_help=False) from None

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy rebuild takes no positional arguments")
        assert self.settings is not None and self.crawler_process is not None
        source = capture_uri(self.settings)
        if not source:
            raise UsageError(f"set the captures to rebuild from with -s {URI_SETTING}=PATH")
        try:
            expand_paths(source)
        except FileNotFoundError as error:
            self._fail(str(error))
            return
        fs, root = storage.resolve(ParquetConfig.from_settings(self.settings).uri)
        interrupted = bool(storage.list_files(fs, root))
        try:
            resume = rebuild.prepare_target(fs, root, source)
        except rebuild.TargetNotEmptyError as error:
            self._fail(str(error))
            return
        if resume is None and interrupted:
            print(f"rebuild: {root} held an interrupted rebuild; emptied, starting again")
        # The captures are read, not written again.
        self.settings.set(URI_SETTING, "", priority="cmdline")
        crawler = self.crawler_process.create_crawler(SPIDER)
        self.crawler_process.crawl(crawler, **{**opts.spargs, "warc": source})
        self.crawler_process.start()
        finish_reason = str(crawler.stats.get_value("finish_reason", "")) if crawler.stats else ""
        if self.crawler_process.bootstrap_failed or not finish_reason.startswith(SUCCESS_REASONS):
            self.exitcode = RUN_FAILED_EXIT
            return
        rebuild.write_marker(fs, root, source, rebuild.STATUS_FINISHED)
        if crawler.stats is not None and crawler.stats.get_value("health/ok") == 0:
            self.exitcode = HEALTH_FAILED_EXIT
        if opts.compare:
            for line in rebuild.compare(opts.compare, ParquetConfig.from_settings(self.settings).uri).lines():
                print(line)

    def _fail(self, message: str) -> None:
        print(f"rebuild: {message}", file=sys.stderr)
        self.exitcode = RUN_FAILED_EXIT
