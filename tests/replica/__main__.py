"""`python -m tests.replica`: serve the replica, print its truth, or export it as static files.

    python -m tests.replica --port PORT --articles N [--seed S] [--revision K] [--clock ISO] [--faults] [--redesign]
                            [--blocks some|all]
                            [--home-era current|2018] [--list-markup known|unknown]
                            [--unknown-layouts] [--half-broken]
    python -m tests.replica truth --articles N [--seed S] [--revision K] [--unknown-layouts] [--half-broken]
    python -m tests.replica export DIR --articles N [--seed S] [--revision K] [--unknown-layouts] [--half-broken]

See `tests.replica.export` for the nginx configuration that serves an export.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tests.replica.export import export
from tests.replica.site import HOME_ERAS, LIST_MARKUPS, Site


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--articles", type=int, default=200, help="articles per edition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--revision", type=int, default=0, help="rounds of edits applied to the site")
    parser.add_argument(
        "--clock",
        type=_instant,
        default=None,
        help="serve the site as it stands at this UTC instant (ISO 8601): published, edited, removed by then",
    )
    parser.add_argument(
        "--unknown-layouts", action="store_true", help="2 in 50 articles as video or 文化网 pages"
    )
    parser.add_argument(
        "--half-broken", action="store_true", help="article bodies split across two containers"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.replica", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--redesign", action="store_true", help="article markup no parser knows")
    parser.add_argument(
        "--blocks", choices=("some", "all"), default="", help="bot walls: on a few articles, or on every page"
    )
    parser.add_argument("--slow-seconds", type=float, default=40.0, help="delay of the slow-page fault")
    parser.add_argument(
        "--home-era", choices=HOME_ERAS, default="current", help="2018: the Foundation-theme home"
    )
    parser.add_argument(
        "--list-markup", choices=LIST_MARKUPS, default="known", help="unknown: a list markup no parser knows"
    )
    _site_options(parser)
    return parser


def _command_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m tests.replica {command}")
    if command == "export":
        parser.add_argument("directory", type=Path)
    _site_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in ("truth", "export"):
        command = args_list.pop(0)
        args = _command_parser(command).parse_args(args_list)
        site = Site(
            articles=args.articles,
            seed=args.seed,
            revision=args.revision,
            unknown_layouts=args.unknown_layouts,
            half_broken=args.half_broken,
            clock=args.clock,
        )
        if command == "truth":
            for row in site.truth():
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            count = export(site, args.directory)
            print(f"exported {count} files to {args.directory}")
        return 0
    args = _parser().parse_args(args_list)
    site = Site(
        articles=args.articles,
        seed=args.seed,
        revision=args.revision,
        faults=args.faults,
        redesign=args.redesign,
        unknown_layouts=args.unknown_layouts,
        half_broken=args.half_broken,
        clock=args.clock,
        blocks=args.blocks,
        slow_seconds=args.slow_seconds,
        home_era=args.home_era,
        list_markup=args.list_markup,
    )
    from tests.replica.server import serve  # noqa: PLC0415 (the reactor is only for serving)

    serve(site, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
