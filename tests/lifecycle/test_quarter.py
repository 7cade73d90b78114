"""The quarter view (lifecycle.quarter): quarters, totals against earlier quarters, pacing, warnings, funnel —
on tiny hand-made tables, and the early warnings of the sample company against its planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifecycle.metrics import KEY_METRICS, build_facts
from lifecycle.metrics.funnels import funnel
from lifecycle.metrics.trends import BELOW_MEDIAN, TWO_MONTHS, warnings_for_month
from lifecycle.quarter import (
    default_quarter,
    format_quarter,
    parse_quarter,
    quarter_funnel,
    quarter_label,
    quarter_months,
    quarter_view,
    reportable_quarters,
)
from lifecycle.sample import PLANTED_EFFECTS, generate
from lifecycle.schema import coerce_frame

PLANTED = {effect["id"]: effect for effect in PLANTED_EFFECTS}


def frame(name: str, **columns: list) -> pd.DataFrame:
    """A canonical table from column lists (date strings are parsed)."""
    data = {c: pd.to_datetime(v) if c in ("date", "created_at", "mql_at", "sql_at", "customer_at",
                                          "started_at", "churned_at") else v for c, v in columns.items()}  # fmt: skip
    return coerce_frame(name, pd.DataFrame(data))


def monthly_traffic(sessions: dict[str, float], **extra: dict[str, float]) -> pd.DataFrame:
    """One web-traffic row per month, dated on the 1st."""
    months = list(sessions)
    columns = {name: [values[m] for m in months] for name, values in extra.items()}
    return frame("web_traffic", date=[f"{m}-01" for m in months], sessions=list(sessions.values()), **columns)


def growth_tables() -> dict[str, pd.DataFrame]:
    """Sessions 2025-01 … 2026-05 (May is partial: the last complete month is April 2026)."""
    sessions = {str(m): 200.0 for m in pd.period_range("2025-01", "2026-05", freq="M")}
    sessions |= {"2025-01": 100, "2025-02": 110, "2025-03": 120, "2026-01": 300, "2026-02": 330, "2026-03": 360,
                 "2026-04": 400, "2026-05": 420}  # fmt: skip
    views = {m: 100.0 for m in sessions}
    submissions = {m: 10.0 for m in sessions} | {"2026-01": 10, "2026-02": 20, "2026-03": 30}
    traffic = monthly_traffic(sessions, form_views=views, form_submissions=submissions)
    # The export day: a row on 10 May makes May the running month.
    traffic = pd.concat([traffic, monthly_traffic({"2026-05": 0.0}).assign(date=pd.Timestamp("2026-05-10"))])
    # Spend 300, 660, 720 over sessions 300, 330, 360: cost per visit 1, 2, 2.
    spend = frame("spend", date=["2026-01-01", "2026-02-01", "2026-03-01"], amount=[300.0, 660.0, 720.0])
    # Active at the start of Jan / Feb / Mar 2026: 1, 2, 3 customers.
    customers = frame(
        "customers", customer_id=["c1", "c2", "c3"], started_at=["2025-01-15", "2026-01-15", "2026-02-15"]
    )
    return {"web_traffic": coerce_frame("web_traffic", traffic), "spend": spend, "customers": customers}


def row(view, metric: str) -> pd.Series:  # type: ignore[no-untyped-def]
    return view.summary.set_index("metric").loc[metric]


# ---------------------------------------------------------------------------------------------- quarters


@pytest.mark.parametrize("text", ["2026-Q3", "2026Q3", " 2026-q3 ", "2026 - Q3"])
def test_quarters_are_read_in_the_usual_spellings(text):
    assert parse_quarter(text) == pd.Period("2026Q3", freq="Q")
    assert format_quarter(text) == "2026-Q3"
    assert quarter_label(text) == "Q3 2026"
    assert quarter_months(text) == ["2026-07", "2026-08", "2026-09"]


@pytest.mark.parametrize("text", ["2026-Q5", "2026-Q0", "2026-3", "Q3 2026", "", "2026-07"])
def test_a_badly_written_quarter_is_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="YYYY-Qn"):
        parse_quarter(text)


def test_the_default_quarter_holds_the_last_complete_month_and_the_picker_offers_quarters_with_data():
    facts = build_facts(growth_tables())
    assert default_quarter(facts) == "2026-Q2"  # April 2026 is the last complete month
    assert reportable_quarters(facts) == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]


# ---------------------------------------------------------------------------------------------- totals


def test_a_complete_quarter_sums_counts_and_compares_with_the_previous_quarter_and_last_year():
    view = quarter_view(growth_tables(), "2026-Q1", metrics=["attract.sessions"])
    sessions = row(view, "attract.sessions")
    # Q1 2026: 300 + 330 + 360 = 990; Q4 2025: 3 × 200 = 600; Q1 2025: 100 + 110 + 120 = 330.
    assert (sessions["value"], sessions["previous"], sessions["last_year"]) == (990, 600, 330)
    assert sessions["previous_change"] == pytest.approx(990 / 600 - 1)
    assert sessions["last_year_change"] == pytest.approx(2.0)
    assert sessions["pacing"] == 990 and sessions["aggregation"] == "total"
    assert view.complete and view.reported == ("2026-01", "2026-02", "2026-03") and view.notes == ()
    months = view.monthly[view.monthly["metric"].eq("attract.sessions")]
    assert months["value"].tolist() == [300, 330, 360]


def test_rates_ratios_in_money_and_active_customers_are_averaged_over_the_quarter_not_summed():
    averaged = ["capture.form_conversion_rate", "attract.cost_per_visit", "expand.active_customers"]
    view = quarter_view(growth_tables(), "2026-Q1", metrics=averaged)
    # Form conversion 10 %, 20 %, 30 % -> 20 %; cost per visit 1, 2, 2 -> 5/3; active customers 1, 2, 3 -> 2.
    assert row(view, "capture.form_conversion_rate")["value"] == pytest.approx(0.2)
    assert row(view, "attract.cost_per_visit")["value"] == pytest.approx(5 / 3)
    assert row(view, "expand.active_customers")["value"] == pytest.approx(2.0)
    assert {row(view, m)["aggregation"] for m in ("attract.cost_per_visit", "expand.active_customers")} == {
        "average"
    }


def test_a_running_quarter_is_compared_at_the_same_point_and_paced_to_its_end():
    view = quarter_view(growth_tables(), "2026-Q2", metrics=["attract.sessions"])
    sessions = row(view, "attract.sessions")
    # April only: 400 vs January 300 and April 2025 200; pace 400 × 3 = 1,200 against all of Q1's 990.
    assert view.reported == ("2026-04",) and not view.complete
    assert (sessions["value"], sessions["previous"], sessions["last_year"]) == (400, 300, 200)
    assert (sessions["pacing"], sessions["previous_quarter"]) == (1200, 990)
    assert sessions["pacing_change"] == pytest.approx(1200 / 990 - 1)
    assert view.notes[0].startswith("Not complete yet: May 2026, Jun 2026.")
    may = view.monthly.set_index(["metric", "month"]).loc[("attract.sessions", "2026-05")]
    assert not may["reported"]


def test_a_quarter_without_a_complete_month_says_which_quarters_have_data():
    view = quarter_view(growth_tables(), "2026-Q3")
    assert not view.available
    assert "Q3 2026 has no complete month" in view.reason and "2025-Q1 to 2026-Q2" in view.reason
    assert view.summary.empty and view.warnings.empty


def test_a_quarter_the_data_starts_inside_gets_no_total_and_a_note_instead_of_a_partial_sum():
    traffic = monthly_traffic({"2025-02": 10.0, "2025-03": 20.0, "2025-04": 30.0, "2025-05": 40.0})
    view = quarter_view({"web_traffic": traffic}, "2025-Q1", metrics=["attract.sessions"])
    assert view.reported == ("2025-02", "2025-03")
    assert np.isnan(row(view, "attract.sessions")["value"])
    assert "data starts after the quarter began (Jan 2025 missing)" in view.notes[0]


def test_a_metric_whose_export_is_missing_is_unavailable_with_the_export_it_needs():
    view = quarter_view(growth_tables(), "2026-Q1", metrics=["capture.new_leads", "attract.sessions"])
    leads = row(view, "capture.new_leads")
    assert not leads["available"] and "lead" in leads["reason"]
    assert view.summary["metric"].tolist() == ["capture.new_leads", "attract.sessions"]
    with pytest.raises(ValueError, match="unknown metric"):
        quarter_view(growth_tables(), "2026-Q1", metrics=["capture.leads"])


# ---------------------------------------------------------------------------------------------- warnings


def test_warnings_of_the_quarter_are_those_firing_in_its_months_only():
    # Sessions 100, 100, 100, then Dec 70 (30 % under the median of 100) and Jan 60 (down twice, each > 5 %,
    # and 40 % under the median of 100); Feb and Mar recover to 100.
    values = [100, 100, 100, 100, 70, 60, 100, 100, 100]
    traffic = monthly_traffic(dict(zip([str(m) for m in pd.period_range("2025-08", "2026-04", freq="M")],
                                       map(float, values), strict=True)))  # fmt: skip
    q1 = quarter_view({"web_traffic": traffic}, "2026-Q1", metrics=["attract.sessions"])
    assert set(zip(q1.warnings["month"], q1.warnings["rule"], strict=True)) == {
        ("2026-01", TWO_MONTHS),
        ("2026-01", BELOW_MEDIAN),
    }
    assert "60" in q1.warnings["message"].iloc[0] and row(q1, "attract.sessions")["warnings"] == 2
    q4 = quarter_view({"web_traffic": traffic}, "2025-Q4", metrics=["attract.sessions"])
    assert list(zip(q4.warnings["month"], q4.warnings["rule"], strict=True)) == [("2025-12", BELOW_MEDIAN)]


@pytest.fixture(scope="module")
def small_company():
    return build_facts(generate(1_000, seed=3))


def test_quarter_warnings_are_the_overviews_monthly_warnings_for_each_of_its_months(small_company):
    view = quarter_view(small_company, "2026-Q4")  # October 2026 only: the quarter is running
    monthly = pd.concat([warnings_for_month(small_company, m) for m in view.reported], ignore_index=True)
    assert len(view.warnings) > 0  # a small noisy company flags something: the comparison is not vacuous
    key = ["metric", "month", "rule", "message"]
    got = view.warnings[key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, monthly[key].sort_values(key).reset_index(drop=True))


# ---------------------------------------------------------------------------------------------- funnel


def funnel_leads() -> dict[str, pd.DataFrame]:
    leads = frame(
        "leads",
        lead_id=["L1", "L2", "L3", "L4", "L5", "L6"],
        created_at=["2026-01-05", "2026-02-01", "2026-02-10", "2026-03-01", "2025-12-20", "2026-04-10"],
        mql_at=["2026-01-10", "2026-02-03", None, "2026-03-08", "2026-01-02", None],
        sql_at=["2026-01-20", None, None, "2026-03-09", None, None],
        customer_at=[None, None, None, "2026-04-01", None, None],
    )
    return {"leads": leads}


def test_quarter_cohort_funnel_counts_the_quarters_leads_and_times_steps_over_all_of_them():
    steps = quarter_funnel(funnel_leads(), ["2026-01", "2026-02", "2026-03"]).steps.set_index("step")
    # Cohort L1–L4: MQL L1, L2, L4 (after 5, 2 and 7 days: median 5); SQL L1, L4; customer L4.
    assert steps["count"].to_dict() == {"lead": 4, "mql": 3, "sql": 2, "customer": 1}
    assert steps.loc["mql", "pct_of_first"] == pytest.approx(0.75)
    assert steps.loc["sql", "pct_of_previous"] == pytest.approx(2 / 3)
    assert steps.loc["mql", "median_days"] == pytest.approx(5.0)


def test_quarter_period_funnel_is_the_sum_of_the_monthly_period_funnels():
    tables = funnel_leads()
    months = ["2026-01", "2026-02", "2026-03"]
    quarter = quarter_funnel(tables, months, mode="period").steps.set_index("step")["count"]
    # MQLs entering in the quarter include L5 (created in December, MQL on 2 January); L4 became a customer
    # in April, outside the quarter.
    assert quarter.to_dict() == {"lead": 4, "mql": 4, "sql": 2, "customer": 0}
    summed = sum(funnel(tables, m, mode="period").steps.set_index("step")["count"] for m in months)
    pd.testing.assert_series_equal(quarter, summed)


def test_quarter_funnel_without_leads_says_which_export_it_needs():
    result = quarter_funnel(growth_tables(), ["2026-01"])
    assert not result.available and "lead" in result.reason


# ---------------------------------------------------------------------------------------------- sample company


@pytest.fixture(scope="module")
def sample():
    """The sample company exactly as data/sample/ holds it (test_sample checks generate() == data/sample/)."""
    return build_facts(generate())


def predicted_warnings() -> set[tuple[str, str]]:
    """Where PLANTED_EFFECTS says the SPEC §5 rules must fire on the key metrics.

    - organic_decline: the metrics slide in both listed months, so "two months running" fires in the second.
      MQLs slide with them: Organic Search is the channel with the best lead → MQL rate, so losing its leads
      costs MQLs in the same months (a consequence PLANTED_EFFECTS does not list).
    - churn_uptick: churn steps up and holds for the listed months, so "worse than the trailing median" fires
      while the median still holds pre-step months: the first two months of the step.
    """
    key = set(KEY_METRICS.values())
    decline, churn = PLANTED["organic_decline"], PLANTED["churn_uptick"]
    slid = (set(decline["metrics"]) | {"nurture.mqls"}) & key
    stepped = set(churn["metrics"]) & key
    return {(m, month) for m in slid for month in decline["months"][1:]} | {
        (m, month) for m in stepped for month in churn["months"][:2]
    }


def test_early_warnings_on_the_sample_fire_exactly_where_the_generator_planted_a_decline(sample):
    leads = sample.leads["created_at"]
    start, end = leads.min().to_period("M"), leads.max().to_period("M") - 1  # the last month is partial
    # The rules look back three months: judge the months whose look-back lies inside the generated window.
    months = {str(m) for m in pd.period_range(start + 3, end, freq="M")}
    quarters = sorted({str(pd.Period(m, freq="M").asfreq("Q")) for m in months})
    fired = pd.concat(
        [quarter_view(sample, q, metrics=list(KEY_METRICS.values())).warnings for q in quarters],
        ignore_index=True,
    )
    fired = fired[fired["month"].isin(months)]
    got = set(zip(fired["metric"], fired["month"], strict=True))
    assert got == predicted_warnings(), fired[["metric", "month", "rule", "value", "reference"]].to_string()
