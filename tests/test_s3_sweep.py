"""What killed uploads leave on S3 (a moto server): an incomplete multipart upload of a hidden key (a writer
killed mid-upload, made here by SIGKILLing a real one) and a hidden object (killed before its copy to the final
name). A run's start sweeps them: only those older than the grace period and not the current run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.fs as pafs
import pytest

from pipelines.dataset import compact, storage
from tests.crawling import crawl
from tests.replica.testing import serve_replica
from tests.services import S3Server, redis_server, s3_server

KILLED = ".capture-20260101T000000Z-dead01-1.warc.gz.tmp"
UNCOPIED = ".capture-20260101T000000Z-dead01-2.warc.gz.tmp"
CURRENT_RUN = "20261202T080000Z-live01"
MOTO_INITIATED = datetime(2010, 11, 10, 20, 48, 33, tzinfo=UTC)
# Twice pyarrow's smallest multipart part: the killed writer has sent a part, not only opened the upload.
UPLOADED_BYTES = 11 << 20
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import pyarrow.fs as pafs
    fs, path = pafs.FileSystem.from_uri(sys.argv[1])
    stream = fs.open_output_stream(path)
    stream.write(os.urandom(int(sys.argv[2])))
    stream.flush()
    print("written", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3.new_bucket()


def incomplete_uploads(bucket: str) -> list[str]:
    listed: dict[str, Any] = boto3.client("s3").list_multipart_uploads(Bucket=bucket)
    return sorted(str(u["Key"]) for u in listed.get("Uploads", []))


def kill_mid_upload(uri: str) -> None:
    """A real writer, SIGKILLed once it has sent part of its upload."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, uri, str(UPLOADED_BYTES)],
        stdout=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert writer.stdout is not None
    with writer.stdout:
        try:
            assert writer.stdout.readline() == b"written\n"
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()


def leave_killed_writers(bucket: str, folder: str) -> None:
    """An upload killed mid-way and a hidden object never copied to its name, under ``bucket/folder``."""
    kill_mid_upload(f"s3://{bucket}/{folder}/{KILLED}")
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/{folder}")
    with fs.open_output_stream(f"{root}/{UNCOPIED}") as out:
        out.write(b"a complete capture file that was never copied")
    assert incomplete_uploads(bucket) == [f"{folder}/{KILLED}"]
    assert [i.base_name for i in fs.get_file_info(pafs.FileSelector(root))] == [UNCOPIED]


def test_the_sweep_removes_what_killed_writers_left_older_than_the_grace_and_spares_the_current_run(
    bucket: str,
) -> None:
    leave_killed_writers(bucket, "warc")
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/warc")
    # The current run's own upload, in progress.
    live = fs.open_output_stream(f"{root}/.capture-{CURRENT_RUN}-1.warc.gz.tmp")
    live.write(b"in progress")
    time.sleep(1.1)  # S3 times are whole seconds: the leftovers are now older than a zero grace
    # Within the grace period nothing is touched. (moto dates every multipart upload MOTO_INITIATED, so the
    # clock is set half an hour after it; the hidden object, made now, is younger still.)
    young = storage.sweep_killed_uploads(
        fs, root, grace=timedelta(hours=1), spare=CURRENT_RUN, now=MOTO_INITIATED + timedelta(minutes=30)
    )
    assert young == []
    assert len(incomplete_uploads(bucket)) == 2
    removed = storage.sweep_killed_uploads(fs, root, grace=timedelta(0), spare=CURRENT_RUN)
    assert len(removed) == 2
    assert any(UNCOPIED in line for line in removed)
    assert any(KILLED in line and "incomplete upload" in line for line in removed)
    assert incomplete_uploads(bucket) == [f"warc/.capture-{CURRENT_RUN}-1.warc.gz.tmp"]
    assert fs.get_file_info(pafs.FileSelector(root)) == []
    live.close()  # the spared upload completes
    assert fs.get_file_info(f"{root}/.capture-{CURRENT_RUN}-1.warc.gz.tmp").size == len(b"in progress")
    assert storage.sweep_killed_uploads(pafs.LocalFileSystem(), "/tmp", grace=timedelta(0)) == []


def test_another_live_workers_upload_is_spared_whatever_the_servers_clock_says(bucket: str) -> None:
    """moto dates every multipart upload 2010: the run start in the name keeps a live worker's upload young."""
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/warc")
    other_run = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-other1"
    live = fs.open_output_stream(f"{root}/.capture-{other_run}-1.warc.gz.tmp")
    live.write(os.urandom(UPLOADED_BYTES))  # sends a part: the upload is listed as incomplete
    live.flush()
    assert incomplete_uploads(bucket) == [f"warc/.capture-{other_run}-1.warc.gz.tmp"]
    assert storage.sweep_killed_uploads(fs, root, grace=timedelta(hours=1), spare=CURRENT_RUN) == []
    live.close()
    assert fs.get_file_info(f"{root}/.capture-{other_run}-1.warc.gz.tmp").size == UPLOADED_BYTES


def test_the_dataset_recovery_aborts_a_killed_part_upload(bucket: str) -> None:
    """The dataset's start-up recovery runs as the only writer: every hidden upload is a dead one."""
    kill_mid_upload(f"s3://{bucket}/articles/date=2024-03-01/.part-20260101T000000Z-dead01-1.parquet.tmp")
    time.sleep(1.1)
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/articles")
    done = compact.recover_dataset(fs, root)
    assert len(done) == 1 and "incomplete upload" in done[0], done
    assert incomplete_uploads(bucket) == []


@pytest.mark.slow
def test_a_crawl_capturing_to_s3_sweeps_at_its_start_and_counts_it(bucket: str, tmp_path: Path) -> None:
    leave_killed_writers(bucket, "warc")
    time.sleep(1.1)
    with serve_replica(articles=12) as site:
        settings = {"WARC_URI": f"s3://{bucket}/warc", "WARC_SWEEP_GRACE_SECONDS": "0"}
        result = crawl(site, tmp_path / "articles", settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["warc/leftovers_removed"] == 2
    assert result.log.count("left by a capture that was killed") == 2
    assert incomplete_uploads(bucket) == []
    fs, root = pafs.FileSystem.from_uri(f"s3://{bucket}/warc")
    names = [i.base_name for i in fs.get_file_info(pafs.FileSelector(root))]
    run_id = result.stats["run/id"]
    assert names and all(n.startswith(f"capture-{run_id}-") for n in names), names


@pytest.mark.slow
def test_a_crawl_into_s3_aborts_a_killed_part_upload_at_its_start_and_counts_it(
    bucket: str, tmp_path: Path
) -> None:
    kill_mid_upload(f"s3://{bucket}/articles/date=2024-03-01/.part-20260101T000000Z-dead01-1.parquet.tmp")
    time.sleep(1.1)
    # Writers of S3 share Redis's lock, not a file's: the run is a (one-worker) distributed crawl.
    with serve_replica(articles=12) as site, redis_server() as redis_url:
        settings = {
            "PARQUET_URI": f"s3://{bucket}/articles",
            "WARC_URI": "",
            "REDIS_URL": redis_url,
            "MAX_IDLE_TIME_BEFORE_CLOSE": "2",
        }
        result = crawl(site, None, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["parquet/recovery_actions"] == 1
    assert result.log.count("Recovery: removed") == 1
    assert incomplete_uploads(bucket) == []


def test_a_bad_grace_setting_is_refused_naming_it(tmp_path: Path) -> None:
    result = crawl("http://127.0.0.1:9", tmp_path / "articles", settings={"WARC_SWEEP_GRACE_SECONDS": "soon"})
    assert result.returncode == 1
    assert "WARC_SWEEP_GRACE_SECONDS" in result.log
