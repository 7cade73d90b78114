"""The sidebar selection: month and channel pickers drive the cards, and the URL seeds them."""

from __future__ import annotations

from conftest import card_values, open_page
from streamlit.testing.v1 import AppTest

from lifecycle import metrics as lm
from lifecycle.display import format_delta, format_value
from lifecycle.session import month_label


def test_default_month_is_the_last_complete_month(app_test: AppTest) -> None:
    at = open_page(app_test, "definitions")
    facts = at.session_state["_built"].facts
    assert at.selectbox(key="month").value == lm.default_month(facts)


def test_cards_show_the_engine_values_for_the_picked_month_and_channel(app_test: AppTest) -> None:
    at = open_page(app_test, "capture")
    facts = at.session_state["_built"].facts
    month = lm.months_in_data(facts)[-5]
    channel = lm.channels(facts)[0]
    at.selectbox(key="month").set_value(month)
    at = at.selectbox(key="channel").set_value(channel).run()
    assert not at.exception
    shown = card_values(at)
    for spec in lm.stage_metrics("capture"):
        result = lm.compute_metric(facts, spec.id, month, channel)
        assert shown[spec.label] == format_value(result.value, spec.unit), spec.id
    # The change is against the month before, for the same channel.
    before = lm.compute_metric(facts, "capture.new_leads", lm.months_in_data(facts)[-6], channel)
    now = lm.compute_metric(facts, "capture.new_leads", month, channel)
    [card] = [m for m in at.metric if m.label == "New leads"]
    assert card.proto.delta == format_delta(now.value, before.value, "count")


def test_same_month_last_year_comparison_uses_the_month_twelve_months_earlier(app_test: AppTest) -> None:
    at = open_page(app_test, "nurture")
    facts = at.session_state["_built"].facts
    month = at.selectbox(key="month").value
    at = at.radio(key="compare").set_value("yoy").run()
    year_ago = lm.months_in_data(facts)[lm.months_in_data(facts).index(month) - 12]
    now = lm.compute_metric(facts, "nurture.mqls", month)
    before = lm.compute_metric(facts, "nurture.mqls", year_ago)
    [card] = [m for m in at.metric if m.label == "MQLs"]
    assert card.proto.delta == format_delta(now.value, before.value, "count")


def test_a_link_with_month_and_channel_opens_that_view(app_test: AppTest) -> None:
    app_test.query_params["month"] = month_label("2026-03")
    app_test.query_params["channel"] = "Paid Search"
    at = open_page(app_test, "capture")
    assert at.selectbox(key="month").value == "2026-03"
    assert at.selectbox(key="channel").value == "Paid Search"
    facts = at.session_state["_built"].facts
    leads = lm.compute_metric(facts, "capture.new_leads", "2026-03", "Paid Search")
    assert card_values(at)["New leads"] == format_value(leads.value, "count")
