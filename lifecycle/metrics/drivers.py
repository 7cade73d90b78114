"""What moves leads forward (SPEC §5): score drivers by score-change reason, and nurture impact.

Both compare the leads something happened to with the leads it did not happen to, over the leads created in
a window (default the 12 months ending with M, so a month's handful of leads does not decide). Comparisons
are observational: a reason that fires for already-keen leads shows lift without causing it.

Decisions where the spec is silent:

- Score drivers count a change only when it happened at or before the lead's MQL date (all changes of a lead
  that never became MQL): a change after MQL cannot have driven it. A reason's lift is its touched leads' MQL
  rate ÷ the untouched leads' MQL rate − 1. A reason has *no effect* when |lift| < ``no_effect_lift``
  (default 10 %); it is *too few leads to tell* when fewer than ``min_leads`` (default 10) leads are touched
  or untouched.
- Nurtured lead: the lead has a program recorded (when the leads export records programs), or received a
  prospect-audience program email before its SQL date (at any time if it never became SQL). A channel picked
  narrows the leads compared, by the lead's channel; their program emails and deals count whatever channel
  those carry (a lead without a channel whose e-mail address is a customer's gets that customer's channel on its
  sends), so the channels' groups add up to all channels'. With e-mail activity that names programs, a channel
  none of whose leads got a program email compares its leads as all not nurtured (it is not unavailable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.keys import (
    DEAL_ROWS,
    Saved,
    deal_rows,
    labelled,
    lead_ids,
    lead_positions,
    lead_rows,
    remembered,
    sorted_order,
    stamps,
    ticks,
)
from lifecycle.metrics.programs import has_program, program_labels
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

NO_REASON = "(no reason)"
NURTURED, NOT_NURTURED = "nurtured", "not nurtured"
INDUSTRY_LIFT: dict[str, tuple[float, str]] = {
    "opportunity_rate": (0.20, "nurtured leads produce about 20 % more sales opportunities"),
    "avg_won_amount": (0.47, "nurtured leads make about 47 % larger purchases"),
}
"""Industry figures often quoted for nurture programs (reference only, not a benchmark of this data)."""

DRIVER_COLUMNS = (
    "reason", "changes", "points", "leads_touched", "mql_rate_touched", "leads_untouched", "mql_rate_untouched",
    "lift", "effect", "no_effect",
)  # fmt: skip
IMPACT_MEASURES: dict[str, str] = {
    "leads": "Leads",
    "sql_rate": "SQL rate",
    "opportunity_rate": "Opportunity rate",
    "win_rate": "Win rate",
    "avg_won_amount": "Average won deal",
    "median_days_to_close": "Days to close (median)",
}


def _window(month: str | pd.Period, months: int) -> tuple[np.datetime64, np.datetime64]:
    """Start and end of the ``months`` months ending with M."""
    last = parse_month(month)
    start, end = month_bounds(last - (months - 1))[0], month_bounds(last)[1]
    return start.to_datetime64(), end.to_datetime64()


def _cohort_rows(facts: Facts, month: str | pd.Period, months: int, channel: str | None = None) -> np.ndarray:
    """The rows of ``facts.leads`` created in the ``months`` months ending with M (of ``channel`` when set)."""
    start, end = _window(month, months)
    created = facts.leads["created_at"].to_numpy()
    chosen = (created >= start) & (created < end)
    if channel is not None:
        chosen &= (facts.leads["channel"] == channel).to_numpy()
    return np.flatnonzero(chosen)


def _cohort(facts: Facts, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Lead facts of the cohort's rows (`_cohort_rows`): the ``columns`` asked for."""
    return facts.leads[columns].take(rows).reset_index(drop=True)


@dataclass(frozen=True)
class _Counted:
    """The score changes that can have driven an MQL (at or before their lead's MQL date; all of a lead that
    never became MQL) of leads of these facts, as codes: each one's ``lead`` (a row of the leads), the lead's
    ``created`` time, ``reason`` (a position in ``reasons``) and ``points`` (a missing delta counts 0), in
    order of ``created``. What no month changes, worked out once per facts."""

    lead: np.ndarray
    created: np.ndarray
    reason: np.ndarray
    points: np.ndarray
    reasons: pd.Index


def _counted_changes(facts: Facts) -> _Counted:
    changes = facts.scores.changes
    lead = lead_positions(facts, changes["lead_id"])
    mql = np.append(facts.leads["mql_at"].to_numpy(), np.datetime64("NaT"))[lead]
    counted = np.flatnonzero((lead >= 0) & (np.isnat(mql) | (changes["at"].to_numpy() <= mql)))
    del mql
    # In order of the lead's creation, so that a window of cohorts is one slice: the leads ranked by creation
    # once, then the changes sorted by their lead's rank.
    created = facts.leads["created_at"].to_numpy()
    rank = np.empty(len(created), dtype=np.int64)
    rank[np.argsort(created, kind="stable")] = np.arange(len(created))
    by_creation, _ = sorted_order(rank[lead[counted]], len(created))
    counted = counted[by_creation]
    lead = lead[counted]
    reasons = labelled(changes["reason"], NO_REASON)
    return _Counted(
        lead=lead,
        created=created[lead],
        reason=reasons.codes[counted],
        points=np.nan_to_num(changes["delta"].to_numpy(dtype="float64")[counted]),
        reasons=reasons.categories,
    )


def _changes(facts: Facts) -> _Counted:
    return remembered(facts, ("drivers", "changes"), lambda: _counted_changes(facts))


@dataclass(frozen=True)
class _Tally:
    """`_Counted` summed per creation month of the lead (a position in ``months``, the monthly periods' ordinals
    of the months in which leads were created, in order), channel of the lead (a position in ``channels``, after a
    first one for leads without a channel) and reason (a position in ``reasons``): ``changes``, ``points``,
    ``leads_touched`` (the leads with a change of the reason) and ``mql_touched`` (of those, the MQLs), each of
    shape (months, channels + 1, reasons). A window of whole months, of all channels or of one, is then a sum of a
    few of them. Only months that hold leads have cells, so a stray date years away adds one month, not the years
    between. Worked out once per facts."""

    months: np.ndarray
    changes: np.ndarray
    points: np.ndarray
    leads_touched: np.ndarray
    mql_touched: np.ndarray
    channels: pd.Index
    reasons: pd.Index

    def window(self, month: str | pd.Period, months: int, channel: str | None) -> dict[str, np.ndarray]:
        """Per reason, the sums over the leads created in the ``months`` months ending with M (of ``channel``
        when set)."""
        last = parse_month(month).ordinal
        picked = slice(*np.searchsorted(self.months, [last - months + 1, last + 1]))
        code = self.channels.get_indexer([channel])[0] if channel is not None else -1
        out = {}
        for col in ("changes", "points", "leads_touched", "mql_touched"):
            values = getattr(self, col)[picked]
            if channel is None:
                out[col] = values.sum(axis=(0, 1))
            elif code >= 0:
                out[col] = values[:, code + 1].sum(axis=0)
            else:  # a channel no lead has
                out[col] = np.zeros(values.shape[2], dtype=values.dtype)
        return out


def _tally_changes(facts: Facts) -> _Tally:
    counted = _changes(facts)
    leads = facts.leads
    created = leads["created_at"].to_numpy().astype("datetime64[M]").view(np.int64)
    dated = created != np.iinfo(np.int64).min
    months = np.unique(created[dated])
    channel = leads["channel"].astype("category")
    channels = pd.Index(channel.cat.categories.astype("str"))
    shape = (len(months), len(channels) + 1, len(counted.reasons))
    # Each lead's cell of (month, channel) as one number; an undated lead has none (-1).
    at_month = np.searchsorted(months, created)
    cell = np.where(dated, at_month * shape[1] + channel.cat.codes.to_numpy() + 1, -1)
    size = int(np.prod(shape))

    def summed(lead: np.ndarray, reason: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        at = cell[lead]
        keep = at >= 0
        flat = at[keep] * shape[2] + reason[keep]
        chosen = None if weights is None else weights[keep]
        return np.bincount(flat, weights=chosen, minlength=size).reshape(shape)

    touched = _touched(counted.lead, counted.reason, len(leads), shape[2])
    touched_lead = touched // shape[2]
    touched_reason = (touched % shape[2]).astype(np.int64)
    has_mql = ~np.isnat(leads["mql_at"].to_numpy())
    return _Tally(
        months=months,
        changes=summed(counted.lead, counted.reason),
        points=summed(counted.lead, counted.reason, counted.points),
        leads_touched=summed(touched_lead, touched_reason),
        mql_touched=summed(touched_lead, touched_reason, has_mql[touched_lead].astype(np.float64)),
        channels=channels,
        reasons=counted.reasons,
    )


def _encode_tally(tally: _Tally) -> dict[str, pd.DataFrame]:
    cells = pd.DataFrame(
        {col: getattr(tally, col).ravel() for col in ("changes", "points", "leads_touched", "mql_touched")}
    )
    return {
        "cells": cells,
        "months": pd.DataFrame({"month": tally.months}),
        "channels": pd.DataFrame({"channel": tally.channels}),
        "reasons": pd.DataFrame({"reason": tally.reasons}),
    }


def _decode_tally(frames: dict[str, pd.DataFrame]) -> _Tally:
    months = frames["months"]["month"].to_numpy()
    channels = pd.Index(frames["channels"]["channel"].array, dtype="str")
    reasons = pd.Index(frames["reasons"]["reason"].array, dtype="str")
    shape = (len(months), len(channels) + 1, len(reasons))
    cells = frames["cells"]
    return _Tally(
        months=months,
        **{
            col: cells[col].to_numpy().reshape(shape)
            for col in ("changes", "points", "leads_touched", "mql_touched")
        },
        channels=channels,
        reasons=reasons,
    )


def _touched(lead: np.ndarray, reason: np.ndarray, leads: int, reasons: int) -> np.ndarray:
    """Each (lead, reason) pair once, as lead × ``reasons`` + reason, in order: marked in a table of every
    pair when that is small (a plain sort of millions of pairs costs ten times more), else sorted."""
    pairs = lead.astype(np.int64) * reasons + reason
    if leads * reasons <= 1 << 26:
        seen = np.zeros(leads * reasons, dtype=bool)
        seen[pairs] = True
        return np.flatnonzero(seen)
    pairs.sort()
    return pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs


# ---------------------------------------------------------------- score drivers


@dataclass(frozen=True)
class ScoreDrivers:
    """Per score-change reason: ``drivers`` (one row per reason) and ``members`` (lead_id, reason touched).

    ``drivers`` columns: reason, changes, points (sum of points), leads_touched, mql_rate_touched,
    leads_untouched, mql_rate_untouched, lift, effect ("raises MQL rate" / "lowers MQL rate" / "no effect" /
    "too few leads to tell"), no_effect (bool).
    """

    drivers: pd.DataFrame
    list_members: Callable[[], pd.DataFrame] = field(repr=False)
    leads: int
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @cached_property
    def members(self) -> pd.DataFrame:
        """The leads each reason touched (listed when first asked for: the page shows only the table)."""
        return self.list_members()


def _empty_drivers() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in DRIVER_COLUMNS})
    return frame.astype({"reason": "str", "effect": "str", "no_effect": "bool", "leads_touched": "int64"})


def _effect(drivers: pd.DataFrame, min_leads: int, no_effect_lift: float) -> pd.Series:
    touched, untouched = drivers["mql_rate_touched"], drivers["mql_rate_untouched"]
    few = (drivers["leads_touched"] < min_leads) | (drivers["leads_untouched"] < min_leads)
    # With an untouched rate of 0 the lift is undefined; the sign of the difference still tells the story.
    flat = drivers["lift"].abs() < no_effect_lift
    flat = flat.where(drivers["lift"].notna(), touched.eq(untouched))
    effect = np.select(
        [few, flat, touched > untouched],
        ["too few leads to tell", "no effect", "raises MQL rate"],
        "lowers MQL rate",
    )
    return pd.Series(effect, index=drivers.index, dtype="str")


def score_drivers(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    months: int = 12,
    min_leads: int = 10,
    no_effect_lift: float = 0.10,
) -> ScoreDrivers:
    """Per score-change reason, over the leads created in the ``months`` months ending with M: changes,
    points, leads touched (before their MQL), MQL rate of touched vs untouched leads and the lift; reasons
    with no effect on the MQL rate flagged."""
    # The whole facts with the cohort narrowed to the channel: what a channel view holds (its leads; the score
    # history stays whole), with what no month or channel changes worked out once.
    facts = build_facts(data)

    def empty_members() -> pd.DataFrame:
        return pd.DataFrame({"lead_id": pd.Series(dtype="str"), "reason": pd.Series(dtype="str")})

    if facts.leads is None:
        return ScoreDrivers(_empty_drivers(), empty_members, 0, (), needs_text([("leads", "lead_stages")]))
    if not facts.has("scores"):
        return ScoreDrivers(_empty_drivers(), empty_members, 0, (), needs_text([("score_changes",)]))
    if not facts.has_column("score_changes", "reason"):
        reason = "the score history has no reason column: add the activity or rule behind each change"
        return ScoreDrivers(_empty_drivers(), empty_members, 0, (), reason)
    rows = _cohort_rows(facts, month, months, channel)
    n = len(rows)
    tally = SAVED["driver-tally"].value(facts)
    counts = tally.window(month, months, channel)
    size = len(tally.reasons)
    present = np.flatnonzero(counts["changes"])
    drivers = pd.DataFrame(
        {
            "reason": tally.reasons[present].astype("str"),
            **{col: values[present] for col, values in counts.items()},
        }
    )
    mql_of_lead = facts.leads["mql_at"].to_numpy()
    n_mql = int((~np.isnat(mql_of_lead[rows])).sum())
    drivers["leads_untouched"] = n - drivers["leads_touched"]
    untouched = drivers["leads_untouched"].astype("float64")
    drivers["mql_rate_touched"] = drivers["mql_touched"] / drivers["leads_touched"].astype("float64")
    drivers["mql_rate_untouched"] = (n_mql - drivers["mql_touched"]) / untouched.where(untouched > 0)
    base = drivers["mql_rate_untouched"]
    drivers["lift"] = drivers["mql_rate_touched"] / base.where(base > 0) - 1
    drivers["effect"] = _effect(drivers, min_leads, no_effect_lift)
    drivers["no_effect"] = drivers["effect"].eq("no effect")
    drivers = drivers.sort_values(["leads_touched", "reason"], ascending=[False, True], kind="stable")
    drivers = drivers[list(DRIVER_COLUMNS)].reset_index(drop=True)
    drivers = drivers.astype(
        {"reason": "str", "changes": "int64", "points": "float64", "leads_touched": "int64"}
    )
    notes = []
    if n and not len(present):
        notes.append("None of these leads has a score change before its MQL date.")

    def members() -> pd.DataFrame:
        counted = _changes(facts)
        start, end = _window(month, months)
        cohort = slice(*np.searchsorted(counted.created, [start, end]))  # the cohort's changes
        lead, reason = counted.lead[cohort], counted.reason[cohort]
        if channel is not None:
            of_channel = (facts.leads["channel"] == channel).to_numpy()[lead]
            lead, reason = lead[of_channel], reason[of_channel]
        touched = _touched(lead, reason, len(facts.leads), size)  # the leads each reason touched
        return pd.DataFrame(
            {
                "lead_id": lead_ids(facts, touched // size),
                "reason": pd.Categorical.from_codes(touched % size, categories=counted.reasons),
            }
        )

    return ScoreDrivers(drivers, members, n, tuple(notes))


# ---------------------------------------------------------------- nurture impact


@dataclass(frozen=True)
class NurtureImpact:
    """Nurtured vs not nurtured leads: ``groups`` (one row each), ``comparison`` (one row per measure).

    ``groups`` columns: group, leads, sqls, sql_rate, opportunities, opportunity_rate, deals_closed,
    deals_won, win_rate, avg_won_amount, median_days_to_close. ``comparison``: measure, label, nurtured,
    not_nurtured, lift (nurtured ÷ not nurtured − 1), reference_lift and reference (the quoted industry
    figure, where one exists). ``members``: lead_id, nurtured.
    """

    groups: pd.DataFrame
    comparison: pd.DataFrame
    list_members: Callable[[], pd.DataFrame] = field(repr=False)
    basis: str
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @cached_property
    def members(self) -> pd.DataFrame:
        """Each lead of the comparison and whether it was nurtured (listed when first asked for)."""
        return self.list_members()


def _nurtured(facts: Facts, cohort: pd.DataFrame, rows: np.ndarray) -> tuple[pd.Series, str]:
    """Whether each cohort lead (the leads' ``rows``) was nurtured, and the basis in words (empty when nothing
    tells)."""
    flag = pd.Series(False, index=cohort.index)
    basis = []
    if facts.info.get("program_basis") == "leads with a program":
        flag |= cohort["in_program"].astype(bool)
        basis.append("a program on the lead")
    if facts.has("sends"):
        first = SAVED["first-program-email"].value(facts)
        if first is not None:
            got = first[rows]
            flag |= ~np.isnat(got) & ~(cohort["sql_at"].to_numpy() < got)
            basis.append("a program email received before SQL")
    return flag, " or ".join(basis)


def _first_program_email(facts: Facts) -> np.ndarray | None:
    """Each lead's first prospect-audience program email (NaT: none), by the leads' rows; None when no send is
    one."""
    sends = facts.sends
    mailed = has_program(program_labels(facts)) & sends["audience"].eq("prospect").to_numpy()
    if not mailed.any():
        return None
    lead = lead_rows(facts, "sends", sends["lead_id"])[mailed]
    sent_at = ticks(sends["sent_at"].to_numpy())[mailed]
    known = (lead >= 0) & (sent_at != np.iinfo(np.int64).min)  # (NaT: no time, as pandas' min skips it)
    first = np.full(len(facts.leads), np.iinfo(np.int64).max)
    np.minimum.at(first, lead[known], sent_at[known])
    first[first == np.iinfo(np.int64).max] = np.iinfo(np.int64).min
    return stamps(first)


def _encode_first(first: np.ndarray | None) -> dict[str, pd.DataFrame]:
    # (None, no program email at all: a frame without the column)
    return {"first": pd.DataFrame() if first is None else pd.DataFrame({"first": ticks(first)})}


def _decode_first(frames: dict[str, pd.DataFrame]) -> np.ndarray | None:
    frame = frames["first"]
    return stamps(frame["first"].to_numpy()) if "first" in frame.columns else None


SAVED = {
    "driver-tally": Saved(
        ("drivers", "tally"), _tally_changes, _encode_tally, _decode_tally, ("leads", "scores")
    ),
    "first-program-email": Saved(
        ("drivers", "first program email"),
        _first_program_email,
        _encode_first,
        _decode_first,
        ("leads", "sends"),
    ),
    "deal-lead-rows": DEAL_ROWS,
}
"""What the score drivers and the nurture impact work out once per facts, saved with a workspace's facts
(`keys.Saved`; the score changes need a score history with reasons, the rest email sends or deals)."""


def _group_measures(
    cohort: pd.DataFrame, deals: pd.DataFrame | None, deal_leads: np.ndarray | None, opportunity_known: bool
) -> pd.DataFrame:
    """Each group's measures; ``deal_leads`` is each deal's lead as a row of ``cohort`` (-1: not in it)."""
    grouped = cohort.groupby("group")
    out = pd.DataFrame(
        {
            "leads": grouped.size(),
            "sqls": grouped["sql_at"].count(),
            "opportunities": grouped["opportunity_at"].count(),
        }
    ).reindex([NURTURED, NOT_NURTURED], fill_value=0)
    leads = out["leads"].astype("float64").where(out["leads"] > 0)
    out["sql_rate"] = out["sqls"] / leads
    out["opportunity_rate"] = out["opportunities"] / leads if opportunity_known else np.nan
    if deals is not None and deal_leads is not None:
        in_cohort = deal_leads >= 0
        linked = deals[in_cohort].assign(group=cohort["group"].array.take(deal_leads[in_cohort]))
        won = linked[linked["status"].eq("won").to_numpy()]
        by_won = won.groupby("group")
        out["deals_closed"] = (
            linked[linked["status"].isin(["won", "lost"]).to_numpy()].groupby("group").size()
        )
        out["deals_won"] = by_won.size()
        out["avg_won_amount"] = by_won["amount"].mean()
        out["median_days_to_close"] = by_won["days_to_close"].median()
        out[["deals_closed", "deals_won"]] = out[["deals_closed", "deals_won"]].fillna(0)
        closed = out["deals_closed"].astype("float64")
        out["win_rate"] = out["deals_won"] / closed.where(closed > 0)
    else:
        for col in ("deals_closed", "deals_won", "win_rate", "avg_won_amount", "median_days_to_close"):
            out[col] = np.nan
    out = out.rename_axis("group").reset_index().astype({"group": "str"})
    cols = ["group", "leads", "sqls", "sql_rate", "opportunities", "opportunity_rate", "deals_closed",
            "deals_won", "win_rate", "avg_won_amount", "median_days_to_close"]  # fmt: skip
    return out[cols].astype({c: "float64" for c in cols[1:]})


def _comparison(groups: pd.DataFrame) -> pd.DataFrame:
    by_group = groups.set_index("group")
    rows = pd.DataFrame({"measure": list(IMPACT_MEASURES), "label": list(IMPACT_MEASURES.values())})
    rows["nurtured"] = by_group.loc[NURTURED, list(IMPACT_MEASURES)].to_numpy(dtype="float64")
    rows["not_nurtured"] = by_group.loc[NOT_NURTURED, list(IMPACT_MEASURES)].to_numpy(dtype="float64")
    base = rows["not_nurtured"].where(rows["not_nurtured"] != 0)
    rows["lift"] = rows["nurtured"] / base - 1
    rows.loc[rows["measure"].eq("leads"), "lift"] = np.nan
    rows["reference_lift"] = (
        rows["measure"].map({k: v[0] for k, v in INDUSTRY_LIFT.items()}).astype("float64")
    )
    rows["reference"] = rows["measure"].map({k: v[1] for k, v in INDUSTRY_LIFT.items()}).astype("str")
    return rows.astype({"measure": "str", "label": "str"})


def nurture_impact(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    months: int = 12,
) -> NurtureImpact:
    """Leads created in the ``months`` months ending with M that received an automated program vs those that
    did not: SQL and opportunity rate, win rate, average won deal and days to close (of their deals, to
    date), beside the quoted industry figures (+20 % opportunities, +47 % larger purchases)."""
    # The whole facts with the cohort narrowed to the channel: the channel view's leads, in their order, with
    # what no month or channel changes worked out once. Whether a lead was nurtured and its deals do not depend
    # on the channel picked (see the module docs).
    facts = build_facts(data)

    def empty() -> pd.DataFrame:
        return pd.DataFrame({"lead_id": pd.Series(dtype="str"), "nurtured": pd.Series(dtype="bool")})

    if facts.leads is None:
        reason = needs_text([("leads", "lead_stages")])
        return NurtureImpact(pd.DataFrame(), pd.DataFrame(), empty, "", (), reason)
    rows = _cohort_rows(facts, month, months, channel)
    cohort = _cohort(facts, rows, ["in_program", "sql_at", "opportunity_at"])
    nurtured, basis = _nurtured(facts, cohort, rows)
    if not basis:
        reason = (
            "nothing tells which leads were nurtured: needs a program column in the leads export or email "
            "activity with a program (email_events)"
        )
        return NurtureImpact(pd.DataFrame(), pd.DataFrame(), empty, "", (), reason)
    groups_of = pd.CategoricalDtype([NURTURED, NOT_NURTURED])
    cohort = cohort.assign(group=pd.Categorical.from_codes(np.where(nurtured, 0, 1), dtype=groups_of))
    opportunity_known = bool(facts.info.get("stage_sources", {}).get("opportunity_at"))
    deal_leads = None
    if facts.deals is not None:
        # Each deal's lead as a row of the leads, then of the cohort.
        of_cohort = np.full(len(facts.leads) + 1, -1, dtype=np.int64)
        of_cohort[rows] = np.arange(len(rows))
        deal_leads = of_cohort[deal_rows(facts)]
    groups = _group_measures(cohort, facts.deals, deal_leads, opportunity_known)
    notes = []
    if facts.deals is None:
        notes.append("No deals export: win rate, deal size and days to close need deals.")
    if not opportunity_known:
        notes.append(
            "No opportunity dates: the opportunity rate needs opportunity dates or deals with a lead."
        )

    def members() -> pd.DataFrame:
        return pd.DataFrame({"lead_id": lead_ids(facts, rows), "nurtured": nurtured.to_numpy()})

    return NurtureImpact(groups, _comparison(groups), members, basis, tuple(notes))
