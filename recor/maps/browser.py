"""Open a map in headless Chromium and report what happened (tests and benchmarks).

Drives Chromium through the DevTools protocol over a websocket (``websocket-client``), with
no other driver and nothing downloaded. The report lists console errors, uncaught
exceptions, every request the page made (local or not), the feature counts the page
publishes (``window.recorMap``) and the time until the map was drawn.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "Browser", "PageReport", "is_local_url"]

CHROMIUM = "/usr/bin/chromium"

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    # belt and braces: even if a page asked for a remote host, it could not resolve it
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--window-size=1280,900",
)

_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-error:", "devtools:")


def is_local_url(url: str) -> bool:
    """True when fetching ``url`` does not leave the machine."""
    return url.startswith(_LOCAL_SCHEMES)


@dataclass
class PageReport:
    """What a page did while it was opened."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ready: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    draw_seconds: float = float("nan")

    @property
    def remote_requests(self) -> list[str]:
        """Requests that would leave the machine."""
        return [url for url in self.requests if not is_local_url(url)]


class Browser:
    """A headless Chromium with one page, driven over the DevTools protocol.

    Use as a context manager; the process and its profile folder are removed on exit.
    """

    def __init__(self, executable: str = CHROMIUM, *, timeout_s: float = 60.0) -> None:
        import websocket  # websocket-client; a test/benchmark dependency only

        self._profile = Path(tempfile.mkdtemp(prefix="recor-chromium-"))
        self._process = subprocess.Popen(
            [executable, *_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.timeout_s = timeout_s
        port = self._wait_for_port()
        browser_ws = self._browser_endpoint(port)
        self._ws = websocket.create_connection(browser_ws, timeout=timeout_s, suppress_origin=True)
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def _wait_for_port(self) -> int:
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self._process.returncode}")
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def _browser_endpoint(self, port: int) -> str:
        path = (self._profile / "DevToolsActivePort").read_text().split()[1]
        return f"ws://127.0.0.1:{port}{path}"

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def call(self, method: str, params: dict | None = None) -> dict:
        """Send one DevTools command to the page and return its result."""
        return self._call(method, params, self._session)

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-serialisable values)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open_map(self, path: Path | str, *, timeout_s: float | None = None) -> PageReport:
        """Open a map file, wait until it is drawn, and report.

        The draw time runs from the navigation to the first frame painted after every
        layer was built (``window.recorMap.ready``).
        """
        url = Path(path).resolve().as_uri()
        self._events.clear()
        started = time.perf_counter()
        self.call("Page.navigate", {"url": url})
        report = PageReport(url=url)
        deadline = started + (timeout_s or self.timeout_s)
        while time.perf_counter() < deadline:
            if self.evaluate("!!(window.recorMap && window.recorMap.ready)"):
                report.ready = True
                report.draw_seconds = time.perf_counter() - started
                break
            time.sleep(0.02)
        if report.ready:
            report.counts = self.evaluate("window.recorMap.counts")
        self.collect(report)
        return report

    def collect(self, report: PageReport) -> PageReport:
        """Add the events received so far (console, exceptions, requests) to a report."""
        with contextlib.suppress(RuntimeError):
            self.evaluate("0")  # flush pending events
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
                report.console_errors.append(" ".join(texts))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                report.console_errors.append(params["entry"].get("text", ""))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                report.exceptions.append(
                    details.get("exception", {}).get("description", details.get("text", ""))
                )
            elif method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
        self._events.clear()
        return report

    def screenshot(self, path: Path | str) -> Path:
        """Save a PNG of the page."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
        return target

    def close(self) -> None:
        """Stop Chromium and remove its profile."""
        with contextlib.suppress(Exception):
            self._ws.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
