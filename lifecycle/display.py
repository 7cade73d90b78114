"""How values and definitions are shown: formatted values and deltas, metric cards, the glossary.

The numbers come from `lifecycle.metrics`; this module only turns a `MetricResult` (and the one it is
compared with, and its monthly series) into display text, so every page formats a rate, an amount or an NPS
the same way and the pages hold no arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from lifecycle.metrics.catalog import CATALOG, STAGE_LABELS, MetricResult, needs_text

DEFAULT_CURRENCY = "$"
MISSING = "—"
NO_CHANGE = "no change"
FLAT_TOLERANCE = {"rate": 0.0005, "nps": 0.5, "currency": 0.005, "days": 0.05, "score": 0.05, "count": 0.05}
"""Changes smaller than what the value's format shows (0.05 pp, half an NPS point, half a cent) read as none."""


def is_flat(current: float | int | None, previous: float | int | None, unit: str) -> bool:
    """Whether the change from `previous` to `current` is too small to show in the value's format."""
    if _is_missing(current) or _is_missing(previous):
        return False
    return abs(float(current) - float(previous)) < FLAT_TOLERANCE.get(unit, 0.05)  # type: ignore[arg-type]


def _number(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}".replace("-", "−")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(value: float | int | None, unit: str, currency: str = DEFAULT_CURRENCY) -> str:
    """A metric value as text: 1,234 · 12.3% · $1,234 · 23 days · +35 (NPS); "—" when there is none."""
    if _is_missing(value):
        return MISSING
    v = float(value)  # type: ignore[arg-type]
    if unit == "rate":
        return _number(v * 100, 1) + "%"
    if unit == "currency":
        sign = "−" if v < 0 else ""
        return f"{sign}{currency}{_number(abs(v), 2 if abs(v) < 100 else 0)}"
    if unit == "days":
        return f"{_number(v, 0 if abs(v) >= 10 else 1)} days"
    if unit == "nps":
        return f"{int(round(v)) + 0:+d}".replace("-", "−")
    if unit == "score":
        return _number(v, 0 if v.is_integer() else 1)
    return _number(v, 0 if v.is_integer() else 1)


def format_delta(
    current: float | int | None, previous: float | int | None, unit: str, currency: str = DEFAULT_CURRENCY
) -> str | None:
    """The change from `previous` to `current` as text with an explicit sign (Streamlit reads the arrow from
    it): rates in percentage points, NPS in points, others as the difference and the relative change."""
    if _is_missing(current) or _is_missing(previous):
        return None
    diff = float(current) - float(previous)  # type: ignore[arg-type]
    if is_flat(current, previous, unit):
        return NO_CHANGE
    sign = "-" if diff < 0 else "+"
    if unit == "rate":
        return f"{sign}{abs(diff) * 100:,.1f} pp"
    if unit == "nps":
        return f"{sign}{abs(diff):,.0f} pts"
    if unit == "currency":
        amount = f"{currency}{abs(diff):,.{2 if abs(diff) < 100 else 0}f}"
    else:
        amount = f"{abs(diff):,.{0 if diff.is_integer() else 1}f}"
    if unit == "days":
        amount += " days"
    if float(previous) == 0:  # type: ignore[arg-type]
        return f"{sign}{amount}"
    relative = diff / abs(float(previous))  # type: ignore[arg-type]
    return f"{sign}{amount} ({sign}{abs(relative):.0%})"


@dataclass(frozen=True)
class Card:
    """Everything one metric card shows."""

    id: str
    label: str
    value: str
    delta: str | None
    delta_color: str
    """Streamlit's `delta_color`: "normal" when up is good, "inverse" when down is good, "off" for no change."""
    help: str
    available: bool
    reason: str | None
    sparkline: list[float] = field(default_factory=list)
    count: int | None = None
    """Rows behind the number (None when the metric has no rows to show)."""


def metric_card(
    result: MetricResult,
    previous: MetricResult | None = None,
    series: pd.DataFrame | None = None,
    compare_label: str = "previous month",
    currency: str = DEFAULT_CURRENCY,
) -> Card:
    """The card of `result`, with its change against `previous` and the available values of `series`."""
    spec = CATALOG[result.id]
    delta = format_delta(result.value, previous.value if previous else None, spec.unit, currency)
    help_parts = [spec.definition]
    if spec.note:
        help_parts.append(spec.note)
    if delta is not None:
        help_parts.append(f"Change against the {compare_label}.")
    if result.reason:
        help_parts.append(result.reason)
    spark: list[float] = []
    if series is not None and len(series):
        values = series["value"].astype("float64")
        spark = [float(v) for v in values.dropna()]
    return Card(
        id=result.id,
        label=spec.label,
        value=format_value(result.value, spec.unit, currency),
        delta=delta,
        delta_color="off" if delta == NO_CHANGE else "inverse" if spec.direction == "down" else "normal",
        help="  \n".join(help_parts),
        available=result.available,
        reason=result.reason,
        sparkline=spark if len(spark) >= 2 else [],
        count=result.row_count,
    )


# ---------------------------------------------------------------------------------------------- glossary

GLOSSARY_COLUMNS = ("stage", "metric", "id", "kind", "unit", "good when", "definition", "note", "needs")
UNIT_WORDS = {
    "count": "count",
    "rate": "rate (%)",
    "currency": "amount",
    "days": "days",
    "score": "score",
    "nps": "NPS (−100…100)",
}


def glossary(
    query: str = "", stages: list[str] | None = None, kinds: list[str] | None = None
) -> pd.DataFrame:
    """The metric catalog as a glossary table, filtered by a search text (label, id, definition, note or
    table), stages and kinds; catalog order."""
    rows = []
    for spec in CATALOG.values():
        rows.append(
            {
                "stage": STAGE_LABELS[spec.stage],
                "metric": spec.label,
                "id": spec.id,
                "kind": spec.kind,
                "unit": UNIT_WORDS.get(spec.unit, spec.unit),
                "good when": "higher" if spec.direction == "up" else "lower",
                "definition": spec.definition,
                "note": spec.note or "",
                "needs": needs_text(list(spec.tables)).removeprefix("needs "),
                "_stage": spec.stage,
                "_tables": spec.requirement_text(),
            }
        )
    frame = pd.DataFrame(rows)
    keep = pd.Series(True, index=frame.index)
    if stages:
        keep &= frame["_stage"].isin(stages)
    if kinds:
        keep &= frame["kind"].isin(kinds)
    words = query.strip().lower().split()
    if words:
        text = (
            frame[["metric", "id", "definition", "note", "needs", "_tables"]]
            .agg(" ".join, axis=1)
            .str.lower()
        )
        for word in words:
            keep &= text.str.contains(word, regex=False)
    return frame.loc[keep, list(GLOSSARY_COLUMNS)].reset_index(drop=True)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")


def escape_markdown(text: str) -> str:
    """`text` with every Markdown / HTML-significant character backslash-escaped, so uploaded text (file
    names, headers, campaign names) renders literally inside a Streamlit message."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def funnel_step_definition(mode: str, step: str, month: str) -> str:
    """What a funnel step counts, in words, for the drill-through beside its rows."""
    label = f"{pd.Period(month, freq='M'):%b %Y}"
    name = {"lead": "lead", "mql": "MQL", "sql": "SQL", "opportunity": "opportunity", "customer": "customer"}[
        step
    ]
    if mode == "cohort":
        if step == "lead":
            return f"Leads created in {label} (the cohort)."
        return (
            f"Leads created in {label} that reached {name} to date (their own {name} date, or a later stage's "
            "date when that one is missing)."
        )
    if step == "lead":
        return f"Leads created in {label}."
    return f"Leads whose {name} date falls in {label} (whenever they were created)."
