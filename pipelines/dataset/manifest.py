"""The run manifest ``_runs/<run_id>.json`` (SPEC.md section 2).

Written at start (``"status": "running"``), rewritten after every committed file and at the end (``"finished"``,
or ``"failed"`` when the output could not be written or the health check failed), each time atomically
(temporary name, then rename). Its ``files`` list is only extended after a part file is committed, so after a SIGKILL it lists committed files only;
the next run, holding the lock, marks it ``"interrupted"`` and adds any file committed just before the kill.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow.fs as pafs

from pipelines.dataset import layout, storage, warc

RUNS_DIR = "_runs"
STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"
RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_ID_RANDOM_BYTES = 3

# Spider attributes (the -a arguments) that change what a run writes.
SPIDER_ARGUMENTS = ("site", "editions", "channels", "full", "refresh_days", "since", "until")
# The articles spider keeps its validated arguments together on this attribute (crawler.spiders.articles).
SPIDER_OPTIONS_ATTRIBUTE = "options"

_STATUS_PREFIX = "downloader/response_status_count/"
_EXTRACTION_FAILED_PREFIX = "articles/failed/"
_EXCEPTION_PREFIX = "downloader/exception_type_count/"
_DROPPED_PREFIX = "articles/dropped/"
_COVERAGE_PREFIX = "coverage/"
# Requests that never reached extraction, by reason (HTTP status, timeout, too large...), from the spider.
_PAGES_FAILED_PREFIX = "pages/failed/"
_BYLINES_PREFIX = "bylines/"
_CROSSCHECK_PREFIX = "crosscheck/"
_CROSSCHECK_COUNTS = ("checked", "disagreed", "generic_failed")
_SKIPPED_PREFIX = "articles/skipped/"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique thanks to the random suffix: ``20261126T101500Z-3f9c2a``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime(RUN_ID_TIME_FORMAT)}-{secrets.token_hex(RUN_ID_RANDOM_BYTES)}"


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    """The health check's verdict on a run (``crawler.extensions.health.evaluate``), as the manifest keeps it."""

    ok: bool
    reasons: list[str] = field(default_factory=list)


def _by_suffix(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {k.removeprefix(prefix): int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}


def _crosscheck(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The cross-check's counts (crawler/middlewares/crosscheck.py) and its worst disagreements, URL and body F1."""
    counts = {key: int(stats.get(f"{_CROSSCHECK_PREFIX}{key}", 0)) for key in _CROSSCHECK_COUNTS}
    return {**counts, "worst": list(stats.get(f"{_CROSSCHECK_PREFIX}worst") or [])}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def spider_arguments(spider: object | None) -> dict[str, Any]:
    """The run-shaping arguments of ``spider``: from its parsed ``options`` when it has them, else its attributes."""
    found: dict[str, Any] = {}
    for source in (spider, getattr(spider, SPIDER_OPTIONS_ATTRIBUTE, None)):
        found.update(
            {name: _jsonable(getattr(source, name)) for name in SPIDER_ARGUMENTS if hasattr(source, name)}
        )
    return found


@dataclass(slots=True)
class RunManifest:
    run_id: str
    started_at: datetime
    settings: dict[str, Any]
    files: list[str] = field(default_factory=list)
    # The run's committed WARC capture files, as URIs (absolute paths or s3://...).
    warc_files: list[str] = field(default_factory=list)
    status: str = STATUS_RUNNING
    finished_at: datetime | None = None
    health: HealthVerdict | None = None

    def document(self, stats: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON document, with counters taken from the crawler's stats."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "settings": self.settings,
            "requests": int(stats.get("downloader/request_count", 0)),
            "responses_by_status": _by_suffix(stats, _STATUS_PREFIX),
            "download_errors_by_type": _by_suffix(stats, _EXCEPTION_PREFIX),
            "items_written": int(stats.get("parquet/rows_written", 0)),
            "items_dropped": _by_suffix(stats, _DROPPED_PREFIX),
            "extraction_failures": _by_suffix(stats, _EXTRACTION_FAILED_PREFIX),
            "pages_failed": _by_suffix(stats, _PAGES_FAILED_PREFIX),
            "articles_skipped": _by_suffix(stats, _SKIPPED_PREFIX),
            "coverage": _by_suffix(stats, _COVERAGE_PREFIX),
            "articles_fallback": int(stats.get("articles/fallback", 0)),
            "bylines": _by_suffix(stats, _BYLINES_PREFIX),
            "crosscheck": _crosscheck(stats),
            "files": list(self.files),
            "warc_files": list(self.warc_files),
            "health": asdict(self.health) if self.health else None,
        }

    def write(self, fs: pafs.FileSystem, root: str, stats: Mapping[str, Any]) -> str:
        """Atomically replace ``<root>/_runs/<run_id>.json``; returns its path."""
        path = f"{root}/{RUNS_DIR}/{self.run_id}.json"
        _write_document(fs, path, self.document(stats))
        return path


def read_manifest(fs: pafs.FileSystem, root: str, run_id: str) -> dict[str, Any] | None:
    """The manifest of ``run_id``, or None when it is missing or unreadable."""
    return _load(fs, f"{root}/{RUNS_DIR}/{run_id}.json")


def _load(fs: pafs.FileSystem, path: str) -> dict[str, Any] | None:
    try:
        with fs.open_input_stream(path) as stream:
            document = json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _write_document(fs: pafs.FileSystem, path: str, document: Mapping[str, Any]) -> None:
    payload = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    storage.write_bytes_atomically(fs, path, payload)


def reconcile_interrupted(fs: pafs.FileSystem, root: str) -> list[str]:
    """Mark manifests still ``running`` as ``interrupted`` and list every committed file of those runs.

    Only correct while holding the dataset lock: then no run is alive to own a ``running`` manifest. A kill
    between a file's commit and the manifest rewrite is the one case the manifest missed; the file name
    (``part-<run_id>-<n>.parquet``, ``capture-<run_id>-<n>.warc.gz`` under the run's ``WARC_URI``) says which
    run wrote it.
    """
    files = storage.list_files(fs, root)
    fixed = []
    for info in files:
        if not (info.path.startswith(f"{root}/{RUNS_DIR}/") and info.base_name.endswith(".json")):
            continue
        document = _load(fs, info.path)
        if document is None or document.get("status") != STATUS_RUNNING:
            continue
        run_id = str(document.get("run_id"))
        committed = {f.path.removeprefix(root + "/") for f in files if layout.written_by(f.base_name, run_id)}
        document["files"] = sorted(committed | set(document.get("files") or []))
        captures = (document.get("settings") or {}).get("WARC_URI")
        if captures:
            listed = set(document.get("warc_files") or [])
            document["warc_files"] = sorted(listed | set(warc.committed_files(str(captures), run_id)))
        document["status"] = STATUS_INTERRUPTED
        _write_document(fs, info.path, document)
        fixed.append(run_id)
    return fixed


def run_ids(fs: pafs.FileSystem, root: str) -> list[str]:
    """The dataset's run ids, oldest first (run ids sort by start time); hidden temporaries left out."""
    selector = pafs.FileSelector(f"{root}/{RUNS_DIR}", allow_not_found=True)
    return sorted(
        info.base_name.removesuffix(".json")
        for info in fs.get_file_info(selector)
        if info.base_name.endswith(".json") and not info.base_name.startswith(".")
    )


def last_run_status(fs: pafs.FileSystem, root: str, *, excluding: str | None = None) -> str | None:
    """Status of the newest run before this one; None on a new dataset."""
    for run_id in reversed(run_ids(fs, root)):
        if run_id != excluding:
            document = read_manifest(fs, root, run_id)
            return str(document.get("status")) if document else None
    return None


def previous_run_start(fs: pafs.FileSystem, root: str, excluding: str | None) -> datetime | None:
    """Start of the newest run that has ended (a running manifest is this run or a live worker of it)."""
    for run_id in reversed(run_ids(fs, root)):
        document = read_manifest(fs, root, run_id)
        if run_id == excluding or document is None or document.get("status") == STATUS_RUNNING:
            continue
        started = document.get("started_at")
        if isinstance(started, str):
            return datetime.fromisoformat(started).astimezone(UTC)
    return None
