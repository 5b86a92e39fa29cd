"""`python -m bench NAME`: a partial run replaces only its modules' figures and every run is kept in the history."""

from __future__ import annotations

import json
from pathlib import Path

from bench import readme
from bench.__main__ import record
from bench.figures import Figure


def figure(name: str, value: float) -> Figure:
    return {
        "figure": name,
        "value": value,
        "unit": "s",
        "target": "",
        "met": None,
        "min": value,
        "max": value,
    }


def test_a_partial_run_replaces_its_modules_figures_and_appends_to_the_history(tmp_path: Path) -> None:
    results, history = tmp_path / "results.json", tmp_path / "history.jsonl"
    record({"crawl": [figure("crawl", 1.0)], "extract": [figure("extract", 2.0)]}, results, history)
    record({"extract": [figure("extract", 3.0)]}, results, history)
    latest = json.loads(results.read_text(encoding="utf-8"))
    assert latest == {"crawl": [figure("crawl", 1.0)], "extract": [figure("extract", 3.0)]}
    runs = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    assert [sorted(run["figures"]) for run in runs] == [["crawl", "extract"], ["extract"]]
    assert runs[1]["figures"]["extract"][0]["value"] == 3.0
    assert all(run["ran_at"] for run in runs)


def test_the_readme_table_lists_every_figure_under_its_module_with_its_last_run(tmp_path: Path) -> None:
    results, history = tmp_path / "results.json", tmp_path / "history.jsonl"
    missed: Figure = {**figure("crawl | full / bare", 0.3), "target": ">= 0.5", "met": False, "max": 0.4}
    record({"crawl": [missed, figure("crawl pages", 377.0)]}, results, history)
    record({"extract": [figure("extract", 2.0)]}, results, history)
    table = readme.rows(json.loads(results.read_text(encoding="utf-8")), readme.last_runs(history))
    runs = [json.loads(line)["ran_at"][:16].replace("T", " ") for line in history.read_text().splitlines()]
    assert table == [
        (f"`crawl` ({runs[0]})", "crawl \\| full / bare", "0.3 s", "0.3 .. 0.4", ">= 0.5", "**MISSED**"),
        ("", "crawl pages", "377 s", "", "", ""),
        (f"`extract` ({runs[1]})", "extract", "2 s", "", "", ""),
    ]
    lines = readme.markdown(table).splitlines()
    assert lines[0].startswith("| module | figure |") and len(lines) == 2 + len(table)
