"""What a user waits for in the browser: the app, already running, driven in headless Chromium (Playwright).

    python benchmarks/browser_runs.py --url http://localhost:8501 [--json] [--pages overview,nurture]

Start the app first (`streamlit run app.py -- --data DIR`). The browser opens the Definitions page, which
computes nothing (`first_load_s`: from opening the URL to the end of the app's last run by then). Then for each
page, in menu order: opening it from the menu (`open_s`) and, on the pages with the month picker, two months
picked two and four months before the last one picked on any page (`month_new_s`, the slower) and back to each of
them (`month_back_s`, the slower). A month is picked as at the keyboard (the picker opened, the month typed,
Enter); each pick is checked to have taken.

Each time runs from the input event itself (the click on the menu, the Enter key: the browser's own time stamp,
so Playwright's checks before it acts do not count) to the end of the app's run as the page reports it
(`data-test-script-state`). `drawn_s` is the latest end, over the page's actions, of the browser's long tasks
(50 ms of work or more) within `--settle` seconds after a run ended, counted from that action's input: charts
still drawing (`first_drawn_s` for the first load). Seconds of wall clock. The server's caches are shared by
every browser session, so on a server that has shown those months before the figures are warmer than a first
visit; `page_runs.py` times each page's runs on a server with nothing computed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.page_runs import OTHER_PAGES, PICKER_PAGES, print_pages  # noqa: E402

WAIT_S = 120
"""The longest wait for a run to end before the measurement stops."""

WATCH = """
window.__states = []; window.__long = []; window.__inputs = [];
new MutationObserver(records => records.forEach(r => window.__states.push(
  [performance.now(), r.target.getAttribute('data-test-script-state')])))
  .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
new PerformanceObserver(list => list.getEntries().forEach(e => window.__long.push(e.startTime + e.duration)))
  .observe({type: 'longtask', buffered: true});
for (const kind of ['pointerdown', 'keydown']) {
  addEventListener(kind, e => window.__inputs.push(e.timeStamp), true);
}
"""
"""Run in the page before its own scripts: records each change of the app's run state, the end of each long task
and the time of each click and key press, all in the page's own clock (0 = the start of the navigation)."""

RUN = """([before, settle]) => {
  const after = window.__states.filter(e => e[0] > before);
  const start = after.findIndex(e => e[1] === 'running');
  const end = start < 0 ? undefined : after.slice(start).find(e => e[1] === 'notRunning');
  if (!end) return null;
  const input = Math.max(before, ...window.__inputs.filter(t => t > before && t <= after[start][0]));
  const drawn = Math.max(end[0], ...window.__long.filter(t => t > end[0] && t <= end[0] + settle));
  return {input, end: end[0], drawn, settled: performance.now() >= end[0] + settle};
}"""
"""After `before` (ms): the last input before the first run that started, that run's end, and the end of the last
long task within `settle` ms after it; null while no run has ended; `settled` once `settle` ms have passed."""


def _now(page: Page) -> float:
    return page.evaluate("() => performance.now()")


def _timed(page: Page, before: float, settle: float) -> tuple[float, float]:
    """Seconds from the input that started the first run after `before` to that run's end, and to the end of the
    last long task within `settle` seconds after it."""
    deadline = time.monotonic() + WAIT_S
    while not (run := page.evaluate(RUN, [before, settle * 1000])) or not run["settled"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no run ended and settled within {WAIT_S} s")
        time.sleep(0.02)
    return round((run["end"] - run["input"]) / 1000, 3), round((run["drawn"] - run["input"]) / 1000, 3)


def _open(page: Page, title: str, settle: float) -> tuple[float, float]:
    before = _now(page)
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    return _timed(page, before, settle)


def _month_picker(page: Page) -> Any:
    return page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.get_by_role("combobox")


def _earlier_months(page: Page) -> Iterator[str]:
    """The labels of every second month before the one the month picker shows, newest first: from Oct 2026,
    Aug 2026, Jun 2026... (none the month before one shown, which the cards compute as their comparison)."""
    shown = datetime.strptime(_month_picker(page).input_value().strip(), "%b %Y")
    year, month = shown.year, shown.month
    while True:
        month -= 2
        if month < 1:
            year, month = year - 1, month + 12
        yield datetime(year, month, 1).strftime("%b %Y")


def _pick_month(page: Page, label: str, settle: float) -> tuple[float, float]:
    _month_picker(page).click()
    page.keyboard.type(label)
    page.get_by_role("option", name=label, exact=True).wait_for()
    before = _now(page)
    page.keyboard.press("Enter")
    seconds = _timed(page, before, settle)
    if _month_picker(page).input_value().strip() != label:
        raise RuntimeError(f"the month picker did not take {label}")
    return seconds


def measure_browser(url: str, pages: list[str], chromium: str | None, settle: float) -> dict[str, Any]:
    """Every figure of the module docstring for the app at `url`, for `pages` (file names: "overview", ...)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(WATCH)
            page.goto(f"{url.rstrip('/')}/definitions")
            page.get_by_test_id("stSidebarNavLink").first.wait_for(timeout=WAIT_S * 1000)
            load, load_drawn = _timed(page, 0.0, settle)
            # the end of the last run by then: a server's very first request for a page may run the app twice
            runs = page.evaluate("() => window.__states.filter(e => e[1] === 'notRunning').map(e => e[0])")
            load = max(load, round(max(runs) / 1000, 3))
            fresh = _earlier_months(page)
            out: dict[str, dict[str, float]] = {}
            for name in pages:
                opened, drawn = _open(page, name.capitalize(), settle)
                figures = {"open_s": opened, "drawn_s": drawn}
                if name in PICKER_PAGES:
                    new = [next(fresh), next(fresh)]
                    timings = [_pick_month(page, label, settle) for label in (*new, *new)]
                    figures["month_new_s"] = max(t[0] for t in timings[:2])
                    figures["month_back_s"] = max(t[0] for t in timings[2:])
                    figures["drawn_s"] = max(drawn, *(t[1] for t in timings))
                out[name] = figures
            return {"url": url, "first_load_s": load, "first_drawn_s": max(load, load_drawn), "pages": out}
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/browser_runs.py", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the running app, e.g. http://localhost:8501")
    parser.add_argument("--pages", help="comma-separated pages (default: every page, in menu order)")
    parser.add_argument("--chromium", help="a Chromium executable (default: Playwright's own)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to watch for drawing after a run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    known = (*PICKER_PAGES, *OTHER_PAGES)
    chosen = [p.strip().lower() for p in args.pages.split(",")] if args.pages else list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown page(s): {', '.join(unknown)}; pages: {', '.join(known)}")
    out = measure_browser(args.url, chosen, args.chromium, args.settle)
    headline = f"first load {out['first_load_s']:.2f} s (drawn {out['first_drawn_s']:.2f} s)"
    print_pages(out, headline, as_json=args.json, digits=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
