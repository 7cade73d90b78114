"""Nurture: are leads engaging and becoming marketing-qualified? Score profile, programs, drivers, MQLs."""

from __future__ import annotations

import streamlit as st

from lifecycle import session as ses
from lifecycle.display import escape_markdown
from lifecycle.figures import figure_score_profile
from lifecycle.metrics.drivers import nurture_impact, score_drivers
from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.views import DRIVER_COLUMNS, PROFILE_COLUMNS, impact_table
from pages import _sections as sections
from pages import _ui as ui

STAGE = "nurture"

ctx = sections.stage_page(STAGE)

st.subheader("Lead quality: score profile of new leads")
profile = ui.memo(
    ctx,
    ("profile", ctx.month, ctx.channel),
    lambda: cohort_score_profile(ctx.facts, ctx.month, ctx.channel, ctx.settings),
)
if not profile.available:
    ui.unavailable(profile.reason, "The score profile")
else:
    fig = figure_score_profile(
        profile.bands, profile.summary, "Month-end score of each month's new leads (share per band, median line)",
        ctx.month, ctx.settings.mql_threshold,
    )  # fmt: skip
    ui.chart(fig, "nurture-profile", sections.profile_request(ctx))
    ui.notes(profile.notes)
    st.caption(
        f"MQL threshold {ctx.settings.mql_threshold:g} points. Click a band to see its leads. Is lead quality "
        "rising? Darker bands growing and the median line climbing say yes."
    )
    with st.expander("Profile by cohort month (table)"):
        summary = profile.summary.rename(columns=PROFILE_COLUMNS)
        ui.table(summary, "score profile by cohort", key="nurture-profile", column_config=ui.unit_columns(
            {"median": "score", "mean": "score", "p25": "score", "p75": "score", "share ≥ MQL threshold": "rate"}
        ))  # fmt: skip

st.subheader("Automated programs")
window = sections.program_window("nurture-prog-window")
sections.programs(ctx, "prospect", window, "nurture-programs")

st.subheader("What moves leads to MQL")
st.markdown("**Score drivers** (leads created in the last 12 months)")
drivers = ui.memo(
    ctx,
    ("drivers", ctx.month, ctx.channel),
    lambda: score_drivers(ctx.facts, ctx.month, ctx.channel, ctx.settings),
)
if not drivers.available:
    ui.unavailable(drivers.reason, "Score drivers")
else:
    flat = drivers.drivers.loc[drivers.drivers["no_effect"], "reason"].tolist()
    if flat:
        st.warning(
            "No effect on the MQL rate: "
            + escape_markdown(", ".join(flat))
            + ". Worth re-weighting these rules.",
            icon=":material/flag:",
        )
    shown = drivers.drivers[list(DRIVER_COLUMNS)].rename(columns=DRIVER_COLUMNS)
    ui.table(shown, "score drivers", key="nurture-drivers", column_config=ui.unit_columns(
        {"MQL rate, touched": "rate", "MQL rate, untouched": "rate", "lift": "rate", "changes": "count",
         "points": "count", "leads touched": "count"}
    ))  # fmt: skip
    ui.notes(drivers.notes)
st.markdown("**Nurture impact** (nurtured vs not nurtured leads, last 12 months)")
impact = ui.memo(
    ctx,
    ("impact", ctx.month, ctx.channel),
    lambda: nurture_impact(ctx.facts, ctx.month, ctx.channel, ctx.settings),
)
if not impact.available:
    ui.unavailable(impact.reason, "Nurture impact")
else:
    ui.table(impact_table(impact.comparison), "nurture impact", key="nurture-impact", column_config=ui.unit_columns(
        {"lift": "rate", "industry figure": "rate"}
    ))  # fmt: skip
    st.caption(escape_markdown(f"Nurtured means: {impact.basis}."))
    ui.notes(impact.notes)

st.subheader("MQLs and their cost")
left, right = st.columns(2)
with left:
    sections.trend_chart(ctx, "nurture.mqls", "nurture-mql-trend")
with right:
    sections.trend_chart(ctx, "nurture.cost_per_mql", "nurture-cpm-trend")
st.caption(f"Selected month: {ses.month_label(ctx.month)}. Click a bar to see that month's rows.")
