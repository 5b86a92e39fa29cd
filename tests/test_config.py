"""The one settings check (crawler/config.py): Scrapy's getters, one message naming the setting, the value given
and what is accepted, in the error class the component asks for."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from scrapy.settings import Settings

from crawler.config import (
    SettingError,
    flag,
    fraction,
    non_negative_int,
    positive_int,
    seconds,
    seconds_or_off,
    setting,
    whole_number,
)


class ComponentError(SettingError):
    """A component's own error class: still a SettingError, as `scrapy crawl` expects."""


def test_a_value_that_converts_and_passes_is_returned_and_the_default_applies_when_unset() -> None:
    settings = Settings({"A": "7", "B": "0.25", "C": "true"})
    assert whole_number(settings, "A", 1, 0) == 7
    assert whole_number(settings, "UNSET", 3, 0) == 3
    assert fraction(settings, "B", 0.5) == 0.25
    assert flag(settings, "C", False) is True
    assert seconds_or_off(settings, "UNSET", 60.0) == 60.0


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (lambda s: non_negative_int(s, "X", 0), "three", "X must be a whole number >= 0, got 'three'"),
        (lambda s: non_negative_int(s, "X", 0), "-1", "X must be a whole number >= 0, got '-1'"),
        (
            lambda s: positive_int(s, "X", 1, unit="bytes"),
            "0",
            "X must be a positive whole number of bytes, got '0'",
        ),
        (lambda s: positive_int(s, "X", 1), "1.5", "X must be a positive whole number, got '1.5'"),
        (lambda s: seconds(s, "X", 1.0), "inf", "X must be a finite number of seconds >= 0, got 'inf'"),
        (lambda s: seconds(s, "X", 1.0), "-0.5", "X must be a finite number of seconds >= 0, got '-0.5'"),
        (
            lambda s: seconds_or_off(s, "X", 1.0),
            "soon",
            "X must be a finite number of seconds (0 turns it off), got 'soon'",
        ),
        (lambda s: fraction(s, "X", 0.5), "nan", "X must be a number in [0, 1], got 'nan'"),
        (lambda s: fraction(s, "X", 0.5), "1.01", "X must be a number in [0, 1], got '1.01'"),
        (lambda s: fraction(s, "X", 0.5, zero=False), "0", "X must be a number in (0, 1], got '0'"),
        (lambda s: flag(s, "X", True), "maybe", "X must be 1, 0, true or false, got 'maybe'"),
    ],
)
def test_a_bad_value_is_one_message_naming_setting_value_and_what_is_accepted(
    check: Callable[[Settings], object], value: str, message: str
) -> None:
    with pytest.raises(SettingError) as raised:
        check(Settings({"X": value}))
    assert str(raised.value) == message


def test_the_component_chooses_the_error_class() -> None:
    with pytest.raises(ComponentError, match="X must be a number in"):
        fraction(Settings({"X": "2"}), "X", 0.5, ComponentError)


def test_any_getter_and_condition() -> None:
    settings = Settings({"X": "4"})
    assert setting(settings, "X", settings.getint, 0, "an even number", lambda n: n % 2 == 0) == 4
    with pytest.raises(SettingError) as raised:
        setting(settings, "X", settings.getint, 0, "an odd number", lambda n: n % 2 == 1)
    assert str(raised.value) == "X must be an odd number, got '4'"
    assert math.isinf(setting(settings, "Y", settings.getfloat, math.inf, "anything"))
