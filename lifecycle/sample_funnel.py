"""The sample company's leads and their path through the funnel: creation, MQL, SQL, recycling, reopening,
opportunities — as numpy arrays (times are datetime64[s], NaT when a stage was not reached by the export day).

Outcomes are decided with exact quotas per month of the event (`exact_choice` keyed on the month the stage
would be entered), so monthly stage counts follow the lead volume smoothly; SQL acceptance, recycling and
reopening follow the window's trend of their counts (`trend_choice`), so those smaller monthly numbers do not
wobble with the ones upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifecycle import sample_model as m
from lifecycle import sample_trends as tr


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "anna ben carla david elena felix grace hugo ines jonas kate liam maria nils olivia paul quinn "
    "rosa sam tara umar vera will xenia yusuf zoe amir beatriz chen dana emil fatima georg hana ivan "
    "julia kenji lea marco nora oscar priya rafael sofia tom ula victor wen yara zeynep"
)
LAST_NAMES = _words(
    "smith mueller garcia rossi dubois kowalski novak jansen silva nielsen berg fischer moreau lopez "
    "khan tanaka kim olsen weber martin brown costa ivanova schmidt lambert meyer vogel patel reyes "
    "hansen baker young wright lindqvist horvat keller fontaine sato walsh murphy"
)
COMPANY_STEMS = _words(
    "North Blue Bright Cedar Delta Ever Fair Granite Harbor Iron Juniper Kite Lumen Maple Nova Oak "
    "Pine Quartz River Silver Terra Union Vertex West Zenith Alpine Beacon Clear Drift Ember Falcon "
    "Golden Helix Indigo Jade Kestrel"
)
COMPANY_ENDS = _words(
    "wind field stone point bridge gate works line path peak port wave light forge ridge brook vale "
    "crest dale shore"
)
COMPANY_KINDS = _words(
    "Labs Systems Analytics Logistics Health Software Partners Group Industries Media Consulting "
    "Robotics Energy Foods Capital Networks"
)


@dataclass
class Leads:
    """Every simulated lead (burn-in leads included: `kept` marks the ones created in the window)."""

    created: np.ndarray
    channel: np.ndarray
    segment: np.ndarray
    program: np.ndarray
    """Index into `sample_model.NURTURE_PROGRAMS`, −1 when the lead is not in an automated program."""
    source: np.ndarray
    """Index into the channel's `sources` (−1: none)."""
    campaign: np.ndarray
    """Index into the channel's `lead_campaigns` (−1: none)."""
    company: np.ndarray
    email: np.ndarray
    mql: np.ndarray
    sql: np.ndarray
    opportunity: np.ndarray
    recycled: np.ndarray
    reopened: np.ndarray
    reopen_step: np.ndarray
    competitor: np.ndarray
    kept: np.ndarray
    trend: np.ndarray
    """Expected leads per (month, channel) without the planted decline: spend and sessions follow it."""

    @property
    def n(self) -> int:
        """Number of simulated leads (burn-in included)."""
        return len(self.created)


def lead_quotas(n_leads: int, cal: m.Calendar) -> tuple[np.ndarray, np.ndarray]:
    """Leads per (month, channel) — exactly `n_leads` in the window — and the trend they follow without the
    planted organic decline."""
    offset = np.arange(cal.n) - cal.window
    volume = m.MONTHLY_GROWTH**offset * m.SEASONALITY[cal.month_of_year()] * cal.fraction()
    shares = np.array([c.share for c in m.CHANNELS])
    trend = volume[:, None] * shares[None, :]
    planted = np.ones_like(trend)
    for month, factor in m.ORGANIC_DECLINE.items():
        planted[cal.n - 2 + month, m.ORGANIC] = factor
    scale = n_leads / (trend * planted)[cal.window :].sum()
    expected = trend * planted * scale
    # Cells rounded one by one keep a growing series non-decreasing; the few leads the rounding gains or loses
    # in the window are settled on the cells whose rounding was closest to going the other way.
    quotas = np.round(expected).astype(np.int64)
    residual = (expected - quotas)[cal.window :].ravel()
    missing = n_leads - int(quotas[cal.window :].sum())
    window = quotas[cal.window :].reshape(-1)
    if missing > 0:
        window[np.argsort(-residual, kind="stable")[:missing]] += 1
    elif missing < 0:
        shrinkable = np.flatnonzero(window > 0)
        window[shrinkable[np.argsort(residual[shrinkable], kind="stable")[:-missing]]] -= 1
    quotas[cal.window :] = window.reshape(-1, len(shares))
    return quotas, trend * scale


def make_leads(n_leads: int, cal: m.Calendar, rng: np.random.Generator) -> Leads:
    """Leads with creation time, channel, segment, program, source and campaign, sorted by creation time."""
    quotas, trend = lead_quotas(n_leads, cal)
    n_channels = len(m.CHANNELS)
    cells = np.repeat(np.arange(quotas.size), quotas.ravel())
    month, channel = cells // n_channels, cells % n_channels
    created = cal.activity_times(month, m.stratified_uniform(cells, rng), quotas.sum(axis=1))
    order = np.argsort(created, kind="stable")
    created, month, channel, cells = created[order], month[order], channel[order], cells[order]
    n = len(created)

    segment = m.categorical(m.stratified_uniform(cells, rng), m.SEGMENT_SHARES)
    nurtured_share = np.array([c.nurtured for c in m.CHANNELS])[channel]
    nurtured = m.exact_choice(nurtured_share, (month, channel, segment), rng)
    program = np.where(nurtured, np.where(segment == 2, 1, 0), -1)
    source = np.full(n, -1)
    campaign = np.full(n, -1)
    u_source, u_campaign = m.stratified_uniform(cells, rng), m.stratified_uniform(cells, rng)
    for index, spec in enumerate(m.CHANNELS):
        mine = channel == index
        if spec.sources:
            source[mine] = m.categorical(u_source[mine], np.array([s for _, s in spec.sources]))
        if spec.lead_campaigns:
            campaign[mine] = m.categorical(u_campaign[mine], np.array([s for _, s in spec.lead_campaigns]))
    company = company_names(rng.integers(0, max(50, n // 2), n))
    email = email_addresses(
        rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n), company
    )
    leads = Leads(
        created=created,
        channel=channel,
        segment=segment,
        program=program,
        source=source,
        campaign=campaign,
        company=company,
        email=email,
        mql=_nat(n),
        sql=_nat(n),
        opportunity=_nat(n),
        recycled=_nat(n),
        reopened=_nat(n),
        reopen_step=np.full(n, -1),
        competitor=np.zeros(n, bool),
        kept=created >= cal.window_start,
        trend=trend,
    )
    _progress(leads, cal, rng)
    return leads


def _nat(n: int) -> np.ndarray:
    return np.full(n, m.NAT)


def _progress(leads: Leads, cal: m.Calendar, rng: np.random.Generator) -> None:
    """Fill the stage times: MQL → SQL (or recycled → reopened → SQL) → opportunity."""
    month = cal.month_of(leads.created)
    channel, segment = leads.channel, leads.segment
    spec = m.CHANNELS
    nurtured_share = np.array([c.nurtured for c in spec])[channel]
    lift = np.where(leads.program >= 0, m.NURTURE_LIFT, m.UNNURTURED)
    lift = lift / (nurtured_share * m.NURTURE_LIFT + (1 - nurtured_share) * m.UNNURTURED)
    p_mql = np.array([c.mql for c in spec])[channel] * m.SEGMENT_MQL[segment] * lift
    cells = month * len(spec) + channel

    candidate = leads.created + m.days(
        m.quantile_draw(m.lattice_uniform(cells, leads.created, rng), m.MQL_DELAY)
    )
    chosen = m.exact_choice(p_mql, (cal.month_of(candidate), month, channel, segment), rng)
    leads.mql = _reached(candidate, chosen, cal)
    leads.competitor = m.exact_choice(np.where(chosen, 0.0, m.COMPETITOR), (month,), rng)

    is_mql = np.flatnonzero(~np.isnat(leads.mql))
    mql_month = cal.month_of(leads.mql[is_mql])
    delay = m.quantile_draw(m.lattice_uniform(mql_month, leads.mql[is_mql], rng), m.SQL_DELAY)
    candidate = leads.mql[is_mql] + m.days(delay)
    p_sql = np.array([c.sql for c in spec])[channel[is_mql]]
    # Sales accepts its monthly number of SQLs (the trend of what it is offered), so a dip in MQLs does not
    # ripple on through SQLs, deals and customers.
    order = np.lexsort((rng.random(len(is_mql)), channel[is_mql], mql_month)).argsort()
    accepted = tr.trend_choice(p_sql, cal.month_of(candidate), cal, order)
    leads.sql[is_mql] = _reached(candidate, accepted, cal)

    rejected = is_mql[~accepted]
    candidate = leads.mql[rejected] + m.days(
        m.quantile_draw(
            m.lattice_uniform(cal.month_of(leads.mql[rejected]), leads.mql[rejected], rng), m.RECYCLE_DELAY
        )
    )
    sent_back = tr.trend_choice(
        np.full(len(rejected), m.RECYCLE_RATE), cal.month_of(candidate), cal, rng.permutation(len(rejected))
    )
    leads.recycled[rejected] = _reached(candidate, sent_back, cal)

    recycled = np.flatnonzero(~np.isnat(leads.recycled))
    recycled_month = cal.month_of(leads.recycled[recycled])
    step = m.categorical(
        m.lattice_uniform(recycled_month, leads.recycled[recycled], rng), np.ones(len(m.REENGAGE.offsets))
    )
    opened_after = m.quantile_draw(rng.random(len(recycled)), m.OPEN_DELAY_HOURS) / 24
    candidate = reengagement_send(leads.recycled[recycled], step) + m.days(opened_after)
    reopened = tr.trend_choice(
        np.full(len(recycled), m.REOPEN_RATE), cal.month_of(candidate), cal, rng.permutation(len(recycled))
    )
    leads.reopened[recycled] = _reached(candidate, reopened, cal)
    leads.reopen_step[recycled] = np.where(np.isnat(leads.reopened[recycled]), -1, step)

    back = recycled[~np.isnat(leads.reopened[recycled])]
    candidate = leads.reopened[back] + m.days(
        m.quantile_draw(
            m.lattice_uniform(cal.month_of(leads.reopened[back]), leads.reopened[back], rng), m.SQL_DELAY
        )
    )
    revived = m.exact_choice(np.full(len(back), m.REOPEN_SQL_RATE), (cal.month_of(candidate),), rng)
    leads.sql[back] = _reached(candidate, revived, cal)

    is_sql = np.flatnonzero(~np.isnat(leads.sql))
    sql_month = cal.month_of(leads.sql[is_sql])
    candidate = leads.sql[is_sql] + m.days(
        m.quantile_draw(m.lattice_uniform(sql_month, leads.sql[is_sql], rng), m.OPPORTUNITY_DELAY)
    )
    opened = m.exact_choice(
        np.full(len(is_sql), m.OPPORTUNITY_RATE), (cal.month_of(candidate), channel[is_sql]), rng
    )
    leads.opportunity[is_sql] = _reached(candidate, opened, cal)


def _reached(candidate: np.ndarray, chosen: np.ndarray, cal: m.Calendar) -> np.ndarray:
    """The candidate time where the stage was chosen and reached before the export; NaT elsewhere."""
    return np.where(chosen & (candidate < cal.end), candidate, m.NAT)


def reengagement_send(recycled: np.ndarray, step: np.ndarray) -> np.ndarray:
    """When step `step` (0-based) of the re-engagement program goes to a lead recycled at `recycled`."""
    return recycled + m.days(np.asarray(m.REENGAGE.offsets, float)[step])


# ---------------------------------------------------------------------------------------------- people


def company_names(index: np.ndarray) -> np.ndarray:
    """A company name per pool index ('Northwind Labs'; with a numeral once the combinations run out)."""
    stems, ends, kinds = len(COMPANY_STEMS), len(COMPANY_ENDS), len(COMPANY_KINDS)
    combos = stems * ends * kinds
    # A fixed shuffle of the combinations so neighbouring indices do not share a stem.
    code = (index * 7_919) % combos
    base = (
        np.asarray(COMPANY_STEMS, dtype=object)[code % stems]
        + np.asarray(COMPANY_ENDS, dtype=object)[(code // stems) % ends]
        + " "
        + np.asarray(COMPANY_KINDS, dtype=object)[code // (stems * ends)]
    )
    lap = index // combos
    return np.where(lap > 0, base + " " + (lap + 1).astype(str).astype(object), base)


def email_addresses(first: np.ndarray, last: np.ndarray, company: np.ndarray) -> np.ndarray:
    """first.last@companydomain.com, made unique with a number where two people collide."""
    import pandas as pd

    domain = pd.Series(company, dtype="str").str.replace(" ", "", regex=False).str.lower()
    local = (
        pd.Series(np.asarray(FIRST_NAMES, dtype=object)[first], dtype="str")
        + "."
        + pd.Series(np.asarray(LAST_NAMES, dtype=object)[last], dtype="str")
    )
    address = local + "@" + domain + ".com"
    repeat = address.groupby(address, sort=False).cumcount()
    numbered = local + (repeat + 1).astype(str) + "@" + domain + ".com"
    return address.where(repeat == 0, numbered).to_numpy(dtype=object)
