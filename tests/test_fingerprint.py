from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import opencc
import pytest
from scrapy.statscollectors import StatsCollector
from scrapy.utils.test import get_crawler

from pipelines.dataset.simhash import _majority_bits, hamming_distance, simhash
from pipelines.fingerprint import ArticleDropped, FingerprintPipeline, fingerprint_item, text_fingerprints
from tests.archive_data import BEIJING, SAMPLE_BODY, SAMPLE_TITLE, sample_item

TO_TRADITIONAL = opencc.OpenCC("s2t")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def random_cjk(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))


def make_pipeline() -> tuple[FingerprintPipeline, StatsCollector]:
    crawler = get_crawler()
    crawler.stats.open_spider()
    return FingerprintPipeline.from_crawler(crawler), crawler.stats


def test_times_are_converted_to_utc() -> None:
    cleaned = fingerprint_item(sample_item(updated_at=datetime(2022, 1, 1, 8, 0, tzinfo=BEIJING)))
    assert cleaned.published_at == datetime(2021, 12, 31, 2, 30, tzinfo=UTC)
    assert cleaned.published_at.tzinfo is UTC
    assert cleaned.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert cleaned.crawled_at.tzinfo is UTC


def test_a_naive_datetime_is_a_bug_not_a_drop() -> None:
    with pytest.raises(ValueError, match="published_at is a naive datetime"):
        fingerprint_item(sample_item(published_at=datetime(2021, 12, 31, 10, 30)))


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", " \u3000 "), ("body_text", "\n \n"), ("article_id", ""), ("url", "https://x.org/about")],
)
def test_missing_required_field_is_dropped_and_counted(field: str, value: str) -> None:
    pipeline, stats = make_pipeline()
    with pytest.raises(ArticleDropped) as dropped:
        pipeline.process_item(sample_item(**{field: value}))
    assert dropped.value.reason == "missing_field"
    assert dropped.value.field == field
    assert stats.get_value("articles/dropped/missing_field") == 1
    assert stats.get_value(f"articles/dropped/missing_field/{field}") == 1


def test_missing_published_at_is_dropped() -> None:
    with pytest.raises(ArticleDropped) as dropped:
        fingerprint_item(sample_item(published_at=None))
    assert dropped.value.field == "published_at"


def test_gb_and_b5_copies_hash_alike() -> None:
    gb = fingerprint_item(sample_item())
    b5 = fingerprint_item(
        sample_item(
            edition="b5",
            title=TO_TRADITIONAL.convert(SAMPLE_TITLE),
            body_text=TO_TRADITIONAL.convert(SAMPLE_BODY),
        )
    )
    assert b5.body_text != gb.body_text
    assert b5.content_hash == gb.content_hash
    assert b5.simhash == gb.simhash


def test_content_hash_covers_title_and_body() -> None:
    base = fingerprint_item(sample_item())
    assert base.content_hash is not None and len(base.content_hash) == 64
    assert fingerprint_item(sample_item(title="另一个标题")).content_hash != base.content_hash
    assert fingerprint_item(sample_item(body_text=SAMPLE_BODY + "补充。")).content_hash != base.content_hash


def test_content_hash_ignores_every_whitespace_character() -> None:
    # Pinned: the hash of the sample, and of the same text with every kind of Unicode whitespace (ideographic
    # and no-break spaces, the line separator, the information separators) added or taken away.
    base = text_fingerprints(SAMPLE_TITLE, SAMPLE_BODY).content_hash
    assert base == "ed92c6dd540fdbaacafd41a7a0493417330e6b9709c54a6c656d6d6a58d6d0f4"
    spaces = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    assert {"\u3000", "\xa0", "\u2028", "\x1c"} <= set(spaces)
    spaced_body = spaces.join(SAMPLE_BODY[i : i + 7] for i in range(0, len(SAMPLE_BODY), 7))
    # A title is one line: the first line break ends it.
    title = f"{spaces.replace(chr(10), '')}{SAMPLE_TITLE}"
    assert text_fingerprints(title, spaced_body).content_hash == base
    assert (
        text_fingerprints(SAMPLE_TITLE.replace(" ", ""), SAMPLE_BODY.replace("\n", "")).content_hash == base
    )
    assert text_fingerprints(SAMPLE_TITLE, f"{SAMPLE_BODY}\u200b").content_hash != base  # not a space


def test_simhash_is_deterministic() -> None:
    # Pinned: a change of shingling or hashing changes every fingerprint in the archive.
    assert simhash(SAMPLE_BODY) == -7559298446787549563
    assert text_fingerprints(SAMPLE_TITLE, SAMPLE_BODY)[1] == simhash(SAMPLE_BODY)


def test_small_edits_move_the_simhash_a_little_and_unrelated_texts_a_lot() -> None:
    text = random_cjk(1, 3000)
    edited = text[:1000] + "新增一句话。" + text[1000:2000] + text[2010:]
    assert hamming_distance(simhash(text), simhash(edited)) <= 3
    distances = [
        hamming_distance(simhash(random_cjk(s, 3000)), simhash(random_cjk(s + 100, 3000))) for s in range(5)
    ]
    assert min(distances) >= 16


def test_simhash_is_a_signed_int64() -> None:
    values = [simhash(random_cjk(seed, 200)) for seed in range(64)]
    assert all(INT64_MIN <= v <= INT64_MAX for v in values)
    assert any(v < 0 for v in values)
    assert simhash("") == 0
    assert simhash("短") != 0


@pytest.mark.parametrize("count", [1, 2, 254, 255, 256, 511, 1000, 5003])
def test_each_fingerprint_bit_is_the_majority_of_the_shingle_hashes(count: int) -> None:
    rng = np.random.default_rng(count)
    hashes = rng.integers(0, 1 << 64, size=count, dtype=np.uint64)
    # A bit set in every hash (a counter of 255 or more) and lopsided bits (majorities near the half).
    hashes |= np.uint64(1)
    hashes[: count // 3] |= np.uint64(0xFF00000000000000)
    expected = sum(1 << bit for bit in range(64) if 2 * sum(int(h) >> bit & 1 for h in hashes) > count)
    assert _majority_bits(hashes) == expected
