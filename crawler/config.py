"""Validation of numeric settings, shared by the components that reject bad configuration at start-up."""

from __future__ import annotations

import math

from scrapy.settings import BaseSettings


class SettingError(ValueError):
    """A setting has a value the project does not accept; the message names the setting, the value and what is
    accepted (``scrapy crawl`` prints it as one line)."""


def non_negative_int(settings: BaseSettings, name: str, default: int) -> int:
    """``settings[name]`` as a whole number >= 0, or SettingError naming the setting."""
    return _whole_number(settings, name, default, 0, SettingError, "a whole number >= 0")


def seconds_or_off(settings: BaseSettings, name: str, default: float) -> float:
    """``settings[name]`` as a finite number of seconds (0 or less turns the feature off), or SettingError."""
    raw = settings.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingError(f"{name} must be a number of seconds (0 turns it off), got {raw!r}") from None
    if not math.isfinite(value):
        raise SettingError(f"{name} must be a finite number of seconds (0 turns it off), got {raw!r}")
    return value


def positive_int(
    settings: BaseSettings, name: str, default: int, error: type[ValueError] = ValueError, unit: str = ""
) -> int:
    """``settings[name]`` as a whole number above zero, or ``error`` with a message naming the setting."""
    return _whole_number(
        settings, name, default, 1, error, f"a positive whole number{f' of {unit}' if unit else ''}"
    )


def _whole_number(
    settings: BaseSettings, name: str, default: int, minimum: int, error: type[ValueError], what: str
) -> int:
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise error(f"{name} must be {what}, got {raw!r}") from None
    if value < minimum:
        raise error(f"{name} must be {what}, got {raw!r}")
    return value
