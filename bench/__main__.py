"""`python -m bench [NAME...]`: runs every `bench/bench_<name>.py` (or the named ones), prints one table and
writes `bench/results.json` (see `bench/__init__.py` for the module contract)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench.figures import Figure

PREFIX = "bench_"
RESULTS = Path(__file__).with_name("results.json")
_VERDICTS = {True: "met", False: "MISSED", None: ""}


def module_names() -> list[str]:
    package = Path(__file__).parent
    return sorted(
        info.name[len(PREFIX) :]
        for info in pkgutil.iter_modules([str(package)])
        if info.name.startswith(PREFIX)
    )


def run_module(name: str) -> list[Figure]:
    module = importlib.import_module(f"bench.{PREFIX}{name}")
    started = time.perf_counter()
    figures: list[Figure] = module.run()
    print(f"[bench] {name}: {len(figures)} figures in {time.perf_counter() - started:.0f} s", flush=True)
    return figures


def format_value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "value", "min .. max", "target", "verdict")]
    for f in figures:
        spread = f"{format_value(f['min'])} .. {format_value(f['max'])}" if f["min"] != f["max"] else ""
        rows.append(
            (f["figure"], f"{format_value(f['value'])} {f['unit']}", spread, f["target"], _VERDICTS[f["met"]])
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    requested = list(sys.argv[1:] if argv is None else argv)
    available = module_names()
    unknown = sorted(set(requested) - set(available))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr
        )
        return 2
    figures: list[Figure] = []
    failed: list[str] = []
    for name in requested or available:
        try:
            figures += run_module(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
    print(table(figures))
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
