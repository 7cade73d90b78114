"""Automated programs (SPEC §5): per program and step — reach, engagement, moving on, MQLs, flagged steps."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts
from lifecycle.metrics.programs import program_steps

LEADS = table(
    "leads",
    lead_id=["a", "b", "c", "d"],
    created_at=["2024-03-01"] * 4,
    channel=["web", "web", "ads", "ads"],
    mql_at=["2024-03-20", None, "2024-08-01", "2024-02-01"],
)


def events(rows: list[tuple[str, str, str, str]], program: str = "Welcome"):
    """email_events from (recipient, event, at, step) tuples of one program."""
    recipient, event, at, step = (list(col) for col in zip(*rows, strict=True))
    return table(
        "email_events",
        recipient=recipient,
        event=event,
        at=at,
        email=[f"{program} {s}" for s in step],
        program=[program] * len(rows),
        step=step,
    )


# Step 1 to a, b, c, d on 2 March: a opens and clicks, b opens, c unsubscribes.
# Step 2 to a, b on 9 March. "Step 10" (after Step 2, not before it) to a on 16 March.
WELCOME = events(
    [(r, "sent", "2024-03-02", "Step 1") for r in "abcd"]
    + [
        ("a", "open", "2024-03-02 01:00", "Step 1"),
        ("a", "click", "2024-03-02 02:00", "Step 1"),
        ("b", "open", "2024-03-03", "Step 1"),
        ("c", "unsubscribe", "2024-03-03", "Step 1"),
    ]
    + [(r, "sent", "2024-03-09", "Step 2") for r in "ab"]
    + [("a", "sent", "2024-03-16", "Step 10")]
)
TABLES = {"leads": LEADS, "email_events": WELCOME}
FACTS = build_facts(TABLES)  # built once: every test below reads the same facts


def by_step(result):
    return result.steps.set_index("step")


def test_steps_follow_their_number_and_count_each_recipient_once():
    steps = by_step(program_steps(FACTS, "2024-03", min_recipients=1))
    assert steps.index.tolist() == ["Step 1", "Step 2", "Step 10"]
    assert steps["order"].tolist() == [1, 2, 3]
    assert steps["recipients"].tolist() == [4, 2, 1]


def test_open_rate_ctr_and_unsubscribe_rate_are_per_delivered_recipient():
    # Step 1: 4 delivered (no bounce); opens a, b = 0.5; clicks a = 0.25; unsubscribes c = 0.25.
    step = by_step(program_steps(FACTS, "2024-03", min_recipients=1)).loc["Step 1"]
    assert (step["delivered"], step["opens"], step["clicks"], step["unsubscribes"]) == (4, 2, 1, 1)
    assert step["open_rate"] == pytest.approx(0.5)
    assert step["ctr"] == pytest.approx(0.25)
    assert step["unsubscribe_rate"] == pytest.approx(0.25)


def test_move_on_share_is_recipients_who_also_received_the_next_step():
    # Step 1 -> Step 2: a, b of 4 = 0.5. Step 2 -> Step 10: a of 2 = 0.5. Step 10 is last: no next step.
    steps = by_step(program_steps(FACTS, "2024-03", min_recipients=1))
    assert steps["moved_on"].tolist()[:2] == [2, 1]
    assert steps["move_on_share"].tolist()[:2] == pytest.approx([0.5, 0.5])
    assert np.isnan(steps.loc["Step 10", "move_on_share"])


def test_mql_within_90_days_counts_only_leads_not_yet_mql_when_they_received_the_step():
    # Step 1 (2 March): d was MQL on 1 Feb, so not eligible -> a, b, c. a MQL 18 days later (yes);
    # c 152 days later (no) -> 1 of 3. Step 2: a, b eligible, a reached -> 0.5. Step 10: a -> 1.0.
    steps = by_step(program_steps(FACTS, "2024-03", min_recipients=1))
    assert steps["mql_eligible"].tolist() == [3, 2, 1]
    assert steps["mql_90d"].tolist() == [1, 1, 1]
    assert steps["mql_90d_share"].tolist() == pytest.approx([1 / 3, 0.5, 1.0])


def test_a_step_with_many_unsubscribes_is_flagged_as_drop_out():
    steps = by_step(program_steps(FACTS, "2024-03", min_recipients=1))
    assert steps["drops_out"].tolist() == [True, False, False]
    assert "25.0 % unsubscribed" in steps.loc["Step 1", "flag"]
    assert steps.loc["Step 2", "flag"] == ""


def test_small_steps_are_not_flagged_under_the_default_minimum_of_recipients():
    steps = program_steps(FACTS, "2024-03").steps
    assert not steps["drops_out"].any() and not steps["stalls"].any()


def test_a_step_where_few_move_on_compared_with_the_other_steps_is_flagged_as_stall():
    # Step 1: 4 recipients, all 4 get Step 2 (1.0). Step 2: 4 recipients, only w gets Step 3 (0.25).
    # Step 2's typical = the other steps' median = 1.0; 0.25 < 0.5 * 1.0 -> stall. Step 1: 1.0 vs 0.25 -> fine.
    rows = [(r, "sent", "2024-03-02", "1") for r in "wxyz"]
    rows += [(r, "sent", "2024-03-09", "2") for r in "wxyz"]
    rows += [("w", "sent", "2024-03-16", "3")]
    steps = by_step(program_steps({"email_events": events(rows, "Onboarding")}, "2024-03", min_recipients=1))
    assert steps["stalls"].tolist() == [False, True, False]
    assert "only 25 % moved on" in steps.loc["2", "flag"] and "100 %" in steps.loc["2", "flag"]


def test_channel_filter_keeps_the_program_shape_of_all_channels():
    # ads: c, d got Step 1; Step 2 exists (sent to web leads), so their move-on share is 0, not empty.
    steps = by_step(program_steps(FACTS, "2024-03", channel="ads", min_recipients=1))
    assert steps.index.tolist() == ["Step 1"]
    assert steps.loc["Step 1", "recipients"] == 2
    assert steps.loc["Step 1", "move_on_share"] == 0


def test_window_selects_recipients_by_first_receipt_and_none_means_all_time():
    assert program_steps(FACTS, "2024-05").steps.empty
    all_time = program_steps(FACTS, None, min_recipients=1).steps
    assert all_time["recipients"].tolist() == [4, 2, 1]


def test_customer_audience_shows_only_customer_sends():
    assert program_steps(FACTS, "2024-03", audience="customer").steps.empty
    tagged = WELCOME.assign(audience="customer")
    steps = program_steps({"leads": LEADS, "email_events": tagged}, "2024-03", audience="customer").steps
    assert steps["recipients"].tolist() == [4, 2, 1]


def test_members_list_the_recipients_behind_a_step():
    result = program_steps(FACTS, "2024-03")
    rows = result.rows("Welcome", "Step 2")
    assert sorted(rows["recipient"]) == ["a", "b"]
    assert rows.set_index("recipient").loc["a", "moved_on"]


def test_summary_level_sends_give_rates_but_no_move_on_or_mql():
    # Step 1: two sends, sent 100 + 50, delivered 95 + (50 - 5 bounces) = 140, opens 60, clicks 15, unsubs 2.
    sends = table(
        "email_sends",
        email=["W1a", "W1b", "W2"],
        sent_at=["2024-03-02", "2024-03-20", "2024-03-09"],
        sent=[100, 50, 80],
        delivered=[95, None, 80],
        unique_opens=[40, 20, 30],
        unique_clicks=[10, 5, 8],
        bounces=[None, 5, None],
        unsubscribes=[2, 0, 0],
        program=["Welcome", "Welcome", "Welcome"],
        step=["1", "1", "2"],
    )
    result = program_steps({"email_sends": sends}, "2024-03", channel="web", min_recipients=1)
    assert result.level == "summary"
    first = result.steps.set_index("step").loc["1"]
    assert (first["recipients"], first["delivered"]) == (150, 140)
    assert first["open_rate"] == pytest.approx(60 / 140)
    assert first["unsubscribe_rate"] == pytest.approx(2 / 140)
    assert np.isnan(first["move_on_share"]) and np.isnan(first["mql_90d_share"])
    assert any("event-level" in n for n in result.notes) and any("channel" in n for n in result.notes)


def test_without_email_exports_programs_are_unavailable():
    result = program_steps({"leads": LEADS}, "2024-03")
    assert not result.available and "email" in result.reason
    assert result.steps.empty


def test_emails_without_a_program_give_a_reason_not_an_empty_table():
    plain = WELCOME.drop(columns=["program"])
    result = program_steps({"leads": LEADS, "email_events": plain}, "2024-03")
    assert not result.available and "program" in result.reason
