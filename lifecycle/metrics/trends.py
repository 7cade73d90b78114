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
from lifecycle.metrics.engine import metric_series, months_in_data, series_values
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


def _relative(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """(now − before) ÷ |before|, NaN where before is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before != 0, (now - before) / np.abs(before), np.nan)


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """``values`` moved ``by`` positions later (the first ``by`` are NaN)."""
    out = np.full(len(values), np.nan)
    if by < len(values):
        out[by:] = values[: len(values) - by]
    return out


def _ordinal(month: str) -> int:
    """Months since 1970-01 of "YYYY-MM" (any other spelling goes through ``parse_month``)."""
    text = str(month)
    if (
        len(text) == 7
        and text[4] == "-"
        and text[:4].isdigit()
        and text[5:].isdigit()
        and "01" <= text[5:] <= "12"
    ):
        return (int(text[:4]) - 1970) * 12 + int(text[5:]) - 1
    return int(parse_month(month).ordinal)


def _monthly(series: pd.DataFrame) -> tuple[int, np.ndarray]:
    """The first month (as months since year 0) and the values on a gap-free monthly range from it (missing
    months and unavailable values are NaN; a repeated month keeps its last value)."""
    values = series["value"].to_numpy(dtype="float64", na_value=np.nan)
    if "available" in series.columns:
        available = series["available"].fillna(False).astype(bool).to_numpy()
        values = np.where(available, values, np.nan)
    months = np.array([_ordinal(m) for m in series["month"].tolist()], dtype=np.int64)
    if not len(months):
        return 0, np.array([], dtype="float64")
    first = int(months.min())
    out = np.full(int(months.max()) - first + 1, np.nan)
    out[months - first] = values  # assignment in order: the last of a repeated month wins
    return first, out


def _worse(delta: np.ndarray, direction: Direction) -> np.ndarray:
    """Whether a change (later − earlier) goes the wrong way for the direction (NaN never does)."""
    return delta < 0 if direction == "up" else delta > 0


def _material(now: np.ndarray, before: np.ndarray, direction: Direction, min_move: float) -> np.ndarray:
    """A move from ``before`` to ``now`` the wrong way by more than ``min_move`` of |before|."""
    delta = now - before
    with np.errstate(invalid="ignore"):
        return _worse(delta, direction) & (np.abs(delta) > min_move * np.abs(before))


def _warnings(
    values: np.ndarray, direction: Direction, settings: Settings, min_move: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each month's "two months running" and "worse than the trailing median" flags, and that median."""
    prev, prev2, prev3 = (_shift(values, k) for k in (1, 2, 3))
    two_months = _material(values, prev, direction, min_move) & _material(prev, prev2, direction, min_move)
    median = np.median(np.vstack([prev, prev2, prev3]), axis=0)  # NaN when any of the three is missing
    worse_by = (median - values) if direction == "up" else (values - median)
    with np.errstate(invalid="ignore"):
        below = (worse_by > 0) & (worse_by > settings.warning_margin * np.abs(median))
    return two_months, below, median


def _warns_last(
    values: list[tuple[object, bool, str | None]], direction: Direction, settings: Settings, min_move: float
) -> bool:
    """Whether a warning fires in the last of consecutive months' (value, available, reason) (what
    ``trend_table`` would flag there)."""
    numbers = np.array([v if a and v is not None else np.nan for v, a, _ in values], dtype="float64")
    if not len(numbers):
        return False
    two_months, below, _ = _warnings(numbers, direction, settings, min_move)
    return bool(two_months[-1] or below[-1])


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
    first, values = _monthly(series)
    if not len(values):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in TREND_COLUMNS}).astype(
            {"month": "str", "quarter": "str"}
            | {c: "str" for c in MESSAGES}
            | {c: "bool" for c in ("warn_two_months", "warn_below_median", "warning")}
        )
    # Plain arrays: a trend is a few dozen months, where pandas' per-call overhead would dominate.
    ordinals = np.arange(first, first + len(values))
    years = (ordinals // 12 + 1970).tolist()
    position = (ordinals % 12) % 3 + 1  # ordinal 0 is 1970-01
    quarter_id = ordinals // 3
    prev, prev2, year_ago = (_shift(values, k) for k in (1, 2, 12))

    # Quarter to date: defined where every month of the quarter so far is present and the series covers the
    # quarter from its first month.
    qtd = np.full(len(values), np.nan)
    starts = np.flatnonzero(np.r_[True, quarter_id[1:] != quarter_id[:-1]])
    for begin, end in zip(starts, [*starts[1:], len(values)], strict=True):
        running = np.cumsum(values[begin:end])  # NaN from the first missing month on
        elapsed = np.arange(1, end - begin + 1)
        whole = running if unit in ADDITIVE_UNITS else running / elapsed
        qtd[begin:end] = np.where(elapsed == position[begin:end], whole, np.nan)
    previous_qtd = _shift(qtd, 3)
    last_of_quarter = np.where(position == 3, qtd, np.nan)
    back = np.arange(len(values)) - position
    previous_quarter = np.where(back >= 0, last_of_quarter[np.maximum(back, 0)], np.nan)

    two_months, below, median = _warnings(values, direction, settings, min_move)
    slide, gap = _messages(values, prev, prev2, median, two_months, below, direction, unit, label, settings)
    both = [" ".join(m for m in pair if m) for pair in zip(slide, gap, strict=True)]
    columns = {
        "month": [f"{y}-{o % 12 + 1:02d}" for y, o in zip(years, ordinals.tolist(), strict=True)],
        "value": values,
        "mom_delta": values - prev,
        "mom_change": _relative(values, prev),
        "yoy_delta": values - year_ago,
        "yoy_change": _relative(values, year_ago),
        "quarter": [f"{y}Q{o % 12 // 3 + 1}" for y, o in zip(years, ordinals.tolist(), strict=True)],
        "month_of_quarter": position.astype("int64"),
        "qtd": qtd,
        "previous_qtd": previous_qtd,
        "qtd_change": _relative(qtd, previous_qtd),
        "pacing": qtd / position * 3 if unit in ADDITIVE_UNITS else qtd,
        "previous_quarter": previous_quarter,
        "trailing_median": median,
        "warn_two_months": two_months,
        "warn_below_median": below,
        "warning": two_months | below,
        "two_months_message": slide,
        "below_median_message": gap,
        "warning_message": both,
    }
    return pd.DataFrame(columns)


def _messages(
    values: np.ndarray,
    prev: np.ndarray,
    prev2: np.ndarray,
    median: np.ndarray,
    two_months: np.ndarray,
    below: np.ndarray,
    direction: Direction,
    unit: str,
    label: str,
    settings: Settings,
) -> tuple[list[str], list[str]]:
    """The sentence of each month's two-month and median warnings ("" where it did not fire)."""
    verb = "fell" if direction == "up" else "rose"
    slide, gap = [""] * len(values), [""] * len(values)
    # Only flagged months are formatted: a handful of rows, so plain Python reads best here.
    for i in np.flatnonzero(two_months):
        first = (prev[i] - prev2[i]) / abs(prev2[i]) if prev2[i] else np.nan
        second = (values[i] - prev[i]) / abs(prev[i]) if prev[i] else np.nan
        moves = f" ({_pct(first)}, {_pct(second)})" if pd.notna(first) and pd.notna(second) else ""
        slide[i] = (
            f"{label} {verb} two months running: {format_value(prev2[i], unit)} → "
            f"{format_value(prev[i], unit)} → {format_value(values[i], unit)}{moves}."
        )
    for i in np.flatnonzero(below):
        value, middle = values[i], median[i]
        worse = f"{abs(value - middle) / abs(middle) * 100:.0f} % worse than" if middle else "worse than"
        gap[i] = (
            f"{label}: {format_value(value, unit)}, {worse} its trailing 3-month median of "
            f"{format_value(middle, unit)} (warning margin {settings.warning_margin * 100:.0f} %)."
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
        _, values = series_values(facts, metric_id, window, channel, settings)
        if parts and not _warns_last(values, definition.direction, settings, min_move):
            continue  # the table is built only for a metric that warns (and once, for the columns' types)
        series = metric_series(facts, metric_id, window, channel, settings)
        trend = trend_table(
            series, definition.direction, definition.unit, settings, label=definition.label, min_move=min_move
        )
        now = trend[trend["month"].eq(str(last))]
        if now["warning"].any() or not parts:  # the first (maybe empty) part gives the columns their types
            parts.append(trend_warnings(now, metric_id, definition.label, definition.stage))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(WARNING_COLUMNS))
    return out[list(WARNING_COLUMNS)].reset_index(drop=True)
