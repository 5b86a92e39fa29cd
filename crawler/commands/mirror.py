"""``scrapy mirror -o DIR``: the dataset as Markdown pages, one per article (publish/mirror.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.dataset_command import DatasetCommand
from pipelines.dataset.lock import DatasetLockedError
from pipelines.dataset.manifest import new_run_id
from publish.mirror import build_mirror


class Command(DatasetCommand):
    command = "mirror"
    output_metavar = "DIR"
    output_help = "folder of the mirror (created if missing)"

    def syntax(self) -> str:
        return "-o DIR [-s PARQUET_URI=...]"

    def short_desc(self) -> str:
        return "Write (or bring up to date) a Markdown page per article and day/edition index pages"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self.require_output(args, opts, "DIR")
        try:
            result = build_mirror(self.dataset_uri(), Path(opts.output), new_run_id())
        except (FileNotFoundError, DatasetLockedError) as exc:
            self.fail(exc)
            return
        for path in result.plain_bodies:
            print(f"mirror: {path}: body_html did not match body_text, body shown as plain paragraphs")
        print(f"mirror {opts.output}: {result.summary()}")
