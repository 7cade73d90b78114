"""Score drivers and nurture impact (SPEC §5): touched vs untouched leads, nurtured vs not nurtured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts
from lifecycle.metrics.drivers import nurture_impact, score_drivers

# Six March leads; MQL: a (20 Mar), c (25 Mar), d (2 Mar). Programs on a, b, d.
LEADS = table(
    "leads",
    lead_id=list("abcdef"),
    created_at=["2024-03-01"] * 6,
    channel=["web", "web", "ads", "ads", "web", "web"],
    program=["Welcome", "Welcome", None, "Welcome", None, None],
    mql_at=["2024-03-20", None, "2024-03-25", "2024-03-02", None, None],
)
# Changes counted (at or before the lead's MQL): a webinar (2 Mar; its visit on 25 Mar is after MQL),
# b webinar, c visit + demo, d demo (its webinar on 5 Mar is after MQL on 2 Mar).
SCORES = table(
    "score_changes",
    lead_id=list("aabccdd"),
    at=["2024-03-02", "2024-03-25", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-01", "2024-03-05"],
    delta=[50, 10, 20, 30, 70, 100, 5],
    reason=["webinar", "visit", "webinar", "visit", "demo", "demo", "webinar"],
)
# Deals (created 1 Apr, so SQL and opportunity dates of a, c, d are 1 Apr):
# a won 100 after 30 days, d lost, c won 300 after 30 days.
DEALS = table(
    "deals",
    deal_id=["1", "2", "3"],
    created_at=["2024-04-01"] * 3,
    closed_at=["2024-05-01", "2024-06-01", "2024-05-01"],
    status=["won", "lost", "won"],
    amount=[100, 50, 300],
    lead_id=["a", "d", "c"],
)
TABLES = {"leads": LEADS, "score_changes": SCORES, "deals": DEALS}


def drivers_by_reason(**kwargs):
    return score_drivers(TABLES, "2024-03", months=1, min_leads=1, **kwargs).drivers.set_index("reason")


def test_changes_points_and_leads_touched_count_only_changes_up_to_the_mql_date():
    drivers = drivers_by_reason()
    # demo: c 70 + d 100 = 170 over 2 leads; webinar: a 50 + b 20; visit: c 30.
    assert drivers.loc["demo", ["changes", "points", "leads_touched"]].tolist() == [2, 170, 2]
    assert drivers.loc["webinar", ["changes", "points", "leads_touched"]].tolist() == [2, 70, 2]
    assert drivers.loc["visit", ["changes", "points", "leads_touched"]].tolist() == [1, 30, 1]


def test_lift_compares_the_mql_rate_of_touched_and_untouched_leads():
    drivers = drivers_by_reason()
    # demo: touched c, d both MQL = 1.0; untouched a, b, e, f: a only = 0.25; lift 1.0 / 0.25 - 1 = 3.
    assert drivers.loc["demo", "mql_rate_touched"] == pytest.approx(1.0)
    assert drivers.loc["demo", "mql_rate_untouched"] == pytest.approx(0.25)
    assert drivers.loc["demo", "lift"] == pytest.approx(3.0)
    assert drivers.loc["demo", "effect"] == "raises MQL rate"
    # visit: c = 1.0 vs a, d of a, b, d, e, f = 0.4 -> lift 1.5.
    assert drivers.loc["visit", "lift"] == pytest.approx(1.5)


def test_a_reason_whose_touched_leads_convert_like_the_others_is_flagged_no_effect():
    # webinar: a, b -> 0.5; untouched c, d, e, f: c, d -> 0.5; lift 0 (< 10 %).
    drivers = drivers_by_reason()
    assert drivers.loc["webinar", "lift"] == pytest.approx(0.0)
    assert drivers.loc["webinar", "no_effect"]
    assert not drivers.loc["demo", "no_effect"]


def test_reasons_touching_too_few_leads_say_so_instead_of_claiming_an_effect():
    drivers = score_drivers(TABLES, "2024-03", months=1).drivers.set_index("reason")
    assert (drivers["effect"] == "too few leads to tell").all()
    assert not drivers["no_effect"].any()


def test_reasons_are_ordered_by_leads_touched_and_members_list_who_was_touched():
    result = score_drivers(TABLES, "2024-03", months=1, min_leads=1)
    assert result.drivers["reason"].tolist() == ["demo", "webinar", "visit"]
    assert result.leads == 6
    demo = result.members[result.members["reason"].eq("demo")]
    assert sorted(demo["lead_id"]) == ["c", "d"]


def test_score_drivers_window_and_channel_narrow_the_leads():
    # Window ending February: no leads. Channel web: a, b, e, f; webinar touches a, b (0.5) vs e, f (0).
    assert score_drivers(TABLES, "2024-02", months=1).drivers.empty
    web = score_drivers(TABLES, "2024-03", "web", months=1, min_leads=1).drivers.set_index("reason")
    assert web.loc["webinar", "mql_rate_untouched"] == 0
    assert np.isnan(web.loc["webinar", "lift"])
    assert web.loc["webinar", "effect"] == "raises MQL rate"


def test_score_drivers_need_a_score_history_with_reasons():
    assert "score" in score_drivers({"leads": LEADS}, "2024-03").reason
    no_reason = {"leads": LEADS, "score_changes": SCORES.drop(columns=["reason"])}
    assert "reason" in score_drivers(no_reason, "2024-03").reason


def test_nurture_impact_compares_nurtured_and_other_leads():
    # Nurtured (program) a, b, d; not c, e, f. SQL/opportunity: a, d of 3 vs c of 3.
    # Deals: nurtured a won 100 + d lost -> win 0.5, average 100, 30 days; others c won 300 -> 1.0, 300, 30.
    result = nurture_impact(TABLES, "2024-03", months=1)
    groups = result.groups.set_index("group")
    assert groups.loc["nurtured", ["leads", "sqls", "deals_closed", "deals_won"]].tolist() == [3, 2, 2, 1]
    assert groups.loc["nurtured", "sql_rate"] == pytest.approx(2 / 3)
    assert groups.loc["not nurtured", "opportunity_rate"] == pytest.approx(1 / 3)
    assert groups.loc["nurtured", "win_rate"] == pytest.approx(0.5)
    assert groups.loc["not nurtured", "avg_won_amount"] == pytest.approx(300)
    assert groups.loc["nurtured", "median_days_to_close"] == pytest.approx(30)
    comparison = result.comparison.set_index("measure")
    assert comparison.loc["opportunity_rate", "lift"] == pytest.approx(1.0)
    assert comparison.loc["avg_won_amount", "lift"] == pytest.approx(100 / 300 - 1)
    assert comparison.loc["opportunity_rate", "reference_lift"] == pytest.approx(0.20)
    assert comparison.loc["avg_won_amount", "reference_lift"] == pytest.approx(0.47)
    assert np.isnan(comparison.loc["win_rate", "reference_lift"])


def test_a_lead_counts_as_nurtured_when_it_got_a_program_email_before_its_sql_date():
    # x: program email 5 Mar, SQL 10 Mar -> nurtured; y: SQL 1 Mar, email after -> not; z: no SQL -> nurtured.
    leads = table(
        "leads",
        lead_id=["x", "y", "z"],
        created_at=["2024-03-01"] * 3,
        sql_at=["2024-03-10", "2024-03-01", None],
    )
    emails = table(
        "email_events",
        recipient=["x", "y", "z"],
        event=["sent"] * 3,
        at=["2024-03-05"] * 3,
        program=["Welcome"] * 3,
        step=["1"] * 3,
    )
    result = nurture_impact({"leads": leads, "email_events": emails}, "2024-03", months=1)
    assert dict(zip(result.members["lead_id"], result.members["nurtured"], strict=True)) == {
        "x": True,
        "y": False,
        "z": True,
    }
    assert "email" in result.basis
    assert any("deals" in note for note in result.notes)


def test_nurture_impact_without_any_program_information_is_unavailable():
    result = nurture_impact({"leads": LEADS.drop(columns=["program"])}, "2024-03")
    assert not result.available and "program" in result.reason


def test_score_drivers_of_any_window_and_channel_match_a_count_over_the_changes_themselves():
    # Leads created over six months (some undated) on two channels, their changes before and after MQL: each
    # window and channel counted here directly from the changes, lead by lead.
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", "2024-06-30", freq="D")
    created = pd.Series(rng.choice(days, 80)).where(rng.random(80) > 0.1)
    created.iloc[7] = pd.Timestamp("1901-01-15")  # a stray date: one far month, not the years between
    mql = (created + pd.to_timedelta(rng.integers(0, 60, 80), unit="D")).where(rng.random(80) > 0.5)
    leads = table(
        "leads",
        lead_id=[f"L{i}" for i in range(80)],
        created_at=created.dt.strftime("%Y-%m-%d").tolist(),
        channel=rng.choice(["web", "ads"], 80).tolist(),
        mql_at=mql.dt.strftime("%Y-%m-%d").tolist(),
    )
    scores = table(
        "score_changes",
        lead_id=[f"L{i}" for i in rng.integers(0, 80, 400)],
        at=pd.Series(rng.choice(days, 400)).dt.strftime("%Y-%m-%d").tolist(),
        delta=rng.integers(-5, 30, 400).tolist(),
        reason=rng.choice(["webinar", "visit", "demo", "form"], 400).tolist(),
    )
    scores.loc[0, ["lead_id", "at"]] = ["L7", pd.Timestamp("1901-01-20")]  # the stray lead's change
    mql_of = dict(zip(leads["lead_id"], pd.to_datetime(leads["mql_at"]), strict=True))
    pairs = zip(scores["lead_id"], scores["at"], strict=True)
    counted = scores[[pd.isna(mql_of[i]) or at <= mql_of[i] for i, at in pairs]]
    for month, months, channel in [("2024-03", 1, None), ("2024-04", 3, "web"), ("2024-06", 12, "ads"),
                                   ("2024-02", 2, None), ("2023-12", 1, None), ("2024-05", 2, "nope"),
                                   ("1901-01", 1, None), ("1901-03", 3, "web")]:  # fmt: skip
        last = pd.Period(month, "M")
        start, end = (last - (months - 1)).start_time, (last + 1).start_time
        in_cohort = leads["created_at"].ge(start) & leads["created_at"].lt(end)
        if channel is not None:
            in_cohort &= leads["channel"].eq(channel)
        cohort = leads[in_cohort]
        mine = counted[counted["lead_id"].isin(cohort["lead_id"])]
        result = score_drivers({"leads": leads, "score_changes": scores}, month, channel, months=months)
        got = result.drivers.set_index("reason")
        assert result.leads == len(cohort)
        assert sorted(got.index) == sorted(mine["reason"].unique()), (month, months, channel)
        mqls = {i for i in cohort["lead_id"] if pd.notna(mql_of[i])}
        for reason, rows in mine.groupby("reason"):
            touched = set(rows["lead_id"])
            row = got.loc[reason]
            assert row[["changes", "points", "leads_touched"]].tolist() == [
                len(rows), rows["delta"].sum(), len(touched)
            ], (month, months, channel, reason)  # fmt: skip
            assert row["mql_rate_touched"] == pytest.approx(len(touched & mqls) / len(touched))
            untouched = len(cohort) - len(touched)
            if untouched:
                assert row["mql_rate_untouched"] == pytest.approx(len(mqls - touched) / untouched)
        listed = result.members.groupby("reason", observed=True)["lead_id"].apply(set).to_dict()
        assert listed == {reason: set(rows["lead_id"]) for reason, rows in mine.groupby("reason")}
    facts = build_facts({"leads": leads, "score_changes": scores})
    score_drivers(facts, "2024-03")
    created_months = leads["created_at"].dropna().dt.to_period("M").nunique()
    assert facts.cache[("drivers", "tally")].changes.shape[0] == created_months  # 1901-01 and 2024's six


def test_nurture_impact_of_each_channel_adds_up_to_all_channels_whatever_the_sends_channel():
    # x: no channel, e-mail shared with customer K (channel ads), so its program email is tagged ads: x is still
    # a nurtured lead of "(not set)". y (web) got no program email: web is compared, all not nurtured.
    leads = table(
        "leads",
        lead_id=["x", "y", "z"],
        created_at=["2024-03-01"] * 3,
        channel=[None, "web", "ads"],
        email=["k@acme.example", "y@acme.example", "z@acme.example"],
        sql_at=[None, "2024-03-20", "2024-03-25"],
    )
    customers = table(
        "customers", customer_id=["K"], started_at=["2023-01-01"], email=["k@acme.example"], channel=["ads"]
    )
    emails = table(
        "email_events",
        recipient=["x", "z"],
        event=["sent"] * 2,
        at=["2024-03-05"] * 2,
        program=["Welcome"] * 2,
        step=["1"] * 2,
    )
    data = {"leads": leads, "customers": customers, "email_events": emails}
    whole = nurture_impact(data, "2024-03", months=1)
    by_channel = {c: nurture_impact(data, "2024-03", c, months=1) for c in ("(not set)", "web", "ads")}
    assert dict(zip(by_channel["(not set)"].members["lead_id"], by_channel["(not set)"].members["nurtured"],
                    strict=True)) == {"x": True}  # fmt: skip
    web = by_channel["web"]
    assert web.available and web.members["nurtured"].tolist() == [False]
    for measure in ("leads", "sqls"):
        total = whole.groups.set_index("group")[measure]
        summed = sum(r.groups.set_index("group")[measure] for r in by_channel.values())
        assert summed.tolist() == total.tolist(), measure
