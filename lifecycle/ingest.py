"""Ingestion (SPEC §4): an export's bytes → canonical frames + a report that accounts for every row.

`read_export(data, name) -> list[Ingested]` runs every step — unpack, decode, sniff, header, footers
(`lifecycle.reader`), table detection and column mapping (`lifecycle.mapping`), typed values
(`lifecycle.values`), value normalization and validation (here). For every table read,
`rows_read = rows_loaded + rows_rejected`; rejected rows keep their raw cells and a reason.
`ingest_files(paths, out)` merges the results into a workspace folder by key (`lifecycle.workspace`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lifecycle import values as values_module
from lifecycle import workspace
from lifecycle.mapping import ColumnMapping, Detection, MappingError, apply_mapping, detect_table
from lifecycle.memory import release_freed_memory
from lifecycle.reader import RawTable, ReadError, cell_texts, read_raw, read_raw_file, timestamp_cells
from lifecycle.schema import NOT_SET, TABLES, coerce_frame, frame_of, take_rows
from lifecycle.synonyms import PARDOT_EVENT_TYPES, VALUE_SYNONYMS, normalize_header
from lifecycle.values import (
    add_plain_integers,
    dictionary_codes,
    missing_mask,
    normalize_key,
    parse_datetime,
    parse_number,
    parse_text,
    parsed_timestamps,
    plain_integer_width,
    plain_integers,
)

MAX_REASON_EXAMPLES = 3
MAX_ABS_NUMBER = 1e13
"""Amounts and counts beyond this are rejected as implausible (e.g. an id pasted into a money column)."""

COUNT_COLUMNS = {
    "email_sends": ("sent", "delivered", "unique_opens", "unique_clicks", "bounces", "unsubscribes"),
    "web_traffic": ("sessions", "users", "new_users", "form_views", "form_submissions"),
}


OWN_CHANNEL_TABLES = ("leads", "spend", "web_traffic")
"""Tables whose empty channel is the channel '(not set)' (SPEC §3). An empty channel on a deal or customer
means "take the lead's channel" (derived facts), so it stays empty there."""


class IngestError(ValueError):
    """A file that cannot be ingested at all (unreadable or unrecognizable); the message says why and how to fix."""


@dataclass
class IngestReport:
    file: str
    table: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rejected: dict[str, int]
    skipped_lines: int
    columns: dict[str, str]
    dates: str
    encoding: str
    delimiter: str | None
    warnings: list[str] = field(default_factory=list)
    date_columns: dict[str, str] = field(default_factory=dict)
    value_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    unmapped_headers: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duplicates: int = 0
    replaced: int = 0
    sheet: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Ingested:
    """One table read from one file: the canonical frame, its report, and the rejected rows."""

    table: str
    frame: pd.DataFrame
    report: IngestReport
    rejected_rows: pd.DataFrame
    """Columns: `row` (spreadsheet row number or None), `reason`, then the file's own headers (raw text)."""


# ---------------------------------------------------------------------------------------------- values


def _vocabulary(table: str, column: str, mapping: ColumnMapping | None, header: str = "") -> dict[str, str]:
    vocab = {normalize_header(k): v for k, v in VALUE_SYNONYMS.get(f"{table}.{column}", {}).items()}
    if (table, column) == ("email_events", "event") and normalize_header(header) == "type":
        # Pardot's visitor-activity `type` numbers clash with Marketo's activityTypeId numbers.
        vocab.update(PARDOT_EVENT_TYPES)
    if mapping is not None:
        vocab.update({normalize_header(k): v for k, v in mapping.values.get(column, {}).items()})
    return vocab


def _normalize_category(
    table: str,
    column: str,
    raw: pd.Series,
    mapping: ColumnMapping | None,
    warnings: list[str],
    header: str = "",
) -> tuple[pd.Series, pd.Series, dict[str, str]]:
    """Canonical values of a category column (SPEC §3 value rules), rows to reject, and raw→canonical seen.
    The rules run once per distinct value (a few dozen in millions of rows), then spread to the rows."""
    codes, uniques = pd.factorize(raw)
    distinct = pd.Series([*uniques, None], dtype="str")  # the last one stands for the empty cells
    text = parse_text(distinct).values
    out, bad, seen = _normalize_distinct(table, column, text, mapping, warnings, header)
    rows = np.where(codes < 0, len(distinct) - 1, codes)
    present = text.notna()
    if out.notna().equals(present) and (out[present] == text[present]).all():
        values = parse_text(raw).values  # every value already canonical: the column as read, not a copy
    else:
        values = out.take(rows).set_axis(raw.index)
    return values, pd.Series(bad.to_numpy()[rows], index=raw.index, copy=False), seen


def _normalize_distinct(
    table: str, column: str, text: pd.Series, mapping: ColumnMapping | None, warnings: list[str], header: str
) -> tuple[pd.Series, pd.Series, dict[str, str]]:
    """`_normalize_category` over the distinct values, already trimmed (`parse_text`)."""
    vocab = _vocabulary(table, column, mapping, header)
    keys = normalize_key(text)
    mapped = keys.map(vocab)
    bad = pd.Series(False, index=text.index)
    key = f"{table}.{column}"
    if key == "deals.status":
        out = mapped.fillna("open").where(text.notna() | mapped.notna(), "open")
    elif key == "deals.type":
        out = mapped.where(mapped.notna(), keys.str.replace(" ", "_"))
        out = out.fillna("new")
        unknown = sorted(set(out.dropna()) - {"new", "upsell", "cross_sell", "renewal"})
        if unknown:
            warnings.append(f"deal type value(s) not recognized, kept as written: {', '.join(unknown[:8])}")
    elif key == "email_events.event":
        out = mapped
        bad = text.notna() & mapped.isna()
    elif column == "audience":
        out = mapped
        unknown = sorted(set(text[text.notna() & mapped.isna()]))
        if unknown:
            warnings.append(f"audience value(s) not recognized (left empty): {', '.join(unknown[:8])}")
    elif key == "lead_stages.stage":
        out = mapped.where(mapped.notna(), keys.str.replace(" ", "_"))
    elif key == "spend.category":
        out = mapped.where(mapped.notna() | text.isna(), "other")
    else:  # channel, segment, lead status: kept as the export spells them (trimmed)
        mapped_any = mapped.notna()
        out = text.where(~mapped_any, mapped)
        if column == "channel" and table in OWN_CHANNEL_TABLES:
            out = out.fillna(NOT_SET)
    seen: dict[str, str] = {}
    changed = text.notna() & out.notna() & (text != out)
    if changed.any():
        pairs = pd.DataFrame({"raw": text[changed], "canonical": out[changed]}).drop_duplicates("raw")
        seen = dict(zip(pairs["raw"].head(50), pairs["canonical"].head(50), strict=True))
    return out.astype("str"), bad, seen


@dataclass
class _Column:
    values: pd.Series
    bad: pd.Series
    reason: str


def _parse_column(
    table: str,
    canonical: str,
    raw: pd.Series,
    header: str,
    mapping: ColumnMapping | None,
    default_order: str,
    comma_hint: bool,
    report: IngestReport,
    *,
    trimmed: bool = False,
) -> _Column:
    """One column's values parsed as its canonical kind, the cells that are not one, and the reason to give for
    them. `trimmed`: its text cells are known to be trimmed, none empty (`reader.RawTable.trimmed`)."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return _parse_distinct(
            raw,
            lambda distinct: _parse_column(
                table, canonical, distinct, header, mapping, default_order, comma_hint, report
            ),
        )
    kind = TABLES[table].column(canonical).kind
    convention = mapping.dates if mapping is not None else "auto"
    if raw.dtype.kind == "M":  # a large file's timestamps, parsed as it was read (`reader._column_plan`)
        if kind == "datetime" and convention in ("auto", "dayfirst", "monthfirst"):
            parsed = parsed_timestamps(raw)
            report.date_columns[canonical] = parsed.note
            return _Column(parsed.values, parsed.bad, f"{canonical}: not a date in column {header!r}")
        raw = timestamp_cells(raw)  # read as the text it was: a date format of the mapping's, or not a date
    if kind == "datetime":
        parsed = parse_datetime(raw, convention, default_order=default_order)
        if parsed.note:
            report.date_columns[canonical] = parsed.note
            if "ambiguous" in parsed.note or "both" in parsed.note:
                report.warnings.append(
                    f'column {header!r}: dates {parsed.note} — set "dates" in a mapping file if that is wrong'
                )
        return _Column(parsed.values, parsed.bad, f"{canonical}: not a date in column {header!r}")
    if kind == "number":
        parsed = parse_number(raw, comma_hint=comma_hint)
        values, bad = parsed.values, parsed.bad
        reason = f"{canonical}: not a number in column {header!r}"
        huge = values.abs() > MAX_ABS_NUMBER
        if huge.any():
            bad = bad | huge
            values = values.where(~huge)
            reason = f"{canonical}: not a number (or implausibly large) in column {header!r}"
        if canonical in COUNT_COLUMNS.get(table, ()):
            negative = values < 0
            bad, values = bad | negative, values.where(~negative)
            reason = f"{canonical}: not a count ≥ 0 in column {header!r}"
        if table == "nps" and canonical == "score":
            outside = values.notna() & ((values < 0) | (values > 10) | (values != values.round()))
            bad, values = bad | outside, values.where(~outside)
            reason = f"score: not an NPS score 0–10 in column {header!r}"
        return _Column(values, bad, reason)
    if kind == "category":
        values, bad, seen = _normalize_category(table, canonical, raw, mapping, report.warnings, header)
        if seen:
            report.value_mappings[canonical] = seen
        return _Column(values, bad, f"{canonical}: value not recognized in column {header!r}")
    parsed = parse_text(raw, trimmed=trimmed)
    return _Column(parsed.values, parsed.bad, "")


def _parse_distinct(raw: pd.Series, parse: Callable[[pd.Series], _Column]) -> _Column:
    """`parse` (`_parse_column`) of a categorical column (a large file, `reader.DICTIONARY_BYTES`): each
    distinct value is parsed once and the result spread to the rows. Text stays categorical (`raw` itself when
    parsing changed no value); dates and numbers are dense."""
    categories = pa.array(raw.cat.categories.array)
    if isinstance(categories, pa.ChunkedArray):  # (categories held in chunks, none when there are none)
        categories = categories.combine_chunks()
    # the last one stands for the empty cells
    distinct = pd.Series(pd.array(pa.concat_arrays([categories, pa.nulls(1, categories.type)]), dtype="str"))
    col = parse(distinct)
    # a missing cell's code is -1, which indexes the last (empty) distinct value
    codes = raw.cat.codes.to_numpy()
    bad_value = col.bad.to_numpy(dtype=bool)
    bad = pd.Series(
        bad_value[codes] if bad_value.any() else np.zeros(len(codes), dtype=bool), index=raw.index, copy=False
    )
    if col.values.dtype == "str":
        parsed = pa.array(col.values.array)
        if parsed.null_count == 1 and parsed.slice(0, len(categories)).equals(categories):
            return _Column(raw, bad, col.reason)  # every value as it was: the same codes and categories
        value_codes, values = pd.factorize(col.values)  # trimming or synonyms can merge distinct values
        spread = pd.Categorical.from_codes(value_codes[codes], categories=pd.Index(values, dtype="str"))
        return _Column(pd.Series(spread, index=raw.index, copy=False), bad, col.reason)
    return _Column(pd.Series(col.values.to_numpy()[codes], index=raw.index, copy=False), bad, col.reason)


# ---------------------------------------------------------------------------------------------- one table


def _key_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """One key column as int64 codes ≥ 0 (equal values, equal codes; a missing value is 0) and their span.
    Categoricals give their codes, text is dictionary-encoded by Arrow, timestamps are their ticks (in whole
    seconds or milliseconds when every value is) from the earliest."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.add(values.cat.codes.to_numpy(), 1, dtype=np.int64), len(values.cat.categories) + 1
    if values.dtype.kind == "M":
        stamps = values.to_numpy()
        present = ~np.isnat(stamps)
        every = bool(present.all())
        ticks = stamps.view(np.int64) if every else stamps.view(np.int64)[present]
        if not len(ticks):
            return np.zeros(len(values), dtype=np.int64), 1
        step, lo, hi = _tick_scale(ticks)
        scaled = np.floor_divide(ticks, step) if step > 1 else ticks.copy()
        scaled -= lo - 1
        if every:
            return scaled, hi - lo + 2
        codes = np.zeros(len(values), dtype=np.int64)
        codes[present] = scaled
        return codes, hi - lo + 2
    if values.dtype == "str":
        cells = pa.array(values.array)
        numbered = _decimal_codes(cells)
        if numbered is not None:
            return numbered
        indices, dictionary = dictionary_codes(cells)
        return np.add(indices, 1, dtype=np.int64), len(dictionary) + 1
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64) + 1, len(uniques) + 1


def _tick_scale(ticks: np.ndarray) -> tuple[int, int, int]:
    """The unit `_key_codes` codes timestamps in (whole seconds or milliseconds when every tick is one, else
    microseconds) and the smallest and largest tick in it."""
    step = next((u for u in (1_000_000, 1_000) if _all_multiples(ticks, u)), 1)
    return step, int(ticks.min()) // step, int(ticks.max()) // step


def _all_multiples(ticks: np.ndarray, unit: int) -> bool:
    """Whether every tick is a multiple of `unit`, a slice at a time (no array of the whole column; the first
    slice with a tick that is not one ends the search). Divided and multiplied back rather than a remainder
    taken: numpy divides by one number fast, its remainder is not (21 M e-mail events: 0.016 s, not 0.05)."""
    rows = values_module.SLICE_ROWS
    scratch = np.empty(min(rows, len(ticks)), dtype=np.int64)
    for at in range(0, len(ticks), rows):
        part = ticks[at : at + rows]
        back = scratch[: len(part)]
        np.floor_divide(part, unit, out=back)
        back *= unit
        if not np.array_equal(back, part):
            return False
    return True


def _decimal_codes(cells: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int] | None:
    """`_key_codes` of text that is every value a plain decimal number (`values.plain_integers`: ids such as
    "433156"), coded by its value from the smallest: as exact as a dictionary at a fifth of the cost."""
    numbers = plain_integers(cells)
    if numbers is None:
        return None
    present = numbers >= 0
    every = bool(present.all())
    lo = int(numbers.min()) if every else int(numbers[present].min())
    hi = int(numbers.max())
    numbers -= lo - 1
    if not every:
        numbers[~present] = 0  # a missing value
    return numbers, hi - lo + 2


def _repeated_later(frame: pd.DataFrame, key: list[str], excluded: np.ndarray) -> np.ndarray:
    """Which rows of `frame` have their `key` repeated by a later row (the duplicates
    `DataFrame.duplicated(keep="last")` finds), the rows at positions `excluded` (rejected already) taking no
    part. The key's columns are packed into one int64 per row, after a first "column" that numbers the
    excluded rows 1…k (0 for the others), so that no key of theirs equals another; those with cheap codes come
    first (`_pack_rank`: the text last): when a sort finds no value repeated (most files), no key repeats and
    the search stops, before any text column is encoded. Only when keys repeat is a stable order taken, to find
    which row of each comes last.

    The sorts are numpy's stable one, which merges the runs already in order: an export listed by time (or
    lead by lead) packs its keys nearly in order with that column first, and is sorted in a few passes (21 M
    e-mail events: 0.14 s, against 1.4 s for the default quicksort, which ignores the order; 10 M score changes
    listed lead by lead: 0.01 s, against 0.6 s). In no order at all, both take the same."""
    cheap_first = sorted(key, key=lambda column: _pack_rank(frame[column]))
    repeated = np.zeros(len(frame), dtype=bool)
    packed, span = _excluded_numbers(len(frame), excluded)
    for column, after in zip(cheap_first, cheap_first[1:], strict=False):
        span = _pack(packed, span, frame[column])
        before_text = frame[column].dtype != "str" and frame[after].dtype == "str"
        # Before the text, only when the keys so far could well be distinct: when random keys in their span
        # would repeat a hundred times over, the sort would find repeats and the text be encoded anyway.
        if (
            before_text
            and len(frame) ** 2 <= 200 * span
            and not _any_repeated(np.sort(packed, kind="stable"))
        ):
            return repeated
    _pack(packed, span, frame[cheap_first[-1]])
    packed.sort(kind="stable")  # in place: the keys are packed again in the rare file where some repeat
    if not _any_repeated(packed):
        return repeated
    packed, span = _excluded_numbers(len(frame), excluded)
    for column in cheap_first:
        span = _pack(packed, span, frame[column])
    order = np.argsort(packed, kind="stable")  # file order within equal keys
    in_order = packed[order]
    repeated[order[:-1][in_order[1:] == in_order[:-1]]] = True  # every row of a run but its last
    return repeated


def _pack_rank(values: pd.Series) -> tuple[bool, int]:
    """Where a key column goes in `_repeated_later`'s packed keys: the text last (its codes cost the most),
    before it the column whose codes fall from one row to the next the fewest times first (the column the
    export is listed by: its time, or its lead when listed lead by lead), which packs the keys nearly in the
    order a sort puts them."""
    if values.dtype == "str":
        return True, 0
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
    else:
        codes = values.to_numpy()
        codes = codes.view(np.int64) if codes.dtype.kind == "M" else codes
    rows = values_module.SLICE_ROWS  # compared a slice at a time, into one small mask
    below = np.empty(min(rows, max(len(codes) - 1, 0)), dtype=bool)
    falls = 0
    for at in range(0, len(codes) - 1, rows):
        after = codes[at + 1 : at + 1 + rows]
        falls += int(np.count_nonzero(np.less(after, codes[at : at + len(after)], out=below[: len(after)])))
    return False, falls


def _excluded_numbers(rows: int, excluded: np.ndarray) -> tuple[np.ndarray, int]:
    """The first "column" of the packed keys: the excluded rows numbered 1…k, the others 0; and its span.
    Zeroed by writing: the pages of `np.zeros` are mapped to the kernel's zero page until written, so the first
    `packed *= size` would fault each twice, the second a copy-on-write that interrupts every core (4 % of the
    CPU time of ingesting a million leads' files in small pages, `lifecycle.memory`)."""
    packed = np.empty(rows, dtype=np.int64)
    packed.fill(0)
    packed[excluded] = np.arange(1, len(excluded) + 1)
    return packed, len(excluded) + 1


def _pack(packed: np.ndarray, span: int, values: pd.Series) -> int:
    """`packed` × the span of `values`' codes + their codes (`_key_codes`), in place; returns the new span.
    Categoricals, timestamps and text that is plain numbers (ids, `values.add_plain_integers`: coded by value,
    their span the powers of ten their digits reach) are added with no array of codes for the whole column.
    When the span would not fit an int64, the keys so far are numbered 0…k-1 first (and the column's codes
    too when still needed: both are then below the number of rows)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        size = len(values.cat.categories) + 1
        if span * size < 2**63:
            packed *= size
            packed += values.cat.codes.to_numpy()  # each code + 1, a missing value 0 (`_key_codes`)
            packed += 1
            return span * size
    if values.dtype.kind == "M":
        ticks = values.to_numpy().view(np.int64)
        if len(ticks) and not (ticks == np.iinfo(np.int64).min).any():  # (a missing time: `_key_codes`)
            step, lo, hi = _tick_scale(ticks)
            size = hi - lo + 2
            if span * size < 2**63:
                packed *= size
                rows = values_module.SLICE_ROWS
                for at in range(0, len(ticks), rows):
                    part = ticks[at : at + rows]
                    packed[at : at + rows] += (part // step if step > 1 else part) - (lo - 1)
                return span * size
    if values.dtype == "str":  # ids such as "433156": packed by their value, with no array of their codes
        cells = pa.array(values.array)
        width = plain_integer_width(cells)
        size = 0 if width is None else 10**width + 1
        if size and span * size < 2**63 and add_plain_integers(packed, cells, size):
            return span * size
    codes, size = _key_codes(values)
    if span * size >= 2**63:
        distinct, numbered = np.unique(packed, return_inverse=True)
        packed[:] = numbered
        span = len(distinct)
        if span * size >= 2**63:
            values_, codes = np.unique(codes, return_inverse=True)
            size = len(values_)
    packed *= size
    packed += codes
    return span * size


def _any_repeated(in_order: np.ndarray) -> bool:
    """Whether sorted `in_order` holds a value twice."""
    return bool((in_order[1:] == in_order[:-1]).any())


def _compact_columns(table: str, columns: Mapping[str, pd.Series]) -> list[str]:
    """The categorical columns of an event-level table (`workspace.COMPACT_TABLES`), kept categorical: every
    other table's text is str, as the schema says, whatever file size it came from."""
    if table not in workspace.COMPACT_TABLES:
        return []
    return [name for name, values in columns.items() if isinstance(values.dtype, pd.CategoricalDtype)]


def _default_order(raw: RawTable) -> str:
    return "dayfirst" if raw.delimiter == ";" else "monthfirst"


def ingest_raw(raw: RawTable, *, table: str | None = None, mapping: ColumnMapping | None = None) -> Ingested:
    """Map, parse and validate one raw table. Raises MappingError if its table cannot be determined."""
    if mapping is not None:
        detection: Detection = apply_mapping(raw.headers, mapping, raw.name)
    else:
        detection = detect_table(raw.headers, raw.name, forced=table)
    name = detection.table
    spec = TABLES[name]
    position = dict(zip(raw.headers, raw.positions, strict=True))
    report = IngestReport(
        file=raw.name,
        table=name,
        rows_read=len(raw.frame) + len(raw.bad_rows),
        rows_loaded=0,
        rows_rejected=0,
        rejected={},
        skipped_lines=raw.skipped_lines,
        columns=dict(detection.columns),
        dates="",
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        warnings=list(raw.warnings),
        skipped=raw.skipped[:20],
        sheet=raw.sheet,
    )
    for col, header in detection.fuzzy.items():
        report.warnings.append(f"column {header!r} matched to {col} approximately — check the mapping")
    used = set(detection.columns.values())
    report.unmapped_headers = [h for h in raw.headers if h not in used]

    frame = raw.frame
    n = len(frame)
    comma_hint = raw.delimiter == ";"
    out: dict[str, pd.Series] = {}
    reason_of = np.zeros(n, dtype=np.int32)  # each row's first reason, an index into reason_texts; 0 = none
    reason_texts: list[str] = [""]
    culprits: list[tuple[np.ndarray, np.ndarray]] = []  # rejected rows and the raw cells quoted in the reason

    def reject(mask: pd.Series | np.ndarray | None, reason: str, cells: pd.Series | None = None) -> None:
        if mask is None:  # nothing to reject (`values.missing_mask`)
            return
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():  # most columns of most files: nothing to reject, nothing more to compute
            return
        fresh = mask & (reason_of == 0)
        if fresh.any():
            reason_texts.append(reason)
            reason_of[fresh] = len(reason_texts) - 1
            if cells is not None:  # only the rejected cells are spelled out (a column may be categorical)
                culprits.append((np.flatnonzero(fresh), cell_texts(cells[fresh]).astype(object).to_numpy()))

    for canonical in spec.column_names:
        if canonical in detection.columns:
            header = detection.columns[canonical]
            col = _parse_column(
                name,
                canonical,
                frame[position[header]],
                header,
                mapping,
                _default_order(raw),
                comma_hint,
                report,
                trimmed=raw.trimmed,
            )
            reject(col.bad, col.reason, frame[position[header]])
            out[canonical] = col.values
        elif mapping is not None and canonical in mapping.defaults:
            const = pd.Series([mapping.defaults[canonical]] * n, index=frame.index, dtype="str")
            col = _parse_column(
                name, canonical, const, f"default {canonical}", mapping, "monthfirst", False, report
            )
            out[canonical] = col.values
    for canonical in spec.required:
        if canonical in out:
            source = detection.columns.get(canonical, "default")
            reject(missing_mask(out[canonical]), f"{canonical}: missing (column {source!r} is empty)")
    for group in spec.one_of:
        present = [out[c] for c in group if c in out]
        if present:
            none = np.logical_and.reduce([p.isna().to_numpy() for p in present])
            reject(pd.Series(none, index=frame.index, copy=False), f"{' / '.join(group)}: all empty")

    result = coerce_frame(name, frame_of(out, frame.index), categorical=_compact_columns(name, out))
    # Duplicate keys inside the file: the last row wins; earlier ones are rejected with the reason.
    key = [k for k in spec.key if k in result.columns]
    repeated = np.zeros(n, dtype=bool)
    if key:
        repeated = _repeated_later(result, key, np.flatnonzero(reason_of))
    if repeated.any():
        key_label = "/".join(key)
        reject(repeated, f"duplicate {key_label}: a later row in this file replaces it")
        report.duplicates = int(repeated.sum())
        report.warnings.append(
            f"{report.duplicates} row(s) repeat the {key_label} of a later row; the later row is kept"
        )

    loaded = reason_of == 0
    rejected_at = np.flatnonzero(~loaded)
    culprit = np.full(len(rejected_at), None, dtype=object)
    for rows, cells in culprits:
        culprit[np.searchsorted(rejected_at, rows)] = cells
    kinds = np.array(reason_texts, dtype=object)[reason_of[rejected_at]]
    rejected_rows = _rejected_frame(raw, loaded, kinds, culprit)
    report.rows_loaded = int(loaded.sum())
    report.rows_rejected = len(rejected_rows)
    report.rejected = {str(k): int(v) for k, v in rejected_rows["reason_kind"].value_counts().items()}
    rejected_rows = rejected_rows.drop(columns="reason_kind")
    report.dates = _dates_summary(report.date_columns)
    assert report.rows_read == report.rows_loaded + report.rows_rejected
    kept = result if loaded.all() else result[loaded]  # no copy of a file whose every row loads
    return Ingested(name, kept.reset_index(drop=True), report, rejected_rows)


def _rejected_frame(
    raw: RawTable, loaded: np.ndarray, kinds: np.ndarray, culprit: np.ndarray
) -> pd.DataFrame:
    """The rows not `loaded` (with their reasons `kinds` and the cells they quote, `culprit`, None when none),
    then the lines the reader could not split, as the rejected-rows download lists them."""
    rejected_at = np.flatnonzero(~loaded)
    bad = take_rows(raw.frame, rejected_at)  # a take of the few rejected rows, not a filter of every column
    parts = []
    if len(bad):
        cells = pd.DataFrame({p: cell_texts(bad[p]) for p in bad.columns}, index=bad.index)
        cells.columns = raw.headers
        kind = pd.Series(kinds, index=bad.index, dtype=str)
        value = pd.Series(culprit, index=bad.index, dtype=object)
        # The reason a user reads quotes the offending value; the report's summary counts by kind.
        quoted = "'" + value.astype(str).str.slice(0, 80) + "'"
        detail = kind.where(value.isna(), kind + ": " + quoted)
        parts.append(
            pd.concat(
                [
                    pd.DataFrame(
                        {
                            "row": pd.array(raw.rows[rejected_at], dtype="Int64"),
                            "reason": detail,
                            "reason_kind": kind,
                        },
                        index=bad.index,
                    ),
                    cells,
                ],
                axis=1,
            )
        )
    if raw.bad_rows:
        parts.append(
            pd.DataFrame(
                {
                    "row": pd.array([b.line for b in raw.bad_rows], dtype="Int64"),
                    "reason": [f"{b.reason}: {b.text[:200]!r}" for b in raw.bad_rows],
                    "reason_kind": ["wrong number of fields in the row"] * len(raw.bad_rows),
                }
            )
        )
    if not parts:
        return pd.DataFrame({"row": pd.array([], dtype="Int64"), "reason": [], "reason_kind": []})
    return pd.concat(parts, ignore_index=True)


def _dates_summary(date_columns: dict[str, str]) -> str:
    conventions = {note.split(";")[0] for note in date_columns.values()}
    if not conventions:
        return ""
    return ", ".join(sorted(conventions))


# ---------------------------------------------------------------------------------------------- files


def read_export(
    data: bytes, name: str, *, table: str | None = None, mapping: ColumnMapping | None = None
) -> list[Ingested]:
    """Every table in one export (a zip or workbook may hold several). Raises IngestError with a message
    naming the file, what was seen and how to map it, when nothing in it can be read as a table."""
    try:
        raws = read_raw(data, name, timestamps=mapping is None)  # a mapping may read the times otherwise
    except ReadError as exc:
        raise IngestError(str(exc)) from exc
    del data  # a large export's bytes are not kept while its rows are parsed
    return _ingest_tables(raws, table=table, mapping=mapping)


def _ingest_tables(
    raws: list[RawTable], *, table: str | None, mapping: ColumnMapping | None
) -> list[Ingested]:
    results: list[Ingested] = []
    errors: list[str] = []
    while raws:
        raw = raws.pop(0)  # each raw table is let go once its rows are parsed
        try:
            results.append(ingest_raw(raw, table=table, mapping=mapping))
        except MappingError as exc:
            errors.append(str(exc))
        del raw
        pa.default_memory_pool().release_unused()  # give the freed text back to the system before the next table
    if not results:
        raise IngestError(" / ".join(errors))
    for err in errors:  # a workbook sheet or archive member that holds no table: said, not hidden
        results[0].report.warnings.append(f"not ingested: {err}")
    return results


def read_export_file(
    path: str | os.PathLike[str], *, table: str | None = None, mapping: ColumnMapping | None = None
) -> list[Ingested]:
    """`read_export` of a file on disk; a plain text export is parsed as it is read (`reader.read_raw_file`)."""
    path = Path(path)
    try:
        raws = read_raw_file(path, timestamps=mapping is None)
    except ReadError as exc:
        raise IngestError(str(exc)) from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror})") from exc
    return _ingest_tables(raws, table=table, mapping=mapping)


def combine_tables(
    results: list[Ingested], existing: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """Tables after adding `results` to `existing`, merged by key: a later file's row replaces an earlier
    one's (counted in each report's `replaced`). Tables without new results are returned unchanged."""
    tables = dict(existing or {})
    for item in results:
        spec = TABLES[item.table]
        key = [k for k in spec.key if k in item.frame.columns]
        if item.table in tables:
            combined = pd.concat([tables[item.table], item.frame], ignore_index=True)
            merged = combined.drop_duplicates(subset=key, keep="last")
            item.report.replaced = len(combined) - len(merged)
            merged = merged.sort_values(key[0], kind="stable")
        else:  # one file: its rows in the file's order (`ingest_raw` already kept one row per key)
            merged = item.frame
        if item.report.replaced:
            item.report.warnings.append(
                f"{item.report.replaced} row(s) replace rows with the same {'/'.join(key)} loaded before"
            )
        tables[item.table] = _table_of(item.table, merged)
    return tables


def _table_of(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as `combine_tables` stores table `table`."""
    return coerce_frame(table, frame.reset_index(drop=True), categorical=_compact_columns(table, frame))


def merge_into_workspace(
    folder: str | os.PathLike[str], results: list[Ingested], *, written: Mapping[int, list[str]] | None = None
) -> None:
    """Merge ingested tables into the workspace folder by key (see `combine_tables`), all tables and the
    manifest committed at once: a failure half-way leaves the previous workspace readable and unchanged.
    `written` names the files already written for a result (by its position in `results`) with
    `workspace.write_table_file(folder, item.table, _table_of(item.table, item.frame))`: it is used when that
    result alone makes its table (no other result and no table in the workspace to merge with)."""
    changed_names = sorted({item.table for item in results})
    existing = workspace.load_tables(folder, only=changed_names) if Path(folder).is_dir() else {}
    tables = combine_tables(results, existing)
    changed = {name: tables[name] for name in changed_names}
    makers = {name: [i for i, item in enumerate(results) if item.table == name] for name in changed_names}
    written = written or {}
    ready = {
        name: written[made[0]]
        for name, made in makers.items()
        if len(made) == 1 and name not in existing and made[0] in written
    }
    workspace.commit(folder, changed, [item.report.to_dict() for item in results], written=ready)


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # read_export_file says why


def ingest_files(
    paths: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    table: str | None = None,
    mapping: ColumnMapping | None = None,
) -> tuple[list[Ingested], list[str]]:
    """Read every file and merge what was recognized into the workspace `out`; returns results and errors
    (both in the order of `paths`).

    Two files are read at a time, the largest first: after Arrow's parse (on every core, one file's at a time:
    `reader._PARSING`) most of a file's ingest runs on one core, and the next files are read on the other
    meanwhile. A table the workspace does not hold yet is written as soon as its file is read, while the other
    files are: kept when no other file brings the same table (else merged with it and written again at the end;
    the early file is then removed). An ingest that fails removes the early files and a folder it created: the
    workspace is as it was."""
    folder = Path(out)
    created = not folder.exists()
    held = set(workspace.table_files(folder)) if folder.is_dir() else set()
    early: list[str] = []  # the files written as their tables were read

    def read(path: str | os.PathLike[str]) -> list[tuple[Ingested, list[str] | None]] | str:
        try:
            items = read_export_file(path, table=table, mapping=mapping)
        except IngestError as exc:
            return str(exc)
        out_items: list[tuple[Ingested, list[str] | None]] = []
        for item in items:
            files = None
            if item.table not in held:
                files = workspace.write_table_file(folder, item.table, _table_of(item.table, item.frame))
                early.extend(files)
            out_items.append((item, files))
        return out_items

    try:
        return _read_and_merge(paths, folder, read)
    except BaseException:
        # Nothing of a failed ingest stays: the early files the manifest does not list, and a folder it created.
        tables = workspace.read_manifest(folder).get("tables", {}) if folder.is_dir() else {}
        listed = workspace.every_listed_file(tables)
        for file in early:
            if file not in listed:
                (folder / file).unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        raise
    finally:
        release_freed_memory()  # what the ingest kept for itself (lifecycle.memory)


def _read_and_merge(
    paths: list[str | os.PathLike[str]],
    folder: Path,
    read: Callable[[str | os.PathLike[str]], list[tuple[Ingested, list[str] | None]] | str],
) -> tuple[list[Ingested], list[str]]:
    """`ingest_files` once its reader is set: two files at a time, largest first, then the merge."""
    largest_first = sorted(range(len(paths)), key=lambda i: _size(paths[i]), reverse=True)
    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(largest_first, pool.map(read, [paths[i] for i in largest_first]), strict=True))
    results: list[Ingested] = []
    written: dict[int, list[str]] = {}
    errors: list[str] = []
    for i in range(len(paths)):
        outcome = done[i]
        if isinstance(outcome, str):
            errors.append(outcome)
            continue
        for item, files in outcome:
            if files is not None:
                written[len(results)] = files
            results.append(item)
    if results:
        merge_into_workspace(folder, results, written=written)
    pa.default_memory_pool().release_unused()  # what writing the tables used, given back before the facts
    return results, errors
