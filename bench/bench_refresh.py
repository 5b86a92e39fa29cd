"""A simulated month of hourly runs against the replica's clock: today's refresh rule vs the refresh schedule.

The replica's clock (`tests.replica.clock`) says when each article is published, edited and removed. Every
hour a run discovers what was published since the last run (one request each), then re-checks known articles:

- today's rule: every known article whose URL date is within `refresh_days` (2) of the run's UTC date;
- the schedule: the articles `crawler.refresh.due` finds due (the same ladder the refresh middleware uses),
  within the run's `crawler.refresh.refresh_allowance`, oldest moment first.

A check sees the article as the clock has it at the run's instant: a newer text is a capture (the latest edit is
caught, with its delay; edits it superseded are missed); a removed article is confirmed by a second check in the
same run. The simulation drives the schedule's own functions in-process, not a Scrapy crawl per run: 1,440 runs
of real crawls would take hours on 2 cores; `tests/test_refresh_e2e.py` runs the real middleware against the
real replica server for a few simulated runs. Edits and removals are scored for articles published in the first
30 days; request rates are per day over the second 30 days (steady state: a month of articles is known).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bench.figures import Figure, Target, single
from crawler.refresh import DAY, HOUR, Known, Schedule, check_moments, refresh_allowance
from tests.replica.clock import Timeline, timeline
from tests.replica.model import NEW_YORK, PLANNED_ARTICLES, RECENT_START, build_metadata

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
    edits_caught: dict[tuple[str, int], timedelta] = field(default_factory=dict)
    removals_caught: dict[str, timedelta] = field(default_factory=dict)
    reappearances: int = 0


def _articles() -> list[Article]:
    stream = build_metadata(SEED, ARTICLES)[PLANNED_ARTICLES:]
    return [
        Article(m.article_id, m.published, m.published.astimezone(NEW_YORK).date(), timeline(SEED, m))
        for m in stream
    ]


def _check(article: Article, now: datetime, outcome: Outcome) -> None:
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
    _capture(article, now, outcome)


def _capture(article: Article, now: datetime, outcome: Outcome) -> None:
    seen = article.life.edits_until(now)
    if article.captured < 0:  # the first capture: edits before it are part of the first version
        article.first_captured = now
    elif seen > 0:
        outcome.edits_caught[(article.article_id, seen)] = now - article.life.edits[seen - 1]
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
    queue: list[tuple[datetime, int]] = []  # (next check moment, article position): the schedule's due list
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
            _refresh_scheduled(articles, queue, now, allowance, schedule, outcome)
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


def _refresh_scheduled(
    articles: list[Article],
    queue: list[tuple[datetime, int]],
    now: datetime,
    allowance: int,
    schedule: Schedule,
    outcome: Outcome,
) -> None:
    """The due articles, oldest moment first, within the allowance; the others wait for their next moment."""
    due = []
    while queue and queue[0][0] <= now:
        due.append(heapq.heappop(queue)[1])
    for rank, position in enumerate(due):
        article = articles[position]
        if rank < allowance:
            _check(article, now, outcome)
        _reschedule(queue, position, article, now, schedule)


def _reschedule(
    queue: list[tuple[datetime, int]], position: int, article: Article, now: datetime, schedule: Schedule
) -> None:
    moment = _next_moment(article, now, schedule)
    if moment is not None:
        heapq.heappush(queue, (moment, position))


@dataclass(frozen=True, slots=True)
class Scores:
    edits: int
    caught: float
    young_edits: int
    young_within_a_day: float
    max_young_delay_hours: float
    median_delay_hours: float
    removals: int
    removals_caught: float
    refresh_per_day: float
    not_modified: float


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
    removed = [a for a in articles if a.published < scored_until and a.life.removed_at is not None]
    removals = [
        a for a in removed if a.life.removed_at is not None and a.life.removed_at - a.published <= 30 * DAY
    ]
    delays.sort()
    return Scores(
        edits=len(edits),
        caught=len(delays) / len(edits),
        young_edits=len(young),
        young_within_a_day=len(within) / len(young),
        max_young_delay_hours=max((d for d in young_delays if d is not None), default=timedelta(0)) / HOUR,
        median_delay_hours=delays[len(delays) // 2] / HOUR if delays else 0.0,
        removals=len(removals),
        removals_caught=sum(1 for a in removals if a.article_id in outcome.removals_caught)
        / max(1, len(removals)),
        refresh_per_day=outcome.refresh_requests_scored / (DAYS - SCORED_DAYS),
        not_modified=outcome.not_modified / max(1, outcome.refresh_requests),
    )


def run() -> list[Figure]:
    today = score(*simulate("today"))
    scheduled = score(*simulate("schedule"))
    figures = []
    for name, scores in (("today's rule", today), ("schedule", scheduled)):
        is_new = name == "schedule"
        figures += [
            single(
                f"refresh, {name}: edits caught (of {scores.edits})",
                scores.caught,
                "share",
                Target(">=", MIN_EDITS_CAUGHT) if is_new else None,
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
                Target("<=", DAY / HOUR) if is_new else None,
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
    figures.append(
        single(
            "refresh: schedule / today's refresh requests per day",
            scheduled.refresh_per_day / today.refresh_per_day,
            "ratio",
            Target("<=", MAX_REQUEST_RATIO),
        )
    )
    return figures
