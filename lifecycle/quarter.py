"""The quarter view (quarterly review): each metric per month of a quarter, the quarter against the previous
quarter and the same quarter a year earlier, pacing of a quarter still running, and its early warnings.

Everything is computed by the engine (`metric_series`) and the trend rules (`trend_table`, `trend_warnings`):
this module only picks the months and shapes the frames, so the report, the app and the CLI show the same
numbers as the monthly pages.

Decisions where the spec is silent:

- A quarter shows its *complete* months only: months up to the last complete month in the data
  (`default_month`). A quarter still running is compared "at the same point" (its first k months against the
  previous quarter's and last year's first k months) and paced to its end at the current rate.
- Quarter aggregation follows `trend_table`: counts and amounts are summed, rates, days, scores and NPS are
  the average of the monthly values. Active customers (a level, not a flow) and the cost-per ratios are
  averaged too: summing them over three months means nothing.
- Warnings are the SPEC §5 early-warning rules evaluated in each complete month of the quarter (the same
  flags `warnings_for_month` gives the overview).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.metrics import (
    CATALOG,
    DEFAULT_SETTINGS,
    KEY_METRICS,
    Facts,
    Settings,
    build_facts,
    default_month,
    metric_series,
    months_in_data,
)
from lifecycle.metrics.catalog import MATURING_COHORT_RATES, adds_up_over_months
from lifecycle.metrics.funnels import STEP_COLUMNS, FunnelMode, funnel
from lifecycle.metrics.trends import ADDITIVE_UNITS, WARNING_COLUMNS, trend_table, trend_warnings
from lifecycle.workspace import Tables

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")
HISTORY_MONTHS = 15
"""Months of history a quarter view carries: the quarter and the four before it (same quarter last year)."""
_AVERAGED_UNIT = "score"  # any unit outside ADDITIVE_UNITS makes trend_table average over the quarter

SUMMARY_COLUMNS = (
    "metric", "label", "stage", "kind", "unit", "direction", "key", "aggregation", "available", "reason",
    "months_reported", "value", "previous", "previous_change", "last_year", "last_year_change",
    "previous_quarter", "pacing", "pacing_change", "warnings",
)  # fmt: skip
MONTHLY_COLUMNS = ("metric", "month", "reported", "value", "available", "reason")


def parse_quarter(quarter: str | pd.Period) -> pd.Period:
    """A quarter written "YYYY-Qn" (or "YYYYQn") as a quarterly Period; ValueError with a readable message."""
    if isinstance(quarter, pd.Period):
        return quarter.asfreq("Q")
    match = _QUARTER.match(str(quarter))
    if match is None:
        raise ValueError(
            f"quarter must be written YYYY-Qn with n from 1 to 4 (e.g. 2026-Q3), got {quarter!r}"
        )
    return pd.Period(year=int(match[1]), quarter=int(match[2]), freq="Q")


def format_quarter(quarter: str | pd.Period) -> str:
    """A quarter as the CLI writes it: "2026-Q3"."""
    period = parse_quarter(quarter)
    return f"{period.year}-Q{period.quarter}"


def quarter_label(quarter: str | pd.Period) -> str:
    """A quarter as a heading reads it: "Q3 2026"."""
    period = parse_quarter(quarter)
    return f"Q{period.quarter} {period.year}"


def quarter_months(quarter: str | pd.Period) -> list[str]:
    """The three months "YYYY-MM" of a quarter, in order."""
    period = parse_quarter(quarter)
    first = period.asfreq("M", how="start")
    return [str(first + i) for i in range(3)]


def quarter_of(month: str) -> str:
    """The quarter "YYYY-Qn" holding month "YYYY-MM"."""
    return format_quarter(pd.Period(month, freq="M").asfreq("Q"))


def reportable_quarters(data: Tables | Facts) -> list[str]:
    """Quarters with at least one complete month in the data, oldest first (what a quarter picker offers)."""
    facts = build_facts(data)
    last = default_month(facts)
    if last is None:
        return []
    months = [m for m in months_in_data(facts) if m <= last]
    return list(dict.fromkeys(quarter_of(m) for m in months))


def default_quarter(data: Tables | Facts) -> str | None:
    """The quarter of the last complete month (None without dated rows)."""
    last = default_month(build_facts(data))
    return None if last is None else quarter_of(last)


@dataclass(frozen=True)
class QuarterView:
    """One quarter as tidy frames.

    ``summary``: one row per metric (``SUMMARY_COLUMNS``): the quarter over its reported months (``value``),
    the previous quarter and the same quarter last year over the same months (with relative changes), the
    whole previous quarter, ``pacing`` (where the quarter lands at the current rate; the value itself when
    complete) and the number of warnings. ``monthly``: metric, month (all three), reported, value, available,
    reason. ``history``: metric, month, value over the quarter and the year before it (for charts).
    ``warnings``: the early warnings (``WARNING_COLUMNS``) that fire in the quarter's reported months.
    Views are memoized on the facts: treat the frames as read-only.
    """

    quarter: str
    channel: str | None
    months: tuple[str, ...]
    reported: tuple[str, ...]
    """The quarter's complete months in the data; the others are not shown yet."""
    summary: pd.DataFrame
    monthly: pd.DataFrame
    history: pd.DataFrame
    warnings: pd.DataFrame
    notes: tuple[str, ...] = ()
    reason: str | None = None
    """Why nothing can be shown (no complete month of the quarter in the data)."""

    @property
    def available(self) -> bool:
        """Whether the quarter has a complete month to show."""
        return self.reason is None

    @property
    def complete(self) -> bool:
        """Whether all three months of the quarter are complete."""
        return len(self.reported) == 3


def _relative(now: pd.Series, before: pd.Series) -> pd.Series:
    return (now - before) / before.abs().where(before != 0)


def _scope(facts: Facts, quarter: pd.Period) -> tuple[list[str], list[str], list[str], str | None]:
    """The quarter's months, its reported months, the history window and why nothing shows (if so)."""
    months = quarter_months(quarter)
    in_data = months_in_data(facts)
    last = default_month(facts)
    if last is None:
        return months, [], [], "the data holds no dated rows: load an export first"
    reported = [m for m in months if m in in_data and m <= last]
    if not reported:
        quarters = reportable_quarters(facts)
        return (
            months,
            [],
            [],
            (
                f"{quarter_label(quarter)} has no complete month in the data; "
                f"quarters with data: {quarters[0]} to {quarters[-1]}"
            ),
        )
    first = pd.Period(months[0], freq="M")
    window = [str(first - HISTORY_MONTHS + 3 + i) for i in range(HISTORY_MONTHS)]
    window = [m for m in window if m in in_data and m <= reported[-1]]
    return months, reported, window, None


def _notes(months: list[str], reported: list[str]) -> list[str]:
    def names(chosen: list[str]) -> str:
        return ", ".join(f"{pd.Period(m, freq='M'):%b %Y}" for m in chosen)

    notes = []
    later = [m for m in months if m > reported[-1]]
    if later:
        notes.append(
            f"Not complete yet: {names(later)}. The quarter is shown to {names(reported[-1:])}, compared with "
            "the previous quarter and last year at the same point, and paced to its end at the current rate."
        )
    earlier = [m for m in months if m < reported[0]]
    if earlier:
        notes.append(f"The data starts after the quarter began ({names(earlier)} missing): no quarter total.")
    return notes


def quarter_view(
    data: Tables | Facts,
    quarter: str | pd.Period,
    channel: str | None = None,
    settings: Settings | None = None,
    metrics: Iterable[str] | None = None,
) -> QuarterView:
    """Each metric (default: the whole catalog) per month of the quarter, the quarter total (or average)
    against the previous quarter and the same quarter last year, pacing of a running quarter, and the early
    warnings that fire in its months."""
    settings = settings or DEFAULT_SETTINGS
    facts = build_facts(data)
    period = parse_quarter(quarter)
    ids = list(metrics) if metrics is not None else list(CATALOG)
    unknown = [m for m in ids if m not in CATALOG]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(map(repr, unknown))}")
    key = ("quarter_view", str(period), channel, repr(settings), tuple(ids))
    if key not in facts.cache:  # the report, its workbook and an app rerun ask for the same view
        facts.cache[key] = _quarter_view(facts, period, channel, settings, ids)
    return facts.cache[key]


def _quarter_view(
    facts: Facts, period: pd.Period, channel: str | None, settings: Settings, ids: list[str]
) -> QuarterView:
    months, reported, window, reason = _scope(facts, period)
    if reason is not None:
        return _empty(format_quarter(period), channel, months, reason)

    parts = [_metric_quarter(facts, m, window, months, reported, channel, settings) for m in ids]
    summary = [p[0] for p in parts]
    monthly, history, warnings = ([p[i] for p in parts] for i in (1, 2, 3))

    table = pd.DataFrame(summary, columns=[c for c in SUMMARY_COLUMNS if not c.endswith("_change")])
    for column in ("value", "previous", "last_year", "previous_quarter", "pacing"):
        table[column] = table[column].astype("float64")
    table["previous_change"] = _relative(table["value"], table["previous"])
    table["last_year_change"] = _relative(table["value"], table["last_year"])
    table["pacing_change"] = _relative(table["pacing"], table["previous_quarter"])
    found = pd.concat(warnings, ignore_index=True)
    order = {m: i for i, m in enumerate(ids)}
    found = found.sort_values(["month", "metric"], key=lambda c: c.map(order) if c.name == "metric" else c)
    return QuarterView(
        quarter=format_quarter(period),
        channel=channel,
        months=tuple(months),
        reported=tuple(reported),
        summary=table[list(SUMMARY_COLUMNS)],
        monthly=pd.concat(monthly, ignore_index=True)[list(MONTHLY_COLUMNS)],
        history=pd.concat(history, ignore_index=True),
        warnings=found[list(WARNING_COLUMNS)].reset_index(drop=True),
        notes=tuple(_notes(months, reported)),
    )


def _no_warnings() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64" if c in ("value", "reference") else "str") for c in WARNING_COLUMNS}
    )


def _metric_quarter(
    facts: Facts,
    metric_id: str,
    window: list[str],
    months: list[str],
    reported: list[str],
    channel: str | None,
    settings: Settings,
) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One metric's summary row, its quarter months, its history and its warnings in the quarter."""
    spec = CATALOG[metric_id]
    series = metric_series(facts, metric_id, window, channel, settings)
    averaged = spec.unit in ADDITIVE_UNITS and not adds_up_over_months(metric_id)
    available = bool(series["available"].any())
    row = {
        "metric": metric_id, "label": spec.label, "stage": spec.stage, "kind": spec.kind, "unit": spec.unit,
        "direction": spec.direction, "key": metric_id in KEY_METRICS.values(),
        "aggregation": "total" if adds_up_over_months(metric_id) else "average",
        "available": available, "reason": None if available else series["reason"].iloc[0],
        "months_reported": len(reported), "warnings": 0,
    }  # fmt: skip
    found = _no_warnings()
    if available:  # the trend rules cost far more than an unavailable metric's series
        trend = trend_table(series, spec.direction, spec.unit, settings, label=spec.label)
        totals = trend_table(series, spec.direction, _AVERAGED_UNIT, settings) if averaged else trend
        totals = totals.set_index("month")
        now = totals.loc[reported[-1]]
        year_ago = str(pd.Period(reported[-1], freq="M") - 12)
        row |= {
            "value": now["qtd"], "previous": now["previous_qtd"], "last_year": totals["qtd"].get(year_ago, np.nan),
            "previous_quarter": now["previous_quarter"], "pacing": now["pacing"],
        }  # fmt: skip
        inside = trend[trend["month"].isin(reported)]
        # trend_warnings costs as much as the trend itself, and most metrics flag nothing.
        flagged = inside[["warn_two_months", "warn_below_median"]].to_numpy(dtype=bool).any()
        if flagged and metric_id not in MATURING_COHORT_RATES:
            found = trend_warnings(inside, metric_id, spec.label, spec.stage)
            row["warnings"] = len(found)
    quarter_rows = series.set_index("month").reindex(months)
    monthly = pd.DataFrame(
        {
            "metric": metric_id,
            "month": months,
            "reported": [m in reported for m in months],
            "value": quarter_rows["value"].to_numpy(dtype="float64"),
            "available": quarter_rows["available"].fillna(False).astype(bool).to_numpy(),
            "reason": quarter_rows["reason"].to_numpy(dtype=object),
        }
    )
    history = series.assign(metric=metric_id)[["metric", "month", "value", "available"]]
    return row, monthly, history, found


def _empty(quarter: str, channel: str | None, months: list[str], reason: str) -> QuarterView:
    summary = pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
    monthly = pd.DataFrame({c: pd.Series(dtype="float64") for c in MONTHLY_COLUMNS})
    history = pd.DataFrame({c: pd.Series(dtype="float64") for c in ("metric", "month", "value", "available")})
    return QuarterView(
        quarter, channel, tuple(months), (), summary, monthly, history, _no_warnings(), (), reason
    )


# ---------------------------------------------------------------------------------------------- funnel


@dataclass(frozen=True)
class QuarterFunnel:
    """The lifecycle funnel over a quarter's reported months: ``steps`` as ``funnels.Funnel.steps``."""

    mode: FunnelMode
    months: tuple[str, ...]
    steps: pd.DataFrame
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        """Whether the funnel could be built (leads are loaded)."""
        return self.reason is None


def quarter_funnel(
    data: Tables | Facts,
    months: Iterable[str],
    channel: str | None = None,
    settings: Settings | None = None,
    *,
    mode: FunnelMode = "cohort",
    by: str | None = None,
) -> QuarterFunnel:
    """The funnel over several months: cohort = leads created in them and the stages they reached to date;
    period = leads entering each stage in them. Counts are the monthly funnels' sums (a lead is created, or
    enters a stage, in one month only); median and p90 days are over all the months' leads."""
    facts = build_facts(data)
    months = tuple(months)
    parts = [funnel(facts, m, channel, settings or DEFAULT_SETTINGS, mode=mode, by=by) for m in months]  # type: ignore[arg-type]
    if not parts or not parts[0].available:
        reason = parts[0].reason if parts else "no month to show"
        return QuarterFunnel(mode, months, parts[0].steps if parts else pd.DataFrame(), (), reason)
    step_order = list(dict.fromkeys(parts[0].steps["step"]))
    members = pd.concat([p.members for p in parts], ignore_index=True)
    counts = pd.concat([p.steps for p in parts]).groupby(["group", "step"], sort=False)["count"].sum()
    days = members.groupby(["group", "step"], sort=False)["days_from_previous"]
    table = pd.DataFrame(
        {
            "count": counts,
            "median_days": days.median(),
            "p90_days": days.quantile(0.9),
            "n_timed": days.count(),
        }
    )
    sizes = table["count"].xs(step_order[0], level="step")
    # Biggest group first, "(not set)" last — the order the monthly funnel uses.
    groups = sorted(sizes.index, key=lambda g: (g == "(not set)", -sizes[g], g))
    grid = pd.MultiIndex.from_product([groups, step_order], names=["group", "step"])
    table = table.reindex(grid).reset_index()
    table["count"] = table["count"].fillna(0).astype("int64")
    table["n_timed"] = table["n_timed"].fillna(0).astype("int64")
    counts_f = table["count"].astype("float64")
    first = table.groupby("group", sort=False)["count"].transform("first").astype("float64")
    previous = table.groupby("group", sort=False)["count"].shift(1).astype("float64")
    table["pct_of_first"] = counts_f / first.where(first > 0)
    table["pct_of_previous"] = counts_f / previous.where(previous > 0)
    labels = parts[0].steps.drop_duplicates("step").set_index("step")["label"]
    table["label"] = table["step"].map(labels)
    return QuarterFunnel(mode, months, table[list(STEP_COLUMNS)], parts[0].notes)
