"""The replica's static export served by nginx on 127.0.0.1, so the server is never the crawl's bottleneck.

nginx comes from Debian's packages (installed here if missing: the script runs as root on CI and bench
machines) and runs in the foreground with its own configuration, pid, logs and temp paths in a scratch
directory, so it never touches a system nginx.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import stop
from tests.replica.export import file_for
from tests.replica.site import Site

NGINX_PACKAGES = ("nginx-light", "nginx")
WRK_PACKAGE = "wrk"
START_TIMEOUT = 10.0
POLL_SECONDS = 0.05
HTTP_PORT = 80
# Only what the articles spider fetches: tag pages and feeds are costly to render and never requested.
_SKIPPED_PARTS = ("/tag/", "/feed", ".xml")
_CONFIG = """\
{user}
worker_processes 1;
daemon off;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format paths '$request_uri';
    access_log {scratch}/access.log paths;
    client_body_temp_path {scratch}/body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        charset utf-8;
        charset_types text/html text/xml application/rss+xml;
        types {{ text/html htm html; application/rss+xml xml; text/plain txt; }}
        location / {{ try_files $uri $uri/index.html $uri/index.xml =404; }}{home}
    }}
}}
"""


def export_for_crawl(
    site: Site,
    root: Path,
    editions: tuple[str, ...] = ("gb",),
    rewrite: Callable[[bytes], bytes] | None = None,
) -> list[str]:
    """Write the pages a crawl of `editions` fetches (robots, home, lists, articles), each through `rewrite`
    if given; returns their paths."""
    prefixes = tuple(f"/{edition}/" for edition in editions)
    paths = [
        path
        for path in site.static_paths()
        if path == "/robots.txt" or (path.startswith(prefixes) and not any(p in path for p in _SKIPPED_PARTS))
    ]
    for path in paths:
        target = file_for(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = site.get(path).body
        target.write_bytes(body if rewrite is None else rewrite(body))
    return paths


def ensure_installed(command: str, packages: tuple[str, ...]) -> str:
    """The path of `command`, installing the first available Debian package that provides it."""
    found = shutil.which(command) or _sbin(command)
    if found is not None:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    for package in packages:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, check=False).returncode == 0:
            break
    found = shutil.which(command) or _sbin(command)
    if found is None:
        raise RuntimeError(f"could not install {command} from {', '.join(packages)}")
    return found


def _sbin(command: str) -> str | None:
    candidate = Path("/usr/sbin") / command
    return str(candidate) if candidate.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=POLL_SECONDS):
                return
        except OSError:
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"nginx did not listen on port {port} within {START_TIMEOUT:g} s")


@dataclass(frozen=True, slots=True)
class StaticServer:
    """A running nginx: its base URL and the log of every request path it served (to replay a crawl)."""

    base: str
    access_log: Path

    def log_offset(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def paths_since(self, offset: int) -> list[str]:
        with self.access_log.open("rb") as log:
            log.seek(offset)
            return log.read().decode().split()


@contextmanager
def nginx(root: Path, port: int | None = None, home: str | None = None) -> Iterator[StaticServer]:
    """Serve `root` (a static export) on 127.0.0.1 until the block exits: on `port`, a free one by default;
    `home` makes `/` redirect there."""
    binary = ensure_installed("nginx", NGINX_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as scratch:
        port = _free_port() if port is None else port
        # As root, nginx workers would drop to `nobody`, who cannot read a private temp directory.
        user = "user root;" if os.geteuid() == 0 else ""
        config = Path(scratch) / "nginx.conf"
        redirect = "" if home is None else f"\n        location = / {{ return 301 {home}; }}"
        config.write_text(
            _CONFIG.format(user=user, scratch=scratch, port=port, root=root.resolve(), home=redirect)
        )
        log = Path(scratch) / "error.log"
        command = [binary, "-c", str(config), "-p", scratch, "-e", str(log)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process, log)
            base = "http://127.0.0.1" if port == HTTP_PORT else f"http://127.0.0.1:{port}"
            yield StaticServer(base, Path(scratch) / "access.log")
        finally:
            stop(process)
