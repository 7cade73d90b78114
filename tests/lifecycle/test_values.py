"""Typed values (SPEC §4 step 6): dates decided per column, numbers in every locale a tool exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import values
from lifecycle.values import number_rules, parse_datetime, parse_number, parse_text, strip_cells


def texts(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def stamps(*values: str | None) -> list[pd.Timestamp | None]:
    return [None if v is None else pd.Timestamp(v) for v in values]


def as_list(parsed) -> list[pd.Timestamp | None]:
    return [None if pd.isna(v) else pd.Timestamp(v) for v in parsed.values]


def test_day_first_is_inferred_from_a_day_above_12_anywhere_in_the_column():
    # '25/04' can only be day-first, so '03/04' is 3 April, not 4 March.
    parsed = parse_datetime(texts("03/04/2024", "25/04/2024"))
    assert as_list(parsed) == stamps("2024-04-03", "2024-04-25")
    assert parsed.note == "dayfirst"


def test_month_first_is_inferred_from_a_second_field_above_12():
    parsed = parse_datetime(texts("03/04/2024", "04/25/2024"))
    assert as_list(parsed) == stamps("2024-03-04", "2024-04-25")
    assert parsed.note == "monthfirst"


def test_an_all_ambiguous_column_uses_the_default_order_and_says_so():
    parsed = parse_datetime(texts("03/04/2024", "05/06/2024"), default_order="dayfirst")
    assert as_list(parsed) == stamps("2024-04-03", "2024-06-05")
    assert "ambiguous" in parsed.note and "dayfirst" in parsed.note


def test_a_forced_convention_overrides_inference():
    parsed = parse_datetime(texts("03/04/2024", "05/06/2024"), "dayfirst")
    assert as_list(parsed) == stamps("2024-04-03", "2024-06-05")


def test_a_strftime_format_from_a_mapping_file_is_used_as_given():
    parsed = parse_datetime(texts("31-01-2024 10:00", "01-02-2024 09:15"), "%d-%m-%Y %H:%M")
    assert as_list(parsed) == stamps("2024-01-31 10:00", "2024-02-01 09:15")


@pytest.mark.parametrize(
    ("raw", "expected", "note"),
    [
        (("20240131", "20240201"), ("2024-01-31", "2024-02-01"), "YYYYMMDD"),
        (("1706659200", "1706745600"), ("2024-01-31", "2024-02-01"), "epoch seconds"),
        (("1706659200000", "1706745600123"), ("2024-01-31", "2024-02-01 00:00:00.123"), "epoch milliseconds"),
        # Excel counts days from 1899-12-30; .5 is noon.
        (("45292", "45293.5"), ("2024-01-01", "2024-01-02 12:00"), "Excel serial days"),
    ],
)
def test_numeric_date_encodings_are_recognized(raw, expected, note):
    parsed = parse_datetime(texts(*raw))
    assert as_list(parsed) == stamps(*expected)
    assert parsed.note == note


def test_timezone_aware_values_are_converted_to_utc_then_made_naive():
    # 10:00 at +02:00 is 08:00 UTC.
    parsed = parse_datetime(texts("2024-01-31T10:00:00+02:00", "2024-02-01T00:00:00Z"))
    assert as_list(parsed) == stamps("2024-01-31 08:00", "2024-02-01 00:00")
    assert parsed.values.dt.tz is None


def test_text_months_and_iso_with_time_parse():
    assert as_list(parse_datetime(texts("Jan 5, 2024", "Feb 10, 2024"))) == stamps("2024-01-05", "2024-02-10")
    assert as_list(parse_datetime(texts("2024/01/31 10:00", None))) == stamps("2024-01-31 10:00", None)


def test_unparseable_dates_are_flagged_bad_while_empty_markers_are_just_empty():
    parsed = parse_datetime(texts("31.01.2024", "n/a", "next tuesday", ""))
    assert as_list(parsed) == stamps("2024-01-31", None, None, None)
    assert list(parsed.bad) == [False, False, True, False]


def test_dates_outside_plausible_years_are_bad():
    parsed = parse_datetime(texts("2024-01-31", "0201-01-31"))
    assert list(parsed.bad) == [False, True]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (("$1,234.56", "$99"), (1234.56, 99.0)),
        (("€ 1.234,56", "3,10"), (1234.56, 3.10)),  # German locale: '.' thousands, ',' decimals
        (("1 234,5", "12,25"), (1234.5, 12.25)),  # French locale: space thousands
        (["1\xa0234,5 €", "7,5 €"], (1234.5, 7.5)),  # NBSP thousands
        (("1,234,567.5", "0.25"), (1234567.5, 0.25)),
        (("1.234.567", "2"), (1234567.0, 2.0)),  # several dots can only be thousands
        (("(100.00)", "-5"), (-100.0, -5.0)),  # accounting negative
        (("12%", "12,5 %"), (0.12, 0.125)),  # percentages become fractions
        (("CHF 99", "USD 1,000"), (99.0, 1000.0)),
    ],
)
def test_numbers_in_every_export_locale(raw, expected):
    parsed = parse_number(texts(*raw))
    assert list(parsed.values) == pytest.approx(list(expected))
    assert not parsed.bad.any()


def test_empty_markers_are_empty_and_words_are_bad():
    parsed = parse_number(texts("--", "(not set)", "", "abc", "12"))
    assert parsed.values.isna().tolist() == [True, True, True, True, False]
    assert parsed.bad.tolist() == [False, False, False, True, False]


PLAIN_NUMBERS = st.from_regex(r"[+-]?[0-9]{1,12}(\.[0-9]{1,6})?", fullmatch=True)


@settings(deadline=None)  # a busy machine is not a failure
@given(st.lists(st.one_of(st.none(), PLAIN_NUMBERS), max_size=30), st.booleans())
def test_plain_number_columns_read_by_the_fast_path_equal_the_full_rules(cells, comma_hint):
    raw = texts(*cells)
    fast, rules = parse_number(raw, comma_hint=comma_hint), number_rules(raw, comma_hint=comma_hint)
    pd.testing.assert_series_equal(fast.values, rules.values)
    assert fast.bad.tolist() == rules.bad.tolist()


def test_a_dot_in_a_semicolon_file_is_decided_for_the_whole_column():
    # Plain-looking '1.234' is a thousands separator in a ';' file when no cell proves dot decimals.
    assert parse_number(texts("1.234", "5"), comma_hint=True).values.tolist() == [1234.0, 5.0]
    assert parse_number(texts("1.234", "5.5"), comma_hint=True).values.tolist() == [1.234, 5.5]


def test_semicolon_files_hint_decimal_comma_for_ambiguous_columns():
    # '1,234' alone could be either; in a ';' file it is 1.234.
    assert parse_number(texts("1,234"), comma_hint=True).values.tolist() == [1.234]
    assert parse_number(texts("1,234"), comma_hint=False).values.tolist() == [1234.0]


def test_strip_cells_trims_like_pandas_and_keeps_the_series():
    untouched = pd.Series(["a", None, "b c"], dtype="str", name="channel", index=[3, 5, 9])
    assert strip_cells(untouched) is untouched  # nothing to trim: no copy
    padded = pd.Series([" a", None, "b c \t", ""], dtype="str", name="channel", index=[3, 5, 9, 11])
    got = strip_cells(padded)
    pd.testing.assert_series_equal(got, padded.str.strip())
    assert got.tolist()[0] == "a" and got.tolist()[2] == "b c" and got.name == "channel"


def test_iso_cells_parse_alike_on_one_thread_or_per_chunk(monkeypatch):
    cells = ["2024-01-05 10:00:00", None, "2024-02-29", "1899-12-31", "2024-03-01T08:30:15"]
    chunked = pd.Series(
        pd.array(pa.chunked_array([cells[:2], cells[2:4], cells[4:]], pa.large_string()), dtype="str")
    )
    want = [
        pd.Timestamp("2024-01-05 10:00"),
        pd.NaT,
        pd.Timestamp("2024-02-29"),
        pd.NaT,
        pd.Timestamp("2024-03-01 08:30:15"),
    ]
    for parallel_from in (10**9, 0):
        monkeypatch.setattr(values, "_PARALLEL_CELLS", parallel_from)
        got = parse_datetime(chunked)
        assert got.values.isna().tolist() == [False, True, False, True, False]
        assert got.values.dropna().tolist() == [want[0], want[2], want[4]]
        assert got.bad.tolist() == [False, False, False, True, False]  # 1899 is outside the plausible years
        assert got.note == "ISO 8601" and str(got.values.dtype) == "datetime64[us]"
    # one cell that is not ISO: the whole column takes the general road, which still reads it
    mixed = pd.Series(["2024-01-05", " 2024-01-06 ", "--", "Jan 7, 2024"], dtype="str")
    got = parse_datetime(mixed)
    assert got.values.tolist()[:2] == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06")]
    assert got.values.tolist()[3] == pd.Timestamp("2024-01-07") and got.bad.tolist() == [False] * 4


CELL_TEXT = st.lists(
    st.one_of(
        st.none(),
        st.text(
            alphabet=st.sampled_from(["a", "é", " ", "\t", "\u00a0", "\u3000", "\x1f", "\x1c", "x", "-"]),
            max_size=4,
        ),
    ),
    max_size=12,
)


@settings(deadline=None)  # a busy machine is not a failure
@given(CELL_TEXT, st.integers(0, 3), st.integers(0, 3))
def test_text_cells_come_out_trimmed_with_empty_ones_missing(cells, cut, skip):
    # chunked (the reader's blocks) and sliced (an offset into the buffers): the edges are still found
    arrow = pa.chunked_array(
        [
            pa.array(cells[:cut], pa.large_string()),
            pa.array(cells[cut:], pa.large_string()).slice(min(skip, 1)),
        ],
        pa.large_string(),
    )
    series = pd.Series(pd.array(arrow, dtype="str"))
    kept = cells[:cut] + cells[cut:][min(skip, 1) :]
    want = [None if c is None or not c.strip() else c.strip() for c in kept]
    got = parse_text(series).values
    assert [None if pd.isna(v) else v for v in got] == want
    stripped = strip_cells(series)
    assert [None if pd.isna(v) else v for v in stripped] == [None if c is None else c.strip() for c in kept]
    if not values.maybe_untrimmed(pa.array(series.array)):
        assert all(c is None or (c == c.strip() and c) for c in kept)


@settings(deadline=None)  # a busy machine is not a failure
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "é"])), max_size=20))
def test_dictionary_codes_number_each_distinct_value_once_on_one_or_two_threads(cells):
    arrow = pa.array(cells, pa.large_string())
    for parallel_from in (10**9, 2):
        values.PARALLEL_ROWS = parallel_from
        try:
            codes, distinct = values.dictionary_codes(arrow)
            category = values.categorical_of(arrow)
        finally:
            values.PARALLEL_ROWS = 1_000_000
        assert len(set(distinct.to_pylist())) == len(distinct) and None not in distinct.to_pylist()
        assert [None if c < 0 else distinct[int(c)].as_py() for c in codes] == cells
        assert [None if pd.isna(v) else v for v in category] == cells
        assert category.cat.categories.dtype == "str"


def test_cells_of_printable_ascii_alone_need_no_trimming_and_any_other_byte_is_looked_at():
    ids = [str(n) for n in range(1000, 1100)]
    assert not values.maybe_untrimmed(pa.array(ids, pa.large_string()))
    assert not values.maybe_untrimmed(pa.array(["a-b", "x_y", "~!"], pa.string()))
    for odd in ("\t1234", "1234 ", "12\u00a0", "", "1\x1f"):
        cells = pa.array([*ids, odd, *ids], pa.large_string())
        assert values.maybe_untrimmed(cells) == (odd != odd.strip() or not odd), odd
        # a slice that leaves the odd cell out looks only at its own bytes
        assert not values.maybe_untrimmed(cells.slice(len(ids) + 1))
    assert not values.maybe_untrimmed(pa.array(["a b", "c  d"]))  # spaces inside a cell are kept


def test_the_ascii_separators_arrow_trims_are_trimmed_on_every_road():
    cells = pd.Series(["\x1fabc", "x\x1c", "\x1e", "ok"], dtype="str")
    assert values.maybe_untrimmed(pa.array(cells.array))
    assert [None if pd.isna(v) else v for v in parse_text(cells).values] == ["abc", "x", None, "ok"]
    dates = parse_datetime(pd.Series(["2024-01-02", "\x1f2024-01-03"], dtype="str"))
    assert not dates.bad.any() and dates.values.tolist()[1] == pd.Timestamp("2024-01-03")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["7", "12", "0", "70019", "007", "1e3", "٣", "999999999999999999", "1234567890123456789"]
            + ["-5", "+5", "0x1f", "00", "-0", " 5", "5 ", ""]  # what Arrow's cast to int64 takes, or not
        ),
        max_size=20,
    )
)
def test_ids_that_are_numbers_become_the_same_categorical_by_their_values(cells):
    # Plain numbers ("70019") are numbered from their values (no hashing) when the column is long; anything
    # else ("007", "1e3", Arabic digits) takes Arrow's dictionary. Both give the same codes and categories.
    arrow = pa.array(cells, pa.large_string())
    want = values.categorical_of(arrow)  # short: the dictionary road
    values.PARALLEL_ROWS = 1
    try:
        got = values.categorical_of(arrow)
    finally:
        values.PARALLEL_ROWS = 1_000_000
    pd.testing.assert_series_equal(got, want)
    numbers = values.plain_integers(arrow)
    plain = bool(cells) and all(
        c.isascii() and c.isdigit() and (c == "0" or not c.startswith("0")) and len(c) <= 18 for c in cells
    )
    assert (numbers is not None) == plain
    if plain:
        assert numbers.tolist() == [int(c) for c in cells]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["7", "12", "0", "70019", "007", None, "x", "-3", "0x9"]), max_size=6),
        max_size=4,
    ),
    st.sampled_from([pa.string(), pa.large_string()]),
)
def test_numbers_of_chunked_text_are_read_piece_by_piece_as_a_whole(chunks, text):
    # A chunked column, in pieces of two cells: numbers only when every present cell of every piece is a plain
    # number, -1 for a missing cell, in row order; None when no cell is present at all.
    arrow = pa.chunked_array([pa.array(c, text) for c in chunks], text)
    cells = [c for chunk in chunks for c in chunk]
    values.SLICE_ROWS = 2
    try:
        numbers = values.plain_integers(arrow)
    finally:
        values.SLICE_ROWS = 1 << 20
    present = [c for c in cells if c is not None]
    plain = bool(present) and all(c.isdigit() and (c == "0" or not c.startswith("0")) for c in present)
    assert (numbers is not None) == plain
    if plain:
        assert numbers.tolist() == [-1 if c is None else int(c) for c in cells]


@pytest.mark.parametrize(
    "cells, categories",
    [
        (["d", None, "b", "d", "b"], ["a", "b", "c", "d"]),  # unused categories, rows in another order
        (["d", "a", "d"], ["a", "d"]),  # every category used, rows in another order
        (["a", "d", None], ["a", "d"]),  # every category used, in the order of the rows
        ([None, None], ["a"]),
    ],
)
def test_factorized_categoricals_are_what_pd_factorize_gives(cells, categories):
    s = pd.Series(cells, dtype=pd.CategoricalDtype(categories))
    codes, distinct = values.factorized(s)
    want_codes, want_distinct = pd.factorize(s)
    assert codes.tolist() == want_codes.tolist() and distinct.tolist() == list(want_distinct)


def test_categorical_of_distinct_equals_the_checked_constructor():
    categories = pd.Index(["x", "y", "z"], dtype="str")
    got = values.categorical_of_distinct(np.array([2, -1, 0, 2]), categories)
    want = pd.Categorical.from_codes([2, -1, 0, 2], categories=categories)
    pd.testing.assert_extension_array_equal(got, want)
    with pytest.raises(ValueError):  # a code outside the categories is still refused
        values.categorical_of_distinct(np.array([3]), categories)
    with pytest.raises(ValueError):  # and a missing category, as pandas does
        values.categorical_of_distinct(np.array([0]), pd.Index(["x", None], dtype="str"))


def test_a_missing_cell_is_not_read_for_its_bytes():
    # Arrow lets a missing cell span bytes ("007" here, under a validity bit of 0): only present cells count.
    data = pa.py_buffer(b"12007")
    offsets = pa.py_buffer(np.array([0, 2, 5], dtype=np.int32).tobytes())
    validity = pa.py_buffer(bytes([0b01]))
    cells = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, data], null_count=1)
    assert cells.to_pylist() == ["12", None]
    assert values.plain_integers(cells).tolist() == [12, -1]
    assert values.plain_integers(cells.slice(1)) is None  # no cell present


@pytest.mark.parametrize("cells", [["", ""], ["12", ""], ["", None], ["1a2"], ["12", "1 2"]])
def test_empty_or_inner_text_cells_are_not_numbers(cells):
    assert values.plain_integers(pa.array(cells, pa.large_string())) is None


def test_plain_integer_width_is_the_longest_plain_number():
    assert values.plain_integer_width(pa.array(["7", None, "433156"], pa.large_string())) == 6
    assert values.plain_integer_width(pa.chunked_array([["12"], ["0", "99999"]], pa.string())) == 5
    assert values.plain_integer_width(pa.array([None, None], pa.large_string())) == 0  # no cell present
    for not_numbers in (["07"], ["12", ""], ["-1"], ["1234567890123456789"]):
        assert values.plain_integer_width(pa.array(not_numbers, pa.large_string())) is None
    assert values.plain_integer_width(pa.array([1, 2])) is None  # not text


def test_plain_integers_are_packed_in_place_as_their_number_plus_one(monkeypatch):
    monkeypatch.setattr(values, "SLICE_ROWS", 2)  # three slices
    packed = np.array([1, 2, 3, 4, 0], dtype=np.int64)
    cells = pa.array(["5", None, "12", "0", None], pa.large_string())
    assert values.add_plain_integers(packed, cells, 101)
    assert packed.tolist() == [1 * 101 + 6, 2 * 101, 3 * 101 + 13, 4 * 101 + 1, 0]


def test_a_cell_that_is_no_number_after_all_leaves_the_packed_keys_as_they_were(monkeypatch):
    # "1a2" starts and ends with a digit (`plain_integer_width` lets it through): its cast fails in the last
    # slice, after the first two were packed, and those are unpacked again.
    monkeypatch.setattr(values, "SLICE_ROWS", 2)
    packed = np.array([3, 1, 4, 1, 5], dtype=np.int64)
    cells = pa.chunked_array([["5", "7", "12"], [None, "1a2"]], pa.large_string())
    assert values.plain_integer_width(cells) == 3
    assert not values.add_plain_integers(packed, cells, 1001)
    assert packed.tolist() == [3, 1, 4, 1, 5]
