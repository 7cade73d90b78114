"""Trends and early warnings (SPEC §5 "Trends") on hand-made monthly series and on the catalog metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metrics_fixtures import table

from lifecycle.metrics.settings import Settings
from lifecycle.metrics.trends import (
    BELOW_MEDIAN,
    TWO_MONTHS,
    format_value,
    metric_trend,
    trend_table,
    trend_warnings,
    warnings_for_month,
)


def series(start: str, values: list[float | None]) -> pd.DataFrame:
    months = pd.period_range(start, periods=len(values), freq="M").astype(str)
    return pd.DataFrame({"month": months, "value": pd.array(values, dtype="Float64").astype("float64")})


def at(trend: pd.DataFrame, month: str) -> pd.Series:
    return trend.set_index("month").loc[month]


def test_month_over_month_and_year_over_year_changes():
    # Jan 2023 = 50 … Jan 2024 = 80, Dec 2023 = 100: MoM -20 (-20 %), YoY +30 (+60 %).
    values = [50.0] + [100.0] * 11 + [80.0]
    trend = trend_table(series("2023-01", values), "up")
    jan = at(trend, "2024-01")
    assert (jan["mom_delta"], jan["yoy_delta"]) == (-20, 30)
    assert jan["mom_change"] == pytest.approx(-0.2)
    assert jan["yoy_change"] == pytest.approx(0.6)
    assert np.isnan(at(trend, "2023-12")["yoy_change"])


def test_a_gap_in_the_series_leaves_the_change_empty_instead_of_jumping_over_it():
    frame = series("2024-01", [10.0, 20.0, 30.0]).drop(index=1)
    trend = trend_table(frame, "up")
    assert trend["month"].tolist() == ["2024-01", "2024-02", "2024-03"]
    assert np.isnan(at(trend, "2024-03")["mom_change"])


def test_quarter_to_date_sums_counts_and_compares_with_the_previous_quarter_at_the_same_point():
    # Q1: 10, 20, 30 (total 60); Q2 so far: 15, 25. QTD at May = 40 vs Q1's first two months 30 -> +1/3.
    # Pacing: 40 / 2 * 3 = 60; previous full quarter 60.
    trend = trend_table(series("2024-01", [10, 20, 30, 15, 25]), "up", "count")
    may = at(trend, "2024-05")
    assert (may["quarter"], may["month_of_quarter"], may["qtd"], may["previous_qtd"]) == ("2024Q2", 2, 40, 30)
    assert may["qtd_change"] == pytest.approx(1 / 3)
    assert may["pacing"] == pytest.approx(60)
    assert may["previous_quarter"] == 60
    assert at(trend, "2024-03")["pacing"] == 60  # a complete quarter lands where it is


def test_quarter_to_date_of_a_rate_is_the_average_of_its_months():
    # Rates 0.10, 0.20 in Jan, Feb: QTD 0.15, pacing 0.15.
    trend = trend_table(series("2024-01", [0.10, 0.20]), "up", "rate")
    feb = at(trend, "2024-02")
    assert feb["qtd"] == pytest.approx(0.15) and feb["pacing"] == pytest.approx(0.15)


def test_a_quarter_with_a_missing_month_has_no_quarter_to_date():
    trend = trend_table(series("2024-01", [10, None, 30]), "up")
    assert np.isnan(at(trend, "2024-03")["qtd"])
    # The series starts mid-quarter: February's QTD lacks January, so it is empty too.
    assert np.isnan(at(trend_table(series("2024-02", [10, 20]), "up"), "2024-03")["qtd"])


def test_two_material_wrong_way_moves_in_a_row_raise_a_warning_with_a_sentence():
    # 100 -> 90 -> 80: -10 % then -11 %, both beyond 5 % -> warning in March.
    trend = trend_table(series("2024-01", [100, 90, 80]), "up", label="MQLs")
    march = at(trend, "2024-03")
    assert march["warn_two_months"] and march["warning"]
    assert march["two_months_message"] == "MQLs fell two months running: 100 → 90 → 80 (-10 %, -11 %)."
    assert not at(trend, "2024-02")["warning"]


def test_small_wrong_way_moves_are_noise_not_a_warning():
    # -2 % twice: below the 5 % floor. With a 1 % floor the same series warns.
    assert not trend_table(series("2024-01", [100, 98, 96]), "up")["warn_two_months"].any()
    assert trend_table(series("2024-01", [100, 98, 96]), "up", min_move=0.01)["warn_two_months"].iloc[-1]


def test_for_a_down_is_good_metric_rising_is_the_wrong_way():
    # Churn rate 2 % -> 3 % -> 4 %.
    trend = trend_table(series("2024-01", [0.02, 0.03, 0.04]), "down", "rate", label="Churn rate")
    assert at(trend, "2024-03")["warn_two_months"]
    assert (
        "Churn rate rose two months running: 2.0 % → 3.0 % → 4.0 %" in at(trend, "2024-03")["warning_message"]
    )
    assert not trend_table(series("2024-01", [0.04, 0.03, 0.02]), "down", "rate")["warning"].any()


def test_worse_than_trailing_median_by_more_than_the_margin_warns():
    # Median of 100, 90, 120 = 100. 79 is 21 % worse (> 20 %) -> warning; 81 is 19 % worse -> none.
    # (90 -> 120 is a rise, so the two-month rule stays quiet.)
    warn = at(trend_table(series("2024-01", [100, 90, 120, 79]), "up", label="Leads"), "2024-04")
    assert warn["warn_below_median"] and warn["trailing_median"] == 100
    assert warn["below_median_message"] == (
        "Leads: 79, 21 % worse than its trailing 3-month median of 100 (warning margin 20 %)."
    )
    assert not warn["warn_two_months"]
    assert not at(trend_table(series("2024-01", [100, 90, 120, 81]), "up"), "2024-04")["warning"]
    # A tighter margin from the settings catches 81.
    tight = trend_table(series("2024-01", [100, 90, 120, 81]), "up", settings=Settings(warning_margin=0.1))
    assert at(tight, "2024-04")["warn_below_median"]


def test_median_rule_needs_three_earlier_months():
    trend = trend_table(series("2024-01", [100, 50, 10]), "up")
    assert not trend["warn_below_median"].any()


def test_unavailable_months_are_treated_as_missing():
    frame = series("2024-01", [100, 90, 80]).assign(available=[True, True, False])
    trend = trend_table(frame, "up")
    assert np.isnan(at(trend, "2024-03")["value"]) and not trend["warning"].any()


def test_trend_warnings_lists_one_row_per_rule_with_its_own_sentence():
    # April 60 after 100, 80, 70: two falls (-12.5 %, -14 %) and 25 % below the median 80.
    trend = trend_table(series("2024-01", [100, 80, 70, 60]), "up", label="MQLs")
    found = trend_warnings(trend[trend["month"].eq("2024-04")], "nurture.mqls", "MQLs", "nurture")
    assert found["rule"].tolist() == [TWO_MONTHS, BELOW_MEDIAN]
    assert found["message"].str.startswith("MQLs").all()
    assert found["reference"].tolist() == [70, 80]


def test_empty_series_gives_an_empty_trend():
    assert trend_table(series("2024-01", []), "up").empty
    with pytest.raises(ValueError, match="direction"):
        trend_table(series("2024-01", [1.0]), "sideways")


def test_values_are_written_the_way_the_ui_writes_them():
    assert format_value(0.123, "rate") == "12.3 %"
    assert format_value(1234.0, "count") == "1,234"
    assert format_value(-12.0, "nps") == "-12"
    assert format_value(float("nan"), "count") == "–"


# ---------------------------------------------------------------- on the catalog metrics

# Leads created: Jan 10, Feb 10, Mar 10, Apr 5 (web), plus 2 ads leads in April.
LEADS = table(
    "leads",
    lead_id=[f"L{i}" for i in range(37)],
    created_at=["2024-01-15"] * 10 + ["2024-02-15"] * 10 + ["2024-03-15"] * 10 + ["2024-04-15"] * 7,
    channel=["web"] * 35 + ["ads"] * 2,
)


def test_metric_trend_uses_the_catalog_direction_unit_and_label():
    trend = metric_trend(
        {"leads": LEADS}, "capture.new_leads", ["2024-01", "2024-02", "2024-03", "2024-04"], "web"
    )
    assert trend["value"].tolist() == [10, 10, 10, 5]
    assert at(trend, "2024-04")["below_median_message"].startswith("New leads: 5, 50 % worse")


def test_warnings_for_month_lists_each_firing_metric_with_a_reason():
    # web new leads 10, 10, 10 -> 5: 50 % below the median. Metrics without their exports never warn.
    found = warnings_for_month({"leads": LEADS}, "2024-04", "web")
    new_leads = found[found["metric"].eq("capture.new_leads")]
    assert new_leads["rule"].tolist() == [BELOW_MEDIAN]
    assert new_leads["stage"].tolist() == ["capture"] and new_leads["month"].tolist() == ["2024-04"]
    assert "50 % worse" in new_leads["message"].iloc[0]
    assert not found["metric"].str.startswith("attract").any()
    # March (10 after 10, 10, and no earlier months for a median) has no new-leads warning.
    assert "capture.new_leads" not in set(warnings_for_month({"leads": LEADS}, "2024-03")["metric"])
