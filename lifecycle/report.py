"""The quarterly review as one self-contained HTML file: the quarter view, each stage's metrics and charts, the
funnel, the cohort score profiles, the early warnings and the definitions of what is shown.

Plotly.js is embedded once, inline, so the file opens without a network. Every text that comes from the data
(channel names above all) goes through ``html.escape``; figures carry only catalog labels and months, and
plotly writes its JSON with ``<`` and ``/`` escaped. Numbers are the engine's (via ``lifecycle.quarter``);
value cells carry ``data-metric`` / ``data-month`` / ``data-value`` so a test can read them back.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go

from lifecycle.display import format_delta, format_value, glossary
from lifecycle.downloads import neutralize_formulas
from lifecycle.figures import figure_funnel, figure_score_profile, figure_trend
from lifecycle.metrics import (
    CATALOG,
    DEFAULT_SETTINGS,
    KEY_METRICS,
    STAGE_COLORS,
    STAGE_LABELS,
    STAGE_QUESTIONS,
    STAGES,
    Facts,
    Settings,
    build_facts,
    default_month,
    months_in_data,
)
from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.metrics.trends import MIN_MOVE
from lifecycle.quarter import QuarterView, parse_quarter, quarter_funnel, quarter_label, quarter_view
from lifecycle.schema import TABLES
from lifecycle.workspace import Tables

REPORT_CHARTS: dict[str, tuple[str, ...]] = {
    "attract": ("attract.sessions", "attract.cost_per_visit"),
    "capture": ("capture.new_leads", "capture.cost_per_lead"),
    "nurture": ("nurture.mqls", "nurture.lead_to_mql_rate"),
    "convert": ("convert.new_customers", "convert.bookings"),
    "expand": ("expand.churn_rate", "expand.nps"),
}
"""The monthly charts each stage section shows (when the metric is available)."""
PROFILE_COHORTS = 12

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;margin:0;background:#fff}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;padding-top:8px;border-top:1px solid #e8eaed}
h3{font-size:16px;margin:20px 0 6px}p,li{line-height:1.45}.muted{color:#5f6368;font-size:14px}
.note{background:#fef7e0;border-left:4px solid #f9ab00;padding:8px 12px;margin:8px 0;font-size:14px}
.missing{background:#f1f3f4;border-left:4px solid #9aa0a6;padding:8px 12px;margin:8px 0;font-size:14px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin:12px 0}
.card{border:1px solid #e8eaed;border-radius:8px;padding:10px 12px;border-top:5px solid var(--c)}
.card .stage{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#5f6368}
.card .label{font-weight:600;margin:2px 0}.card .value{font-size:26px;font-weight:600}
.card .line{font-size:13px;margin-top:2px}
table{border-collapse:collapse;width:100%;font-size:14px;margin:6px 0 10px}
th,td{padding:5px 8px;border-bottom:1px solid #e8eaed;text-align:right;vertical-align:top}
th{background:#f8f9fa;font-weight:600}th:first-child,td:first-child,.text{text-align:left}.nowrap{white-space:nowrap}
.good{color:#137333}.bad{color:#c5221f}.flat{color:#5f6368}.warn{color:#b06000;font-weight:600}
.stagebar{height:6px;border-radius:3px;background:var(--c);margin-top:36px}
.stage h2{border-top:none;margin-top:6px}.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.tag{font-size:11px;color:#5f6368;border:1px solid #dadce0;border-radius:8px;padding:0 5px;margin-left:4px}
nav a{margin-right:12px;color:#1a73e8;text-decoration:none;font-size:14px}
@media print{.stage,.section{break-inside:avoid-page}nav{display:none}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _month(month: str) -> str:
    return f"{pd.Period(month, freq='M'):%b %Y}"


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


class _Figures:
    """Turns figures into HTML, embedding plotly.js with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure) -> str:
        self.count += 1
        return fig.to_html(
            full_html=False,
            include_plotlyjs="inline" if self.count == 1 else False,
            div_id=f"figure-{self.count}",
            config={"displaylogo": False, "responsive": True},
            default_width="100%",
        )


def _delta(now: object, before: object, unit: str, direction: str, currency: str, tag: str = "td") -> str:
    """The change as text, green when it goes the good way for the metric, red when it goes the bad way."""
    text = format_delta(_num(now), _num(before), unit, currency)
    if text is None:
        return f"<{tag} class='flat'>—</{tag}>"
    diff = (_num(now) or 0.0) - (_num(before) or 0.0)
    better = diff > 0 if direction == "up" else diff < 0
    css = "flat" if text == "no change" else "good" if better else "bad"
    return f"<{tag} class='{css}'>{_e(text)}</{tag}>"


def _value_cell(value: object, unit: str, currency: str, metric: str, month: str, extra: str = "") -> str:
    number = _num(value)
    data = "" if number is None else f" data-value='{number!r}'"
    shown = format_value(number, unit, currency)
    return f"<td data-metric='{_e(metric)}' data-month='{_e(month)}'{data}>{_e(shown)}{extra}</td>"


def _table(heads: list[str], rows: list[str], left: int = 1) -> str:
    """A table with plain-text headers (the first ``left`` columns left-aligned) around ready-made rows."""
    cells = "".join(
        f"<th class='text'>{_e(h)}</th>" if i < left else f"<th>{_e(h)}</th>" for i, h in enumerate(heads)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(anchor: str, title: str, body: str) -> str:
    return f"<section class='section' id='{anchor}'><h2>{_e(title)}</h2>{body}</section>"


def _boxes(css: str, texts: object) -> str:
    return "".join(f"<div class='{css}'>{_e(t)}</div>" for t in texts)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- sections


def _header(view: QuarterView, facts: Facts, generated: datetime) -> str:
    scope = "All channels" if view.channel is None else f"Channel: {view.channel}"
    months = months_in_data(facts)
    coverage = f"Data from {_month(months[0])} to {_month(months[-1])}; last complete month {_month(default_month(facts) or months[-1])}."
    shown = ", ".join(_month(m) for m in view.reported)
    present = [t for t in TABLES if t in facts.present]
    absent = [t for t in TABLES if t not in facts.present]
    tables = f"Tables loaded: {', '.join(present)}."
    if absent:
        tables += f" Not loaded: {', '.join(absent)}."
    links = "".join(f"<a href='#{s}'>{_e(STAGE_LABELS[s])}</a>" for s in STAGES)
    return (
        f"<h1>Lifecycle review · {_e(quarter_label(view.quarter))}</h1>"
        f"<p class='muted'>{_e(scope)} · months shown: {_e(shown)} · generated "
        f"{_e(generated.strftime('%Y-%m-%d %H:%M UTC'))}</p>"
        f"<p class='muted'>{_e(coverage)} {_e(tables)}</p>{_boxes('note', view.notes)}"
        f"<nav><a href='#glance'>At a glance</a><a href='#warnings'>Early warnings</a>{links}"
        "<a href='#funnel'>Funnel</a><a href='#profiles'>Score profiles</a><a href='#definitions'>Definitions</a></nav>"
    )


def _cards(view: QuarterView, currency: str) -> str:
    summary = view.summary.set_index("metric")
    cards = []
    last_year = quarter_label(parse_quarter(view.quarter) - 4)
    for stage in STAGES:
        row = summary.loc[KEY_METRICS[stage]]
        spec = CATALOG[KEY_METRICS[stage]]
        if not row["available"]:
            body = f"<div class='line muted'>Unavailable: {_e(row['reason'])}</div>"
        else:
            kind = "so far" if not view.complete else row["aggregation"]
            how = (spec.unit, spec.direction, currency, "span")
            body = (
                f"<div class='value'>{_e(format_value(_num(row['value']), spec.unit, currency))}</div>"
                f"<div class='line muted'>quarter {_e(kind)}</div>"
                f"<div class='line'>vs previous quarter: {_delta(row['value'], row['previous'], *how)}</div>"
                f"<div class='line'>vs {_e(last_year)}: {_delta(row['value'], row['last_year'], *how)}</div>"
            )
            if not view.complete:
                pace = _e(format_value(_num(row["pacing"]), spec.unit, currency))
                body += f"<div class='line'>pacing to {pace}, vs all of last quarter: "
                body += f"{_delta(row['pacing'], row['previous_quarter'], *how)}</div>"
            if row["warnings"]:
                body += f"<div class='line warn'>⚠ {int(row['warnings'])} early warning(s)</div>"
        cards.append(
            f"<div class='card' style='--c:{STAGE_COLORS[stage]}'><div class='stage'>{_e(STAGE_LABELS[stage])}"
            f"</div><div class='label'>{_e(spec.label)}</div>{body}</div>"
        )
    return _section("glance", "At a glance", f"<div class='cards'>{''.join(cards)}</div>")


def _warnings(view: QuarterView) -> str:
    rule = (
        "A metric is flagged when it moved the wrong way two months running (each move more than "
        f"{MIN_MOVE:.0%}), or sits worse than the median of its three previous months by more than the warning margin."
    )
    if view.warnings.empty:
        body = f"<p>No early warnings in {_e(quarter_label(view.quarter))}. <span class='muted'>{_e(rule)}</span></p>"
        return _section("warnings", "Early warnings", body)
    rows = [
        f"<tr><td>{_e(STAGE_LABELS.get(w.stage, w.stage))}</td><td class='text'>{_e(w.label)}</td>"
        f"<td class='text nowrap'>{_e(_month(w.month))}</td><td class='text'>{_e(w.rule)}</td>"
        f"<td class='text'>{_e(w.message)}</td></tr>"
        for w in view.warnings.itertuples()  # a handful of flagged rows: formatting, not data work
    ]
    table = _table(["Stage", "Metric", "Month", "Rule", "Why it fired"], rows, left=5)
    return _section("warnings", "Early warnings", f"<p class='muted'>{_e(rule)}</p>{table}")


def _stage(view: QuarterView, stage: str, figures: _Figures, currency: str) -> str:
    summary = view.summary[view.summary["stage"].eq(stage)]
    monthly = view.monthly.set_index(["metric", "month"])
    previous_year = quarter_label(parse_quarter(view.quarter) - 4)
    rows, missing = [], {}
    for row in summary.itertuples():  # one row per metric of the stage
        if not row.available:
            missing.setdefault(row.reason, []).append(row.label)
            continue
        cells = []
        for m in view.months:
            point = monthly.loc[(row.metric, m)]
            cells.append(
                _value_cell(point["value"], row.unit, currency, row.metric, m)
                if point["reported"]
                else "<td class='flat'>not yet</td>"
            )
        tag = f"<span class='tag'>{_e(row.aggregation)}</span>"
        warn = " <span class='warn' title='early warning'>⚠</span>" if row.warnings else ""
        pacing = "" if view.complete else _value_cell(row.pacing, row.unit, currency, row.metric, "pacing")
        rows.append(
            f"<tr><td>{_e(row.label)}{warn}</td>{''.join(cells)}"
            f"{_value_cell(row.value, row.unit, currency, row.metric, 'quarter', tag)}"
            f"{_delta(row.value, row.previous, row.unit, row.direction, currency)}"
            f"{_delta(row.value, row.last_year, row.unit, row.direction, currency)}{pacing}</tr>"
        )
    so_far = "" if view.complete else " (same point)"
    heads = ["Metric", *map(_month, view.months), "Quarter", f"vs previous quarter{so_far}",
             f"vs {previous_year}{so_far}", *([] if view.complete else ["Pacing to"])]  # fmt: skip
    table = _table(heads, rows) if rows else ""
    gaps = _boxes(
        "missing", (f"Not available: {', '.join(names)} — {reason}." for reason, names in missing.items())
    )
    charts = [_trend_chart(view, m, figures, currency) for m in REPORT_CHARTS[stage]]
    chart_html = "".join(f"<div>{c}</div>" for c in charts if c)
    return (
        f"<section class='stage' id='{stage}' style='--c:{STAGE_COLORS[stage]}'><div class='stagebar'></div>"
        f"<h2>{_e(STAGE_LABELS[stage])}</h2><p class='muted'>{_e(STAGE_QUESTIONS[stage])}</p>{table}{gaps}"
        f"<div class='charts'>{chart_html}</div></section>"
    )


def _trend_chart(view: QuarterView, metric_id: str, figures: _Figures, currency: str) -> str:
    spec = CATALOG[metric_id]
    series = view.history[view.history["metric"].eq(metric_id)]
    if series.empty or not series["available"].any() or series["value"].isna().all():
        return ""
    fig = figure_trend(
        series[["month", "value"]], f"{spec.label} by month", spec.unit, spec.stage, None, currency
    )
    if fig.data:
        # The quarter's bars in full colour, the year before it faded: the eye finds the quarter first.
        months = list(fig.data[0].customdata)
        fig.data[0].marker.opacity = [1.0 if m in view.reported else 0.45 for m in months]
    start = pd.Period(view.reported[0], freq="M").start_time - pd.Timedelta(days=16)
    end = pd.Period(view.reported[-1], freq="M").start_time + pd.Timedelta(days=16)
    fig.add_vrect(x0=start, x1=end, fillcolor="#9AA0A6", opacity=0.12, line_width=0, layer="below")
    return figures.html(fig)


def _funnel(facts: Facts, view: QuarterView, settings: Settings, figures: _Figures) -> str:
    label = quarter_label(view.quarter)
    cohort = quarter_funnel(facts, view.reported, view.channel, settings, mode="cohort")
    if not cohort.available:
        return _section(
            "funnel", "Funnel", _boxes("missing", [f"The funnel is not available: {cohort.reason}."])
        )
    period = quarter_funnel(facts, view.reported, view.channel, settings, mode="period")
    charts = (
        f"<div>{figures.html(figure_funnel(cohort.steps, f'Cohort: leads created in {label}, stages reached to date'))}</div>"
        f"<div>{figures.html(figure_funnel(period.steps, f'Period: entered each stage in {label}'))}</div>"
    )
    by_channel = "" if view.channel is not None else _funnel_by_channel(facts, view, settings)
    return _section(
        "funnel", "Funnel", f"<div class='charts'>{charts}</div>{_boxes('note', cohort.notes)}{by_channel}"
    )


def _funnel_by_channel(facts: Facts, view: QuarterView, settings: Settings) -> str:
    steps = quarter_funnel(facts, view.reported, None, settings, mode="cohort", by="channel").steps
    wide = steps.pivot(index="group", columns="step", values="count")
    order = list(dict.fromkeys(steps["group"]))
    step_order = list(dict.fromkeys(steps["step"]))
    labels = dict(zip(steps["step"], steps["label"], strict=False))
    wide = wide.reindex(order)[step_order]
    rows = []
    for channel, counts in wide.iterrows():  # one row per channel
        leads = counts.iloc[0]
        share = "—" if not leads else f"{counts.iloc[-1] / leads:.1%}"
        cells = "".join(f"<td>{int(v):,}</td>" for v in counts)
        rows.append(f"<tr><td class='text'>{_e(channel)}</td>{cells}<td>{_e(share)}</td></tr>")
    return (
        f"<h3>Cohort by channel</h3><p class='muted'>Leads created in {_e(quarter_label(view.quarter))} by "
        "channel and the stages they reached to date.</p>"
        + _table(["Channel", *(labels[s] for s in step_order), f"{labels[step_order[-1]]} ÷ leads"], rows)
    )


def _profiles(facts: Facts, view: QuarterView, settings: Settings, figures: _Figures) -> str:
    title = "Cohort score profiles"
    profiles = cohort_score_profile(facts, view.reported[-1], view.channel, settings, cohorts=PROFILE_COHORTS)
    if not profiles.available:
        return _section(
            "profiles", title, _boxes("missing", [f"Score profiles are not available: {profiles.reason}."])
        )
    chart_title = f"Month-end score of each month's new leads ({PROFILE_COHORTS} cohorts)"
    chart = figures.html(
        figure_score_profile(profiles.bands, profiles.summary, chart_title, None, settings.mql_threshold)
    )
    rows = [
        f"<tr><td class='text'>{_e(_month(r.cohort))}</td><td>{int(r.n):,}</td><td>{_e(format_value(_num(r.median), 'score'))}</td>"
        f"<td>{_e(format_value(_num(r.share_mql), 'rate'))}</td></tr>"
        for r in profiles.summary[profiles.summary["cohort"].isin(view.reported)].itertuples()
    ]
    threshold = format_value(settings.mql_threshold, "score")
    table = _table(["Cohort", "Leads", "Median score", f"Share at or above {threshold}"], rows)
    intro = (
        "Is lead quality rising? Each bar is one month's new leads by their score at the end of that month."
    )
    return _section(
        "profiles", title, f"<p class='muted'>{intro}</p>{chart}{_boxes('note', profiles.notes)}{table}"
    )


def _definitions(view: QuarterView, settings: Settings) -> str:
    rows = [
        f"<tr><td class='text'>{_e(STAGE_LABELS[CATALOG[m].stage])}</td><td class='text'>{_e(CATALOG[m].label)}</td>"
        f"<td class='text'>{_e(CATALOG[m].definition)}{(' ' + _e(CATALOG[m].note)) if CATALOG[m].note else ''}</td>"
        f"<td class='text'>{_e(agg)}</td></tr>"
        for m, agg in view.summary.loc[view.summary["available"], ["metric", "aggregation"]].itertuples(
            index=False
        )
    ]
    general = [
        "Quarter: counts and amounts are the total of the quarter's months; rates, days, scores, NPS, cost-per "
        "ratios and active customers are the average of the monthly values.",
        "vs previous quarter / same quarter last year: the change against the same months of that quarter "
        "(the first months only while the quarter is running). Rates change in percentage points (pp).",
        "Pacing: where a running quarter lands at the current rate — the total so far ÷ months elapsed × 3 for "
        "counts and amounts, the average so far for the others.",
        f"Early warning: the metric moved the wrong way in each of the last two months by more than {MIN_MOVE:.0%}, "
        f"or is worse than the median of its three previous months by more than {settings.warning_margin:.0%}.",
        "Funnel, cohort mode: leads created in the quarter and the stages they reached to date (a later stage "
        "counts for the earlier ones); period mode: leads entering each stage in the quarter.",
        f"Cohort score profile: the leads created in a month, by their score at the end of that month; the MQL "
        f"threshold is {format_value(settings.mql_threshold, 'score')}.",
    ]
    items = "".join(f"<li>{_e(g)}</li>" for g in general)
    table = _table(["Stage", "Metric", "Definition", "Quarter"], rows, left=4)
    return _section("definitions", "Definitions", f"<ul>{items}</ul>{table}")


def build_report_html(
    data: Tables | Facts,
    quarter: str,
    channel: str | None = None,
    settings: Settings | None = None,
    *,
    currency: str = "$",
    generated: datetime | None = None,
) -> str:
    """The quarterly review of ``quarter`` ("YYYY-Qn") as one self-contained HTML page (plotly.js inline, no
    network needed); ValueError when the quarter or the channel is not in the data."""
    settings = settings or DEFAULT_SETTINGS
    facts = build_facts(data)
    if channel is not None and channel not in facts.channels:
        known = ", ".join(facts.channels) or "none"
        raise ValueError(f"channel {channel!r} does not occur in the data; channels: {known}")
    view = quarter_view(facts, quarter, channel, settings)
    if not view.available:
        raise ValueError(view.reason)
    figures = _Figures()
    body = (
        _header(view, facts, generated or datetime.now(UTC))
        + _cards(view, currency)
        + _warnings(view)
        + "".join(_stage(view, stage, figures, currency) for stage in STAGES)
        + _funnel(facts, view, settings, figures)
        + _profiles(facts, view, settings, figures)
        + _definitions(view, settings)
    )
    title = f"Lifecycle review {quarter_label(view.quarter)}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>{body}</main></body></html>"
    )


def build_report_xlsx(
    data: Tables | Facts, quarter: str, channel: str | None = None, settings: Settings | None = None
) -> bytes:
    """The numbers behind the report as an Excel workbook: the quarter per metric, every metric per month of
    the quarter and the year before it, the early warnings and the definitions (rates as fractions)."""
    facts = build_facts(data)
    view = quarter_view(facts, quarter, channel, settings or DEFAULT_SETTINGS)
    if not view.available:
        raise ValueError(view.reason)
    labels = {m: CATALOG[m].label for m in CATALOG}
    summary = view.summary.assign(stage=view.summary["stage"].map(STAGE_LABELS)).rename(
        columns={"metric": "id"}
    )
    summary.insert(1, "metric", summary["id"].map(labels))
    monthly = view.history.pivot(index="metric", columns="month", values="value").reindex(summary["id"])
    monthly = monthly.rename_axis(index="id", columns=None).reset_index()
    monthly.insert(0, "metric", monthly["id"].map(labels))
    monthly.insert(2, "unit", monthly["id"].map({m: CATALOG[m].unit for m in CATALOG}))
    sheets = {
        "Quarter": summary.drop(columns=["label", "kind", "direction", "key"]),
        "Monthly": monthly,
        "Warnings": view.warnings,
        "Definitions": glossary(),
    }
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            neutralize_formulas(frame).to_excel(writer, sheet_name=name, index=False)
            writer.sheets[name].freeze_panes = "B2"
        # Rates stay fractions (as in the CLI's JSON) and show as percentages.
        rows = writer.sheets["Monthly"].iter_rows(min_row=2, min_col=4)
        for row, unit in zip(rows, monthly["unit"], strict=False):
            for cell in row if unit == "rate" else ():
                cell.number_format = "0.0%"
    return buffer.getvalue()
