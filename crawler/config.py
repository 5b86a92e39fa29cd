"""Validation of numeric settings, shared by the components that reject bad configuration at start-up."""

from __future__ import annotations

from scrapy.settings import BaseSettings


def positive_int(
    settings: BaseSettings, name: str, default: int, error: type[ValueError] = ValueError, unit: str = ""
) -> int:
    """``settings[name]`` as a whole number above zero, or ``error`` with a message naming the setting."""
    raw = settings.get(name, default)
    what = f"a positive whole number{f' of {unit}' if unit else ''}"
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise error(f"{name} must be {what}, got {raw!r}") from None
    if value <= 0:
        raise error(f"{name} must be {what}, got {raw!r}")
    return value
