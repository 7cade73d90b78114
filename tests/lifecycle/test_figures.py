"""Figure builders on tiny hand-made frames: titles, unit formats, stage colours, clickable marks."""

from __future__ import annotations

import json
import math

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lifecycle.figures import (
    axis_format,
    figure_by_group,
    figure_funnel,
    figure_reference_band,
    figure_retention,
    figure_score_profile,
    figure_trend,
)
from lifecycle.metrics import STAGE_COLORS


def series(values: list[float | None], start: str = "2026-01") -> pd.DataFrame:
    months = pd.period_range(start, periods=len(values), freq="M").astype(str)
    return pd.DataFrame({"month": months, "value": pd.array(values, dtype="Float64").astype("float64")})


@pytest.mark.parametrize(
    ("unit", "top", "expected"),
    [
        ("rate", 0.4, {"tickformat": ".0%"}),
        ("rate", 0.02, {"tickformat": ".1%"}),  # 1 % and 2 % ticks would otherwise repeat "1%"
        ("currency", 5000.0, {"tickformat": ",.0f", "tickprefix": "€"}),
        ("currency", 1.95, {"tickformat": ",.2f", "tickprefix": "€"}),
        ("count", 300.0, {"tickformat": ",.0f"}),
        ("nps", 30.0, {"tickformat": "+,.0f", "range": [-100, 100]}),
    ],
)
def test_axis_format_matches_the_unit(unit: str, top: float, expected: dict) -> None:
    assert axis_format(unit, "€", top) == expected


def test_trend_marks_the_selected_month_and_skips_months_without_a_value() -> None:
    fig = figure_trend(
        series([10, None, 30, 40]), "New leads by month", "count", "capture", selected="2026-03"
    )
    [bars] = fig.data
    assert fig.layout.title.text == "New leads by month"
    assert list(bars.customdata) == ["2026-01", "2026-03", "2026-04"]  # February has no value
    assert list(bars.marker.opacity) == [0.5, 1.0, 0.5]
    assert bars.marker.color == STAGE_COLORS["capture"]
    assert [a.text for a in fig.layout.annotations] == ["selected"]


def test_trend_of_a_rate_formats_the_axis_as_percent() -> None:
    fig = figure_trend(series([0.21, 0.25]), "Win rate by month", "rate", "convert")
    assert fig.layout.yaxis.tickformat == ".0%"
    assert "%{y:.1%}" in fig.data[0].hovertemplate


def test_funnel_bars_take_their_stage_colour_and_say_the_step_shares() -> None:
    steps = pd.DataFrame(
        {
            "step": ["lead", "mql", "sql"],
            "label": ["Leads", "MQLs", "SQLs"],
            "count": [200, 50, 10],
            "pct_of_first": [1.0, 0.25, 0.05],
            "pct_of_previous": [math.nan, 0.25, 0.2],
            "median_days": [math.nan, 12.0, math.nan],
        }
    )
    fig = figure_funnel(steps, "Cohort funnel")
    [bars] = fig.data
    assert list(bars.marker.color) == [
        STAGE_COLORS["capture"],
        STAGE_COLORS["nurture"],
        STAGE_COLORS["convert"],
    ]
    assert list(bars.customdata) == ["lead", "mql", "sql"]
    assert bars.text[0] == "200"
    assert bars.text[1] == "50 · 25% of first · 25% of previous · median 12 d after previous"
    assert bars.text[2] == "10 · 5.0% of first · 20% of previous"
    assert fig.layout.yaxis.autorange == "reversed"  # first step on top


def test_score_profile_stacks_one_bar_per_band_and_draws_the_median_on_a_score_axis() -> None:
    labels = ["<0", "0–49", "≥50"]
    bands = pd.DataFrame(
        {
            "cohort": ["2026-01"] * 3 + ["2026-02"] * 3,
            "band": pd.Categorical(labels * 2, categories=labels, ordered=True),
            "count": [0, 3, 1, 1, 1, 2],
            "share": [0.0, 0.75, 0.25, 0.25, 0.25, 0.5],
        }
    )
    summary = pd.DataFrame({"cohort": ["2026-01", "2026-02"], "median": [20.0, 55.0]})
    fig = figure_score_profile(bands, summary, "Score profile", selected="2026-02", threshold=100)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name for b in bars] == labels
    assert list(bars[2].y) == [0.25, 0.5]
    assert list(bars[2].customdata[1]) == ["2026-02", 2, "≥50"]  # cohort, leads, band for the drill-through
    assert fig.layout.barmode == "stack" and fig.layout.yaxis.tickformat == ".0%"
    [line] = [t for t in fig.data if t.type == "scatter"]
    assert line.yaxis == "y2" and list(line.y) == [20.0, 55.0]
    assert fig.layout.yaxis2.range == (0.0, 125.0)  # up to just above the MQL threshold
    assert len(fig.layout.shapes) == 1  # the selected cohort's marker line


def test_group_bars_are_sorted_largest_first_without_missing_values() -> None:
    frame = pd.DataFrame({"channel": ["Email", "Paid", "Events"], "cost": [12.5, 40.0, math.nan]})
    fig = figure_by_group(frame, "channel", "cost", "Cost per lead by channel", "currency", "capture", "€")
    [bars] = fig.data
    assert list(bars.y) == ["Paid", "Email"]
    assert fig.layout.xaxis.tickprefix == "€"
    assert bars.marker.color == STAGE_COLORS["capture"]


def test_retention_heatmap_is_a_share_grid_with_unobserved_cells_blank() -> None:
    cohorts = pd.DataFrame(
        {
            "cohort": ["2026-01", "2026-01", "2026-02", "2026-02"],
            "k": [0, 1, 0, 1],
            "share": [1.0, 0.8, 0.9, math.nan],
        }
    )
    fig = figure_retention(cohorts, "Retention")
    [heat] = fig.data
    assert heat.z.shape == (2, 2) and math.isnan(heat.z[1][1])
    assert (heat.zmin, heat.zmax) == (0, 1)
    assert heat.colorbar.tickformat == ".0%"


def test_reference_band_is_shaded_behind_the_bars() -> None:
    fig = figure_reference_band(
        series([0.12, 0.4]), "Upsell share", "rate", "expand", (0.1, 0.3), "young company"
    )
    [band] = fig.layout.shapes
    assert (band.y0, band.y1, band.layer) == (0.1, 0.3, "below")
    assert any(a.text == "young company" for a in fig.layout.annotations)


def test_group_names_from_the_uploads_are_shown_literally_not_as_markup() -> None:
    frame = pd.DataFrame({"campaign": ["<b>Spring</b> & <a href='x'>"], "leads": [3.0]})
    fig = figure_by_group(frame, "campaign", "leads", "Leads by campaign", "count", "capture")
    [bars] = fig.data
    assert list(bars.y) == ["&lt;b&gt;Spring&lt;/b&gt; &amp; &lt;a href='x'&gt;"]
    assert list(bars.customdata) == ["<b>Spring</b> & <a href='x'>"]  # the drill-through gets the real name


@pytest.mark.parametrize(
    ("unit", "values", "selected"),
    [
        ("count", [10, None, 30, 40], "2026-03"),
        ("rate", [0.01, 0.2, 0.3], None),
        ("currency", [1200.5, 3000.0], "2026-02"),
        ("nps", [-20.0, 35.0], "2026-09"),
        ("days", [], "2026-01"),
    ],
)
def test_trend_built_without_plotly_checks_is_what_plotly_checks_build(unit, values, selected) -> None:
    # The trend figure skips plotly's checks of each property (they took most of its time): every one of its
    # properties must pass them, and the checked figure must be the same figure.
    fig = figure_trend(series(values), "A metric by month", unit, "nurture", selected=selected, currency="€")
    checked = go.Figure(fig.to_dict())  # raises on any property plotly does not know or accept
    assert json.loads(pio.to_json(checked)) == json.loads(pio.to_json(fig))
    top = max((abs(v) for v in values if v is not None), default=None)
    assert fig.to_dict()["layout"]["yaxis"] == {
        **axis_format(unit, "€", top), "gridcolor": "#E8EAED", "zerolinecolor": "#E8EAED", "automargin": True,
    }  # fmt: skip
