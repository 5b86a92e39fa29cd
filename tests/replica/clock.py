"""The replica over simulated time: when each article is published, edited and removed (and maybe restored).

`Site(clock=T)` serves the site as it stands at instant T: articles published by then, with the edits made by
then, removed ones gone. Everything derives from `(seed, index)`, so the same arguments give the same bytes.

Only the stream of 2026 articles (index >= PLANNED_ARTICLES) changes over time; the planned ones, exact and near
copies and their originals never do. Edits are made at ages drawn log-uniformly between `MIN_EDIT_AGE` and
`MAX_EDIT_AGE` (most edits come early, some weeks later, as on a news site); an article's later edit comes at
least `EDIT_SPACING` times the age of its previous one (a newsroom revises a story less and less often), so no
two edits are so close that an hourly crawler could never see the first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.replica.model import PLANNED_ARTICLES, ArticleMeta, rng_for

EDITED_SHARE = 0.3
MAX_EDITS = 3
MIN_EDIT_AGE = timedelta(minutes=10)
MAX_EDIT_AGE = timedelta(days=30)
EDIT_SPACING = 1.5
REMOVED_SHARE = 0.03
MIN_REMOVAL_AGE = timedelta(hours=1)
MAX_REMOVAL_AGE = timedelta(days=30)
RESTORED_SHARE = 0.3
MAX_RESTORE_DELAY = timedelta(days=5)
# How a removed article answers: 404, 410, or a redirect to the edition's home page.
REMOVAL_KINDS = ("404", "410", "home")


@dataclass(frozen=True, slots=True)
class Timeline:
    """One article's life on the site."""

    published: datetime
    edits: tuple[datetime, ...] = ()
    removed_at: datetime | None = None
    removal: str | None = None  # one of REMOVAL_KINDS
    restored_at: datetime | None = None

    def edits_until(self, moment: datetime) -> int:
        return sum(1 for edit in self.edits if edit <= moment)

    def last_change(self, moment: datetime) -> datetime:
        done = [edit for edit in self.edits if edit <= moment]
        return done[-1] if done else self.published

    def gone(self, moment: datetime) -> bool:
        if self.removed_at is None or moment < self.removed_at:
            return False
        return self.restored_at is None or moment < self.restored_at


def _log_uniform(rng_value: float, low: timedelta, high: timedelta) -> timedelta:
    low_s, high_s = low.total_seconds(), high.total_seconds()
    return timedelta(seconds=round(math.exp(math.log(low_s) + rng_value * math.log(high_s / low_s))))


def timeline(seed: int, meta: ArticleMeta, protected: bool = False) -> Timeline:
    """When `meta` is edited and removed; a planned or protected article never changes."""
    if meta.index < PLANNED_ARTICLES or protected:
        return Timeline(meta.published)
    rng = rng_for(seed, "clock", meta.index)
    edits: list[datetime] = []
    if rng.random() < EDITED_SHARE:
        ages = sorted(
            _log_uniform(rng.random(), MIN_EDIT_AGE, MAX_EDIT_AGE) for _ in range(rng.randint(1, MAX_EDITS))
        )
        kept: list[timedelta] = []
        for age in ages:
            if not kept or age >= kept[-1] * EDIT_SPACING:
                kept.append(age)
        edits = [meta.published + age for age in kept]
    if rng.random() >= REMOVED_SHARE:
        return Timeline(meta.published, tuple(edits))
    removed_at = meta.published + _log_uniform(rng.random(), MIN_REMOVAL_AGE, MAX_REMOVAL_AGE)
    restored_at = None
    if rng.random() < RESTORED_SHARE:
        restored_at = removed_at + timedelta(
            seconds=rng.randint(3600, int(MAX_RESTORE_DELAY.total_seconds()))
        )
    return Timeline(
        meta.published,
        tuple(edit for edit in edits if edit < removed_at),
        removed_at,
        rng.choice(REMOVAL_KINDS),
        restored_at,
    )
