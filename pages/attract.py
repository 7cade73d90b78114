"""Attract: are we reaching enough of the right people? Traffic, visitors and cost per visit, by channel."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from pages import _sections as sections

STAGE = "attract"
BY_CHANNEL = ["attract.sessions", "attract.visitors", "attract.new_visitors", "attract.cost_per_visit"]

ctx = sections.stage_page(STAGE)

st.subheader("Trends")
sections.trend_pair(
    ctx, ("attract.sessions", "attract-sessions-trend"), ("attract.cost_per_visit", "attract-cpv-trend")
)

st.subheader("By channel")
sections.by_channel(ctx, BY_CHANNEL, "attract.sessions", STAGE)
st.caption(lm.CATALOG["attract.visitors"].note or "")
