"""Lifecycle funnel (SPEC §5 "Funnel"): lead → MQL → SQL → opportunity → customer, cohort or period mode.

Decisions where the spec is silent:

- Cohort mode counts a lead at a step when it has that step's date *or any later step's* date (a customer
  without an SQL date still passed SQL), so cohort counts never increase along the steps. Period mode counts
  only the leads whose own date for the step falls in the month: it measures flow, and can rise.
- Days from the previous step are measured only where the lead has both its own dates; a step recorded before
  its previous step (out of order, e.g. an SQL created by sales before the MQL rule fired) is left out of the
  timing, and ``n_timed`` says how many leads the median and p90 rest on.
- A step whose date is unknown for every lead (no column in any export, see ``lead_facts``'s
  ``stage_sources``) is left out of the funnel and named in ``notes`` instead of showing as a fake zero.
- Rows by segment or channel: an empty value is its own group, ``(not set)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.schema import NOT_SET
from lifecycle.workspace import Tables

FunnelMode = Literal["cohort", "period"]
Breakdown = Literal["channel", "segment"] | None

FUNNEL_STEPS: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "customer")
STEP_LABELS: dict[str, str] = {
    "lead": "Leads",
    "mql": "MQLs",
    "sql": "SQLs",
    "opportunity": "Opportunities",
    "customer": "Customers",
}
STEP_DATES: dict[str, str] = {
    "lead": "created_at",
    "mql": "mql_at",
    "sql": "sql_at",
    "opportunity": "opportunity_at",
    "customer": "customer_at",
}
ALL = "All"
"""Group name when the funnel is not broken down."""

STEP_COLUMNS = (
    "group", "step", "label", "count", "pct_of_first", "pct_of_previous", "median_days", "p90_days", "n_timed",
)  # fmt: skip
MEMBER_COLUMNS = ("lead_id", "group", "step", "entered_at", "days_from_previous")


@dataclass(frozen=True)
class Funnel:
    """A funnel for one month: ``steps`` (one row per group and step) and ``members`` (the leads behind them).

    ``steps`` columns: group, step, label, count, pct_of_first, pct_of_previous (fractions, NaN on a zero
    base), median_days, p90_days (days from the previous step), n_timed. ``members``: one row per lead and
    step counted, with the lead's own date for the step (NaT when implied by a later step) and its days from
    the previous step. ``reason`` is set when the funnel cannot be built (then both frames are empty).
    """

    mode: FunnelMode
    month: str
    by: Breakdown
    steps: pd.DataFrame
    members: pd.DataFrame
    view_leads: pd.DataFrame = field(repr=False)
    """Lead facts of the funnel's channel (all of them; ``leads`` selects the counted ones)."""
    counted: np.ndarray = field(repr=False)
    """Positions in ``view_leads`` of the leads counted at any step."""
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @cached_property
    def leads(self) -> pd.DataFrame:
        """Lead facts of the leads counted at any step (for drill-through; selected on first use)."""
        return self.view_leads.iloc[self.counted].reset_index(drop=True)

    def rows(self, step: str, group: str | None = None) -> pd.DataFrame:
        """The leads counted at ``step`` (optionally in one group): lead facts plus entered_at and days."""
        pick = self.members["step"].eq(step)
        if group is not None:
            pick &= self.members["group"].eq(group)
        chosen = self.members.loc[pick, ["lead_id", "entered_at", "days_from_previous"]]
        return chosen.merge(self.leads, on="lead_id", how="left").reset_index(drop=True)


def _empty_steps() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in STEP_COLUMNS})
    for col in ("group", "step", "label"):
        frame[col] = frame[col].astype("str")
    frame["count"] = frame["count"].astype("int64")
    frame["n_timed"] = frame["n_timed"].astype("int64")
    return frame


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype="str"),
            "group": pd.Series(dtype="str"),
            "step": pd.Series(dtype="str"),
            "entered_at": pd.Series(dtype="datetime64[us]"),
            "days_from_previous": pd.Series(dtype="float64"),
        }
    )


def known_steps(facts: Facts) -> tuple[list[str], list[str]]:
    """Funnel steps whose date some export provides, and a note per step left out."""
    sources = facts.info.get("stage_sources", {})
    steps, notes = [], []
    for step in FUNNEL_STEPS:
        col = STEP_DATES[step]
        if step == "lead" or sources.get(col):
            steps.append(step)
        else:
            notes.append(f"{STEP_LABELS[step]} left out: no export gives the {col} date.")
    return steps, notes


def _group_of(leads: pd.DataFrame, by: Breakdown) -> pd.Series:
    if by is None:
        return pd.Series(ALL, index=leads.index, dtype="str")
    values = leads[by].astype("object").astype("str").str.strip()
    return values.mask(values.isna() | values.eq(""), NOT_SET)


def _members(
    leads: pd.DataFrame, steps: list[str], mode: FunnelMode, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per (lead, step) counted, with the lead's own date and days from the previous step."""
    if not steps:
        return _empty_members()
    dates = {s: leads[STEP_DATES[s]].to_numpy() for s in steps}
    if mode == "cohort":
        reached, later = {}, np.zeros(len(leads), dtype=bool)
        # Walk from the last step back so "reached" = own date or any later step's date.
        for step in reversed(steps):
            later = later | ~np.isnat(dates[step])
            reached[step] = later
    else:
        reached = {s: (dates[s] >= start.to_datetime64()) & (dates[s] < end.to_datetime64()) for s in steps}
    rows, own, days = [], [], []
    for i, step in enumerate(steps):
        at = np.flatnonzero(reached[step])
        rows.append(at)
        own.append(dates[step][at])
        if i == 0:
            days.append(np.full(len(at), np.nan))
        else:
            gap = (dates[step][at] - dates[steps[i - 1]][at]) / np.timedelta64(1, "s") / 86400.0
            days.append(np.where(gap >= 0, gap, np.nan))  # NaT (missing date) gives NaN, kept NaN
    positions = np.concatenate(rows)
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].take(positions).reset_index(drop=True),
            "group": leads["_group"].take(positions).reset_index(drop=True),
            "step": _repeated(steps, [len(r) for r in rows]),
            "entered_at": np.concatenate(own).astype("datetime64[us]"),
            "days_from_previous": np.concatenate(days).astype("float64"),
        }
    )


def _repeated(texts: list[str], counts: list[int]) -> pd.Series:
    """Each text repeated its count of times, as a text column (one Arrow take: no Python string per row)."""
    codes = np.repeat(np.arange(len(texts)), counts)
    return pd.Series(pa.array(texts, pa.large_string()).take(pa.array(codes)), dtype="str")


def _step_table(members: pd.DataFrame, groups: list[str], steps: list[str]) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product([groups, steps], names=["group", "step"])
    # Per group and step with numpy: a few groups and five steps, where pandas' groupby costs more than counting.
    days_all = members["days_from_previous"].to_numpy()
    in_step = {step: members["step"].eq(step).to_numpy() for step in steps}
    counts, medians, p90s, timed = [], [], [], []
    for group in groups:
        in_group = members["group"].eq(group).to_numpy()
        for step in steps:
            chosen = in_group & in_step[step]
            days = days_all[chosen]
            days = days[~np.isnan(days)]
            counts.append(int(chosen.sum()))
            timed.append(len(days))
            medians.append(float(np.quantile(days, 0.5)) if len(days) else np.nan)
            p90s.append(float(np.quantile(days, 0.9)) if len(days) else np.nan)
    table = pd.DataFrame(
        {"count": counts, "median_days": medians, "p90_days": p90s, "n_timed": timed}, index=grid
    )
    table = table.astype({"count": "int64", "n_timed": "int64"}).reset_index()
    counts = table["count"].astype("float64")
    first = table.groupby("group", sort=False)["count"].transform("first").astype("float64")
    previous = table.groupby("group", sort=False)["count"].shift(1).astype("float64")
    table["pct_of_first"] = counts / first.where(first > 0)
    table["pct_of_previous"] = counts / previous.where(previous > 0)
    table["label"] = table["step"].map(STEP_LABELS)
    for col in ("group", "step", "label"):
        table[col] = table[col].astype("str")
    return table[list(STEP_COLUMNS)]


def funnel(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    mode: FunnelMode = "cohort",
    by: Breakdown = None,
) -> Funnel:
    """Funnel for month M: cohort = leads created in M and the stages they reached to date; period = leads
    entering each stage in M. Each step: count, % of first, % of previous, median and p90 days from the
    previous step; optionally one funnel per channel or segment."""
    if mode not in ("cohort", "period"):
        raise ValueError(f"funnel mode is 'cohort' or 'period', not {mode!r}")
    if by not in (None, "channel", "segment"):
        raise ValueError(f"a funnel is broken down by 'channel' or 'segment', not {by!r}")
    facts = build_facts(data).view(channel)
    period = parse_month(month)
    if facts.leads is None:
        empty = Funnel(
            mode, str(period), by, _empty_steps(), _empty_members(), pd.DataFrame(), np.zeros(0, np.intp)
        )
        return replace(empty, reason=needs_text([("leads", "lead_stages")]))
    leads = facts.leads
    steps, notes = known_steps(facts)
    start, end = month_bounds(period)
    # Only leads counted at some step: created in M (cohort), or with a step's own date in M (period).
    dated = [STEP_DATES[s] for s in (steps[:1] if mode == "cohort" else steps)]
    counted = np.zeros(len(leads), dtype=bool)
    for col in dated:
        counted |= facts.month_mask(leads[col].to_numpy(), start, end)
    positions = np.flatnonzero(counted)
    used = ["lead_id", *(STEP_DATES[s] for s in steps), *([by] if by is not None else [])]
    leads = leads[used].iloc[positions].reset_index(drop=True)  # only the columns the counts read
    leads = leads.assign(_group=_group_of(leads, by))
    members = _members(leads, steps, mode, start, end)
    if by is None:
        groups = [ALL]
    else:
        # Groups ordered by size at the first step (biggest first), "(not set)" last.
        sizes = members[members["step"].eq(steps[0])]["group"].value_counts()
        sizes = sizes.reindex(sorted(set(members["group"]))).fillna(0)
        groups = sorted(sizes.index, key=lambda g: (g == NOT_SET, -sizes[g], g))
    table = _step_table(members, groups, steps)
    return Funnel(mode, str(period), by, table, members, facts.leads, positions, tuple(notes))


def funnel_rows(
    data: Tables | Facts,
    month: str | pd.Period,
    step: str,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    mode: FunnelMode = "cohort",
    by: Breakdown = None,
    group: str | None = None,
) -> pd.DataFrame:
    """The leads behind one funnel step (and group): their lead facts, date entered and days from the
    previous step."""
    return funnel(data, month, channel, settings, mode=mode, by=by).rows(step, group)
