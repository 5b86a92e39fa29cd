"""When to fetch a known article again: a geometric schedule that thins out with time since the last change.

Pure functions, no Scrapy: the refresh middleware and the refresh benchmark run the same code.

Check moments are a fixed ladder after the moment the archive captured the article's latest version
(``changed_at``): ``first`` after it, then each gap ``growth`` times the previous one (the anchors' NewsDiffs and
diffengine schedules are both geometric), never more than ``young_gap`` apart while the article is younger than
``young_age`` (so an edit to a young article is caught within a day even when runs are an hour apart), then at
least ``old_factor`` times the article's age (or the time since its last change, if shorter) apart (diffengine:
when the time since the last check reaches a fraction of the age), a last
one when the article reaches ``max_age``, and none after. A new version moves ``changed_at`` and the ladder starts again: an
article that changes is watched closely again, one that does not is checked less and less often.

The ladder is a function of the dataset alone (``published_at`` and the latest version's ``crawled_at``), so no
state is kept between runs: an article is due in a run when one of its moments falls between the previous run's
start and now. Several moments missed (no run for a day) still make one check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The ladder's shape; the defaults meet the issue's edit targets on the replica with the fewest requests
    found (bench/bench_refresh.py), at about a fifth of today's rule: the feed covers an article's first hours
    (the middleware skips the checks of articles a feed showed), so the ladder starts at half a day."""

    first: timedelta = 12 * HOUR
    growth: float = 2.0
    young_age: timedelta = 7 * DAY
    # A moment is served by the next hourly run, at most an hour later: a capture within a day of the edit.
    young_gap: timedelta = 23 * HOUR
    max_age: timedelta = 30 * DAY
    # Past young_age the next look waits old_factor times the article's age or time since change, if shorter.
    old_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.first <= timedelta(0) or self.young_gap <= timedelta(0):
            raise ValueError("refresh intervals must be positive")
        if self.growth < 1:
            raise ValueError(f"refresh growth must be at least 1, got {self.growth}")


@dataclass(frozen=True, slots=True)
class Known:
    """What the dataset says about an archived article, all a refresh needs."""

    article_id: str
    url: str
    published_at: datetime
    changed_at: datetime  # crawled_at of the latest version: when the archive last saw the text change
    version: int
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # of the latest version: a feed item's text is compared with it
    # The last time the article was seen present: a capture, an unchanged check (304 or the same text) or a
    # feed showing it; never earlier than changed_at.
    last_seen_at: datetime | None = None

    @property
    def seen_at(self) -> datetime:
        return max(self.changed_at, self.last_seen_at or self.changed_at)


def check_moments(published_at: datetime, changed_at: datetime, schedule: Schedule) -> Iterator[datetime]:
    """The moments at which an article captured (in its latest version) at ``changed_at`` is checked again."""
    last_moment = published_at + schedule.max_age
    gap = schedule.first
    moment = changed_at + gap
    while moment < last_moment:
        yield moment
        age = moment - published_at
        if age < schedule.young_age:
            gap = min(gap * schedule.growth, schedule.young_gap)
        else:
            gap = max(gap * schedule.growth, min(age, moment - changed_at) * schedule.old_factor)
        moment = moment + gap
    # A last look at the end of the watch, so that a late edit or removal is seen once, however late.
    if changed_at < last_moment:
        yield last_moment


def due_moment(known: Known, since: datetime, now: datetime, schedule: Schedule) -> datetime | None:
    """The first check moment of ``known`` in ``(since, now]``, or None when it is not due in this run."""
    for moment in check_moments(known.published_at, known.changed_at, schedule):
        if moment > now:
            return None
        if moment > since:
            return moment
    return None


def due(
    articles: Iterable[Known], since: datetime, now: datetime, schedule: Schedule
) -> list[tuple[datetime, Known]]:
    """``(moment, article)`` of every article due in ``(since, now]``, oldest moment first."""
    found = [
        (moment, known)
        for known in articles
        if (moment := due_moment(known, since, now, schedule)) is not None
    ]
    found.sort(key=lambda pair: (pair[0], pair[1].article_id))
    return found


def refresh_allowance(other_requests: int, share: float, floor: int) -> int:
    """How many refresh requests a run may send: at most ``share`` of all its requests, but at least ``floor``.

    With ``other_requests`` discovery requests, ``r`` refreshes are ``r / (r + other)`` of the run: that stays at
    most ``share`` while ``r <= share / (1 - share) * other``. The floor lets a quiet run (a handful of list
    pages) still check what is due.
    """
    if not 0 < share <= 1:
        raise ValueError(f"refresh share must be in (0, 1], got {share}")
    if share == 1:
        return 2**62
    return max(floor, int(share / (1 - share) * other_requests))
