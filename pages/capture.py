"""Capture: do visitors become leads, and at what cost? Leads, conversion and cost per lead by channel."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from pages import _sections as sections
from pages import _ui as ui

STAGE = "capture"
BY_CHANNEL = [
    "capture.new_leads",
    "capture.visit_to_lead_rate",
    "capture.form_conversion_rate",
    "capture.cost_per_lead",
]

ctx = ui.context()
ui.stage_header(STAGE, ctx)
if ui.no_data(ctx):
    st.stop()

sections.activity_outcome(ctx, [m.id for m in lm.stage_metrics(STAGE)])

st.subheader("Trends")
sections.trend_pair(
    ctx, ("capture.new_leads", "capture-leads-trend"), ("capture.cost_per_lead", "capture-cpl-trend")
)
sections.trend_chart(ctx, "capture.visit_to_lead_rate", "capture-v2l-trend")

st.subheader("By channel")
sections.by_channel(ctx, BY_CHANNEL, "capture.new_leads", STAGE)

st.subheader("By source and campaign")
sections.effectiveness(
    ctx,
    STAGE,
    ["group", "leads", "spend", "cost_per_lead", "mqls", "customers", "lead_to_customer"],
    default="campaign",
)
