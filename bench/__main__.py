"""`make bench` entry point. The benchmark issue fills this in; until then it says so and succeeds."""

from __future__ import annotations


def main() -> int:
    print("no benchmarks yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
