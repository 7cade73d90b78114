"""Charts as the pages draw them: titled, units on the axes, the stage colour, the selected month marked."""

from __future__ import annotations

import json

from conftest import open_page
from streamlit.testing.v1 import AppTest

from lifecycle import metrics as lm


def specs(at: AppTest) -> list[dict]:
    """The plotly figure specs on the page."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titled(at: AppTest, start: str) -> dict:
    [spec] = [s for s in specs(at) if s["layout"]["title"]["text"].startswith(start)]
    return spec


def test_nurture_score_profile_stacks_shares_of_each_band_with_the_median_on_its_own_axis(
    app_test: AppTest,
) -> None:
    at = open_page(app_test, "nurture")
    spec = titled(at, "Month-end score")
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    assert [b["name"] for b in bars] == lm.DEFAULT_SETTINGS.band_labels
    assert spec["layout"]["barmode"] == "stack"
    assert spec["layout"]["yaxis"]["tickformat"] == ".0%"
    [line] = [t for t in spec["data"] if t["type"] == "scatter"]
    assert line["yaxis"] == "y2" and line["name"] == "median score"


def test_trend_bars_use_the_stage_colour_and_mark_the_selected_month(app_test: AppTest) -> None:
    at = open_page(app_test, "convert")
    month = at.selectbox(key="month").value
    spec = titled(at, "Bookings by month")
    [bars] = spec["data"]
    assert bars["marker"]["color"] == lm.STAGE_COLORS["convert"]
    opaque = [m for m, o in zip(bars["customdata"], bars["marker"]["opacity"], strict=True) if o == 1.0]
    assert opaque == [month]
    assert spec["layout"]["yaxis"]["tickprefix"] == "$"
    rate = titled(at, "Win rate by month")
    assert rate["layout"]["yaxis"]["tickformat"].endswith("%")
