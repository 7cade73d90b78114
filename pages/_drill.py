"""Drill-through: the rows behind a card, a funnel step or a bar, beside the definition of the number.

A card's button or a chart's click stores a request (`_ui.request_drill`); app.py calls `show_drill` after
the page, which resolves the request with the engine and opens the dialog.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from lifecycle import metrics as lm
from lifecycle import session as ses
from lifecycle.display import escape_markdown, format_value, funnel_step_definition
from lifecycle.metrics.effectiveness import source_effectiveness
from lifecycle.metrics.funnels import STEP_LABELS
from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.views import EFFECTIVENESS_COLUMNS, EFFECTIVENESS_KINDS, effectiveness_rows, profile_rows
from pages._ui import DRILL, WINDOWS, Context, funnel, memo, table


def show_drill(ctx: Context) -> None:
    """Open the drill-through dialog when a card, bar or funnel step asked for it in this run."""
    request = st.session_state.pop(DRILL, None)
    if request and ctx.month:
        resolvers = {
            "metric": metric_drill,
            "funnel": funnel_drill,
            "effectiveness": effectiveness_drill,
            "profile": profile_drill,
        }
        _drill_dialog(resolvers[request["kind"]](ctx, request))


@dataclass
class DrillView:
    """The rows behind one number, with the words that define it."""

    title: str
    value: str
    scope: str
    definition: str
    rows: pd.DataFrame
    note: str | None = None
    needs: str | None = None


def metric_drill(ctx: Context, request: dict) -> DrillView:
    """Rows behind a catalog metric for a month and channel."""
    spec = lm.CATALOG[request["id"]]
    result = lm.compute_metric(ctx.facts, spec.id, request["month"], request.get("channel"), ctx.settings)
    scope = f"{ses.month_label(request['month'])} · {request.get('channel') or 'all channels'}"
    rows = result.rows if result.rows is not None else pd.DataFrame()
    return DrillView(
        spec.label,
        format_value(result.value, spec.unit),
        scope,
        spec.definition,
        rows,
        spec.note,
        spec.requirement_text(),
    )


def funnel_drill(ctx: Context, request: dict) -> DrillView:
    """Leads behind one funnel step (cohort or period mode) for a month and channel."""
    built_funnel = funnel(ctx, request["mode"], request["month"], request.get("channel"))
    step = request["step"]
    rows = built_funnel.rows(step)
    scope = f"{ses.month_label(request['month'])} · {request.get('channel') or 'all channels'}"
    label = STEP_LABELS[step]
    return DrillView(
        f"{label} ({request['mode']} funnel)",
        f"{len(rows):,}",
        scope,
        funnel_step_definition(request["mode"], step, request["month"]),
        rows,
    )


@st.dialog("The rows behind the number", width="large")
def _drill_dialog(view: DrillView) -> None:
    left, right = st.columns([1, 2.4], gap="large")
    with left:
        st.metric(escape_markdown(view.title), view.value, border=True)  # titles may name a campaign
        st.caption(escape_markdown(view.scope))
        st.markdown(f"**Definition.** {escape_markdown(view.definition)}")
        if view.note:
            st.caption(escape_markdown(view.note))
        if view.needs:
            st.caption(f"Tables: {escape_markdown(view.needs)}")
    with right:
        n = len(view.rows)
        st.markdown(f"**{n:,} row{'s' if n != 1 else ''}**")
        table(view.rows, f"{view.title} {view.scope}", key="drill-rows", height=420)


# ---------------------------------------------------------------------------------------------- tables, charts


def effectiveness_drill(ctx: Context, request: dict) -> DrillView:
    """Records behind one bar of a source-effectiveness chart."""
    result = source_effectiveness(
        ctx.facts,
        request["month"],
        request.get("channel"),
        ctx.settings,
        by=request["by"],
        months=request["months"],
    )
    column = request["column"]
    kind = EFFECTIVENESS_KINDS.get(column, "lead")
    rows = effectiveness_rows(ctx.facts, result.members, request["group"], kind)
    label, unit = EFFECTIVENESS_COLUMNS[column]
    match = result.table[result.table["group"].eq(request["group"])]
    value = format_value(match[column].iloc[0] if len(match) else None, unit)
    window = WINDOWS[request["months"]]
    return DrillView(
        f"{label[0].upper()}{label[1:]}: {request['group']}",
        value,
        f"{request['by']} {request['group']} · {window} ending {ses.month_label(request['month'])}",
        f"The {'won new-business deals' if kind == 'deal' else kind + ' records'} of this {request['by']} in "
        f"{window} ending with the month; {label} is computed from them as on the Definitions page.",
        rows,
    )


def profile_drill(ctx: Context, request: dict) -> DrillView:
    """Leads behind one band of one cohort of the score profile."""
    profile = memo(
        ctx,
        ("profile", request["month"], request.get("channel")),
        lambda: cohort_score_profile(ctx.facts, request["month"], request.get("channel"), ctx.settings),
    )
    rows = profile_rows(ctx.facts, profile.members, request["cohort"], request.get("band"))
    return DrillView(
        f"Score {request.get('band')}: leads created in {ses.month_label(request['cohort'])}",
        f"{len(rows):,}",
        f"cohort {ses.month_label(request['cohort'])} · {request.get('channel') or 'all channels'}",
        "Leads created in the cohort month whose score at the end of that month falls in this band.",
        rows,
    )
