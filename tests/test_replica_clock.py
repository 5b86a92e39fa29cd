"""The replica over simulated time (tests/replica/clock.py): edits, removals, validators and 304s, bot walls."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from tests.replica.clock import EDIT_SPACING, MAX_EDIT_AGE, timeline
from tests.replica.model import PLANNED_ARTICLES, build_metadata
from tests.replica.site import CHALLENGE_HTML, NOT_THE_SITE_HTML, Site
from tests.replica.testing import serve_replica

CLOCK = datetime(2026, 2, 1, tzinfo=UTC)
ARTICLES = 2_500


@pytest.fixture(scope="module")
def site() -> Site:
    return Site(articles=ARTICLES, clock=CLOCK)


def test_same_clock_same_bytes_and_only_what_is_published_by_then(site: Site) -> None:
    again = Site(articles=ARTICLES, clock=CLOCK)
    metas = [m for m in site.metadata() if m.published <= CLOCK]
    assert metas and len(metas) < ARTICLES
    for meta in metas[-50:]:
        assert site.get(meta.path("gb")).body == again.get(meta.path("gb")).body
    future = next(m for m in site.metadata() if m.published > CLOCK)
    assert site.get(future.path("gb")).status == 404


def test_timelines_edit_at_spaced_ages_within_a_month() -> None:
    metas = build_metadata(0, 3_000)
    lives = [timeline(0, m) for m in metas[PLANNED_ARTICLES:]]
    edited = [life for life in lives if life.edits]
    assert 0.2 < len(edited) / len(lives) < 0.4
    for life in edited:
        ages = [edit - life.published for edit in life.edits]
        assert all(timedelta(0) < age <= MAX_EDIT_AGE for age in ages)
        assert all(later >= earlier * EDIT_SPACING for earlier, later in itertools.pairwise(ages))
    assert {life.removal for life in lives if life.removal} == {"404", "410", "home"}
    assert all(not timeline(0, m).edits for m in metas[:PLANNED_ARTICLES])


def test_unchanged_article_answers_304_to_either_validator_and_200_once_edited() -> None:
    before = CLOCK
    site = Site(articles=ARTICLES, clock=before)
    lives = site.timelines()
    meta = next(
        m
        for m in site.metadata()
        if m.published <= before
        and lives[m.article_id].edits
        and lives[m.article_id].edits[0] > before
        and not lives[m.article_id].gone(lives[m.article_id].edits[0])
    )
    page = site.get(meta.path("gb"))
    etag, modified = page.headers["ETag"], page.headers["Last-Modified"]
    assert site.get(meta.path("gb"), {"If-None-Match": etag}).status == 304
    assert site.get(meta.path("gb"), {"if-modified-since": modified}).status == 304
    after = Site(articles=ARTICLES, clock=lives[meta.article_id].edits[0])
    edited = after.get(meta.path("gb"), {"If-None-Match": etag})
    assert edited.status == 200
    assert edited.headers["ETag"] != etag
    assert after.get(meta.path("gb"), {"If-Modified-Since": modified}).status == 200


def test_an_unchanged_article_renders_differently_every_hour_with_the_same_etag(site: Site) -> None:
    later = Site(articles=ARTICLES, clock=CLOCK + timedelta(hours=3))
    # A planned article never changes: what differs between the two renders is noise only.
    meta = next(m for m in site.metadata()[:PLANNED_ARTICLES] if m.layout == "current")
    now, then = site.get(meta.path("gb")), later.get(meta.path("gb"))
    assert now.headers["ETag"] == then.headers["ETag"]
    assert now.body != then.body


def test_removed_articles_answer_404_410_or_a_redirect_home_and_leave_the_lists(site: Site) -> None:
    lives = site.timelines()
    gone = {aid: life for aid, life in lives.items() if life.gone(CLOCK)}
    assert {life.removal for life in gone.values()} == {"404", "410", "home"}
    by_id = {m.article_id: m for m in site.metadata()}
    for article_id, life in gone.items():
        page = site.get(by_id[article_id].path("gb"))
        expected = {"404": 404, "410": 410, "home": 302}[life.removal or ""]
        assert page.status == expected
        if page.status == 302:
            assert page.headers["Location"] == "https://www.epochtimes.com/gb/"
    listed = b"".join(site.get(f"/gb/{channel}.htm").body for channel in site.channels())
    newest_gone = max(gone, key=lambda aid: by_id[aid].published)
    assert newest_gone.encode() not in listed


def test_a_restored_article_is_served_again() -> None:
    lives = Site(articles=ARTICLES, clock=CLOCK).timelines()
    article_id, life = next(
        (a, life) for a, life in lives.items() if life.restored_at and life.restored_at <= CLOCK
    )
    site = Site(articles=ARTICLES, clock=CLOCK)
    meta = next(m for m in site.metadata() if m.article_id == article_id)
    assert site.get(meta.path("b5")).status == 200
    assert life.removed_at is not None
    while_gone = Site(articles=ARTICLES, clock=life.removed_at)
    assert while_gone.get(meta.path("b5")).status in (302, 404, 410)


def test_bot_walls_some_articles_or_every_page() -> None:
    site = Site(articles=300, blocks="some")
    kinds = site.blocked_numbers()
    assert set(kinds.values()) == {"rate_limited", "challenge_503", "challenge_403", "not_the_site"}
    by_number = {m.number: m for m in site.metadata()}
    for number, kind in kinds.items():
        path = by_number[number].path("gb")
        page = site.get(path)
        if kind == "rate_limited":
            assert (page.status, page.headers["Retry-After"]) == (429, "1")
            assert site.get(path).status == 200
        elif kind == "not_the_site":
            assert (page.status, page.body) == (200, NOT_THE_SITE_HTML.encode())
        else:
            assert page.status in (403, 503)
            assert page.body == CHALLENGE_HTML.encode()
    walled = Site(articles=50, blocks="all")
    assert walled.get("/gb/").status == 403
    assert walled.get("/robots.txt").status == 200
    with pytest.raises(ValueError, match="blocks"):
        Site(articles=10, blocks="sometimes")


def test_the_server_passes_validators_through_real_http() -> None:
    with serve_replica(articles=200, clock=CLOCK) as base:
        site = Site(articles=200, clock=CLOCK)
        path = site.metadata()[-1].path("gb")
        with urllib.request.urlopen(base + path) as response:
            etag = response.headers["ETag"]
            assert response.status == 200
        request = urllib.request.Request(base + path, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request)
        raised.value.close()
        assert raised.value.code == 304
