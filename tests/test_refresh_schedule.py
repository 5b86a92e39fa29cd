"""The refresh schedule (crawler.refresh): the ladder's promises, due lists and the per-run allowance."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.refresh import (
    DAY,
    HOUR,
    Known,
    Schedule,
    check_moments,
    due,
    due_moment,
    refresh_allowance,
)

PUBLISHED = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
SCHEDULE = Schedule()


def known(article_id: str = "n1", published: datetime = PUBLISHED, changed: timedelta = HOUR) -> Known:
    return Known(
        article_id,
        f"https://www.epochtimes.com/gb/26/11/1/{article_id}.htm",
        published,
        published + changed,
        1,
    )


def test_moments_start_after_the_capture_and_stop_with_a_last_look_at_max_age() -> None:
    moments = list(check_moments(PUBLISHED, PUBLISHED + HOUR, SCHEDULE))
    assert moments[0] == PUBLISHED + HOUR + SCHEDULE.first
    assert moments == sorted(set(moments))
    assert moments[-1] == PUBLISHED + SCHEDULE.max_age
    # Thinning: far fewer looks than hourly runs over a month, most of them in the first week.
    assert len(moments) < 20
    assert sum(1 for m in moments if m - PUBLISHED < SCHEDULE.young_age) > len(moments) / 2


@given(
    changed_hours=st.integers(min_value=0, max_value=24 * 7),
    edit_minutes=st.integers(min_value=0, max_value=7 * 24 * 60),
)
def test_an_edit_to_a_young_article_meets_a_moment_within_the_young_gap(
    changed_hours: int, edit_minutes: int
) -> None:
    changed = PUBLISHED + timedelta(hours=changed_hours)
    edit = changed + SCHEDULE.first + timedelta(minutes=edit_minutes)
    if edit - PUBLISHED >= SCHEDULE.young_age:
        return
    after = [m for m in check_moments(PUBLISHED, changed, SCHEDULE) if m >= edit]
    assert after, "an edit inside the watch must meet a later look"
    assert after[0] - edit <= SCHEDULE.young_gap


def test_past_the_young_age_looks_are_an_age_apart() -> None:
    moments = [
        m for m in check_moments(PUBLISHED, PUBLISHED, SCHEDULE) if m - PUBLISHED >= SCHEDULE.young_age
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)][:-1]
    assert gaps
    assert all(
        gap >= (earlier - PUBLISHED) * SCHEDULE.old_factor
        for gap, earlier in zip(gaps, moments, strict=False)
    )


def test_a_new_version_starts_the_ladder_again() -> None:
    late_change = PUBLISHED + 10 * DAY
    moments = list(check_moments(PUBLISHED, late_change, SCHEDULE))
    assert moments[0] == late_change + SCHEDULE.first
    # Watched closely again: a day apart, where an unchanged article of that age waits its age times two.
    assert moments[1] - moments[0] <= DAY


def test_an_article_older_than_max_age_is_never_due() -> None:
    old = known(published=PUBLISHED - 40 * DAY)
    assert (
        max(check_moments(old.published_at, old.changed_at, SCHEDULE)) == old.published_at + SCHEDULE.max_age
    )
    assert due_moment(old, PUBLISHED - HOUR, PUBLISHED, SCHEDULE) is None
    captured_late = known(published=PUBLISHED - 40 * DAY, changed=35 * DAY)
    assert list(check_moments(captured_late.published_at, captured_late.changed_at, SCHEDULE)) == []


def test_due_moment_is_the_first_moment_in_the_run_window() -> None:
    article = known()
    first = next(check_moments(article.published_at, article.changed_at, SCHEDULE))
    assert due_moment(article, first - HOUR, first, SCHEDULE) == first
    assert due_moment(article, first, first + timedelta(minutes=59), SCHEDULE) is None
    assert due_moment(article, first - 2 * HOUR, first - HOUR, SCHEDULE) is None
    # A missed day of runs still makes one check, at the first moment missed.
    assert due_moment(article, first - HOUR, first + 3 * DAY, SCHEDULE) == first


def test_due_lists_the_oldest_moment_first() -> None:
    newer = known("n2", published=PUBLISHED + 5 * HOUR)
    older = known("n1")
    now = PUBLISHED + 20 * HOUR
    found = due([newer, older], PUBLISHED, now, SCHEDULE)
    assert [k.article_id for _, k in found] == ["n1", "n2"]
    assert found[0][0] < found[1][0]


def test_refresh_allowance_is_a_share_of_the_run_with_a_floor() -> None:
    assert refresh_allowance(other_requests=1000, share=0.5, floor=10) == 1000
    assert refresh_allowance(other_requests=1000, share=0.2, floor=10) == 250
    assert refresh_allowance(other_requests=3, share=0.5, floor=100) == 100
    with pytest.raises(ValueError, match="share"):
        refresh_allowance(10, share=0.0, floor=1)


def test_schedule_rejects_a_shrinking_ladder() -> None:
    with pytest.raises(ValueError, match="growth"):
        Schedule(growth=0.5)
    with pytest.raises(ValueError, match="positive"):
        Schedule(first=timedelta(0))
