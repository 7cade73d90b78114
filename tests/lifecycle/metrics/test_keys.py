"""Integer codes for the analyses over millions of sends and score changes (lifecycle.metrics.keys), and the
analyses' work that no month or channel changes being done once per facts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts
from lifecycle.metrics import programs as programs_module
from lifecycle.metrics.drivers import score_drivers
from lifecycle.metrics.keys import labelled, lead_ids, lead_positions, remembered, sorted_order
from lifecycle.metrics.programs import program_steps


@pytest.mark.parametrize("as_category", [True, False])
def test_labels_are_trimmed_text_with_missing_and_blank_values_named(as_category):
    values = pd.Series([" Welcome", "Welcome", "", None, "Onboarding ", "  "], dtype="str")
    labels = labelled(values.astype("category") if as_category else values, "(none)")
    assert list(labels) == ["Welcome", "Welcome", "(none)", "(none)", "Onboarding", "(none)"]
    assert sorted(labels.categories) == ["(none)", "Onboarding", "Welcome"]  # " Welcome" and "Welcome": one


def facts_with_leads(ids: list[str]):
    return build_facts({"leads": table("leads", lead_id=ids, created_at=["2024-03-01"] * len(ids))})


def test_lead_positions_find_each_ids_row_and_minus_one_for_missing_or_unknown_ids():
    facts = facts_with_leads(["a", "b", "c"])
    ids = pd.Series(["c", None, "a", "zz", "c"], dtype="str")
    assert lead_positions(facts, ids).tolist() == [2, -1, 0, -1, 2]
    coded = pd.Series(pd.Categorical(["b", "a", None], categories=["a", "b", "c"]))  # the leads' own order
    assert lead_positions(facts, coded).tolist() == [1, 0, -1]


def test_lead_ids_of_rows_are_the_leads_ids_and_text_when_ids_repeat():
    facts = facts_with_leads(["a", "b", "c"])
    ids = lead_ids(facts, np.array([2, 0, 0]))
    assert ids.tolist() == ["c", "a", "a"] and isinstance(ids.dtype, pd.CategoricalDtype)
    repeated = replace(facts, leads=facts.leads.assign(lead_id=["a", "a", "c"]), cache={})
    assert lead_ids(repeated, np.array([1, 2])).tolist() == ["a", "c"]
    assert lead_positions(repeated, pd.Series(["a", "c"], dtype="str")).tolist() == [0, 2]  # the first "a"


def test_remembered_computes_once_per_facts_and_a_channel_view_has_its_own():
    facts = build_facts(
        {"leads": table("leads", lead_id=["a", "b"], created_at=["2024-03-01"] * 2, channel=["web", "ads"])}
    )
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert remembered(facts, "k", compute) == 1
    assert remembered(facts, "k", compute) == 1
    assert remembered(facts.view("web"), "k", compute) == 2


@pytest.mark.parametrize("span", [4, 2**62])  # packed in one sort, or too wide for that: argsorted
def test_sorted_order_orders_rows_by_key_keeping_each_keys_rows_in_their_order(span):
    order, in_order = sorted_order(np.array([3, 1, 3, 0, 1], dtype=np.int64), span)
    assert order.tolist() == [3, 1, 4, 0, 2]
    assert in_order.tolist() == [0, 1, 1, 3, 3]


LEADS = table(
    "leads",
    lead_id=["a", "b", "c"],
    created_at=["2024-03-01"] * 3,
    channel=["web", "web", "ads"],
    mql_at=["2024-04-20", None, None],
)
# Step 1 to a, b, c in March, Step 2 to a in March and to b in April.
EVENTS = table(
    "email_events",
    recipient=["a", "b", "c", "a", "b"],
    event=["sent"] * 5,
    at=["2024-03-02", "2024-03-02", "2024-03-02", "2024-03-09", "2024-04-09"],
    email=["W1", "W1", "W1", "W2", "W2"],
    program=["Welcome"] * 5,
    step=["Step 1", "Step 1", "Step 1", "Step 2", "Step 2"],
)


def test_program_recipients_of_all_time_are_worked_out_once_per_facts(monkeypatch):
    calls = []
    real = programs_module._all_people

    def counted(facts, audience):
        calls.append(audience)
        return real(facts, audience)

    monkeypatch.setattr(programs_module, "_all_people", counted)
    facts = build_facts({"leads": LEADS, "email_events": EVENTS})
    march = program_steps(facts, "2024-03", min_recipients=1).steps
    april = program_steps(facts, "2024-04", "web", min_recipients=1).steps
    two_months = program_steps(facts, "2024-04", months=2, min_recipients=1).steps
    assert calls == ["prospect"]
    # March: Step 1 a, b, c (a and b moved on: 2 of 3), Step 2 a. April, web: Step 2 b.
    assert march["recipients"].tolist() == [3, 1] and march["moved_on"].tolist() == [2, 0]
    assert april["step"].tolist() == ["Step 2"] and april["recipients"].tolist() == [1]
    assert two_months["recipients"].tolist() == [3, 2]
    # The same as from facts that never computed another month.
    fresh = program_steps(
        build_facts({"leads": LEADS, "email_events": EVENTS}), "2024-04", "web", min_recipients=1
    )
    pd.testing.assert_frame_equal(april, fresh.steps)


def test_score_reasons_that_differ_only_by_spaces_are_one_and_blank_ones_no_reason():
    scores = table(
        "score_changes",
        lead_id=["a", "b", "c", "zz"],  # zz: no such lead
        at=["2024-03-02"] * 4,
        delta=[5, 7, 1, 9],
        reason=["Form fill", " Form fill ", "", "Form fill"],
    )
    drivers = score_drivers({"leads": LEADS, "score_changes": scores}, "2024-03", months=1, min_leads=1)
    by_reason = drivers.drivers.set_index("reason")
    assert by_reason.index.tolist() == ["Form fill", "(no reason)"]
    assert by_reason.loc["Form fill", ["changes", "points", "leads_touched"]].tolist() == [2, 12, 2]
    assert by_reason.loc["(no reason)", ["changes", "points", "leads_touched"]].tolist() == [1, 1, 1]
    assert sorted(zip(drivers.members["lead_id"], drivers.members["reason"], strict=True)) == [
        ("a", "Form fill"), ("b", "Form fill"), ("c", "(no reason)"),
    ]  # fmt: skip
