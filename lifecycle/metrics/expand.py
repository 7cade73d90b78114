"""Expand: customer emails, active and churned customers, upsell and NPS (SPEC §5 ``expand.*``).

Decisions where SPEC §5 is silent:

- Active customers: started before M and not churned before M (a churn on the 1st of M is still active at
  the start of M). Without churn dates (customers derived from deals, or no ``churned_at`` column) every
  started customer counts as active, and details say so.
- ``expand.churn_rate``: customers active at the start of M who churned in M ÷ those active at the start of M,
  so it is a share; customers who start and churn within M appear in ``expand.churned_customers`` only.
- ``expand.upsell_share`` needs a deal ``type`` column: without it every deal is new business and the share
  would be a meaningless 0. Renewals count in the denominator only.
- ``expand.nps``: responses with a score outside 0–10 are left out (counted in details); each response counts
  (a respondent answering twice in M counts twice). Verbatims: non-empty comments, most recent first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifecycle.metrics.catalog import MetricResult
from lifecycle.metrics.convert import UPSELL_TYPES, closed_mask, customers_unknown
from lifecycle.metrics.nurture import email_rate
from lifecycle.metrics.scope import Scope


def _churn_unknown(s: Scope) -> MetricResult | None:
    if not s.facts.info["churn_known"]:
        return s.unavailable(
            "needs churn dates: a customers export with a churn / cancellation date (customers)"
        )
    return None


def active_at_start(s: Scope) -> np.ndarray:
    """Customers started before the month and not churned before it."""
    customers = s.facts.customers
    return s.before_month(customers["start"]) & ~s.before_month(customers["churned_at"])


def active_customers(s: Scope) -> MetricResult:
    """Customers started before the month and not churned before it."""
    missing = customers_unknown(s)
    if missing:
        return missing
    mask = active_at_start(s)
    details = {"customer_source": s.facts.info["customer_source"]}
    if not s.facts.info["churn_known"]:
        details["note"] = "churn dates unknown: every customer that started counts as active"
    return s.result(int(mask.sum()), details, s.rows(s.facts.customers, mask))


def churned_customers(s: Scope) -> MetricResult:
    """Customers whose ``churned_at`` is in the month."""
    missing = _churn_unknown(s)
    if missing:
        return missing
    mask = s.in_month(s.facts.customers["churned_at"])
    return s.result(int(mask.sum()), {}, s.rows(s.facts.customers, mask))


def churn_rate(s: Scope) -> MetricResult:
    """Customers active at the start of the month who churned in it ÷ customers active at its start."""
    missing = _churn_unknown(s)
    if missing:
        return missing
    active = active_at_start(s)
    churned = s.in_month(s.facts.customers["churned_at"])
    details = {
        "churned_in_month": int(churned.sum()),
        "started_and_churned_in_month": int((churned & ~active).sum()),
    }
    reason = f"no active customers at the start of {s.month}" + (f" for {s.channel}" if s.channel else "")
    rows = s.rows(s.facts.customers, active & churned)
    return s.ratio(int((active & churned).sum()), int(active.sum()), reason, details, rows)


def upsell_share(s: Scope) -> MetricResult:
    """Won amount of upsell and cross-sell deals closed in the month ÷ won amount of all deals closed in it."""
    for column, what in (("amount", "a deal amount column"), ("type", "a deal type column (new / upsell …)")):
        if not s.facts.has_column("deals", column):
            return s.needs_column("deals", column, what)
    deals = s.facts.deals
    won = closed_mask(s, "won")
    amounts = np.nan_to_num(deals["amount"].to_numpy())
    upsell = won & deals["type"].isin(UPSELL_TYPES).to_numpy()
    details = {"reference": "10–30 % young company, about 50 % or more established"}
    reason = f"no won deal amount {s.where}"
    return s.ratio(
        float(amounts[upsell].sum()), float(amounts[won].sum()), reason, details, s.rows(deals, won)
    )


def nps(s: Scope) -> MetricResult:
    """Responses in the month: % promoters (9–10) minus % detractors (0–6)."""
    responses = s.facts.nps
    in_month = s.in_month(responses["responded_at"])
    scores = responses["score"].to_numpy()
    valid = in_month & (scores >= 0) & (scores <= 10)
    promoters = int((valid & (scores >= 9)).sum())
    detractors = int((valid & (scores <= 6)).sum())
    n = int(valid.sum())
    chosen = responses[valid]
    comment = chosen["comment"].str.strip()
    commented = chosen[(comment.notna() & comment.ne("")).to_numpy()]
    commented = commented.sort_values("responded_at", ascending=False, kind="stable").head(
        s.settings.max_verbatims
    )
    verbatims = [
        {"responded_at": at.isoformat(), "score": float(score), "comment": str(comment)}
        for at, score, comment in zip(
            commented["responded_at"], commented["score"], commented["comment"], strict=True
        )
    ]
    details = {
        "n": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "excluded_out_of_range": int((in_month & ~valid).sum()),
        "verbatims": verbatims,
    }
    if s.channel and not s.facts.info["nps_filterable"]:
        details["channel_filter"] = "not applied: NPS responses do not join to customers"
    rows = s.rows(responses, valid)
    if n == 0:
        return s.result(None, details, rows, reason=f"no NPS responses {s.where}")
    return s.result(100.0 * (promoters - detractors) / n, details, rows)


METRICS: dict[str, Callable[[Scope], MetricResult]] = {
    "expand.customer_open_rate": email_rate("customer", "opened", "delivered"),
    "expand.customer_ctr": email_rate("customer", "clicked", "delivered"),
    "expand.active_customers": active_customers,
    "expand.churned_customers": churned_customers,
    "expand.churn_rate": churn_rate,
    "expand.upsell_share": upsell_share,
    "expand.nps": nps,
}
