"""A side-by-side diff people can read: paragraphs aligned, then characters (Chinese has no spaces to split on).

Returns HTML table rows; every piece of text is escaped. Long runs of unchanged paragraphs are folded into one
row that says how many there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from difflib import SequenceMatcher
from html import escape

# Unchanged paragraphs shown around a change; the rest of a run of unchanged ones is folded.
CONTEXT = 1
# Below this similarity two paragraphs are shown as one removed and one added whole, not as a mesh of
# character changes that nobody can read.
REWRITTEN_BELOW = 0.4


def inline_diff(old: str, new: str) -> tuple[str, str]:
    """``old`` with its removed characters in ``<del>`` and ``new`` with its added ones in ``<ins>``."""
    left, right = [], []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < REWRITTEN_BELOW:
        return f"<del>{escape(old)}</del>", f"<ins>{escape(new)}</ins>"
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(escape(old[i1:i2]))
            right.append(escape(new[j1:j2]))
            continue
        if i2 > i1:
            left.append(f"<del>{escape(old[i1:i2])}</del>")
        if j2 > j1:
            right.append(f"<ins>{escape(new[j1:j2])}</ins>")
    return "".join(left), "".join(right)


def _row(left: str, right: str, kind: str) -> str:
    return f'<tr class="{kind}"><td class="old">{left}</td><td class="new">{right}</td></tr>'


def _folded(count: int) -> str:
    return f'<tr class="folded"><td colspan="2">… {count} unchanged paragraph{"s" * (count != 1)} …</td></tr>'


def diff_rows(old: str, new: str) -> Iterator[str]:
    """Table rows comparing two texts paragraph by paragraph (lines), changed paragraphs character by character."""
    a, b = old.split("\n"), new.split("\n")
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            yield from _unchanged(a[i1:i2], first=index == 0, last=index == len(opcodes) - 1)
            continue
        pairs = min(i2 - i1, j2 - j1)
        for k in range(pairs):
            yield _row(*inline_diff(a[i1 + k], b[j1 + k]), "changed")
        for line in a[i1 + pairs : i2]:
            yield _row(f"<del>{escape(line)}</del>", "", "removed")
        for line in b[j1 + pairs : j2]:
            yield _row("", f"<ins>{escape(line)}</ins>", "added")


def _unchanged(lines: list[str], *, first: bool, last: bool) -> Iterator[str]:
    """Unchanged paragraphs: only CONTEXT of them next to each change, the others folded."""
    head = [] if first else lines[:CONTEXT]
    tail = [] if last else lines[max(len(head), len(lines) - CONTEXT) :]
    folded = len(lines) - len(head) - len(tail)
    for line in head:
        yield _row(escape(line), escape(line), "same")
    if folded:
        yield _folded(folded)
    for line in tail:
        yield _row(escape(line), escape(line), "same")


def side_by_side(old: str, new: str, old_label: str, new_label: str) -> str:
    head = f"<thead><tr><th>{escape(old_label)}</th><th>{escape(new_label)}</th></tr></thead>"
    return f'<table class="diff">{head}<tbody>{"".join(diff_rows(old, new))}</tbody></table>'
