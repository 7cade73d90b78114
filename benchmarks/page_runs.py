"""What a user waits for on each page: the app's script run after each click, as the Streamlit server runs it,
timed with Streamlit's AppTest on a workspace folder (no browser: the browser's drawing comes on top).

    python benchmarks/page_runs.py --data DIR [--json] [--switches 3]

In one process (`run.py` starts one on the workspace of its run). `first_run_s`: the first session's first run
after the process started (importing the app's modules, opening the folder, the Definitions page). Then each page
is measured as if it were the first a user opened after the server started: Streamlit's caches emptied (so the
folder's facts are opened again, with nothing worked out on them), a new session started on the Definitions page,
which computes nothing, and then:

- `open_s`: the page opened from the menu, in the default month;
- `month_new_s`: `--switches` months picked, two, four, six... months before the default one (never the month
  before one shown, which the cards compute as their comparison), the slowest;
- `month_back_s`: back and forth between the last two of those months, each shown already, twice: the median
  (warm, as the interactions' warm figures);
- `channel_new_s`: in the last of those months, `--switches` channels picked, the slowest.

On the Quarter page, `report_s`: preparing the quarter's report (the HTML file and the workbook). Seconds of
wall clock; `peak_rss_mb` is the process's (the server's memory for one user at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.components.v2.component_manager import BidiComponentManager  # noqa: E402
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from benchmarks.rss import peak_rss_mb  # noqa: E402
from lifecycle.session import DATA_DIR_ENV  # noqa: E402

APP = ROOT / "app.py"
PICKER_PAGES = ("overview", "attract", "capture", "nurture", "convert", "expand")
"""The pages that show the month and the channel picked in the sidebar."""
OTHER_PAGES = ("quarter", "data", "definitions")
RUN_TIMEOUT_S = 600


def run_as_server(set_attribute: Callable[[Any, str, Any], None] = setattr) -> None:
    """Have AppTest run app.py on every run, as the server does once st.navigation has been called: AppTest resets
    the legacy "pages directory" flag before each run and a `pages/` folder sets it again, so without this every
    run after the first would execute the page file alone, skipping the router. Also skips the scan of every
    installed package for custom components (~0.5 s per AppTest; the app uses none). `set_attribute`: pytest's
    `monkeypatch.setattr` in the tests, so that the change is undone after each."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    set_attribute(PagesManager, "__init__", init)
    set_attribute(BidiComponentManager, "discover_and_register_components", lambda self, **kw: None)


def _run(at: AppTest) -> float:
    """Seconds of one script run; an exception the app shows stops the measurement."""
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"the app raised: {at.exception[0].message}")
    return round(seconds, 4)


def _pick(at: AppTest, key: str, index: int) -> float:
    """Seconds of the run after picking option `index` of the sidebar picker `key`."""
    at.selectbox(key=key).select_index(index)
    seconds = _run(at)
    if at.selectbox(key=key).index != index:
        raise RuntimeError(f"the {key} picker did not take option {index}")
    return seconds


def picked_months(default: int, switches: int) -> list[int]:
    """The month picker's options (newest first) a page is shown in after the `default` one: every second month
    before it, so that none is the comparison month of one shown before."""
    return [default + 2 * (k + 1) for k in range(switches)]


def measure_pages(folder: str | os.PathLike[str], switches: int = 3) -> dict[str, Any]:
    """Every figure of the module docstring, for the app started on the workspace `folder`; ValueError when it
    has too few months or channels for `switches`."""
    os.environ[DATA_DIR_ENV] = str(folder)
    run_as_server()
    first: float | None = None
    pages: dict[str, dict[str, float]] = {}
    for page in (*PICKER_PAGES, *OTHER_PAGES):
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
        at.switch_page("pages/definitions.py")
        started = _run(at)
        first = started if first is None else first
        at.switch_page(f"pages/{page}.py")
        figures = {"open_s": _run(at)}
        if page in PICKER_PAGES:
            months = picked_months(at.selectbox(key="month").index or 0, switches)
            options = len(at.selectbox(key="month").options)
            channels = len(at.selectbox(key="channel").options) - 1  # "All channels" first
            if switches < 2 or months[-1] >= options or channels < switches:
                raise ValueError(
                    f"the workspace has {options} months and {channels} channels: {months[-1] + 1} months and "
                    f"{switches} channels are needed for --switches {switches} (at least 2)"
                )
            figures["month_new_s"] = max(_pick(at, "month", m) for m in months)
            back = [_pick(at, "month", m) for m in (months[-2], months[-1]) * 2]
            figures["month_back_s"] = round(median(back), 4)
            figures["channel_new_s"] = max(_pick(at, "channel", c) for c in range(1, switches + 1))
        if page == "quarter":
            next(b for b in at.button if b.key == "report-prepare").click()
            figures["report_s"] = _run(at)
            if not [b for b in at.get("download_button") if b.key == "report-html"]:
                raise RuntimeError("the Quarter page prepared no report")
        pages[page] = figures
    return {"first_run_s": first, "pages": pages, "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/page_runs.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", required=True, help="a workspace folder (python -m lifecycle ingest ... --out DIR)"
    )
    parser.add_argument(
        "--switches", type=int, default=3, help="new months and channels per page (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        out = measure_pages(args.data, args.switches)
    except ValueError as exc:
        print(f"benchmarks/page_runs.py: {exc}", file=sys.stderr)
        return 2
    headline = f"first run {out['first_run_s']:.3f} s, peak RSS {out['peak_rss_mb']:,.0f} MB"
    print_pages(out, headline, as_json=args.json, digits=3)
    return 0


def print_pages(out: dict[str, Any], headline: str, *, as_json: bool, digits: int) -> None:
    """`out` as one JSON object, or `headline` and a line of figures per page (for people)."""
    if as_json:
        print(json.dumps(out, indent=2))
        return
    print(headline)
    for page, figures in out["pages"].items():
        print(f"{page:<12}" + "  ".join(f"{k} {v:.{digits}f}" for k, v in figures.items()))


if __name__ == "__main__":
    raise SystemExit(main())
