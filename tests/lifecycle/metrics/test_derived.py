"""Derived facts (SPEC §3): stage dates, customer starts, channels, email sends and score history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_fixtures import table

from lifecycle.metrics import build_facts, compute_metrics, month_bounds, parse_month
from lifecycle.metrics.derived import REGISTERED_KEY, Later
from lifecycle.metrics.months import INDEX_KEY, MonthIndex, _address
from lifecycle.metrics.records import _first_lead_per_key, positions_in
from lifecycle.metrics.scores import ScoreHistory
from lifecycle.values import first_appearance_codes

NAT = None
T = pd.Timestamp


def by_id(frame: pd.DataFrame, column: str, id_column: str = "lead_id") -> dict:
    return dict(zip(frame[id_column], frame[column], strict=True))


# ---------------------------------------------------------------- stage dates


def test_stage_dates_come_from_lead_columns_else_the_first_lead_stages_entry():
    leads = table(
        "leads", lead_id=["a", "b"], created_at=["2026-01-01", "2026-01-02"], mql_at=["2026-02-01", NAT]
    )
    stages = table(
        "lead_stages",
        lead_id=["a", "b", "b", "b"],
        stage=["MQL", "Marketing Qualified Lead", "mql", "sql"],
        entered_at=["2026-01-20", "2026-03-05", "2026-02-10", "2026-03-01"],
    )
    facts = build_facts({"leads": leads, "lead_stages": stages})
    # a keeps its column value (1 Feb, not the stage's 20 Jan); b takes its first MQL entry (10 Feb)
    assert by_id(facts.leads, "mql_at") == {"a": T("2026-02-01"), "b": T("2026-02-10")}
    assert by_id(facts.leads, "sql_at")["b"] == T("2026-03-01")
    assert facts.info["stage_sources"]["mql_at"] == ["leads", "lead_stages"]


def test_leads_come_from_lead_stages_alone_created_at_the_lead_stage_else_earliest_entry():
    stages = table(
        "lead_stages",
        lead_id=["a", "a", "b"],
        stage=["lead", "mql", "mql"],
        entered_at=["2026-01-05", "2026-01-09", "2026-02-01"],
    )
    facts = build_facts({"lead_stages": stages})
    assert by_id(facts.leads, "created_at") == {"a": T("2026-01-05"), "b": T("2026-02-01")}
    assert set(facts.leads["channel"]) == {"(not set)"}


def test_sql_date_falls_back_to_opportunity_then_first_deal_created():
    leads = table(
        "leads",
        lead_id=["s", "o", "d", "n"],
        created_at=["2026-01-01"] * 4,
        sql_at=["2026-02-01", NAT, NAT, NAT],
        opportunity_at=["2026-02-05", "2026-02-07", NAT, NAT],
    )
    deals = table(
        "deals",
        deal_id=["x", "y", "z"],
        created_at=["2026-02-20", "2026-02-09", "2026-01-30"],
        status=["open", "open", "open"],
        lead_id=["d", "d", "s"],
    )
    sql = by_id(build_facts({"leads": leads, "deals": deals}).leads, "sql_at")
    # s: own sql_at; o: opportunity; d: its first deal (9 Feb, not 20 Feb); n: none
    assert sql["s"] == T("2026-02-01") and sql["o"] == T("2026-02-07") and sql["d"] == T("2026-02-09")
    assert pd.isna(sql["n"])


def test_customer_start_prefers_customers_then_lead_column_then_first_won_deal():
    leads = table(
        "leads",
        lead_id=["x", "y", "z"],
        created_at=["2026-01-01"] * 3,
        email=["X@Corp.com", "y@corp.com", "z@corp.com"],
        customer_at=["2026-03-10", "2026-03-12", NAT],
    )
    customers = table("customers", customer_id=["cx"], started_at=["2026-03-01"], email=["x@corp.COM"])
    deals = table(
        "deals",
        deal_id=["d1", "d2", "d3"],
        created_at=["2026-02-01"] * 3,
        closed_at=["2026-03-05", "2026-03-20", "2026-03-15"],
        status=["won", "won", "lost"],
        lead_id=["y", "z", "z"],
    )
    facts = build_facts({"leads": leads, "customers": customers, "deals": deals})
    # x: customers row joined by e-mail (case-insensitive); y: its column beats the won deal; z: won deal only
    assert by_id(facts.leads, "customer_at") == {
        "x": T("2026-03-01"),
        "y": T("2026-03-12"),
        "z": T("2026-03-20"),
    }
    assert by_id(facts.customers, "lead_id", "customer_id") == {"cx": "x"}


def test_customers_link_to_leads_by_id_then_email_then_account():
    leads = table(
        "leads",
        lead_id=["L1", "L2", "L3", "L4"],
        created_at=["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-01"],
        email=["a@x.com", "b@x.com", None, None],
        account=[None, None, "Acme", "acme "],
        channel=["Paid", "Organic", "Events", "Partner"],
    )
    customers = table(
        "customers",
        customer_id=["L1", "c2", "c3", "c4"],
        started_at=["2026-03-01"] * 4,
        email=[None, "B@X.COM", None, None],
        account=[None, None, "ACME", "Other"],
    )
    facts = build_facts({"leads": leads, "customers": customers})
    # c3 joins the first-created lead of account acme (L4, created 1 Jan, trailing space ignored)
    linked = by_id(facts.customers, "lead_id", "customer_id")
    assert {k: linked[k] for k in ("L1", "c2", "c3")} == {"L1": "L1", "c2": "L2", "c3": "L4"}
    assert pd.isna(linked["c4"])
    # channel: the lead's (no customers.channel), else (not set)
    assert by_id(facts.customers, "channel", "customer_id") == {
        "L1": "Paid", "c2": "Organic", "c3": "Partner", "c4": "(not set)"
    }  # fmt: skip


def test_a_contact_created_after_its_account_became_a_customer_is_not_that_customers_lead():
    leads = table(
        "leads",
        lead_id=["early", "late"],
        created_at=["2024-01-01", "2024-06-01"],
        account=["Beta", "Acme"],
    )
    customers = table(
        "customers",
        customer_id=["c-beta", "c-acme"],
        started_at=["2024-02-01", "2024-03-01"],
        account=["Beta", "Acme"],
    )
    facts = build_facts({"leads": leads, "customers": customers})
    linked = by_id(facts.customers, "lead_id", "customer_id")
    # Beta's lead existed a month before Beta became a customer; Acme's contact arrived three months after.
    assert linked["c-beta"] == "early" and pd.isna(linked["c-acme"])
    assert pd.isna(by_id(facts.leads, "customer_at")["late"])


def test_derived_customers_are_one_per_account_from_the_earliest_new_win():
    deals = table(
        "deals",
        deal_id=["a", "b", "c", "d"],
        created_at=["2026-01-01"] * 4,
        closed_at=["2026-03-10", "2026-02-05", "2026-01-20", "2026-03-01"],
        status=["won", "won", "won", "won"],
        type=["new", "new", "upsell", "new"],
        account=["Acme", "ACME", "Beta", None],
    )
    customers = build_facts({"deals": deals}).customers
    # Acme from 5 Feb (two spellings, one account); Beta's only win is an upsell → no customer; d has no account
    assert by_id(customers, "start", "customer_id") == {"ACME": T("2026-02-05"), "deal:d": T("2026-03-01")}
    assert customers["churned_at"].isna().all()


def test_deal_channel_is_its_own_else_its_leads_else_not_set():
    leads = table("leads", lead_id=["L"], created_at=["2026-01-01"], channel=["Email"])
    deals = table(
        "deals",
        deal_id=["own", "lead", "orphan", "blank"],
        created_at=["2026-02-01"] * 4,
        status=["open"] * 4,
        channel=["Partner", None, None, "  "],
        lead_id=["L", "L", "missing", "L"],
    )
    facts = build_facts({"leads": leads, "deals": deals})
    assert by_id(facts.deals, "channel", "deal_id") == {
        "own": "Partner", "lead": "Email", "orphan": "(not set)", "blank": "Email"
    }  # fmt: skip
    assert by_id(facts.deals, "lead_linked", "deal_id") == {
        "own": True,
        "lead": True,
        "orphan": False,
        "blank": True,
    }


def test_duplicate_lead_ids_keep_the_last_row():
    leads = table("leads", lead_id=["a", "a"], created_at=["2026-01-01", "2026-02-01"])
    assert by_id(build_facts({"leads": leads}).leads, "created_at") == {"a": T("2026-02-01")}


# ---------------------------------------------------------------- channels and views


def test_channels_are_shared_categories_sorted_with_not_set_last():
    leads = table(
        "leads", lead_id=["a", "b", "c"], created_at=["2026-01-01"] * 3, channel=["zeta", None, "Alpha"]
    )
    spend = table("spend", date=["2026-01-01"], amount=[1], channel=["beta"])
    facts = build_facts({"leads": leads, "spend": spend})
    assert facts.channels == ("Alpha", "beta", "zeta", "(not set)")
    assert list(facts.leads["channel"].cat.categories) == list(facts.spend["channel"].cat.categories)


def test_a_channel_view_is_memoized_and_holds_only_that_channel():
    leads = table("leads", lead_id=["a", "b"], created_at=["2026-01-01"] * 2, channel=["x", "y"])
    facts = build_facts({"leads": leads})
    view = facts.view("x")
    assert list(view.leads["lead_id"]) == ["a"] and facts.view("x") is view and facts.view(None) is facts


MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_a_channel_views_frames_are_narrowed_when_first_read_and_give_the_same_numbers():
    leads = table(
        "leads",
        lead_id=["a", "b", "c", "d"],
        created_at=["2026-03-02", "2026-03-09", "2026-03-20", "2026-02-27"],
        channel=["x", "y", "x", "x"],
    )
    traffic = table(
        "web_traffic",
        date=["2026-03-01", "2026-03-01", "2026-02-01"],
        sessions=[10, 7, 5],
        channel=["x", "y", "x"],
    )
    facts = build_facts({"leads": leads, "web_traffic": traffic})
    view = facts.view("x")
    assert isinstance(view.stored("leads"), Later) and isinstance(view.stored("traffic"), Later)
    # a traffic metric reads the traffic only (its month index registered without the leads)...
    assert compute_metrics(facts, ["attract.sessions"], "2026-03", "x")["attract.sessions"].value == 10
    assert isinstance(view.stored("leads"), Later) and "leads" not in view.cache[REGISTERED_KEY]
    # ...and the leads read afterwards are that channel's, registered once read: a and c in March
    assert compute_metrics(facts, ["capture.new_leads"], "2026-03", "x")["capture.new_leads"].value == 2
    assert list(view.leads["lead_id"]) == ["a", "c", "d"] and view.stored("leads") is view.leads
    assert {"leads", "traffic"} <= view.cache[REGISTERED_KEY]
    assert _address(view.leads["created_at"].to_numpy()) in view.cache[INDEX_KEY]
    # asked for enough months, the view's leads get a month index of their own: the same counts as the frame's
    counts = [
        compute_metrics(facts, ["capture.new_leads"], m, "x")["capture.new_leads"].value for m in MONTHS
    ]
    assert isinstance(view.cache[INDEX_KEY][_address(view.leads["created_at"].to_numpy())], MonthIndex)
    assert (
        counts == [0, 1, 2, 0] == [(view.leads["created_at"].dt.strftime("%Y-%m") == m).sum() for m in MONTHS]
    )
    assert facts.view("y").stored("deals") is None  # no deals loaded: nothing to narrow


# ---------------------------------------------------------------- email sends


def test_email_events_collapse_to_one_row_per_email_and_recipient():
    leads = table("leads", lead_id=["L1"], created_at=["2026-01-01"], email=["Ann@X.com"], channel=["Paid"])
    events = table(
        "email_events",
        recipient=["ann@x.com", "ann@x.com", "ann@x.com", "L1", "z@y.com", "z@y.com"],
        event=["sent", "open", "open", "click", "open", "sent"],
        at=["2026-03-02 10:00", "2026-03-03", "2026-03-04", "2026-03-09", "2026-03-05", "2026-03-06"],
        email=["E1", "E1", "E1", "E2", "E3", "E3"],
    )
    sends = build_facts({"leads": leads, "email_events": events}).sends.set_index(["email", "recipient"])
    assert len(sends) == 3
    ann = sends.loc[("E1", "ann@x.com")]
    assert ann["lead_id"] == "L1" and ann["channel"] == "Paid" and ann["opened"] and not ann["clicked"]
    assert ann["sent_at"] == T("2026-03-02 10:00")
    # E2 has only a click: the click proves the open and the delivery; it joins by lead id
    click_only = sends.loc[("E2", "L1")]
    assert click_only["opened"] and click_only["delivered"] and click_only["sent_at"] == T("2026-03-09")
    # z: an open logged before the send event; the send time is still the sent event's
    unknown = sends.loc[("E3", "z@y.com")]
    assert (
        unknown["sent_at"] == T("2026-03-06")
        and pd.isna(unknown["lead_id"])
        and unknown["channel"] == "(not set)"
    )


def test_email_audience_column_wins_over_the_inferred_audience():
    customers = table("customers", customer_id=["c"], started_at=["2026-01-01"])
    events = table(
        "email_events",
        recipient=["c", "c"],
        event=["sent", "sent"],
        at=["2026-03-01", "2026-03-01"],
        email=["news", "promo"],
        audience=[None, "Prospect"],
    )
    sends = build_facts({"customers": customers, "email_events": events}).sends
    assert dict(zip(sends["email"], sends["audience"], strict=True)) == {
        "news": "customer",
        "promo": "prospect",
    }


# ---------------------------------------------------------------- scores


def test_score_at_a_time_mixes_totals_and_later_deltas_and_defaults_to_zero():
    leads = table("leads", lead_id=["a", "b", "c"], created_at=["2026-01-01"] * 3)
    changes = table(
        "score_changes",
        lead_id=["a", "a", "a", "b", "b"],
        at=["2026-01-05", "2026-01-10", "2026-01-20", "2026-01-03", "2026-01-03"],
        delta=[10, None, 5, 4, -1],
        score=[None, 50, None, None, None],
    )
    facts = build_facts({"leads": leads, "score_changes": changes})
    # a: 10, then the total 50, then +5 → 55 on 20 Jan; at 15 Jan: 50; before any change: 0
    # b: two changes at the same time, both counted: 4 − 1 = 3; c: no change → 0
    assert facts.score_at(T("2026-01-20")).to_dict() == {"a": 55, "b": 3, "c": 0}
    assert facts.score_at(T("2026-01-15")).to_dict() == {"a": 50, "b": 3, "c": 0}
    assert facts.score_at(T("2026-01-04")).to_dict() == {"a": 0, "b": 3, "c": 0}
    per_lead = pd.Series([T("2026-01-06"), T("2026-01-02")], index=["a", "b"])
    assert facts.score_at(per_lead).to_dict() == {"a": 10, "b": 0}


def _running_scores_by_hand(changes: pd.DataFrame) -> list[tuple[str, pd.Timestamp, float, float]]:
    """(lead, at, delta, score) per kept row, ordered by lead, time and file order: the SPEC §3 rule, one row
    at a time."""
    rows = [
        (lead, at, i, delta, score)
        for i, (lead, at, delta, score) in enumerate(
            changes[["lead_id", "at", "delta", "score"]].itertuples(index=False)
        )
        if not pd.isna(lead) and not pd.isna(at) and not (pd.isna(delta) and pd.isna(score))
    ]
    out, lead_now, running = [], None, 0.0
    for lead, at, _, delta, score in sorted(rows, key=lambda r: (str(r[0]), r[1], r[2])):
        before = 0.0 if lead != lead_now else running
        running = float(score) if not pd.isna(score) else before + float(delta)
        lead_now = lead
        out.append((str(lead), at, running - before, running))
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(["2026-01-01", "2026-01-02", "2026-01-03", None]),
            st.one_of(st.none(), st.sampled_from([1.0, -2.0, 5.0, 0.1, 0.2])),
            st.one_of(st.none(), st.sampled_from([0.0, 10.0, 7.5])),
        ),
        max_size=25,
    )
)
def test_score_history_orders_and_runs_the_scores_like_the_rule_one_row_at_a_time(rows):
    changes = table(
        "score_changes",
        lead_id=[r[0] for r in rows],
        at=[r[1] for r in rows],
        delta=[r[2] for r in rows],
        score=[r[3] for r in rows],
    )
    history = ScoreHistory.from_tables({"score_changes": changes})
    got = history.changes
    want = _running_scores_by_hand(changes)
    assert [(str(r.lead_id), r.at) for r in got.itertuples()] == [(w[0], w[1]) for w in want]
    assert got["delta"].tolist() == pytest.approx([w[2] for w in want], abs=1e-9)
    assert got["score"].tolist() == pytest.approx([w[3] for w in want], abs=1e-9)
    leads = sorted({w[0] for w in want})
    assert history.lead_index.tolist() == leads
    assert history.starts.tolist() == [[w[0] for w in want].index(lead) for lead in leads] + [len(want)]
    # Ids read back as a categorical (as the event tables are), its categories in their own order and one of
    # them ("zz") used by no row: the same history.
    ids = changes["lead_id"].astype(pd.CategoricalDtype(pd.Index(["c", "zz", "b", "a"], dtype="str")))
    compact = ScoreHistory.from_tables({"score_changes": changes.assign(lead_id=ids)})
    pd.testing.assert_frame_equal(
        compact.changes.assign(lead_id=compact.changes["lead_id"].astype("str")),
        got.assign(lead_id=got["lead_id"].astype("str")),
    )
    assert compact.lead_index.tolist() == leads and compact.starts.tolist() == history.starts.tolist()


def test_month_end_score_is_the_score_at_the_end_of_the_creation_month():
    leads = table("leads", lead_id=["a"], created_at=["2026-01-15"], score=[999])
    changes = table(
        "score_changes", lead_id=["a", "a"], at=["2026-01-31 23:59", "2026-02-01"], delta=[7, 100]
    )
    facts = build_facts({"leads": leads, "score_changes": changes})
    assert facts.leads["score_month_end"].tolist() == [7]


def test_reengaged_is_the_first_positive_score_change_or_open_after_recycling():
    leads = table(
        "leads",
        lead_id=["a", "b"],
        created_at=["2026-01-01"] * 2,
        recycled_at=["2026-02-01", "2026-02-01"],
    )
    changes = table("score_changes", lead_id=["a", "a", "b"], at=["2026-01-20", "2026-02-03", "2026-02-02"],
                    delta=[5, 8, -2])  # fmt: skip
    events = table(
        "email_events", recipient=["b", "b"], event=["open", "sent"], at=["2026-02-10", "2026-02-09"]
    )
    leads_facts = build_facts({"leads": leads, "score_changes": changes, "email_events": events}).leads
    # a: the +5 is before recycling, the +8 on 3 Feb after; b: −2 is no engagement, the open on 10 Feb is
    assert by_id(leads_facts, "reengaged_at") == {"a": T("2026-02-03"), "b": T("2026-02-10")}


# ---------------------------------------------------------------- months


def test_month_bounds_are_half_open_calendar_months():
    assert month_bounds("2024-02") == (T("2024-02-01"), T("2024-03-01"))


@pytest.mark.parametrize("bad", ["2024-13", "24-01", "2024/01", "March", ""])
def test_parse_month_rejects_anything_but_yyyy_mm(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(bad)


def test_first_code_and_earliest_tick_per_group_follow_row_order():
    from lifecycle.metrics.emails import _NO_TICK, _first_code_per_group, _first_ticks
    from lifecycle.values import first_rows

    groups = np.array([2, 0, 2, 0, 1, 2, 3])
    first_rows = first_rows(groups, 4)
    assert first_rows.tolist() == [1, 4, 0, 6]
    codes = np.array([-1, 5, 7, 3, -1, 4, 2])  # group 2's first row has no code: its next one counts
    assert _first_code_per_group(groups, codes, 4, first_rows).tolist() == [5, -1, 7, 2]
    complete = np.array([9, 5, 7, 3, 6, 4, 2])  # no code missing: each group's first row
    assert _first_code_per_group(groups, complete, 4, first_rows).tolist() == [5, 6, 9, 2]
    ticks = np.array([30, 20, 10, 25, 5, 40, 1])
    assert _first_ticks(groups[:6], ticks[:6], 4).tolist() == [20, 5, 10, _NO_TICK]


def test_send_months_count_each_month_audience_and_channel_in_sorted_order():
    from lifecycle.metrics.emails import send_months

    channels = pd.CategoricalDtype(["Paid", "Organic", "(not set)"])
    audiences = pd.CategoricalDtype(["prospect", "customer"])
    sends = pd.DataFrame(
        {
            "sent_at": pd.to_datetime(
                ["2026-03-31 23:00", "2026-02-01", "2026-03-01", "2026-03-15", None, "2026-02-10"],
                format="ISO8601",
            ).astype("datetime64[us]"),
            "audience": pd.Categorical(
                ["prospect", "customer", "prospect", "prospect", "prospect", None], dtype=audiences
            ),
            "channel": pd.Categorical(["Organic", "Paid", "Organic", "Paid", "Paid", "Paid"], dtype=channels),
            "delivered": [True, True, False, True, True, True],
            "opened": [True, False, False, True, True, True],
            "clicked": [False, False, False, True, False, False],
            "bounced": [False, False, True, False, False, False],
            "unsubscribed": [False, True, False, False, False, False],
        }
    )
    out = send_months(sends)  # the undated send and the one without audience are not counted
    assert out["month"].dt.strftime("%Y-%m").tolist() == ["2026-02", "2026-03", "2026-03"]
    assert out["audience"].tolist() == ["customer", "prospect", "prospect"]
    assert out["channel"].tolist() == ["Paid", "Paid", "Organic"]  # category order, as a sorted groupby
    assert out[["sends", "delivered", "opened", "clicked", "bounced", "unsubscribed"]].values.tolist() == [
        [1, 1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0, 0],
        [2, 1, 1, 0, 1, 0],
    ]
    assert out["channel"].dtype == channels and out["sends"].dtype == np.int64
    assert send_months(sends.iloc[:0]).empty


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [0, 1, 2, 40, 600]
            ),  # months after 2020-01: near (a count per group) or far apart
            st.sampled_from(["prospect", "customer", None]),
            st.sampled_from(["Paid", "Organic", "(not set)"]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=25,
    )
)
def test_send_months_are_a_groupby_of_the_sends(rows):
    # Counted per possible group when the groups are few for the sends, else by sorting the distinct groups:
    # either way the counts a groupby of (month, audience, channel) gives, in its order.
    from lifecycle.metrics.emails import FLAG_NAMES, send_months

    channels, audiences = (
        pd.CategoricalDtype(["Paid", "Organic", "(not set)"]),
        pd.CategoricalDtype(["prospect", "customer"]),
    )
    sends = pd.DataFrame(
        {
            "sent_at": (
                pd.Timestamp("2020-01-05") + pd.to_timedelta([r[0] * 31 for r in rows], unit="D")
            ).astype("datetime64[us]"),
            "audience": pd.Categorical([r[1] for r in rows], dtype=audiences),
            "channel": pd.Categorical([r[2] for r in rows], dtype=channels),
        }
    )
    for flag in FLAG_NAMES[1:]:
        sends[flag] = [r[3] if flag == "opened" else r[4] for r in rows]
    out = send_months(sends)
    month = sends["sent_at"].dt.to_period("M").dt.start_time.astype("datetime64[us]")
    want = (
        sends.assign(month=month, sends=1)
        .groupby(["month", "audience", "channel"], observed=True)[["sends", *FLAG_NAMES[1:]]]
        .sum()
        .reset_index()
    )
    assert out["month"].tolist() == want["month"].tolist()
    assert out["audience"].tolist() == want["audience"].tolist()
    assert out["channel"].tolist() == want["channel"].tolist()
    assert out[["sends", *FLAG_NAMES[1:]]].values.tolist() == want[["sends", *FLAG_NAMES[1:]]].values.tolist()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x", "y", "z", None]),
            st.sampled_from(["2026-01-01", "2026-01-02", "2026-01-01 12:00", None]),
        ),
        max_size=15,
    )
)
def test_first_lead_per_key_is_the_earliest_created_then_the_first_in_the_file(rows):
    keys = pd.Series([r[0] for r in rows], dtype="str")
    created = pd.Series(pd.to_datetime([r[1] for r in rows], format="ISO8601"), dtype="datetime64[us]")
    lead_ids = pd.Series([f"L{i}" for i in range(len(rows))], dtype="str")
    got = _first_lead_per_key(keys, created, lead_ids).to_dict()
    want = {}
    for key in {r[0] for r in rows if r[0] is not None}:
        mine = [i for i, r in enumerate(rows) if r[0] == key]
        dated = [i for i in mine if rows[i][1] is not None]
        want[key] = f"L{min(dated, key=lambda i: (created[i], i)) if dated else mine[0]}"
    assert got == want


def test_pair_codes_number_the_distinct_keys_in_order_of_appearance_by_flags_or_by_hashing():
    keys = np.array([5, 3, 5, 9], dtype=np.int64)
    # 10 possible keys, at most 4 per key: flags; else (100) hashing — the same codes, in order of appearance
    for span in (10, 100):
        codes, pairs = first_appearance_codes(keys, span)
        assert pairs.tolist() == [5, 3, 9] and codes.tolist() == [0, 1, 0, 2]
        assert codes.dtype == np.int32


@settings(deadline=None)  # a busy machine is not a failure
@given(st.lists(st.integers(0, 40), max_size=30), st.sampled_from([41, 1000]))
def test_pair_codes_equal_pandas_factorize(keys, span):
    keys = np.array(keys, dtype=np.int64)
    codes, pairs = first_appearance_codes(keys, span)
    want_codes, want_pairs = pd.factorize(keys)
    assert codes.tolist() == want_codes.tolist() and pairs.tolist() == want_pairs.tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "é", "", None, "L10", "l10"]), max_size=20),
    st.lists(st.sampled_from(["a", "b", "é", "", None, "L10", "l10", "z"]), unique=True, max_size=8),
)
def test_text_positions_are_those_pandas_finds(keys, index):
    # Arrow's hash lookup of text keys in a unique text index, against `Index.get_indexer`.
    keys = pd.Series(keys, dtype="str")
    index = pd.Index(index, dtype="str")
    assert positions_in(keys, index).tolist() == index.get_indexer(keys).tolist()
    numbers = pd.Index(range(len(index)))  # other dtypes: pandas itself
    assert positions_in(pd.Series([0, 3]), numbers).tolist() == numbers.get_indexer([0, 3]).tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "é", None, "L10"]), max_size=12),
    st.lists(st.sampled_from(["a", "b", "é", None, "L10", "z"]), max_size=10),
)
def test_last_positions_in_a_repeating_index_are_those_pandas_keeps(keys, index):
    # With last=True the index may repeat: each key's last occurrence, as `duplicated(keep="last")` keeps it.
    for dtype in ("str", object):
        keys_, index_ = pd.Series(keys, dtype=dtype), pd.Index(index, dtype=dtype)
        kept = index_[~index_.duplicated(keep="last")]
        want = [
            -1 if p < 0 else int(np.flatnonzero(~index_.duplicated(keep="last"))[p])
            for p in kept.get_indexer(keys_)
        ]
        assert positions_in(keys_, index_, last=True).tolist() == want


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "é", None, "L10", "q"]), max_size=5),
    st.lists(st.sampled_from(["a", "b", "é", None, "L10", "z", "y", "x"]), min_size=20, max_size=40),
    st.booleans(),
)
def test_few_keys_in_a_large_index_are_found_where_pandas_finds_them(keys, index, last):
    # At most a quarter as many keys as index values: the index is looked up among the keys (the other way
    # round); first or last occurrence as pandas keeps it, a missing key finding a missing value.
    keys_, index_ = pd.Series(keys, dtype="str"), pd.Index(index, dtype="str")
    kept = ~index_.duplicated(keep="last" if last else "first")
    want = [-1 if p < 0 else int(np.flatnonzero(kept)[p]) for p in index_[kept].get_indexer(keys_)]
    assert positions_in(keys_, index_, last=last).tolist() == want


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["7", "12", "0", "70019", "007", "70020"]), min_size=1, max_size=12),
    st.lists(st.sampled_from(["7", "12", "0", "70019", "007", "99", "70021"]), min_size=1, max_size=10),
    st.booleans(),
)
def test_ids_that_are_numbers_are_found_where_arrow_and_pandas_find_them(keys, index, last):
    # Ids that are plain numbers on both sides are found through a table over their span (no hashing): the
    # same positions as pandas (first occurrence, or the last with last=True); "007" sends both to Arrow.
    keys_, index_ = pd.Series(keys, dtype="str"), pd.Index(index, dtype="str")
    keep = "last" if last else "first"
    kept = ~index_.duplicated(keep=keep)
    want = [-1 if p < 0 else int(np.flatnonzero(kept)[p]) for p in index_[kept].get_indexer(keys_)]
    assert positions_in(keys_, index_, last=last).tolist() == want


def test_email_events_read_as_categoricals_with_unused_categories_give_the_same_sends():
    # What a compact workspace read gives after rows are dropped: categories no row uses, in another order
    # than the rows; a recipient with spaces; one matched by id whose id is another lead's e-mail.
    leads = table(
        "leads", lead_id=["L1", "L2"], created_at=["2026-01-01"] * 2, email=["Ann@X.com", "l1"],
        channel=["Paid", "Email"],
    )  # fmt: skip
    events = table(
        "email_events",
        recipient=["ann@x.com", " L1 ", "L1", "L2", "zz", "ANN@x.com"],
        event=["sent", "open", "sent", "click", "sent", "open"],
        at=["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07"],
        email=["E1", "E1", "E2", "E2", "E2", "E1"],
    )
    compact = events.copy()
    for col in ("recipient", "event", "email"):
        used = list(dict.fromkeys(events[col]))
        compact[col] = events[col].astype(pd.CategoricalDtype(["unused", *reversed(used), "also unused"]))
    want = build_facts({"leads": leads, "email_events": events}).sends
    got = build_facts({"leads": leads, "email_events": compact}).sends
    pd.testing.assert_frame_equal(got, want)  # categories too, in the same order
    by_recipient = want.set_index(["email", "recipient"])["lead_id"]
    assert by_recipient[("E1", "ann@x.com")] == "L1" and by_recipient[("E2", "L1")] == "L1"
    assert by_recipient[("E2", "L2")] == "L2" and pd.isna(by_recipient[("E2", "zz")])


def test_a_recipient_known_only_as_a_customer_takes_the_customer_and_its_channel():
    leads = table("leads", lead_id=["L1"], created_at=["2026-01-01"], channel=["Paid"])
    customers = table(
        "customers", customer_id=["C1", "C2"], started_at=["2025-01-01"] * 2, email=["c1@x.com", "c2@x.com"],
        channel=["Partner", "Events"],
    )  # fmt: skip
    events = table(
        "email_events",
        recipient=["L1", "C1", " C2@X.com", "nobody"],  # a lead; a customer by id; by e-mail; neither
        event=["sent"] * 4,
        at=["2026-03-02"] * 4,
        email=["E1"] * 4,
    )
    sends = build_facts({"leads": leads, "customers": customers, "email_events": events}).sends
    by_recipient = sends.set_index("recipient")
    assert by_recipient["channel"].to_dict() == {
        "L1": "Paid", "C1": "Partner", "C2@X.com": "Events", "nobody": "(not set)",
    }  # fmt: skip
    assert by_recipient["customer_id"].tolist()[1:3] == ["C1", "C2"]
    assert pd.isna(by_recipient["customer_id"]["L1"]) and pd.isna(by_recipient["lead_id"]["C1"])
