"""``python -m crawler.extract [--generic] URL [FILE]``: print the article on a saved page as a JSON object.

Reads the page as bytes (FILE, default stdin) and decodes it as a browser would (BOM, ``<meta>``, XML
declaration, then detection). The site's own parsers read its article pages; any other page goes to the
general extractor (``--generic`` sends every page there).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crawler.extract.api import extract_page
from crawler.extract.errors import ExtractionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.extract", description=__doc__)
    parser.add_argument("--generic", action="store_true", help="use the general extractor for every page")
    parser.add_argument("url", help="the URL the page was fetched from")
    parser.add_argument("file", nargs="?", type=Path, help="the saved page (default: stdin)")
    parser.add_argument("--content-type", help="the HTTP Content-Type header the page came with")
    args = parser.parse_args(argv)
    raw = args.file.read_bytes() if args.file else sys.stdin.buffer.read()
    try:
        article = extract_page(raw, args.url, args.content_type, generic=args.generic)
    except ExtractionError as exc:
        print(f"{args.url}: {exc.reason}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(article.to_json_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
