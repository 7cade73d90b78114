"""Rows of a month without scanning a whole date column: each date column of the facts is indexed once by
month (a stable counting sort of its month numbers), so the rows of month M are one slice of that order.

:func:`month_mask` answers "which values fall in the month" for any datetime array; arrays that are columns of
the facts' frames use their index, any other array (a value computed on the fly) is compared directly. Both
give the same mask; the index makes every month after the first cost the size of that month, not of the table.
A column is indexed when a third distinct month of it is asked for: building the index costs about ten direct
comparisons, so opening a workspace on one month (and the month before, for changes) does not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

INDEX_KEY = "month_index"
INDEX_AFTER = 3
"""A registered column is indexed when this many distinct months of it were asked for; until then, compared."""


def month_ordinal(start: pd.Timestamp) -> int:
    """Months since 1970-01 of the month starting at ``start``."""
    return (start.year - 1970) * 12 + start.month - 1


@dataclass(frozen=True, eq=False)
class MonthIndex:
    """Row positions of one datetime array grouped by month: rows of month ``first + i`` are
    ``order[bounds[i]:bounds[i + 1]]``; missing dates come last, in no month."""

    values: np.ndarray
    """The indexed array, held so its memory (the registry's key) cannot be reused while indexed."""
    first: int
    order: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> MonthIndex:
        first, span, codes = _month_codes(values)
        order = np.argsort(codes, kind="stable")  # int16 codes sort by radix
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=span + 1))])
        return cls(values, first, order, bounds)

    def mask(self, ordinal: int) -> np.ndarray:
        """Boolean mask of the rows dated in month ``ordinal`` (months since 1970-01)."""
        out = np.zeros(len(self.values), dtype=bool)
        i = ordinal - self.first
        if 0 <= i < len(self.bounds) - 2:
            out[self.order[self.bounds[i] : self.bounds[i + 1]]] = True
        return out


def _month_codes(values: np.ndarray) -> tuple[int, int, np.ndarray]:
    """The first month of datetime ``values`` (months since 1970-01), the number of months from it to the
    last, and each value's month counted from the first; a missing date gets that number (one past the last).
    Whole days, then a table from each day between the first and the last to its month code (a fraction of the
    cost of numpy's calendar conversion of every value)."""
    valid = ~np.isnat(values)
    if not valid.any():
        return 0, 0, np.zeros(len(values), dtype=np.int16)
    days = values.astype("datetime64[D]").view(np.int64)  # NaT: the smallest integer
    high = int(days.max())
    low = int(np.where(valid, days, high).min())
    month_of_day = np.arange(low, high + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first = int(month_of_day[0])
    span = int(month_of_day[-1]) - first + 1
    code_type = np.int16 if span < np.iinfo(np.int16).max else np.int64
    table = np.append(month_of_day - first, span).astype(code_type)  # the last entry: missing dates
    return first, span, table[np.where(valid, days - low, len(table) - 1)]


def _in_range(values: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """``start <= values < end``; compared as integers when the bounds are exact in the values' unit (NaT, the
    smallest integer, is never in range): numpy's datetime comparisons check every value for NaT and cost about
    three times more."""
    low, high = start.to_datetime64(), end.to_datetime64()
    if values.dtype.kind == "M":
        unit = np.datetime_data(values.dtype)
        low_in_unit, high_in_unit = np.datetime64(low, unit), np.datetime64(high, unit)
        if low_in_unit == low and high_in_unit == high:
            as_int = values.view(np.int64)
            return (as_int >= low_in_unit.astype(np.int64)) & (as_int < high_in_unit.astype(np.int64))
    return (values >= low) & (values < high)


def _address(values: np.ndarray) -> tuple[int, int, str]:
    return values.__array_interface__["data"][0], len(values), values.dtype.str


def register(cache: dict, frames: Iterable[pd.DataFrame | None]) -> None:
    """Make the datetime columns of ``frames`` indexable through ``cache`` (indexes are built on first use); the
    columns registered before stay as they are."""
    # the index, or the months asked so far
    registry: dict[tuple[int, int, str], MonthIndex | set[int]] = cache.setdefault(INDEX_KEY, {})
    for frame in frames:
        if frame is None:
            continue
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                registry.setdefault(_address(frame[col].to_numpy()), set())


def month_mask(cache: dict, values: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Boolean mask of ``values`` in [start, end); indexed when ``values`` is registered and [start, end) is a
    calendar month."""
    registry = cache.get(INDEX_KEY)
    key = _address(values) if registry is not None and values.dtype.kind == "M" else None
    whole_month = start == start.normalize() and start.day == 1 and end == start + pd.DateOffset(months=1)
    if key is None or key not in registry or not whole_month:
        return _in_range(values, start, end)
    index, ordinal = registry[key], month_ordinal(start)
    if isinstance(index, set):
        index.add(ordinal)
        if len(index) < INDEX_AFTER:
            return _in_range(values, start, end)
        index = registry[key] = MonthIndex.of(values)
    return index.mask(ordinal)
