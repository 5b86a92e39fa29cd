"""The run manifest ``_runs/<run_id>.json``: content, and consistency with the committed files after a SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

from scrapy.statscollectors import StatsCollector

from crawler.spiders.options import CrawlOptions
from pipelines.dataset.manifest import read_manifest
from pipelines.parquet import ParquetPipeline
from tests.processes import python_child
from tests.test_parquet import close_run, make_item, make_pipeline

# Writes 5 items with a flush every 2 rows (2 committed files, 1 row buffered), then waits to be killed.
KILLED_RUN_SCRIPT = """
import sys
from pathlib import Path
from tests.test_parquet import make_item, make_pipeline
pipeline = make_pipeline(Path(sys.argv[1]), PARQUET_FLUSH_ROWS=2)
pipeline.open_spider()
for number in range(5):
    pipeline.process_item(make_item(number))
print(pipeline.run.run_id, flush=True)
sys.stdin.read()
"""


def manifest_of(pipeline: ParquetPipeline) -> dict[str, Any]:
    document = read_manifest(pipeline.run.fs, pipeline.run.root, pipeline.run.run_id)
    assert document is not None
    return document


def stats(pipeline: ParquetPipeline) -> StatsCollector:
    assert pipeline.crawler.stats is not None
    return pipeline.crawler.stats


def committed_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))


def run_killed_after_two_flushes(root: Path) -> str:
    with python_child(KILLED_RUN_SCRIPT, str(root)) as (process, run_id):
        os.kill(process.pid, signal.SIGKILL)
    assert run_id, "the writer died before writing"
    return run_id


def test_settings_come_from_the_articles_spider_options(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    spider = pipeline.crawler.spider
    spider.options = CrawlOptions.parse(editions="gb,b5", since="2024-01-01", refresh_days="3")  # type: ignore[union-attr]
    pipeline.open_spider()
    close_run(pipeline)
    settings = manifest_of(pipeline)["settings"]
    assert settings["site"] == "https://www.epochtimes.com"
    assert settings["editions"] == ["gb", "b5"]
    assert (settings["since"], settings["until"]) == ("2024-01-01", None)
    assert (settings["full"], settings["refresh_days"]) == (False, 3)


def test_running_manifest_at_open_names_the_settings_that_matter(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, PARQUET_PARTITION="month")
    spider = pipeline.crawler.spider
    spider.site, spider.editions, spider.full = "http://127.0.0.1:8000", "gb,b5", "1"  # type: ignore[union-attr]
    pipeline.open_spider()
    document = manifest_of(pipeline)
    close_run(pipeline)
    assert document["status"] == "running"
    assert document["run_id"] == pipeline.run.run_id
    assert document["files"] == []
    assert document["finished_at"] is None
    settings = document["settings"]
    assert settings["PARQUET_URI"] == str(tmp_path)
    assert settings["PARQUET_PARTITION"] == "month"
    assert (settings["site"], settings["editions"], settings["full"]) == (
        "http://127.0.0.1:8000",
        "gb,b5",
        "1",
    )


def test_finished_manifest_summarises_the_run(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.open_spider()
    counters = {
        "downloader/request_count": 12,
        "downloader/response_status_count/200": 10,
        "downloader/response_status_count/404": 2,
        "articles/dropped/duplicate": 3,
        "articles/failed": 1,
        "articles/failed/not_article": 1,
        "articles/pages": 10,
        "articles/extracted": 9,
        "pages/failed/http_503": 2,
        "articles/skipped/known": 7,
    }
    for key, value in counters.items():
        stats(pipeline).set_value(key, value)
    for number in range(3):
        pipeline.process_item(make_item(number))
    close_run(pipeline)
    document = manifest_of(pipeline)
    assert document["status"] == "failed"  # its health check failed (below)
    assert document["finished_at"] >= document["started_at"]
    assert document["requests"] == 12
    assert document["responses_by_status"] == {"200": 10, "404": 2}
    assert document["items_written"] == 3
    assert document["items_dropped"] == {"duplicate": 3}
    assert document["extraction_failures"] == {"not_article": 1}
    assert document["pages_failed"] == {"http_503": 2}
    assert document["articles_skipped"] == {"known": 7}
    assert document["coverage"]["title"] == 3
    assert document["coverage"]["authors"] == 1  # only item 1 has an author
    assert document["files"] == committed_files(tmp_path)
    # 1 failure in 10 pages is above the default 5 %.
    assert document["health"]["ok"] is False
    assert "1 of 10" in document["health"]["reasons"][0]


def test_manifest_lists_each_file_once_committed(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, PARQUET_FLUSH_ROWS=1)
    pipeline.open_spider()
    pipeline.process_item(make_item(1))
    pipeline.process_item(make_item(2))
    document = manifest_of(pipeline)
    close_run(pipeline)
    assert document["status"] == "running"
    assert len(document["files"]) == 2
    assert document["files"] == committed_files(tmp_path)


def test_after_sigkill_the_manifest_lists_exactly_the_committed_files(tmp_path: Path) -> None:
    run_id = run_killed_after_two_flushes(tmp_path)
    files = committed_files(tmp_path)
    assert len(files) == 2  # the buffered fifth row is lost, nothing else
    assert not list(tmp_path.rglob(".*"))
    pipeline = make_pipeline(tmp_path)
    killed = read_manifest(pipeline.run.fs, pipeline.run.root, run_id)
    assert killed is not None
    assert killed["status"] == "running"
    assert killed["files"] == files
    pipeline.open_spider()  # the lock of the killed run is free; recovery marks its manifest
    close_run(pipeline)
    recovered = read_manifest(pipeline.run.fs, pipeline.run.root, run_id)
    assert recovered is not None
    assert recovered["status"] == "interrupted"
    assert recovered["files"] == files


def test_recovery_adds_a_file_committed_just_before_the_kill(tmp_path: Path) -> None:
    run_id = run_killed_after_two_flushes(tmp_path)
    first = tmp_path / committed_files(tmp_path)[0]
    # The file a kill between the commit rename and the manifest rewrite leaves unlisted.
    unlisted = first.with_name(f"part-{run_id}-99.parquet")
    shutil.copy(first, unlisted)
    pipeline = make_pipeline(tmp_path)
    pipeline.open_spider()
    close_run(pipeline)
    recovered = read_manifest(pipeline.run.fs, pipeline.run.root, run_id)
    assert recovered is not None
    assert unlisted.relative_to(tmp_path).as_posix() in recovered["files"]
    assert len(recovered["files"]) == 3
