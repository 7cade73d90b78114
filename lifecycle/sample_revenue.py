"""The sample company's revenue side: deals (new, upsell, cross-sell, renewal), customers with churn, and NPS.

Deals and customers are day-granular, like a CRM report. Customers churn at a contract anniversary (their
renewal deal is then lost); churn and expansion are monthly quotas over the customers active at the month's start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle import sample_model as m
from lifecycle.sample_funnel import FIRST_NAMES, LAST_NAMES, Leads, company_names, email_addresses

NPS_COMMENTS = {
    "promoter": (
        "Great support team, quick onboarding.",
        "Saves our team hours every week.",
        "The lifecycle dashboards are exactly what our board asks for.",
        "Easy to set up, and the CSV import just works.",
        "Très bon produit, équipe réactive.",
        "Best reporting tool we’ve used — clear and fast.",
        "Our marketing ops team lives in it.",
    ),
    "passive": (
        "Good product, but reporting could be more flexible.",
        "Does the job. Pricing is on the high side.",
        "Solid, though the Salesforce sync is slow at times.",
        "Useful, but onboarding took longer than promised.",
        "Gutes Tool; die Exporte könnten besser sein.",
    ),
    "detractor": (
        "Too expensive for what we use.",
        "Support took days to answer our ticket.",
        "Missing an integration with our CRM.",
        "Dashboards are slow with our data volume.",
        "We struggled to get the team to adopt it.",
        "Renewal price went up 20 % without warning.",
    ),
}
COMMENT_RATE = 0.6
SELF_SERVE = 0.2
"""Share of legacy customers on self-serve (card) plans: the CRM holds no deal for them at all."""
ANONYMOUS_RATE = 0.05


@dataclass
class Revenue:
    deals: pd.DataFrame
    """deal_id, created_at, closed_at, status, amount, type, lead (index into leads or −1), account, channel
    (index or −1), campaign."""
    customers: pd.DataFrame
    """customer_id, started_at, churned_at, lead (−1 none), account, email, channel (−1 none), segment, arr."""
    nps: pd.DataFrame


def _day(t: np.ndarray) -> np.ndarray:
    return t.astype("datetime64[D]").astype("datetime64[s]")


def make_revenue(leads: Leads, cal: m.Calendar, rng: np.random.Generator) -> Revenue:
    """New deals from opportunities and outbound, customers (won deals + legacy), churn, renewals, expansion, NPS."""
    new = _new_deals(leads, cal, rng)
    customers = _customers(new, cal, rng)
    _churn(customers, cal, rng)
    deals = pd.concat(
        [new.drop(columns=["segment", "email"]), _renewals(customers, cal), _expansion(customers, cal, rng)],
        ignore_index=True,
    )
    deals = deals[deals["created_at"] < cal.end].sort_values(["created_at", "type", "lead"], kind="stable")
    deals = deals.reset_index(drop=True)
    deals["deal_id"] = (
        pd.Series(np.arange(1, len(deals) + 1)).astype(str).str.zfill(10).radd("0068d").to_numpy()
    )
    return Revenue(deals, customers, _nps(customers, cal, rng))


def _new_deals(leads: Leads, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    has_opp = np.flatnonzero(~np.isnat(leads.opportunity))
    n_out = int(round(len(has_opp) * m.OUTBOUND_SHARE / (1 - m.OUTBOUND_SHARE)))
    # Outbound deals start like lead deals (evenly spaced quantiles of their start days), at other accounts.
    lead_days = np.sort(leads.opportunity[has_opp])
    picks = ((np.arange(n_out) + rng.random(n_out)) / max(n_out, 1) * len(lead_days)).astype(int)
    out_created = _day(lead_days[picks])
    created = np.concatenate([_day(leads.opportunity[has_opp]), out_created])
    lead = np.concatenate([has_opp, np.full(n_out, -1)])
    channel = np.concatenate([leads.channel[has_opp], np.full(n_out, -1)])
    segment = np.concatenate(
        [
            leads.segment[has_opp],
            m.categorical(m.stratified_uniform(np.zeros(n_out, int), rng), m.SEGMENT_SHARES),
        ]
    )
    outbound = company_names(rng.integers(10**6, 10**7, n_out))
    account = np.concatenate([leads.company[has_opp], outbound])
    emails = np.concatenate([leads.email[has_opp], _emails(outbound, rng)])
    month = cal.month_of(created)
    close = created + np.maximum(
        np.round(m.quantile_draw(m.lattice_uniform(month, created, rng), m.CLOSE_DELAY)), 1
    ).astype("timedelta64[D]")
    p_win = np.where(channel >= 0, np.array([c.win for c in m.CHANNELS])[np.maximum(channel, 0)], 0.22)
    won = m.exact_choice(p_win, (cal.month_of(close), segment, channel), rng)
    closed = close < cal.end
    amount = _money(
        m.SEGMENT_ARR[segment] * m.quantile_draw(m.stratified_uniform(month, rng), m.ARR_SPREAD), 100
    )
    campaign = np.full(len(created), None, dtype=object)
    campaign[: len(has_opp)] = _lead_campaigns(leads, has_opp)
    return pd.DataFrame(
        {
            "created_at": created,
            "closed_at": np.where(closed, close, m.NAT),
            "status": np.where(closed, np.where(won, "won", "lost"), "open"),
            "amount": amount,
            "type": "new",
            "lead": lead,
            "account": account,
            "channel": channel,
            "campaign": campaign,
            "segment": segment,
            "email": emails,
        }
    )


def _emails(companies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contacts at companies that are not among the leads (their domains differ from every lead's)."""
    n = len(companies)
    return email_addresses(
        rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n), companies
    )


def _lead_campaigns(leads: Leads, index: np.ndarray) -> np.ndarray:
    out = np.full(len(index), None, dtype=object)
    for c, spec in enumerate(m.CHANNELS):
        mine = (leads.channel[index] == c) & (leads.campaign[index] >= 0)
        if spec.lead_campaigns and mine.any():
            names = np.asarray([name for name, _ in spec.lead_campaigns], dtype=object)
            out[mine] = names[leads.campaign[index][mine]]
    return out


def _money(values: np.ndarray, unit: float = 0.01) -> np.ndarray:
    return np.round(np.round(np.asarray(values, float) / unit) * unit, 2)


def _customers(new: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    won = new[new["status"] == "won"]
    legacy = _legacy(won, cal, rng)
    frame = pd.concat([won.assign(self_serve=False)[list(legacy.columns)], legacy], ignore_index=True)
    frame = frame.rename(columns={"closed_at": "started_at", "amount": "arr"})
    frame["channel"] = np.where(frame["channel"] == len(m.CHANNELS) - 1, -1, frame["channel"])
    frame = frame.sort_values(["started_at", "account"], kind="stable").reset_index(drop=True)
    frame.insert(
        0, "customer_id", pd.Series(np.arange(1, len(frame) + 1)).astype(str).str.zfill(6).radd("CUS-")
    )
    frame["churned_at"] = np.full(len(frame), m.NAT)
    return frame


def _legacy(won: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Customers from before the simulation (no lead, no deal): in each of the 24 months before the window as
    many starts as the growth curve through the window's first new customers asks for, less the starts the
    burn-in already produced — so customer starts, and later their anniversaries, run smoothly."""
    closed = won["closed_at"].to_numpy()
    month = cal.month_of(closed)
    first_rate = max(np.sum((month >= cal.window) & (month < cal.window + 3)) / 3, 1.0)
    months = cal.window_start.astype("datetime64[M]") - 24 + np.arange(24)
    expected = first_rate * m.MONTHLY_GROWTH ** (np.arange(24) - 24.0)
    already = np.array(
        [
            np.sum((closed >= s) & (closed < e))
            for s, e in zip(months.astype("datetime64[s]"), (months + 1).astype("datetime64[s]"), strict=True)
        ]
    )
    counts = np.maximum(np.round(expected - already), 0).astype(int)
    n = int(counts.sum())
    which = np.repeat(np.arange(24), counts)
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    length = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    offset = np.floor((rank + rng.random(n)) / counts[which] * length[which]).astype(int)
    started = (months[which].astype("datetime64[D]") + offset).astype("datetime64[s]")
    flat = np.zeros(n, int)
    segment = m.categorical(m.stratified_uniform(flat, rng), m.SEGMENT_SHARES)
    account = company_names(rng.integers(2 * 10**7, 10**8, n))
    return pd.DataFrame(
        {
            "closed_at": started,
            "lead": np.full(n, -1),
            "account": account,
            "email": _emails(account, rng),
            "channel": m.categorical(
                m.stratified_uniform(flat, rng), np.array([c.share for c in m.CHANNELS])
            ),
            "segment": segment,
            "amount": _money(
                m.SEGMENT_ARR[segment] * m.quantile_draw(m.stratified_uniform(flat, rng), m.ARR_SPREAD), 100
            ),
            "self_serve": m.stratified_uniform(flat, rng) < SELF_SERVE,
        }
    )


def anniversary(start: np.ndarray, years: int) -> np.ndarray:
    """The date `years` after each start (the 29th–31st clip to the month's last day)."""
    months = start.astype("datetime64[M]")
    day = (start.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    target = months + 12 * years
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(int)
    return (target.astype("datetime64[D]") + np.minimum(day, length - 1)).astype("datetime64[s]")


def _churn(customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> None:
    """Churn at contract anniversaries: each month a quota of the active customers whose anniversary falls in it."""
    start = customers["started_at"].to_numpy()
    churned = np.full(len(customers), m.NAT)
    fraction = cal.fraction()
    uptick_from = cal.n - 1 - m.CHURN_UPTICK_MONTHS
    for month in range(cal.window, cal.n):
        lo, hi = cal.starts[month], cal.starts[month + 1]
        active = (start < lo) & (np.isnat(churned) | (churned >= lo))
        rate = m.CHURN_BASE * (1 - 0.004 * (month - cal.window))
        rate *= m.CHURN_UPTICK if month >= uptick_from else 1.0
        quota = int(round(rate * active.sum() * fraction[month]))
        due = np.full(len(customers), m.NAT)
        for years in range(1, 12):
            when = anniversary(start, years)
            due = np.where((when >= lo) & (when < hi), when, due)
        eligible = np.flatnonzero(active & ~np.isnat(due))
        pick = rng.permutation(eligible)[: min(quota, len(eligible))]
        churned[pick] = due[pick]
    customers["churned_at"] = churned


def _renewals(customers: pd.DataFrame, cal: m.Calendar) -> pd.DataFrame:
    """One renewal deal per anniversary, created 45 days before it: won, or lost when the customer churned then."""
    start, churned = customers["started_at"].to_numpy(), customers["churned_at"].to_numpy()
    contract = ~customers["self_serve"].to_numpy()
    parts = []
    for years in range(1, 12):
        due = anniversary(start, years)
        created = due - 45 * m.DAY
        keep = (
            contract
            & (created >= cal.starts[0])
            & (created < cal.end)
            & (np.isnat(churned) | (due <= churned))
        )
        if not keep.any():
            continue
        lost = churned[keep] == due[keep]
        closed = due[keep] < cal.end
        parts.append(
            pd.DataFrame(
                {
                    "created_at": created[keep],
                    "closed_at": np.where(closed, due[keep], m.NAT),
                    "status": np.where(closed, np.where(lost, "lost", "won"), "open"),
                    "amount": customers["arr"].to_numpy()[keep],
                    "type": "renewal",
                    "lead": customers["lead"].to_numpy()[keep],
                    "account": customers["account"].to_numpy()[keep],
                    "channel": customers["channel"].to_numpy()[keep],
                    "campaign": None,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _active_at(customers: pd.DataFrame, t: np.datetime64, tenure_days: int = 0) -> np.ndarray:
    start, churned = customers["started_at"].to_numpy(), customers["churned_at"].to_numpy()
    return (start <= t - tenure_days * m.DAY) & (np.isnat(churned) | (churned > t))


def _expansion(customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Upsell and cross-sell deals: monthly quotas of the customers active for at least 90 days."""
    picks, types, created = [], [], []
    for month in range(0, cal.n):
        lo, hi = cal.starts[month], cal.starts[month + 1]
        pool = np.flatnonzero(_active_at(customers, lo, 90) & ~customers["self_serve"].to_numpy())
        segment = customers["segment"].to_numpy()[pool]
        for kind, rate in (("upsell", m.UPSELL_RATE), ("cross_sell", m.CROSS_SELL_RATE)):
            # Chosen per segment in proportion, so a month's expansion bookings do not hinge on one big account.
            chosen = pool[m.exact_choice(np.full(len(pool), rate * cal.fraction()[month]), (segment,), rng)]
            k = len(chosen)
            picks.append(rng.permutation(chosen))
            types.append(np.full(k, kind, dtype=object))
            span = (hi - lo).astype(int) // 86_400
            created.append(lo + ((np.arange(k) + rng.random(k)) / max(k, 1) * span).astype(int) * m.DAY)
    who, kind, start = np.concatenate(picks), np.concatenate(types), np.concatenate(created)
    u = m.lattice_uniform(cal.month_of(start), start, rng)
    close = start + np.round(m.quantile_draw(u, m.EXPANSION_CLOSE_DELAY)).astype("timedelta64[D]")
    won = m.exact_choice(np.full(len(who), m.EXPANSION_WIN), (cal.month_of(close), kind == "upsell"), rng)
    closed = close < cal.end
    share = m.quantile_draw(m.stratified_uniform(cal.month_of(close), rng), m.EXPANSION_SHARE)
    return pd.DataFrame(
        {
            "created_at": start,
            "closed_at": np.where(closed, close, m.NAT),
            "status": np.where(closed, np.where(won, "won", "lost"), "open"),
            "amount": _money(customers["arr"].to_numpy()[who] * share, 100),
            "type": kind,
            "lead": customers["lead"].to_numpy()[who],
            "account": customers["account"].to_numpy()[who],
            "channel": customers["channel"].to_numpy()[who],
            "campaign": None,
        }
    )


def _nps(customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly NPS responses from a quota of active customers; category shares drift toward promoters."""
    rows = []
    for month in range(cal.window, cal.n):
        lo = cal.starts[month]
        pool = np.flatnonzero(_active_at(customers, lo, 30))
        k = int(round(m.NPS_RESPONSE_RATE * len(pool) * cal.fraction()[month]))
        who = rng.permutation(pool)[:k]
        drift = 0.002 * (month - cal.window)
        mix = m.NPS_MIX + np.array([-drift, 0.0, drift])
        rows.append((np.full(k, month), who, m.categorical(m.stratified_uniform(np.zeros(k, int), rng), mix)))
    month = np.concatenate([r[0] for r in rows])
    who = np.concatenate([r[1] for r in rows])
    category = np.concatenate([r[2] for r in rows])
    n = len(who)
    at = cal.activity_times(month, m.stratified_uniform(month, rng))
    u = rng.random(n)
    score = np.select(
        [category == 2, category == 1],
        [9 + (u < 0.45), 7 + (u < 0.5)],
        m.categorical(u, np.array([1, 1, 1, 2, 3, 5, 7.0])),
    ).astype(float)
    comment = np.full(n, None, dtype=object)
    for c, name in enumerate(("detractor", "passive", "promoter")):
        mine = np.flatnonzero((category == c) & (rng.random(n) < COMMENT_RATE))
        pool = np.asarray(NPS_COMMENTS[name], dtype=object)
        comment[mine] = pool[rng.integers(0, len(pool), len(mine))]
    customer = customers["customer_id"].to_numpy(dtype=object)[who]
    customer = np.where(rng.random(n) < ANONYMOUS_RATE, None, customer)
    alphabet = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
    token = alphabet[rng.integers(0, 62, (n, 15))].copy().view("S15").ravel().astype(str)
    frame = pd.DataFrame(
        {
            "respondent": np.char.add("R_", token),
            "responded_at": at,
            "score": score,
            "comment": comment,
            "customer_id": customer,
        }
    )
    return frame.sort_values("responded_at", kind="stable").reset_index(drop=True)
