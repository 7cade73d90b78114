"""Funnel analysis (SPEC §5): cohort and period modes, step rates and timing, breakdowns, drill-through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_fixtures import table

from lifecycle.metrics import build_facts
from lifecycle.metrics.funnels import funnel, funnel_rows

# lead  created     channel  mql      sql      customer
# a     2024-03-01  web      03-03    03-13    04-13
# b     2024-03-05  web      03-15    –        –
# c     2024-03-10  ads      –        –        05-01    (skips MQL and SQL)
# d     2024-03-20  (empty)  –        –        –
# e     2024-04-02  web      04-03    –        –
# f     2024-02-10  ads      03-05    03-06    –
LEADS = table(
    "leads",
    lead_id=["a", "b", "c", "d", "e", "f"],
    created_at=["2024-03-01", "2024-03-05", "2024-03-10", "2024-03-20", "2024-04-02", "2024-02-10"],
    channel=["web", "web", "ads", None, "web", "ads"],
    segment=["smb", "ent", "smb", "smb", "ent", "ent"],
    mql_at=["2024-03-03", "2024-03-15", None, None, "2024-04-03", "2024-03-05"],
    sql_at=["2024-03-13", None, None, None, None, "2024-03-06"],
    customer_at=["2024-04-13", None, "2024-05-01", None, None, None],
)
TABLES = {"leads": LEADS}


def step_values(frame: pd.DataFrame, column: str, group: str = "All") -> list:
    return frame.loc[frame["group"].eq(group), column].tolist()


def test_cohort_funnel_counts_the_month_s_leads_at_every_stage_reached_to_date():
    # March cohort a, b, c, d. MQL: a, b and c (c is a customer, which implies MQL) = 3; SQL: a, c = 2;
    # customer: a, c = 2. No opportunity date in any export, so that step is left out.
    result = funnel(TABLES, "2024-03")
    assert step_values(result.steps, "step") == ["lead", "mql", "sql", "customer"]
    assert step_values(result.steps, "count") == [4, 3, 2, 2]
    assert step_values(result.steps, "pct_of_first") == pytest.approx([1.0, 0.75, 0.5, 0.5])
    assert step_values(result.steps, "pct_of_previous") == pytest.approx(
        [np.nan, 0.75, 2 / 3, 1.0], nan_ok=True
    )
    assert any("Opportunities left out" in note for note in result.notes)


def test_days_from_previous_step_use_only_leads_with_both_dates():
    # MQL: a 2 days, b 10 days -> median 6, p90 = 2 + 0.9 * 8 = 9.2. SQL: a 10 days.
    # Customer: a 31 days (03-13 -> 04-13); c has no SQL date, so it is counted but not timed.
    steps = funnel(TABLES, "2024-03").steps
    assert step_values(steps, "median_days") == pytest.approx([np.nan, 6.0, 10.0, 31.0], nan_ok=True)
    assert step_values(steps, "p90_days") == pytest.approx([np.nan, 9.2, 10.0, 31.0], nan_ok=True)
    assert step_values(steps, "n_timed") == [0, 2, 1, 1]


def test_period_funnel_counts_stage_entries_in_the_month_and_can_rise():
    # March: created a, b, c, d = 4; MQL a, b, f = 3 (f created in February); SQL a, f = 2; customers 0.
    # MQL days: a 2, b 10, f 24 (02-10 -> 03-05) -> median 10. SQL days: a 10, f 1 -> median 5.5.
    march = funnel(TABLES, "2024-03", mode="period").steps
    assert step_values(march, "count") == [4, 3, 2, 0]
    assert step_values(march, "median_days") == pytest.approx([np.nan, 10.0, 5.5, np.nan], nan_ok=True)
    # April: created e; MQL e; no SQL; customer a -> 1, 1, 0, 1 (flow, not a cohort: it rises again).
    april = funnel(TABLES, "2024-04", mode="period").steps
    assert step_values(april, "count") == [1, 1, 0, 1]
    assert np.isnan(step_values(april, "pct_of_previous")[3])


def test_breakdown_by_channel_gives_every_step_per_channel_with_not_set_last():
    # web: a, b -> 2, 2, 1, 1; ads: c -> 1, 1, 1, 1; (not set): d -> 1, 0, 0, 0.
    steps = funnel(TABLES, "2024-03", by="channel").steps
    assert list(dict.fromkeys(steps["group"])) == ["web", "ads", "(not set)"]
    assert step_values(steps, "count", "web") == [2, 2, 1, 1]
    assert step_values(steps, "count", "ads") == [1, 1, 1, 1]
    assert step_values(steps, "count", "(not set)") == [1, 0, 0, 0]


def test_breakdown_by_segment_sums_to_the_total():
    by_segment = funnel(TABLES, "2024-03", by="segment").steps
    total = funnel(TABLES, "2024-03").steps
    summed = by_segment.groupby("step", sort=False)["count"].sum()
    assert summed.tolist() == total["count"].tolist()


def test_channel_filter_keeps_only_that_channel_s_leads():
    steps = funnel(TABLES, "2024-03", channel="web").steps
    assert step_values(steps, "count") == [2, 2, 1, 1]


def test_a_month_without_leads_gives_zero_counts_and_undefined_rates():
    steps = funnel(TABLES, "2023-01").steps
    assert step_values(steps, "count") == [0, 0, 0, 0]
    assert steps["pct_of_first"].isna().all()


def test_a_channel_with_no_rows_gives_zero_counts_not_an_error():
    steps = funnel(TABLES, "2024-03", channel="tv", by="channel").steps
    assert steps.empty
    assert funnel(TABLES, "2024-03", channel="tv").steps["count"].sum() == 0


def test_without_a_leads_export_the_funnel_is_unavailable_with_a_reason():
    result = funnel(
        {"deals": table("deals", deal_id=["1"], created_at=["2024-03-01"], status=["open"])}, "2024-03"
    )
    assert not result.available
    assert "leads" in result.reason
    assert result.steps.empty


def test_opportunity_step_appears_when_deals_give_opportunity_dates():
    # a's deal created 03-20 becomes its opportunity date; its SQL date (03-13) stays.
    deals = table("deals", deal_id=["1"], created_at=["2024-03-20"], status=["won"], lead_id=["a"])
    steps = funnel({"leads": LEADS, "deals": deals}, "2024-03").steps
    assert step_values(steps, "step") == ["lead", "mql", "sql", "opportunity", "customer"]
    # Opportunity: a (own date) and c (implied by being a customer) = 2; a's 7 days from SQL to opportunity.
    assert step_values(steps, "count") == [4, 3, 2, 2, 2]
    assert step_values(steps, "median_days")[3] == pytest.approx(7.0)


def test_rows_return_the_leads_behind_a_step_with_their_dates():
    result = funnel(build_facts(TABLES), "2024-03")
    customers = result.rows("customer")
    assert sorted(customers["lead_id"]) == ["a", "c"]
    implied = customers.set_index("lead_id")
    assert implied.loc["a", "entered_at"] == pd.Timestamp("2024-04-13")
    assert pd.isna(implied.loc["c", "days_from_previous"])
    by_channel = funnel_rows(TABLES, "2024-03", "mql", by="channel", group="web")
    assert sorted(by_channel["lead_id"]) == ["a", "b"]


def test_unknown_mode_or_breakdown_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        funnel(TABLES, "2024-03", mode="weekly")
    with pytest.raises(ValueError, match="broken down"):
        funnel(TABLES, "2024-03", by="campaign")


# ---------------------------------------------------------------- property: the cohort funnel never widens

_day = st.integers(min_value=0, max_value=120)
_maybe_day = st.one_of(st.none(), _day)


@st.composite
def lead_tables(draw):
    n = draw(st.integers(min_value=0, max_value=12))
    base = pd.Timestamp("2024-03-01")

    def dates(values):
        return [None if v is None else str((base + pd.Timedelta(days=v)).date()) for v in values]

    return table(
        "leads",
        lead_id=[f"L{i}" for i in range(n)],
        created_at=dates(draw(st.lists(st.integers(0, 45), min_size=n, max_size=n))),
        channel=draw(st.lists(st.sampled_from(["web", "ads", None]), min_size=n, max_size=n)),
        mql_at=dates(draw(st.lists(_maybe_day, min_size=n, max_size=n))),
        sql_at=dates(draw(st.lists(_maybe_day, min_size=n, max_size=n))),
        opportunity_at=dates(draw(st.lists(_maybe_day, min_size=n, max_size=n))),
        customer_at=dates(draw(st.lists(_maybe_day, min_size=n, max_size=n))),
    )


@settings(max_examples=40, deadline=None)
@given(leads=lead_tables(), by=st.sampled_from([None, "channel"]))
def test_cohort_funnel_counts_never_increase_along_the_steps(leads, by):
    steps = funnel({"leads": leads}, "2024-03", by=by).steps
    for _, group in steps.groupby("group"):
        counts = group["count"].to_numpy()
        assert (np.diff(counts) <= 0).all()
        assert ((group["pct_of_previous"].dropna() >= 0) & (group["pct_of_previous"].dropna() <= 1)).all()
