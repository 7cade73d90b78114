"""Convert metrics on six leads, nine deals, a small customers table and spend (values worked out inline)."""

from __future__ import annotations

import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts, compute_metric

NAT = None
# SQL dates (precedence sql_at → opportunity_at → first deal created): L1 2 Mar, L2 15 Mar (opportunity),
# L3 20 Mar (deal D3), L5 12 Mar, L6 1 Feb (deal D6). March SQLs: L1, L2, L3, L5 = 4.
# Customer dates: L1 5 Mar (won D1), L5 28 Mar (column; L5 skipped MQL), L6 25 Mar (won D6).
LEADS = table(
    "leads",
    lead_id=["L1", "L2", "L3", "L4", "L5", "L6"],
    created_at=["2026-01-05", "2026-01-10", "2026-02-01", "2026-02-10", "2025-12-01", "2026-01-20"],
    channel=["Paid", "Paid", "Organic", "Organic", "Paid", "Events"],
    mql_at=["2026-02-01", "2026-03-03", "2026-03-04", "2026-03-10", NAT, NAT],
    sql_at=["2026-03-02", NAT, NAT, NAT, "2026-03-12", NAT],
    opportunity_at=[NAT, "2026-03-15", NAT, NAT, NAT, NAT],
    customer_at=[NAT, NAT, NAT, NAT, "2026-03-28", NAT],
)
# Closed in March: D1 won (54 days), D2 won upsell without lead (37 days), D4 lost, D5 won without amount or
# lead (26.5 days), D6 won (52 days). D7 is open with an expected close date; D8/D9 are 2025 wins.
DEALS = table(
    "deals",
    deal_id=["D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9"],
    created_at=["2026-01-10", "2026-02-01", "2026-03-20", "2026-03-01", "2026-03-05", "2026-02-01", "2026-03-10",
                "2025-06-01", "2025-01-01"],
    closed_at=["2026-03-05", "2026-03-10", NAT, "2026-03-20", "2026-03-31 12:00", "2026-03-25", "2026-04-30",
               "2025-09-01", "2025-03-15"],
    status=["won", "won", "open", "lost", "won", "won", "open", "won", "won"],
    amount=[1000, 500, 800, 300, None, 2000, 100, 4000, 9999],
    type=["new", "upsell", "new", "new", "new", "new", "new", "new", "new"],
    lead_id=["L1", None, "L3", "L2", None, None, None, None, None],
    channel=[None, "Partner", None, None, None, "Events", "Paid", "Paid", "Paid"],
)  # fmt: skip
DEALS.loc[5, "lead_id"] = "L6"
# March spend 1000 + 200 = 1200; May 2025 (inside the 12-month window) 1000; March 2025 (outside) 5000.
SPEND = table(
    "spend",
    date=["2026-03-01", "2026-03-15", "2025-05-01", "2025-03-01"],
    amount=[1000, 200, 1000, 5000],
    channel=["Paid", "Events", "Paid", "Paid"],
)
FACTS = build_facts({"leads": LEADS, "deals": DEALS, "spend": SPEND})
# With a customers table: CU1 links to lead L4 by id (Organic, lead created 10 Feb → 3 Mar = 21 days).
CUSTOMERS = table(
    "customers",
    customer_id=["L4", "CU2", "CU3"],
    started_at=["2026-03-03", "2026-03-15", "2026-02-01"],
    channel=[None, "Partner", None],
)
WITH_CUSTOMERS = build_facts({"leads": LEADS, "deals": DEALS, "spend": SPEND, "customers": CUSTOMERS})


def value(metric_id: str, month: str = "2026-03", channel: str | None = None, facts=FACTS):
    return compute_metric(facts, metric_id, month, channel).value


def test_sqls_use_sql_then_opportunity_then_first_deal_dates():
    result = compute_metric(FACTS, "convert.sqls", "2026-03")
    assert result.value == 4 and sorted(result.rows["lead_id"]) == ["L1", "L2", "L3", "L5"]
    assert value("convert.sqls", "2026-02") == 1  # L6 through deal D6


def test_opportunities_count_deals_created_in_the_month():
    # D3, D4, D5, D7
    result = compute_metric(FACTS, "convert.opportunities", "2026-03")
    assert result.value == 4 and result.details["by_type"] == {"new": 4}


def test_new_customers_without_customers_table_come_from_customer_dates_and_won_new_deals():
    # lead:L1 (5 Mar), lead:L5 (28 Mar), lead:L6 (25 Mar), deal:D5 (31 Mar); D2 is an upsell: no new customer
    result = compute_metric(FACTS, "convert.new_customers", "2026-03")
    assert result.value == 4
    assert sorted(result.rows["customer_id"]) == ["deal:D5", "lead:L1", "lead:L5", "lead:L6"]


def test_new_customers_from_the_customers_table_with_lead_channel_fallback():
    # CU1 (3 Mar, Organic via lead L4) and CU2 (15 Mar, Partner)
    assert value("convert.new_customers", facts=WITH_CUSTOMERS) == 2
    assert value("convert.new_customers", channel="Organic", facts=WITH_CUSTOMERS) == 1
    assert value("convert.new_customers", channel="Partner", facts=WITH_CUSTOMERS) == 1


def test_mql_to_sql_rate_is_the_share_of_march_mqls_reaching_sql_to_date():
    # March MQLs L2, L3, L4; SQL: L2 (opportunity), L3 (deal) → 2 / 3
    assert value("convert.mql_to_sql_rate") == pytest.approx(2 / 3)


def test_sql_to_customer_rate_is_the_share_of_march_sqls_becoming_customers():
    # March SQLs L1, L2, L3, L5; customers L1 (won D1), L5 → 2 / 4
    assert value("convert.sql_to_customer_rate") == pytest.approx(0.5)
    result = compute_metric(FACTS, "convert.sql_to_customer_rate", "2026-06")
    assert result.value is None and result.reason == "no SQLs in 2026-06"


def test_win_rate_divides_won_by_won_plus_lost_closed_in_the_month():
    # won D1, D2, D5, D6; lost D4; open D7 has a close date but is not closed → 4 / 5
    result = compute_metric(FACTS, "convert.win_rate", "2026-03")
    assert result.value == pytest.approx(0.8)
    assert result.details["won"] == 4 and result.details["lost"] == 1


def test_win_rate_by_channel_uses_the_deal_channel_else_the_leads():
    # Paid: D1 (lead L1) won, D4 (lead L2) lost → 0.5; Partner: D2 → 1.0; (not set): D5 → 1.0
    assert value("convert.win_rate", channel="Paid") == pytest.approx(0.5)
    assert value("convert.win_rate", channel="Partner") == pytest.approx(1.0)
    assert value("convert.win_rate", channel="(not set)") == pytest.approx(1.0)


def test_win_rate_with_no_closed_deals_is_none():
    result = compute_metric(FACTS, "convert.win_rate", "2026-05")
    assert result.value is None and result.reason == "no deals closed in 2026-05"


def test_deals_won_and_bookings():
    # bookings 1000 + 500 + (D5 no amount → 0) + 2000 = 3500
    assert value("convert.deals_won") == 4
    result = compute_metric(FACTS, "convert.bookings", "2026-03")
    assert result.value == pytest.approx(3500.0) and result.details["deals_without_amount"] == 1


def test_bookings_new_exclude_upsell():
    # 1000 + 2000 (D2 is an upsell)
    assert value("convert.bookings_new") == pytest.approx(3000.0)


def test_bookings_without_amount_column_are_unavailable():
    facts = build_facts({"deals": DEALS.drop(columns=["amount"])})
    result = compute_metric(facts, "convert.bookings", "2026-03")
    assert not result.available and "amount" in result.reason
    assert compute_metric(facts, "convert.deals_won", "2026-03").value == 4


def test_cost_per_sql_and_cost_per_customer():
    # 1200 / 4 SQLs = 300; 1200 / 4 derived new customers = 300; with the customers table 1200 / 2 = 600
    assert value("convert.cost_per_sql") == pytest.approx(300.0)
    assert value("convert.cost_per_customer") == pytest.approx(300.0)
    assert value("convert.cost_per_customer", facts=WITH_CUSTOMERS) == pytest.approx(600.0)


def test_roi_12m_uses_new_business_bookings_and_spend_of_the_twelve_months():
    # window 2025-04…2026-03: new wins D1 1000 + D5 0 + D6 2000 + D8 4000 = 7000 (D9 is March 2025, D2 upsell);
    # spend 1000 + 200 + 1000 = 2200 → (7000 − 2200) / 2200
    result = compute_metric(FACTS, "convert.roi_12m", "2026-03")
    assert result.value == pytest.approx(4800 / 2200)
    assert result.details["window"] == "2025-04–2026-03"


def test_roi_12m_by_channel_and_without_spend():
    # Paid: (1000 + 4000 − 2000) / 2000 = 1.5; Events: (2000 − 200) / 200 = 9
    assert value("convert.roi_12m", channel="Paid") == pytest.approx(1.5)
    assert value("convert.roi_12m", channel="Events") == pytest.approx(9.0)
    result = compute_metric(FACTS, "convert.roi_12m", "2026-03", "Partner")
    assert result.value is None and result.reason == "no spend for Partner in the 12 months 2025-04–2026-03"


def test_days_to_close_is_the_median_of_won_deals_with_quantiles():
    # 26.5, 37, 52, 54 → median (37 + 52) / 2 = 44.5; p25 26.5 + 0.75 × 10.5; p75 52.5; p90 53.4
    result = compute_metric(FACTS, "convert.days_to_close", "2026-03")
    assert result.value == pytest.approx(44.5)
    d = result.details
    assert d["n"] == 4
    assert (d["p25"], d["p75"], d["p90"]) == pytest.approx((34.375, 52.5, 53.4))


def test_days_to_close_leaves_out_negative_durations():
    deals = table(
        "deals",
        deal_id=["a", "b", "c"],
        created_at=["2026-03-01", "2026-03-01", "2026-03-20"],
        closed_at=["2026-03-11", "2026-03-21", "2026-03-10"],
        status=["won", "won", "won"],
    )
    # 10 and 20 days; c closed before it was created → left out → median 15
    result = compute_metric({"deals": deals}, "convert.days_to_close", "2026-03")
    assert result.value == pytest.approx(15.0) and result.details["excluded_negative"] == 1


def test_days_lead_to_customer_median_over_customers_with_a_lead():
    # derived: L1 5 Jan→5 Mar 59, L6 20 Jan→25 Mar 64, L5 1 Dec→28 Mar 117; D5 has no lead → median 64
    assert value("convert.days_lead_to_customer") == pytest.approx(64.0)
    # customers table: CU1 (lead L4 10 Feb → 3 Mar) 21; CU2 has no lead
    assert value("convert.days_lead_to_customer", facts=WITH_CUSTOMERS) == pytest.approx(21.0)


def test_convert_without_deals_is_unavailable_naming_the_deals_export():
    result = compute_metric({"leads": LEADS}, "convert.win_rate", "2026-03")
    assert not result.available and "deals / opportunities export" in result.reason
