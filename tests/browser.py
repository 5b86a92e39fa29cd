"""A real headless Chromium (Debian's ``chromium``) driven over the Chrome DevTools Protocol, for the report tests.

``load(*paths)`` opens local files one after the other and returns, for each, what a person's browser would have done: every request the page
made, console messages, uncaught exceptions, browser log entries (CSP violations land there), the boxes of
elements of interest and a full-page screenshot (PNG bytes).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from tests.processes import stop

CHROMIUM = "chromium"
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
# After the load event, events still arriving within this quiet period are collected (late console output).
SETTLE_SECONDS = 0.5
VIEWPORT_WIDTH = 1000
VIEWPORT_HEIGHT = 800
BOXES_SCRIPT = """JSON.stringify(Array.from(document.querySelectorAll(%s)).map(e => {
    const r = e.getBoundingClientRect();
    return {id: e.id, x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height};
}))"""


class BrowserError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which(CHROMIUM) is not None


@dataclass
class PageLoad:
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    boxes: dict[str, dict[str, float]] = field(default_factory=dict)
    screenshot: bytes = b""
    text: str = ""  # the page's visible text (document.body.innerText)

    @property
    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors, as text."""
        found = [
            f"console.{m['type']}: {m['args']}"
            for m in self.console
            if m["type"] in ("error", "warning", "assert")
        ]
        found += [f"exception: {e}" for e in self.exceptions]
        found += [f"log {e['level']}: {e['text']}" for e in self.log if e["level"] in ("error", "warning")]
        return found


class Session:
    """One page target's DevTools websocket: commands in order, events collected as they arrive."""

    def __init__(self, ws_url: str) -> None:
        self._ws = websocket.create_connection(ws_url, timeout=COMMAND_TIMEOUT, suppress_origin=True)
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self._ws.close()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = COMMAND_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise BrowserError(f"no {method} within {timeout} s")
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self._ws.recv()))
        self._ws.settimeout(COMMAND_TIMEOUT)

    def drain(self, quiet: float) -> None:
        """Collect events until none arrives for ``quiet`` seconds."""
        self._ws.settimeout(quiet)
        try:
            while True:
                self.events.append(json.loads(self._ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self._ws.settimeout(COMMAND_TIMEOUT)


@contextmanager
def chromium() -> Iterator[str]:
    """A headless Chromium on a free loopback port; yields its DevTools HTTP base URL, stops it on exit."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield f"http://127.0.0.1:{_port(Path(profile), process)}"
        finally:
            stop(process)


def _port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """The port Chromium chose, from the DevToolsActivePort file it writes in its profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited with status {process.returncode}")
        lines = marker.read_text().splitlines() if marker.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)
    raise BrowserError("chromium did not open its DevTools port")


def _page_websocket(base: str) -> str:
    with urllib.request.urlopen(f"{base}/json/list", timeout=COMMAND_TIMEOUT) as response:
        targets = json.loads(response.read())
    page = next(t for t in targets if t.get("type") == "page")
    return str(page["webSocketDebuggerUrl"])


def load(*paths: Path, selector: str = "svg") -> list[PageLoad]:
    """Open each of ``paths`` in turn in one fresh headless Chromium and record what each did (see above)."""
    with chromium() as base:
        session = Session(_page_websocket(base))
        try:
            for domain in ("Page", "Network", "Runtime", "Log"):
                session.send(f"{domain}.enable")
            session.send(
                "Emulation.setDeviceMetricsOverride",
                width=VIEWPORT_WIDTH, height=VIEWPORT_HEIGHT, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            return [_load_one(session, path, selector) for path in paths]
        finally:
            session.close()


def _load_one(session: Session, path: Path, selector: str) -> PageLoad:
    url = path.resolve().as_uri()
    session.drain(SETTLE_SECONDS)
    session.events.clear()  # what the previous page (or the blank start page) did is not this page's
    session.send("Page.navigate", url=url)
    session.wait_for("Page.loadEventFired")
    session.drain(SETTLE_SECONDS)
    found = session.send(
        "Runtime.evaluate", expression=BOXES_SCRIPT % json.dumps(selector), returnByValue=True
    )
    text = session.send("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
    size = session.send("Page.getLayoutMetrics")["cssContentSize"]
    shot = session.send(
        "Page.captureScreenshot",
        format="png", captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    )  # fmt: skip
    session.drain(SETTLE_SECONDS)
    loaded = _record(
        url, session.events, {b["id"]: b for b in json.loads(found["result"]["value"])}, shot["data"]
    )
    loaded.text = str(text["result"].get("value", ""))
    return loaded


def _record(url: str, events: list[dict[str, Any]], boxes: dict[str, Any], png_base64: str) -> PageLoad:
    loaded = PageLoad(url=url, boxes=boxes, screenshot=base64.b64decode(png_base64))
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            loaded.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled":
            loaded.console.append(
                {"type": params["type"], "args": [a.get("value") for a in params.get("args", [])]}
            )
        elif method == "Runtime.exceptionThrown":
            loaded.exceptions.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            loaded.log.append(
                {"level": entry["level"], "text": entry.get("text", ""), "url": entry.get("url")}
            )
    return loaded
