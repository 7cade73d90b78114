"""`benchmarks/browser_runs.py` on the test server: it times each action it takes and checks that each month it
picks was taken (the benchmark is not a test, benchmarks/README.md; this keeps it working)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import CHROMIUM

from benchmarks.browser_runs import measure_browser

pytestmark = pytest.mark.browser


def test_the_browser_benchmark_times_opening_pages_and_picking_months(server: str) -> None:
    # On a thread of its own: Playwright's sync API does not run inside the one pytest-playwright runs.
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(measure_browser, server, ["overview", "nurture", "data"], CHROMIUM, 0.3).result()
    assert out["url"] == server and out["first_load_s"] > 0
    assert list(out["pages"]) == ["overview", "nurture", "data"]
    for page in ("overview", "nurture"):
        assert set(out["pages"][page]) == {"open_s", "drawn_s", "month_new_s", "month_back_s"}, page
    assert set(out["pages"]["data"]) == {"open_s", "drawn_s"}
    assert all(v > 0 for figures in out["pages"].values() for v in figures.values())
