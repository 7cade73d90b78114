"""Display text of values, changes, cards and the glossary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lifecycle.display import (
    NO_CHANGE,
    escape_markdown,
    format_delta,
    format_value,
    funnel_step_definition,
    glossary,
    metric_card,
)
from lifecycle.metrics import CATALOG, MetricResult


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234, "count", "1,234"),
        (0.1234, "rate", "12.3%"),
        (1234.4, "currency", "$1,234"),
        (1.955, "currency", "$1.96"),
        (-250.0, "currency", "−$250"),
        (23.4, "days", "23 days"),
        (4.25, "days", "4.2 days"),
        (-12.4, "nps", "−12"),
        (None, "rate", "—"),
        (math.nan, "count", "—"),
    ],
)
def test_values_are_written_in_their_unit(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


@pytest.mark.parametrize(
    ("now", "before", "unit", "text"),
    [
        (110, 100, "count", "+10 (+10%)"),
        (90, 100, "count", "-10 (-10%)"),
        (5, 0, "count", "+5"),  # no relative change from zero
        (0.25, 0.2, "rate", "+5.0 pp"),
        (30, 42, "nps", "-12 pts"),
        (2.5, 2.0, "currency", "+$0.50 (+25%)"),
        (0.2001, 0.2, "rate", NO_CHANGE),
        (7, None, "count", None),
    ],
)
def test_changes_carry_a_sign_streamlit_reads_as_the_arrow(
    now: float, before: float | None, unit: str, text: str
) -> None:
    assert format_delta(now, before, unit) == text


def test_a_card_colours_a_fall_green_when_down_is_good_and_counts_its_rows() -> None:
    rows = pd.DataFrame({"customer_id": ["a", "b"]})
    now = MetricResult("expand.churned_customers", 2, "count", True, rows=rows)
    before = MetricResult("expand.churned_customers", 3, "count", True)
    trend = pd.DataFrame({"month": ["2026-01", "2026-02", "2026-03"], "value": [3.0, math.nan, 2.0]})
    card = metric_card(now, before, trend)
    assert (card.label, card.value, card.delta) == ("Churned customers", "2", "-1 (-33%)")
    assert card.delta_color == "inverse"
    assert card.count == 2
    assert card.sparkline == [3.0, 2.0]
    assert CATALOG["expand.churned_customers"].definition in card.help


def test_an_unchanged_card_shows_no_arrow() -> None:
    now = MetricResult("capture.new_leads", 40, "count", True)
    card = metric_card(now, MetricResult("capture.new_leads", 40, "count", True))
    assert (card.delta, card.delta_color) == (NO_CHANGE, "off")


def test_an_unavailable_card_keeps_the_reason_and_shows_no_value() -> None:
    result = MetricResult("attract.sessions", None, "count", False, "needs web traffic")
    card = metric_card(result)
    assert (card.value, card.available, card.reason, card.count) == ("—", False, "needs web traffic", None)


def test_glossary_lists_every_metric_and_searches_all_words() -> None:
    assert len(glossary()) == len(CATALOG)
    found = glossary("churn rate")
    assert found["id"].tolist() == ["expand.churn_rate"]
    assert set(glossary(stages=["attract"])["stage"]) == {"Attract"}
    assert set(glossary(kinds=["activity"])["kind"]) == {"activity"}
    assert glossary("no such metric anywhere").empty


def test_glossary_search_finds_metrics_by_the_table_they_need() -> None:
    ids = set(glossary("nps")["id"])
    assert "expand.nps" in ids


def test_uploaded_text_is_escaped_so_markdown_renders_it_literally() -> None:
    text = "**Win** [click](https://x.example) <b>hi</b> :red[alert] `code` # 1. - item"
    escaped = escape_markdown(text)
    for special in "*[]()<>`#:":
        assert f"\\{special}" in escaped or special not in text
    assert escaped.replace("\\", "") == text


def test_funnel_step_definitions_say_which_leads_are_counted() -> None:
    assert funnel_step_definition("cohort", "lead", "2026-09") == "Leads created in Sep 2026 (the cohort)."
    assert "reached SQL to date" in funnel_step_definition("cohort", "sql", "2026-09")
    assert funnel_step_definition("period", "mql", "2026-09").startswith(
        "Leads whose MQL date falls in Sep 2026"
    )
