"""Integer codes for the analyses that group or join millions of sends and score changes (programs, score
drivers, nurture impact): text is labelled once per distinct value, a lead id is looked up once per distinct
id, and what does not depend on the month or channel asked for is worked out once per facts.

At a million leads (8.5 M sends, 9.7 M score changes) the same analyses on text took 3–19 s each, for every
month or channel shown; on codes, a month or channel switch takes under 0.1 s each and the first call per opened
facts 0.5–3.6 s (benchmarks/README.md, eleventh round). The codes are worked out when a workspace's facts are
derived and saved with them (`Saved`), so the first call on opened facts reads them instead: 0.11–0.22 s for the
three analyses together (thirteenth round).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from lifecycle.metrics.derived import Facts, Later

T = TypeVar("T")


def remembered(facts: Facts, key: Any, compute: Callable[[], T]) -> T:
    """`compute()` once per facts object (a channel view has its own), kept in its `cache` under `key`. A value
    saved with the facts of a workspace (`Saved`) is there as a `Later` and read on first use instead."""
    if key not in facts.cache:
        facts.cache[key] = compute()
    value = facts.cache[key]
    if isinstance(value, Later):
        value = facts.cache[key] = value.get()
    return value


@dataclass(frozen=True)
class Saved(Generic[T]):
    """A value `remembered` under ``key`` that is worked out when a workspace's facts are derived and saved
    beside them (``store``), so that opening the workspace does not work it out again (nor read the sends or the
    score history it comes from): ``compute`` works it out from whole facts (no channel view), ``encode`` gives
    it as frames of plain columns — numbers without missing values, which read back memory-mapped without a copy —
    and ``decode`` turns those frames back into the value."""

    key: Any
    compute: Callable[[Facts], T]
    encode: Callable[[T], dict[str, pd.DataFrame]]
    decode: Callable[[dict[str, pd.DataFrame]], T]
    needs: tuple[str, ...] = ()
    """The frames of the facts it is worked out from (not saved without them)."""

    def applies(self, facts: Facts) -> bool:
        """Whether ``facts`` have what the value is worked out from."""
        return all(facts.has(name) for name in self.needs)

    def value(self, facts: Facts) -> T:
        """The value of ``facts``: the saved one when they were opened from a workspace, else worked out (once
        per facts, `remembered`)."""
        return remembered(facts, self.key, lambda: self.compute(facts))

    def frames(self, facts: Facts) -> dict[str, pd.DataFrame]:
        """The value of ``facts`` (remembered in them) as frames to save."""
        return self.encode(self.value(facts))


def ticks(stamps: np.ndarray) -> np.ndarray:
    """Datetimes as int64 microseconds (a missing time as int64's minimum): a column with no missing value."""
    return np.asarray(stamps, dtype="datetime64[us]").view(np.int64)


def stamps(values: np.ndarray) -> np.ndarray:
    """`ticks` back as datetimes."""
    return np.asarray(values, dtype=np.int64).view("datetime64[us]")


def labelled(values: pd.Series, missing: str) -> pd.Categorical:
    """Each value as a label: its text trimmed, `missing` where it is missing or blank. Worked out once per
    distinct value (values that trim to the same text share a category)."""
    cells = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    distinct = pd.Series([*cells.cat.categories, None], dtype="object")  # the last one: a missing value
    text = distinct.astype("str").str.strip()
    text = text.mask(distinct.isna() | text.eq(""), missing)
    label_codes, labels = pd.factorize(text)
    codes = cells.cat.codes.to_numpy()
    rows = label_codes[np.where(codes < 0, len(distinct) - 1, codes)]
    return pd.Categorical.from_codes(rows, categories=pd.Index(labels, dtype="str"))


def lead_positions(facts: Facts, ids: pd.Series) -> np.ndarray:
    """The row of `facts.leads` holding each id of `ids` (the first, should an id repeat), -1 where the id is
    missing or no lead has it. Categorical ids are looked up once per category."""
    if facts.leads is None:
        return np.full(len(ids), -1, dtype=np.int32)
    known, rows = remembered(facts, "lead id index", lambda: _lead_index(facts.leads["lead_id"]))
    cells = ids if isinstance(ids.dtype, pd.CategoricalDtype) else ids.astype("category")
    categories = cells.cat.categories
    if categories.equals(known):  # sends' lead ids are coded by the leads' rows themselves
        per_category = rows
    else:
        found = known.get_indexer(categories.astype("str"))
        per_category = np.where(found >= 0, rows[found], np.int32(-1))
    codes = cells.cat.codes.to_numpy()
    return np.append(per_category, np.int32(-1))[np.where(codes < 0, len(categories), codes)]


def _lead_index(lead_ids: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """The leads' ids as an index to look ids up in (hashed once: kept per facts) and the row of each; a later
    repeat of an id is left out (its first row is the one)."""
    known = pd.Index(lead_ids.astype("str"))
    rows = np.arange(len(known), dtype=np.int32)  # (int32: a row per send or score change, half the memory)
    if not known.is_unique:
        first = ~known.duplicated()
        known, rows = known[first], rows[first]
    return known, rows


def lead_rows(facts: Facts, name: str, ids: pd.Series) -> np.ndarray:
    """`lead_positions` of the lead ids of one of the facts' frames (``name`` says which), once per facts."""
    return remembered(facts, ("lead rows", name), lambda: lead_positions(facts, ids))


DEAL_ROWS: Saved[np.ndarray] = Saved(
    ("lead rows", "deals"),
    lambda facts: lead_positions(facts, facts.deals["lead_id"]),
    lambda rows: {"rows": pd.DataFrame({"row": rows})},
    lambda frames: frames["rows"]["row"].to_numpy(),
    ("leads", "deals"),
)
"""Each deal's lead as a row of the leads (-1: none): what nurture impact and source effectiveness join deals to
leads by, saved with a workspace's facts."""


def deal_rows(facts: Facts) -> np.ndarray:
    """`DEAL_ROWS` of ``facts``."""
    return DEAL_ROWS.value(facts)


def lead_ids(facts: Facts, rows: np.ndarray) -> pd.Series:
    """The ids of the leads at ``rows`` of ``facts.leads``: a categorical over every lead's id (its dtype made
    once per facts), so that a list of millions of leads is a take of integers, not of text."""
    ids = facts.leads["lead_id"]
    dtype = remembered(facts, "lead id dtype", lambda: _categories(pd.Index(ids)))
    if dtype is None:  # repeated ids (not in derived facts): their text
        return pd.Series(ids.array.take(rows), dtype="str")
    return pd.Series(pd.Categorical.from_codes(rows, dtype=dtype))


def _categories(ids: pd.Index) -> pd.CategoricalDtype | None:
    """A categorical dtype of distinct ``ids`` (None when some repeat), checked once: the dtype reuses the
    index's own uniqueness check (from a Series, it would hash a million ids twice)."""
    return pd.CategoricalDtype(ids) if ids.is_unique else None


def sorted_order(keys: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions in order of `keys` (each key's rows in their own order; keys in [0, span)) and the keys in
    that order. The row numbers ride in the keys' low bits, so one plain sort of int64 gives both (a stable
    argsort takes ten times longer); keys too wide for that are argsorted."""
    bits = max(int(len(keys)).bit_length(), 1)
    if span < 2 ** (63 - bits):
        packed = keys.astype(np.int64) << bits
        packed |= np.arange(len(keys), dtype=np.int64)
        packed.sort()
        return packed & ((1 << bits) - 1), packed >> bits
    order = np.argsort(keys, kind="stable")
    return order, keys[order]
