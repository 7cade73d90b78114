"""Duplicate keys inside one file: `ingest._repeated_later` (packed int64 keys narrowed by sorting, then a
stable sort of the repeated ones) must find exactly the rows `DataFrame.duplicated(keep="last")` finds among the
rows not excluded, whatever the key columns' dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import values
from lifecycle.ingest import _all_multiples, _key_codes, _pack_rank, _repeated_later, ingest_raw
from lifecycle.reader import read_raw

STAMPS = [
    "2026-01-05 10:00:00",
    "2026-01-05 10:00:01",
    "2026-01-05 10:00:00.250",
    "1969-12-31 23:59:59",
    None,
]
TEXTS = ["a", "b", " a", "A", "", None]
IDS = [
    "7",
    "12",
    "0",
    "123456789012345678",
    None,
    "07",
    "1234567890123456789",
]  # the last two: not coded as numbers
NONE = np.array([], dtype=np.int64)


def _repeated_among(frame: pd.DataFrame, key: list[str], rows: np.ndarray) -> list[bool]:
    """`_repeated_later` with every row but `rows` excluded, read at `rows` (the excluded never repeat)."""
    excluded = np.setdiff1d(np.arange(len(frame)), rows)
    repeated = _repeated_later(frame, key, excluded)
    assert not repeated[excluded].any()
    return repeated[rows].tolist()


def _frame(rows: list[tuple[int, int, int, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "at": pd.Series([STAMPS[r[0]] for r in rows], dtype="datetime64[us]"),
            "who": pd.Series([TEXTS[r[1]] for r in rows], dtype="str"),
            "kind": pd.Series([TEXTS[r[2]] for r in rows], dtype="str").astype("category"),
            "amount": pd.Series([r[3] for r in rows], dtype="float64"),
            "tag": pd.Series([TEXTS[-1 - r[2]] for r in rows], dtype="str"),
            "id": pd.Series([IDS[(r[0] + r[1]) % len(IDS)] for r in rows], dtype="str"),
        }
    )


def test_hand_made_duplicates_keep_the_last_row():
    frame = _frame(
        [(0, 0, 0, 1.0), (0, 0, 0, 1.0), (1, 0, 0, 1.0), (0, 0, 0, 1.0), (4, 5, 5, None), (4, 5, 5, None)]
    )
    assert _repeated_later(frame, ["at", "who", "kind", "amount"], NONE).tolist() == [
        True, True, False, False, True, False,
    ]  # fmt: skip
    # Excluded rows take no part: without row 3, row 1 is the last of its key.
    assert _repeated_later(frame, ["at", "who"], np.array([3, 4, 5])).tolist() == [
        True, False, False, False, False, False,
    ]  # fmt: skip


@pytest.mark.parametrize("slice_rows", [1_000_000, 2])
def test_the_column_a_file_is_listed_by_is_packed_first_and_text_last(monkeypatch, slice_rows):
    # Packed in the file's own order, the keys are nearly sorted already, which numpy's stable sort merges
    # in a few passes: the column whose codes fall the fewest times from row to row goes first (the falls
    # counted a slice at a time, here also across slices of two rows).
    monkeypatch.setattr(values, "SLICE_ROWS", slice_rows)
    by_lead = pd.DataFrame(
        {
            "lead": pd.Series(["7", "7", "7", "9", "9", "12"], dtype="str").astype("category"),
            "at": pd.Series(
                ["2026-01-03", "2026-01-05", "2026-01-09", "2026-01-01", "2026-01-04", "2026-01-02"],
                dtype="datetime64[us]",
            ),
            "reason": pd.Series(["b", "a", "b", "a", "b", "a"], dtype="str").astype("category"),
            "who": pd.Series(["x", "y", "x", "y", "x", "y"], dtype="str"),
        }
    )
    assert [_pack_rank(by_lead[c]) for c in ["lead", "at", "reason", "who"]] == [
        (False, 1), (False, 2), (False, 3), (True, 0),
    ]  # fmt: skip
    # (the categories in sorted order, "12" < "7" < "9": the leads' codes fall once)
    order = sorted(["who", "reason", "at", "lead"], key=lambda c: _pack_rank(by_lead[c]))
    assert order == ["lead", "at", "reason", "who"]
    by_time = by_lead.sort_values("at", kind="stable").reset_index(drop=True)
    order = sorted(["who", "reason", "at", "lead"], key=lambda c: _pack_rank(by_time[c]))
    assert order[0] == "at" and order[-1] == "who"
    for frame in (by_lead, by_time, pd.concat([by_lead, by_time], ignore_index=True)):
        key = ["who", "reason", "at", "lead"]
        assert _repeated_later(frame, key, NONE).tolist() == frame[key].duplicated(keep="last").tolist()


def test_timestamps_are_packed_in_whole_seconds_only_when_every_value_is():
    seconds = pd.Series(pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:00:02", None]))
    codes, span = _key_codes(seconds.astype("datetime64[us]"))
    assert codes.tolist() == [1, 3, 0] and span == 4
    finer = pd.Series(
        pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:00:00.001"], format="ISO8601")
    ).astype("datetime64[us]")
    codes, span = _key_codes(finer)
    assert codes.tolist() == [1, 2] and span == 3  # milliseconds


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(STAMPS) - 1),
            st.integers(0, len(TEXTS) - 1),
            st.integers(0, len(TEXTS) - 1),
            st.sampled_from([None, 0.0, 1.5, -2.0]),
        ),
        max_size=40,
    ),
    st.lists(
        st.sampled_from(["at", "who", "kind", "amount", "tag", "id"]), min_size=1, max_size=6, unique=True
    ),
    st.data(),
)
def test_same_duplicates_as_pandas(rows, key, data):
    frame = _frame(rows)
    subset = np.array(
        sorted(data.draw(st.sets(st.integers(0, max(len(rows) - 1, 0)))) if rows else []), dtype=int
    )
    expected = frame.iloc[subset][key].duplicated(keep="last").to_numpy()
    assert _repeated_among(frame, key, subset) == expected.tolist()


def test_timestamps_added_a_slice_at_a_time_find_the_same_duplicates(monkeypatch):
    # A timestamp key column is added to the packed keys a slice at a time (a million rows each): slices of
    # three rows here, across which the duplicates must still be found as pandas finds them.
    monkeypatch.setattr(values, "SLICE_ROWS", 3)
    rows = [(i % 3, (i * 7) % 4, i % 2, 1.0) for i in range(20)]
    frame = _frame(rows)
    for key in (["at"], ["kind", "at"], ["at", "who"], ["kind", "at", "id"]):
        expected = frame[key].duplicated(keep="last").tolist()
        assert _repeated_later(frame, key, NONE).tolist() == expected
        assert (
            _repeated_among(frame, key, np.arange(1, 20, 2))
            == frame.iloc[1::2][key].duplicated(keep="last").tolist()
        )


def test_a_key_too_wide_to_pack_at_once_is_numbered_on_the_way():
    far = pd.Series(pd.to_datetime(["1900-01-01 00:00:00.000001", "2199-12-31 23:59:59.999999"] * 3))
    frame = pd.DataFrame(
        {
            "a": far.astype("datetime64[us]"),
            "b": far.astype("datetime64[us]"),
            "c": far.astype("datetime64[us]"),
        }
    )
    assert _repeated_later(frame, ["a", "b", "c"], NONE).tolist() == [True, True, True, True, False, False]


def test_ingest_rejects_the_earlier_duplicates_with_their_reason():
    csv = (
        b"Lead ID,Changed at,Reason,Score change\n"
        b"L1,2026-01-05 10:00:00,Form fill,5\n"
        b"L1,2026-01-05 10:00:00,Form fill,7\n"
        b"L2,2026-01-05 10:00:00,Form fill,5\n"
        b"L1,2026-01-05 10:00:01,Form fill,5\n"
    )
    result = ingest_raw(read_raw(csv, "scores.csv")[0], table="score_changes")
    assert result.report.duplicates == 1
    assert result.frame["delta"].tolist() == [7, 5, 5]
    assert result.rejected_rows["row"].tolist() == [2]
    assert result.rejected_rows["reason"].str.startswith("duplicate lead_id/at/reason").tolist() == [True]


def test_text_codes_are_the_same_when_encoded_in_two_halves(monkeypatch):
    texts = pd.Series(["b", "a", None, "c", "a", "b", None, "d", "c"], dtype="str")
    alone, size = _key_codes(texts)
    monkeypatch.setattr(values, "PARALLEL_ROWS", 2)
    halves, halves_size = _key_codes(texts)
    assert size == halves_size == 5  # four values and the missing one
    assert pd.factorize(alone)[0].tolist() == pd.factorize(halves)[0].tolist()  # same partition of the rows
    assert halves[2] == halves[6] == 0 and (halves[[0, 1, 3, 7]] > 0).all()
    frame = _frame([(0, 0, 0, 1.0), (0, 1, 0, 1.0), (1, 0, 0, 1.0), (0, 0, 0, 1.0), (4, 5, 5, None)] * 2)
    expected = frame[["who", "tag", "at"]].duplicated(keep="last").tolist()
    assert _repeated_later(frame, ["who", "tag", "at"], NONE).tolist() == expected


def test_keys_still_too_wide_after_numbering_are_numbered_per_column_too():
    # 2,001 distinct numbers, then microsecond times spanning 292 years: numbering the numbers leaves a span of
    # 2,001 × ~9.2e15 ≥ 2**63, which wrapped around and made rows 0 and 2,000 look alike before the fix.
    distinct = 2000
    size = -(-(2**64) // distinct)
    wrap = distinct * size - 2**64
    lo = np.datetime64("1905-01-01T00:00:00", "us")
    hi = lo + np.timedelta64(int(size - 2), "us")
    numbers = list(range(distinct + 1)) + [5, 6]
    times = [lo + np.timedelta64(7, "us")] * (distinct + 1) + [lo, hi]
    times[0] = lo + np.timedelta64(7 + int(wrap), "us")
    frame = pd.DataFrame(
        {"n": pd.Series(numbers, dtype="float64"), "at": pd.Series(times, dtype="datetime64[us]")}
    )
    expected = frame[["n", "at"]].duplicated(keep="last").to_numpy()
    assert not expected.any()
    assert _repeated_later(frame, ["n", "at"], NONE).tolist() == expected.tolist()


def test_numeric_ids_are_coded_by_their_value_and_other_text_by_a_dictionary():
    codes, span = _key_codes(pd.Series(["433156", "12", None, "433156", "0"], dtype="str"))
    assert codes.tolist() == [433157, 13, 0, 433157, 1] and span == 433158
    for not_numbers in (["007", "7"], ["12", "1e3"], ["12", " 12"], ["12", "1234567890123456789"], ["١٢"]):
        codes, span = _key_codes(pd.Series(not_numbers, dtype="str"))
        assert span == len(set(not_numbers)) + 1 and len(set(codes.tolist())) == len(set(not_numbers))


def test_ids_that_look_like_numbers_but_one_is_not_find_the_same_duplicates(monkeypatch):
    # The ids are packed a slice at a time by their value until "1a2", in a later slice, fails to be one: the
    # keys are unpacked and the column coded by a dictionary instead, as pandas compares the text.
    monkeypatch.setattr(values, "SLICE_ROWS", 3)
    ids = ["12", "7", "12", "433156", None, "7", "1a2", "12", "1a2", None]
    frame = pd.DataFrame(
        {
            "kind": pd.Series(["a", "b"] * 5, dtype="str").astype("category"),
            "id": pd.Series(ids, dtype="str"),
        }
    )
    for key in (["id"], ["kind", "id"]):
        for cells in (ids, [i if i != "1a2" else "99" for i in ids]):
            frame["id"] = pd.Series(cells, dtype="str")
            expected = frame[key].duplicated(keep="last").tolist()
            assert _repeated_later(frame, key, NONE).tolist() == expected
            rows = np.array([1, 2, 4, 5, 6, 7, 8, 9])  # rows 0 and 3 excluded
            expected = frame.iloc[rows][key].duplicated(keep="last").tolist()
            assert _repeated_among(frame, key, rows) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(2**62), 2**62), max_size=12),
    st.sampled_from([1_000, 1_000_000]),
    st.integers(1, 4),
)
def test_ticks_are_multiples_of_a_unit_exactly_when_each_one_is(numbers, unit, slice_rows):
    # Divided and multiplied back a slice at a time: the remainder's answer, before 1970 too, on every slice.
    ticks = np.array(numbers, dtype=np.int64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(values, "SLICE_ROWS", slice_rows)
        assert _all_multiples(ticks, unit) == all(n % unit == 0 for n in numbers)
        whole = ticks // unit * unit
        assert _all_multiples(whole, unit)
        if len(whole):
            whole[-1] += 1
            assert not _all_multiples(whole, unit)
