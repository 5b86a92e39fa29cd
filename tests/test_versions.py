"""What makes a new version (README "What makes a new version"): a change a reader would see, nothing else."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crawler.extract import extract, extract_page
from crawler.items import ArticleItem
from pipelines.dataset.archive import ArchiveIndex
from pipelines.dedupe import Duplicate, ExtractorNoise, assign_version
from pipelines.fingerprint import fingerprint_item, fold_script, text_fingerprints
from tests.archive_data import SAMPLE_BODY, SAMPLE_TITLE, sample_item
from tests.replica.content import CANONICAL_BASE
from tests.replica.model import PLANNED_ARTICLES
from tests.replica.site import Site

CLOCK = datetime(2026, 2, 1, tzinfo=UTC)


def content_hash(title: str, body: str) -> str:
    return text_fingerprints(title, body).content_hash


@pytest.mark.parametrize(
    "reflowed",
    [
        SAMPLE_BODY.replace("\n", ""),  # paragraphs merged (another extractor's idea of a paragraph)
        SAMPLE_BODY.replace("。", "。\n"),  # sentences as paragraphs
        SAMPLE_BODY.replace("，", "， "),  # spaces after commas
        " \n".join(SAMPLE_BODY.split("\n")) + "\n\n",  # trailing spaces and blank lines
    ],
)
def test_layout_and_whitespace_never_change_the_hash(reflowed: str) -> None:
    assert reflowed != SAMPLE_BODY
    assert content_hash(SAMPLE_TITLE, reflowed) == content_hash(SAMPLE_TITLE, SAMPLE_BODY)


def test_a_character_a_reader_sees_changes_the_hash() -> None:
    base = content_hash(SAMPLE_TITLE, SAMPLE_BODY)
    assert content_hash(SAMPLE_TITLE, SAMPLE_BODY.replace("。", "！", 1)) != base
    assert content_hash(SAMPLE_TITLE + "（更新）", SAMPLE_BODY) != base
    # Moving text between title and body is a change too (the separator is not whitespace).
    first_char = SAMPLE_BODY[0]
    assert content_hash(SAMPLE_TITLE + first_char, SAMPLE_BODY[1:]) != base


def test_a_version_archived_with_the_schema_1_hash_is_still_the_same_text() -> None:
    item = fingerprint_item(sample_item())
    folded = fold_script(f"{item.title}\n{item.body_text}")
    old_hash = hashlib.sha256(folded.encode()).hexdigest()
    assert old_hash != item.content_hash and old_hash == item.schema1_hash
    index = ArchiveIndex.empty()
    assert item.simhash is not None
    index.add(item.article_id, 1, old_hash, item.simhash)
    with pytest.raises(Duplicate):
        assign_version(item, index, set(), max_distance=3)


def _row(site: Site, path: str, html: str) -> ArticleItem:
    article = extract(html, CANONICAL_BASE + path)
    return fingerprint_item(ArticleItem.from_article(article, crawled_at=datetime.now(UTC)))


def test_replica_noise_and_re_encoding_never_make_a_version() -> None:
    """The same articles rendered hours apart (view counter, link variants, ad and related blocks, invisible
    characters all differ) and re-encoded in GBK with character references hash alike."""
    now, later = Site(articles=2_000, clock=CLOCK), Site(articles=2_000, clock=CLOCK + timedelta(hours=5))
    lives = now.timelines()
    unchanged = [
        m
        for m in now.metadata()
        if m.published <= CLOCK
        and (m.index < PLANNED_ARTICLES or (not lives[m.article_id].gone(CLOCK + timedelta(hours=5))))
        and (
            m.index < PLANNED_ARTICLES
            or lives[m.article_id].edits_until(CLOCK)
            == lives[m.article_id].edits_until(CLOCK + timedelta(hours=5))
        )
    ]
    compared = 0
    for meta in unchanged[::7]:
        path = meta.path("gb")
        first, second = now.get(path).body.decode(), later.get(path).body.decode()
        if first == second:
            continue
        gbk = first.encode("gbk", errors="xmlcharrefreplace").decode("gbk")
        hashes = {_row(now, path, html).content_hash for html in (first, second, gbk)}
        assert len(hashes) == 1, path
        compared += 1
    assert compared > 100


def test_replica_edits_always_make_a_version() -> None:
    now = Site(articles=2_000, clock=CLOCK)
    lives = now.timelines()
    edited = [
        m
        for m in now.metadata()
        if m.published <= CLOCK
        and m.index >= PLANNED_ARTICLES
        and any(e > CLOCK for e in lives[m.article_id].edits)
        and not lives[m.article_id].gone(max(lives[m.article_id].edits))
    ]
    assert len(edited) > 15
    for meta in edited[:15]:
        life = lives[meta.article_id]
        after = Site(articles=2_000, clock=next(e for e in life.edits if e > CLOCK))
        path = meta.path("gb")
        before_row, after_row = (
            _row(now, path, now.get(path).body.decode()),
            _row(after, path, after.get(path).body.decode()),
        )
        assert before_row.content_hash != after_row.content_hash, path


def test_the_same_page_read_by_the_general_extractor_is_not_a_new_version() -> None:
    site = Site(articles=80)
    pages = [m for m in site.metadata() if m.layout == "current"][-10:]
    noise = 0
    for meta in pages:
        path = meta.path("gb")
        html = site.get(path).body.decode()
        layout_row = _row(site, path, html)
        # As the crawl reads a page its layouts cannot: through extraction's normalization entry point.
        generic = extract_page(html.encode("utf-8"), CANONICAL_BASE + path, generic=True)
        assert generic.extractor == "generic"
        generic_row = fingerprint_item(ArticleItem.from_article(generic, crawled_at=datetime.now(UTC)))
        index = ArchiveIndex.empty()
        assert layout_row.content_hash is not None and layout_row.simhash is not None
        index.add(layout_row.article_id, 1, layout_row.content_hash, layout_row.simhash)
        if generic_row.content_hash == layout_row.content_hash:
            continue
        noise += 1
        with pytest.raises(ExtractorNoise):
            assign_version(generic_row, index, set(), max_distance=3)
    assert noise > 0  # the general extractor does read these pages differently
    # A rewritten page read by the general extractor is still a new version.
    rewritten = fingerprint_item(ArticleItem.from_article(generic, crawled_at=datetime.now(UTC)))
    rewritten = replace(rewritten, body_text="全新的正文。" * 200)
    rewritten = fingerprint_item(rewritten)
    assert assign_version(rewritten, index, set(), max_distance=3).version == 2
