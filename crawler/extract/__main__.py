"""``python -m crawler.extract URL [FILE]``: print one saved page's article as a JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from w3lib.encoding import html_to_unicode

from crawler.extract.api import extract
from crawler.extract.errors import ExtractionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.extract", description=__doc__)
    parser.add_argument("url", help="the URL the page was fetched from")
    parser.add_argument("file", nargs="?", type=Path, help="the saved page (default: stdin)")
    args = parser.parse_args(argv)
    raw = args.file.read_bytes() if args.file else sys.stdin.buffer.read()
    # No HTTP header here: w3lib sniffs BOM and <meta charset> as Scrapy would, defaulting to UTF-8.
    _, markup = html_to_unicode(None, raw)
    try:
        article = extract(markup, args.url)
    except ExtractionError as exc:
        print(f"{args.url}: {exc.reason}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(article.to_json_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
