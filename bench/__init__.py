"""Benchmarks (`make bench`, `python -m bench`): one table, `bench/results.json` (each module's latest figures,
keyed by module name) and `bench/history.jsonl` (every run, appended).

Module contract: every module `bench/bench_<name>.py` defines

    def run() -> list[bench.figures.Figure]

and `python -m bench` finds it by name (no registry to edit), runs the modules in name order, prints each
figure as a row of one table and writes them to `bench/results.json` under the module's name (a partial run
replaces only its modules' figures). A module builds its figures with
`bench.figures.measured` (a median of repeated samples, with min and max) or `bench.figures.single` (one
value), and states its target, if any, as a `bench.figures.Target`. Whatever a module needs (a static export
of the replica behind nginx, a crawl in a subprocess with its wall time and peak RSS) is in `bench.server` and
`bench.crawls`. A module that raises is reported as failed and the others still run; a missed target is a
verdict in the table, never an error: benchmarks are not tests.

Every comparison is a ratio measured side by side in the same run (interleaved repetitions), because these
machines are noisy; `python -m bench NAME...` runs only the named modules (e.g. `python -m bench extract`).
"""
