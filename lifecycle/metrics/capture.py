"""Capture: leads created and the cost and rate of creating them (SPEC §5 ``capture.*``).

Leads filter on the lead's channel, sessions and form counts on the web traffic channel, spend on its own
channel. ``visit_to_lead_rate`` and ``form_conversion_rate`` divide counts reported by different tools (or
different GA4 events), so they are ratios, not strict shares: they are not capped at 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifecycle.metrics.attract import traffic_sum
from lifecycle.metrics.catalog import MetricResult
from lifecycle.metrics.scope import Scope


def created_mask(s: Scope) -> np.ndarray:
    """Leads created in the month (for the scope's channel)."""
    return s.in_month(s.facts.leads["created_at"])


def new_leads(s: Scope) -> MetricResult:
    """Leads with ``created_at`` in the month."""
    mask = created_mask(s)
    return s.result(int(mask.sum()), {}, s.rows(s.facts.leads, mask))


def visit_to_lead_rate(s: Scope) -> MetricResult:
    """New leads in the month ÷ sessions in the month."""
    mask = created_mask(s)
    sessions, _ = traffic_sum(s, "sessions")
    return s.ratio(int(mask.sum()), sessions, f"no sessions {s.where}", rows=s.rows(s.facts.leads, mask))


def form_conversion_rate(s: Scope) -> MetricResult:
    """Form submissions ÷ form views in the month (web traffic)."""
    for column in ("form_views", "form_submissions"):
        if not s.facts.has_column("web_traffic", column):
            return s.needs_column("web_traffic", column)
    submissions, mask = traffic_sum(s, "form_submissions")
    views, _ = traffic_sum(s, "form_views")
    return s.ratio(submissions, views, f"no form views {s.where}", rows=s.rows(s.facts.traffic, mask))


def cost_per_lead(s: Scope) -> MetricResult:
    """Spend in the month ÷ leads created in the month."""
    mask = created_mask(s)
    return s.cost_per(int(mask.sum()), "new leads", s.rows(s.facts.leads, mask))


METRICS: dict[str, Callable[[Scope], MetricResult]] = {
    "capture.new_leads": new_leads,
    "capture.visit_to_lead_rate": visit_to_lead_rate,
    "capture.form_conversion_rate": form_conversion_rate,
    "capture.cost_per_lead": cost_per_lead,
}
