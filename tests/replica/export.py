"""Writes the fault-free replica as static files, so benchmarks can serve it with nginx.

Layout: `DIR/robots.txt`, `DIR/gb/index.html` (home), `DIR/gb/nsc413.htm`, `DIR/gb/nsc413_2.htm`,
`DIR/gb/nsc413.xml`, `DIR/gb/feed/index.xml`, `DIR/gb/tag/<tag, decoded UTF-8>.html`, `DIR/gb/YY/M/D/nID.htm`,
the same under `b5/`. nginx decodes percent-encoded URIs before mapping them to files, so tag files carry the
decoded name. A server block that serves it:

    server {
        listen 127.0.0.1:8080;
        root /path/to/DIR;
        charset utf-8;
        charset_types text/html text/xml application/rss+xml;
        types { text/html htm html; application/rss+xml xml; text/plain txt; }
        location / { try_files $uri $uri/index.html $uri/index.xml =404; }
    }
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from tests.replica.site import Site


def file_for(root: Path, path: str) -> Path:
    relative = unquote(path).lstrip("/")
    if path.endswith("/"):
        return root / relative / "index.html"
    if path.endswith("/feed"):
        return root / relative / "index.xml"
    return root / relative


def export(site: Site, root: Path) -> int:
    """Write every page of the site under `root`; returns the number of files written."""
    count = 0
    for path in site.static_paths():
        page = site.get(path)
        if page.status != 200:
            raise RuntimeError(f"export: {path} answered {page.status}")
        target = file_for(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.body)
        count += 1
    return count
