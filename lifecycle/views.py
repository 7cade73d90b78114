"""Tables the pages show that combine several engine calls: metrics by channel, quarter pacing, warnings,
the quarter view.

Each function calls `lifecycle.metrics` (one definition per number) and shapes the result for display, so the
pages only render.
"""

from __future__ import annotations

import pandas as pd

from lifecycle.display import DEFAULT_CURRENCY, MISSING, NO_CHANGE, Card, format_delta, format_value
from lifecycle.metrics import CATALOG, STAGE_LABELS, Facts, Settings, compute_metric
from lifecycle.metrics.trends import metric_trend
from lifecycle.quarter import QuarterView, parse_quarter
from lifecycle.quarter import quarter_label as quarter_label_of

PACING_COLUMNS = ("stage", "metric", "quarter to date", "last quarter, same point", "change", "pacing to",
                  "last quarter")  # fmt: skip


def metrics_by_channel(
    facts: Facts, metric_ids: list[str], month: str, channels: list[str], settings: Settings
) -> pd.DataFrame:
    """One row per channel, one column per metric (its catalog label): each metric for that channel alone."""
    rows = []
    for channel in channels:
        row: dict[str, object] = {"channel": channel}
        for metric_id in metric_ids:
            result = compute_metric(facts, metric_id, month, channel, settings)
            row[CATALOG[metric_id].label] = result.value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["channel", *(CATALOG[m].label for m in metric_ids)])
    for metric_id in metric_ids:
        frame[CATALOG[metric_id].label] = pd.to_numeric(
            frame[CATALOG[metric_id].label], errors="coerce"
        ).astype("float64")
    return frame


def pacing_table(
    facts: Facts,
    metric_ids: list[str],
    months: list[str],
    month: str,
    channel: str | None,
    settings: Settings,
) -> pd.DataFrame:
    """Quarter to date of each metric against the previous quarter at the same point, and where the quarter
    lands at the current pace (text cells: each metric keeps its own unit)."""
    previous_quarter = pd.Period(month, freq="M").asfreq("Q").asfreq("M", "start") - 3
    upto = [m for m in months if str(previous_quarter) <= m <= month]  # what the quarter columns read
    rows = []
    for metric_id in metric_ids:
        spec = CATALOG[metric_id]
        trend = metric_trend(facts, metric_id, upto, channel, settings)
        now = trend[trend["month"].eq(month)]
        if now.empty:
            continue
        row = now.iloc[0]
        rows.append(
            {
                "stage": STAGE_LABELS[spec.stage],
                "metric": spec.label,
                "quarter to date": format_value(_value(row["qtd"]), spec.unit),
                "last quarter, same point": format_value(_value(row["previous_qtd"]), spec.unit),
                "change": format_delta(_value(row["qtd"]), _value(row["previous_qtd"]), spec.unit) or "—",
                "pacing to": format_value(_value(row["pacing"]), spec.unit),
                "last quarter": format_value(_value(row["previous_quarter"]), spec.unit),
            }
        )
    return pd.DataFrame(rows, columns=list(PACING_COLUMNS))


def quarter_label(month: str) -> str:
    """'2026-08' → 'Q3 2026, month 2 of 3'."""
    period = pd.Period(month, freq="M")
    return f"Q{period.quarter} {period.year}, month {(period.month - 1) % 3 + 1} of 3"


def _value(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- effectiveness

EFFECTIVENESS_COLUMNS: dict[str, tuple[str, str]] = {
    "group": ("group", "text"),
    "leads": ("leads", "count"),
    "mqls": ("MQLs", "count"),
    "sqls": ("SQLs", "count"),
    "customers": ("new customers", "count"),
    "lead_to_customer": ("lead → customer", "rate"),
    "spend": ("spend", "currency"),
    "cost_per_lead": ("cost per lead", "currency"),
    "cost_per_mql": ("cost per MQL", "currency"),
    "cost_per_sql": ("cost per SQL", "currency"),
    "cost_per_customer": ("cost per customer", "currency"),
    "bookings": ("new bookings", "currency"),
    "spend_12m": ("spend, 12 months", "currency"),
    "bookings_12m": ("new bookings, 12 months", "currency"),
    "roi_12m": ("ROI, 12 months", "rate"),
}
"""Display label and unit of each source-effectiveness column."""

EFFECTIVENESS_KINDS: dict[str, str] = {
    "leads": "lead", "mqls": "mql", "sqls": "sql", "customers": "customer", "bookings": "deal",
    "bookings_12m": "deal", "roi_12m": "deal",
}  # fmt: skip
"""Which records stand behind a column (the won deals stand behind bookings and ROI)."""


def effectiveness_rows(facts: Facts, members: pd.DataFrame, group: str, kind: str) -> pd.DataFrame:
    """The records behind one source-effectiveness cell: the ids of `kind` in `group`, with their details
    (lead facts for leads, MQLs and SQLs; customer or deal facts otherwise)."""
    ids = members.loc[members["group"].eq(group).to_numpy() & members["kind"].eq(kind).to_numpy(), "id"]
    source, key = {"customer": (facts.customers, "customer_id"), "deal": (facts.deals, "deal_id")}.get(
        kind, (facts.leads, "lead_id")
    )
    if source is None:
        return pd.DataFrame({key: ids.to_numpy()})
    return source[source[key].isin(ids).to_numpy()].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- nurture, expand

PROFILE_COLUMNS = {"cohort": "cohort", "n": "leads", "n_scored": "scored", "median": "median", "mean": "mean",
                   "p25": "p25", "p75": "p75", "share_mql": "share ≥ MQL threshold"}  # fmt: skip
DRIVER_COLUMNS = {"reason": "reason", "changes": "changes", "points": "points", "leads_touched": "leads touched",
                  "mql_rate_touched": "MQL rate, touched", "mql_rate_untouched": "MQL rate, untouched",
                  "lift": "lift", "effect": "effect"}  # fmt: skip
PROGRAM_COLUMNS = {"program": "program", "order": "#", "step": "step", "recipients": "recipients",
                   "open_rate": "open rate", "ctr": "click rate", "unsubscribe_rate": "unsubscribe rate",
                   "move_on_share": "moved on", "mql_90d_share": "MQL within 90 days", "flag": "flag"}  # fmt: skip
PROGRAM_UNITS = {"open rate": "rate", "click rate": "rate", "unsubscribe rate": "rate", "moved on": "rate",
                 "MQL within 90 days": "rate", "recipients": "count"}  # fmt: skip
IMPACT_UNITS = {"leads": "count", "sql_rate": "rate", "opportunity_rate": "rate", "win_rate": "rate",
                "avg_won_amount": "currency", "median_days_to_close": "days"}  # fmt: skip
IMPACT_COLUMNS = ("measure", "nurtured", "not nurtured", "lift", "industry figure", "reference")


def impact_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Nurture impact for display: each measure's values in its own unit (text), lift and the quoted figure."""
    rows = []
    for _, row in comparison.iterrows():  # six measures: formatting, not data processing
        unit = IMPACT_UNITS.get(str(row["measure"]), "count")
        rows.append(
            {
                "measure": row["label"],
                "nurtured": format_value(_value(row["nurtured"]), unit),
                "not nurtured": format_value(_value(row["not_nurtured"]), unit),
                "lift": _value(row["lift"]),
                "industry figure": _value(row["reference_lift"]),
                "reference": ""
                if pd.isna(row["reference"]) or row["reference"] == "nan"
                else str(row["reference"]),
            }
        )
    return pd.DataFrame(rows, columns=list(IMPACT_COLUMNS))


def profile_rows(facts: Facts, members: pd.DataFrame, cohort: str, band: str | None) -> pd.DataFrame:
    """The leads of one score-profile cohort (and band) with their month-end score and lead facts."""
    pick = members["cohort"].eq(cohort).to_numpy()
    if band is not None:
        pick &= members["band"].astype("str").eq(band).to_numpy()
    chosen = members[pick][["lead_id", "score", "band"]].rename(columns={"score": "month-end score"})
    if facts.leads is None:
        return chosen.reset_index(drop=True)
    return chosen.merge(facts.leads, on="lead_id", how="left").reset_index(drop=True)


FUNNEL_COLUMNS = {"group": "group", "label": "step", "count": "leads", "pct_of_first": "% of first",
                  "pct_of_previous": "% of previous", "median_days": "median days", "p90_days": "p90 days"}  # fmt: skip
FUNNEL_UNITS = {"% of first": "rate", "% of previous": "rate", "median days": "days", "p90 days": "days",
                "leads": "count"}  # fmt: skip


# ---------------------------------------------------------------------------------------------- quarter view

QUARTER_WARNING_COLUMNS = ("stage", "metric", "month", "rule", "why it fired")


def quarter_table(view: QuarterView, metric_ids: list[str], currency: str = DEFAULT_CURRENCY) -> pd.DataFrame:
    """One row per metric of a quarter view (text cells: each metric keeps its unit): its value in each month
    of the quarter, the quarter (total or average, to date while it runs) against the previous quarter and
    the same quarter last year at the same point, where it is pacing to, and its early warnings."""
    summary = view.summary.set_index("metric")
    monthly = view.monthly.set_index(["metric", "month"])
    year_ago = quarter_label_of(parse_quarter(view.quarter) - 4)
    names = {m: f"{pd.Period(m, freq='M'):%b %Y}" for m in view.months}
    previous_name = "previous quarter" if view.complete else "prev. quarter, same point"
    rows = []
    for metric_id in metric_ids:
        if metric_id not in summary.index:
            continue
        spec, row = CATALOG[metric_id], summary.loc[metric_id]
        out: dict[str, object] = {"stage": STAGE_LABELS[spec.stage], "metric": spec.label}
        for month in view.months:
            cell = monthly.loc[(metric_id, month)]
            shown = bool(cell["reported"])
            out[names[month]] = (
                format_value(_value(cell["value"]), spec.unit, currency) if shown else "not yet"
            )
        value, previous, last_year = (_value(row[c]) for c in ("value", "previous", "last_year"))
        out["quarter"] = format_value(value, spec.unit, currency)
        out["how"] = str(row["aggregation"])
        out[previous_name] = format_value(previous, spec.unit, currency)
        out["vs previous"] = format_delta(value, previous, spec.unit, currency) or MISSING
        out[year_ago] = format_value(last_year, spec.unit, currency)
        out[f"vs {year_ago}"] = format_delta(value, last_year, spec.unit, currency) or MISSING
        if not view.complete:
            out["pacing to"] = format_value(_value(row["pacing"]), spec.unit, currency)
            out["vs all of prev. quarter"] = (
                format_delta(_value(row["pacing"]), _value(row["previous_quarter"]), spec.unit, currency)
                or MISSING
            )
        out["warnings"] = int(row["warnings"]) if pd.notna(row["warnings"]) else 0
        rows.append(out)
    return pd.DataFrame(rows)


def quarter_cards(view: QuarterView, metric_ids: list[str], currency: str = DEFAULT_CURRENCY) -> list[Card]:
    """A card per metric: the quarter (to date) with its change against the previous quarter at the same point."""
    summary = view.summary.set_index("metric")
    cards = []
    for metric_id in metric_ids:
        spec, row = CATALOG[metric_id], summary.loc[metric_id]
        value, previous = _value(row["value"]), _value(row["previous"])
        delta = format_delta(value, previous, spec.unit, currency)
        help_text = f"{spec.definition}  \nQuarter {row['aggregation']}"
        help_text += " so far" if not view.complete else ""
        help_text += "; change against the previous quarter at the same point."
        cards.append(
            Card(
                id=metric_id,
                label=spec.label,
                value=format_value(value, spec.unit, currency),
                delta=delta,
                delta_color="off"
                if delta in (None, NO_CHANGE)
                else "inverse"
                if spec.direction == "down"
                else "normal",
                help=help_text,
                available=bool(row["available"]),
                reason=None if row["available"] else str(row["reason"]),
            )
        )
    return cards


def quarter_warnings(view: QuarterView) -> pd.DataFrame:
    """The early warnings of a quarter view: the metric, the month and why it fired."""
    frame = view.warnings
    return pd.DataFrame(
        {
            "stage": frame["stage"].map(STAGE_LABELS).fillna(frame["stage"]),
            "metric": frame["label"],
            "month": [f"{pd.Period(m, freq='M'):%b %Y}" for m in frame["month"]],
            "rule": frame["rule"],
            "why it fired": frame["message"],
        },
        columns=list(QUARTER_WARNING_COLUMNS),
    )
