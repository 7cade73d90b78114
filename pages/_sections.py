"""Sections several pages share: trend charts, metrics by channel, source effectiveness, program tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from lifecycle import metrics as lm
from lifecycle.display import escape_markdown
from lifecycle.figures import figure_by_group, figure_trend
from lifecycle.metrics.effectiveness import SourceEffectiveness, source_effectiveness
from lifecycle.metrics.programs import program_steps
from lifecycle.metrics.trends import warnings_for_month
from lifecycle.views import EFFECTIVENESS_COLUMNS, PROGRAM_COLUMNS, PROGRAM_UNITS, metrics_by_channel
from pages._ui import (
    TREND_MONTHS,
    WINDOWS,
    Context,
    cards,
    chart,
    context,
    memo,
    metric_request,
    no_data,
    notes,
    series,
    shared,
    stage_header,
    table,
    unavailable,
    unit_columns,
)


def stage_page(stage: str) -> Context:
    """The top of a stage page: header, a stop when there is no data, and the stage's metric cards grouped
    into activity and outcome; returns the page's context."""
    ctx = context()
    stage_header(stage, ctx)
    if no_data(ctx):
        st.stop()
    activity_outcome(ctx, [m.id for m in lm.stage_metrics(stage)])
    return ctx


def trend_chart(ctx: Context, metric_id: str, key: str, length: int = TREND_MONTHS) -> None:
    """A metric's monthly bars up to the selected month (marked); a bar opens that month's rows."""
    spec = lm.CATALOG[metric_id]
    data = series(ctx, metric_id, length)
    if not data["available"].any():
        reasons = data["reason"].dropna()
        unavailable(reasons.iloc[-1] if len(reasons) else None, spec.label)
        return
    fig = figure_trend(data, f"{spec.label} by month", spec.unit, spec.stage, ctx.month)
    chart(fig, key, lambda point: metric_request(metric_id, str(point.get("customdata")), ctx.channel))


def activity_outcome(ctx: Context, ids: list[str], per_row: int = 4) -> None:
    """Cards of a stage split into what marketing did (activity) and what it produced (outcome)."""
    for kind, title in (
        ("activity", "Activity — what marketing did"),
        ("outcome", "Outcome — what it produced"),
    ):
        chosen = [m for m in ids if lm.CATALOG[m].kind == kind]
        if chosen:
            st.markdown(f"##### {title}")
            cards(ctx, chosen, per_row)


def by_channel(ctx: Context, ids: list[str], chart_id: str, stage: str) -> None:
    """Each metric per channel for the selected month: a bar chart of one (bars open their rows) and a table."""
    if not ctx.built.channels:
        st.info("The data names no channels.")
        return
    frame = shared(
        ctx,
        ("by-channel", tuple(ids), ctx.month),
        lambda: metrics_by_channel(ctx.facts, ids, ctx.month, ctx.built.channels, ctx.settings),
    )
    spec = lm.CATALOG[chart_id]
    if frame[spec.label].notna().any():
        fig = figure_by_group(frame, "channel", spec.label, f"{spec.label} by channel", spec.unit, stage)
        month = ctx.month
        chart(
            fig,
            f"{chart_id}-by-channel",
            lambda point: metric_request(chart_id, month, str(point.get("customdata"))),
        )
    table(
        frame,
        f"{stage} by channel {ctx.month}",
        key=f"{stage}-by-channel",
        column_config=unit_columns({lm.CATALOG[m].label: lm.CATALOG[m].unit for m in ids}),
    )
    if ctx.channel:
        st.caption("Every channel is shown here, whatever the channel picked in the sidebar.")


def effectiveness_result(ctx: Context, by: str, months: int) -> SourceEffectiveness:
    """Source effectiveness of the selection, memoized."""
    return memo(
        ctx,
        ("effectiveness", by, months, ctx.month, ctx.channel),
        lambda: source_effectiveness(ctx.facts, ctx.month, ctx.channel, ctx.settings, by=by, months=months),
    )


def effectiveness(
    ctx: Context, stage: str, columns: list[str], chart_column: str | None = None, default: str = "channel"
) -> None:
    """Source effectiveness per channel, source or campaign (pickers for the grouping and the window), with
    a bar chart of `chart_column` whose bars open the records behind them, and the table."""
    left, right = st.columns(2)
    by = (
        left.segmented_control(
            "Group by", ["channel", "source", "campaign"], default=default, key=f"{stage}-eff-by"
        )
        or default
    )
    months = (
        right.segmented_control(
            "Window", list(WINDOWS), default=1, format_func=WINDOWS.get, key=f"{stage}-eff-window"
        )
        or 1
    )
    result = effectiveness_result(ctx, by, months)
    if not result.available:
        unavailable(result.reason, "Source effectiveness")
        return
    notes(result.notes)
    frame = result.table[columns]
    if chart_column is not None and frame[chart_column].notna().any():
        label, unit = EFFECTIVENESS_COLUMNS[chart_column]
        fig = figure_by_group(
            frame.head(15), "group", chart_column, f"{label[0].upper()}{label[1:]} by {by}", unit, stage
        )
        request = {"kind": "effectiveness", "by": by, "months": months, "column": chart_column,
                   "month": ctx.month, "channel": ctx.channel}  # fmt: skip
        chart(fig, f"{stage}-eff-chart", lambda point: {**request, "group": str(point.get("customdata"))})
    shown = frame.rename(columns={c: EFFECTIVENESS_COLUMNS[c][0] for c in columns})
    table(
        shown,
        f"{stage} effectiveness by {by}",
        key=f"{stage}-effectiveness",
        column_config=unit_columns(
            {EFFECTIVENESS_COLUMNS[c][0]: EFFECTIVENESS_COLUMNS[c][1] for c in columns}
        ),
    )


def profile_request(ctx: Context) -> Callable[[dict], dict | None]:
    """Click handler of the score-profile chart: the leads of the clicked cohort and band."""

    def to_request(point: dict) -> dict | None:
        data = point.get("customdata")
        if not isinstance(data, list | tuple) or len(data) < 3:
            return None  # the median line: no band to open
        return {"kind": "profile", "cohort": str(data[0]), "band": str(data[2]), "month": ctx.month,
                "channel": ctx.channel}  # fmt: skip

    return to_request


def trend_pair(ctx: Context, left_metric: tuple[str, str], right_metric: tuple[str, str]) -> None:
    """Two trend charts side by side: each (metric id, widget key)."""
    left, right = st.columns(2)
    with left:
        trend_chart(ctx, *left_metric)
    with right:
        trend_chart(ctx, *right_metric)


def program_window(key: str) -> int:
    """The months picker of a program table: recipients who first got the step in the last 1, 3 or 12 months."""
    chosen = st.segmented_control(
        "Recipients who first got the step in", list(WINDOWS), default=3, format_func=WINDOWS.get, key=key
    )
    return chosen or 3


def programs(ctx: Context, audience: str, months: int, key: str) -> None:
    """Per automated program and step: reach, engagement, moving on, MQLs; stalling steps flagged."""
    result = memo(
        ctx,
        ("programs", audience, months, ctx.month, ctx.channel),
        lambda: program_steps(
            ctx.facts, ctx.month, ctx.channel, ctx.settings, audience=audience, months=months
        ),
    )
    if not result.available:
        unavailable(result.reason, "The program table")
        return
    steps = result.steps
    if steps.empty:
        st.info(
            f"No {audience} program email was first received in {WINDOWS[months]} ending with this month."
        )
        return
    flagged = steps[steps["flag"].astype("str").str.len() > 0]
    if len(flagged):
        # Named here as well as highlighted below: a long program table scrolls the flagged step out of view.
        lines = [
            escape_markdown(f"{program}, step {step}: {flag}")
            for program, step, flag in zip(flagged["program"], flagged["step"], flagged["flag"], strict=True)
        ]
        st.warning("  \n".join(lines), icon=":material/flag:")
    shown = steps[list(PROGRAM_COLUMNS)].rename(columns=PROGRAM_COLUMNS)
    table(
        shown, f"{audience} programs", key=key, highlight=steps["flag"].astype("str").str.len().gt(0).to_numpy(),
        column_config={**unit_columns(PROGRAM_UNITS), "flag": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    notes(result.notes)


def warnings(ctx: Context) -> pd.DataFrame:
    """Early warnings that fire in the selected month (see lifecycle.metrics.trends)."""
    return shared(
        ctx,
        ("warnings", ctx.month, ctx.channel),
        lambda: warnings_for_month(ctx.facts, ctx.month, ctx.channel, ctx.settings),
    )
