"""Canonical tables of the sample company from the simulation (`lifecycle.sample`): leads, stages, email
events, score changes, deals and customers from the simulated arrays, and the tables that follow the lead
volume directly — daily web traffic, spend and the monthly newsletters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from lifecycle import sample_model as m
from lifecycle.sample_activity import EVENTS, REASONS, EmailLog, ScoreLog
from lifecycle.sample_funnel import Leads
from lifecycle.schema import NOT_SET

WEB_USERS, WEB_NEW_USERS, FORM_CONVERSION = 0.8, 0.7, 0.25
DAILY_SPEND = ("Paid Search", "Paid Social")
"""Channels whose spend comes from ad platforms, day by day; the others are monthly budget lines."""
PLATFORM = ("Marketing Automation Platform", "technology", 2_500.0 / 6000)
"""Channel-less technology spend per month, per lead of company size."""
NEWSLETTERS = (("Monthly Insights", "prospect", 0.24, 0.025), ("Customer Update", "customer", 0.42, 0.06))


# ---------------------------------------------------------------------------------------------- simulated


def _text(codes: np.ndarray, vocab: Sequence[str | None]) -> pd.Series:
    """Strings for integer codes into `vocab` (negative codes and None entries are missing)."""
    table = pa.array([*vocab, None], pa.string())
    codes = np.where(np.asarray(codes) < 0, len(vocab), codes)
    return pd.Series(table.take(pa.array(codes)), dtype="str")


def _take(ids: pa.Array, index: np.ndarray) -> pd.Series:
    index = np.asarray(index)
    return pd.Series(ids.take(pa.array(np.where(index < 0, 0, index), mask=index < 0)), dtype="str")


def _per_channel(codes: np.ndarray, channel: np.ndarray, field: str) -> pd.Series:
    """Per-channel vocabularies (sources, campaigns) flattened into one string column."""
    vocab: list[str] = []
    offset = np.zeros(len(m.CHANNELS), int)
    for c, spec in enumerate(m.CHANNELS):
        offset[c] = len(vocab)
        vocab += [name for name, _ in getattr(spec, field)]
    return _text(np.where(codes >= 0, offset[channel] + codes, -1), vocab)


def leads_table(people: Leads, ids: pa.Array, customer_at: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """The window's leads with their stage dates, current score and lifecycle status."""
    k = people.kept
    status = np.select(
        [
            ~np.isnat(customer_at),
            ~np.isnat(people.opportunity),
            ~np.isnat(people.sql),
            ~np.isnat(people.reopened),
            ~np.isnat(people.recycled),
            ~np.isnat(people.mql),
        ],
        ["Customer", "Opportunity", "Sales Qualified Lead", "Lead", "Recycled", "Marketing Qualified Lead"],
        "Lead",
    )
    frame = pd.DataFrame(
        {
            "lead_id": _take(ids, np.flatnonzero(k)),
            "created_at": people.created[k],
            "email": pd.Series(people.email[k], dtype="str"),
            "account": pd.Series(people.company[k], dtype="str"),
            # The wart of leads exported without a source: ingest reads their empty cell as "(not set)".
            "channel": _text(people.channel[k], m.CHANNEL_NAMES).fillna(NOT_SET),
            "source": _per_channel(people.source[k], people.channel[k], "sources"),
            "campaign": _per_channel(people.campaign[k], people.channel[k], "lead_campaigns"),
            "program": _text(people.program[k], [p.name for p in m.NURTURE_PROGRAMS]),
            "segment": _text(people.segment[k], m.SEGMENTS),
            "score": score[k],
            "mql_at": people.mql[k],
            "sql_at": people.sql[k],
            "opportunity_at": people.opportunity[k],
            "customer_at": customer_at[k],
            "recycled_at": people.recycled[k],
            "reopened_at": people.reopened[k],
            "status": pd.Series(status[k], dtype="str"),
        }
    )
    return frame


def stages_table(people: Leads, ids: pa.Array, customer_at: np.ndarray) -> pd.DataFrame:
    """The same stage dates in long form: one row per lead and stage entered."""
    columns = (
        ("lead", people.created),
        ("mql", people.mql),
        ("sql", people.sql),
        ("opportunity", people.opportunity),
        ("customer", customer_at),
        ("recycled", people.recycled),
        ("reopened", people.reopened),
    )
    parts = []
    for stage, times in columns:
        has = np.flatnonzero(people.kept & ~np.isnat(times))
        parts.append(pd.DataFrame({"lead": has, "stage": stage, "entered_at": times[has]}))
    frame = pd.concat(parts, ignore_index=True).sort_values(["entered_at", "lead"], kind="stable")
    return pd.DataFrame(
        {
            "lead_id": _take(ids, frame["lead"].to_numpy()),
            "stage": pd.Series(frame["stage"].to_numpy(), dtype="str"),
            "entered_at": frame["entered_at"].to_numpy(),
        }
    )


def events_table(log: EmailLog, ids: pa.Array, kept: np.ndarray, since: np.datetime64) -> pd.DataFrame:
    """Email events in time order like an activity log: the window's leads' and, from the window's start, every
    customer's (customers who came before the window's leads are recipients the lead export does not hold)."""
    lead, event, at, email = log.arrays()
    customer = np.asarray(log.audiences, dtype=object)[email] == "customer"
    keep = np.where(customer, at >= since, np.append(kept, np.zeros(len(ids) - len(kept), bool))[lead])
    lead, event, at, email = lead[keep], event[keep], at[keep], email[keep]
    order = np.lexsort((event, lead, at))
    lead, event, at, email = lead[order], event[order], at[order], email[order]
    return pd.DataFrame(
        {
            "recipient": _take(ids, lead),
            "event": _text(event, EVENTS),
            "at": at,
            "email": _text(email, log.names),
            "program": _text(email, log.programs),
            "step": _text(email, log.steps),
            "audience": _text(email, log.audiences),
        }
    )


def scores_table(scores: ScoreLog, ids: pa.Array, kept: np.ndarray) -> pd.DataFrame:
    """Score changes of the window's leads: delta, running total and reason."""
    keep = kept[scores.lead]
    return pd.DataFrame(
        {
            "lead_id": _take(ids, scores.lead[keep]),
            "at": scores.at[keep],
            "delta": scores.delta[keep],
            "score": scores.score[keep],
            "reason": _text(scores.reason[keep], REASONS),
        }
    )


def deals_table(deals: pd.DataFrame, ids: pa.Array, kept: np.ndarray) -> pd.DataFrame:
    """Deals; a lead_id only where the lead is in the window's lead export."""
    lead = deals["lead"].to_numpy()
    lead = np.where((lead >= 0) & kept[np.maximum(lead, 0)], lead, -1)
    return pd.DataFrame(
        {
            "deal_id": pd.Series(deals["deal_id"].to_numpy(), dtype="str"),
            "created_at": deals["created_at"].to_numpy(),
            "closed_at": deals["closed_at"].to_numpy(),
            "status": pd.Series(deals["status"].to_numpy(), dtype="str"),
            "amount": deals["amount"].to_numpy(float),
            "type": pd.Series(deals["type"].to_numpy(), dtype="str"),
            "lead_id": _take(ids, lead),
            "account": pd.Series(deals["account"].to_numpy(), dtype="str"),
            "channel": _text(deals["channel"].to_numpy(), m.CHANNEL_NAMES),
            "campaign": pd.Series(deals["campaign"].to_numpy(), dtype="str"),
        }
    )


def customers_table(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers with start, churn, contact e-mail, channel and segment."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customers["customer_id"].to_numpy(), dtype="str"),
            "started_at": customers["started_at"].to_numpy(),
            "churned_at": customers["churned_at"].to_numpy(),
            "email": pd.Series(customers["email"].to_numpy(), dtype="str"),
            "account": pd.Series(customers["account"].to_numpy(), dtype="str"),
            "channel": _text(customers["channel"].to_numpy(), m.CHANNEL_NAMES),
            "segment": _text(customers["segment"].to_numpy(), m.SEGMENTS),
        }
    )


# ---------------------------------------------------------------------------------------------- attract / spend


def _daily(cal: m.Calendar, monthly: np.ndarray, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """Window days and `monthly` totals (one per simulated month) spread over them by weekday, rounded to
    `unit` with cumulative rounding (each month's days sum to within one unit of its total)."""
    days = np.arange(cal.window_start, cal.end, m.DAY)
    month = cal.month_of(days)
    weight = m.WEEKDAY_WEIGHTS[m.weekday(days)]
    per_month = np.bincount(month, weights=weight, minlength=cal.n)
    expected = monthly[month] * weight / per_month[month] / unit
    amounts = np.diff(np.r_[0, np.round(np.cumsum(expected))]) * unit
    return days, np.round(amounts, 2)


def web_traffic(people: Leads, cal: m.Calendar) -> pd.DataFrame:
    """Daily sessions, users and form activity per channel and source; form submissions are the day's leads."""
    offset = np.arange(cal.n) - cal.window
    planted = np.ones(cal.n)
    planted[cal.n - 2 + np.array(list(m.ORGANIC_DECLINE))] = list(m.ORGANIC_DECLINE.values())
    kept = people.kept
    lead_day = people.created[kept].astype("datetime64[D]")
    parts = []
    for c, spec in enumerate(m.CHANNELS):
        if spec.visit_rate <= 0:
            continue
        rate = spec.visit_rate * (1 + m.RATE_DRIFT) ** offset
        sessions = people.trend[:, c] * np.where(c == m.ORGANIC, planted, 1.0) / rate
        for s, (source, share) in enumerate(spec.web_sources):
            days, daily = _daily(cal, sessions * share, 1.0)
            mine = (people.channel[kept] == c) & (np.maximum(people.source[kept], 0) == s)
            first = days[0].astype("datetime64[D]")
            subs = np.bincount((lead_day[mine] - first).astype(int), minlength=len(days))[: len(days)]
            views = np.maximum(np.round(daily * spec.visit_rate / FORM_CONVERSION), subs)
            users = np.round(daily * WEB_USERS)
            parts.append(
                pd.DataFrame(
                    {
                        "date": days,
                        "sessions": daily,
                        "channel": spec.name,
                        "source": source,
                        "users": users,
                        "new_users": np.round(users * WEB_NEW_USERS),
                        "form_views": views,
                        "form_submissions": subs,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True).sort_values(["date", "channel", "source"], kind="stable")


def spend_table(people: Leads, cal: m.Calendar, n_leads: int) -> pd.DataFrame:
    """Spend following each channel's trend lead volume: daily ad-platform lines, monthly budget lines."""
    window = slice(cal.window, cal.n)
    fraction = cal.fraction()
    parts = []
    for c, spec in enumerate(m.CHANNELS):
        if spec.cost_per_lead <= 0:
            continue
        monthly = spec.cost_per_lead * people.trend[:, c]
        for campaign, share in spec.spend_campaigns:
            if spec.name in DAILY_SPEND:
                days, amounts = _daily(cal, monthly * share, 0.01)
            else:
                days, amounts = cal.starts[:-1][window], np.round(monthly[window] * share, 2)
            parts.append(
                pd.DataFrame(
                    {
                        "date": days,
                        "amount": amounts,
                        "channel": spec.name,
                        "campaign": campaign,
                        "category": spec.spend_category,
                    }
                )
            )
    name, category, per_lead = PLATFORM
    parts.append(
        pd.DataFrame(
            {
                "date": cal.starts[:-1][window],
                "amount": np.round(per_lead * n_leads * fraction[window], 2),
                "channel": NOT_SET,
                "campaign": name,
                "category": category,
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True)
    return frame[frame["amount"] > 0].sort_values(["date", "channel", "campaign"], kind="stable")


def newsletters(people: Leads, customers: pd.DataFrame, cal: m.Calendar) -> pd.DataFrame:
    """The monthly newsletters (summary level, from the newsletter tool): one to prospects, one to customers."""
    rows = []
    start, churned = customers["started_at"].to_numpy(), customers["churned_at"].to_numpy()
    for month in range(cal.window, cal.n):
        at = m.send_time(cal.starts[month], day=3, nth=1, hour=10)  # first Thursday, 10:00
        if at >= cal.end:
            continue
        label = pd.Timestamp(at).strftime("%B %Y")
        drift = (1 + m.RATE_DRIFT) ** (month - cal.window)
        prospects = int(np.sum(people.kept & (people.created < at)) * 0.9)
        active = int(np.sum((start < at) & (np.isnat(churned) | (churned > at))))
        for (title, audience, opens, clicks), size in zip(NEWSLETTERS, (prospects, active), strict=True):
            delivered = round(size * 0.985)
            rows.append(
                {
                    "email": f"{title} — {label}",
                    "sent_at": at,
                    "sent": size,
                    "delivered": delivered,
                    "unique_opens": round(delivered * opens * drift),
                    "unique_clicks": round(delivered * clicks * drift),
                    "bounces": size - delivered,
                    "unsubscribes": round(delivered * 0.002),
                    "audience": audience,
                }
            )
    frame = pd.DataFrame(rows)
    return frame.astype(
        {c: float for c in ("sent", "delivered", "unique_opens", "unique_clicks", "bounces", "unsubscribes")}
    )
