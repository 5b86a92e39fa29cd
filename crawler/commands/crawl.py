"""``scrapy crawl`` whose exit status also reflects the run's health check (SPEC.md sections 1 and 4).

Cron only sees the exit status: bootstrap failures (bad configuration, unwritable output, a held lock) already
exit 1 in Scrapy's own command; this one adds a failed health check, as recorded by the exporter in the stats.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawler import stats as keys

HEALTH_FAILED_EXIT = 3
RUN_FAILED_EXIT = 1
# Finish reasons of a run that did what it was asked: a normal end, or a limit the user set (CLOSESPIDER_*).
SUCCESS_REASONS = ("finished", "closespider_")


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("scrapy crawl takes exactly one spider name")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        stats = crawler.stats
        finish_reason = str(stats.get_value("finish_reason", "")) if stats is not None else ""
        if self.crawler_process.bootstrap_failed or not finish_reason.startswith(SUCCESS_REASONS):
            self.exitcode = RUN_FAILED_EXIT
        elif stats is not None and stats.get_value(keys.HEALTH_OK) == 0:
            self.exitcode = HEALTH_FAILED_EXIT
