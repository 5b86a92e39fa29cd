"""`python -m bench [NAME...]`: runs every `bench/bench_<name>.py` (or the named ones), each in a process of its
own, prints one table,
replaces those modules' figures in `bench/results.json` (the others keep their last figures) and appends the
run to `bench/history.jsonl` (see `bench/__init__.py` for the module contract)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import Figure

PREFIX = "bench_"
RESULTS = Path(__file__).with_name("results.json")
HISTORY = Path(__file__).with_name("history.jsonl")
_VERDICTS = {True: "met", False: "MISSED", None: ""}
# How the parent runs one module in a child process (:func:`run_isolated`).
CHILD_FLAG = "--child"


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


def run_isolated(name: str) -> list[Figure]:
    """:func:`run_module` in a process of its own: a module measured after others would inherit their heap (the
    garbage collector's work grows with it) and their imports, which slows some code more than other."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "figures.json"
        done = subprocess.run([sys.executable, "-m", "bench", CHILD_FLAG, name, str(out)], check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bench module {name} exited with status {done.returncode}")
        figures: list[Figure] = json.loads(out.read_text(encoding="utf-8"))
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


def record(figures: dict[str, list[Figure]], results: Path = RESULTS, history: Path = HISTORY) -> None:
    """The modules that ran replace their figures in ``results``; the run is appended to ``history``."""
    latest: dict[str, list[Figure]] = (
        json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
    )
    latest.update(figures)
    ordered = {name: latest[name] for name in sorted(latest)}
    results.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    run = {"ran_at": datetime.now(UTC).isoformat(timespec="seconds"), "figures": figures}
    with history.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(run, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    requested = list(sys.argv[1:] if argv is None else argv)
    if requested[:1] == [CHILD_FLAG]:
        _, name, out = requested
        Path(out).write_text(json.dumps(run_module(name), ensure_ascii=False), encoding="utf-8")
        return 0
    available = module_names()
    unknown = sorted(set(requested) - set(available))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr
        )
        return 2
    figures: dict[str, list[Figure]] = {}
    failed: list[str] = []
    for name in requested or available:
        try:
            figures[name] = run_isolated(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
    print(table([figure for module in figures.values() for figure in module]))
    record(figures)
    print(f"wrote {RESULTS} and appended to {HISTORY}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
