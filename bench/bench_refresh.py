"""A simulated month of hourly runs against the replica's clock: today's refresh rule vs the refresh schedule.

The replica's clock (`tests.replica.clock`) says when each article is published, edited and removed. Every
hour a run discovers what was published since the last run (one request each), then re-checks known articles:

- today's rule: every known article whose URL date is within `refresh_days` (2) of the run's UTC date;
- the schedule: first the free signal, the edition feeds every hourly run reads anyway (`discovery=feeds`): the
  replica's feeds carry the `FEED_ITEMS` newest articles with their current full text (`content:encoded`, SITE.md
  2.6), so a known article in the feed whose text differs from the archived version is fetched once (a refresh
  request that captures the edit), and one whose text is the same was seen present at no cost; then, for the
  articles the feed does not show, the blind checks `crawler.refresh.due` finds due (the same ladder the refresh
  middleware uses), within the run's `crawler.refresh.refresh_allowance`, oldest moment first.

A check sees the article as the clock has it at the run's instant: a newer text is a capture (the latest edit is
caught, with its delay; edits it superseded are missed); a removed article is confirmed by a second check in the
same run. The simulation drives the schedule's own functions in-process, not a Scrapy crawl per run: 1,440 runs
of real crawls would take hours on 2 cores; `tests/test_refresh_e2e.py` runs the real middleware against the
real replica server for a few simulated runs. Edits and removals are scored for articles published in the first
30 days; request rates are per day over the second 30 days (steady state: a month of articles is known).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bench.figures import Figure, Target, single
from crawler.refresh import DAY, HOUR, Known, Schedule, check_moments, refresh_allowance
from tests.replica.clock import Timeline, timeline
from tests.replica.model import NEW_YORK, PLANNED_ARTICLES, RECENT_START, build_metadata
from tests.replica.site import FEED_ITEMS

SEED = 0
DAYS = 60
SCORED_DAYS = 30
# Enough articles for 60 days of the replica's stream (one every 5 to 25 minutes).
ARTICLES = PLANNED_ARTICLES + 6_200
RUN_MINUTE = 17
TODAY_REFRESH_DAYS = 2
LIST_PAGES_PER_RUN = 10
REFRESH_SHARE = 0.8
REFRESH_FLOOR = 200
YOUNG = timedelta(days=7)
MAX_REQUEST_RATIO = 0.1
MIN_EDITS_CAUGHT = 0.95


@dataclass(slots=True)
class Article:
    article_id: str
    published: datetime
    url_date: date
    life: Timeline
    captured: int = -1  # edits seen in the archived version; -1 before the first capture
    changed_at: datetime | None = None
    removed: bool = False
    first_captured: datetime | None = None


@dataclass(slots=True)
class Outcome:
    refresh_requests: int = 0
    refresh_requests_scored: int = 0
    not_modified: int = 0
    feed_requests: int = 0  # refresh requests a changed feed item asked for (part of refresh_requests)
    edits_caught: dict[tuple[str, int], timedelta] = field(default_factory=dict)
    caught_by: dict[tuple[str, int], str] = field(default_factory=dict)  # "feed" or "check"
    feed_exit: dict[str, datetime] = field(
        default_factory=dict
    )  # article_id -> first run it was not in the feed
    exited: int = 0  # articles[:exited] have left the feed
    removals_caught: dict[str, timedelta] = field(default_factory=dict)
    reappearances: int = 0


def _articles() -> list[Article]:
    stream = build_metadata(SEED, ARTICLES)[PLANNED_ARTICLES:]
    return [
        Article(m.article_id, m.published, m.published.astimezone(NEW_YORK).date(), timeline(SEED, m))
        for m in stream
    ]


def _check(article: Article, now: datetime, outcome: Outcome, via: str = "check") -> None:
    """One refresh request (and the confirming second one when the page is gone)."""
    outcome.refresh_requests += 1
    if article.life.gone(now):
        outcome.refresh_requests += 1
        if not article.removed:
            article.removed = True
            assert article.life.removed_at is not None
            outcome.removals_caught.setdefault(article.article_id, now - article.life.removed_at)
        return
    if article.removed:
        article.removed = False
        outcome.reappearances += 1
    seen = article.life.edits_until(now)
    if seen == article.captured:
        outcome.not_modified += 1
        return
    _capture(article, now, outcome, via)


def _capture(article: Article, now: datetime, outcome: Outcome, via: str = "check") -> None:
    seen = article.life.edits_until(now)
    if article.captured < 0:  # the first capture: edits before it are part of the first version
        article.first_captured = now
    elif seen > 0:
        outcome.edits_caught[(article.article_id, seen)] = now - article.life.edits[seen - 1]
        outcome.caught_by[(article.article_id, seen)] = via
    article.captured, article.changed_at = seen, now


def _known(article: Article) -> Known:
    assert article.changed_at is not None
    return Known(article.article_id, "", article.published, article.changed_at, article.captured + 1)


def _next_moment(article: Article, after: datetime, schedule: Schedule) -> datetime | None:
    known = _known(article)
    return next((m for m in check_moments(known.published_at, known.changed_at, schedule) if m > after), None)


DEFAULT_SCHEDULE = Schedule()


def simulate(rule: str, schedule: Schedule = DEFAULT_SCHEDULE) -> tuple[Outcome, list[Article]]:
    """Hourly runs over DAYS days under ``rule`` ("today" or "schedule")."""
    articles = _articles()
    start = RECENT_START.replace(minute=RUN_MINUTE, second=0)
    scored_from = start + SCORED_DAYS * DAY
    outcome = Outcome()
    # (next check moment, article position, the changed_at it follows): the schedule's due list; an entry
    # whose article changed since (a feed caught an edit) is stale and skipped.
    queue: list[tuple[datetime, int, datetime]] = []
    published = 0
    for run in range(DAYS * 24):
        now = start + run * HOUR
        before = outcome.refresh_requests
        first_new = published
        while published < len(articles) and articles[published].published <= now:
            published += 1
        if rule == "today":
            _refresh_today(articles[:first_new], now, outcome)
        else:
            allowance = refresh_allowance(
                published - first_new + LIST_PAGES_PER_RUN, REFRESH_SHARE, REFRESH_FLOOR
            )
            shown = _read_feed(articles, queue, published, first_new, now, schedule, outcome)
            _refresh_scheduled(articles, queue, now, allowance, schedule, outcome, shown)
        for position in range(first_new, published):
            article = articles[position]
            if not article.life.gone(now):
                _capture(article, now, outcome)
                _reschedule(queue, position, article, now, schedule)
        if now >= scored_from:
            outcome.refresh_requests_scored += outcome.refresh_requests - before
    return outcome, articles


def _refresh_today(known: list[Article], now: datetime, outcome: Outcome) -> None:
    """Every known article whose URL date is within TODAY_REFRESH_DAYS of the run's UTC date, newest first."""
    horizon = now.astimezone(UTC).date() - timedelta(days=TODAY_REFRESH_DAYS)
    for article in reversed(known):
        if article.url_date < horizon:
            return
        _check(article, now, outcome)


def _read_feed(
    articles: list[Article],
    queue: list[tuple[datetime, int, datetime]],
    published: int,
    first_new: int,
    now: datetime,
    schedule: Schedule,
    outcome: Outcome,
) -> set[int]:
    """The feed of this run (the replica's: the FEED_ITEMS newest articles still on the site, their current text):
    a known article whose text changed is fetched once; the positions of the known articles shown are returned
    (seen present, so no blind check is spent on them this run)."""
    shown: set[int] = set()
    position = published - 1
    while position >= 0 and len(shown) < FEED_ITEMS:
        article = articles[position]
        if not article.life.gone(now):
            shown.add(position)
        position -= 1
    for left in range(outcome.exited, position + 1):
        outcome.feed_exit[articles[left].article_id] = now
    outcome.exited = max(outcome.exited, position + 1)
    known = {p for p in shown if p < first_new and articles[p].captured >= 0}
    for position in known:
        article = articles[position]
        if article.life.edits_until(now) != article.captured:
            outcome.feed_requests += 1
            _check(article, now, outcome, via="feed")
            _reschedule(queue, position, article, now, schedule)  # a new version starts its ladder again
    return known


def _refresh_scheduled(
    articles: list[Article],
    queue: list[tuple[datetime, int, datetime]],
    now: datetime,
    allowance: int,
    schedule: Schedule,
    outcome: Outcome,
    shown: set[int],
) -> None:
    """The due articles the feed did not show, oldest moment first, within the allowance; the others wait for
    their next moment."""
    due = []
    while queue and queue[0][0] <= now:
        _, position, changed_at = heapq.heappop(queue)
        if changed_at == articles[position].changed_at:
            due.append(position)
    rank = 0
    for position in due:
        article = articles[position]
        if position not in shown:
            if rank < allowance:
                _check(article, now, outcome)
            rank += 1
        _reschedule(queue, position, article, now, schedule)


def _reschedule(
    queue: list[tuple[datetime, int, datetime]],
    position: int,
    article: Article,
    now: datetime,
    schedule: Schedule,
) -> None:
    moment = _next_moment(article, now, schedule)
    if moment is not None:
        assert article.changed_at is not None
        heapq.heappush(queue, (moment, position, article.changed_at))


@dataclass(frozen=True, slots=True)
class Scores:
    edits: int
    caught: float
    caught_by_feed: float
    young_edits: int
    young_after_feed: int  # edits to articles under a week old made after the article left the feed
    young_within_a_day: float
    max_young_delay_hours: float
    median_delay_hours: float
    removals: int
    removals_caught: float
    refresh_per_day: float
    feed_per_day: float
    not_modified: float
    floor_per_day: float  # blind checks a day that the delay target needs at the least (see floor_checks)


def floor_checks(published: datetime, feed_exit: datetime) -> int:
    """The fewest blind checks that catch every edit to the article while it is under a week old within a day,
    and its later edits at all: one at most a day after it left the feed, then one a day to its seventh day,
    and one after the week."""
    uncovered = published + YOUNG - feed_exit
    return max(0, math.ceil(uncovered / DAY)) + 1


def score(outcome: Outcome, articles: list[Article]) -> Scores:
    scored_until = RECENT_START + SCORED_DAYS * DAY
    edits = [
        (a, n)
        for a in articles
        if a.published < scored_until
        for n in range(1, len(a.life.edits) + 1)
        if a.first_captured is not None and a.first_captured < a.life.edits[n - 1] <= a.published + 30 * DAY
    ]
    delays = [
        outcome.edits_caught[(a.article_id, n)] for a, n in edits if (a.article_id, n) in outcome.edits_caught
    ]
    young = [(a, n) for a, n in edits if a.life.edits[n - 1] - a.published < YOUNG]
    young_delays = [outcome.edits_caught.get((a.article_id, n)) for a, n in young]
    within = [d for d in young_delays if d is not None and d <= DAY]
    after_feed = [
        (a, n)
        for a, n in young
        if a.article_id in outcome.feed_exit and a.life.edits[n - 1] >= outcome.feed_exit[a.article_id]
    ]
    removed = [a for a in articles if a.published < scored_until and a.life.removed_at is not None]
    removals = [
        a for a in removed if a.life.removed_at is not None and a.life.removed_at - a.published <= 30 * DAY
    ]
    # The floor over the articles published in the scored days (a steady month of them).
    floor = sum(
        floor_checks(a.published, outcome.feed_exit[a.article_id])
        for a in articles
        if a.published < scored_until and a.article_id in outcome.feed_exit
    )
    delays.sort()
    return Scores(
        edits=len(edits),
        caught=len(delays) / len(edits),
        caught_by_feed=sum(1 for a, n in edits if outcome.caught_by.get((a.article_id, n)) == "feed")
        / len(edits),
        young_edits=len(young),
        young_after_feed=len(after_feed),
        young_within_a_day=len(within) / len(young),
        max_young_delay_hours=max((d for d in young_delays if d is not None), default=timedelta(0)) / HOUR,
        median_delay_hours=delays[len(delays) // 2] / HOUR if delays else 0.0,
        removals=len(removals),
        removals_caught=sum(1 for a in removals if a.article_id in outcome.removals_caught)
        / max(1, len(removals)),
        refresh_per_day=outcome.refresh_requests_scored / (DAYS - SCORED_DAYS),
        feed_per_day=outcome.feed_requests / DAYS,
        not_modified=outcome.not_modified / max(1, outcome.refresh_requests),
        floor_per_day=floor / SCORED_DAYS,
    )


# The schedule stretched until it spends a tenth of today's requests: what the budget alone would buy.
TENTH_SCHEDULE = Schedule(first=72 * HOUR, growth=1.0, young_gap=72 * HOUR, old_factor=2.0)


def _figures(name: str, scores: Scores, targets: bool) -> list[Figure]:
    return [
        single(
            f"refresh, {name}: edits caught (of {scores.edits})",
            scores.caught,
            "share",
            Target(">=", MIN_EDITS_CAUGHT) if targets else None,
        ),
        single(
            f"refresh, {name}: edits to articles under a week old caught within a day (of {scores.young_edits})",
            scores.young_within_a_day,
            "share",
        ),
        single(
            f"refresh, {name}: longest delay edit -> capture, articles under a week",
            scores.max_young_delay_hours,
            "hours",
            Target("<=", DAY / HOUR) if targets else None,
        ),
        single(f"refresh, {name}: median delay edit -> capture", scores.median_delay_hours, "hours"),
        single(
            f"refresh, {name}: removals met by a check (of {scores.removals})",
            scores.removals_caught,
            "share",
        ),
        single(f"refresh, {name}: refresh requests per day", scores.refresh_per_day, "requests"),
        single(f"refresh, {name}: refresh requests answered 304", scores.not_modified, "share"),
    ]


def run() -> list[Figure]:
    today = score(*simulate("today"))
    scheduled = score(*simulate("schedule"))
    tenth = score(*simulate("schedule", TENTH_SCHEDULE))
    figures = _figures("today's rule", today, targets=False) + _figures("schedule", scheduled, targets=True)
    figures += [
        single("refresh, schedule: edits caught through the feed", scheduled.caught_by_feed, "share"),
        single(
            "refresh, schedule: refresh requests a changed feed item asked for, per day",
            scheduled.feed_per_day,
            "requests",
        ),
        single(
            "refresh, schedule: edits to articles under a week old made after they left the feed",
            scheduled.young_after_feed,
            "edits",
        ),
        single(
            "refresh: schedule / today's refresh requests per day",
            scheduled.refresh_per_day / today.refresh_per_day,
            "ratio",
            Target("<=", MAX_REQUEST_RATIO),
        ),
        single(
            "refresh: fewest blind checks per day that the delay target needs / today's",
            scheduled.floor_per_day / today.refresh_per_day,
            "ratio",
        ),
    ]
    figures += _figures("at a tenth (72 h gaps)", tenth, targets=True)
    figures.append(
        single(
            "refresh: at a tenth / today's refresh requests per day",
            tenth.refresh_per_day / today.refresh_per_day,
            "ratio",
            Target("<=", MAX_REQUEST_RATIO),
        )
    )
    return figures
