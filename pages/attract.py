"""Attract: are we reaching enough of the right people? Traffic, visitors and cost per visit, by channel."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from pages import _sections as sections
from pages import _ui as ui

STAGE = "attract"
BY_CHANNEL = ["attract.sessions", "attract.visitors", "attract.new_visitors", "attract.cost_per_visit"]

ctx = ui.context()
ui.stage_header(STAGE, ctx)
if ui.no_data(ctx):
    st.stop()

sections.activity_outcome(ctx, [m.id for m in lm.stage_metrics(STAGE)])

st.subheader("Trends")
sections.trend_pair(
    ctx, ("attract.sessions", "attract-sessions-trend"), ("attract.cost_per_visit", "attract-cpv-trend")
)

st.subheader("By channel")
sections.by_channel(ctx, BY_CHANNEL, "attract.sessions", STAGE)
st.caption(lm.CATALOG["attract.visitors"].note or "")
