"""Typed values from export strings (SPEC §4 step 6), one whole column at a time.

Each parser takes a string Series (NA = empty cell) and returns `Parsed(values, bad, note)`: the typed
values, a boolean mask of cells that were present but could not be parsed (ingest rejects those rows with
the reason), and a note for the report (e.g. the date convention decided for the column).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lifecycle.schema import DATETIME_DTYPE

EMPTY_MARKERS = ("--", "(not set)", "n/a", "na", "null", "none", "nan", "-", "#n/a", "(none)", "")
"""Cells that mean 'no value' in numeric and date columns."""

MIN_YEAR, MAX_YEAR = 1900, 2200
_FIRST_DAY, _AFTER_LAST_DAY = pd.Timestamp(f"{MIN_YEAR}-01-01"), pd.Timestamp(f"{MAX_YEAR + 1}-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")

DateConvention = str  # "auto" | "dayfirst" | "monthfirst" | a strftime format


@dataclass
class Parsed:
    values: pd.Series
    bad: pd.Series
    note: str = ""


_MARKER_CHARS = max(len(m.encode()) for m in EMPTY_MARKERS)


def _text_cells(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The Arrow cells of a str Series (shared, not copied)."""
    return pa.array(s.array)


def _marker_mask(trimmed: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Where trimmed cells are empty markers (case-insensitive); None if nowhere. Only the short cells are
    lowered and looked up: a column of timestamps or ids is not copied for it."""
    short = pc.fill_null(pc.less_equal(pc.binary_length(trimmed), _MARKER_CHARS), False)
    if not pc.any(short).as_py():
        return None
    at = np.flatnonzero(short.to_numpy(zero_copy_only=False))
    candidates = pc.utf8_lower(pc.take(trimmed, pa.array(at)))
    hits = pc.fill_null(pc.is_in(candidates, value_set=pa.array(EMPTY_MARKERS)), False)
    hits_np = hits.to_numpy(zero_copy_only=False)
    if not hits_np.any():
        return None
    mask = np.zeros(len(trimmed), dtype=bool)
    mask[at[hits_np]] = True
    return mask


_EDGE_BYTES = np.zeros(256, dtype=bool)
_EDGE_BYTES[list(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")] = True  # what Arrow's utf8_trim_whitespace trims
_EDGE_BYTES[0x80:] = True  # any non-ASCII byte: it may end a Unicode space (NBSP, ideographic space …)


def cell_offsets(cells: pa.Array) -> np.ndarray:
    """Where each cell of a (large) string array starts in its data buffer, and the last one ends: its Arrow
    offsets as they are (no copy), ``len(cells) + 1`` of them."""
    width = np.int64 if pa.types.is_large_string(cells.type) else np.int32
    return np.frombuffer(cells.buffers()[1], dtype=width)[cells.offset : cells.offset + len(cells) + 1]


def maybe_untrimmed(cells: pa.Array | pa.ChunkedArray) -> bool:
    """False when no cell starts or ends with a space and none is empty ("" rather than missing): read from the
    first and last byte of each cell, without copying the cells. True when that may not hold (a cell ending in
    a non-ASCII character is looked at closely by the caller)."""
    for chunk in cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]:
        if not len(chunk):
            continue
        if chunk.type not in (pa.string(), pa.large_string()):
            return True
        data_buffer = chunk.buffers()[2]
        offsets = cell_offsets(chunk)
        starts, ends = offsets[:-1], offsets[1:]
        empty = starts == ends
        if empty.any():
            if pc.any(pc.equal(pc.binary_length(chunk), 0)).as_py():
                return True  # a present empty cell (a missing one has length 0 too)
            starts, ends = starts[~empty], ends[~empty]  # (missing cells)
        data = (
            np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        )
        if not _edge_byte_within(data[offsets[0] : offsets[-1]]):
            continue  # no cell holds a byte that could be trimmed (ids, codes): no cell to look at
        if _EDGE_BYTES[data[starts]].any() or _EDGE_BYTES[data[ends - 1]].any():
            return True
    return False


def _edge_byte_within(data: np.ndarray) -> bool:
    """Whether `data` may hold an `_EDGE_BYTES` byte: False when every byte is printable ASCII other than the
    space, found from its smallest and largest byte (two passes without a copy, where looking up the first and
    last byte of each of 21 M e-mail recipients' ids took 0.1–0.3 s)."""
    return bool(len(data)) and (int(data.min()) <= 0x20 or int(data.max()) >= 0x7F)


def missing_mask(values: pd.Series) -> np.ndarray | None:
    """`values.isna()` as an array, or None when no value is missing, told without an array of the whole column
    where the column says so itself (a categorical's smallest code, a timestamp column's earliest time, Arrow's
    count of missing text): no mask of 21 M rows made to find nothing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        if not len(codes) or codes.min() >= 0:
            return None
    elif values.dtype.kind == "M":
        ticks = values.to_numpy()
        if not len(ticks) or not np.isnat(ticks.min()):  # (the earliest is NaT when one is)
            return None
    elif values.dtype == "str" and not pa.array(values.array).null_count:
        return None
    return values.isna().to_numpy()


PARALLEL_ROWS = 1_000_000
"""Cells from which `dictionary_codes` encodes a column in two halves on two threads."""


def dictionary_codes(cells: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each cell's index (int32; -1 where missing) into the column's distinct values, and those values (Arrow's
    dictionary encoding). A long column is encoded in two halves on two threads, then numbered as one."""
    if len(cells) < PARALLEL_ROWS:
        return _encoded(pc.dictionary_encode(cells))
    half = len(cells) // 2
    with ThreadPoolExecutor(2) as pool:
        (first, first_values), (second, second_values) = pool.map(
            lambda part: _encoded(pc.dictionary_encode(part)), [cells[:half], cells[half:]]
        )
    renumber = (
        pc.fill_null(pc.index_in(second_values, value_set=first_values), -1).to_numpy().astype(np.int32)
    )
    new = renumber < 0
    renumber[new] = len(first_values) + np.arange(int(new.sum()), dtype=renumber.dtype)
    renumber = np.append(renumber, np.int32(-1))  # a missing cell's -1 stays -1
    codes = np.empty(len(cells), dtype=np.int32)
    codes[:half] = first
    np.take(renumber, second, out=codes[half:])
    return codes, pa.concat_arrays([first_values, second_values.filter(pa.array(new))])


def _encoded(encoded: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """The indices (int32, -1 where missing) and the dictionary of `pc.dictionary_encode`'s result (its chunks
    share one dictionary)."""
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], encoded.type.value_type)
    indices = pa.chunked_array([c.indices for c in chunks], type=chunks[0].indices.type)
    return pc.fill_null(indices, -1).to_numpy().astype(np.int32, copy=False), chunks[0].dictionary


def owned(values: np.ndarray) -> np.ndarray:
    """`values` to hold in a Series without the copy pandas makes of a numpy array by default: itself when it
    is a fresh array, a copy when it is a read-only view of Arrow's memory."""
    return values if values.flags.writeable else values.copy()


def code_dtype(categories: int) -> type[np.signedinteger]:
    """The integer type pandas keeps a categorical's codes in for that many categories."""
    return next(t for t in (np.int8, np.int16, np.int32) if categories < np.iinfo(t).max)


def first_rows(groups: np.ndarray, n: int) -> np.ndarray:
    """The first row (in row order) of each group 0…n-1 (`len(groups)` for a group without one). Int32 when the
    rows allow."""
    dtype = np.int32 if len(groups) < 2**31 else np.int64
    first_row = np.full(n, len(groups), dtype=dtype)
    np.minimum.at(first_row, groups, np.arange(len(groups), dtype=dtype))
    return first_row


def first_appearance_codes(keys: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0…n-1 of the distinct `keys` (each in 0…span-1) in order of first appearance (as `pd.factorize`),
    as int32 where n allows, and those keys. When the span is at most four keys per event, by marking a flag per
    possible key, then ordering the keys by their first row: a third of the time of hashing twenty million keys."""
    if span <= 4 * len(keys):
        seen = np.zeros(span, dtype=bool)
        seen[keys] = True
        pairs = np.flatnonzero(seen)  # in key order
        del seen
        number = np.empty(span, dtype=np.int32 if len(pairs) < 2**31 else np.int64)  # read at `pairs` only
        number[pairs] = np.arange(len(pairs), dtype=number.dtype)
        codes = number[keys]
        del number
        first_row = first_rows(codes, len(pairs))  # distinct: a plain sort of (row, code) orders them
        bits = max(int(len(pairs)).bit_length(), 1)
        if int(len(keys)).bit_length() + bits <= 63:
            order = np.sort((first_row.astype(np.int64) << bits) | np.arange(len(pairs), dtype=np.int64))
            order &= (1 << bits) - 1
        else:
            order = np.argsort(first_row)
        del first_row
        rank = np.empty(len(pairs), dtype=codes.dtype)
        rank[order] = np.arange(len(pairs), dtype=codes.dtype)
        np.take(rank, codes, out=codes, mode="clip")  # in place (unbuffered): no second array of event size
        return codes, pairs[order]
    codes, pairs = pd.factorize(keys)
    return (codes.astype(np.int32) if len(pairs) < 2**31 else codes), pairs


def plain_integers(cells: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Text cells that are every one a plain decimal number — ids such as "433156": ASCII digits, no leading
    zero, at most 18 of them — as their int64 values (-1 where a cell is missing): two cells are equal exactly
    when their numbers are, so the numbers can stand for the text. None otherwise (or when no cell is present).
    Cast a slice at a time into the one array returned (no column-long scratch arrays), once each cell's first
    and last byte, read from the offsets, allow it (`plain_integer_width`): 0.18 CPU-seconds for 21 M
    recipients, where checking every byte first took 0.27; and text that is no number is told without a cast,
    whose failure spells out an error for every cell (0.36 s for 1.6 M lead stages)."""
    if len(cells) == cells.null_count or plain_integer_width(cells) is None:
        return None
    out = np.empty(len(cells), dtype=np.int64)
    for rows, numbers in _numbers_by_slice(cells):
        if numbers is None:
            return None
        out[rows] = numbers
    return out


def _numbers_by_slice(cells: pa.Array | pa.ChunkedArray) -> Iterator[tuple[slice, np.ndarray | None]]:
    """The cells a slice at a time (`SLICE_ROWS`): the slice's rows, and its cells cast to int64 (-1 where a cell
    is missing), or None when the cast fails ("1a2", "1 2" …: text that `plain_integer_width` let through but
    is no number)."""
    chunks = cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]
    at = 0
    for piece in (piece for chunk in chunks for piece in _slices(chunk)):
        try:
            numbers = pc.cast(piece, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            yield slice(at, at + len(piece)), None
            return
        yield (
            slice(at, at + len(piece)),
            (pc.fill_null(numbers, -1) if numbers.null_count else numbers).to_numpy(),
        )
        at += len(piece)


def _digits_width(cells: pa.Array) -> int | None:
    """The bytes of the longest present cell (0 when no cell is present) when every present cell may be a plain
    number, read from its first and last bytes: first byte 1–9 (or the cell "0"), last byte a digit, at most 18
    bytes; None otherwise. Of the text Arrow's cast to int64 then takes (an optional "-", an optional "0x",
    digits), that leaves the plain numbers alone."""
    offsets = cell_offsets(cells)
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    if cells.null_count:  # only present cells (a missing one may hold bytes, whatever they are)
        present = pc.is_valid(cells).to_numpy(zero_copy_only=False)
        starts, lengths = starts[present], lengths[present]
    if not len(lengths):
        return 0
    widest = int(lengths.max())
    if widest > 18 or not lengths.min():  # (an empty cell is no number)
        return None
    data = np.frombuffer(cells.buffers()[2], dtype=np.uint8)
    first = data[starts]
    if ((first < 48) | (first > 57) | ((first == 48) & (lengths > 1))).any():
        return None
    last = data[starts + lengths - 1]
    return None if ((last < 48) | (last > 57)).any() else widest


def plain_integer_width(cells: pa.Array | pa.ChunkedArray) -> int | None:
    """The digits of the longest present cell when every present cell may be a plain number (`_digits_width`,
    read from the offsets: no cast), 0 when none is present; None when a cell cannot be one, or for cells that
    are not text. A slice at a time: scratch arrays of a slice only."""
    chunks = cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]
    widest = 0
    for piece in (piece for chunk in chunks for piece in _slices(chunk)):
        if piece.type not in (pa.string(), pa.large_string()):
            return None
        width = _digits_width(piece) if piece.null_count < len(piece) else 0
        if width is None:
            return None
        widest = max(widest, width)
    return widest


def add_plain_integers(packed: np.ndarray, cells: pa.Array | pa.ChunkedArray, size: int) -> bool:
    """``packed = packed * size + code`` in place, a code per cell: its number + 1 (`plain_integers`), 0 when it
    is missing. For cells `plain_integer_width` lets through (its first and last bytes rule out a sign or
    "0x" the cast would take), ``size`` above every code (10 ** their width + 1) and ``packed`` not negative.
    A slice at a time (`SLICE_ROWS`): the cells' numbers never make an array of the whole column, and each
    slice of `packed` is multiplied and added to while in the processor's cache. False, with `packed` as it
    was, when a cell turns out to be no plain number (the cast fails: "1a2")."""
    for rows, numbers in _numbers_by_slice(cells):
        if numbers is None:
            packed[: rows.start] //= size  # each code is below `size`: the packed keys as they were
            return False
        window = packed[rows]
        window *= size
        window += numbers
        window += 1
    return True


SLICE_ROWS = 1 << 20
"""Rows an event-long computation takes at a time where a whole-column scratch array would be freshly mapped
(`plain_integers`, the packed duplicate keys, the score history's checks): its slices' scratch is reused."""


def _slices(cells: pa.Array) -> list[pa.Array]:
    """`cells` in zero-copy slices of at most `SLICE_ROWS`."""
    return [cells.slice(at, SLICE_ROWS) for at in range(0, len(cells), SLICE_ROWS)] or [cells]


def categorical_of(cells: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A categorical Series of text cells (missing cells missing), categories in order of appearance. Ids that
    are plain numbers with none missing (`plain_integers`) are numbered from their values without hashing
    (`first_appearance_codes`): hashing 20 million recipients into a million values grows faster than they do."""
    numbers = plain_integers(cells) if len(cells) >= PARALLEL_ROWS and not cells.null_count else None
    numbered = numbered_ids(numbers) if numbers is not None else None
    del numbers
    return _categorical(*(numbered if numbered is not None else dictionary_codes(cells)))


def numbered_ids(numbers: np.ndarray) -> tuple[np.ndarray, pa.Array] | None:
    """Ids that are plain numbers (`plain_integers`, none missing) as codes in order of first appearance and the
    distinct ids' text, numbered from their values without hashing (`first_appearance_codes`); None when their
    span is over four values per id. ``numbers`` is used up (shifted in place)."""
    lo = int(numbers.min())
    span = int(numbers.max()) - lo + 1
    if span > 4 * len(numbers):
        return None
    numbers -= lo
    codes, distinct = first_appearance_codes(numbers, span)
    return codes, pa.array(distinct + lo).cast(pa.large_string())  # no leading zeros: the very text


def _categorical(codes: np.ndarray, dictionary: pa.Array) -> pd.Series:
    smallest = code_dtype(len(dictionary))
    categories = pd.Index(pd.array(dictionary, dtype="str"))
    return pd.Series(categorical_of_distinct(codes.astype(smallest, copy=False), categories), copy=False)


def factorized(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize(values)`: codes (-1 = missing) into the distinct values in the order rows first use them,
    the values as an object array. A categorical's from its own codes and the first row of each category
    (`first_rows`), its unused categories dropped: factorizing the codes again would hash every row (0.9 s for
    twenty million events with a million recipients)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(values)
        return codes, np.asarray(uniques, dtype=object)
    codes = values.cat.codes.to_numpy()
    categories = np.asarray(values.cat.categories, dtype=object)
    first_row = first_rows(codes, len(categories) + 1)  # the last slot takes code -1
    used = np.flatnonzero(first_row[:-1] < len(codes))
    order = used[np.argsort(first_row[used], kind="stable")]
    if len(order) == len(categories) and np.array_equal(order, np.arange(len(categories))):
        return codes, categories  # every category used, in the order of the rows: the codes stay
    renumber = np.full(len(categories) + 1, -1, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    return renumber[codes], categories[order]


def categorical_of_distinct(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """`pd.Categorical.from_codes(codes, categories=categories)` for categories distinct by construction (a
    dictionary, `pd.factorize`'s uniques): without pandas' check that they are, which hashes every category
    (0.3 s for a million ids, 30× the time for a tenth of them). The codes' range is still checked."""
    from_fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas' own unchecked constructor
    checked = from_fastpath is None or categories.hasnans  # a missing category still raises pandas' error
    dtype = pd.CategoricalDtype(categories) if checked else from_fastpath(categories, ordered=False)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def strip_cells(s: pd.Series) -> pd.Series:
    """`s.str.strip()` of a str Series, by Arrow; `s` itself (no copy) when no cell has spaces to trim."""
    cells = _text_cells(s)
    if not maybe_untrimmed(cells):
        return s
    trimmed = pc.utf8_trim_whitespace(cells)
    if pc.all(pc.equal(pc.binary_length(trimmed), pc.binary_length(cells))).as_py() is not False:
        return s
    return pd.Series(pd.array(trimmed, dtype="str"), index=s.index, name=s.name)


def blank_markers(raw: pd.Series) -> pd.Series:
    """`raw` (str) with the empty markers ('--', '(not set)', 'N/A' …) turned into NA."""
    mask = _marker_mask(pc.utf8_trim_whitespace(_text_cells(raw)))
    return raw if mask is None else raw.mask(mask)


# ---------------------------------------------------------------------------------------------- numbers

_CURRENCY = re.compile(r"[$€£¥₹₽]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|PLN)\b", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")


def decimal_comma(cleaned: pd.Series, hint: bool = False) -> bool:
    """Whether a column writes decimals with a comma ('1.234,56', '12,5'), decided over the whole column."""
    s = cleaned.dropna()
    if s.empty:
        return hint
    both = s[s.str.contains(",", regex=False) & s.str.contains(".", regex=False)]
    if not both.empty:
        return bool((both.str.rfind(",") > both.str.rfind(".")).mean() > 0.5)
    comma_decimal = s.str.fullmatch(r"[+-]?\d*,\d{1,2}|[+-]?\d*,\d{4,}").any()
    dot_decimal = s.str.fullmatch(r"[+-]?\d*\.\d{1,2}|[+-]?\d*\.\d{4,}").any()
    many_commas = s.str.count(",").gt(1).any()
    many_dots = s.str.count(r"\.").gt(1).any()
    if comma_decimal or many_dots:
        return True
    if dot_decimal or many_commas:
        return False
    return hint


_PLAIN_NUMBER = r"^[+-]?\d+(?:\.\d+)?$"


def _plain_numbers(raw: pd.Series, comma_hint: bool) -> Parsed | None:
    """The common case in large exports: every present cell a plain number ('12', '-3.50'), read by one
    vectorized Arrow cast. None when any cell needs the full rules — or, in a ';'-delimited file, when a
    dot might be a thousands separator (the column-wide decimal decision of `decimal_comma` then applies)."""
    cells = pa.array(raw.astype("str"))
    if not pc.all(pc.match_substring_regex(cells, _PLAIN_NUMBER)).as_py():
        return None
    if comma_hint and pc.any(pc.match_substring(cells, ".")).as_py():
        return None
    values = owned(pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False))
    return Parsed(pd.Series(values, index=raw.index, copy=False), pd.Series(False, index=raw.index), "")


def parse_number(raw: pd.Series, *, comma_hint: bool = False) -> Parsed:
    """Numbers with currency symbols, thousands separators (`,` `.` space NBSP `'`), decimal comma,
    accounting negatives '(12.50)', and percentages ('12%' → 0.12)."""
    plain = _plain_numbers(raw, comma_hint)
    return plain if plain is not None else number_rules(raw, comma_hint=comma_hint)


def number_rules(raw: pd.Series, *, comma_hint: bool = False) -> Parsed:
    """`parse_number` by its full rules, cell by cell (what the Arrow fast path must agree with)."""
    s = blank_markers(raw.astype("str"))
    s = s.str.replace(_CURRENCY, "", regex=True).str.replace(_SPACES, "", regex=True)
    negative = s.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    s = s.str.strip("()")
    percent = s.str.endswith("%").fillna(False).astype(bool)
    s = s.str.rstrip("%")
    comma = decimal_comma(s, comma_hint)
    if comma:
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.str.replace(",", "", regex=False)
    s = s.mask(s == "")
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    values = values.where(~percent, values / 100).where(~negative, -values)
    bad = s.notna() & (values.isna() | ~np.isfinite(values.fillna(0)))
    values = values.where(~bad)
    note = "decimal comma" if comma else ""
    return Parsed(values, bad, note)


# ---------------------------------------------------------------------------------------------- dates

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %H:%M:%S.%f", "T%H:%M:%S", "T%H:%M")
_NUMERIC_DATES = {
    "dayfirst": ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%y"),
    "monthfirst": ("%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y", "%m/%d/%y", "%m-%d-%y"),
}
_TEXT_DATES = (
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d %Y",
    "%a, %d %b %Y",
    "%A, %B %d, %Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
)
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")


def _formats(convention: str) -> list[str]:
    numeric = _NUMERIC_DATES.get(convention, ())
    return [d + t for d in (*numeric, *_TEXT_DATES) for t in _TIMES]


def infer_convention(s: pd.Series) -> str:
    """'dayfirst' / 'monthfirst' from the whole column's d/d/y values, '' when none, 'ambiguous' when
    every value has day and month ≤ 12, 'conflict' when both orders are proven."""
    parts = s.str.extract(_SLASHED).dropna()
    if parts.empty:
        return ""
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first = bool((first > 12).any())
    month_first = bool((second > 12).any())
    if day_first and month_first:
        return "conflict"
    if day_first:
        return "dayfirst"
    if month_first:
        return "monthfirst"
    return "ambiguous"


def _to_naive(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype(DATETIME_DTYPE)


def _try_format(s: pd.Series, fmt: str) -> pd.Series:
    try:
        out = pd.to_datetime(s, format=fmt, errors="coerce", utc=fmt == "ISO8601")
    except (ValueError, OverflowError):
        return pd.Series(pd.NaT, index=s.index, dtype=DATETIME_DTYPE)
    return _to_naive(out)


def _arrow_iso(s: pd.Series) -> pd.Series | None:
    """All present values as naive ISO 8601 dates/timestamps, parsed by Arrow's vectorized cast (chunks in
    parallel); None if any is not (a missing value stays NaT)."""
    head = s.head(50).dropna()
    if not len(head) or not head.str.match(r"\d{4}-\d{2}-\d{2}").all():
        return None
    cells = _text_cells(s)
    chunks = cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]
    try:
        if len(chunks) > 1 and len(cells) >= _PARALLEL_CELLS:
            with ThreadPoolExecutor(2) as pool:
                parsed = list(pool.map(lambda chunk: pc.cast(chunk, pa.timestamp("us")), chunks))
        else:
            parsed = [pc.cast(chunk, pa.timestamp("us")) for chunk in chunks]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    stamps = pa.chunked_array(parsed, pa.timestamp("us")).to_numpy() if parsed else np.array([], "M8[us]")
    return pd.Series(owned(stamps), index=s.index, copy=False).astype(DATETIME_DTYPE)


_PARALLEL_CELLS = 1_000_000
"""Cells from which an ISO column's chunks are cast on two threads (Arrow's cast of a chunked array is one
thread)."""


def _numeric_dates(s: pd.Series) -> tuple[pd.Series, str] | None:
    """YYYYMMDD, epoch seconds / milliseconds, or Excel serial days — only when the whole column is numeric."""
    if not s.head(50).str.fullmatch(r"\d+(?:\.\d+)?").all():
        return None
    num = pd.to_numeric(s, errors="coerce")
    if num.isna().any():
        return None
    ints = (num == num.round()).all()
    digits = s.str.strip().str.len()
    if ints and (digits == 8).all():
        out = _try_format(s.str.strip(), "%Y%m%d")
        if out.notna().all():
            return out, "YYYYMMDD"
    lo, hi = num.min(), num.max()
    if ints and lo >= 1e11 and hi < 1e13 * 4.2:
        return _to_naive(pd.to_datetime(num.astype("int64"), unit="ms")), "epoch milliseconds"
    if ints and lo >= 3e8 and hi < 4.2e9:
        return _to_naive(pd.to_datetime(num.astype("int64"), unit="s")), "epoch seconds"
    if lo >= 1 and hi < 2958466:
        days = pd.to_timedelta(num, unit="D").dt.round("s")
        return (_EXCEL_EPOCH + days).astype(DATETIME_DTYPE), "Excel serial days"
    return None


def parse_datetime(
    raw: pd.Series, convention: DateConvention = "auto", *, default_order: str = "monthfirst"
) -> Parsed:
    """Dates and timestamps: ISO 8601 (tz-aware converted to UTC), d/m/y or m/d/y decided per column
    (`convention` 'auto' infers it from values above 12; an all-ambiguous column uses `default_order`
    and says so), YYYYMMDD, epoch s/ms, Excel serials, and textual months. A column may mix formats;
    each value must parse under the column's day/month order."""
    raw = raw.astype("str")
    if convention in ("auto", "dayfirst", "monthfirst"):
        fast = _arrow_iso(raw)  # every present cell naive ISO 8601 as it is: nothing to trim or blank
        if fast is not None:
            return _checked(fast, None, "ISO 8601")
    s = strip_cells(blank_markers(raw))
    present = s.notna()
    out = pd.Series(pd.NaT, index=s.index, dtype=DATETIME_DTYPE)
    if not present.any():
        return Parsed(out, present & False, "")
    vals = s[present]

    if convention not in ("auto", "dayfirst", "monthfirst"):
        parsed = _try_format(vals, convention)
        out[present] = parsed
        return _checked(out, present, f"format {convention}")

    fast = _arrow_iso(vals)
    if fast is not None:  # the common case in large exports: every value naive ISO 8601
        out[present] = fast
        return _checked(out, present, "ISO 8601")

    numeric = _numeric_dates(vals)
    if numeric is not None:
        parsed, note = numeric
        out[present] = parsed
        return _checked(out, present, note)

    note_parts: list[str] = []
    order = convention
    inferred = infer_convention(vals) if convention == "auto" else convention
    if convention == "auto":
        if inferred in ("dayfirst", "monthfirst"):
            order = inferred
        elif inferred == "ambiguous":
            order = default_order
            note_parts.append(f"ambiguous (every day ≤ 12): assumed {default_order}")
        elif inferred == "conflict":
            order = default_order
            note_parts.append(f"both day-first and month-first values: read as {default_order}")
        else:
            order = default_order
    todo = vals
    parsed = _try_format(todo, "ISO8601")
    result = parsed
    remaining = result.isna()
    if remaining.any():
        uniques = pd.Series(todo[remaining].unique())
        formats = _formats(order)
        sample = uniques.head(200)
        ranked = sorted(formats, key=lambda f: -int(_try_format(sample, f).notna().sum()))
        for fmt in ranked:
            if not remaining.any():
                break
            attempt = _try_format(todo[remaining], fmt)
            if attempt.notna().any():
                result = result.where(
                    ~(remaining & attempt.reindex(result.index).notna()), attempt.reindex(result.index)
                )
                remaining = result.isna()
            else:
                break
    if not note_parts:
        if inferred in ("dayfirst", "monthfirst"):
            note_parts.append(inferred)
        else:
            note_parts.append("ISO 8601" if parsed.notna().all() else "mixed formats")
    out[present] = result
    return _checked(out, present, "; ".join(note_parts))


def parsed_timestamps(values: pd.Series) -> Parsed:
    """`parse_datetime` of a column Arrow parsed into timestamps as it read the file (`reader._column_plan`):
    every cell was naive ISO 8601, as `parse_datetime`'s first way finds; only the implausible years are bad."""
    return _checked(values.astype(DATETIME_DTYPE), None, "ISO 8601")


def _checked(out: pd.Series, present: pd.Series | None, note: str) -> Parsed:
    """`out` without dates outside the plausible years, which are bad, as are the `present` cells that did not
    parse (`present` None: `out` is missing exactly where the cells were, an exact cast)."""
    earliest, latest = out.min(), out.max()
    implausible = None
    if not (pd.isna(earliest) or (earliest >= _FIRST_DAY and latest < _AFTER_LAST_DAY)):
        implausible = (out < _FIRST_DAY) | (out >= _AFTER_LAST_DAY)  # a year outside MIN_YEAR…MAX_YEAR
        out = out.where(~implausible)
    if present is not None:
        bad = present & out.isna()
    else:
        bad = implausible if implausible is not None else pd.Series(False, index=out.index)
    return Parsed(out.astype(DATETIME_DTYPE), bad, note)


# ---------------------------------------------------------------------------------------------- text


def parse_text(raw: pd.Series, *, trimmed: bool = False) -> Parsed:
    """Trimmed strings; empty → NA. A column that is already so (as the reader leaves text cells) is returned
    as it is, sharing its memory: a 20-million-row export is not copied for nothing. `trimmed`: the caller
    knows it is so (`reader.RawTable.trimmed`), and its cells are not looked at again (21 M e-mail recipients:
    0.08 CPU-seconds)."""
    s = raw.astype("str")
    cells = pa.array(s)
    if trimmed or not maybe_untrimmed(cells):  # as the reader leaves text cells: nothing to trim or blank
        return Parsed(s.copy(deep=False), pd.Series(False, index=raw.index), "")
    stripped = pc.utf8_trim_whitespace(cells)
    # None when every cell is empty (nothing to share then)
    untouched = pc.all(pc.equal(pc.binary_length(stripped), pc.binary_length(cells))).as_py()
    s = s.copy(deep=False) if untouched else pd.Series(pd.array(stripped, dtype="str"), index=s.index)
    if pc.any(pc.equal(stripped, "")).as_py():
        s = s.mask(s == "")
    return Parsed(s, pd.Series(False, index=raw.index), "")


def normalize_key(raw: pd.Series) -> pd.Series:
    """Value lookup key: lower case, runs of non-alphanumerics as one space (like header names)."""
    return raw.str.lower().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
