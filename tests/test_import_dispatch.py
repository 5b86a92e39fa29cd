"""Which ``scrapy crawl`` runs in the capture engine (on every core) rather than Scrapy's: an import of the
``articles`` spider whose whole work the engine does (no feed export, only the project's item pipelines, the local
dataset lock)."""

from __future__ import annotations

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.commands.crawl import runs_in_capture_engine

IMPORT = {"warc": "/data/captures/"}


def project(**overrides: object) -> Settings:
    settings = get_project_settings()
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def test_an_import_with_the_projects_pipelines_runs_in_the_capture_engine() -> None:
    assert runs_in_capture_engine("articles", IMPORT, project())


def test_a_crawl_or_another_spider_stays_in_scrapys_engine() -> None:
    assert not runs_in_capture_engine("articles", {}, project())
    assert not runs_in_capture_engine("articles", {"warc": " "}, project())
    assert not runs_in_capture_engine("other", IMPORT, project())


def test_a_feed_export_or_a_users_own_pipeline_keeps_an_import_in_scrapys_engine() -> None:
    assert not runs_in_capture_engine(
        "articles", IMPORT, project(FEEDS={"items.jsonl": {"format": "jsonlines"}})
    )
    own = {"myproject.pipelines.ToKafka": 400}
    assert not runs_in_capture_engine("articles", IMPORT, project(ITEM_PIPELINES=own))
    dropped = {"pipelines.dedupe.DedupePipeline": None}
    assert not runs_in_capture_engine("articles", IMPORT, project(ITEM_PIPELINES=dropped))


def test_the_distributed_mode_or_another_lock_keeps_an_import_in_scrapys_engine() -> None:
    """Distributed workers claim versions in Redis: an import beside them must too, which only Scrapy's engine
    (the add-on's components) does."""
    assert not runs_in_capture_engine("articles", IMPORT, project(REDIS_URL="redis://127.0.0.1:6379/0"))
    lock = "crawler.distributed.coordination.RedisWriterLock"
    assert not runs_in_capture_engine("articles", IMPORT, project(DATASET_LOCK_CLASS=lock))
