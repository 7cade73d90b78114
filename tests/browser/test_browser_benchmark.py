"""`benchmarks/browser_runs.py` on the test server: it times each action it takes (the benchmark is not a test,
benchmarks/README.md; this keeps it working)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import CHROMIUM

from benchmarks.browser_runs import measure_browser

pytestmark = pytest.mark.browser


def test_the_browser_benchmark_times_opening_pages_and_picking_months(server: str) -> None:
    # On a thread of its own: Playwright's sync API does not run inside the one pytest-playwright runs.
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(measure_browser, server, ["Overview", "Nurture", "Data"], CHROMIUM, 0.3).result()
    assert out["url"] == server and 0 < out["first_load_s"] <= out["first_drawn_s"]
    assert set(out["pages"]) == {"overview", "nurture", "data"}
    for page in ("overview", "nurture"):
        figures = out["pages"][page]
        assert set(figures) == {"open_s", "drawn_s", "month_new_s", "month_back_s"}, page
        assert all(v > 0 for v in figures.values()), page
        assert figures["drawn_s"] >= figures["open_s"]
    assert set(out["pages"]["data"]) == {"open_s", "drawn_s"}
