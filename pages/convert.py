"""Convert: do qualified leads become customers and bookings, at a return? Funnel, effectiveness, ROI."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle import session as ses
from lifecycle.figures import figure_funnel
from lifecycle.views import FUNNEL_COLUMNS, FUNNEL_UNITS
from pages import _sections as sections
from pages import _ui as ui

STAGE = "convert"
MODES = {"cohort": "Cohort", "period": "Period"}
MODE_HELP = "Cohort: the leads created in the month and the stages they reached to date. Period: the leads that entered each stage in the month."
BREAKDOWNS = {"none": "No breakdown", "channel": "By channel", "segment": "By segment"}

ctx = sections.stage_page(STAGE)

st.subheader("Funnel")
mode_col, by_col = st.columns(2)
mode = (
    mode_col.segmented_control(
        "Funnel", list(MODES), default="cohort", format_func=MODES.get, key="convert-mode", help=MODE_HELP
    )
    or "cohort"
)
by = (
    by_col.segmented_control(
        "Breakdown", list(BREAKDOWNS), default="none", format_func=BREAKDOWNS.get, key="convert-by"
    )
    or "none"
)
funnel = ui.funnel(ctx, mode)
if not funnel.available:
    ui.unavailable(funnel.reason, "The funnel")
else:
    month = ctx.month
    title = (
        f"Cohort funnel: leads created in {ses.month_label(month)}, stages reached to date"
        if mode == "cohort"
        else f"Period funnel: leads entering each stage in {ses.month_label(month)}"
    )
    ui.chart(
        figure_funnel(funnel.steps, title),
        f"convert-funnel-{mode}",
        lambda point: {
            "kind": "funnel",
            "mode": mode,
            "step": str(point.get("customdata")),
            "month": month,
            "channel": ctx.channel,
        },  # fmt: skip
    )
    ui.notes(funnel.notes)
    steps = ui.funnel(ctx, mode, by=None if by == "none" else by).steps
    shown = steps[list(FUNNEL_COLUMNS)].rename(columns=FUNNEL_COLUMNS)
    if by == "none":
        shown = shown.drop(columns="group")
    ui.table(
        shown, f"{mode} funnel {month}", key="convert-funnel", column_config=ui.unit_columns(FUNNEL_UNITS)
    )
    st.caption(
        "% of first and % of previous step; days are from the previous step (median and 90th percentile)."
    )

st.subheader("Source and campaign effectiveness")
sections.effectiveness(
    ctx,
    STAGE,
    ["group", "leads", "mqls", "sqls", "customers", "lead_to_customer", "spend", "cost_per_sql",
     "cost_per_customer", "bookings", "roi_12m"],
    chart_column="roi_12m",
)  # fmt: skip
st.caption(lm.CATALOG["convert.roi_12m"].note or "")

st.subheader("Trends")
left, right = st.columns(2)
with left:
    sections.trend_chart(ctx, "convert.sqls", "convert-sql-trend")
with right:
    sections.trend_chart(ctx, "convert.new_customers", "convert-customer-trend")
left, right = st.columns(2)
with left:
    sections.trend_chart(ctx, "convert.bookings", "convert-bookings-trend")
with right:
    sections.trend_chart(ctx, "convert.win_rate", "convert-winrate-trend")
