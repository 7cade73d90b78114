"""Cohort score profile (SPEC §5): month-end scores of each month's new leads, in bands."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_fixtures import table

from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.metrics.settings import Settings

# March cohort a, b, c, d; April cohort e.
LEADS = table(
    "leads",
    lead_id=["a", "b", "c", "d", "e"],
    created_at=["2024-03-01", "2024-03-05", "2024-03-10", "2024-03-20", "2024-04-02"],
    channel=["web", "web", "ads", None, "web"],
)
# End of March: a = 60 + 50 = 110 (the 23:59 change counts, the 1 April one does not); b = 30;
# c = 0 (its only change is on 1 April); d = 0 (no change). End of April: e = 10.
SCORES = table(
    "score_changes",
    lead_id=["a", "a", "b", "c", "e", "a"],
    at=["2024-03-02", "2024-03-31 23:59", "2024-03-06", "2024-04-01", "2024-04-10", "2024-04-01"],
    delta=[60, 50, 30, 80, 10, 5],
    reason=["x", "y", "x", "y", "x", "z"],
)
TABLES = {"leads": LEADS, "score_changes": SCORES}


def band_counts(profile, cohort: str) -> dict[str, int]:
    rows = profile.bands[profile.bands["cohort"].eq(cohort)]
    return dict(zip(rows["band"].astype(str), rows["count"], strict=True))


def test_each_cohort_is_banded_by_its_month_end_score():
    profile = cohort_score_profile(TABLES, "2024-04", cohorts=2)
    assert profile.cohorts == ("2024-03", "2024-04")
    # March: 0–24 = c, d; 25–49 = b; ≥100 = a.
    assert band_counts(profile, "2024-03") == {
        "<0": 0,
        "0–24": 2,
        "25–49": 1,
        "50–74": 0,
        "75–99": 0,
        "≥100": 1,
    }
    shares = profile.bands[profile.bands["cohort"].eq("2024-03")]["share"].tolist()
    assert shares == pytest.approx([0, 0.5, 0.25, 0, 0, 0.25])
    assert band_counts(profile, "2024-04")["0–24"] == 1


def test_summary_gives_median_and_share_at_or_above_the_mql_threshold():
    # March scores 110, 30, 0, 0: median (0 + 30) / 2 = 15, mean 35, 1 of 4 at >= 100.
    summary = cohort_score_profile(TABLES, "2024-04", cohorts=2).summary.set_index("cohort")
    assert summary.loc["2024-03", "n"] == 4
    assert summary.loc["2024-03", "median"] == pytest.approx(15.0)
    assert summary.loc["2024-03", "mean"] == pytest.approx(35.0)
    assert summary.loc["2024-03", "share_mql"] == pytest.approx(0.25)
    assert summary.loc["2024-04", "median"] == pytest.approx(10.0)


def test_bands_and_threshold_come_from_the_settings():
    # Bands <0, 0–49, ≥50: March 0, 3 (b, c, d), 1 (a). Threshold 30: a and b -> 2 of 4.
    custom = Settings(mql_threshold=30, score_bands=(0, 50))
    profile = cohort_score_profile(TABLES, "2024-03", settings=custom, cohorts=1)
    assert band_counts(profile, "2024-03") == {"<0": 0, "0–49": 3, "≥50": 1}
    assert profile.summary["share_mql"].iloc[0] == pytest.approx(0.5)


def test_a_cohort_without_leads_has_zero_counts_and_no_median():
    profile = cohort_score_profile(TABLES, "2024-04", cohorts=3)
    first = profile.summary.iloc[0]
    assert first["cohort"] == "2024-02" and first["n"] == 0
    assert np.isnan(first["median"]) and np.isnan(first["share_mql"])
    assert profile.bands[profile.bands["cohort"].eq("2024-02")]["share"].isna().all()


def test_default_range_is_24_cohorts_ending_with_the_month():
    profile = cohort_score_profile(TABLES, "2024-04")
    assert len(profile.cohorts) == 24 and profile.cohorts[-1] == "2024-04" and profile.cohorts[0] == "2022-05"
    assert len(profile.bands) == 24 * 6


def test_channel_filter_profiles_only_that_channel():
    # web: a (110) and b (30) in March.
    summary = cohort_score_profile(TABLES, "2024-03", channel="web", cohorts=1).summary
    assert summary["n"].iloc[0] == 2
    assert summary["median"].iloc[0] == pytest.approx(70.0)


def test_members_list_each_lead_with_its_cohort_score_and_band():
    members = cohort_score_profile(TABLES, "2024-03", cohorts=1).members.set_index("lead_id")
    assert members.loc["a", "score"] == 110 and members.loc["a", "band"] == "≥100"
    assert sorted(members.index) == ["a", "b", "c", "d"]


def test_without_score_history_the_current_score_stands_in_and_says_so():
    leads = table("leads", lead_id=["a", "b"], created_at=["2024-03-01", "2024-03-02"], score=[80, None])
    profile = cohort_score_profile({"leads": leads}, "2024-03", cohorts=1)
    assert profile.available and profile.score_source == "leads.score"
    assert profile.summary["n_scored"].iloc[0] == 1 and profile.summary["median"].iloc[0] == 80
    assert any("current score" in note for note in profile.notes)
    assert any("without a score" in note for note in profile.notes)


def test_without_any_score_the_profile_is_unavailable_with_a_reason():
    profile = cohort_score_profile({"leads": LEADS}, "2024-03")
    assert not profile.available and "score" in profile.reason
    assert profile.bands.empty


def test_without_leads_the_profile_is_unavailable():
    profile = cohort_score_profile({"score_changes": SCORES}, "2024-03")
    assert not profile.available and "leads" in profile.reason
