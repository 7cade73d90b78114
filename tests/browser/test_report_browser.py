"""The quarterly report in a real browser: it opens from disk in headless Chromium with no network request,
no console or page error, shows the engine's numbers, and shows a script-like channel name as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.display import format_value
from lifecycle.metrics import CATALOG, build_facts, compute_all
from lifecycle.report import build_report_html
from lifecycle.sample import generate

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "screenshots"
XSS = "<script>alert(1)</script>"
FIGURES = 13  # two charts per stage, the cohort and period funnels, the score profile
QUARTER_MONTHS = ("2026-07", "2026-08", "2026-09")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The small sample company's Q3 2026 report, with the Email channel renamed to a script tag."""
    tables = {
        name: frame.assign(channel=frame["channel"].replace("Email", XSS)) if "channel" in frame else frame
        for name, frame in generate(1_000, seed=3).items()
    }
    facts = build_facts(tables)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(build_report_html(facts, "2026-Q3"), encoding="utf-8")
    return path, facts


def test_report_opens_offline_without_errors_shows_the_engines_numbers_and_data_text_as_text(page, report):  # type: ignore[no-untyped-def]
    path, facts = report
    requests: list[str] = []
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(path.as_uri())
    # Plotly marks a div js-plotly-plot once it has drawn the figure into it.
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot').length === {FIGURES}", timeout=20_000
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report-quarter.png"), full_page=True)

    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    assert requests[0] == path.as_uri()
    assert problems == [] and dialogs == []

    shown = page.eval_on_selector_all(
        "td[data-value]",
        "cells => cells.map(c => [c.dataset.metric, c.dataset.month, c.dataset.value, c.innerText])",
    )
    monthly = {
        (metric, month): (float(value), text) for metric, month, value, text in shown if month != "quarter"
    }
    checked = 0
    for month in QUARTER_MONTHS:
        for metric_id, result in compute_all(facts, month).items():
            if result.value is None:
                assert (metric_id, month) not in monthly
                continue
            value, text = monthly[(metric_id, month)]
            assert value == pytest.approx(result.value, rel=1e-12)
            assert text == format_value(result.value, CATALOG[metric_id].unit)
            checked += 1
    assert checked > 80  # most of the catalog, three months each

    # The channel named like a script is a table cell's text, and nothing ran (no alert dialog).
    cell = page.get_by_role("cell", name=XSS, exact=True)
    assert cell.count() == 1 and cell.is_visible()
    cell.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "report-script-channel.png"))
    assert dialogs == []
