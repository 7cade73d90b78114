"""Attract: traffic volume and its cost (SPEC §5 ``attract.*``), from web traffic and spend.

Web traffic and spend are filtered on their own ``channel`` (empty → ``(not set)``). A month without traffic
rows has 0 sessions (the count of nothing), which keeps sums over channels equal to the total.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifecycle.metrics.catalog import MetricResult
from lifecycle.metrics.scope import Scope


def traffic_sum(s: Scope, column: str) -> tuple[float, np.ndarray]:
    """Sum of a web-traffic column in the month (missing values count 0) and the rows' mask."""
    traffic = s.facts.traffic
    mask = s.in_month(traffic["date"])
    return float(np.nansum(traffic[column].to_numpy()[mask])), mask


def _sum_metric(column: str) -> Callable[[Scope], MetricResult]:
    def metric(s: Scope) -> MetricResult:
        if not s.facts.has_column("web_traffic", column):
            return s.needs_column("web_traffic", column)
        value, mask = traffic_sum(s, column)
        return s.result(value, {"rows": int(mask.sum())}, s.rows(s.facts.traffic, mask))

    metric.__doc__ = f"Sum of web traffic ``{column}`` dated in the month."
    return metric


def cost_per_visit(s: Scope) -> MetricResult:
    """Spend in the month ÷ sessions in the month."""
    sessions, mask = traffic_sum(s, "sessions")
    return s.cost_per(sessions, "sessions", s.rows(s.facts.traffic, mask))


METRICS: dict[str, Callable[[Scope], MetricResult]] = {
    "attract.sessions": _sum_metric("sessions"),
    "attract.visitors": _sum_metric("users"),
    "attract.new_visitors": _sum_metric("new_users"),
    "attract.cost_per_visit": cost_per_visit,
}
