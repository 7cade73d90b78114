"""Nurture metrics on nine leads, a handful of email events and score changes (values worked out inline)."""

from __future__ import annotations

import pytest
from metrics_fixtures import table

from lifecycle.metrics import Settings, build_facts, compute_metric

NAT = None
# March cohort (created in March): A, B, C, D, E. K became a customer in January. H is April's.
LEADS = table(
    "leads",
    lead_id=["A", "B", "C", "D", "E", "F", "G", "H", "K"],
    created_at=["2026-03-01", "2026-03-03", "2026-03-10", "2026-03-15", "2026-03-28", "2026-01-10", "2026-02-05",
                "2026-04-02", "2025-12-01"],
    email=["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", None, "g@x.com", None, "k@x.com"],
    channel=["Paid", "Paid", "Organic", "Organic", "Paid", "Paid", "Organic", "Paid", "Paid"],
    program=["Nurture1", None, "Nurture1", "none", "Nurture2", "Nurture1", None, None, None],
    mql_at=["2026-03-05", NAT, "2026-04-01", NAT, NAT, "2026-03-12", NAT, NAT, "2026-01-02"],
    sql_at=["2026-04-02", NAT, NAT, "2026-03-25", NAT, NAT, NAT, NAT, "2026-01-05"],
    customer_at=[NAT, NAT, NAT, NAT, NAT, NAT, NAT, NAT, "2026-01-15"],
    recycled_at=[NAT, "2026-03-20", NAT, NAT, NAT, "2026-02-10", "2026-02-15", NAT, NAT],
)  # fmt: skip

# W1 (March, prospects): A delivered + opened twice + clicked; B (e-mail in upper case) delivered + opened;
# C delivered; D bounced; an unknown address delivered + clicked without an open event.
# → sends 5, delivered 4 (not D), opened 3 (A, B, unknown: a click proves the open), clicked 2 (A, unknown).
# W0 (February) to G: sent, opened in March (counts toward February's send; G re-engages in March).
# N1 (March, customers): K (customer since January, inferred) delivered + opened; "cust2" explicitly customer.
EVENTS = table(
    "email_events",
    recipient=["A", "A", "A", "A", "A", "B@X.COM", "B@X.COM", "B@X.COM", "C", "C", "D", "D", "zz@unknown.com",
               "zz@unknown.com", "zz@unknown.com", "G", "G", "K", "K", "K", "cust2", "cust2"],
    event=["sent", "delivered", "open", "open", "click", "sent", "delivered", "open", "sent", "delivered", "sent",
           "bounce", "sent", "delivered", "click", "sent", "open", "sent", "delivered", "open", "sent", "delivered"],
    at=["2026-03-02", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-04", "2026-03-02", "2026-03-02",
        "2026-03-10", "2026-03-02", "2026-03-02", "2026-03-02", "2026-03-02", "2026-03-02", "2026-03-02",
        "2026-03-05", "2026-02-16", "2026-03-06", "2026-03-05", "2026-03-05", "2026-03-06", "2026-03-05",
        "2026-03-05"],
    email=["W1"] * 15 + ["W0", "W0"] + ["N1"] * 5,
    audience=[None] * 20 + ["Customer", "Customer"],
)  # fmt: skip

# Month-end March scores: A 30 + 50 = 80 (the April +40 is later); B total 120 then +5 = 125; C 10 − 15 = −5;
# D none → 0; E +25 at 23:59:59 on 31 March (the +100 at 1 April 00:00 is April's).
# → sorted −5, 0, 25, 80, 125: median 25, mean 45, p25 0, p75 80.
SCORES = table(
    "score_changes",
    lead_id=["A", "A", "A", "B", "B", "C", "C", "E", "E", "F", "G"],
    at=["2026-03-02", "2026-03-20", "2026-04-03", "2026-03-05", "2026-03-22", "2026-03-11", "2026-03-12",
        "2026-03-31 23:59:59", "2026-04-01 00:00", "2026-03-03", "2026-02-17"],
    delta=[30, 50, 40, None, 5, 10, -15, 25, 100, 10, -3],
    score=[None, None, None, 120, None, None, None, None, None, None, None],
)  # fmt: skip
SPEND = table("spend", date=["2026-03-01"], amount=[600], channel=["Paid"])
FACTS = build_facts({"leads": LEADS, "email_events": EVENTS, "score_changes": SCORES, "spend": SPEND})


def value(metric_id: str, month: str = "2026-03", channel: str | None = None):
    return compute_metric(FACTS, metric_id, month, channel).value


# ---------------------------------------------------------------- leads in programs, recycled, reopened


def test_new_leads_in_nurture_count_only_new_leads_with_a_program():
    # March cohort A, B, C, D, E; with a program: A, C, E ("none" is no program) → 3
    result = compute_metric(FACTS, "nurture.new_leads", "2026-03")
    assert result.value == 3
    assert result.details == {"basis": "leads with a program", "new_leads": 5}


@pytest.mark.parametrize("program", [None, "none"])
def test_new_leads_in_nurture_are_all_new_leads_when_no_program_is_recorded(program):
    leads = LEADS.drop(columns=["program"]) if program is None else LEADS.assign(program=program)
    result = compute_metric({"leads": leads}, "nurture.new_leads", "2026-03")
    assert result.value == 5 and result.details["basis"].startswith("all new leads")


def test_recycled_leads_count_recycled_dates_in_the_month():
    # March: B; February: F, G
    assert value("nurture.recycled_leads") == 1
    assert value("nurture.recycled_leads", "2026-02") == 2


def test_reopened_leads_fall_back_to_first_engagement_after_recycling():
    # F (recycled Feb) +10 score on 3 March; G (recycled Feb) opened W0 on 6 March (its −3 on 17 Feb is no
    # engagement); B re-engaged on 22 March but was recycled in March itself, not before → 2
    result = compute_metric(FACTS, "nurture.reopened_leads", "2026-03")
    assert result.value == 2
    assert sorted(result.rows["lead_id"]) == ["F", "G"]
    assert "after being recycled" in result.details["basis"]


def test_reopened_leads_use_the_reopened_date_when_exported():
    leads = table(
        "leads",
        lead_id=["R1", "R2", "R3", "R4"],
        created_at=["2025-10-01"] * 4,
        reopened_at=["2026-03-05", "2026-03-31 22:00", "2026-04-02", None],
    )
    # R1 and R2 in March; R3 is April's
    assert compute_metric({"leads": leads}, "nurture.reopened_leads", "2026-03").value == 2


def test_reopened_leads_without_reopen_or_recycle_dates_are_unavailable():
    leads = LEADS.drop(columns=["recycled_at"])
    result = compute_metric({"leads": leads, "email_events": EVENTS}, "nurture.reopened_leads", "2026-03")
    assert not result.available and "reopened" in result.reason


# ---------------------------------------------------------------- email rates


def test_email_open_rate_counts_unique_opens_of_prospect_emails_over_delivered():
    # opened 3 (A once despite two opens, B, the click-only unknown) / delivered 4 (D bounced) = 0.75
    result = compute_metric(FACTS, "nurture.email_open_rate", "2026-03")
    assert result.value == pytest.approx(0.75)
    assert (result.details["sends"], result.details["delivered"], result.details["opened"]) == (5, 4, 3)


def test_email_ctr_and_click_to_open():
    # clicks 2 (A, unknown) / delivered 4 = 0.5; click-to-open 2 / 3
    assert value("nurture.email_ctr") == pytest.approx(0.5)
    assert value("nurture.click_to_open") == pytest.approx(2 / 3)


def test_email_rates_filter_on_the_recipients_lead_channel():
    # Paid recipients: A, B (joined by e-mail, case-insensitive) → delivered 2, opened 2, clicked 1
    assert value("nurture.email_open_rate", channel="Paid") == pytest.approx(1.0)
    assert value("nurture.email_ctr", channel="Paid") == pytest.approx(0.5)
    # Organic: C delivered, D bounced, no opens → open rate 0, click-to-open undefined
    assert value("nurture.email_open_rate", channel="Organic") == 0.0
    result = compute_metric(FACTS, "nurture.click_to_open", "2026-03", "Organic")
    assert result.value is None and result.reason == "no opened prospect emails for Organic in 2026-03"


def test_opens_count_toward_the_month_of_the_send():
    # W0 sent to G on 16 Feb (no delivered events for W0: delivered = not bounced), opened 6 March → Feb 1 / 1
    assert value("nurture.email_open_rate", "2026-02") == pytest.approx(1.0)


def test_email_rates_without_delivered_events_use_sent_minus_bounced():
    events = table(
        "email_events",
        recipient=["p1", "p2", "p3", "p4", "p4", "p1", "p2"],
        event=["sent", "sent", "sent", "sent", "bounce", "open", "open"],
        at=["2026-03-02"] * 7,
        email=["X"] * 7,
    )
    # sent 4 − bounced 1 = 3 delivered; opened 2 → 2 / 3
    assert compute_metric(
        {"email_events": events}, "nurture.email_open_rate", "2026-03"
    ).value == pytest.approx(2 / 3)


def test_email_rates_are_unfiltered_and_say_so_when_recipients_join_no_lead():
    events = EVENTS[EVENTS["recipient"].eq("zz@unknown.com")]
    facts = build_facts({"leads": LEADS, "email_events": events})
    result = compute_metric(facts, "nurture.email_open_rate", "2026-03", "Paid")
    # the unknown address is delivered and clicked: 1 / 1, even though "Paid" is selected
    assert result.value == pytest.approx(1.0)
    assert result.details["channel_filter"].startswith("not applied")


def test_summary_email_sends_give_rates_with_delivered_falling_back_to_sent_minus_bounces():
    sends = table(
        "email_sends",
        email=["News", "Promo", "CustNews", "Apr"],
        sent_at=["2026-03-03", "2026-03-10", "2026-03-12", "2026-04-01"],
        sent=[100, 50, 20, 100],
        delivered=[None, 45, 20, 100],
        bounces=[10, 5, 0, 0],
        unique_opens=[30, 15, 10, 50],
        unique_clicks=[9, 3, 5, 10],
        audience=["prospect", None, "customer", "prospect"],
    )
    facts = build_facts({"email_sends": sends})
    # prospects: delivered (100 − 10) + 45 = 135, opens 45, clicks 12
    assert compute_metric(facts, "nurture.email_open_rate", "2026-03").value == pytest.approx(45 / 135)
    assert compute_metric(facts, "nurture.email_ctr", "2026-03").value == pytest.approx(12 / 135)
    assert compute_metric(facts, "nurture.click_to_open", "2026-03").value == pytest.approx(12 / 45)
    filtered = compute_metric(facts, "nurture.email_open_rate", "2026-03", "Paid")
    assert filtered.value == pytest.approx(45 / 135) and "not applied" in filtered.details["channel_filter"]


def test_summary_sends_without_unique_opens_make_open_rate_unavailable():
    sends = table("email_sends", email=["News"], sent_at=["2026-03-03"], sent=[100])
    result = compute_metric({"email_sends": sends}, "nurture.email_open_rate", "2026-03")
    assert not result.available and "'unique_opens'" in result.reason


def test_email_rate_in_a_month_without_sends_is_none_with_reason():
    result = compute_metric(FACTS, "nurture.email_open_rate", "2026-06")
    assert result.available and result.value is None
    assert result.reason == "no delivered prospect emails in 2026-06"


# ---------------------------------------------------------------- score profile


def test_score_profile_is_the_median_month_end_score_of_the_cohort():
    result = compute_metric(FACTS, "nurture.score_profile", "2026-03")
    assert result.value == 25
    d = result.details
    assert (d["n"], d["mean"], d["p25"], d["p75"]) == (5, 45, 0, 80)
    # bands: C −5 → <0; D 0 → 0–24; E 25 → 25–49; A 80 → 75–99; B 125 → ≥100
    assert d["bands"] == {"<0": 1, "0–24": 1, "25–49": 1, "50–74": 0, "75–99": 1, "≥100": 1}
    assert d["share_at_or_above_threshold"] == pytest.approx(0.2)
    assert d["score_source"] == "score_changes" and "note" not in d


def test_score_profile_median_of_an_even_count_is_the_midpoint():
    # Organic cohort: C −5, D 0 → (−5 + 0) / 2 = −2.5
    assert value("nurture.score_profile", channel="Organic") == pytest.approx(-2.5)


def test_score_profile_median_with_tied_middle_values():
    leads = table("leads", lead_id=list("pqrs"), created_at=["2026-03-01"] * 4, score=[10, 40, 40, 90])
    # current scores 10, 40, 40, 90 → middle values 40 and 40 → 40; no history → the note says so
    result = compute_metric({"leads": leads}, "nurture.score_profile", "2026-03")
    assert result.value == 40
    assert result.details["score_source"] == "leads.score" and "current lead score" in result.details["note"]


def test_score_profile_uses_configured_threshold_and_bands():
    settings = Settings(mql_threshold=50, score_bands=(0, 50))
    result = compute_metric(FACTS, "nurture.score_profile", "2026-03", settings=settings)
    # ≥ 50: A 80, B 125 → 2 / 5; bands <0: C; 0–49: D, E; ≥50: A, B
    assert result.details["share_at_or_above_threshold"] == pytest.approx(0.4)
    assert result.details["bands"] == {"<0": 1, "0–49": 2, "≥50": 2}


def test_score_profile_of_an_empty_cohort_is_none():
    result = compute_metric(FACTS, "nurture.score_profile", "2026-06")
    assert result.value is None and result.reason == "no scored leads created in 2026-06"


def test_score_profile_without_any_score_is_unavailable():
    result = compute_metric({"leads": LEADS}, "nurture.score_profile", "2026-03")
    assert not result.available and "score history" in result.reason


# ---------------------------------------------------------------- MQLs


def test_mqls_count_mql_dates_in_the_month():
    # March: A (5 March), F (12 March); April: C
    assert value("nurture.mqls") == 2
    assert value("nurture.mqls", "2026-04") == 1


def test_lead_to_mql_rate_counts_a_lead_that_skipped_mql_as_passed():
    # cohort A, B, C, D, E: A and C have MQL dates (C's in April: to date), D reached SQL without one → 3 / 5
    result = compute_metric(FACTS, "nurture.lead_to_mql_rate", "2026-03")
    assert result.value == pytest.approx(0.6)
    assert result.details["with_mql_date"] == 2 and result.details["skipped_mql"] == 1


def test_lead_to_mql_rate_for_a_channel_and_for_an_empty_cohort():
    # Paid cohort A, B, E: only A → 1 / 3
    assert value("nurture.lead_to_mql_rate", channel="Paid") == pytest.approx(1 / 3)
    result = compute_metric(FACTS, "nurture.lead_to_mql_rate", "2026-06")
    assert result.value is None and result.reason == "no leads created in 2026-06"


def test_cost_per_mql_divides_spend_by_mqls():
    # 600 / 2 = 300
    assert value("nurture.cost_per_mql") == pytest.approx(300.0)


def test_mql_metrics_without_mql_dates_are_unavailable():
    result = compute_metric({"leads": LEADS.drop(columns=["mql_at"])}, "nurture.mqls", "2026-03")
    assert not result.available and "MQL dates" in result.reason
