"""Trends and early warnings (SPEC §5 "Trends"): month-over-month, year-over-year, quarter-to-date, pacing.

Works on any monthly series (``month`` "YYYY-MM", ``value``) and a good direction, so the same code serves
the catalog metrics (:func:`metric_trend`, :func:`warnings_for_month`) and hand-made series.

Decisions where the spec is silent:

- Changes are against the calendar month before / twelve months before (a gap in the series gives an empty
  change, never a jump over the gap). Relative change = (value − earlier) ÷ |earlier|, empty when earlier is 0.
- Quarter-to-date: counts and currency are summed; rates, days, scores and NPS are the average of the monthly
  values (the series holds no numerators and denominators to recompute from, and an unweighted mean keeps
  every month's say equal). A quarter-to-date with a missing month is empty. It is compared with the
  previous quarter's first as many months ("at the same point").
- Pacing: where the quarter lands at the current rate — quarter-to-date ÷ months elapsed × 3 for counts and
  currency, the quarter-to-date average for the others. A complete quarter's pacing is its total.
- Warning "two months running": the value moved the wrong way (per the metric's direction) in each of the
  last two months, and each move was material: larger than ``min_move`` (default 5 %) of the value it moved
  from (any move from 0 counts). Pure noise moves the wrong way twice in a row about a quarter of the time;
  the materiality floor keeps the flag for real slides.
- Warning "worse than the trailing median": the value is worse than the median of the three months before
  it by more than ``Settings.warning_margin`` (default 20 %) of that median (any worsening from a median of
  0 counts); needs all three earlier months.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import CATALOG, MATURING_COHORT_RATES
from lifecycle.metrics.derived import Facts, build_facts, parse_month
from lifecycle.metrics.engine import metric_series, months_in_data
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

Direction = Literal["up", "down"]

MIN_MOVE = 0.05
"""Smallest relative move that counts toward the "two months running" warning."""
ADDITIVE_UNITS = ("count", "currency")
TWO_MONTHS = "two months running"
BELOW_MEDIAN = "worse than trailing median"

TREND_COLUMNS = (
    "month", "value", "mom_delta", "mom_change", "yoy_delta", "yoy_change", "quarter", "month_of_quarter", "qtd",
    "previous_qtd", "qtd_change", "pacing", "previous_quarter", "trailing_median", "warn_two_months",
    "warn_below_median", "warning", "two_months_message", "below_median_message", "warning_message",
)  # fmt: skip
MESSAGES = ("two_months_message", "below_median_message", "warning_message")
WARNING_COLUMNS = ("metric", "label", "stage", "month", "rule", "message", "value", "reference")


def format_value(value: float, unit: str) -> str:
    """A value as the UI writes it: 12.3 % for rates, 1,234 for counts and money, +12 for NPS."""
    if value is None or pd.isna(value):
        return "–"
    if unit == "rate":
        return f"{value * 100:.1f} %"
    if unit == "nps":
        return f"{value:+.0f}"
    if unit == "days":
        return f"{value:,.1f} days"
    if unit in ("count", "currency", "score") and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _relative(now: pd.Series, before: pd.Series) -> pd.Series:
    return (now - before) / before.abs().where(before != 0)


def _monthly(series: pd.DataFrame) -> pd.Series:
    """Values on a gap-free monthly index (missing months and unavailable values are NaN)."""
    months = pd.PeriodIndex([parse_month(m) for m in series["month"]], freq="M")
    values = pd.Series(series["value"].to_numpy(dtype="float64", na_value=np.nan), index=months)
    if "available" in series.columns:
        values = values.where(series["available"].fillna(False).astype(bool).to_numpy())
    values = values[~values.index.duplicated(keep="last")].sort_index()
    if values.empty:
        return values
    return values.reindex(pd.period_range(values.index.min(), values.index.max(), freq="M"))


def _worse(delta: pd.Series, direction: Direction) -> pd.Series:
    """Whether a change (later − earlier) goes the wrong way for the direction."""
    return delta < 0 if direction == "up" else delta > 0


def trend_table(
    series: pd.DataFrame,
    direction: Direction,
    unit: str = "count",
    settings: Settings = DEFAULT_SETTINGS,
    *,
    label: str = "The metric",
    min_move: float = MIN_MOVE,
) -> pd.DataFrame:
    """For a monthly series (``month``, ``value``): MoM and YoY change, quarter-to-date vs the previous quarter
    at the same point, pacing of the quarter, and early warnings (wrong way two months running by more than
    ``min_move`` each, or worse than the trailing 3-month median by more than the warning margin)."""
    if direction not in ("up", "down"):
        raise ValueError(f"direction is 'up' or 'down', not {direction!r}")
    values = _monthly(series)
    if values.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in TREND_COLUMNS}).astype(
            {"month": "str", "quarter": "str"}
            | {c: "str" for c in MESSAGES}
            | {c: "bool" for c in ("warn_two_months", "warn_below_median", "warning")}
        )
    out = pd.DataFrame({"value": values})
    prev, prev2, year_ago = values.shift(1), values.shift(2), values.shift(12)
    out["mom_delta"] = values - prev
    out["mom_change"] = _relative(values, prev)
    out["yoy_delta"] = values - year_ago
    out["yoy_change"] = _relative(values, year_ago)

    quarter = values.index.asfreq("Q")
    position = pd.Series(values.index.month - 1, index=values.index) % 3 + 1
    grouped = values.groupby(quarter)
    elapsed = grouped.cumcount() + 1
    running = grouped.cumsum()
    complete = values.notna().groupby(quarter).cumsum() == elapsed
    additive = unit in ADDITIVE_UNITS
    qtd = (running if additive else running / elapsed).where(complete & (elapsed == position))
    out["quarter"] = quarter.astype("str")
    out["month_of_quarter"] = position.astype("int64")
    out["qtd"] = qtd
    out["previous_qtd"] = qtd.shift(3)
    out["qtd_change"] = _relative(qtd, out["previous_qtd"])
    out["pacing"] = qtd / position * 3 if additive else qtd
    out["previous_quarter"] = _previous_full_quarter(qtd.where(position == 3), position)

    wrong_now = _worse(values - prev, direction) & ((values - prev).abs() > min_move * prev.abs())
    wrong_before = _worse(prev - prev2, direction) & ((prev - prev2).abs() > min_move * prev2.abs())
    two_months = (wrong_now & wrong_before).fillna(False)
    median = pd.concat([prev, prev2, values.shift(3)], axis=1).median(axis=1, skipna=False)
    worse_by = (median - values) if direction == "up" else (values - median)
    below = ((worse_by > 0) & (worse_by > settings.warning_margin * median.abs())).fillna(False)
    out["trailing_median"] = median
    out["warn_two_months"] = two_months.astype(bool)
    out["warn_below_median"] = below.astype(bool)
    out["warning"] = out["warn_two_months"] | out["warn_below_median"]
    slide, gap = _messages(out, prev, prev2, direction, unit, label, settings)
    out["two_months_message"] = slide
    out["below_median_message"] = gap
    out["warning_message"] = [" ".join(m for m in pair if m) for pair in zip(slide, gap, strict=True)]
    out = out.rename_axis("month").reset_index()
    out["month"] = out["month"].astype("str")
    return out[list(TREND_COLUMNS)].astype({"quarter": "str"} | {c: "str" for c in MESSAGES})


def _previous_full_quarter(full: pd.Series, position: pd.Series) -> pd.Series:
    """Total (or average) of the whole previous quarter, on every month of the following quarter."""
    # The value of the previous quarter sits on that quarter's third month, ``position`` months back.
    values = full.to_numpy()
    idx = np.arange(len(values)) - position.to_numpy()
    return pd.Series(np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan), index=full.index)


def _messages(
    out: pd.DataFrame,
    prev: pd.Series,
    prev2: pd.Series,
    direction: Direction,
    unit: str,
    label: str,
    settings: Settings,
) -> tuple[list[str], list[str]]:
    """The sentence of each month's two-month and median warnings ("" where it did not fire)."""
    verb = "fell" if direction == "up" else "rose"
    slide, gap = [""] * len(out), [""] * len(out)
    # Only flagged months are formatted: a handful of rows, so plain Python reads best here.
    for i in np.flatnonzero(out["warn_two_months"].to_numpy()):
        first = (prev.iloc[i] - prev2.iloc[i]) / abs(prev2.iloc[i]) if prev2.iloc[i] else np.nan
        second = out["mom_change"].iloc[i]
        moves = f" ({_pct(first)}, {_pct(second)})" if pd.notna(first) and pd.notna(second) else ""
        slide[i] = (
            f"{label} {verb} two months running: {format_value(prev2.iloc[i], unit)} → "
            f"{format_value(prev.iloc[i], unit)} → {format_value(out['value'].iloc[i], unit)}{moves}."
        )
    for i in np.flatnonzero(out["warn_below_median"].to_numpy()):
        value, median = out["value"].iloc[i], out["trailing_median"].iloc[i]
        worse = f"{abs(value - median) / abs(median) * 100:.0f} % worse than" if median else "worse than"
        gap[i] = (
            f"{label}: {format_value(value, unit)}, {worse} its trailing 3-month median of "
            f"{format_value(median, unit)} (warning margin {settings.warning_margin * 100:.0f} %)."
        )
    return slide, gap


def _pct(change: float) -> str:
    return f"{change * 100:+.0f} %"


def metric_trend(
    data: Tables | Facts,
    metric_id: str,
    months: Iterable[str] | None = None,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    min_move: float = MIN_MOVE,
) -> pd.DataFrame:
    """A catalog metric's trend table (see :func:`trend_table`) over ``months`` (default: every month in the
    data), using the metric's unit, direction and label."""
    if metric_id not in CATALOG:
        raise ValueError(f"unknown metric {metric_id!r}")
    facts = build_facts(data)
    months = list(months) if months is not None else months_in_data(facts)
    definition = CATALOG[metric_id]
    series = metric_series(facts, metric_id, months, channel, settings)
    return trend_table(
        series, definition.direction, definition.unit, settings, label=definition.label, min_move=min_move
    )


def trend_warnings(
    trend: pd.DataFrame, metric_id: str | None = None, label: str = "", stage: str = ""
) -> pd.DataFrame:
    """One row per warning in a trend table: metric, label, stage, month, rule, message (that rule's sentence),
    value and reference (the trailing median for the median rule, the previous month for the two-month rule)."""
    rows = []
    rules = ((TWO_MONTHS, "warn_two_months", "two_months_message"),
             (BELOW_MEDIAN, "warn_below_median", "below_median_message"))  # fmt: skip
    for rule, flag, message in rules:
        hit = trend[trend[flag].to_numpy(dtype=bool)]
        reference = hit["trailing_median"] if rule == BELOW_MEDIAN else hit["value"] - hit["mom_delta"]
        rows.append(
            pd.DataFrame(
                {
                    "metric": metric_id,
                    "label": label,
                    "stage": stage,
                    "month": hit["month"].to_numpy(),
                    "rule": rule,
                    "message": hit[message].to_numpy(),
                    "value": hit["value"].to_numpy(),
                    "reference": reference.to_numpy(),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    return out.astype({c: "str" for c in WARNING_COLUMNS if c not in ("value", "reference")})


def warnings_for_month(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    min_move: float = MIN_MOVE,
) -> pd.DataFrame:
    """Every early warning that fires in month M across the catalog: metric, label, stage, month, rule and a
    sentence saying why (one row per metric and rule), in catalog order."""
    facts = build_facts(data)
    last = parse_month(month)
    # Both rules look back at most three months.
    window = [str(last - i) for i in range(3, -1, -1)]
    parts = []
    for metric_id, definition in CATALOG.items():
        if metric_id in MATURING_COHORT_RATES:
            continue
        series = metric_series(facts, metric_id, window, channel, settings)
        trend = trend_table(
            series, definition.direction, definition.unit, settings, label=definition.label, min_move=min_move
        )
        found = trend_warnings(
            trend[trend["month"].eq(str(last))], metric_id, definition.label, definition.stage
        )
        parts.append(found)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(WARNING_COLUMNS))
    return out[list(WARNING_COLUMNS)].reset_index(drop=True)
