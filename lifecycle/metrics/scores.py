"""Lead score history (SPEC §3 "score at a time"), sorted once so any point-in-time lookup is one numpy pass.

Running score: rows are ordered per lead by time; a row with a ``score`` (new total) sets the running score to
it, a row with only a ``delta`` adds to it. With only totals this is "the last score at or before t", with only
deltas "the sum of deltas up to t" (SPEC §3); a mix (totals with later deltas) is the last total plus the
deltas after it. A lead with no change at or before t has score 0 — the empty sum — when a score history is
loaded. Rows at the same time keep their file order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lifecycle.metrics.records import positions_in, take_dates
from lifecycle.schema import frame_of
from lifecycle.values import SLICE_ROWS, categorical_of_distinct, factorized
from lifecycle.workspace import Tables

DATETIME = "datetime64[us]"


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes (-1 = missing) into the distinct values as text, sorted; str or categorical input alike (the
    categories of a categorical are sorted as text, not in their own order, and kept when no row uses them).
    The values are sorted by Arrow (UTF-8 bytes sort as code points do), and the codes are int32 when the
    values allow: one gather of a table, no event-long scratch arrays."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(values)
    text = pd.Index(uniques, dtype="str").rename(None)
    if not len(text):  # no value at all
        return np.full(len(codes), -1, dtype=np.int32), text
    order = pc.array_sort_indices(pa.array(text.array)).to_numpy()
    dtype = np.int32 if len(order) < 2**31 else np.int64
    rank = np.empty(len(order) + 1, dtype=dtype)
    rank[order] = np.arange(len(order), dtype=dtype)
    rank[-1] = -1  # a missing value's code (-1) reads the last place
    return rank[codes], text[order]


def _lead_time_order(codes: np.ndarray, at: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` ordered by (lead code, time, file order): a stable sort by lead — one plain sort of the lead code
    and the row's place packed in an int64 (codes and places are below len(codes), so both fit) — which is the
    order when each lead's rows are in time order in the file (exports sorted by time, or by lead then time);
    else the rows are put in time order first."""
    bits = max(int(len(codes)).bit_length(), 1)

    def by_lead(rows: np.ndarray) -> np.ndarray:  # stable: rows of a lead keep their order
        packed = (codes[rows].astype(np.int64) << bits) | np.arange(len(rows), dtype=np.int64)
        return rows[np.sort(packed) & ((1 << bits) - 1)]

    # in time order within each lead already when the file is in time order, or grouped by lead
    ordered = by_lead(rows)
    lead, when = codes[ordered], at[ordered]
    if ((lead[1:] == lead[:-1]) & (when[1:] < when[:-1])).any():
        ordered = by_lead(rows[np.argsort(at[rows], kind="stable")])
    return ordered


def _block_cumsum(step: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The running sum of `step` restarting where `starts` is True (the first value always starts). Whole
    numbers below 2**53 (scores as exported) are summed once over the whole array — exact, so each block's sum
    is a difference of two sums; other values are summed block by block."""
    if not len(step):
        return step.astype("float64")
    if starts.all():  # every row sets the score (exports with a total on each row): nothing to add up
        return np.add(step, 0.0, dtype="float64")  # a fresh array (and -0 read as 0, as a sum would)
    total = np.cumsum(step)
    if _whole_and_small(step):
        block_start = np.flatnonzero(starts)
        before = total[np.maximum(block_start - 1, 0)]  # the sum before each block (the first: none)
        before[0] = 0.0
        block = np.cumsum(starts, dtype=np.int32 if len(before) < 2**31 else np.int64)
        block -= 1  # each row's block
        total -= before[block]
        return total
    return pd.Series(step).groupby(np.cumsum(starts)).cumsum().to_numpy()


def _whole_and_small(step: np.ndarray) -> bool:
    """Whether every value is a whole number and their absolute values add up to less than 2**53 (then every
    running sum is exact); a million values at a time, without a rounded copy of them all."""
    rows, magnitude = SLICE_ROWS, 0.0
    for at in range(0, len(step), rows):
        part = step[at : at + rows]
        if not np.array_equal(part, np.round(part)):
            return False
        magnitude += float(np.abs(part).sum())
    return magnitude < 2**53


@dataclass(frozen=True)
class ScoreHistory:
    """Score changes sorted by (lead, time) with the running score after each change.

    ``changes`` columns: ``lead_id`` (categorical), ``at`` (datetime), ``delta`` (the change in points this
    row made to the running score, derived from ``score`` rows too), ``score`` (running score after the row),
    ``reason`` (categorical). ``lead_index`` lists the leads with at least one change; ``starts`` is the row offset
    of each of them in ``changes`` (plus a final offset = number of rows).
    """

    changes: pd.DataFrame
    lead_index: pd.Index
    starts: np.ndarray

    @classmethod
    def from_tables(cls, tables: Tables) -> ScoreHistory | None:
        """The sorted history from ``score_changes`` (None when that table is absent)."""
        raw = tables.get("score_changes")
        if raw is None:
            return None
        at = raw["at"].astype(DATETIME).to_numpy()
        total = raw["score"].to_numpy("float64", na_value=np.nan) if "score" in raw.columns else None
        delta = raw["delta"].to_numpy("float64", na_value=np.nan) if "delta" in raw.columns else None
        n = len(raw)
        if total is None:
            total = np.full(n, np.nan)
        if delta is None:
            delta = np.full(n, np.nan)
        codes, uniques = _sorted_codes(raw["lead_id"])
        keep = (codes >= 0) & ~np.isnat(at) & ~(np.isnan(total) & np.isnan(delta))
        rows = _lead_time_order(codes, at, np.flatnonzero(keep))
        codes, at, total, delta = codes[rows], at[rows], total[rows], delta[rows]
        has_total = ~np.isnan(total)
        # A total starts a new block per lead; inside a block the running score is total + later deltas.
        new_lead = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, bool)
        starts_block = new_lead | has_total
        step = total if has_total.all() else np.where(has_total, total, np.nan_to_num(delta))
        running = _block_cumsum(step, starts_block)
        # Each row's change: its running score less the one before, the whole score at a lead's first row.
        change = np.empty_like(running)
        np.subtract(running[1:], running[:-1], out=change[1:])
        change[new_lead] = running[new_lead]
        if "reason" in raw.columns:
            reason_codes, reasons = factorized(raw["reason"])
            reason = categorical_of_distinct(reason_codes[rows], pd.Index(reasons, dtype="str"))
        else:
            reason = pd.Categorical([None] * len(rows), categories=pd.Index([], dtype="str"))
        columns = {
            "lead_id": categorical_of_distinct(codes, uniques),  # `_sorted_codes`' values are distinct
            "at": at,
            "delta": change,
            "score": running,
            "reason": reason,
        }
        changes = frame_of(
            {name: pd.Series(values, copy=False) for name, values in columns.items()},
            pd.RangeIndex(len(rows)),
        )
        present = codes[new_lead]  # the sorted codes, each once
        starts = np.flatnonzero(new_lead)  # where each of them starts
        lead_index = pd.Index(uniques, dtype="str")
        # A lead (or category) without a kept row is dropped from the index.
        if len(present) != len(uniques):
            lead_index = lead_index[present]
        return cls(changes, lead_index, np.r_[starts, len(rows)].astype(np.int64))

    def at(self, when: pd.Timestamp | pd.Series, lead_ids: pd.Index | pd.Series | None = None) -> pd.Series:
        """Score per lead at ``when`` (inclusive): a time for all leads, or a Series of times by lead_id.

        Returns float scores indexed by ``lead_ids`` (default: the leads of ``when`` when it is a Series,
        else every lead with a change); leads without a change at or before their time get 0.
        """
        n_leads = len(self.lead_index)
        threshold = self._row_thresholds(when, n_leads)
        at = self.changes["at"].to_numpy()
        counts = self._prefix_counts(at <= threshold)
        last = self.starts[:-1] + counts - 1
        score = np.where(counts > 0, self.changes["score"].to_numpy()[np.maximum(last, 0)], 0.0)
        if lead_ids is None:
            lead_ids = when.index if isinstance(when, pd.Series) else self.lead_index
        lead_ids = pd.Index(lead_ids)
        pos = positions_in(lead_ids, self.lead_index)
        out = np.where(pos >= 0, score[np.maximum(pos, 0)] if len(score) else 0.0, 0.0).astype("float64")
        out[np.isnan(out)] = 0.0  # (as a missing score)
        return pd.Series(out, index=lead_ids, copy=False)

    def _row_thresholds(self, when: pd.Timestamp | pd.Series, n_leads: int) -> np.ndarray:
        if not isinstance(when, pd.Series):
            return np.datetime64(pd.Timestamp(when).as_unit("us"))
        per_lead = when.astype(DATETIME)
        times = take_dates(per_lead.to_numpy(), positions_in(self.lead_index, per_lead.index, last=True))
        # Leads not asked about get NaT, which compares False: no change counts for them.
        return np.repeat(times, np.diff(self.starts))

    def _prefix_counts(self, mask: np.ndarray) -> np.ndarray:
        if len(self.lead_index) == 0:
            return np.zeros(0, dtype=np.int64)
        # Within a lead, times are sorted, so "at <= t" is a prefix and its length is the row count.
        return (
            np.add.reduceat(mask.astype(np.int64), self.starts[:-1])
            if len(mask)
            else np.zeros(len(self.lead_index), dtype=np.int64)
        )


def score_at(
    history: ScoreHistory | None,
    when: pd.Timestamp | pd.Series,
    lead_ids: pd.Index | pd.Series | None = None,
) -> pd.Series:
    """Score per lead at ``when`` (see :class:`ScoreHistory`); all missing without a score history."""
    if history is None:
        index = pd.Index(lead_ids if lead_ids is not None else getattr(when, "index", []))
        return pd.Series(np.nan, index=index, dtype="float64")
    return history.at(when, lead_ids)
