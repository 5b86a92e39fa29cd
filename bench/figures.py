"""Figures: what each benchmark module returns, and the row of `bench/results.json` it becomes."""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict


class Figure(TypedDict):
    """One row of `bench/results.json`; `met` is None when the figure has no target (reported for context)."""

    figure: str
    value: float
    unit: str
    target: str
    met: bool | None
    min: float
    max: float


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on the median, e.g. `Target(">=", 0.9)`."""

    comparison: str
    bound: float

    def __post_init__(self) -> None:
        if self.comparison not in _COMPARISONS:
            raise ValueError(f"unknown comparison {self.comparison!r}")

    def met_by(self, value: float) -> bool:
        return _COMPARISONS[self.comparison](value, self.bound)

    def __str__(self) -> str:
        return f"{self.comparison} {self.bound:g}"


def measured(name: str, samples: Sequence[float], unit: str, target: Target | None = None) -> Figure:
    """The median of repeated samples, with their min and max."""
    if not samples:
        raise ValueError(f"{name}: no samples")
    value = statistics.median(samples)
    return Figure(
        figure=name,
        value=value,
        unit=unit,
        target="" if target is None else str(target),
        met=None if target is None else target.met_by(value),
        min=min(samples),
        max=max(samples),
    )


def single(name: str, value: float, unit: str, target: Target | None = None) -> Figure:
    """A figure measured once (a deterministic size or count): min = max = value."""
    return measured(name, [value], unit, target)
