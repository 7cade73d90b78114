"""Real-browser fixtures: `streamlit run app.py` on 127.0.0.1 and Debian's headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "screenshots"
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 40


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch the system Chromium (no downloaded browser), headless, without background network traffic."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A laptop-sized window, so screenshots show what a user on a meeting-room screen sees."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The app served by `streamlit run` on a free local port; stopped after the session."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                    raise RuntimeError(f"streamlit did not start on {url}:\n{output}") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def shoot(page, name: str, *, docs: bool = False, max_height: int = 6000) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot of the whole page to test-results/screenshots/ (and docs/ for the README ones).

    Streamlit scrolls inside its main container, so a "full page" screenshot would only show the window:
    the window is made as tall as the content (up to `max_height`) for the shot, then restored."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.mouse.move(300, 5)  # the empty header left of the content: no hover highlight in the picture
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 0")
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], min(int(height), max_height))}
    )
    page.wait_for_timeout(500)  # charts re-layout to the new window size
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    if docs:
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"))
    page.set_viewport_size(size)
    return path
