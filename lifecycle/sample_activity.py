"""The sample company's email activity (automated programs, webinar invitations) and lead-score history.

Programs send step by step, vectorized over all recipients of a step; a lead leaves the prospect programs at
its MQL, unsubscribe or hard bounce. Score changes are built so the running score first reaches the MQL
threshold exactly at `mql_at` (and never for leads that are not MQLs), which makes `leads`, `lead_stages` and
`score_changes` tell one story.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lifecycle import sample_model as m
from lifecycle.sample_funnel import Leads, reengagement_send

EVENTS = ("sent", "delivered", "open", "click", "bounce", "unsubscribe")
SENT, DELIVERED, OPEN, CLICK, BOUNCE, UNSUBSCRIBE = range(6)
REASONS = tuple(m.SCORE_RULES)
REASON = {name: code for code, name in enumerate(REASONS)}
POINTS = np.array([m.SCORE_RULES[r] for r in REASONS], dtype=float)
NEVER = np.datetime64("2200-01-01T00:00:00", "s")


@dataclass
class EmailLog:
    """Email events as parallel arrays plus the catalog of emails (name, program, step, audience)."""

    names: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    steps: list[str | None] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    engaged: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    """Prospect engagement for scoring: (lead, time, reason code)."""

    def email(self, name: str, program: str, step: str | None, audience: str) -> int:
        """Register an email in the catalog; returns its code."""
        self.names.append(name)
        self.programs.append(program)
        self.steps.append(step)
        self.audiences.append(audience)
        return len(self.names) - 1

    def add(self, lead: np.ndarray, event: int, at: np.ndarray, email: int, end: np.datetime64) -> None:
        """Log one event type for many recipients (events at or after the export day are dropped)."""
        keep = at < end
        if keep.any():
            n = int(keep.sum())
            self.parts.append((lead[keep], np.full(n, event, np.int8), at[keep], np.full(n, email, np.int32)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(recipient lead index, event code, time, email code) of every logged event."""
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(4))  # type: ignore[return-value]


def _before(at: np.ndarray, limit: np.ndarray) -> np.ndarray:
    return np.isnat(limit) | (at < limit)


def _earliest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(np.isnat(a) | (~np.isnat(b) & (b < a)), b, a)


STREAMS = {"bounce": 0, "open": 1, "again": 2, "click": 3, "unsubscribe": 4}


def send(
    log: EmailLog,
    cal: m.Calendar,
    quota: m.Quota,
    rng: np.random.Generator,
    lead: np.ndarray,
    at: np.ndarray,
    email: int,
    p_open: np.ndarray,
    p_click: float,
    p_bounce: np.ndarray,
    p_unsub: np.ndarray,
    forced_open: np.ndarray | None = None,
    score: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Send one email to `lead` at `at`: log its events and return (first open, click, unsubscribe-or-bounce)
    times per recipient (NaT where it did not happen before the export)."""
    n = len(lead)
    month = cal.month_of(at)
    drift = (1 + m.RATE_DRIFT) ** (month - cal.window)
    audience = 0 if log.audiences[email] == "prospect" else 1

    def draw(kind: str, p: np.ndarray) -> np.ndarray:
        # One stream per outcome, audience and send month: monthly rates stay exact across the many emails.
        # Recipients in creation order, so the leads of the window (an export's subset) get their share too.
        return quota.choose(p, (STREAMS[kind] * 2 + audience) * 10_000 + month, lead)

    bounced = draw("bounce", p_bounce)
    delivered_at = at + rng.integers(1, 30, n).astype("timedelta64[s]")
    opened = draw("open", np.where(bounced, 0.0, p_open * drift)) & ~bounced
    open_at = delivered_at + m.days(m.quantile_draw(rng.random(n), m.OPEN_DELAY_HOURS) / 24)
    if forced_open is not None:
        forced = ~np.isnat(forced_open)
        opened |= forced
        open_at = np.where(forced, forced_open, open_at)
    again = draw("again", np.where(opened, m.REPEAT_OPEN, 0.0)) & opened
    again_at = open_at + rng.integers(3_600, 48 * 3_600, n).astype("timedelta64[s]")
    clicked = draw("click", np.where(opened, p_click * drift, 0.0)) & opened
    click_at = open_at + rng.integers(10, 600, n).astype("timedelta64[s]")
    unsub = draw("unsubscribe", np.where(bounced, 0.0, p_unsub)) & ~bounced
    unsub_at = np.where(clicked, click_at, np.where(opened, open_at, delivered_at)) + np.timedelta64(45, "s")
    end = cal.end
    log.add(lead, SENT, at, email, end)
    log.add(lead[~bounced], DELIVERED, delivered_at[~bounced], email, end)
    log.add(lead[bounced], BOUNCE, delivered_at[bounced], email, end)
    log.add(lead[opened], OPEN, open_at[opened], email, end)
    log.add(lead[again], OPEN, again_at[again], email, end)
    log.add(lead[clicked], CLICK, click_at[clicked], email, end)
    log.add(lead[unsub], UNSUBSCRIBE, unsub_at[unsub], email, end)
    first_open = np.where(opened & (open_at < end), open_at, m.NAT)
    click = np.where(clicked & (click_at < end), click_at, m.NAT)
    if score:
        for times, reason in ((first_open, "Email Open"), (click, "Email Click")):
            has = ~np.isnat(times)
            log.engaged.append((lead[has], times[has], np.full(int(has.sum()), REASON[reason])))
    gone = np.where(bounced, delivered_at, np.where(unsub, unsub_at, m.NAT))
    return first_open, click, np.where(gone < end, gone, m.NAT)


def make_emails(leads: Leads, customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> EmailLog:
    """Every automated email: Welcome + nurture tracks, webinar invitations, re-engagement, customer programs."""
    log = EmailLog()
    quota = m.Quota()
    gone = np.full(leads.n, m.NAT)
    # Leads that reopen must still be reachable when they do: they never unsubscribe or bounce.
    reachable = ~np.isnat(leads.reopened)

    def sequence(program: m.Program, members: np.ndarray, anchor: np.ndarray, stop: np.ndarray) -> None:
        going = members.copy()
        for step, offset in enumerate(program.offsets):
            idx = np.flatnonzero(going)
            at = anchor[idx] + m.days(offset)
            ok = (at < cal.end) & _before(at, stop[idx]) & _before(at, gone[idx])
            idx, at = idx[ok], at[ok]
            code = log.email(program.email(step + 1), program.name, str(step + 1), program.audience)
            first = m.BOUNCE_FIRST if step == 0 else m.BOUNCE_LATER
            unsub = m.UNSUBSCRIBE if program.audience == "prospect" else m.UNSUBSCRIBE / 2
            _, _, left = send(
                log,
                cal,
                quota,
                rng,
                idx,
                at,
                code,
                np.full(len(idx), program.opens[step]),
                program.clicks[step],
                np.where(reachable[idx], 0.0, first),
                np.where(reachable[idx], 0.0, unsub),
                score=program.audience == "prospect",
            )
            gone[idx] = _earliest(gone[idx], left)
            move_on = program.move_on[step] if program.move_on else 1.0
            moves = m.exact_choice(np.full(len(idx), move_on), (cal.month_of(at),), rng)
            going = np.zeros(len(members), bool)
            going[idx[moves & np.isnat(left)]] = True

    nurtured = leads.program >= 0
    sequence(m.WELCOME, nurtured, leads.created, leads.mql)
    for index, program in enumerate(m.NURTURE_PROGRAMS):
        sequence(program, leads.program == index, leads.created, leads.mql)
    _webinars(log, leads, cal, quota, rng, gone, reachable)
    _reengagement(log, leads, cal, quota, rng, gone)

    # Customer programs are a separate subscription, for every customer: those without a lead in the simulation
    # are recipients after the leads (`customer_recipients`).
    recipient = customer_recipients(customers, leads.n)
    size = max(leads.n, int(recipient.max(initial=-1)) + 1)
    anchor = np.full(size, m.NAT)
    stop = np.full(size, m.NAT)
    anchor[recipient] = customers["started_at"].to_numpy() + 10 * m.HOUR
    stop[recipient] = customers["churned_at"].to_numpy()
    gone = np.full(size, m.NAT)
    reachable = np.zeros(size, bool)
    sequence(m.ONBOARDING, ~np.isnat(anchor), anchor, stop)
    _adoption(log, anchor, stop, cal, quota, rng, gone)
    return log


def customer_recipients(customers: pd.DataFrame, n_leads: int) -> np.ndarray:
    """Each customer's email recipient: its lead, else an index after the `n_leads` leads (in customer order)."""
    lead = customers["lead"].to_numpy()
    return np.where(lead >= 0, lead, n_leads + np.cumsum(lead < 0) - 1)


def _adoption(
    log: EmailLog,
    anchor: np.ndarray,
    stop: np.ndarray,
    cal: m.Calendar,
    quota: m.Quota,
    rng: np.random.Generator,
    gone: np.ndarray,
) -> None:
    """The monthly Product Adoption email (first Wednesday) to every customer past onboarding, in the window."""
    for month in range(cal.window, cal.n):
        at = m.send_time(cal.starts[month], day=2, nth=1, hour=14)  # first Wednesday, 14:00
        if at >= cal.end:
            continue
        idx = np.flatnonzero(
            (anchor <= at - m.ADOPTION_AFTER_DAYS * m.DAY) & _before(np.full(len(anchor), at), stop)
        )
        idx = idx[_before(np.full(len(idx), at), gone[idx])]
        label = str(cal.starts[month].astype("datetime64[M]"))
        code = log.email(f"{m.ADOPTION} {label}", m.ADOPTION, None, "customer")
        stamp = np.full(len(idx), at) + rng.integers(0, 900, len(idx)).astype("timedelta64[s]")
        _, _, left = send(
            log,
            cal,
            quota,
            rng,
            idx,
            stamp,
            code,
            np.full(len(idx), m.ADOPTION_OPEN),
            m.ADOPTION_CLICK,
            np.full(len(idx), m.BOUNCE_LATER),
            np.full(len(idx), m.UNSUBSCRIBE / 2),
            score=False,
        )
        gone[idx] = _earliest(gone[idx], left)


def _webinars(
    log: EmailLog,
    leads: Leads,
    cal: m.Calendar,
    quota: m.Quota,
    rng: np.random.Generator,
    gone: np.ndarray,
    reachable: np.ndarray,
) -> None:
    """Monthly webinar invitations to prospects aged 60–240 days that are not MQLs; clickers may attend."""
    young, old = m.WEBINAR_AGES
    for month in range(cal.n):
        at = m.send_time(cal.starts[month], day=1, nth=2, hour=15)  # second Tuesday, 15:00
        if at >= cal.end:
            continue
        lo, hi = np.searchsorted(leads.created, [at - old * m.DAY, at - young * m.DAY])
        idx = np.arange(lo, hi)
        idx = idx[_before(np.full(len(idx), at), leads.mql[idx]) & _before(np.full(len(idx), at), gone[idx])]
        label = str(cal.starts[month].astype("datetime64[M]"))
        code = log.email(f"Webinar Invite {label}", m.WEBINAR, None, "prospect")
        stamp = np.full(len(idx), at) + rng.integers(0, 900, len(idx)).astype("timedelta64[s]")
        _, click, left = send(
            log,
            cal,
            quota,
            rng,
            idx,
            stamp,
            code,
            np.full(len(idx), m.WEBINAR_OPEN),
            m.WEBINAR_CLICK,
            np.where(reachable[idx], 0.0, m.BOUNCE_LATER),
            np.where(reachable[idx], 0.0, m.UNSUBSCRIBE),
        )
        gone[idx] = _earliest(gone[idx], left)
        clicked = idx[~np.isnat(click)]
        attends = m.exact_choice(np.full(len(clicked), m.WEBINAR_ATTEND), (np.zeros(len(clicked), int),), rng)
        when = at + 7 * m.DAY + m.HOUR
        if when < cal.end and attends.any():
            log.engaged.append(
                (
                    clicked[attends],
                    np.full(int(attends.sum()), when),
                    np.full(int(attends.sum()), REASON["Webinar Attended"]),
                )
            )


def _reengagement(
    log: EmailLog, leads: Leads, cal: m.Calendar, quota: m.Quota, rng: np.random.Generator, gone: np.ndarray
) -> None:
    """Re-engagement emails to recycled leads: only the ones that reopen ever open one (their reopening)."""
    recycled = np.flatnonzero(~np.isnat(leads.recycled))
    step_of = leads.reopen_step[recycled]
    for step in range(len(m.REENGAGE.offsets)):
        at = reengagement_send(leads.recycled[recycled], np.full(len(recycled), step))
        ok = (at < cal.end) & _before(at, gone[recycled])
        idx, at, reopen_step = recycled[ok], at[ok], step_of[ok]
        code = log.email(m.REENGAGE.email(step + 1), m.REENGAGE.name, str(step + 1), "prospect")
        p_open = np.where((reopen_step >= 0) & (step > reopen_step), m.REENGAGE.opens[step], 0.0)
        forced = np.where(reopen_step == step, leads.reopened[idx], m.NAT)
        reachable = reopen_step >= 0
        _, _, left = send(
            log,
            cal,
            quota,
            rng,
            idx,
            at,
            code,
            p_open,
            m.REENGAGE.clicks[step],
            np.where(reachable, 0.0, m.BOUNCE_LATER),
            np.where(reachable, 0.0, m.UNSUBSCRIBE),
            forced_open=forced,
        )
        gone[idx] = _earliest(gone[idx], left)


# ---------------------------------------------------------------------------------------------- scores


@dataclass
class ScoreLog:
    lead: np.ndarray
    at: np.ndarray
    reason: np.ndarray
    delta: np.ndarray
    score: np.ndarray
    """Running total after the change."""
    current: np.ndarray
    """Each lead's score at the export (its last running total; 0 without changes)."""


def _group_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at every new value of the (sorted) `group`."""
    total = np.cumsum(values)
    if len(values) == 0:
        return total
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    return total - np.repeat((total - values)[starts], sizes)


def _merge(lead: np.ndarray, at: np.ndarray, reason: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorted by (lead, time, reason) with repeats of one (lead, time, reason) merged into one change."""
    order = np.lexsort((reason, at, lead))
    lead, at, reason, delta = lead[order], at[order], reason[order], delta[order]
    first = np.r_[True, (lead[1:] != lead[:-1]) | (at[1:] != at[:-1]) | (reason[1:] != reason[:-1])]
    starts = np.flatnonzero(first)
    return lead[starts], at[starts], reason[starts], np.add.reduceat(delta, starts) if len(delta) else delta


def _spread(
    lead: np.ndarray,
    counts: np.ndarray,
    start: np.ndarray,
    span_days: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Each lead repeated `counts` times, at uniform times `span_days` after its `start`."""
    who = np.repeat(lead, counts)
    lo, hi = span_days
    return who, start[who] + m.days(rng.uniform(lo, hi, len(who)))


def make_scores(leads: Leads, log: EmailLog, cal: m.Calendar, rng: np.random.Generator) -> ScoreLog:
    """Score changes with reasons whose running total crosses the MQL threshold exactly at each MQL time."""
    n = leads.n
    everyone = np.arange(n)
    offline = leads.channel == [c.name for c in m.CHANNELS].index("Events")
    parts = [
        (everyone, leads.created, np.where(offline, REASON["Event Badge Scan"], REASON["Form Fill"])),
    ]
    month = cal.month_of(leads.created)
    title = m.exact_choice(np.where(leads.competitor, 0.0, m.JOB_TITLE_MATCH), (month,), rng)
    for mask, reason in ((title, "Job Title Match"), (leads.competitor, "Competitor Email Domain")):
        idx = np.flatnonzero(mask)
        parts.append((idx, leads.created[idx] + np.timedelta64(60, "s"), np.full(len(idx), REASON[reason])))
    for mean, reason, span in (
        (m.PAGE_VISITS, "Web Page Visit", (0.1, 60)),
        (m.CONTENT_DOWNLOADS, "Content Download", (0.5, 90)),
        (m.PRICING_VISITS, "Pricing Page Visit", (1, 120)),
    ):
        counts = np.floor(mean * 2 * m.stratified_uniform(month, rng)).astype(int)
        who, at = _spread(everyone, counts, leads.created, span, rng)
        parts.append((who, at, np.full(len(who), REASON[reason])))
    parts += log.engaged
    lead = np.concatenate([p[0] for p in parts])
    at = np.concatenate([p[1] for p in parts]).astype("datetime64[s]")
    reason = np.concatenate([p[2] for p in parts]).astype(np.int16)
    delta = POINTS[reason]
    # Recycled leads stay quiet until they reopen: no positive engagement in between (SPEC's reopen rule).
    quiet_until = np.where(np.isnat(leads.reopened), NEVER, leads.reopened)[lead]
    quiet = (leads.recycled[lead] < at) & (at < quiet_until) & (delta > 0)
    keep = (at < cal.end) & ~quiet
    lead, at, reason, delta = _merge(lead[keep], at[keep], reason[keep], delta[keep])

    mql = leads.mql[lead]
    is_mql = ~np.isnat(mql)
    # An engagement in the very second of the MQL moves after it, so the MQL change is the crossing one.
    at = np.where(is_mql & (at == mql), at + np.timedelta64(1, "s"), at)
    pre = ~is_mql | (at < mql)
    running = _group_cumsum(np.where(pre, delta, 0.0), lead)
    crossed = _group_cumsum((pre & (running >= m.MQL_THRESHOLD)).astype(float), lead) > 0
    keep = ~(pre & crossed)
    lead, at, reason, delta, pre = lead[keep], at[keep], reason[keep], delta[keep], pre[keep]

    before = np.bincount(lead[pre], weights=delta[pre], minlength=n)
    mqls = np.flatnonzero(~np.isnat(leads.mql))
    deficit = m.MQL_THRESHOLD - before[mqls]
    tops = np.where(deficit > 60, np.ceil((deficit - 60) / 20), 0).astype(int)
    top_lead = np.repeat(mqls, tops)
    top_rank = np.arange(len(top_lead)) - np.repeat(np.cumsum(tops) - tops, tops)
    top_at = leads.mql[top_lead] - (top_rank + 1) * np.timedelta64(137, "s")
    crossing = np.where(deficit - 20 * tops <= 20, REASON["Pricing Page Visit"], REASON["Demo Request"])
    lead = np.concatenate([lead, top_lead, mqls])
    at = np.concatenate([at, top_at, leads.mql[mqls]])
    reason = np.concatenate([reason, np.full(len(top_lead), REASON["Pricing Page Visit"]), crossing]).astype(
        np.int16
    )
    delta = POINTS[reason]

    positive = delta > 0
    seconds = at.astype(np.int64)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, lead[positive], seconds[positive])
    total = np.bincount(lead, weights=delta, minlength=n)
    # Decay every 30 quiet days after the last positive change, while before the export and while points last.
    period = m.DECAY_AFTER_DAYS * 86_400
    room = (cal.end.astype(np.int64) - last - 1) // period
    decays = np.clip(np.minimum(np.floor(total / 10), np.minimum(room, m.MAX_DECAYS)), 0, None).astype(int)
    decay_lead = np.repeat(everyone, decays)
    decay_rank = np.arange(len(decay_lead)) - np.repeat(np.cumsum(decays) - decays, decays) + 1
    decay_at = (last[decay_lead] + decay_rank * period).astype("datetime64[s]")
    lead = np.concatenate([lead, decay_lead])
    at = np.concatenate([at, decay_at])
    reason = np.concatenate([reason, np.full(len(decay_lead), REASON["Inactivity Decay"])]).astype(np.int16)
    lead, at, reason, delta = _merge(lead, at, reason, POINTS[reason])
    order = np.lexsort((reason, at, lead))
    score = _group_cumsum(delta[order], lead[order])
    current = np.bincount(lead, weights=delta, minlength=n)
    return ScoreLog(lead[order], at[order], reason[order], delta[order], score, current)
