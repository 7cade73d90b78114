"""The month index answers exactly what comparing every date with the month's bounds answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.metrics import DEFAULT_SETTINGS, Settings, build_facts, metric_series
from lifecycle.metrics.derived import month_bounds
from lifecycle.metrics.months import (
    INDEX_AFTER,
    INDEX_KEY,
    MonthIndex,
    _in_range,
    _month_codes,
    month_mask,
    register,
)
from lifecycle.sample import generate

dates = st.lists(
    st.one_of(
        st.none(), st.datetimes(min_value=pd.Timestamp("2023-11-01"), max_value=pd.Timestamp("2027-02-01"))
    ),
    max_size=60,
)


MONTHS = ["2023-10", "2023-11", "2024-02", "2025-12", "2027-02", "2027-03"]


@settings(max_examples=150, deadline=None)
@given(dates, st.permutations(MONTHS))
def test_indexed_month_mask_equals_comparing_every_date(values, months):
    frame = pd.DataFrame({"at": pd.Series(values, dtype="datetime64[us]")})
    cache: dict = {}
    register(cache, [frame])
    arr = frame["at"].to_numpy()
    for asked, month in enumerate(months, start=1):  # compared for the first months asked, then indexed
        start, end = month_bounds(month)
        expected = (arr >= start.to_datetime64()) & (arr < end.to_datetime64())
        assert month_mask(cache, arr, start, end).tolist() == expected.tolist()
        assert month_mask(cache, arr, start, end).tolist() == expected.tolist()  # the same month again
        assert isinstance(next(iter(cache[INDEX_KEY].values())), MonthIndex) == (asked >= INDEX_AFTER)
        assert month_mask(cache, arr.copy(), start, end).tolist() == expected.tolist()  # not registered
        day = start + pd.Timedelta(days=3)  # not a calendar month: compared, not indexed
        partial = (arr >= day.to_datetime64()) & (arr < end.to_datetime64())
        assert month_mask(cache, arr, day, end).tolist() == partial.tolist()


def test_remembered_series_values_depend_on_the_settings_and_match_a_fresh_computation():
    tables = generate(leads=1200)
    facts = build_facts(tables)
    months = ["2026-06", "2026-07", "2026-08"]
    short = Settings(roi_months=2)
    default = metric_series(facts, "convert.roi_12m", months)
    other = metric_series(facts, "convert.roi_12m", months, settings=short)
    assert not np.allclose(default["value"], other["value"], equal_nan=True)
    fresh = build_facts(tables)
    pd.testing.assert_frame_equal(other, metric_series(fresh, "convert.roi_12m", months, settings=short))
    pd.testing.assert_frame_equal(
        default, metric_series(fresh, "convert.roi_12m", months, settings=DEFAULT_SETTINGS)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))),
        max_size=40,
    )
)
def test_month_codes_are_numpys_calendar_months(values):
    arr = pd.Series(values, dtype="datetime64[us]").to_numpy()
    valid = ~np.isnat(arr)
    first, span, codes = _month_codes(arr)
    months = arr.astype("datetime64[M]").astype(np.int64)
    assert codes[valid].tolist() == (months[valid] - first).tolist()
    assert (codes[~valid] == span).all()
    if valid.any():
        assert first == months[valid].min() and span == months[valid].max() - first + 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))),
        max_size=40,
    ),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.sampled_from(["us", "ms", "s"]),
)
def test_a_range_compared_as_integers_equals_comparing_datetimes(values, start, length, unit):
    arr = pd.Series(values, dtype="datetime64[us]").to_numpy().astype(f"datetime64[{unit}]")
    low, high = pd.Timestamp(start), pd.Timestamp(start + length)
    expected = (arr >= low.to_datetime64()) & (arr < high.to_datetime64())
    assert _in_range(arr, low, high).tolist() == expected.tolist()
