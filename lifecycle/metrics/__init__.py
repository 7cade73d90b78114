"""Lifecycle metrics (SPEC §5): the catalog, derived facts and the engine computing every metric.

Typical use::

    facts = build_facts(tables)                      # once per dataset (heavy work)
    results = compute_all(facts, "2026-03", channel=None)
    series = metric_series(facts, "nurture.mqls", months_in_data(facts))
"""

from lifecycle.metrics.catalog import (
    CATALOG,
    KEY_METRICS,
    STAGE_COLORS,
    STAGE_LABELS,
    STAGE_QUESTIONS,
    STAGES,
    MetricDef,
    MetricResult,
    stage_metrics,
)
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.engine import (
    channels,
    compute_all,
    compute_metric,
    compute_metrics,
    default_month,
    metric_series,
    metrics_payload,
    months_in_data,
    result_payload,
)
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings

__all__ = [
    "CATALOG",
    "DEFAULT_SETTINGS",
    "KEY_METRICS",
    "STAGES",
    "STAGE_COLORS",
    "STAGE_LABELS",
    "STAGE_QUESTIONS",
    "Facts",
    "MetricDef",
    "MetricResult",
    "Settings",
    "build_facts",
    "channels",
    "compute_all",
    "compute_metric",
    "compute_metrics",
    "default_month",
    "metric_series",
    "metrics_payload",
    "month_bounds",
    "months_in_data",
    "parse_month",
    "result_payload",
    "stage_metrics",
]
