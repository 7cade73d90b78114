"""The metrics engine: every catalog metric for a month and channel, as results, series or the CLI payload.

Facts are built once (``build_facts``) and every call accepts either raw tables or those facts; pass facts when
computing many months, channels or metrics. A month is "YYYY-MM"; a channel is spelled as in the data.

Decisions where SPEC is silent:

- ``months_in_data`` spans event dates only: lead stage dates, deal creation and *closed* deals' close dates
  (an open deal's close date is an expected date, often in the future), customer starts and churns, email
  sends, score changes, spend, web traffic and NPS responses.
- ``default_month``: the month before the one holding the latest date; when the data covers a single month,
  that month (there is no earlier one to report).
- A channel that does not occur in the data gives counts of 0 and undefined rates (it is not an error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lifecycle.metrics import attract, capture, convert, expand, nurture
from lifecycle.metrics.catalog import CATALOG, MetricResult, needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.scope import Scope
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

MetricFunction = Callable[[Scope], MetricResult]

FUNCTIONS: dict[str, MetricFunction] = {
    **attract.METRICS,
    **capture.METRICS,
    **nurture.METRICS,
    **convert.METRICS,
    **expand.METRICS,
}
if set(FUNCTIONS) != set(CATALOG):  # a catalog entry without a computation (or vice versa) is a bug
    raise RuntimeError(f"catalog and computations differ: {sorted(set(FUNCTIONS) ^ set(CATALOG))}")


def _definition(metric_id: str) -> MetricFunction:
    if metric_id not in FUNCTIONS:
        raise ValueError(f"unknown metric {metric_id!r}; known metrics: {', '.join(CATALOG)}")
    return FUNCTIONS[metric_id]


def _scope(
    facts: Facts, period: pd.Period, channel: str | None, settings: Settings, with_rows: bool
) -> Scope:
    start, end = month_bounds(period)
    return Scope(facts.view(channel), str(period), start, end, channel, settings, "", with_rows)


def _compute(facts: Facts, metric_id: str, scope: Scope) -> MetricResult:
    function = _definition(metric_id)
    definition = CATALOG[metric_id]
    missing = definition.missing(facts.present)
    if missing:
        return MetricResult(metric_id, None, definition.unit, False, needs_text(missing), {}, None)
    return function(replace(scope, metric_id=metric_id))


SERIES_MEMO_LIMIT = 100_000
"""Most (metric, month, channel, settings) values one facts object remembers; the memo starts over past it."""


RECENT_MONTHS = 4
"""Whole results (details and drill-through rows) of the last few (month, channel, settings) computed with
``compute_all`` (the CLI's ``metrics``, a month switch back and forth): that month again, or some of its metrics
through ``compute_metrics``, compute nothing again."""


def _remember(facts: Facts, key: tuple[Any, ...], result: MetricResult) -> tuple[Any, bool, str | None]:
    """Keep ``result``'s value under ``key``; returns what was kept (facts shared by several sessions may see
    their memo start over between this store and a read of it)."""
    memo = facts.cache.setdefault("series", {})
    if len(memo) >= SERIES_MEMO_LIMIT:
        memo.clear()
    kept = (result.value, result.available, result.reason)
    memo[key] = kept
    return kept


def _series_key(metric_id: str, month: str, channel: str | None, settings: Settings) -> tuple[Any, ...]:
    return (metric_id, month, channel, settings)


def compute_metric(
    data: Tables | Facts,
    metric_id: str,
    month: str,
    channel: str | None = None,
    settings: Settings | None = None,
) -> MetricResult:
    """One metric for month "YYYY-MM" (and channel, when given), with the rows behind it."""
    return compute_metrics(data, [metric_id], month, channel, settings)[metric_id]


def compute_metrics(
    data: Tables | Facts,
    metric_ids: Iterable[str],
    month: str,
    channel: str | None = None,
    settings: Settings | None = None,
) -> dict[str, MetricResult]:
    """Some catalog metrics for one month and channel, with their rows: only these are computed (a page's
    cards do not wait for the forty metrics of every stage), or taken from :func:`compute_all`'s results
    when a caller computed that month whole lately."""
    metric_ids = list(metric_ids)
    for metric_id in metric_ids:
        _definition(metric_id)  # an unknown id is a ValueError, whatever is cached
    facts = build_facts(data)
    settings = settings or DEFAULT_SETTINGS
    period = parse_month(month)
    whole = facts.cache.get("recent", {}).get((str(period), channel, settings))
    if whole is not None:
        return {metric_id: whole[metric_id] for metric_id in metric_ids}
    scope = _scope(facts, period, channel, settings, True)
    results = {metric_id: _compute(facts, metric_id, scope) for metric_id in metric_ids}
    for metric_id, result in results.items():
        _remember(facts, _series_key(metric_id, str(period), channel, settings), result)
    return results


def compute_all(
    data: Tables | Facts, month: str, channel: str | None = None, settings: Settings | None = None
) -> dict[str, MetricResult]:
    """Every catalog metric for one month and channel, in catalog order (facts built once)."""
    facts = build_facts(data)
    settings = settings or DEFAULT_SETTINGS
    period = parse_month(month)
    recent: dict[Any, dict[str, MetricResult]] = facts.cache.setdefault("recent", {})
    key = (str(period), channel, settings)
    if key in recent:
        recent[key] = recent.pop(key)  # most recently used last
        return dict(recent[key])
    scope = _scope(facts, period, channel, settings, True)
    results = {metric_id: _compute(facts, metric_id, scope) for metric_id in CATALOG}
    for metric_id, result in results.items():
        _remember(facts, _series_key(metric_id, str(period), channel, settings), result)
    recent[key] = results
    while len(recent) > RECENT_MONTHS:
        recent.pop(next(iter(recent)))
    return dict(results)


def series_values(
    data: Tables | Facts,
    metric_id: str,
    months: Iterable[str],
    channel: str | None = None,
    settings: Settings | None = None,
) -> tuple[list[str], list[tuple[Any, bool, str | None]]]:
    """What :func:`metric_series` holds, as plain lists: the months "YYYY-MM" and each month's (value,
    available, reason) — for callers reading many short series, where building frames would dominate."""
    facts = build_facts(data)
    settings = settings or DEFAULT_SETTINGS
    _definition(metric_id)
    memo = facts.cache.setdefault("series", {})
    labels = [str(parse_month(m)) for m in months]
    values = []
    for label in labels:
        key = _series_key(metric_id, label, channel, settings)
        kept = memo.get(key)
        if kept is None:
            kept = _remember(
                facts,
                key,
                _compute(facts, metric_id, _scope(facts, parse_month(label), channel, settings, False)),
            )
        values.append(kept)
    return labels, values


def metric_series(
    data: Tables | Facts,
    metric_id: str,
    months: Iterable[str],
    channel: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One metric over several months: columns ``month``, ``value``, ``available``, ``reason``.

    Facts are built once and each month is a mask over them (no drill-through rows are built). Values are
    remembered on the facts, so trends, sparklines and warnings over overlapping months compute each
    (metric, month, channel, settings) once.
    """
    labels, values = series_values(data, metric_id, months, channel, settings)
    return pd.DataFrame(
        {
            "month": labels,
            "value": pd.array([v for v, _, _ in values], dtype="Float64").astype("float64"),
            "available": [a for _, a, _ in values],
            "reason": pd.array([r for _, _, r in values], dtype="str"),
        }
    )


# ---------------------------------------------------------------- every value, saved with the facts

VALUE_COLUMNS = ("metric", "month", "value", "available", "reason")
SAVED_MONTHS = 36
"""Months of values saved with the facts: a 24-month trend of the latest month plus its year-over-year months."""


def recent_values(facts: Facts, settings: Settings | None = None) -> pd.DataFrame:
    """Every catalog metric's value, all channels together, in each of the last ``SAVED_MONTHS`` months of the
    data: what the overview's sparklines, warnings and pacing and the trend charts read. Columns
    ``VALUE_COLUMNS``; ``value`` is float (NaN when there is none), ``reason`` missing when there is none."""
    settings = settings or DEFAULT_SETTINGS
    months = months_in_data(facts)[-SAVED_MONTHS:]
    series = [metric_series(facts, metric_id, months, None, settings) for metric_id in CATALOG]
    out = pd.concat(series, ignore_index=True)
    out.insert(0, "metric", pd.array(np.repeat(list(CATALOG), len(months)), dtype="str"))
    return out[list(VALUE_COLUMNS)]


def remember_values(facts: Facts, values: pd.DataFrame, settings: Settings | None = None) -> None:
    """Take ``values`` (from :func:`recent_values` of the same facts and settings) as already computed: series
    of all channels over those months read them instead of computing them."""
    settings = settings or DEFAULT_SETTINGS
    memo = facts.cache.setdefault("series", {})
    if len(memo) + len(values) > SERIES_MEMO_LIMIT:
        return
    counts = {metric_id for metric_id, d in CATALOG.items() if d.unit == "count"}
    columns = zip(*(values[c].tolist() for c in VALUE_COLUMNS), strict=True)
    for metric_id, month, value, available, reason in columns:
        if value != value:  # NaN: no value
            value = None
        elif metric_id in counts and value.is_integer():
            value = int(value)  # as Scope.result gives counts
        reason = None if reason != reason or reason is None else reason
        memo[_series_key(metric_id, month, None, settings)] = (value, bool(available), reason)


# ---------------------------------------------------------------- months and channels


def _event_dates(facts: Facts) -> Iterable[pd.Series]:
    if facts.leads is not None:
        for col in (
            "created_at",
            "mql_at",
            "sql_at",
            "opportunity_at",
            "customer_at",
            "recycled_at",
            "reopened_at",
        ):
            yield facts.leads[col]
    if facts.deals is not None:
        yield facts.deals["created_at"]
        yield facts.deals["closed_at"][facts.deals["status"].ne("open").to_numpy()]
    if facts.customers is not None:
        yield facts.customers["start"]
        yield facts.customers["churned_at"]
    for frame, col in ((facts.sends, "sent_at"), (facts.email_summary, "sent_at"), (facts.spend, "date"),
                       (facts.traffic, "date"), (facts.nps, "responded_at")):  # fmt: skip
        if frame is not None:
            yield frame[col]
    if facts.scores is not None:
        yield facts.scores.changes["at"]


def event_date_range(facts: Facts) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The earliest and latest event date of the facts (see ``months_in_data``; None without dates)."""
    if "date_range" not in facts.cache:
        lows, highs = [], []
        for values in _event_dates(facts):
            if values.notna().any():
                lows.append(values.min())
                highs.append(values.max())
        facts.cache["date_range"] = (min(lows), max(highs)) if lows else None
    return facts.cache["date_range"]


def months_in_data(data: Tables | Facts) -> list[str]:
    """Every month "YYYY-MM" from the earliest to the latest event date across the tables (empty: none)."""
    span = event_date_range(build_facts(data))
    if span is None:
        return []
    months = pd.period_range(span[0].to_period("M"), span[1].to_period("M"), freq="M")
    return [str(p) for p in months]


def default_month(data: Tables | Facts) -> str | None:
    """The last complete month: the month before the one holding the latest date (None without dates)."""
    span = event_date_range(build_facts(data))
    if span is None:
        return None
    first, last = span[0].to_period("M"), span[1].to_period("M")
    return str(max(last - 1, first))


def channels(data: Tables | Facts) -> list[str]:
    """Channels occurring in the data, sorted, with ``(not set)`` last."""
    return list(build_facts(data).channels)


# ---------------------------------------------------------------- JSON payload (SPEC §6)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers, NaN/inf as None and timestamps as ISO text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | pd.Period):
        return (
            None if pd.isna(value) else str(value.isoformat() if isinstance(value, pd.Timestamp) else value)
        )
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def result_payload(result: MetricResult) -> dict[str, Any]:
    """One result as SPEC §6 JSON: value, unit, available, reason, details."""
    return {
        "value": jsonable(result.value),
        "unit": result.unit,
        "available": bool(result.available),
        "reason": result.reason,
        "details": jsonable(result.details),
    }


def metrics_payload(
    tables: Tables | Facts,
    month: str | None = None,
    channel: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Every metric of a month (default: the last complete month) as the SPEC §6 ``metrics`` JSON."""
    facts = build_facts(tables)
    if month is None:
        month = default_month(facts)
        if month is None:
            raise ValueError(
                "the workspace holds no dated rows: load an export first (python -m lifecycle ingest)"
            )
    month = str(parse_month(month))
    results = compute_all(facts, month, channel, settings)
    return {
        "month": month,
        "channel": channel,
        "metrics": {metric_id: result_payload(result) for metric_id, result in results.items()},
    }
