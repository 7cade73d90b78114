"""The sample company's parameters (channels, programs, scoring rules, delays) and low-variance sampling helpers.

Everything the generator (`lifecycle.sample`) draws is shaped here. The helpers keep month-to-month noise
small on purpose: quotas are exact per group (stratified uniforms, systematic sampling), and with the trend
quotas of `lifecycle.sample_trends` the only visible movements in monthly metrics are the trends and the
effects planted in `lifecycle.sample.PLANTED_EFFECTS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = np.timedelta64(86_400, "s")
HOUR = np.timedelta64(3_600, "s")


def weekday(times: np.ndarray) -> np.ndarray:
    """Day of the week of datetime64 values, Monday = 0 (1970-01-01 was a Thursday)."""
    return (times.astype("datetime64[D]").astype(int) + 3) % 7


def send_time(month_start: np.datetime64, day: int, nth: int, hour: int) -> np.datetime64:
    """The `nth` weekday `day` (Monday = 0) of the month starting at `month_start`, at `hour` o'clock."""
    first = month_start.astype("datetime64[D]")
    date = first + np.timedelta64((day - int(weekday(first))) % 7 + 7 * (nth - 1), "D")
    return date.astype("datetime64[s]") + hour * HOUR
NAT = np.datetime64("NaT", "s")

BURN_IN_MONTHS = 6
"""Months simulated before the window so deals and customers are already flowing in its first month; their
leads are not exported (a lead export covers the window), so their deals carry no lead_id."""

PARTIAL_DAYS = 22
"""Days of the month after `end_month` in the data: the export was pulled on day 22, so `end_month` is the
last complete month (the app's default month)."""


@dataclass(frozen=True)
class Channel:
    name: str | None
    """As the tools spell it; None is the wart of leads exported without a source (ingested as "(not set)")."""
    share: float
    mql: float
    """Probability lead → MQL (before segment / nurture multipliers)."""
    sql: float
    """Probability MQL → SQL."""
    win: float
    """Probability a new deal from this channel is won."""
    cost_per_lead: float
    """Monthly spend = this × the channel's trend lead volume (0: the channel has no spend)."""
    spend_category: str
    visit_rate: float
    """Leads per web session (0: offline channel without web traffic)."""
    nurtured: float
    """Share of the channel's leads entering an automated nurture program."""
    spend_campaigns: tuple[tuple[str, float], ...] = ()
    lead_campaigns: tuple[tuple[str, float], ...] = ()
    sources: tuple[tuple[str, float], ...] = ()
    """Lead source drill-down and its share."""
    web_sources: tuple[tuple[str, float], ...] = ()
    """GA4 'source / medium' rows of the channel's web traffic (same order and shares as `sources`)."""


# fmt: off
_CHANNEL_TABLE = (
    # name            share  mql   sql   win   cost/lead category     leads/visit nurtured
    ("Organic Search", 0.300, 0.30, 0.55, 0.27,  55, "labor",      0.020, 0.85),
    ("Paid Search",    0.150, 0.28, 0.55, 0.25, 140, "media",      0.025, 0.85),
    ("Paid Social",    0.200, 0.07, 0.40, 0.18,  38, "media",      0.015, 0.90),  # planted: cheap, low quality
    ("Email",          0.055, 0.22, 0.50, 0.25,  60, "technology", 0.040, 0.90),
    ("Referral",       0.075, 0.40, 0.60, 0.31,   0, "",           0.020, 0.80),
    ("Events",         0.090, 0.25, 0.50, 0.27, 260, "other",      0.0,   0.60),
    ("Direct",         0.075, 0.33, 0.55, 0.29,   0, "",           0.006, 0.50),
    ("Partner",        0.050, 0.45, 0.60, 0.34, 200, "other",      0.030, 0.80),
    (None,             0.005, 0.25, 0.50, 0.25,   0, "",           0.0,   0.80),
)
_SPEND_CAMPAIGNS = {
    "Organic Search": (("SEO Content Agency", 1.0),),
    "Paid Search": (("Brand - Exact", 0.2), ("Generic - Lifecycle Analytics", 0.5), ("Competitor - Alternatives", 0.3)),
    "Paid Social": (("LinkedIn - Lead Gen Forms", 0.6), ("LinkedIn - Thought Leadership", 0.4)),
    "Email": (("Monthly Insights Newsletter", 1.0),),
    "Events": (("Trade Shows & Conferences", 1.0),),
    "Partner": (("Partner Co-Marketing", 1.0),),
}
_LEAD_CAMPAIGNS = {
    **_SPEND_CAMPAIGNS,
    "Organic Search": (),
    "Paid Search": (("Brand - Exact", 0.35), ("Generic - Lifecycle Analytics", 0.45), ("Competitor - Alternatives", 0.2)),
    "Paid Social": (("LinkedIn - Lead Gen Forms", 0.7), ("LinkedIn - Thought Leadership", 0.3)),
}
_SOURCES = {
    "Organic Search": ((("google", 0.85), ("bing", 0.15)), (("google / organic", 0.85), ("bing / organic", 0.15))),
    "Paid Search": ((("google", 1.0),), (("google / cpc", 1.0),)),
    "Paid Social": ((("linkedin", 1.0),), (("linkedin / paid_social", 1.0),)),
    "Email": ((("newsletter", 1.0),), (("newsletter / email", 1.0),)),
    "Referral": ((("g2.com", 0.6), ("capterra.com", 0.4)), (("g2.com / referral", 0.6), ("capterra.com / referral", 0.4))),
    "Direct": ((), (("(direct) / (none)", 1.0),)),
    "Partner": ((("partner portal", 1.0),), (("partner portal / referral", 1.0),)),
}
# fmt: on
CHANNELS: tuple[Channel, ...] = tuple(
    Channel(
        *row,
        _SPEND_CAMPAIGNS.get(row[0], ()),
        _LEAD_CAMPAIGNS.get(row[0], ()),
        *_SOURCES.get(row[0], ((), ())),
    )
    for row in _CHANNEL_TABLE
)
CHANNEL_NAMES: tuple[str | None, ...] = tuple(c.name for c in CHANNELS)
ORGANIC = CHANNEL_NAMES.index("Organic Search")

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SEGMENT_SHARES = np.array([0.6, 0.3, 0.1])
SEGMENT_MQL = np.array([0.95, 1.05, 1.15])
SEGMENT_ARR = np.array([10_000.0, 22_000.0, 45_000.0])
NURTURE_LIFT, UNNURTURED = 1.1, 0.6
"""MQL probability multipliers for leads in / not in an automated program (normalized per channel)."""
OPPORTUNITY_RATE = 0.62
"""SQL → opportunity (a new deal)."""
RECYCLE_RATE = 0.6
"""MQLs that sales does not accept and sends back (the rest stay unworked)."""
REOPEN_RATE = 0.3
REOPEN_SQL_RATE = 0.3
OUTBOUND_SHARE = 0.08
"""New deals sourced by sales outbound, without a lead."""

SEASONALITY = np.array([1.0, 1.0, 1.01, 1.01, 1.0, 0.995, 0.985, 0.98, 0.985, 0.99, 1.0, 0.985])
"""Lead volume by month of year (January first): summer and December dips, small enough that the 2.5 %
monthly growth still wins every month."""
MONTHLY_GROWTH = 1.025
RATE_DRIFT = 0.003
"""Relative monthly improvement of conversion rates (visit → lead, email opens): trends point the good way."""

ORGANIC_DECLINE = {-1: 0.62, 0: 0.3, 1: 0.3}
"""Planted: organic search lead volume (and its sessions) relative to trend, by month offset from `end_month`
(0 = end_month, 1 = the partial month after it)."""
CHURN_BASE, CHURN_TREND, CHURN_UPTICK_MONTHS, CHURN_UPTICK = 0.015, 0.004, 3, 2.0
"""Monthly churn of active customers (improving by `CHURN_TREND` of itself a month, before the window too);
planted: ×2 in the last `CHURN_UPTICK_MONTHS` complete months."""
CARD_CHURN = 2.5
"""How many times as readily a card-plan customer churns as a contract customer at an anniversary."""
LEGACY_MONTHS, LEGACY_GROWTH, SELF_SERVE = 72, 1.004, 0.25
"""Customers from before the simulation: six years of starts that grew slowly (0.4 % a month) up to the
window's first new customers, so the installed base (≈ 470 active at the window's start) dwarfs a month's
new customers as in a company that has sold for years; plus, in every month, `SELF_SERVE` as many again on
card plans, which have no deals."""
UPSELL_RATE, CROSS_SELL_RATE, EXPANSION_WIN = 0.03, 0.012, 0.6
NPS_RESPONSE_RATE = 0.1
NPS_MIX = np.array([0.18, 0.32, 0.50])
"""Detractor / passive / promoter shares; promoters gain and detractors lose 0.2 pp a month."""


@dataclass(frozen=True)
class Program:
    name: str
    audience: str
    offsets: tuple[float, ...]
    """Days from the anchor (lead creation / customer start) to each step's send."""
    opens: tuple[float, ...]
    clicks: tuple[float, ...]
    """Click probability given an open."""
    move_on: tuple[float, ...] = ()
    """Probability of being sent the next step after each step (default 1: only exits stop a lead)."""

    def email(self, step: int) -> str:
        """The name of step `step`'s email (1-based)."""
        return f"{self.name} - Email {step}"


WELCOME = Program("Welcome Series", "prospect", (0.05, 2, 5), (0.46, 0.38, 0.34), (0.20, 0.18, 0.17))
SOLUTION = Program(
    "Solution Nurture",
    "prospect",
    (12, 19, 26, 33, 40),
    (0.31, 0.29, 0.12, 0.27, 0.26),
    (0.15, 0.14, 0.04, 0.14, 0.13),
    move_on=(1, 1, 0.25, 1, 1),
)
"""Planted: step 3 stalls — few opens, almost no clicks, and only a quarter move on to step 4."""
ENTERPRISE = Program(
    "Enterprise Nurture", "prospect", (12, 26, 40, 54), (0.34, 0.32, 0.31, 0.30), (0.16, 0.15, 0.15, 0.14)
)
REENGAGE = Program("Re-engagement", "prospect", (7, 21, 42), (0.3, 0.3, 0.3), (0.2, 0.2, 0.2))
ONBOARDING = Program(
    "Customer Onboarding", "customer", (1, 7, 14, 30), (0.56, 0.52, 0.5, 0.48), (0.19, 0.2, 0.2, 0.21)
)
ADOPTION, ADOPTION_AFTER_DAYS, ADOPTION_OPEN, ADOPTION_CLICK = "Product Adoption", 45, 0.48, 0.21
"""The monthly Product Adoption email goes to every active customer past its first 45 days. Customer emails
click about equally well (≈ 10 % of delivered), so customer CTR does not drift with the onboarding share."""
WEBINAR = "Webinar Invitations"
WEBINAR_AGES = (60, 240)
"""Prospects receive the monthly webinar invitation between these ages (days) if not MQL yet."""
WEBINAR_OPEN, WEBINAR_CLICK, WEBINAR_ATTEND = 0.31, 0.2, 0.55
NURTURE_PROGRAMS = (SOLUTION, ENTERPRISE)
"""leads.program: Enterprise-segment leads get the Enterprise track, the others the Solution track."""
BOUNCE_FIRST, BOUNCE_LATER, UNSUBSCRIBE = 0.025, 0.006, 0.004
REPEAT_OPEN = 0.25

SCORE_RULES: dict[str, float] = {
    "Form Fill": 10,
    "Event Badge Scan": 15,
    "Job Title Match": 15,
    "Competitor Email Domain": -50,
    "Email Open": 2,
    "Email Click": 5,
    "Web Page Visit": 3,
    "Content Download": 10,
    "Webinar Attended": 15,
    "Pricing Page Visit": 20,
    "Demo Request": 60,
    "Inactivity Decay": -10,
}
MQL_THRESHOLD = 100
JOB_TITLE_MATCH, COMPETITOR = 0.4, 0.02
PAGE_VISITS, CONTENT_DOWNLOADS, PRICING_VISITS = 2.0, 0.9, 0.35
"""Mean number of such score events per lead in its first months."""
DECAY_AFTER_DAYS, MAX_DECAYS = 30, 6

# Delay distributions as quantile tables (probability → days), interpolated linearly.
MQL_DELAY = ((0, 0.1, 0.25, 0.5, 0.75, 0.9, 1), (0.01, 0.2, 1.5, 5, 12, 20, 35))
SQL_DELAY = ((0, 0.5, 0.9, 1), (0.05, 2, 7, 14))
RECYCLE_DELAY = ((0, 0.5, 1), (1, 4, 10))
OPPORTUNITY_DELAY = ((0, 0.5, 0.9, 1), (1, 3, 9, 18))
CLOSE_DELAY = ((0, 0.1, 0.5, 0.9, 1), (7, 12, 24, 45, 70))
"""Deal created → closed for outbound deals (no lead)."""
LEAD_TO_CLOSE = ((0, 0.1, 0.85, 1), (18, 30, 30, 45))
"""Lead created → deal closed for deals from leads: most close when the 30-day trial the lead started ends, a
few earlier, some later (and none sooner than `MIN_SALES_CYCLE` days after the deal opened). The path fits in
about two months, so a lead export starting in month M already holds nearly all leads behind the customers
of M + 2 and the median days to customer is the trial's length from the start."""
MIN_SALES_CYCLE = 3
LOST_DELAY = ((0, 0.5, 0.9, 1), (7, 30, 60, 90))
"""Deal created → closed for lost new deals."""
EXPANSION_CLOSE_DELAY = ((0, 0.5, 1), (10, 30, 75))
OPEN_DELAY_HOURS = ((0, 0.1, 0.5, 0.9, 1), (0.02, 0.1, 2, 30, 72))
ARR_SPREAD = ((0, 0.1, 0.5, 0.9, 1), (0.55, 0.7, 1.0, 1.45, 1.9))
EXPANSION_SHARE = ((0, 0.5, 1), (0.25, 0.45, 0.8))
HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 18, 15, 17, 18, 17, 14, 10, 7, 5, 4, 3, 2, 1.0])
WEEKDAY_WEIGHTS = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.3, 0.25])
"""Activity by hour of day and by weekday (Monday first): people sign up during office hours."""


# ---------------------------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Calendar:
    """Months simulated: burn-in, the window (`months` ending `end_month`), and the partial month after it."""

    starts: np.ndarray
    """datetime64[s] start of every simulated month, plus the exclusive end of the last (partial) one."""
    window: int
    """Index of the first window month in `starts`."""

    @classmethod
    def build(cls, end_month: str, months: int) -> Calendar:
        """Burn-in months, `months` months ending `end_month`, and the partial month up to the export day."""
        last = np.datetime64(end_month, "M")
        first = last - (months - 1) - BURN_IN_MONTHS
        starts = np.arange(first, last + 2).astype("datetime64[s]")
        return cls(np.append(starts, starts[-1] + PARTIAL_DAYS * DAY), BURN_IN_MONTHS)

    @property
    def n(self) -> int:
        """Number of simulated months (the partial one included)."""
        return len(self.starts) - 1

    @property
    def window_start(self) -> np.datetime64:
        """Start of the first month of the window (the first exported lead's month)."""
        return self.starts[self.window]

    @property
    def end(self) -> np.datetime64:
        """Exclusive end of the data: midnight after the export day."""
        return self.starts[-1]

    def month_of(self, t: np.ndarray) -> np.ndarray:
        """Month index of each time (−1 before the first month, `n` at or after the end; NaT → `n`)."""
        idx = np.searchsorted(self.starts, t.astype("datetime64[s]"), side="right") - 1
        return np.where(np.isnat(t), self.n, idx)

    def month_of_year(self) -> np.ndarray:
        """0 (January) … 11 of every simulated month."""
        return self.starts[:-1].astype("datetime64[M]").astype(int) % 12

    def fraction(self) -> np.ndarray:
        """Share of a full month each simulated month covers (the partial month < 1)."""
        spans = np.diff(self.starts).astype("timedelta64[D]").astype(float)
        months = self.starts[:-1].astype("datetime64[M]")
        return spans / ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(float)

    def activity_times(
        self, month: np.ndarray, u: np.ndarray, volume: np.ndarray | None = None
    ) -> np.ndarray:
        """Times inside each lead's month at quantile `u` of the office-hours activity profile; with `volume`
        (events per simulated month) tilted so the daily rate runs on across month ends instead of jumping
        (a month's quota spread over 28 days is denser than over 31: what follows with a delay would wobble)."""
        hours = np.arange(self.starts[0], self.end, HOUR)
        hour = (hours - hours.astype("datetime64[D]")).astype(int) // 3600
        weight = WEEKDAY_WEIGHTS[weekday(hours)] * HOUR_WEIGHTS[hour]
        if volume is not None:
            weight = weight * self._tilt(hours, np.asarray(volume, float))
        cum = np.concatenate([[0.0], np.cumsum(weight)])
        bounds = np.searchsorted(hours, self.starts)
        lo, hi = cum[bounds[month]], cum[bounds[month + 1]]
        seconds = np.interp(lo + u * (hi - lo), cum, np.arange(len(cum)) * 3600.0)
        return self.starts[0] + np.minimum(seconds, (len(cum) - 1) * 3600.0 - 1).astype("timedelta64[s]")

    def _tilt(self, hours: np.ndarray, volume: np.ndarray) -> np.ndarray:
        """Per hour, a quadratic in the month's elapsed share with mean 1 that starts and ends at the average of
        the month's daily rate and its neighbour's (relative to its own)."""
        spans = np.diff(self.starts).astype("timedelta64[s]").astype(float)
        rate = np.maximum(volume, 1e-9) / spans
        before, after = np.r_[rate[0], rate[:-1]], np.r_[rate[1:], rate[-1]]
        a, b = (before + rate) / (2 * rate), (after + rate) / (2 * rate)
        c = 6 * (1 - (a + b) / 2)
        month = np.searchsorted(self.starts, hours, side="right") - 1
        t = (hours - self.starts[month]).astype(float) / spans[month]
        return np.maximum(a[month] + (b - a)[month] * t + c[month] * t * (1 - t), 0.05)


# ---------------------------------------------------------------------------------------------- sampling


def stratified_uniform(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform draws spread evenly inside each group: of a group's n draws exactly one lies in each [k/n, (k+1)/n)."""
    n = len(groups)
    if n == 0:
        return np.empty(0)
    order = np.argsort(groups + rng.random(n))
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    u = np.empty(n)
    u[order] = (rank + rng.random(n)) / np.repeat(sizes, sizes)
    return u


GOLDEN = 0.6180339887498949


def lattice_uniform(groups: np.ndarray, position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stratified uniforms (as `stratified_uniform`) paired with `position` (e.g. an event time) on a golden-ratio
    lattice instead of at random: how many of a group's `position + delay(u)` land in any month is then
    within about one of its expected share, so stage counts by month do not wobble."""
    n = len(groups)
    if n == 0:
        return np.empty(0)
    order = np.lexsort((position, groups))
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    phase = np.repeat(rng.random(len(starts)), sizes)
    spread = (rank * GOLDEN + phase) % 1.0
    second = np.lexsort((spread, ordered))
    k = np.empty(n)
    k[second] = np.arange(n) - np.repeat(starts, sizes)
    u = np.empty(n)
    u[order] = (k + rng.random(n)) / np.repeat(sizes, sizes)
    return u


def exact_choice(p: np.ndarray, keys: tuple[np.ndarray, ...], rng: np.random.Generator) -> np.ndarray:
    """Bernoulli outcomes with probabilities `p` by systematic sampling in the order of `keys` (most significant
    first): every run of equal leading keys gets within one of its expected count."""
    n = len(p)
    if n == 0:
        return np.zeros(0, bool)
    order = np.lexsort((rng.random(n), *reversed(keys)))
    ordered = np.clip(p[order], 0.0, 1.0)
    cum = rng.random() + np.cumsum(ordered)
    hit = np.floor(cum) > np.floor(cum - ordered)
    out = np.empty(n, bool)
    out[order] = hit
    return out


class Quota:
    """Systematic sampling whose position carries over between calls per stream (e.g. event × month): outcomes
    drawn step by step (one call per email) still total their expected count per stream, rounded."""

    def __init__(self) -> None:
        self.position: dict[int, float] = {}

    def choose(self, p: np.ndarray, stream: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """Bernoulli outcomes with probabilities `p`, systematic within each integer `stream` in the order of
        `rank` (e.g. recipients by creation time: every run of them gets within one of its expected count)."""
        n = len(p)
        if n == 0:
            return np.zeros(0, bool)
        order = np.lexsort((rank, stream))
        ordered, streams = np.clip(p[order], 0.0, 1.0), stream[order]
        starts = np.flatnonzero(np.r_[True, streams[1:] != streams[:-1]])
        sizes = np.diff(np.r_[starts, n])
        keys = streams[starts].tolist()
        # Streams start half way into a step: a stream's total is its expected count rounded.
        base = np.array([self.position.setdefault(k, 0.5) for k in keys])
        total = np.cumsum(ordered)
        within = total - np.repeat((total - ordered)[starts], sizes)
        cum = np.repeat(base, sizes) + within
        for k, b, size_end in zip(keys, base, within[np.r_[starts[1:], n] - 1], strict=True):
            self.position[k] = b + size_end
        hit = np.floor(cum) > np.floor(cum - ordered)
        out = np.empty(n, bool)
        out[order] = hit
        return out


def quantile_draw(u: np.ndarray, table: tuple[tuple[float, ...], tuple[float, ...]]) -> np.ndarray:
    """Values at quantiles `u` of a distribution given as a (probabilities, values) table."""
    return np.interp(u, np.asarray(table[0], float), np.asarray(table[1], float))


def categorical(u: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Category index at quantile `u` of the (normalized) `shares`; with stratified `u` the counts are exact."""
    cum = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cum, u, side="right"), len(shares) - 1)


def days(values: np.ndarray) -> np.ndarray:
    """A float array of days as a whole-second timedelta array."""
    return np.round(np.asarray(values) * 86_400).astype("timedelta64[s]")


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to `weights` summing exactly to `total` (rounded cumulative shares)."""
    cum = np.round(np.cumsum(weights) / np.sum(weights) * total)
    return np.diff(np.r_[0, cum]).astype(np.int64)
