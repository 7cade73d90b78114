"""What the app computes for each thing a user does, as the benchmark times it.

Each interaction is a function of the opened workspace and a call number: call 0 is the cold call (made right
after the workspace was opened), calls 1… are warm ones on the same facts. Switches move to a month or channel
not computed before on those facts, so a warm switch is what a user sees when changing the picker, not a
repeat of the previous view.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lifecycle import metrics as lm
from lifecycle.display import metric_card
from lifecycle.metrics.funnels import funnel
from lifecycle.metrics.profiles import cohort_score_profile
from lifecycle.metrics.trends import metric_trend, warnings_for_month
from lifecycle.session import comparison_month, trailing_months
from lifecycle.views import pacing_table
from lifecycle.workspace import load_tables

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


def open_workspace(tables: dict[str, pd.DataFrame], month: str | None = None) -> Opened:
    """Facts, months, default month and channels: what the app derives once per workspace."""
    facts = lm.build_facts(tables)
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
    """Read the workspace's Parquet tables and open them."""
    return open_workspace(load_tables(folder), month)


def overview_data(o: Opened, month: str, channel: str | None = None) -> dict[str, Any]:
    """Everything pages/overview.py computes: each stage's key metric card (value, change against the
    previous month, 12-month sparkline, rows count), the month's early warnings, the cohort and period
    funnels, and the quarter-to-date pacing of the key metrics."""
    settings = lm.DEFAULT_SETTINGS
    key_ids = list(lm.KEY_METRICS.values())
    now = lm.compute_all(o.facts, month, channel, settings)
    compare = comparison_month(month, "mom")
    before = lm.compute_all(o.facts, compare, channel, settings) if compare in o.months else {}
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


def _earlier_month(o: Opened, call: int) -> str:
    earlier = [m for m in o.months if m < o.month]
    return earlier[-1 - call % len(earlier)] if earlier else o.month


def _channel(o: Opened, call: int) -> str | None:
    return o.channels[call % len(o.channels)] if o.channels else None


def _trends(o: Opened) -> dict[str, pd.DataFrame]:
    months = trailing_months(o.months, o.month, TREND_MONTHS)
    return {metric_id: metric_trend(o.facts, metric_id, months) for metric_id in lm.CATALOG}


Interaction = Callable[[Opened, int], Any]

INTERACTIONS: dict[str, Interaction] = {
    # every catalog metric of the selected month (the stage pages' cards)
    "all_metrics": lambda o, call: lm.compute_all(o.facts, o.month),
    # the month picker moves to a month not shown yet: every metric of that month
    "month_switch": lambda o, call: lm.compute_all(o.facts, _earlier_month(o, call)),
    # the channel picker moves to a channel not shown yet: every metric of the month for it
    "channel_switch": lambda o, call: lm.compute_all(o.facts, o.month, _channel(o, call)),
    "overview": lambda o, call: overview_data(o, o.month),
    "cohort_funnel": lambda o, call: funnel(o.facts, o.month, mode="cohort"),
    "score_profile_24": lambda o, call: cohort_score_profile(o.facts, o.month, cohorts=TREND_MONTHS),
    # every catalog metric as a trend table (value, MoM, YoY, QTD, warnings) over 24 months
    "trends_24": lambda o, call: _trends(o),
}
"""Interactions timed on opened facts; `load_workspace` (reading the Parquet and opening) is timed apart."""
