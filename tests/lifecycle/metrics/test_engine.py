"""The engine: all metrics at once, series, months, channels and the SPEC §6 JSON payload."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from metrics_fixtures import table

from lifecycle.metrics import (
    CATALOG,
    build_facts,
    channels,
    compute_all,
    compute_metric,
    compute_metrics,
    default_month,
    metric_series,
    metrics_payload,
    months_in_data,
)
from lifecycle.metrics.engine import jsonable

LEADS = table(
    "leads",
    lead_id=["a", "b", "c", "d"],
    created_at=["2026-01-10", "2026-02-03", "2026-02-20", "2026-04-02"],
    channel=["Paid", None, "Organic", "Paid"],
    mql_at=["2026-02-01", None, "2026-03-01", None],
)
# d1's close date (an open deal's expected date, September) must not stretch the months.
DEALS = table(
    "deals",
    deal_id=["d1", "d2"],
    created_at=["2026-02-01", "2026-02-15"],
    closed_at=["2026-09-30", "2026-03-10"],
    status=["open", "won"],
    amount=[100, 200],
)
TABLES = {"leads": LEADS, "deals": DEALS}


def test_compute_all_returns_every_catalog_metric():
    results = compute_all(TABLES, "2026-02")
    assert list(results) == list(CATALOG)
    assert results["capture.new_leads"].value == 2  # b, c
    assert not results["attract.sessions"].available


def test_tables_and_facts_give_the_same_result():
    facts = build_facts(TABLES)
    assert (
        compute_metric(TABLES, "nurture.mqls", "2026-02").value
        == compute_metric(facts, "nurture.mqls", "2026-02").value
        == 1
    )


def test_some_metrics_are_computed_alone_or_taken_from_the_whole_month():
    ids = ["capture.new_leads", "nurture.mqls", "attract.sessions"]
    facts = build_facts(TABLES)
    some = compute_metrics(facts, ids, "2026-02", "Paid")
    assert list(some) == ids
    assert "recent" not in facts.cache or not facts.cache["recent"]  # nothing else was computed
    assert (some["capture.new_leads"].value, some["nurture.mqls"].value) == (0, 1)  # a's MQL in February
    assert not some["attract.sessions"].available and "web traffic" in some["attract.sessions"].reason
    whole = compute_all(facts, "2026-02", "Paid")
    again = compute_metrics(facts, ids, "2026-02", "Paid")
    assert all(again[m] is whole[m] for m in ids)  # the whole month's results, not computed again
    fresh = compute_all(build_facts(TABLES), "2026-02", "Paid")
    assert [some[m].value for m in ids] == [fresh[m].value for m in ids]


def test_an_unknown_metric_id_is_a_value_error_even_for_a_month_computed_whole():
    facts = build_facts(TABLES)
    with pytest.raises(ValueError, match="unknown metric 'nurture.mqlz'"):
        compute_metrics(facts, ["nurture.mqls", "nurture.mqlz"], "2026-02")
    compute_all(facts, "2026-02")
    with pytest.raises(ValueError, match="unknown metric 'nurture.mqlz'"):
        compute_metrics(facts, ["nurture.mqls", "nurture.mqlz"], "2026-02")


def test_metric_series_matches_single_month_computations():
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    series = metric_series(TABLES, "capture.new_leads", months)
    assert list(series.columns) == ["month", "value", "available", "reason"]
    assert series["value"].tolist() == [1, 2, 0, 1]
    rates = metric_series(TABLES, "convert.win_rate", months)
    # only March has a closed deal (d2 won); other months have none → NaN value with a reason
    assert rates["value"].iloc[2] == 1.0 and rates["value"].isna().sum() == 3
    assert rates["reason"].iloc[0] == "no deals closed in 2026-01"


def test_metric_series_of_an_unavailable_metric_is_flagged_every_month():
    series = metric_series(TABLES, "attract.sessions", ["2026-01", "2026-02"])
    assert not series["available"].any() and series["reason"].str.startswith("needs web traffic").all()


def test_months_span_event_dates_but_not_open_deals_expected_close_dates():
    assert months_in_data(TABLES) == ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_default_month_is_the_month_before_the_latest_date():
    assert default_month(TABLES) == "2026-03"


def test_default_month_of_single_month_data_is_that_month_and_none_without_dates():
    leads = table("leads", lead_id=["a"], created_at=["2026-05-04"])
    assert default_month({"leads": leads}) == "2026-05"
    assert default_month({}) is None and months_in_data({}) == []


def test_channels_are_sorted_with_not_set_last():
    assert channels(TABLES) == ["Organic", "Paid", "(not set)"]


def test_unknown_metric_and_bad_month_raise_value_errors():
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metric(TABLES, "nurture.nope", "2026-02")
    with pytest.raises(ValueError, match="YYYY-MM"):
        compute_metric(TABLES, "nurture.mqls", "Feb 2026")


def test_rows_behind_a_count_are_the_counted_leads():
    result = compute_metric(TABLES, "capture.new_leads", "2026-02")
    assert isinstance(result.rows, pd.DataFrame) and sorted(result.rows["lead_id"]) == ["b", "c"]


def test_rows_are_counted_without_selecting_them_and_the_count_is_their_number():
    result = compute_metric(TABLES, "capture.new_leads", "2026-02")
    assert result.row_count == 2  # b, c
    assert "_rows" in result.__dict__ and callable(result.__dict__["_rows"])  # not selected by counting
    assert len(result.rows) == result.row_count
    for metric in compute_all(TABLES, "2026-03").values():
        counted = metric.row_count
        assert counted == (None if metric.rows is None else len(metric.rows)), metric.id


def test_payload_follows_spec_section_6_and_is_strict_json():
    payload = metrics_payload(TABLES)
    assert payload["month"] == "2026-03" and payload["channel"] is None
    assert list(payload["metrics"]) == list(CATALOG)
    for entry in payload["metrics"].values():
        assert set(entry) == {"value", "unit", "available", "reason", "details"}
    json.dumps(payload, allow_nan=False)  # no NaN, no numpy scalars
    assert payload["metrics"]["convert.win_rate"]["value"] == 1.0
    assert payload["metrics"]["attract.sessions"] == {
        "value": None,
        "unit": "count",
        "available": False,
        "reason": "needs web traffic: a web analytics export (GA4 traffic acquisition report)",
        "details": {},
    }


def test_payload_for_a_channel_and_month():
    payload = metrics_payload(TABLES, month="2026-02", channel="Paid")
    assert payload["channel"] == "Paid" and payload["metrics"]["capture.new_leads"]["value"] == 0


def test_payload_of_an_empty_workspace_explains_itself():
    with pytest.raises(ValueError, match="no dated rows"):
        metrics_payload({})


def test_jsonable_converts_numpy_nan_and_timestamps():
    import numpy as np

    value = {"a": np.int64(3), "b": [np.float64("nan"), np.bool_(True)], "c": pd.Timestamp("2026-01-02")}
    assert jsonable(value) == {"a": 3, "b": [None, True], "c": "2026-01-02T00:00:00"}


def test_cli_metrics_command_prints_the_payload(tmp_path, capsys):
    from lifecycle.cli import main
    from lifecycle.workspace import save_table

    save_table(tmp_path, "leads", LEADS)
    save_table(tmp_path, "deals", DEALS)
    assert main(["metrics", "--data", str(tmp_path), "--month", "2026-02", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["month"] == "2026-02" and payload["metrics"]["capture.new_leads"]["value"] == 2
