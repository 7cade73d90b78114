"""Retention cohorts and NPS trend with verbatims (SPEC §5 "Retention")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metrics_fixtures import table

from lifecycle.metrics.nps import nps_by_month, nps_category, nps_verbatims
from lifecycle.metrics.retention import retention_cohorts

# January cohort: a (churns in January), b (churns in March), c (active). February: d (churns in May).
# March: e (active).
CUSTOMERS = table(
    "customers",
    customer_id=list("abcde"),
    started_at=["2024-01-05", "2024-01-20", "2024-01-31", "2024-02-10", "2024-03-01"],
    churned_at=["2024-01-25", "2024-03-15", None, "2024-05-01", None],
    channel=["web", "ads", "web", "web", "ads"],
)


def shares(result, cohort: str) -> list[float]:
    return result.table[result.table["cohort"].eq(cohort)]["share"].tolist()


def test_share_active_after_k_months_per_start_cohort_as_of_the_month():
    # As of March, k = 0..3. January (3): k0 b, c = 2/3; k1 (end Feb) b, c = 2/3; k2 (end Mar) c = 1/3;
    # k3 (April) not yet observed. February (1): d active through March -> 1, 1, –, –. March: e -> 1, –, –, –.
    result = retention_cohorts({"customers": CUSTOMERS}, "2024-03", cohorts=3, max_k=3)
    assert shares(result, "2024-01") == pytest.approx([2 / 3, 2 / 3, 1 / 3, np.nan], nan_ok=True)
    assert shares(result, "2024-02") == pytest.approx([1, 1, np.nan, np.nan], nan_ok=True)
    assert shares(result, "2024-03") == pytest.approx([1, np.nan, np.nan, np.nan], nan_ok=True)
    january = result.table[result.table["cohort"].eq("2024-01")]
    assert january["customers"].tolist() == [3, 3, 3, 3]
    assert january["active"].tolist()[:3] == [2, 2, 1] and pd.isna(january["active"].tolist()[3])


def test_pivot_puts_cohorts_in_rows_and_months_after_start_in_columns():
    pivot = retention_cohorts({"customers": CUSTOMERS}, "2024-03", cohorts=3, max_k=3).pivot()
    assert pivot.index.tolist() == ["2024-01", "2024-02", "2024-03"]
    assert pivot.columns.tolist() == [0, 1, 2, 3]
    assert pivot.loc["2024-01", 2] == pytest.approx(1 / 3)


def test_members_give_each_customer_s_months_survived():
    members = retention_cohorts({"customers": CUSTOMERS}, "2024-03", cohorts=3).members.set_index(
        "customer_id"
    )
    assert members.loc["a", "months_active"] == 0
    assert members.loc["b", "months_active"] == 2
    assert np.isnan(members.loc["c", "months_active"])


def test_channel_filter_and_empty_cohorts():
    # ads: b (January) and e (March); February has no ads customer -> share empty, size 0.
    result = retention_cohorts({"customers": CUSTOMERS}, "2024-03", "ads", cohorts=3, max_k=1)
    assert shares(result, "2024-01") == pytest.approx([1, 1])
    assert result.table[result.table["cohort"].eq("2024-02")]["customers"].tolist() == [0, 0]
    assert np.isnan(shares(result, "2024-02")).all()


def test_retention_needs_churn_dates():
    without_churn = retention_cohorts({"customers": CUSTOMERS.drop(columns=["churned_at"])}, "2024-03")
    assert not without_churn.available and "churn" in without_churn.reason
    derived_only = retention_cohorts(
        {"leads": table("leads", lead_id=["a"], created_at=["2024-01-01"])}, "2024-03"
    )
    assert not derived_only.available


# ---------------------------------------------------------------- NPS

NPS = table(
    "nps",
    respondent=list("abcdef"),
    responded_at=["2024-03-01", "2024-03-02", "2024-03-03", "2024-02-01", "2024-03-04", "2024-03-05"],
    score=[10, 8, 3, 9, 11, 6],
    comment=["great", None, "bad", "ok", "x", "  "],
    customer_id=["c1", "c2", None, None, None, None],
)
NPS_CUSTOMERS = table(
    "customers", customer_id=["c1", "c2"], started_at=["2023-01-01"] * 2, channel=["web", "ads"]
)
NPS_TABLES = {"nps": NPS, "customers": NPS_CUSTOMERS}


def test_categories_follow_the_nps_convention():
    scores = pd.Series([10, 9, 8, 7, 6, 0, 11, None], dtype="float64")
    assert nps_category(scores).tolist()[:6] == [
        "promoter",
        "promoter",
        "passive",
        "passive",
        "detractor",
        "detractor",
    ]
    assert nps_category(scores).isna().tolist()[6:] == [True, True]


def test_nps_by_month_counts_categories_and_scores_promoters_minus_detractors():
    # March: a 10 (P), b 8 (passive), c 3 (D), f 6 (D); e's 11 is out of range. NPS = (1 - 2) / 4 = -25.
    # February: d 9 -> +100. January: no responses -> empty NPS.
    trend = nps_by_month(NPS_TABLES, "2024-03", months=3)
    frame = trend.frame.set_index("month")
    assert frame.loc["2024-03", ["n", "promoters", "passives", "detractors"]].tolist() == [4, 1, 1, 2]
    assert frame.loc["2024-03", "nps"] == pytest.approx(-25)
    assert frame.loc["2024-02", "nps"] == pytest.approx(100)
    assert frame.loc["2024-01", "n"] == 0 and np.isnan(frame.loc["2024-01", "nps"])
    assert any("outside 0–10" in note for note in trend.notes)


def test_nps_by_channel_keeps_responses_of_that_channel_s_customers():
    # web: only a (customer c1) in March -> +100.
    frame = nps_by_month(NPS_TABLES, "2024-03", "web", months=1).frame
    assert frame["n"].tolist() == [1] and frame["nps"].tolist() == [100]


def test_verbatims_list_non_empty_comments_newest_first_with_category():
    # March comments: c "bad" (3 Mar, detractor), a "great" (1 Mar); f's blank comment and e's
    # out-of-range score are left out.
    frame = nps_verbatims(NPS_TABLES, "2024-03").frame
    assert frame["comment"].tolist() == ["bad", "great"]
    assert frame["category"].tolist() == ["detractor", "promoter"]
    assert frame["customer"].tolist() == ["c", "c1"]  # respondent when no customer id


def test_verbatims_filter_by_category_and_all_time():
    assert nps_verbatims(NPS_TABLES, None, category="promoter").frame["comment"].tolist() == ["great", "ok"]
    both = nps_verbatims(NPS_TABLES, None, category=["detractor", "passive"]).frame
    assert both["comment"].tolist() == ["bad"]
    with pytest.raises(ValueError, match="promoter"):
        nps_verbatims(NPS_TABLES, None, category="fan")


def test_nps_without_survey_export_is_unavailable():
    assert "nps" in nps_by_month({"customers": NPS_CUSTOMERS}, "2024-03").reason.lower()
    assert not nps_verbatims({}, "2024-03").available
