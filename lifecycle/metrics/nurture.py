"""Nurture: leads in programs, email engagement, scores and MQLs (SPEC §5 ``nurture.*``).

Decisions where SPEC §5 is silent:

- ``nurture.new_leads``: leads created in M with a program recorded (``in_program``); when the lead export
  records no program at all, every new lead counts (details say which basis was used).
- ``nurture.reopened_leads`` without any reopened date: leads recycled before M whose first engagement after
  being recycled (email open/click, positive score change) falls in M.
- ``nurture.lead_to_mql_rate`` counts a lead that reached a later stage (SQL, customer) without an MQL date as
  having passed MQL — a skipped stage is still progress; details report how many skipped. ``nurture.mqls``
  counts MQL dates only.
- ``nurture.score_profile``: value = median (midpoint of the two middle scores for an even count); details n,
  mean, p25, p75, per-band counts, share at or above the MQL threshold. Without a score history the score is
  the leads' *current* score, and a note says so.
- Email rates prefer event-level ``email_events`` (per recipient, channel-filterable) over summary
  ``email_sends`` when both are loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lifecycle.metrics.capture import created_mask
from lifecycle.metrics.catalog import MetricResult
from lifecycle.metrics.scope import RowsSource, Scope, stage_unknown


def in_program(s: Scope) -> MetricResult:
    """Leads created in the month that entered an automated program (all new leads without program data)."""
    leads = s.facts.leads
    mask = created_mask(s) & leads["in_program"].to_numpy()
    details = {"basis": s.facts.info["program_basis"], "new_leads": int(created_mask(s).sum())}
    return s.result(int(mask.sum()), details, s.rows(leads, mask))


def reopened_leads(s: Scope) -> MetricResult:
    """Leads reopened in the month (reopened date, else first engagement after being recycled)."""
    leads = s.facts.leads
    if s.facts.info["stage_sources"].get("reopened_at"):
        mask = s.in_month(leads["reopened_at"])
        return s.result(int(mask.sum()), {"basis": "reopened date"}, s.rows(leads, mask))
    fallback_sources = "email_events" in s.facts.present or s.facts.has("scores")
    if not s.facts.info["stage_sources"].get("recycled_at") or not fallback_sources:
        return s.unavailable(
            "needs reopened dates (a 'reopened_at' column or a lifecycle-stage history), or recycled dates "
            "together with email activity (email_events) or a lead score history (score_changes)"
        )
    mask = s.in_month(leads["reengaged_at"]) & s.before_month(leads["recycled_at"])
    basis = "first email open/click or positive score change after being recycled"
    return s.result(int(mask.sum()), {"basis": basis}, s.rows(leads, mask))


def recycled_leads(s: Scope) -> MetricResult:
    """Leads with ``recycled_at`` in the month."""
    missing = stage_unknown(s, "recycled_at")
    if missing:
        return missing
    mask = s.in_month(s.facts.leads["recycled_at"])
    return s.result(int(mask.sum()), {}, s.rows(s.facts.leads, mask))


# ---------------------------------------------------------------- email


def email_counts(s: Scope, audience: str) -> tuple[dict[str, Any], RowsSource]:
    """Sends, delivered, unique opens and clicks of the audience's emails sent in the month, with rows.

    Event level when loaded (each (email, recipient) pair counted once), else summary sends.
    """
    facts = s.facts
    details: dict[str, Any] = {}
    if facts.has("sends"):
        monthly = facts.send_months
        chosen = (monthly["month"].to_numpy() == s.start.to_datetime64()) & monthly["audience"].eq(
            audience
        ).to_numpy()
        details["source"] = "email events (unique per email and recipient)"
        for key in ("sends", "delivered", "opened", "clicked", "bounced", "unsubscribed"):
            details[key] = int(monthly[key].to_numpy()[chosen].sum())
        if s.channel and not facts.info["sends_filterable"]:
            details["channel_filter"] = "not applied: email recipients do not join to leads or customers"
        rows = None
        if s.with_rows:

            def rows() -> pd.DataFrame:  # the event-level sends are read only when the rows are
                sends = facts.sends
                mask = s.in_month(sends["sent_at"]) & sends["audience"].eq(audience).to_numpy()
                return sends[mask].reset_index(drop=True)

            # A card shows how many rows are behind the number: the month's sends, counted already.
            rows.row_count = details["sends"]  # type: ignore[attr-defined]

        return details, rows
    summary = facts.email_summary
    mask = s.in_month(summary["sent_at"]) & summary["audience"].eq(audience).to_numpy()
    details["source"] = "email sends (summary per email)"
    details["sends"] = float(summary["sent"].to_numpy()[mask].sum())
    for key, col in (("delivered", "delivered"), ("opened", "unique_opens"), ("clicked", "unique_clicks"),
                     ("bounced", "bounces"), ("unsubscribed", "unsubscribes")):  # fmt: skip
        details[key] = float(summary[col].to_numpy()[mask].sum())
    if s.channel:
        details["channel_filter"] = "not applied: summary email sends have no recipients to join to leads"
    return details, s.rows(summary, mask)


def _needs_summary_columns(s: Scope, columns: tuple[str, ...]) -> MetricResult | None:
    if s.facts.has("sends"):
        return None
    for column in columns:
        if not s.facts.has_column("email_sends", column):
            return s.needs_column("email_sends", column)
    return None


def email_rate(audience: str, numerator: str, denominator: str) -> Callable[[Scope], MetricResult]:
    """A metric: audience emails sent in the month, ``numerator`` ÷ ``denominator`` (details keys)."""
    summary_columns = {"opened": "unique_opens", "clicked": "unique_clicks", "delivered": "sent"}

    def metric(s: Scope) -> MetricResult:
        missing = _needs_summary_columns(s, (summary_columns[numerator], summary_columns[denominator]))
        if missing:
            return missing
        details, rows = email_counts(s, audience)
        reason = f"no {denominator} {audience} emails {s.where}"
        return s.ratio(details[numerator], details[denominator], reason, details, rows)

    metric.__doc__ = f"{audience.title()} emails sent in the month: {numerator} ÷ {denominator}."
    return metric


# ---------------------------------------------------------------- scores and MQLs


def score_profile(s: Scope) -> MetricResult:
    """Median month-end score of the leads created in the month, with its distribution in details."""
    source = s.facts.info["score_source"]
    if source is None:
        return s.unavailable(
            "needs lead scores: a lead score history export (score_changes) or a 'score' column in the lead export"
        )
    leads = s.facts.leads
    mask = created_mask(s)
    scores = leads["score_month_end"][mask].dropna()
    settings = s.settings
    bands = settings.band_of(scores).value_counts(sort=False)
    details: dict[str, Any] = {
        "n": int(len(scores)),
        "mean": float(scores.mean()) if len(scores) else None,
        "p25": float(scores.quantile(0.25)) if len(scores) else None,
        "p75": float(scores.quantile(0.75)) if len(scores) else None,
        "bands": {str(label): int(count) for label, count in bands.items()},
        "mql_threshold": settings.mql_threshold,
        "share_at_or_above_threshold": float((scores >= settings.mql_threshold).mean())
        if len(scores)
        else None,
        "score_source": source,
    }
    if source != "score_changes":
        details["note"] = "current lead score from the lead export, not the score at the end of the month"
    rows = s.rows(leads, mask)
    if not len(scores):
        return s.result(None, details, rows, reason=f"no scored leads created {s.where}")
    return s.result(float(scores.median()), details, rows)


def mqls(s: Scope) -> MetricResult:
    """Leads whose MQL date is in the month."""
    missing = stage_unknown(s, "mql_at")
    if missing:
        return missing
    mask = s.in_month(s.facts.leads["mql_at"])
    return s.result(int(mask.sum()), {}, s.rows(s.facts.leads, mask))


def reached(leads: pd.DataFrame, *columns: str) -> np.ndarray:
    """Leads with any of the stage dates ``columns`` (reached that stage or a later one), to date."""
    hit = np.zeros(len(leads), dtype=bool)
    for column in columns:
        hit |= leads[column].notna().to_numpy()
    return hit


def lead_to_mql_rate(s: Scope) -> MetricResult:
    """Of the leads created in the month, the share that reached MQL (or a later stage) to date."""
    missing = stage_unknown(s, "mql_at")
    if missing:
        return missing
    leads = s.facts.leads
    cohort = created_mask(s)
    with_mql = leads["mql_at"].notna().to_numpy()
    passed = reached(leads, "mql_at", "sql_at", "customer_at")
    details = {
        "with_mql_date": int((cohort & with_mql).sum()),
        "skipped_mql": int((cohort & passed & ~with_mql).sum()),
    }
    reason = f"no leads created {s.where}"
    return s.ratio(int((cohort & passed).sum()), int(cohort.sum()), reason, details, s.rows(leads, cohort))


def cost_per_mql(s: Scope) -> MetricResult:
    """Spend in the month ÷ MQLs in the month."""
    missing = stage_unknown(s, "mql_at")
    if missing:
        return missing
    mask = s.in_month(s.facts.leads["mql_at"])
    return s.cost_per(int(mask.sum()), "MQLs", s.rows(s.facts.leads, mask))


METRICS: dict[str, Callable[[Scope], MetricResult]] = {
    "nurture.new_leads": in_program,
    "nurture.reopened_leads": reopened_leads,
    "nurture.recycled_leads": recycled_leads,
    "nurture.email_open_rate": email_rate("prospect", "opened", "delivered"),
    "nurture.email_ctr": email_rate("prospect", "clicked", "delivered"),
    "nurture.click_to_open": email_rate("prospect", "clicked", "opened"),
    "nurture.score_profile": score_profile,
    "nurture.mqls": mqls,
    "nurture.lead_to_mql_rate": lead_to_mql_rate,
    "nurture.cost_per_mql": cost_per_mql,
}
