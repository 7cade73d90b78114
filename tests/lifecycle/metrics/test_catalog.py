"""The catalog holds exactly SPEC §5's metrics, each fully described, and the settings behave as documented."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from lifecycle.metrics import CATALOG, KEY_METRICS, STAGE_COLORS, STAGE_LABELS, STAGES, Settings
from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.engine import FUNCTIONS
from lifecycle.schema import TABLES

SPEC_IDS = [
    "attract.sessions",
    "attract.visitors",
    "attract.new_visitors",
    "attract.cost_per_visit",
    "capture.new_leads",
    "capture.visit_to_lead_rate",
    "capture.form_conversion_rate",
    "capture.cost_per_lead",
    "nurture.new_leads",
    "nurture.reopened_leads",
    "nurture.recycled_leads",
    "nurture.email_open_rate",
    "nurture.email_ctr",
    "nurture.click_to_open",
    "nurture.score_profile",
    "nurture.mqls",
    "nurture.lead_to_mql_rate",
    "nurture.cost_per_mql",
    "convert.sqls",
    "convert.opportunities",
    "convert.new_customers",
    "convert.mql_to_sql_rate",
    "convert.sql_to_customer_rate",
    "convert.win_rate",
    "convert.deals_won",
    "convert.bookings",
    "convert.bookings_new",
    "convert.cost_per_sql",
    "convert.cost_per_customer",
    "convert.roi_12m",
    "convert.days_to_close",
    "convert.days_lead_to_customer",
    "expand.customer_open_rate",
    "expand.customer_ctr",
    "expand.active_customers",
    "expand.churned_customers",
    "expand.churn_rate",
    "expand.upsell_share",
    "expand.nps",
]


def test_catalog_lists_exactly_the_spec_metrics_in_stage_order():
    assert list(CATALOG) == SPEC_IDS
    assert set(FUNCTIONS) == set(CATALOG)


@pytest.mark.parametrize("metric_id", SPEC_IDS)
def test_every_metric_is_fully_described(metric_id):
    m = CATALOG[metric_id]
    assert m.id == metric_id and m.stage == metric_id.split(".")[0]
    assert m.kind in ("activity", "outcome") and m.direction in ("up", "down")
    assert m.unit in ("count", "rate", "currency", "days", "score", "nps")
    assert m.label and m.definition.endswith(".") and len(m.definition) < 200
    assert m.tables and all(t in TABLES for group in m.tables for t in group)


def test_units_and_directions_follow_the_metric_names():
    for m in CATALOG.values():
        if "cost_per" in m.id or m.id.startswith("convert.days") or "churn" in m.id:
            assert m.direction == "down", m.id
        if m.id.endswith("_rate") or m.id.endswith("ctr") or m.id.endswith("_share"):
            assert m.unit == "rate", m.id
    assert CATALOG["expand.nps"].unit == "nps" and CATALOG["nurture.score_profile"].unit == "score"


def test_stage_colours_are_distinct_hex_codes_and_key_metrics_belong_to_their_stage():
    assert list(STAGE_LABELS) == list(STAGES) == list(STAGE_COLORS) == list(KEY_METRICS)
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in STAGE_COLORS.values())
    assert len(set(STAGE_COLORS.values())) == len(STAGES)
    assert all(CATALOG[m].stage == stage for stage, m in KEY_METRICS.items())


def test_requirements_read_as_and_of_alternatives():
    m = CATALOG["capture.cost_per_lead"]
    assert m.requirement_text() == "spend and (leads or lead_stages)"
    assert m.missing({"spend", "lead_stages"}) == []
    assert m.missing({"leads"}) == [("spend",)]


def test_unavailable_reason_names_the_enabling_export_from_the_schema():
    text = needs_text([("spend",), ("leads", "lead_stages")])
    assert text.startswith("needs spend: " + TABLES["spend"].enables)
    assert TABLES["leads"].enables in text and TABLES["lead_stages"].enables in text


def test_default_band_labels_and_band_edges():
    settings = Settings()
    assert settings.band_labels == ["<0", "0–24", "25–49", "50–74", "75–99", "≥100"]
    scores = pd.Series([-0.5, 0, 24.9, 25, 99, 100, None])
    assert settings.band_of(scores).astype(object).tolist()[:6] == [
        "<0",
        "0–24",
        "0–24",
        "25–49",
        "75–99",
        "≥100",
    ]
    assert pd.isna(settings.band_of(scores).iloc[6])


@pytest.mark.parametrize("kwargs", [{"score_bands": (10, 5)}, {"score_bands": ()}, {"warning_margin": -0.1},
                                    {"roi_months": 0}])  # fmt: skip
def test_settings_reject_inconsistent_values(kwargs):
    with pytest.raises(ValueError):
        Settings(**kwargs)


def test_settings_defaults_match_the_spec():
    s = Settings()
    assert (s.mql_threshold, s.score_bands, s.warning_margin, s.timezone) == (
        100,
        (0, 25, 50, 75, 100),
        0.2,
        "UTC",
    )
