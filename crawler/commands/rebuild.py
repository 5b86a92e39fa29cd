"""``scrapy rebuild``: re-extract every WARC capture under ``WARC_URI`` with today's parsers into a new dataset.

It reads the captures as the ``articles`` spider's import does (``-a warc=WARC_URI``), with the rules of a
crawl's pipelines: versions in capture order, duplicates dropped, near-duplicates flagged, manifests and the
health check; on every core (``WARC_PROCESSES``, :mod:`crawler.rebuild.engine`), outside Scrapy's engine. Not one
request goes to the site. ``--compare OLD`` reports the rows that changed, by field.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.middlewares.capture import URI_SETTING, capture_uri
from crawler.rebuild.command import START_ERRORS, spider_options
from crawler.rebuild.engine import HEALTH_FAILED_EXIT, RUN_FAILED_EXIT, EngineConfig, run_captures
from pipelines.dataset import rebuild, storage
from pipelines.dataset.warc import expand_paths

# What stops a rebuild at start, with one line on stderr and exit 1: the import's (a user's mistake, a dataset that
# cannot be written or read, captures that are not there), and a target that is not a rebuild's.
STOPPED_AT_START: tuple[type[Exception], ...] = (*START_ERRORS, rebuild.TargetNotEmptyError)


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
        assert self.settings is not None
        source = capture_uri(self.settings)
        if not source:
            raise UsageError(f"set the captures to rebuild from with -s {URI_SETTING}=PATH")
        try:
            expand_paths(source)
            options = spider_options({**opts.spargs, "warc": source})
            config = EngineConfig.from_settings(self.settings)
        except STOPPED_AT_START as error:
            self._fail(str(error))
            return
        fs, root = storage.resolve(config.parquet.uri)
        try:
            interrupted = bool(storage.list_files(fs, root))
            resume = rebuild.prepare_target(fs, root, source)
            if resume is not None:
                print(f"rebuild: {root} held an interrupted rebuild; resuming after {resume.after.file}")
            elif interrupted:
                print(f"rebuild: {root} held an interrupted rebuild; emptied, starting again")

            def checkpoint(point: rebuild.Resume, files: list[str]) -> None:
                rebuild.write_checkpoint(fs, root, source, point, files)

            outcome = run_captures(config, options, resume, checkpoint)
        except STOPPED_AT_START as error:
            self._fail(str(error))
            return
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: the engine stopped at a page and closed the run as interrupted.
            self._fail(f"interrupted; the same command resumes it ({root} is its target until it finishes)")
            return
        if not outcome.finished:
            self.exitcode = RUN_FAILED_EXIT
            return
        rebuild.write_marker(fs, root, source, rebuild.STATUS_FINISHED)
        if outcome.verdict is not None and not outcome.verdict.ok:
            self.exitcode = HEALTH_FAILED_EXIT
        if opts.compare:
            for line in rebuild.compare(opts.compare, config.parquet.uri).lines():
                print(line)

    def _fail(self, message: str) -> None:
        print(f"rebuild: {message}", file=sys.stderr)
        self.exitcode = RUN_FAILED_EXIT
