"""The metric catalog (SPEC §5): the single source of ids, labels, units, directions and definitions.

Pages, the glossary, the CLI and the report read labels and definitions from here; the computations live in
one module per stage (``attract`` … ``expand``) and are registered by id in ``engine``.

``MetricDef.tables`` is a tuple of *requirements*; each requirement is a tuple of alternative tables, any one
of which satisfies it. ``(("spend",), ("leads", "lead_stages"))`` reads "spend AND (leads OR lead_stages)".
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from lifecycle.schema import TABLES

Stage = Literal["attract", "capture", "nurture", "convert", "expand"]
Kind = Literal["activity", "outcome"]
Unit = Literal["count", "rate", "currency", "days", "score", "nps"]
Direction = Literal["up", "down"]

STAGES: tuple[str, ...] = ("attract", "capture", "nurture", "convert", "expand")
STAGE_LABELS: dict[str, str] = {
    "attract": "Attract",
    "capture": "Capture",
    "nurture": "Nurture",
    "convert": "Convert",
    "expand": "Expand",
}
STAGE_QUESTIONS: dict[str, str] = {
    "attract": "Are we reaching enough of the right people?",
    "capture": "Do visitors become leads, and at what cost?",
    "nurture": "Are leads engaging and becoming marketing-qualified?",
    "convert": "Do qualified leads become customers and bookings, at a return?",
    "expand": "Do customers stay, grow and recommend us?",
}
# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies and in greyscale order.
STAGE_COLORS: dict[str, str] = {
    "attract": "#0072B2",  # blue
    "capture": "#009E73",  # bluish green
    "nurture": "#E69F00",  # orange
    "convert": "#D55E00",  # vermillion
    "expand": "#CC79A7",  # reddish purple
}

LEADS = ("leads", "lead_stages")
CUSTOMER_SOURCES = ("customers", "leads", "lead_stages", "deals")
EMAILS = ("email_events", "email_sends")


@dataclass(frozen=True)
class MetricDef:
    """What a metric is: its id, label, stage, kind, unit, good direction, glossary sentence and tables."""

    id: str
    label: str
    stage: Stage
    kind: Kind
    unit: Unit
    direction: Direction
    definition: str
    tables: tuple[tuple[str, ...], ...]
    """Requirements: every group is needed; any one table of a group satisfies it."""
    note: str | None = None
    """Caveat shown beside the value in the UI."""

    def missing(self, present: Collection[str]) -> list[tuple[str, ...]]:
        """Requirement groups that none of the `present` tables satisfies."""
        return [group for group in self.tables if not any(t in present for t in group)]

    def requirement_text(self) -> str:
        """The tables in words, e.g. "spend and (leads or lead_stages)"."""
        parts = [g[0] if len(g) == 1 else "(" + " or ".join(g) + ")" for g in self.tables]
        return " and ".join(parts)


def needs_text(groups: list[tuple[str, ...]]) -> str:
    """Reason for an unavailable metric, naming the export(s) that would enable it (schema `enables`)."""
    parts = [
        " or ".join(t.replace("_", " ") for t in group)
        + ": "
        + ", or ".join(TABLES[t].enables for t in group)
        for group in groups
    ]
    return "needs " + "; and ".join(parts)


class _LazyRows:
    """Descriptor for ``MetricResult.rows``: accepts a frame or a zero-argument function building it.

    Selecting the rows behind every metric costs more than the metrics themselves on large data, and only a
    drill-through reads them, so they are built on first access and kept.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self._slot)
        if callable(value):
            value = value()
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        # field(default=descriptor) passes the descriptor itself as the default value.
        obj.__dict__[self._slot] = None if isinstance(value, _LazyRows) else value


@dataclass
class MetricResult:
    """One metric for one month and channel: value (None when unavailable or undefined) and its context."""

    id: str
    value: float | int | None
    unit: str
    available: bool
    reason: str | None = None
    """Unavailable: which export would enable it. Available with value None: why (e.g. zero denominator)."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable extras (counts, quantiles, notes)."""
    rows: pd.DataFrame | None = field(default=_LazyRows(), repr=False, compare=False)  # type: ignore[assignment]
    """The rows behind the number (leads, deals, customers, responses …) for drill-through; not in JSON.
    May be given as a function returning the frame: it runs on first access."""

    @property
    def row_count(self) -> int | None:
        """How many rows are behind the number (None without rows), without selecting them when the function
        giving them can count them (``row_count``)."""
        pending = self.__dict__.get("_rows")
        counted = getattr(pending, "row_count", None) if callable(pending) else None
        if counted is not None:
            return int(counted)
        rows = self.rows
        return None if rows is None else len(rows)


def _m(
    id: str,
    label: str,
    kind: Kind,
    unit: Unit,
    direction: Direction,
    definition: str,
    tables: tuple[tuple[str, ...], ...],
    note: str | None = None,
) -> MetricDef:
    stage = id.split(".", 1)[0]
    return MetricDef(id, label, stage, kind, unit, direction, definition, tables, note)  # type: ignore[arg-type]


_SPEND_NOTE = (
    "Spend is counted in the month of its date (a monthly spend row dated on the 1st counts in full)."
)

CATALOG: dict[str, MetricDef] = {
    m.id: m
    for m in (
        # ------------------------------------------------------------------ attract
        _m("attract.sessions", "Sessions", "activity", "count", "up",
           "Web sessions in the month (sum of web traffic sessions).", (("web_traffic",),)),
        _m("attract.visitors", "Visitors", "activity", "count", "up",
           "Visitors in the month (sum of web traffic users).", (("web_traffic",),),
           "Summing daily users counts a person who returns on several days more than once."),
        _m("attract.new_visitors", "New visitors", "activity", "count", "up",
           "First-time visitors in the month (sum of web traffic new users).", (("web_traffic",),)),
        _m("attract.cost_per_visit", "Cost per visit", "activity", "currency", "down",
           "Spend in the month divided by sessions in the month.", (("spend",), ("web_traffic",)), _SPEND_NOTE),
        # ------------------------------------------------------------------ capture
        _m("capture.new_leads", "New leads", "outcome", "count", "up",
           "Leads created in the month.", (LEADS,)),
        _m("capture.visit_to_lead_rate", "Visit-to-lead rate", "outcome", "rate", "up",
           "New leads divided by sessions in the month.", (LEADS, ("web_traffic",)),
           "Leads and sessions come from different tools; the ratio is not a strict share."),
        _m("capture.form_conversion_rate", "Form conversion rate", "outcome", "rate", "up",
           "Form submissions divided by form views in the month.", (("web_traffic",),)),
        _m("capture.cost_per_lead", "Cost per lead", "outcome", "currency", "down",
           "Spend in the month divided by leads created in the month.", (("spend",), LEADS), _SPEND_NOTE),
        # ------------------------------------------------------------------ nurture
        _m("nurture.new_leads", "Leads entering nurture", "activity", "count", "up",
           "Leads created in the month that entered an automated program (all new leads when no program "
           "is recorded).", (LEADS,)),
        _m("nurture.reopened_leads", "Reopened leads", "outcome", "count", "up",
           "Recycled leads that re-engaged in the month (reopened date, else first email open/click or "
           "positive score change after being recycled).", (LEADS,)),
        _m("nurture.recycled_leads", "Recycled leads", "outcome", "count", "down",
           "Leads sent back by sales or marked not ready in the month.", (LEADS,)),
        _m("nurture.email_open_rate", "Email open rate", "activity", "rate", "up",
           "Prospect emails sent in the month: unique opens divided by delivered.", (EMAILS,),
           "Opens are inflated by privacy proxies (e.g. Apple Mail) that pre-load images."),
        _m("nurture.email_ctr", "Email click-through rate", "activity", "rate", "up",
           "Prospect emails sent in the month: unique clicks divided by delivered.", (EMAILS,)),
        _m("nurture.click_to_open", "Click-to-open rate", "activity", "rate", "up",
           "Prospect emails sent in the month: unique clicks divided by unique opens.", (EMAILS,)),
        _m("nurture.score_profile", "Cohort score (median)", "outcome", "score", "up",
           "Median score at the end of the month of the leads created in the month.",
           (LEADS, ("score_changes", "leads"))),
        _m("nurture.mqls", "MQLs", "outcome", "count", "up",
           "Leads that became marketing-qualified in the month.", (LEADS,)),
        _m("nurture.lead_to_mql_rate", "Lead-to-MQL rate", "outcome", "rate", "up",
           "Of the leads created in the month, the share that reached MQL (to date).", (LEADS,)),
        _m("nurture.cost_per_mql", "Cost per MQL", "outcome", "currency", "down",
           "Spend in the month divided by MQLs in the month.", (("spend",), LEADS), _SPEND_NOTE),
        # ------------------------------------------------------------------ convert
        _m("convert.sqls", "SQLs", "outcome", "count", "up",
           "Leads that became sales-qualified in the month (SQL date, else opportunity date, else first "
           "deal created).", (LEADS,)),
        _m("convert.opportunities", "Opportunities", "outcome", "count", "up",
           "Deals created in the month.", (("deals",),)),
        _m("convert.new_customers", "New customers", "outcome", "count", "up",
           "Customers whose start falls in the month.", (CUSTOMER_SOURCES,)),
        _m("convert.mql_to_sql_rate", "MQL-to-SQL rate", "outcome", "rate", "up",
           "Of the leads that became MQL in the month, the share that reached SQL (to date).", (LEADS,)),
        _m("convert.sql_to_customer_rate", "SQL-to-customer rate", "outcome", "rate", "up",
           "Of the leads that became SQL in the month, the share that became customers (to date).", (LEADS,)),
        _m("convert.win_rate", "Win rate", "outcome", "rate", "up",
           "Deals closed in the month: won divided by won plus lost.", (("deals",),)),
        _m("convert.deals_won", "Deals won", "outcome", "count", "up",
           "Deals won (closed as won in the month).", (("deals",),)),
        _m("convert.bookings", "Bookings", "outcome", "currency", "up",
           "Amount of the deals won in the month.", (("deals",),)),
        _m("convert.bookings_new", "New-business bookings", "outcome", "currency", "up",
           "Amount of the new-business deals won in the month.", (("deals",),)),
        _m("convert.cost_per_sql", "Cost per SQL", "outcome", "currency", "down",
           "Spend in the month divided by SQLs in the month.", (("spend",), LEADS), _SPEND_NOTE),
        _m("convert.cost_per_customer", "Cost per customer", "outcome", "currency", "down",
           "Spend in the month divided by new customers in the month.", (("spend",), CUSTOMER_SOURCES),
           _SPEND_NOTE),
        _m("convert.roi_12m", "Marketing ROI (12 months)", "outcome", "rate", "up",
           "Over the 12 months ending with the month: (new-business bookings − spend) divided by spend.",
           (("spend",), ("deals",)), "A return, not a share: 2.0 means bookings were three times the spend."),
        _m("convert.days_to_close", "Days to close", "outcome", "days", "down",
           "Deals won in the month: median days from deal created to closed.", (("deals",),)),
        _m("convert.days_lead_to_customer", "Days lead to customer", "outcome", "days", "down",
           "Customers new in the month with a lead: median days from lead created to customer start.",
           (LEADS,)),
        # ------------------------------------------------------------------ expand
        _m("expand.customer_open_rate", "Customer email open rate", "activity", "rate", "up",
           "Customer emails sent in the month: unique opens divided by delivered.", (EMAILS,),
           "Opens are inflated by privacy proxies (e.g. Apple Mail) that pre-load images."),
        _m("expand.customer_ctr", "Customer email click-through rate", "activity", "rate", "up",
           "Customer emails sent in the month: unique clicks divided by delivered.", (EMAILS,)),
        _m("expand.active_customers", "Active customers", "outcome", "count", "up",
           "Customers started before the month and not churned before it.", (CUSTOMER_SOURCES,)),
        _m("expand.churned_customers", "Churned customers", "outcome", "count", "down",
           "Customers whose churn date falls in the month.", (("customers",),)),
        _m("expand.churn_rate", "Churn rate", "outcome", "rate", "down",
           "Customers active at the start of the month who churned in it, divided by those active at the "
           "start.", (("customers",),)),
        _m("expand.upsell_share", "Upsell share of bookings", "outcome", "rate", "up",
           "Won amount of upsell and cross-sell deals closed in the month divided by won amount of all deals "
           "closed in it.", (("deals",),),
           "Reference: 10–30 % for a young company, about 50 % or more for an established one."),
        _m("expand.nps", "Net Promoter Score", "outcome", "nps", "up",
           "Responses in the month: % promoters (9–10) minus % detractors (0–6).", (("nps",),)),
    )
}  # fmt: skip

KEY_METRICS: dict[str, str] = {
    "attract": "attract.sessions",
    "capture": "capture.new_leads",
    "nurture": "nurture.mqls",
    "convert": "convert.new_customers",
    "expand": "expand.churn_rate",
}
"""The card shown per stage on the overview."""


AVERAGED_OVER_MONTHS = frozenset(
    {
        "expand.active_customers",  # a level at a time, not events in the month
        "attract.cost_per_visit",  # ratios in money: three months of cost per lead do not add up
        "capture.cost_per_lead",
        "nurture.cost_per_mql",
        "convert.cost_per_sql",
        "convert.cost_per_customer",
    }
)
"""Counts and amounts that combine over months as an average (like rates), not a sum."""

MATURING_COHORT_RATES = frozenset(
    {"nurture.lead_to_mql_rate", "convert.mql_to_sql_rate", "convert.sql_to_customer_rate"}
)
""""To date" cohort rates: recent cohorts are still converting, so their latest months always look worse than
older ones. Early warnings skip them (the UI says so); their trend is still shown."""


def adds_up_over_months(metric_id: str) -> bool:
    """Whether a quarter's value is the sum of its months (counts, money) rather than their average."""
    spec = CATALOG[metric_id]
    return spec.unit in ("count", "currency") and metric_id not in AVERAGED_OVER_MONTHS


def stage_metrics(stage: str) -> list[MetricDef]:
    """The catalog entries of one stage, in catalog order."""
    return [m for m in CATALOG.values() if m.stage == stage]
