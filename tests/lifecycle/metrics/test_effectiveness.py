"""Source effectiveness (SPEC §5): per channel / source / campaign — volume, cost per stage, bookings, ROI."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts
from lifecycle.metrics.effectiveness import source_effectiveness

# lead  created  channel  campaign  source   mql     customer
# a     Mar 1    web      c1        google   Mar 20  –
# b     Mar 1    web      c2        google   –       –
# c     Mar 1    ads      c1        li       Mar 25  May 1
# d     Mar 1    ads      –         li       Mar 2   –
# e     Mar 1    –        –         –        –       –
# f     Feb 1    ads      c1        li       Mar 1   Mar 10
LEADS = table(
    "leads",
    lead_id=list("abcdef"),
    created_at=["2024-03-01"] * 5 + ["2024-02-01"],
    channel=["web", "web", "ads", "ads", None, "ads"],
    campaign=["c1", "c2", "c1", None, None, "c1"],
    source=["google", "google", "li", "li", None, "li"],
    mql_at=["2024-03-20", None, "2024-03-25", "2024-03-02", None, "2024-03-01"],
    customer_at=[None, None, "2024-05-01", None, None, "2024-03-10"],
)
# Deal 1 (f, won 100, Mar) is a March booking; deal 2 (d, lost); deal 3 (unknown lead, ads, won 300 in
# May 2023) only counts in the 12-month window (Apr 2023 – Mar 2024).
DEALS = table(
    "deals",
    deal_id=["1", "2", "3"],
    created_at=["2024-02-01", "2024-02-01", "2023-04-01"],
    closed_at=["2024-03-10", "2024-03-01", "2023-05-01"],
    status=["won", "lost", "won"],
    amount=[100, 50, 300],
    lead_id=["f", "d", "x"],
    channel=[None, None, "ads"],
)
SPEND = table(
    "spend",
    date=["2024-03-01", "2024-03-01", "2023-06-01"],
    amount=[200, 50, 100],
    channel=["ads", "web", "ads"],
    campaign=["c1", "c2", "c1"],
)
FACTS = build_facts({"leads": LEADS, "deals": DEALS, "spend": SPEND})


def row(result, group: str):
    return result.table.set_index("group").loc[group]


def test_by_channel_counts_each_stage_in_the_month():
    result = source_effectiveness(FACTS, "2024-03")
    ads = row(result, "ads")
    # ads: leads c, d (f was created in Feb); MQLs c, d, f; customers: f (started 10 Mar).
    assert ads[["leads", "mqls", "sqls", "customers"]].tolist() == [2, 3, 0, 1]
    # Cohort conversion: of c, d (created in March), c became a customer (in May) -> 0.5.
    assert ads["lead_to_customer"] == pytest.approx(0.5)
    assert result.table["group"].tolist() == ["ads", "web", "(not set)"]


def test_costs_divide_the_group_s_spend_by_each_stage():
    ads, web = (
        row(source_effectiveness(FACTS, "2024-03"), "ads"),
        row(source_effectiveness(FACTS, "2024-03"), "web"),
    )
    assert ads["spend"] == 200
    assert ads["cost_per_lead"] == pytest.approx(100)
    assert ads["cost_per_mql"] == pytest.approx(200 / 3)
    assert np.isnan(ads["cost_per_sql"])  # no SQLs: undefined, not 0
    assert ads["cost_per_customer"] == pytest.approx(200)
    assert web["cost_per_mql"] == pytest.approx(50)  # 50 spend, MQL a


def test_bookings_and_12_month_roi():
    ads = row(source_effectiveness(FACTS, "2024-03"), "ads")
    # March bookings: deal 1 = 100. 12 months: deals 1 + 3 = 400; spend 200 + 100 = 300 -> ROI 1/3.
    assert ads["bookings"] == 100
    assert (ads["bookings_12m"], ads["spend_12m"]) == (400, 300)
    assert ads["roi_12m"] == pytest.approx(1 / 3)
    # web: no bookings against 50 spend -> -1; (not set): no spend -> ROI undefined.
    result = source_effectiveness(FACTS, "2024-03")
    assert row(result, "web")["roi_12m"] == pytest.approx(-1.0)
    assert np.isnan(row(result, "(not set)")["roi_12m"])
    assert row(result, "(not set)")["cost_per_lead"] == 0  # organic: spend loaded, none for this group


def test_by_campaign_uses_the_deal_campaign_else_its_lead_s():
    result = source_effectiveness(FACTS, "2024-03", by="campaign")
    c1 = row(result, "c1")
    # c1 leads a, c; MQLs a, c, f; spend 200; booking deal 1 (via lead f's campaign).
    assert c1[["leads", "mqls", "spend", "bookings"]].tolist() == [2, 3, 200, 100]
    # Deal 3 has no campaign and no known lead -> (not set).
    assert row(result, "(not set)")["bookings_12m"] == 300


def test_by_source_has_no_spend_and_says_why():
    result = source_effectiveness(FACTS, "2024-03", by="source")
    assert row(result, "google")["leads"] == 2
    assert result.table["spend"].isna().all()
    assert any("source" in note for note in result.notes)


def test_filtering_by_every_channel_and_summing_gives_the_unfiltered_counts():
    whole = source_effectiveness(FACTS, "2024-03", by="campaign").table
    parts = [source_effectiveness(FACTS, "2024-03", c, by="campaign").table for c in FACTS.channels]
    for col in ("leads", "mqls", "customers", "bookings"):
        assert sum(p[col].sum() for p in parts) == whole[col].sum()


def test_window_of_several_months_adds_them_up():
    # Feb + Mar: ads leads c, d, f = 3.
    assert row(source_effectiveness(FACTS, "2024-03", months=2), "ads")["leads"] == 3


def test_members_hold_the_ids_behind_each_cell():
    result = source_effectiveness(FACTS, "2024-03")
    assert sorted(result.rows("ads", "mql")["id"]) == ["c", "d", "f"]
    assert result.rows("ads", "deal")["id"].tolist() == ["1"]


def test_empty_month_channel_without_rows_and_missing_tables():
    assert source_effectiveness(FACTS, "2022-01").table.empty
    assert source_effectiveness(FACTS, "2024-03", "tv").table.empty
    only_leads = source_effectiveness({"leads": LEADS}, "2024-03")
    assert only_leads.table["spend"].isna().all() and only_leads.table["bookings"].isna().all()
    assert len(only_leads.notes) == 2
    missing = source_effectiveness({"spend": SPEND}, "2024-03")
    assert not missing.available and "leads" in missing.reason


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError, match="channel"):
        source_effectiveness(FACTS, "2024-03", by="segment")
