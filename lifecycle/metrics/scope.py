"""What one metric is computed over (facts, month, channel, settings) and the helpers every stage module shares.

Decisions where SPEC §5 is silent:

- Spend-based costs are undefined (None, with a reason) when no spend row falls in the month for the channel:
  a missing spend record is not free marketing. Spend rows summing to 0 give a cost of 0.
- Medians and quantiles interpolate linearly (pandas' default): the median of an even count is the midpoint of
  the two middle values.
- Days are fractional: (end − start) in seconds / 86 400, unrounded, so date-only exports give whole days.
  Negative durations (closed before created) are data errors: left out of the median and counted in details.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import CATALOG, MetricResult
from lifecycle.metrics.derived import Facts
from lifecycle.metrics.settings import Settings
from lifecycle.schema import TABLES

RowsSource = pd.DataFrame | Callable[[], pd.DataFrame] | None
"""Rows behind a result, or a function selecting them on demand."""


@dataclass(frozen=True, eq=False)
class SelectedRows:
    """The rows of ``frame`` where ``mask`` holds (all rows without one), selected when called; ``row_count``
    counts them without selecting (a card shows how many rows are behind a number)."""

    frame: pd.DataFrame
    mask: np.ndarray | None = None

    def __call__(self) -> pd.DataFrame:
        return self.frame if self.mask is None else self.frame[self.mask].reset_index(drop=True)

    @property
    def row_count(self) -> int:
        return len(self.frame) if self.mask is None else int(np.count_nonzero(self.mask))


@dataclass(frozen=True)
class Scope:
    """One metric's inputs: the channel view of the facts, the month bounds, the channel and the settings."""

    facts: Facts
    """Facts narrowed to ``channel`` (the whole facts when channel is None)."""
    month: str
    start: pd.Timestamp
    end: pd.Timestamp
    channel: str | None
    settings: Settings
    metric_id: str = ""
    with_rows: bool = True
    """False for series: skip building drill-through rows."""

    @property
    def unit(self) -> str:
        return CATALOG[self.metric_id].unit

    @property
    def where(self) -> str:
        """Where a value applies, for reasons: 'in 2026-03' or 'for Paid Search in 2026-03'."""
        return f"for {self.channel} in {self.month}" if self.channel else f"in {self.month}"

    def in_month(self, values: pd.Series) -> np.ndarray:
        """Boolean mask: the datetime values that fall in the month (NaT never does)."""
        return self.facts.month_mask(values.to_numpy(), self.start, self.end)

    def before_month(self, values: pd.Series) -> np.ndarray:
        """Boolean mask: the datetime values strictly before the month starts."""
        return values.to_numpy() < self.start.to_datetime64()

    def rows(
        self, frame: pd.DataFrame | None, mask: np.ndarray | None = None
    ) -> Callable[[], pd.DataFrame] | None:
        """The drill-through rows, selected only when first read (None for series computations)."""
        if not self.with_rows or frame is None:
            return None
        return SelectedRows(frame, mask)

    def result(
        self,
        value: float | int | None,
        details: dict[str, Any] | None = None,
        rows: RowsSource = None,
        reason: str | None = None,
    ) -> MetricResult:
        """An available result; a None value must come with its reason."""
        if value is not None and not np.isfinite(value):
            value, reason = None, reason or f"not defined {self.where}"
        if isinstance(value, np.generic):
            value = value.item()
        if self.unit == "count" and isinstance(value, float) and value.is_integer():
            value = int(value)
        return MetricResult(self.metric_id, value, self.unit, True, reason, details or {}, rows)

    def unavailable(self, reason: str) -> MetricResult:
        """The data needed for this metric is not loaded; ``reason`` names the export that would enable it."""
        return MetricResult(self.metric_id, None, self.unit, False, reason, {}, None)

    def needs_column(self, table: str, column: str, what: str | None = None) -> MetricResult:
        """Unavailable because ``table`` was loaded without ``column``."""
        label = what or f"a '{column}' column"
        return self.unavailable(f"needs {label} in the {table} table ({TABLES[table].enables})")

    def ratio(
        self,
        numerator: float,
        denominator: float,
        zero_reason: str,
        details: dict[str, Any] | None = None,
        rows: RowsSource = None,
    ) -> MetricResult:
        """numerator ÷ denominator, or None with ``zero_reason`` when the denominator is 0."""
        details = {"numerator": _plain(numerator), "denominator": _plain(denominator), **(details or {})}
        if not denominator:
            return self.result(None, details, rows, reason=zero_reason)
        return self.result(float(numerator) / float(denominator), details, rows)

    def spend_between(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[float, int]:
        """Spend (sum of amounts) and spend rows dated in [start, end) for the channel."""
        spend = self.facts.spend
        if spend is None:
            return 0.0, 0
        dates = spend["date"].to_numpy()
        mask = (dates >= start.to_datetime64()) & (dates < end.to_datetime64())
        return float(np.nansum(spend["amount"].to_numpy()[mask])), int(mask.sum())

    def cost_per(self, count: int, what: str, rows: RowsSource = None) -> MetricResult:
        """Spend in the month ÷ ``count`` (``what`` names the counted things, e.g. "new leads")."""
        amount, n_rows = self.spend_between(self.start, self.end)
        details = {"spend": amount, "spend_rows": n_rows, what.replace(" ", "_"): _plain(count)}
        if n_rows == 0:
            return self.result(None, details, rows, reason=f"no spend recorded {self.where}")
        if count == 0:
            return self.result(None, details, rows, reason=f"no {what} {self.where}")
        return self.result(amount / count, details, rows)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def distribution(values: pd.Series, quantiles: tuple[float, ...] = (0.25, 0.75, 0.9)) -> dict[str, Any]:
    """n, median and the given quantiles (linear interpolation) of the non-missing values."""
    clean = values.dropna().astype("float64")
    out: dict[str, Any] = {"n": int(len(clean))}
    if clean.empty:
        out.update({"median": None, **{f"p{round(q * 100)}": None for q in quantiles}})
        return out
    qs = clean.quantile([0.5, *quantiles]).to_numpy()
    out["median"] = float(qs[0])
    out.update({f"p{round(q * 100)}": float(v) for q, v in zip(quantiles, qs[1:], strict=True)})
    return out


def days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Fractional days from ``start`` to ``end`` (missing when either is missing)."""
    return (end - start).dt.total_seconds() / 86400.0


def median_days(scope: Scope, days: pd.Series, rows: RowsSource, empty_reason: str) -> MetricResult:
    """Median of non-negative day counts with p25/p75/p90, n and the negatives left out."""
    negative = days < 0
    stats = distribution(days[~negative])
    details = {**stats, "excluded_negative": int(negative.sum())}
    if stats["n"] == 0:
        return scope.result(None, details, rows, reason=empty_reason)
    return scope.result(stats["median"], details, rows)


_STAGE_WORDS = {
    "mql_at": "MQL dates",
    "sql_at": "SQL dates (or opportunity dates, or deals linked to leads)",
    "opportunity_at": "opportunity dates",
    "customer_at": "customer dates (a customers export, customer dates on leads, or won deals linked to leads)",
    "recycled_at": "recycled / not-ready dates",
    "reopened_at": "reopened dates",
}


def stage_unknown(s: Scope, *columns: str) -> MetricResult | None:
    """Unavailable when no loaded table provides one of the lead stage-date ``columns``; else None."""
    sources = s.facts.info["stage_sources"]
    for column in columns:
        if not sources.get(column):
            return s.unavailable(
                f"needs {_STAGE_WORDS[column]}: a '{column}' column in the lead export or a lifecycle-stage "
                f"history ({TABLES['lead_stages'].enables})"
            )
    return None
