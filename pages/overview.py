"""Overview: each stage's key metric, early warnings, the funnel from lead to customer, quarter pacing."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle import session as ses
from lifecycle.display import escape_markdown
from lifecycle.figures import figure_funnel
from lifecycle.views import pacing_table, quarter_label
from pages import _sections as sections
from pages import _ui as ui

ctx = ui.context()
st.title("Overview")
if ui.no_data(ctx):
    st.stop()
st.caption(
    f"{escape_markdown(ctx.scope_label())} · compared with the {ses.COMPARISONS[ctx.selection.compare]}"
    + ("" if ctx.compare_month else " (not in the data: no change shown)")
)

# One card per stage, headed by the stage in its colour: the same colours as every chart.
columns = st.columns(len(lm.STAGES))
for column, stage in zip(columns, lm.STAGES, strict=True):
    with column:
        st.markdown(
            f"<div style='height:4px;background:{lm.STAGE_COLORS[stage]};border-radius:2px'></div>",
            unsafe_allow_html=True,  # a constant colour bar
        )
        st.markdown(f"**{lm.STAGE_LABELS[stage]}**")
        ui.cards(ctx, [lm.KEY_METRICS[stage]], per_row=1)

st.subheader("Early warnings")
warnings = sections.warnings(ctx)
if warnings.empty:
    st.success(
        "No early warnings this month: no metric slid two months running or fell well below its recent median."
    )
else:
    badges = st.container(horizontal=True, gap="small")
    with badges:
        for _, row in warnings.drop_duplicates("metric").iterrows():  # a few badges, not data
            st.badge(row["label"], icon=":material/warning:", color="orange")
    with st.expander(f"Why these {warnings['metric'].nunique()} metrics are flagged"):
        ui.table(
            warnings[["stage", "label", "rule", "message"]].rename(columns={"label": "metric"}),
            "early warnings",
            key="warnings",
            column_config={"message": st.column_config.TextColumn(width="large")},
        )

st.subheader("From lead to customer")
cohort_col, period_col = st.columns(2)
for column, mode, title in (
    (cohort_col, "cohort", f"Cohort: leads created in {ses.month_label(ctx.month)}, stages reached to date"),
    (period_col, "period", f"Period: entered each stage in {ses.month_label(ctx.month)}"),
):
    with column:
        funnel = ui.funnel(ctx, mode)
        if not funnel.available:
            ui.unavailable(funnel.reason, "The funnel")
            continue
        month = ctx.month
        ui.chart(
            figure_funnel(funnel.steps, title),
            f"overview-funnel-{mode}",
            lambda point, mode=mode, month=month: {
                "kind": "funnel", "mode": mode, "step": str(point.get("customdata")), "month": month,
                "channel": ctx.channel,
            },
        )  # fmt: skip
        ui.notes(funnel.notes)
st.caption("Click a funnel step to see the leads behind it.")

st.subheader("Quarter to date")
st.caption(
    f"{quarter_label(ctx.month)} — against the previous quarter at the same point, and where it lands at this pace."
)
pacing = ui.shared(
    ctx,
    ("pacing", ctx.month, ctx.channel),
    lambda: pacing_table(
        ctx.facts, list(lm.KEY_METRICS.values()), ctx.built.months, ctx.month, ctx.channel, ctx.settings
    ),
)
ui.table(pacing, "quarter to date pacing", key="pacing")
