"""`python -m bench.peer_trafilatura HOMEPAGE OUTPUT THREADS`: what a trafilatura user runs to archive a site.

Its focused crawler from the home page until the site is exhausted, then every known page downloaded
(`THREADS` at a time) and extracted with metadata, one JSON object per extracted page in OUTPUT. Its
command-line crawler stops at 30 pages, hence the Python API; its SSRF protection refuses 127.0.0.1 and is
turned off, as is the politeness sleep (the server is ours).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trafilatura import bare_extraction
from trafilatura.downloads import buffered_downloads
from trafilatura.settings import Extractor, use_config
from trafilatura.spider import focused_crawler

# Beyond any replica: the crawl ends when the site is exhausted, not at a cap.
UNBOUNDED = 10**9


def main(homepage: str, output: Path, threads: int) -> None:
    config = use_config()
    config.set("DEFAULT", "SSRF_PROTECTION", "off")
    config.set("DEFAULT", "SLEEP_TIME", "0")
    _, known = focused_crawler(homepage, max_seen_urls=UNBOUNDED, max_known_urls=UNBOUNDED, config=config)
    with output.open("w", encoding="utf-8") as out:
        for url, html in buffered_downloads(known, threads, options=Extractor(config=config)):
            if not html:
                continue
            document = bare_extraction(html, url=url, with_metadata=True, config=config)
            if document is not None:
                fields = document if isinstance(document, dict) else document.as_dict()
                row = {key: fields.get(key) for key in ("title", "date", "author", "text")}
                out.write(json.dumps({"url": url, **row}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
