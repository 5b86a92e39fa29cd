"""One check for every setting: read with Scrapy's getters (``settings.getint``, ``getfloat``, ``getbool``...),
rejected at start-up with one message naming the setting, the value given and what is accepted.

Components read their settings in ``from_crawler`` through :func:`setting`, or one of the common checks built on
it below; a bad value raises :class:`SettingError` (or the component's subclass of it), which ``scrapy crawl``
prints as one ``scrapy: error:`` line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from scrapy.settings import BaseSettings

T = TypeVar("T")


class SettingError(ValueError):
    """A setting has a value the project does not accept; the message names the setting, the value and what is
    accepted (``scrapy crawl`` prints it as one line)."""


def _anything(_value: object) -> bool:
    return True


def setting(
    settings: BaseSettings,
    name: str,
    read: Callable[[str, T], T],
    default: T,
    accepted: str,
    valid: Callable[[T], bool] = _anything,
    error: type[ValueError] = SettingError,
) -> T:
    """``read(name, default)`` (a Scrapy getter of ``settings``: ``settings.getint``, ``settings.getfloat``...)
    when it converts and the value is ``valid``; else ``error``: "NAME must be ACCEPTED, got VALUE"."""
    try:
        value = read(name, default)
    except (TypeError, ValueError):
        raise error(_problem(settings, name, default, accepted)) from None
    if not valid(value):
        raise error(_problem(settings, name, default, accepted))
    return value


def _problem(settings: BaseSettings, name: str, default: object, accepted: str) -> str:
    return f"{name} must be {accepted}, got {settings.get(name, default)!r}"


def whole_number(
    settings: BaseSettings,
    name: str,
    default: int,
    minimum: int,
    error: type[ValueError] = SettingError,
    accepted: str | None = None,
) -> int:
    """``settings[name]`` as a whole number >= ``minimum``."""
    what = accepted or f"a whole number >= {minimum}"
    return setting(settings, name, settings.getint, default, what, lambda value: value >= minimum, error)


def non_negative_int(settings: BaseSettings, name: str, default: int) -> int:
    """``settings[name]`` as a whole number >= 0."""
    return whole_number(settings, name, default, 0)


def positive_int(
    settings: BaseSettings, name: str, default: int, error: type[ValueError] = SettingError, unit: str = ""
) -> int:
    """``settings[name]`` as a whole number above zero (of ``unit``, in the message)."""
    accepted = f"a positive whole number{f' of {unit}' if unit else ''}"
    return whole_number(settings, name, default, 1, error, accepted)


def seconds(
    settings: BaseSettings, name: str, default: float, error: type[ValueError] = SettingError
) -> float:
    """``settings[name]`` as a finite number of seconds >= 0."""
    return setting(
        settings,
        name,
        settings.getfloat,
        default,
        "a finite number of seconds >= 0",
        lambda value: math.isfinite(value) and value >= 0,
        error,
    )


def seconds_or_off(settings: BaseSettings, name: str, default: float) -> float:
    """``settings[name]`` as a finite number of seconds (0 or less turns the feature off)."""
    return setting(
        settings,
        name,
        settings.getfloat,
        default,
        "a finite number of seconds (0 turns it off)",
        math.isfinite,
    )


def fraction(
    settings: BaseSettings,
    name: str,
    default: float,
    error: type[ValueError] = SettingError,
    *,
    zero: bool = True,
) -> float:
    """``settings[name]`` as a number in [0, 1], or in (0, 1] when ``zero`` is False."""
    low = "[0" if zero else "(0"

    def inside(value: float) -> bool:
        return (value >= 0 if zero else value > 0) and value <= 1

    return setting(settings, name, settings.getfloat, default, f"a number in {low}, 1]", inside, error)


def flag(settings: BaseSettings, name: str, default: bool, error: type[ValueError] = SettingError) -> bool:
    """``settings[name]`` as a boolean (Scrapy's ``getbool``: 1/0, true/false, True/False)."""
    return setting(settings, name, settings.getbool, default, "1, 0, true or false", error=error)
