"""The Quarter page: renders on the sample, an empty and a leads-only workspace, shows quarter_view's numbers,
lists the early warnings with metric, month and reason, and offers the HTML report and workbook."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import click, open_page, upload
from streamlit.testing.v1 import AppTest
from test_smoke import LEADS_CSV

from lifecycle import metrics as lm
from lifecycle.display import format_delta, format_value
from lifecycle.quarter import default_quarter, quarter_label, quarter_view


def test_quarter_page_shows_quarter_views_numbers_and_warnings_and_builds_the_report(
    small_app_test: AppTest,
) -> None:
    at = open_page(small_app_test, "quarter")
    assert not at.exception and not at.error
    facts = at.session_state["_built"].facts
    quarter = default_quarter(facts)
    assert at.selectbox(key="quarter").value == quarter
    view = quarter_view(facts, quarter)
    summary = view.summary.set_index("metric")
    cards = {m.label: (m.value, m.delta) for m in at.metric}
    for metric_id in lm.KEY_METRICS.values():
        spec, row = lm.CATALOG[metric_id], summary.loc[metric_id]
        assert cards[spec.label][0] == format_value(row["value"], spec.unit)
        assert cards[spec.label][1] == format_delta(row["value"], row["previous"], spec.unit)
    table = at.dataframe[0].value.set_index("metric")
    monthly = view.monthly.set_index(["metric", "month"])
    for metric_id in lm.KEY_METRICS.values():
        spec, row = lm.CATALOG[metric_id], summary.loc[metric_id]
        assert table.loc[spec.label, "quarter"] == format_value(row["value"], spec.unit)
        for month in view.reported:
            column = f"{pd.Period(month, freq='M'):%b %Y}"
            assert table.loc[spec.label, column] == format_value(
                monthly.loc[(metric_id, month), "value"], spec.unit
            )
    warnings = at.dataframe[1].value
    assert len(warnings) == len(view.warnings) > 0
    assert list(warnings["why it fired"]) == list(view.warnings["message"])
    # The report is built when asked for (a few seconds), then offered as HTML and as a workbook.
    at = click(at, "Prepare the report")
    assert not at.exception and not at.error
    labels = [b.label for b in at.get("download_button")]
    assert "Download the HTML report" in labels and "Download the Excel workbook" in labels
    assert any(quarter_label(quarter) in c.value for c in at.caption)


@pytest.mark.parametrize("workspace", ["empty", "leads only"])
def test_quarter_page_renders_without_full_data(small_app_test: AppTest, workspace: str) -> None:
    at = click(open_page(small_app_test, "data"), "Start an empty workspace")
    if workspace == "leads only":
        at = upload(at, ("contacts.csv", LEADS_CSV))
    at = open_page(at, "quarter")
    assert not at.exception
    if workspace == "empty":
        assert any("No data loaded" in info.value for info in at.info)
    else:
        captions = " ".join(c.value for c in at.caption)
        assert "Not available" in captions  # sessions need the web analytics export
        assert at.dataframe, "the key metrics table"
