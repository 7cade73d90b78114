"""Expand: do customers stay, grow and recommend us? Campaigns, churn, retention, upsell share, NPS."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle.figures import figure_reference_band, figure_retention, figure_trend
from lifecycle.metrics.nps import CATEGORIES, nps_by_month, nps_verbatims
from lifecycle.metrics.retention import retention_cohorts
from pages import _sections as sections
from pages import _ui as ui

STAGE = "expand"
UPSELL_BAND = (0.10, 0.30)

ctx = sections.stage_page(STAGE)

st.subheader("Customer campaigns")
window = sections.program_window("expand-prog-window")
sections.programs(ctx, "customer", window, "expand-programs")

st.subheader("Churn and active customers")
left, right = st.columns(2)
with left:
    sections.trend_chart(ctx, "expand.churn_rate", "expand-churn-trend")
with right:
    sections.trend_chart(ctx, "expand.active_customers", "expand-active-trend")

st.subheader("Retention by start month")
retention = ui.memo(
    ctx,
    ("retention", ctx.month, ctx.channel),
    lambda: retention_cohorts(ctx.facts, ctx.month, ctx.channel, ctx.settings),
)
if not retention.available:
    ui.unavailable(retention.reason, "Retention")
elif retention.table.empty or retention.table["customers"].sum() == 0:
    st.info("No customer started in the 12 months ending with this month.")
else:
    ui.chart(
        figure_retention(retention.table, "Share of each start-month cohort still active after k months"),
        "expand-retention",
    )
    ui.notes(retention.notes)
    with st.expander("Customers behind the cohorts"):
        ui.table(retention.members, "retention cohorts customers", key="expand-retention-members")

st.subheader("Upsell share of bookings")
upsell = ui.series(ctx, "expand.upsell_share")
spec = lm.CATALOG["expand.upsell_share"]
if not upsell["available"].any():
    ui.unavailable(upsell["reason"].dropna().iloc[-1] if upsell["reason"].notna().any() else None, spec.label)
else:
    fig = figure_reference_band(
        upsell, f"{spec.label} by month", spec.unit, STAGE, UPSELL_BAND, "reference for a young company: 10–30 %",
        ctx.month,
    )  # fmt: skip
    month_channel = ctx.channel
    ui.chart(
        fig,
        "expand-upsell",
        lambda point: ui.metric_request(spec.id, str(point.get("customdata")), month_channel),
    )
    st.caption(spec.note or "")

st.subheader("Net Promoter Score")
trend = ui.memo(
    ctx,
    ("nps", ctx.month, ctx.channel),
    lambda: nps_by_month(ctx.facts, ctx.month, ctx.channel, ctx.settings, months=24),
)
if not trend.available:
    ui.unavailable(trend.reason, "NPS")
else:
    series = trend.frame.rename(columns={"nps": "value"})
    fig = figure_trend(series, "NPS by month (% promoters − % detractors)", "nps", STAGE, ctx.month)
    nps_channel = ctx.channel
    ui.chart(
        fig,
        "expand-nps",
        lambda point: ui.metric_request("expand.nps", str(point.get("customdata")), nps_channel),
    )
    ui.notes(trend.notes)
    picked = st.segmented_control(
        "Verbatims from", list(CATEGORIES), selection_mode="multi", default=list(CATEGORIES),
        format_func=lambda c: f"{c}s", key="expand-nps-categories",
    )  # fmt: skip
    months = (
        st.segmented_control(
            "Responses in", list(ui.WINDOWS), default=3, format_func=ui.WINDOWS.get, key="expand-nps-window"
        )
        or 3
    )
    categories = picked or []
    verbatims = ui.memo(
        ctx,
        ("verbatims", ctx.month, ctx.channel, tuple(categories), months),
        lambda: nps_verbatims(
            ctx.facts, ctx.month, ctx.channel, ctx.settings, category=categories, months=months
        ),
    )
    if verbatims.frame.empty:
        st.info("No comments from these respondents in this window.")
    else:
        ui.table(verbatims.frame, "nps verbatims", key="expand-verbatims",
                 column_config={"comment": st.column_config.TextColumn(width="large")})  # fmt: skip
