"""A real headless browser for tests: Debian's chromium, driven over the DevTools protocol.

Chromium listens on 127.0.0.1 only (a port it picks, read from its profile folder); the test
talks to the page over a websocket. Opening a file collects everything the browser would show
a developer as an error: uncaught exceptions, console.error, and the browser's own error log
(a resource that failed to load, a Content-Security-Policy violation). Tests skip, saying why,
when chromium is not installed (`make test` installs it when run as root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser")
# a bound on waiting for the browser, so a broken one fails the test instead of hanging it
PATIENCE = 120.0


def chromium_or_skip() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: `make test` installs it (apt-get) when run as "
                "root; or install Debian's `chromium` package by hand")
    raise AssertionError  # not reached


@dataclass
class Page:
    """A loaded page: the errors it caused, and a way to ask its DOM."""

    browser: Browser
    errors: list[str] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        answer = self.browser.call("Runtime.evaluate",
                                   {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression!r} failed in the page: "
                                 f"{answer['exceptionDetails']}")
        return answer["result"].get("value")

    def text(self, selector: str) -> str:
        """The text a person sees in the first element matching a CSS selector."""
        found = self.evaluate(f"(function () {{ var e = document.querySelector("
                              f"{json.dumps(selector)}); return e ? e.innerText : null; }})()")
        assert found is not None, f"nothing in the page matches {selector}"
        return str(found)


class Browser:
    """One chromium process and one tab, for as many pages as a test opens."""

    def __init__(self, profile: Path) -> None:
        import websocket  # the test extra websocket-client

        executable = chromium_or_skip()
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [executable, "--headless", "--disable-gpu", "--no-sandbox",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self._port(profile / "DevToolsActivePort")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=PATIENCE) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"],
                                                  timeout=PATIENCE, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _port(self, announced: Path) -> int:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chromium ended at start (exit {self.process.returncode})")
            with suppress(OSError, ValueError, IndexError):
                return int(announced.read_text().splitlines()[0])
            time.sleep(0.05)
        raise AssertionError("chromium did not open its DevTools port")

    def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.socket.recv())
        return message

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command and wait for its answer; events that come first are kept."""
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method,
                                     "params": params or {}}))
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def open(self, path: Path) -> Page:
        """Load a file as a person opening it would (file://), wait for its load event,
        and gather the errors it caused."""
        self.events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            message = self._receive()
            if "method" in message:
                self.events.append(message)
        page = Page(self)
        page.evaluate("document.readyState")  # a round trip: what the load logged is in
        page.errors = [error for e in self.events if (error := _error_of(e))]
        return page

    def close(self) -> None:
        with suppress(Exception):
            self.socket.close()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: it and its helpers
        try:
            self.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _error_of(event: dict[str, Any]) -> str | None:
    """The text of an event that is an error a developer would see, else None."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return str(details.get("exception", {}).get("description") or details.get("text"))
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return "console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                            for a in params.get("args", []))
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        return f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
    return None
