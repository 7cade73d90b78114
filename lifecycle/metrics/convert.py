"""Convert: SQLs, opportunities, customers, wins, bookings, cost and ROI (SPEC §5 ``convert.*``).

Decisions where SPEC §5 is silent:

- A deal is closed in M when ``closed_at`` is in M and its status is won or lost; an open deal's close date is
  an expected date and never counts. Won deals without an amount add 0 to bookings (counted in details).
- ``convert.mql_to_sql_rate`` / ``sql_to_customer_rate`` count a lead that skipped the stage (reached customer
  without an SQL date) as having passed it; the SQL date itself already falls back to the opportunity date and
  the first deal.
- ``convert.roi_12m``: the 12 calendar months ending with M, new-business bookings and spend of the channel;
  undefined (None) when no spend row falls in the window or the spend sums to 0.
- ``convert.days_to_close`` / ``days_lead_to_customer``: fractional days, negatives left out (see ``scope``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifecycle.metrics.catalog import MetricResult
from lifecycle.metrics.derived import parse_month
from lifecycle.metrics.nurture import reached
from lifecycle.metrics.scope import Scope, days_between, median_days, stage_unknown

UPSELL_TYPES = ("upsell", "cross_sell")


def customers_unknown(s: Scope) -> MetricResult | None:
    if s.facts.customers is None:
        return s.unavailable(
            "needs customers: a customers export (customers), customer dates on leads, or won deals (deals)"
        )
    return None


def _amount_unknown(s: Scope) -> MetricResult | None:
    if not s.facts.has_column("deals", "amount"):
        return s.needs_column("deals", "amount", "a deal amount column")
    return None


def closed_mask(s: Scope, status: str | None = None) -> np.ndarray:
    """Deals closed (won or lost) in the month; only ``status`` ones when given."""
    deals = s.facts.deals
    wanted = [status] if status else ["won", "lost"]
    return s.in_month(deals["closed_at"]) & deals["status"].isin(wanted).to_numpy()


def sqls(s: Scope) -> MetricResult:
    """Leads whose SQL date is in the month."""
    missing = stage_unknown(s, "sql_at")
    if missing:
        return missing
    mask = s.in_month(s.facts.leads["sql_at"])
    return s.result(int(mask.sum()), {}, s.rows(s.facts.leads, mask))


def opportunities(s: Scope) -> MetricResult:
    """Deals created in the month."""
    deals = s.facts.deals
    mask = s.in_month(deals["created_at"])
    by_type = {str(k): int(v) for k, v in deals["type"][mask].value_counts().items() if v}
    return s.result(int(mask.sum()), {"by_type": by_type}, s.rows(deals, mask))


def new_customers_mask(s: Scope) -> np.ndarray:
    """Customers whose start is in the month."""
    return s.in_month(s.facts.customers["start"])


def new_customers(s: Scope) -> MetricResult:
    """Customers whose start falls in the month."""
    missing = customers_unknown(s)
    if missing:
        return missing
    mask = new_customers_mask(s)
    details = {"customer_source": s.facts.info["customer_source"]}
    return s.result(int(mask.sum()), details, s.rows(s.facts.customers, mask))


def mql_to_sql_rate(s: Scope) -> MetricResult:
    """Of the leads with an MQL date in the month, the share that reached SQL (to date)."""
    missing = stage_unknown(s, "mql_at", "sql_at")
    if missing:
        return missing
    leads = s.facts.leads
    cohort = s.in_month(leads["mql_at"])
    passed = reached(leads, "sql_at", "customer_at")
    reason = f"no MQLs {s.where}"
    return s.ratio(int((cohort & passed).sum()), int(cohort.sum()), reason, rows=s.rows(leads, cohort))


def sql_to_customer_rate(s: Scope) -> MetricResult:
    """Of the leads with an SQL date in the month, the share that became customers (to date)."""
    missing = stage_unknown(s, "sql_at", "customer_at")
    if missing:
        return missing
    leads = s.facts.leads
    cohort = s.in_month(leads["sql_at"])
    passed = reached(leads, "customer_at")
    reason = f"no SQLs {s.where}"
    return s.ratio(int((cohort & passed).sum()), int(cohort.sum()), reason, rows=s.rows(leads, cohort))


def win_rate(s: Scope) -> MetricResult:
    """Deals closed in the month: won ÷ (won + lost)."""
    won, closed = closed_mask(s, "won"), closed_mask(s)
    details = {"won": int(won.sum()), "lost": int((closed & ~won).sum())}
    reason = f"no deals closed {s.where}"
    return s.ratio(int(won.sum()), int(closed.sum()), reason, details, s.rows(s.facts.deals, closed))


def deals_won(s: Scope) -> MetricResult:
    """Deals with status won and ``closed_at`` in the month."""
    won = closed_mask(s, "won")
    return s.result(int(won.sum()), {}, s.rows(s.facts.deals, won))


def _bookings(types: tuple[str, ...] | None) -> Callable[[Scope], MetricResult]:
    def metric(s: Scope) -> MetricResult:
        missing = _amount_unknown(s)
        if missing:
            return missing
        deals = s.facts.deals
        won = closed_mask(s, "won")
        if types is not None:
            won &= deals["type"].isin(types).to_numpy()
        amounts = deals["amount"].to_numpy()[won]
        details = {"deals": int(won.sum()), "deals_without_amount": int(np.isnan(amounts).sum())}
        return s.result(float(np.nansum(amounts)), details, s.rows(deals, won))

    metric.__doc__ = "Sum of the amounts of won deals closed in the month" + (
        f" of type {types}." if types else "."
    )
    return metric


def cost_per_sql(s: Scope) -> MetricResult:
    """Spend in the month ÷ SQLs in the month."""
    missing = stage_unknown(s, "sql_at")
    if missing:
        return missing
    mask = s.in_month(s.facts.leads["sql_at"])
    return s.cost_per(int(mask.sum()), "SQLs", s.rows(s.facts.leads, mask))


def cost_per_customer(s: Scope) -> MetricResult:
    """Spend in the month ÷ new customers in the month."""
    missing = customers_unknown(s)
    if missing:
        return missing
    mask = new_customers_mask(s)
    return s.cost_per(int(mask.sum()), "new customers", s.rows(s.facts.customers, mask))


def roi_12m(s: Scope) -> MetricResult:
    """(New-business bookings − spend) ÷ spend over the 12 months ending with the month."""
    missing = _amount_unknown(s)
    if missing:
        return missing
    months = s.settings.roi_months
    first = parse_month(s.month) - (months - 1)
    window_start = first.start_time.as_unit("us")
    deals = s.facts.deals
    closed = deals["closed_at"].to_numpy()
    won = (
        (closed >= window_start.to_datetime64())
        & (closed < s.end.to_datetime64())
        & deals["status"].eq("won").to_numpy()
        & deals["type"].eq("new").to_numpy()
    )
    bookings = float(np.nansum(deals["amount"].to_numpy()[won]))
    spend, spend_rows = s.spend_between(window_start, s.end)
    window = f"{first}–{s.month}"
    details = {"bookings_new": bookings, "spend": spend, "spend_rows": spend_rows, "window": window}
    rows = s.rows(deals, won)
    if spend_rows == 0 or spend == 0:
        where = f" for {s.channel}" if s.channel else ""
        return s.result(None, details, rows, reason=f"no spend{where} in the {months} months {window}")
    return s.result((bookings - spend) / spend, details, rows)


def days_to_close(s: Scope) -> MetricResult:
    """Won deals closed in the month: median days from created to closed."""
    deals = s.facts.deals
    won = closed_mask(s, "won")
    days = deals["days_to_close"][won]
    return median_days(s, days, s.rows(deals, won), f"no deals won {s.where}")


def days_lead_to_customer(s: Scope) -> MetricResult:
    """Customers new in the month with a lead: median days from lead created to customer start."""
    missing = customers_unknown(s)
    if missing:
        return missing
    customers = s.facts.customers
    mask = new_customers_mask(s) & customers["lead_created_at"].notna().to_numpy()
    days = days_between(customers["lead_created_at"][mask], customers["start"][mask])
    return median_days(s, days, s.rows(customers, mask), f"no new customers with a lead {s.where}")


METRICS: dict[str, Callable[[Scope], MetricResult]] = {
    "convert.sqls": sqls,
    "convert.opportunities": opportunities,
    "convert.new_customers": new_customers,
    "convert.mql_to_sql_rate": mql_to_sql_rate,
    "convert.sql_to_customer_rate": sql_to_customer_rate,
    "convert.win_rate": win_rate,
    "convert.deals_won": deals_won,
    "convert.bookings": _bookings(None),
    "convert.bookings_new": _bookings(("new",)),
    "convert.cost_per_sql": cost_per_sql,
    "convert.cost_per_customer": cost_per_customer,
    "convert.roi_12m": roi_12m,
    "convert.days_to_close": days_to_close,
    "convert.days_lead_to_customer": days_lead_to_customer,
}
