"""`python -m bench.readme`: the README's benchmark table, from `bench/results.json` (the latest figures of every
module) and `bench/history.jsonl` (when each module last ran), so the table is pasted, never typed."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.__main__ import HISTORY, RESULTS, format_value
from bench.figures import Figure

_VERDICTS = {True: "met", False: "**MISSED**", None: ""}
HEADER = ("module", "figure", "value", "min .. max", "target", "verdict")


def last_runs(history: Path) -> dict[str, str]:
    """Each module's latest run time (ISO, to the minute) in ``history``."""
    ran: dict[str, str] = {}
    if history.exists():
        for line in history.read_text(encoding="utf-8").splitlines():
            run = json.loads(line)
            for module in run["figures"]:
                ran[module] = run["ran_at"][:16].replace("T", " ")
    return ran


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rows(results: dict[str, list[Figure]], ran: dict[str, str]) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    for module in sorted(results):
        label = f"`{module}` ({ran[module]})" if module in ran else f"`{module}`"
        for f in results[module]:
            spread = f"{format_value(f['min'])} .. {format_value(f['max'])}" if f["min"] != f["max"] else ""
            value = f"{format_value(f['value'])} {f['unit']}".strip()
            table.append((label, _cell(f["figure"]), value, spread, f["target"], _VERDICTS[f["met"]]))
            label = ""
    return table


def markdown(table: Sequence[tuple[str, ...]]) -> str:
    lines = [f"| {' | '.join(HEADER)} |", f"|{' --- |' * len(HEADER)}"]
    lines += [f"| {' | '.join(row)} |" for row in table]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    results_path = Path(args[0]) if args else RESULTS
    history_path = Path(args[1]) if len(args) > 1 else HISTORY
    results: dict[str, list[Figure]] = json.loads(results_path.read_text(encoding="utf-8"))
    print(markdown(rows(results, last_runs(history_path))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
