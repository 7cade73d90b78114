"""Expand metrics on seven customers, a few deals, customer emails and NPS responses (worked out inline)."""

from __future__ import annotations

import pytest
from metrics_fixtures import table

from lifecycle.metrics import Settings, build_facts, compute_metric

NAT = None
# Active at the start of March (started before, not churned before): C1, C2, C3 (churn on 1 March is not
# before March), C7 → 4. Churned in March: C2, C3, C4 (C4 started and churned within March) → 3.
CUSTOMERS = table(
    "customers",
    customer_id=["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
    started_at=["2025-06-01", "2025-09-01", "2026-01-15", "2026-03-05", "2025-01-01", "2026-04-01",
                "2026-02-28 23:00"],
    churned_at=[NAT, "2026-03-10", "2026-03-01 00:00", "2026-03-25", "2026-02-20", NAT, NAT],
    channel=["Paid", "Paid", "Organic", "Organic", "Paid", "Paid", None],
)  # fmt: skip
# Won in March: new 1000, upsell 300, cross-sell 200, renewal 500 → (300 + 200) / 2000; a lost upsell is ignored.
DEALS = table(
    "deals",
    deal_id=["d1", "d2", "d3", "d4", "d5"],
    created_at=["2026-01-01"] * 5,
    closed_at=["2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07"],
    status=["won", "won", "won", "won", "lost"],
    amount=[1000, 300, 200, 500, 700],
    type=["new", "upsell", "cross_sell", "renewal", "upsell"],
)
# Customer audience: C1 (customer at send: delivered, open, click), C2 (churns 10 March, so still a customer
# on 5 March: delivered, open), p1 (unknown, explicitly "customer": delivered). C3 churned on 1 March, so on
# 5 March it is a prospect. → customer open rate 2 / 3, CTR 1 / 3.
EVENTS = table(
    "email_events",
    recipient=["C1", "C1", "C1", "C1", "C2", "C2", "C2", "p1", "p1", "C3", "C3"],
    event=["sent", "delivered", "open", "click", "sent", "delivered", "open", "sent", "delivered", "sent", "delivered"],
    at=["2026-03-05"] * 11,
    email=["N1"] * 11,
    audience=[None] * 7 + ["customer", "customer", None, None],
)  # fmt: skip
# March responses (valid): 10, 9, 9 promoters; 8 passive; 6, 3 detractors → 100 × (3 − 2) / 6. 11 is invalid.
NPS = table(
    "nps",
    respondent=["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"],
    responded_at=["2026-03-02", "2026-03-05", "2026-03-09", "2026-03-15", "2026-03-20", "2026-03-31", "2026-03-10",
                  "2026-02-15"],
    score=[10, 9, 9, 8, 6, 3, 11, 0],
    comment=["Great", "", None, "ok", "slow support", "buggy", "typo", "old"],
    customer_id=["C1", "C2", "C3", None, "C3", "C1", None, "C1"],
)  # fmt: skip
FACTS = build_facts({"customers": CUSTOMERS, "deals": DEALS, "email_events": EVENTS, "nps": NPS})


def value(metric_id: str, month: str = "2026-03", channel: str | None = None, facts=FACTS):
    return compute_metric(facts, metric_id, month, channel).value


def test_customer_open_rate_and_ctr_use_customer_audience_inferred_from_customer_dates():
    assert value("expand.customer_open_rate") == pytest.approx(2 / 3)
    assert value("expand.customer_ctr") == pytest.approx(1 / 3)
    # C3 (churned before the send) is in the prospect audience: delivered 1, opened 0
    assert value("nurture.email_open_rate") == 0.0


def test_customer_email_rates_filter_on_the_customers_channel():
    # Paid: C1, C2 → opens 2 / 2, clicks 1 / 2
    assert value("expand.customer_open_rate", channel="Paid") == pytest.approx(1.0)
    assert value("expand.customer_ctr", channel="Paid") == pytest.approx(0.5)


def test_active_customers_started_before_and_not_churned_before_the_month():
    result = compute_metric(FACTS, "expand.active_customers", "2026-03")
    assert result.value == 4 and sorted(result.rows["customer_id"]) == ["C1", "C2", "C3", "C7"]
    assert value("expand.active_customers", channel="(not set)") == 1


def test_churned_customers_count_churn_dates_in_the_month():
    assert value("expand.churned_customers") == 3


def test_churn_rate_divides_churn_of_customers_active_at_the_start_by_those_active():
    # C2, C3 of the 4 active → 0.5; C4 started and churned in March: counted in details only
    result = compute_metric(FACTS, "expand.churn_rate", "2026-03")
    assert result.value == pytest.approx(0.5)
    assert result.details["churned_in_month"] == 3 and result.details["started_and_churned_in_month"] == 1


@pytest.mark.parametrize(("channel", "expected"), [("Paid", 0.5), ("Organic", 1.0), ("(not set)", 0.0)])
def test_churn_rate_by_customer_channel(channel, expected):
    # Paid active C1, C2 → C2 churned; Organic active C3 → churned; (not set) C7 stays
    assert value("expand.churn_rate", channel=channel) == pytest.approx(expected)


def test_churn_rate_without_active_customers_is_none():
    result = compute_metric(FACTS, "expand.churn_rate", "2024-01")
    assert result.value is None and result.reason == "no active customers at the start of 2024-01"


def test_churn_metrics_need_churn_dates_but_active_customers_do_not():
    facts = build_facts({"customers": CUSTOMERS.drop(columns=["churned_at"])})
    assert not compute_metric(facts, "expand.churn_rate", "2026-03").available
    result = compute_metric(facts, "expand.active_customers", "2026-03")
    # without churn dates every customer started before March counts: C1, C2, C3, C5, C7
    assert result.value == 5 and "churn dates unknown" in result.details["note"]


def test_customers_without_deals_or_leads_still_count():
    facts = build_facts({"customers": CUSTOMERS})
    assert compute_metric(facts, "convert.new_customers", "2026-03").value == 1  # C4


def test_upsell_share_of_won_amount():
    assert value("expand.upsell_share") == pytest.approx(0.25)


def test_upsell_share_without_deal_type_is_unavailable_and_with_no_wins_is_none():
    facts = build_facts({"deals": DEALS.drop(columns=["type"])})
    result = compute_metric(facts, "expand.upsell_share", "2026-03")
    assert not result.available and "type" in result.reason
    result = compute_metric(FACTS, "expand.upsell_share", "2026-04")
    assert result.value is None and result.reason == "no won deal amount in 2026-04"


def test_nps_is_percent_promoters_minus_percent_detractors():
    result = compute_metric(FACTS, "expand.nps", "2026-03")
    assert result.value == pytest.approx(100 * (3 - 2) / 6)
    d = result.details
    assert (d["n"], d["promoters"], d["passives"], d["detractors"], d["excluded_out_of_range"]) == (
        6,
        3,
        1,
        2,
        1,
    )
    # non-empty comments, most recent first
    assert [v["comment"] for v in d["verbatims"]] == ["buggy", "slow support", "ok", "Great"]


def test_nps_verbatims_are_capped_by_settings():
    result = compute_metric(FACTS, "expand.nps", "2026-03", settings=Settings(max_verbatims=2))
    assert [v["comment"] for v in result.details["verbatims"]] == ["buggy", "slow support"]


@pytest.mark.parametrize(("channel", "expected"), [("Paid", 100 / 3), ("Organic", 0.0), ("(not set)", 0.0)])
def test_nps_filters_on_the_responding_customers_channel(channel, expected):
    # Paid (C1, C2): 10, 9, 3 → (2 − 1) / 3; Organic (C3): 9, 6 → 0; (not set): the 8 alone → 0
    assert value("expand.nps", channel=channel) == pytest.approx(expected)


def test_nps_is_unfiltered_and_says_so_when_responses_join_no_customer():
    result = compute_metric({"nps": NPS}, "expand.nps", "2026-03", "Paid")
    assert result.value == pytest.approx(100 / 6)
    assert result.details["channel_filter"].startswith("not applied")


def test_nps_without_responses_in_the_month_is_none():
    result = compute_metric(FACTS, "expand.nps", "2026-05")
    assert result.value is None and result.reason == "no NPS responses in 2026-05"
