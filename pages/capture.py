"""Capture: do visitors become leads, and at what cost? Leads, conversion and cost per lead by channel."""

from __future__ import annotations

import streamlit as st

from pages import _sections as sections

STAGE = "capture"
BY_CHANNEL = [
    "capture.new_leads",
    "capture.visit_to_lead_rate",
    "capture.form_conversion_rate",
    "capture.cost_per_lead",
]

ctx = sections.stage_page(STAGE)

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
