"""Plotly figure builders: tidy frames in, titled figures out, one colour per lifecycle stage everywhere.

Every builder returns a `plotly.graph_objects.Figure` with a title, axis formats that match the unit (rates
as %, money with the currency symbol, NPS on −100…100) and `customdata` on the marks a user can click, so the
app can show the rows behind a bar (drill-through).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from lifecycle.metrics.catalog import STAGE_COLORS

DEFAULT_CURRENCY = "$"
FONT = "Source Sans Pro, sans-serif"
MUTED = "#9AA0A6"
MONTH_TICKS = "%b\n%Y"
GRID = "#E8EAED"

STEP_STAGES: dict[str, str] = {
    "lead": "capture",
    "mql": "nurture",
    "sql": "convert",
    "opportunity": "convert",
    "customer": "convert",
}
"""The lifecycle stage each funnel step belongs to (its bar takes that stage's colour)."""


def axis_format(unit: str, currency: str = DEFAULT_CURRENCY, top: float | None = None) -> dict:
    """Plotly axis settings for a metric unit: % for rates, currency prefix for money, plain counts; `top`
    (the largest value shown) adds decimals where whole numbers would repeat the same tick label."""
    small = top is not None and abs(top) < 10
    if unit == "rate":
        return {"tickformat": ".1%" if top is not None and abs(top) < 0.1 else ".0%"}
    if unit == "currency":
        return {"tickformat": ",.2f" if small else ",.0f", "tickprefix": currency}
    if unit == "days":
        return {"tickformat": ",.0f", "ticksuffix": " d"}
    if unit == "nps":
        return {"tickformat": "+,.0f", "range": [-100, 100]}
    return {"tickformat": ",.1f" if small and unit == "score" else ",.0f"}


def hover_format(unit: str, currency: str = DEFAULT_CURRENCY) -> str:
    """A hover-template number format for a unit (e.g. `%{y:.1%}`), without the field name."""
    return {
        "rate": ":.1%",
        "currency": ":,.0f",
        "days": ":,.1f",
        "nps": ":+.0f",
        "score": ":,.1f",
    }.get(unit, ":,.0f")


def plain_labels(values: pd.Series) -> pd.Series:
    """Text from the uploads as plotly shows it literally: plotly reads `<b>`, `<a href>` and entities in
    labels, so `&`, `<` and `>` are written as entities."""
    text = values.astype("str")
    return (
        text.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
    )


def _top(values: pd.Series) -> float | None:
    clean = values.astype("float64").dropna()
    return float(clean.abs().max()) if len(clean) else None


def _prefix(unit: str, currency: str) -> str:
    return currency if unit == "currency" else ""


def _suffix(unit: str) -> str:
    return " days" if unit == "days" else ""


def _layout_properties(title: str, *, height: int, legend: bool) -> dict:
    """The layout every figure shares (the title top left, the font, the margins, the legend above the plot)."""
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yref": "container", "yanchor": "top",
                  "font": {"size": 16}},
        "height": height,
        # A legend sits between the title and the plot, so it needs the taller top margin.
        "margin": {"l": 10, "r": 10, "t": 86 if legend else 48, "b": 10},
        "font": {"family": FONT},
        "plot_bgcolor": "white",
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "hoverlabel": {"font": {"family": FONT}},
    }  # fmt: skip


X_AXES = {"showgrid": False, "linecolor": GRID, "automargin": True}
Y_AXES = {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True}
"""How every figure's axes look (`_layout`)."""


def _layout(fig: go.Figure, title: str, *, height: int = 340, legend: bool = False) -> go.Figure:
    fig.update_layout(**_layout_properties(title, height=height, legend=legend))
    fig.update_xaxes(**X_AXES)
    fig.update_yaxes(**Y_AXES)
    return fig


def _month_dates(months: pd.Series) -> pd.Series:
    return pd.PeriodIndex(months.astype("str"), freq="M").to_timestamp().to_series(index=months.index)


def figure_trend(
    series: pd.DataFrame,
    title: str,
    unit: str,
    stage: str,
    selected: str | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """Monthly bars of one metric (`series`: month "YYYY-MM", value), the selected month in full colour.

    Built from plain properties without plotly checking each one as it is set: its checks took 11 of the 13 ms
    a chart took to build, and every page shows several (the quarter's report ten). The tests build the same
    figure with the checks (`go.Figure(fig.to_dict())`)."""
    frame = series.dropna(subset=["value"])
    color = STAGE_COLORS[stage]
    months = frame["month"].astype("str")
    bars = {
        "type": "bar",
        "x": _month_dates(months).to_numpy(),
        "y": frame["value"].astype("float64").to_numpy(),
        "marker": {
            "color": color,
            "opacity": [1.0 if m == selected or selected is None else 0.5 for m in months],
        },
        "customdata": months.to_numpy(dtype=object),
        "hovertemplate": f"%{{x|%b %Y}}: {_prefix(unit, currency)}%{{y{hover_format(unit)}}}{_suffix(unit)}"
        "<extra></extra>",
        "name": title,
    }
    marks = []
    if selected is not None and selected in set(months):
        marks.append(
            {"x": pd.Period(selected, freq="M").to_timestamp(), "y": 1, "yref": "paper", "text": "selected",
             "showarrow": False, "yanchor": "bottom", "font": {"size": 11, "color": color}}
        )  # fmt: skip
    layout = {
        **_layout_properties(title, height=300, legend=False),
        # Two-line month labels never need rotating (rotated labels get clipped in a half-width chart).
        "xaxis": {
            "tickformat": MONTH_TICKS,
            "tickangle": 0,
            "dtick": "M3" if len(frame) > 8 else "M1",
            **X_AXES,
        },
        "yaxis": {**axis_format(unit, currency, _top(frame["value"])), **Y_AXES},
        **({"annotations": marks} if marks else {}),
    }
    return go.Figure(data=[bars], layout=layout, _validate=False)


def figure_funnel(steps: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal funnel bars (`steps`: step, label, count, pct_of_first, pct_of_previous, median_days),
    each bar in its stage's colour and labelled with its count, % of first, % of previous and days."""
    frame = steps.reset_index(drop=True)
    colors = [STAGE_COLORS[STEP_STAGES.get(str(s), "convert")] for s in frame["step"]]
    texts = []
    for i, row in frame.iterrows():  # a handful of steps: labels, not data
        parts = [f"{int(row['count']):,}"]
        if i > 0:
            parts.append(f"{_pct(row['pct_of_first'])} of first")
            parts.append(f"{_pct(row['pct_of_previous'])} of previous")
            days = row.get("median_days")
            if days is not None and not _isnan(days):
                parts.append(f"median {days:,.0f} d after previous")
        texts.append(" · ".join(parts))
    fig = go.Figure(
        go.Bar(
            y=frame["label"],
            x=frame["count"],
            orientation="h",
            marker={"color": colors},
            text=texts,
            textposition="outside",
            cliponaxis=False,
            customdata=frame["step"],
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    top = float(frame["count"].max()) if len(frame) else 1.0
    # Room on the right for the outside labels of the longest bar.
    fig.update_xaxes(range=[0, max(top, 1.0) * 1.9], tickformat=",.0f", showgrid=True, gridcolor=GRID)
    fig.update_yaxes(autorange="reversed", gridcolor="rgba(0,0,0,0)")
    return _layout(fig, title, height=70 + 52 * max(len(frame), 1))


def _pct(value: float) -> str:
    return "–" if value is None or _isnan(value) else f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def _isnan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _shades(color: str, n: int) -> list[str]:
    """`n` shades of `color` from a light tint to a dark shade (ordered bands: light = low, dark = high)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        if t <= 0.6:  # white → the colour
            k = 0.15 + 0.85 * t / 0.6
            rgb = (255 - (255 - r) * k, 255 - (255 - g) * k, 255 - (255 - b) * k)
        else:  # the colour → a dark shade of it
            k = 1 - 0.55 * (t - 0.6) / 0.4
            rgb = (r * k, g * k, b * k)
        out.append("rgb({},{},{})".format(*(round(c) for c in rgb)))
    return out


def figure_score_profile(
    bands: pd.DataFrame,
    summary: pd.DataFrame,
    title: str,
    selected: str | None = None,
    threshold: float | None = None,
) -> go.Figure:
    """One stacked bar per cohort month (`bands`: cohort, band, count, share) of month-end score bands,
    with the cohort median score (`summary`: cohort, median) as a line on the right axis, which runs to just
    above the MQL `threshold` so the line reads against the band edges."""
    labels = (
        list(bands["band"].cat.categories)
        if hasattr(bands["band"], "cat")
        else list(dict.fromkeys(bands["band"]))
    )
    colors = _shades(STAGE_COLORS["nurture"], len(labels))
    fig = go.Figure()
    for label, color in zip(labels, colors, strict=True):
        part = bands[bands["band"].astype("str") == str(label)]
        fig.add_trace(
            go.Bar(
                x=_month_dates(part["cohort"]),
                y=part["share"].astype("float64"),
                name=str(label),
                marker={"color": color, "line": {"width": 0}},
                customdata=part[["cohort", "count"]].assign(band=str(label)).to_numpy(),
                hovertemplate=f"%{{x|%b %Y}} · score {label}: %{{y:.0%}} (%{{customdata[1]:,}} leads)<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=_month_dates(summary["cohort"]),
            y=summary["median"].astype("float64"),
            name="median score",
            mode="lines+markers",
            line={"color": "#333333", "width": 2},
            yaxis="y2",
            hovertemplate="%{x|%b %Y} · median score %{y:,.0f}<extra></extra>",
        )
    )
    if selected is not None and selected in set(summary["cohort"].astype("str")):
        at = pd.Period(selected, freq="M").to_timestamp()
        fig.add_vline(x=at, line={"color": "#333333", "width": 1, "dash": "dot"})
    fig.update_layout(
        barmode="stack",
        bargap=0.15,
        yaxis={"tickformat": ".0%", "range": [0, 1], "title": {"text": "share of cohort"}},
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "title": {"text": "median score"},
                "range": [min(0.0, _low(summary["median"])), _score_top(summary["median"], threshold)],
                "tickformat": ",.0f"},
        legend_title_text="month-end score",
    )  # fmt: skip
    fig.update_xaxes(tickformat=MONTH_TICKS, tickangle=0, dtick="M3")
    return _layout(fig, title, height=380, legend=True)


def _low(values: pd.Series) -> float:
    clean = values.astype("float64").dropna()
    return float(clean.min()) * 1.1 if len(clean) else 0.0


def _score_top(medians: pd.Series, threshold: float | None) -> float:
    clean = medians.astype("float64").dropna()
    top = float(clean.max()) if len(clean) else 0.0
    return max(top * 1.1, (threshold or 0.0) * 1.25, 1.0)


def figure_by_group(
    frame: pd.DataFrame,
    group: str,
    value: str,
    title: str,
    unit: str,
    stage: str,
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """Horizontal bars of `value` per `group` (e.g. leads per channel), largest first, in the stage colour."""
    data = frame[[group, value]].dropna(subset=[value]).sort_values(value, ascending=False)
    fig = go.Figure(
        go.Bar(
            y=plain_labels(data[group]),
            x=data[value].astype("float64"),
            orientation="h",
            marker={"color": STAGE_COLORS[stage]},
            customdata=data[group].astype("str"),
            hovertemplate=f"%{{y}}: {_prefix(unit, currency)}%{{x{hover_format(unit)}}}{_suffix(unit)}<extra></extra>",
        )
    )
    fig.update_xaxes(**axis_format(unit, currency, _top(data[value])), showgrid=True, gridcolor=GRID)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=90 + 28 * max(len(data), 1))


def figure_retention(cohorts: pd.DataFrame, title: str) -> go.Figure:
    """Heatmap of the share of each start-month cohort still active after k months (`cohorts`: cohort, k,
    share), in the expand colour; cells not yet observed stay blank."""
    grid = cohorts.pivot(index="cohort", columns="k", values="share").sort_index()
    color = STAGE_COLORS["expand"]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype="float64"),
            x=[str(c) for c in grid.columns],
            y=[str(i) for i in grid.index],
            colorscale=[[0.0, "#FFFFFF"], [1.0, color]],
            zmin=0,
            zmax=1,
            colorbar={"tickformat": ".0%", "title": {"text": "active"}},
            hovertemplate="cohort %{y} · month %{x}: %{z:.0%} active<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_xaxes(title_text="months since start", type="category")
    fig.update_yaxes(title_text="start month", autorange="reversed", type="category")
    return _layout(fig, title, height=max(320, 60 + 18 * len(grid)))


def figure_reference_band(
    series: pd.DataFrame,
    title: str,
    unit: str,
    stage: str,
    band: tuple[float, float],
    band_label: str,
    selected: str | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """Monthly bars of a metric (`series`: month, value) over a shaded reference band (e.g. upsell share
    10–30 % for a young company)."""
    fig = figure_trend(series, title, unit, stage, selected, currency)
    low, high = band
    fig.add_hrect(y0=low, y1=high, fillcolor=MUTED, opacity=0.18, line_width=0, layer="below")
    fig.add_annotation(
        xref="paper", x=0, y=high, yanchor="bottom", xanchor="left", text=band_label, showarrow=False,
        font={"size": 11, "color": "#5F6368"}, bgcolor="rgba(255,255,255,0.8)",
    )  # fmt: skip
    return fig
