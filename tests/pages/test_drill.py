"""Drill-through: the rows shown behind a number are exactly the rows the number counts."""

from __future__ import annotations

import pytest
from conftest import open_page, plain
from streamlit.testing.v1 import AppTest

from lifecycle import metrics as lm
from lifecycle.metrics import funnels


def dialog_rows(at: AppTest) -> int:
    """Rows of the table in the open drill-through dialog."""
    [dialog] = at.get("dialog")
    [table] = dialog.dataframe
    return len(table.value)


@pytest.mark.parametrize(
    ("page_name", "metric_id"), [("capture", "capture.new_leads"), ("convert", "convert.sqls")]
)
def test_rows_behind_a_count_card_are_as_many_as_the_card_says(
    app_test: AppTest, page_name: str, metric_id: str
) -> None:
    at = open_page(app_test, page_name)
    label = lm.CATALOG[metric_id].label
    [card] = [m for m in at.metric if m.label == label]
    at = at.button(key=f"drill-{metric_id}").click().run()
    assert not at.exception
    assert dialog_rows(at) == int(card.value.replace(",", ""))
    assert lm.CATALOG[metric_id].definition in plain(" ".join(m.value for m in at.get("dialog")[0].markdown))


def test_rows_behind_a_funnel_step_are_the_leads_the_step_counts(app_test: AppTest) -> None:
    at = open_page(app_test, "convert")
    month = at.session_state["month"]
    facts = at.session_state["_built"].facts
    steps = funnels.funnel(facts, month, mode="cohort").steps.set_index("step")
    # A click on the MQL bar of the cohort funnel sends this request (see pages/convert.py).
    at.session_state["_drill"] = {
        "kind": "funnel",
        "mode": "cohort",
        "step": "mql",
        "month": month,
        "channel": None,
    }
    at = at.run()
    assert dialog_rows(at) == steps.loc["mql", "count"]


def test_rows_behind_a_trend_bar_are_that_months_rows(app_test: AppTest) -> None:
    at = open_page(app_test, "nurture")
    facts = at.session_state["_built"].facts
    earlier = lm.months_in_data(facts)[-6]
    expected = lm.compute_metric(facts, "nurture.mqls", earlier)
    # A click on a bar of "MQLs by month" sends the month of the bar.
    at.session_state["_drill"] = {"kind": "metric", "id": "nurture.mqls", "month": earlier, "channel": None}
    at = at.run()
    assert dialog_rows(at) == expected.value == len(expected.rows)
