"""What the app computes for each thing a user does, as the benchmark times it.

Each interaction is a function of the opened workspace and a call number: call 0 is the cold call (made right
after the workspace was opened), calls 1… are warm ones on the same facts. Warm calls of the month-dependent
views (switches, overview, trends) move to a month or channel not shown before on those facts, so a warm figure
is what a user waits for after changing the picker, not a repeat of a view the app has already computed (the
engine remembers metric values per month, so a repeat would cost next to nothing).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lifecycle import metrics as lm
from lifecycle.display import metric_card
from lifecycle.metrics.drivers import nurture_impact, score_drivers
from lifecycle.metrics.effectiveness import source_effectiveness
from lifecycle.metrics.funnels import funnel
from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.metrics.programs import program_steps
from lifecycle.metrics.store import open_facts
from lifecycle.metrics.trends import metric_trend, warnings_for_month
from lifecycle.session import comparison_month, trailing_months
from lifecycle.views import pacing_table

SPARK_MONTHS = 12  # pages/_ui.py: the overview cards' sparklines
TREND_MONTHS = 24  # pages/_ui.py: trend charts; SPEC: score profile over 24 cohorts


@dataclass
class Opened:
    """A workspace as the app holds it after loading: facts plus the pickers' months and channels."""

    facts: lm.Facts
    months: list[str]
    month: str
    channels: list[str]
    """Channels, biggest first (by leads), so the first switches are the most expensive ones."""


def open_facts_of(facts: lm.Facts, month: str | None = None) -> Opened:
    """Months, default month and channels of opened facts: what the app derives once per workspace."""
    months = lm.months_in_data(facts)
    chosen = month or lm.default_month(facts)
    if chosen is None:
        raise ValueError("the workspace holds no dated rows")
    channels = lm.channels(facts)
    if facts.leads is not None:
        sizes = facts.leads["channel"].value_counts()
        channels = sorted(channels, key=lambda c: -int(sizes.get(c, 0)))
    return Opened(facts, months, chosen, channels)


def load_workspace(folder: str | os.PathLike[str], month: str | None = None) -> Opened:
    """Open a workspace folder as the app does (`--data DIR`): its saved facts (derived and saved first when
    missing or older than its tables), months and channels."""
    return open_facts_of(open_facts(folder), month)


def overview_data(o: Opened, month: str, channel: str | None = None) -> dict[str, Any]:
    """Everything pages/overview.py computes: each stage's key metric card (value, change against the
    previous month, 12-month sparkline, rows count), the month's early warnings, the cohort and period
    funnels, and the quarter-to-date pacing of the key metrics."""
    settings = lm.DEFAULT_SETTINGS
    key_ids = list(lm.KEY_METRICS.values())
    compare = comparison_month(month, "mom")
    now: dict[str, lm.MetricResult] = {}
    before: dict[str, lm.MetricResult] = {}
    for metric_id in key_ids:  # as the page does: one card per stage, each with its comparison month
        now |= lm.compute_metrics(o.facts, [metric_id], month, channel, settings)
        if compare in o.months:
            before |= lm.compute_metrics(o.facts, [metric_id], compare, channel, settings)
    spark_months = trailing_months(o.months, month, SPARK_MONTHS)
    cards = [
        metric_card(now[m], before.get(m), lm.metric_series(o.facts, m, spark_months, channel, settings))
        for m in key_ids
    ]
    return {
        "cards": cards,
        "warnings": warnings_for_month(o.facts, month, channel, settings),
        "funnels": [funnel(o.facts, month, channel, settings, mode=mode) for mode in ("cohort", "period")],
        "pacing": pacing_table(o.facts, key_ids, o.months, month, channel, settings),
    }


def nurture_analyses(o: Opened, month: str, channel: str | None = None) -> dict[str, Any]:
    """What pages/nurture.py computes beyond the cards and charts timed apart: the prospect program table
    (recipients of the last 3 months, the page's default window), score drivers and nurture impact."""
    settings = lm.DEFAULT_SETTINGS
    return {
        "programs": program_steps(o.facts, month, channel, settings, audience="prospect", months=3),
        "drivers": score_drivers(o.facts, month, channel, settings),
        "impact": nurture_impact(o.facts, month, channel, settings),
    }


def _earlier_month(o: Opened, call: int) -> str:
    earlier = [m for m in o.months if m < o.month]
    return earlier[-1 - call % len(earlier)] if earlier else o.month


def _channel(o: Opened, call: int) -> str | None:
    return o.channels[call % len(o.channels)] if o.channels else None


def _trends(o: Opened, month: str) -> dict[str, pd.DataFrame]:
    months = trailing_months(o.months, month, TREND_MONTHS)
    return {metric_id: metric_trend(o.facts, metric_id, months) for metric_id in lm.CATALOG}


Interaction = Callable[[Opened, int], Any]

INTERACTIONS: dict[str, Interaction] = {
    # every catalog metric of the selected month (the stage pages' cards)
    "all_metrics": lambda o, call: lm.compute_all(o.facts, o.month),
    # the month picker moves to a month not shown yet: every metric of that month
    "month_switch": lambda o, call: lm.compute_all(o.facts, _earlier_month(o, call)),
    # the channel picker moves to a channel not shown yet: every metric of the month for it
    "channel_switch": lambda o, call: lm.compute_all(o.facts, o.month, _channel(o, call)),
    # the overview page, then again after the month picker moved to a month not shown yet
    "overview": lambda o, call: overview_data(o, _earlier_month(o, call) if call else o.month),
    "cohort_funnel": lambda o, call: funnel(o.facts, o.month, mode="cohort"),
    "score_profile_24": lambda o, call: cohort_score_profile(o.facts, o.month, cohorts=TREND_MONTHS),
    # every catalog metric as a trend table (value, MoM, YoY, QTD, warnings) over the 24 months up to the
    # month, then again after the month picker moved to a month not shown yet
    "trends_24": lambda o, call: _trends(o, _earlier_month(o, call) if call else o.month),
    # the Nurture page's analyses (program table of the last 3 months, score drivers, nurture impact), then
    # again after the month picker moved to a month not shown yet
    "nurture_analyses": lambda o, call: nurture_analyses(o, _earlier_month(o, call) if call else o.month),
    # the source effectiveness tables of the Capture page (by campaign, its default) and of the Convert page (by
    # channel), then again after the month picker moved to a month not shown yet
    "source_effectiveness": lambda o, call: [
        source_effectiveness(o.facts, _earlier_month(o, call) if call else o.month, by=by)
        for by in ("campaign", "channel")
    ],
}
"""Interactions timed on opened facts; `load_workspace` (reading the Parquet and opening) is timed apart."""
