"""The closing 责任编辑 line and the ``#`` end-of-article marker."""

from __future__ import annotations

import re

# 责任编辑 (gb), 責任編輯 (b5) and the 编缉/編緝 typo, with or without 责任.
_EDITOR_RE = re.compile(r"^(?:责任|責任)?(?:编辑|編輯|编缉|編緝)\s*[：:]\s*(.+?)\s*#?$")
_END_MARKER_RE = re.compile(r"\s*#$")


def editor_name(line: str) -> str | None:
    """The name on an editor line; None when the line is not one."""
    match = _EDITOR_RE.match(line)
    return match.group(1) if match else None


def strip_end_marker(line: str) -> str:
    return _END_MARKER_RE.sub("", line)
