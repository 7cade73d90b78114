"""What a user waits for in the browser: the app, already running, driven in headless Chromium (Playwright).

    python benchmarks/browser_runs.py --url http://localhost:8501 [--json] [--pages overview,nurture]

Start the app first (`streamlit run app.py -- --data DIR`). For each page, in menu order: opening it from the menu
(`open_s`) and, on the pages with the month picker, two months not shown before (`month_new_s`, the slower) and
back to each of them (`month_back_s`). A month is picked as a user at the keyboard does (the picker opened, the
month typed, Enter), and the time runs from the click on the menu or the Enter key to the end of the app's run
as the page reports it (`data-test-script-state`), the new content drawn by then. `drawn_s` is the latest end
of the browser's long tasks (over 50 ms of work) that followed the action within `--settle` seconds, if later:
charts still drawing. `first_load_s` (`first_drawn_s`): from opening the URL to the end of the first run (of the
drawing). Seconds of wall clock;
`page_runs.py` times the same runs on the server alone.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from playwright.sync_api import Page, sync_playwright

PAGES = ("Overview", "Attract", "Capture", "Nurture", "Convert", "Expand", "Quarter", "Data", "Definitions")
PICKER_PAGES = PAGES[:6]
"""The pages that show the month picked in the sidebar."""
RUN_TIMEOUT_S = 120

WATCH = """
window.__states = []; window.__long = [];
new MutationObserver(records => records.forEach(r => window.__states.push(
  [performance.now(), r.target.getAttribute('data-test-script-state')])))
  .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
new PerformanceObserver(list => list.getEntries().forEach(e => window.__long.push(e.startTime + e.duration)))
  .observe({type: 'longtask', buffered: true});
"""
"""Run in every page before its own scripts: records each change of the app's run state and the end of each long
task, in the page's own clock (0 = the start of the navigation)."""

RUN_END = """(t0) => {
  const after = window.__states.filter(e => e[0] > t0);
  const start = after.findIndex(e => e[1] === 'running');
  const end = start < 0 ? undefined : after.slice(start).find(e => e[1] === 'notRunning');
  return end ? end[0] : null;
}"""
"""The end of the first run started after `t0` (null while there is none)."""


LAST_RUN_END = """() => {
  const end = Math.max(...window.__states.filter(e => e[1] === 'notRunning').map(e => e[0]));
  return [end, Math.max(end, ...window.__long)].map(t => Math.round(t) / 1000);
}"""
"""Seconds from the start of the navigation to the end of the last run so far, and of the last long task."""


def _now(page: Page) -> float:
    return page.evaluate("() => performance.now()")


def _until_run_ends(page: Page, t0: float, settle: float) -> tuple[float, float]:
    """Seconds from `t0` to the end of the run it started, and to the end of the last long task within `settle`
    seconds of the action (at least the run's end)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (end := page.evaluate(RUN_END, t0)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no run ended within {RUN_TIMEOUT_S} s")
        time.sleep(0.02)
    time.sleep(max(0.0, settle - (_now(page) - t0) / 1000))
    drawn = page.evaluate(f"() => Math.max({end}, ...window.__long.filter(x => x > {t0}))")
    return round((end - t0) / 1000, 3), round((drawn - t0) / 1000, 3)


def _open(page: Page, title: str, settle: float) -> tuple[float, float]:
    t0 = _now(page)
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    return _until_run_ends(page, t0, settle)


def _earlier_months(page: Page) -> Iterator[str]:
    """The labels of the months before the one the month picker shows, newest first ("Sep 2026", ...)."""
    picker = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    shown = datetime.strptime(picker.get_by_role("combobox").input_value().strip(), "%b %Y")
    year, month = shown.year, shown.month
    while True:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        yield datetime(year, month, 1).strftime("%b %Y")


def _pick_month(page: Page, label: str, settle: float) -> tuple[float, float]:
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.keyboard.type(label)
    page.get_by_role("option", name=label, exact=True).wait_for()
    t0 = _now(page)
    page.keyboard.press("Enter")
    return _until_run_ends(page, t0, settle)


def measure_browser(url: str, pages: list[str], chromium: str | None, settle: float) -> dict[str, Any]:
    """Every figure of the module docstring for the app at `url`."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(WATCH)
            page.goto(url)
            page.get_by_test_id("stSidebarNavLink").first.wait_for(timeout=RUN_TIMEOUT_S * 1000)
            _until_run_ends(page, 0.0, settle)
            # the end of the last run by then: a server's very first request for a page may run the app twice
            load, load_drawn = page.evaluate(LAST_RUN_END)
            fresh = _earlier_months(page)
            out: dict[str, dict[str, float]] = {}
            for title in pages:
                opened, drawn = _open(page, title, settle)
                figures = {"open_s": opened, "drawn_s": drawn}
                if title in PICKER_PAGES:
                    new = [next(fresh), next(fresh)]
                    runs = [_pick_month(page, label, settle) for label in (*new, *new)]
                    figures["month_new_s"] = max(r[0] for r in runs[:2])
                    figures["month_back_s"] = max(r[0] for r in runs[2:])
                    figures["drawn_s"] = max(drawn, *(r[1] for r in runs))
                out[title.lower()] = figures
            return {"url": url, "first_load_s": load, "first_drawn_s": load_drawn, "pages": out}
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/browser_runs.py", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the running app, e.g. http://localhost:8501")
    parser.add_argument("--pages", help="comma-separated page titles (default: every page, in menu order)")
    parser.add_argument("--chromium", help="a Chromium executable (default: Playwright's own)")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds to watch for drawing after an action"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    chosen = [p.strip().capitalize() for p in args.pages.split(",")] if args.pages else list(PAGES)
    unknown = sorted(set(chosen) - set(PAGES))
    if unknown:
        parser.error(f"unknown page(s): {', '.join(unknown)}; pages: {', '.join(PAGES)}")
    out = measure_browser(args.url, chosen, args.chromium, args.settle)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"first load {out['first_load_s']:.2f} s (drawn {out['first_drawn_s']:.2f} s)")
        for page, figures in out["pages"].items():
            print(f"{page:<12}" + "  ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
