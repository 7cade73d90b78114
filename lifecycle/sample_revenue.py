"""The sample company's revenue side: deals (new, upsell, cross-sell, renewal), customers with churn, and NPS.

Deals and customers are day-granular, like a CRM report. Customers churn at a contract anniversary (their
renewal deal is then lost); churn and expansion are monthly quotas over the customers active at the month's start.
Won amounts are scaled month by month onto a smooth trend (new business through the ARR of each month's new
customers, expansion directly), and churn picks evenly across contract sizes, so bookings move with the trends
and the planted churn uptick, not with which few big accounts happened to close or leave in a month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle import sample_model as m
from lifecycle import sample_trends as tr
from lifecycle.sample_funnel import FIRST_NAMES, LAST_NAMES, Leads, company_names, email_addresses
from lifecycle.sample_nps import active_at, make_nps


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
    # A won deal's amount is its customer's first-year ARR.
    deal = customers["deal"].to_numpy()
    amount = new["amount"].to_numpy().copy()
    amount[deal[deal >= 0]] = customers["arr"].to_numpy()[deal >= 0]
    new["amount"] = amount
    _churn(customers, cal)
    deals = pd.concat(
        [new.drop(columns=["segment", "email"]), _renewals(customers, cal), _expansion(customers, cal, rng)],
        ignore_index=True,
    )
    # The opportunity report covers the window: deals closed before it are not in it (like the lead export,
    # it starts with the window, so a trailing-12-month ROI never weighs bookings without their spend).
    kept = (deals["created_at"] < cal.end) & ~(deals["closed_at"] < cal.window_start)
    deals = deals[kept].sort_values(["created_at", "type", "lead"], kind="stable")
    deals = deals.reset_index(drop=True)
    deals["deal_id"] = (
        pd.Series(np.arange(1, len(deals) + 1)).astype(str).str.zfill(10).radd("0068d").to_numpy()
    )
    return Revenue(deals, customers, make_nps(customers, cal, rng))


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
    # A deal from a lead is decided when the lead's trial ends (evenly spread per lead month, so the lead ages of
    # a month's customers barely change), an outbound deal a set time after it opens.
    lead_created = leads.created[has_opp]
    to_close = m.quantile_draw(
        m.lattice_uniform(cal.month_of(lead_created), lead_created, rng), m.LEAD_TO_CLOSE
    )
    outbound_delay = m.quantile_draw(
        m.lattice_uniform(month[len(has_opp) :], out_created, rng), m.CLOSE_DELAY
    )
    start = np.concatenate([lead_created, out_created])
    decided = _day(start + m.days(np.concatenate([to_close, outbound_delay])))
    decided = np.maximum(decided, created + m.MIN_SALES_CYCLE * m.DAY)
    p_win = np.where(channel >= 0, np.array([c.win for c in m.CHANNELS])[np.maximum(channel, 0)], 0.22)
    # A window month wins its trend share of the expected wins (sales work to a monthly number), spread evenly
    # over the month's decisions ordered by age, so a month's median age to close is its decisions' median.
    age = (decided - start).astype(np.int64)
    won = tr.trend_choice(p_win, cal.month_of(decided), cal, np.lexsort((age, lead < 0)).argsort())
    # Lost deals linger: sales closes them out a while after they open.
    close = _close_lost(decided, created, ~won, cal, rng)
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


def _close_lost(
    decided: np.ndarray, created: np.ndarray, lost: np.ndarray, cal: m.Calendar, rng: np.random.Generator
) -> np.ndarray:
    """Close dates: the decision date for won deals; lost deals linger and are closed out a while after they
    open (`LOST_DELAY`), in order, as many a window month as the trend of those closes (a backlog that sales
    clears at a steady pace)."""
    close = decided.copy()
    index = np.flatnonzero(lost)
    month = cal.month_of(created[index])
    natural = created[index] + m.days(
        np.round(m.quantile_draw(m.lattice_uniform(month, created[index], rng), m.LOST_DELAY))
    )
    close[index] = np.maximum(_day(tr.on_schedule(natural, cal)), created[index] + m.MIN_SALES_CYCLE * m.DAY)
    return close


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
    """Customers of won deals and legacy customers, with each start month's contract ARR on a smooth trend."""
    won = new[new["status"] == "won"].assign(deal=np.flatnonzero(new["status"].to_numpy() == "won"))
    starts = _StartTrend.fit(won["closed_at"].to_numpy(), cal)
    legacy = _legacy(won["closed_at"].to_numpy(), starts, cal, rng)
    columns = list(legacy.columns)
    frame = pd.concat([won.assign(self_serve=False)[columns], legacy], ignore_index=True)
    frame = frame.rename(columns={"closed_at": "started_at", "amount": "arr"})
    frame["channel"] = np.where(frame["channel"] == len(m.CHANNELS) - 1, -1, frame["channel"])
    # Every month's new contracts add up to its expected starts × the mean contract (larger or smaller deals
    # in a month with fewer or more of them), so renewals a year on follow the trend too.
    month = starts.offset(frame["started_at"].to_numpy())
    contract = ~frame["self_serve"].to_numpy()
    arr = frame["arr"].to_numpy(float)
    lowest = month.min()
    totals = np.bincount(month[contract] - lowest, weights=arr[contract], minlength=month.max() - lowest + 1)
    target = starts.expected(np.arange(lowest, month.max() + 1)) * _mean_arr()
    factor = np.divide(target, totals, out=np.ones_like(totals), where=totals > 0)
    frame["arr"] = np.where(contract, _money(arr * factor[month - lowest], 100), arr)
    frame = frame.sort_values(["started_at", "account"], kind="stable").reset_index(drop=True)
    frame.insert(
        0, "customer_id", pd.Series(np.arange(1, len(frame) + 1)).astype(str).str.zfill(6).radd("CUS-")
    )
    frame["churned_at"] = np.full(len(frame), m.NAT)
    return frame


def _mean_arr() -> float:
    """Expected first-year ARR of a new contract: segment mix × segment ARR × the mean of the spread."""
    spread = m.quantile_draw((np.arange(1_000) + 0.5) / 1_000, m.ARR_SPREAD).mean()
    return float(m.SEGMENT_SHARES @ m.SEGMENT_ARR * spread)


@dataclass(frozen=True)
class _StartTrend:
    """Expected contract starts a month: a log-linear fit of the window's won deals, and before the window the
    slower growth of the company's earlier years (`LEGACY_GROWTH`)."""

    level: float
    slope: float
    first: np.datetime64
    """First month of the window."""
    partial: float
    """Share of the last (partial) month in the data."""
    last: int
    """Offset of the partial month from the window's first month."""

    @classmethod
    def fit(cls, closed: np.ndarray, cal: m.Calendar) -> _StartTrend:
        first = cal.window_start.astype("datetime64[M]")
        last = cal.n - 1 - cal.window
        offset = closed.astype("datetime64[M]").astype(int) - first.astype(int)
        level, slope = tr.log_linear_fit(np.bincount(offset[(offset >= 0) & (offset < last)], minlength=last))
        # Even a tiny company has had a customer every other month.
        level, slope = (level, slope) if level >= np.log(0.5) else (np.log(0.5), 0.0)
        return cls(level, slope, first, float(cal.fraction()[-1]), last)

    def offset(self, t: np.ndarray) -> np.ndarray:
        """Months from the window's first month to each time's month."""
        return t.astype("datetime64[M]").astype(int) - self.first.astype(int)

    def expected(self, offset: np.ndarray) -> np.ndarray:
        """Expected contract starts in each month (by offset from the window's first month)."""
        offset = np.asarray(offset)
        inside = np.exp(self.level + self.slope * np.maximum(offset, 0))
        before = np.exp(self.level) * m.LEGACY_GROWTH ** np.minimum(offset, 0).astype(float)
        return np.where(offset >= 0, inside, before) * np.where(offset == self.last, self.partial, 1.0)


def _legacy(
    won_at: np.ndarray, starts: _StartTrend, cal: m.Calendar, rng: np.random.Generator
) -> pd.DataFrame:
    """Customers without a lead or a deal: in each of the `LEGACY_MONTHS` months before the window as many
    contract starts as the start trend expects, less the starts the burn-in already produced; and in every
    month, the window's too, `SELF_SERVE` as many card-plan starts (no deals). Counts are rounded cumulatively,
    so they run smoothly."""
    offsets = np.arange(-m.LEGACY_MONTHS, starts.last + 1)
    before = offsets < 0
    expected = starts.expected(offsets)
    already = np.bincount(
        np.clip(starts.offset(won_at) + m.LEGACY_MONTHS, 0, len(offsets)), minlength=len(offsets) + 1
    )
    want = np.where(before, np.maximum(expected - already[: len(offsets)], 0), 0)
    contract = np.diff(np.r_[0, np.round(np.cumsum(want))]).astype(int)
    card = np.diff(np.r_[0, np.round(np.cumsum(expected * m.SELF_SERVE))]).astype(int)
    counts = contract + card
    n = int(counts.sum())
    which = np.repeat(np.arange(len(offsets)), counts)
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    months = starts.first + offsets
    length = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    length[-1] = m.PARTIAL_DAYS
    day = np.floor((rank + rng.random(n)) / counts[which] * length[which]).astype(int)
    started = (months[which].astype("datetime64[D]") + day).astype("datetime64[s]") + 10 * m.HOUR
    segment = m.categorical(m.stratified_uniform(which, rng), m.SEGMENT_SHARES)
    account = company_names(rng.integers(2 * 10**7, 10**8, n))
    # Card-plan customers are a stratified share of each month's starts.
    self_serve = m.stratified_uniform(which, rng) < np.repeat(card / np.maximum(counts, 1), counts)
    return pd.DataFrame(
        {
            "closed_at": started,
            "lead": np.full(n, -1),
            "account": account,
            "email": _emails(account, rng),
            "channel": m.categorical(
                m.stratified_uniform(which, rng), np.array([c.share for c in m.CHANNELS])
            ),
            "segment": segment,
            "amount": _money(
                m.SEGMENT_ARR[segment] * m.quantile_draw(m.stratified_uniform(which, rng), m.ARR_SPREAD), 100
            ),
            "self_serve": self_serve,
            "deal": np.full(n, -1),
        }
    )


def anniversary(start: np.ndarray, years: int) -> np.ndarray:
    """The date `years` after each start (the 29th–31st clip to the month's last day)."""
    months = start.astype("datetime64[M]")
    day = (start.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    target = months + 12 * years
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(int)
    return (target.astype("datetime64[D]") + np.minimum(day, length - 1)).astype("datetime64[s]")


def _churn(customers: pd.DataFrame, cal: m.Calendar) -> None:
    """Churn at contract anniversaries: each month — from the first customer's on, so the history before the
    window is steady too — a quota of the active customers, picked evenly among those whose anniversary falls
    in the month (start months and contract sizes in proportion, card plans `CARD_CHURN` times as often)."""
    start = customers["started_at"].to_numpy()
    arr, self_serve = customers["arr"].to_numpy(), customers["self_serve"].to_numpy()
    first = start.min().astype("datetime64[M]")
    window = cal.window_start.astype("datetime64[M]")
    months = np.arange(first, cal.end.astype("datetime64[M]") + 1)
    bounds = np.append(months.astype("datetime64[s]")[1:], cal.end)
    years = np.arange(1, (len(months) + 11) // 12 + 1)
    due_dates = np.stack([anniversary(start, int(y)) for y in years])
    churned = np.full(len(customers), m.NAT)
    uptick_from = window + (cal.n - 1 - cal.window) - m.CHURN_UPTICK_MONTHS
    for month, lo, hi in zip(months, months.astype("datetime64[s]"), bounds, strict=True):
        active = (start < lo) & (np.isnat(churned) | (churned >= lo))
        rate = m.CHURN_BASE * (1 - m.CHURN_TREND * (month - window).astype(int))
        rate *= m.CHURN_UPTICK if month >= uptick_from else 1.0
        full = ((month + 1).astype("datetime64[s]") - lo).astype(float)
        quota = int(round(rate * active.sum() * (hi - lo).astype(float) / full))
        inside = (due_dates >= lo) & (due_dates < hi)
        eligible = np.flatnonzero(active & inside.any(axis=0))
        k = min(quota, len(eligible))
        if k == 0:
            continue
        by_size = eligible[np.lexsort((arr[eligible], start[eligible], self_serve[eligible]))]
        # Card plans leave more readily than contracts: systematic picks weighted by it.
        weight = np.cumsum(np.where(self_serve[by_size], m.CARD_CHURN, 1.0))
        pick = by_size[np.searchsorted(weight, (np.arange(k) + 0.5) * weight[-1] / k)]
        if len(np.unique(pick)) < k:
            pick = by_size[np.floor((np.arange(k) + 0.5) * len(by_size) / k).astype(int)]
        churned[pick] = due_dates[inside[:, pick].argmax(axis=0), pick]
    customers["churned_at"] = churned


def _renewals(customers: pd.DataFrame, cal: m.Calendar) -> pd.DataFrame:
    """One renewal deal per anniversary, created 45 days before it: won, or lost when the customer churned then.
    Renewal prices move with the trend: each month's renewals (won and lost) together follow the trend of the
    window's monthly renewals."""
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
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    closed = np.flatnonzero(frame["closed_at"].notna().to_numpy())
    month = cal.month_of(frame["closed_at"].to_numpy()[closed])
    amount = frame["amount"].to_numpy(float, copy=True)
    lost = frame["status"].to_numpy()[closed] == "lost"
    # The month's renewals on trend, split between won and lost by their numbers (not by which few accounts
    # left), so lost renewals cut bookings by the churned share.
    pool = tr.window_trend(np.bincount(month, weights=amount[closed], minlength=cal.n), cal)
    deals = np.bincount(month, minlength=cal.n)
    for part in (lost, ~lost):
        share = np.bincount(month[part], minlength=cal.n) / np.maximum(deals, 1)
        totals = np.bincount(month[part], weights=amount[closed][part], minlength=cal.n)
        factor = np.divide(pool * share, totals, out=np.ones(cal.n), where=totals > 0)
        amount[closed[part]] *= factor[month[part]]
    frame["amount"] = _money(amount, 100)
    return frame


def _expansion(customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Upsell and cross-sell deals: monthly quotas of the customers active for at least 90 days; the won amounts
    of each month together follow the trend of the window's monthly expansion bookings."""
    picks, types, created = [], [], []
    for month in range(0, cal.n):
        lo, hi = cal.starts[month], cal.starts[month + 1]
        pool = np.flatnonzero(active_at(customers, lo, 90) & ~customers["self_serve"].to_numpy())
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
    month = cal.month_of(start)
    # As for new business: a monthly number of wins on trend, and lost deals closed out a while after opening.
    decided = start + np.round(
        m.quantile_draw(m.lattice_uniform(month, start, rng), m.EXPANSION_CLOSE_DELAY)
    ).astype("timedelta64[D]")
    won = tr.trend_choice(
        np.full(len(who), m.EXPANSION_WIN), cal.month_of(decided), cal, rng.permutation(len(who))
    )
    close = _close_lost(decided, start, ~won, cal, rng)
    closed = close < cal.end
    share = m.quantile_draw(m.stratified_uniform(cal.month_of(close), rng), m.EXPANSION_SHARE)
    amount = customers["arr"].to_numpy()[who] * share
    booked = won & closed
    amount[booked] = tr.onto_trend(amount[booked], cal.month_of(close[booked]), cal)
    return pd.DataFrame(
        {
            "created_at": start,
            "closed_at": np.where(closed, close, m.NAT),
            "status": np.where(closed, np.where(won, "won", "lost"), "open"),
            "amount": _money(amount, 100),
            "type": kind,
            "lead": customers["lead"].to_numpy()[who],
            "account": customers["account"].to_numpy()[who],
            "channel": customers["channel"].to_numpy()[who],
            "campaign": None,
        }
    )
