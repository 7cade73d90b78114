"""A workspace: a folder of canonical tables as Parquet plus a manifest (`workspace.json`).

Writes are atomic for the whole workspace: new table versions are written to fresh files first, then the
manifest — the single source of which file holds which table — is replaced in one `os.replace`. An ingest that
fails or is killed half-way leaves the previous manifest, and so the previous workspace, readable and unchanged;
files it left behind are never referenced and are removed by the next successful write.
A folder without a manifest but with `<table>.parquet` files (written by hand or by another tool) also loads.
A table of many rows is written in parts, one Parquet file each, on all cores at once (`PART_ROWS`); the
manifest lists its files in order.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lifecycle.schema import TABLES, coerce_frame, frame_of
from lifecycle.values import categorical_of, cell_offsets, missing_mask

Tables = Mapping[str, pd.DataFrame]
"""Canonical tables by name; a table that was never loaded is absent (not an empty frame)."""

MANIFEST = "workspace.json"
_VERSIONED = re.compile(r"^(?P<table>[a-z_]+)-[0-9a-f]{12}\.parquet$")


def table_path(folder: str | os.PathLike[str], table: str) -> Path:
    """The plain `<table>.parquet` path (workspaces written by hand or by other tools)."""
    return Path(folder) / f"{table}.parquet"


def table_files(folder: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The Parquet files of each table present in the workspace, as the manifest lists them: one, or the parts
    of a large table in order."""
    folder = Path(folder)
    listed = read_manifest(folder).get("tables", {})
    files: dict[str, list[Path]] = {}
    for name in TABLES:
        if name in listed:
            parts = [folder / file for file in listed_files(listed[name])]
            if parts and all(part.exists() for part in parts):
                files[name] = parts
        elif table_path(folder, name).exists():
            files[name] = [table_path(folder, name)]
    return files


def listed_files(entry: str | list[str]) -> list[str]:
    """The file names a manifest entry lists: a table's one file (a name), or its parts (a list)."""
    return [entry] if isinstance(entry, str) else list(entry)


def every_listed_file(tables: Mapping[str, str | list[str]]) -> set[str]:
    """The file names of every table the manifest's `tables` list, parts included."""
    return {file for entry in tables.values() for file in listed_files(entry)}


def manifest_entry(files: list[str]) -> str | list[str]:
    """A table's files as the manifest lists them: one file by its name, parts as a list (`listed_files`)."""
    return files[0] if len(files) == 1 else list(files)


COMPACT_TABLES = ("email_events", "score_changes")
"""The event-level tables: tens of millions of rows whose text repeats (a few thousand recipients' ids, a few
dozen emails, programs, reasons). `load_tables(compact=True)` reads their text columns as categoricals."""


def load_tables(
    folder: str | os.PathLike[str], *, compact: bool = False, only: Collection[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Read every canonical table present in `folder` (missing tables are simply absent), or those of them
    named in `only`. With `compact`, the text columns of `COMPACT_TABLES` are categoricals (about a tenth of
    the memory of strings) instead of str; their values are the same."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"workspace folder {str(folder)!r} does not exist")
    return {
        name: _read_table(name, paths, compact)
        for name, paths in table_files(folder).items()
        if only is None or name in only
    }


def _read_table(name: str, paths: list[Path], compact: bool) -> pd.DataFrame:
    if not compact or name not in COMPACT_TABLES:
        if len(paths) == 1:
            return coerce_frame(name, pd.read_parquet(paths[0]))
        return coerce_frame(name, pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True))
    text = [c.name for c in TABLES[name].columns if c.dtype == "str"]
    metas = [pq.read_metadata(path) for path in paths]
    present = [c for c in text if c in metas[0].schema.to_arrow_schema().names]
    stored_as_codes = [c for c in present if all(_has_dictionary_pages(meta, c) for meta in metas)]
    table = pa.concat_tables([pq.read_table(path, read_dictionary=stored_as_codes) for path in paths])
    columns = {}
    for column in table.column_names:
        cells = table.column(column)
        if column in present and not _few_codes(cells):
            # Each row group's own dictionary of a mostly distinct column (ids): pandas would unify a million
            # values per row group (7 s for 21 M recipients); one encoding of the values is cheaper.
            columns[column] = categorical_of(cells.cast(pa.large_string()))
        else:
            columns[column] = cells.to_pandas()
        del cells
    del table
    rows = sum(meta.num_rows for meta in metas)
    return coerce_frame(name, frame_of(columns, pd.RangeIndex(rows)), categorical=present)


def _has_dictionary_pages(meta: pq.FileMetaData, column: str) -> bool:
    """Whether every row group of a Parquet file stores `column` as dictionary codes."""
    position = next(i for i in range(meta.num_columns) if meta.schema.column(i).name == column)
    return all(meta.row_group(g).column(position).has_dictionary_page for g in range(meta.num_row_groups))


FEW_CATEGORIES = 1 << 16
"""Categories a text column of an event table may have to be written, and read back, as Parquet dictionary
codes; a column with more (ids) is written plain and encoded once when read."""


def _few_codes(cells: pa.ChunkedArray) -> bool:
    """Whether `cells` are dictionary-encoded with small dictionaries (each row group's, added up)."""
    return (
        pa.types.is_dictionary(cells.type) and sum(len(c.dictionary) for c in cells.chunks) <= FEW_CATEGORIES
    )


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PART_ROWS = 8_000_000
"""A table of this many rows or more is written in parts of at least as many rows, at most one per core, all at
once: Parquet encodes a file on one core, and an event table of 20 M rows took 2 s to write as one file."""


def _parts(rows: int) -> int:
    return max(1, min(os.cpu_count() or 1, rows // PART_ROWS))


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """`pa.Table.from_pandas(frame, preserve_index=False)`, the same table and schema (pandas' metadata
    included), with a categorical's codes and a datetime column's ticks wrapped as they are: no mask is made of
    a column without a missing value and no code is checked against its categories (pandas made them). 21 M
    e-mail events: 0.06 CPU-seconds instead of 0.19."""
    schema = pa.Table.from_pandas(frame.iloc[:0], preserve_index=False).schema
    if any(pa.types.is_null(field.type) for field in schema):  # no type without rows (an object column …)
        return pa.Table.from_pandas(frame, preserve_index=False)
    arrays = []
    for field, column in zip(schema, frame.columns, strict=True):
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype) and pa.types.is_dictionary(field.type):
            indices = pa.array(values.cat.codes.to_numpy(), mask=missing_mask(values))
            dictionary = pa.array(values.cat.categories.array).cast(field.type.value_type)
            arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary, safe=False))
        elif (
            isinstance(values.dtype, np.dtype)
            and values.dtype.kind == "M"
            and pa.types.is_timestamp(field.type)
            and field.type.tz is None
            and np.datetime_data(values.dtype)[0] == field.type.unit
        ):
            ticks_array = pa.array(values.to_numpy().view(np.int64), mask=missing_mask(values))
            arrays.append(ticks_array.view(field.type))
        else:
            arrays.append(pa.Table.from_pandas(frame[[column]], preserve_index=False).column(0))
    return pa.Table.from_arrays(arrays, schema=schema)


def _required_where_complete(table: pa.Table) -> pa.Table:
    """`table` with each column that has no missing value marked required: Parquet then stores no definition
    levels for it (21 M e-mail events took 1.5–1.6 CPU-seconds to encode instead of 1.6–1.9)."""
    fields = [field.with_nullable(table.column(i).null_count > 0) for i, field in enumerate(table.schema)]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def write_table_file(folder: str | os.PathLike[str], name: str, frame: pd.DataFrame) -> list[str]:
    """Write `frame` as a new version of table `name` in `folder` (in parts, `PART_ROWS`) and return its file
    names in order. The manifest does not list them until `commit` is given them (`written`); an unlisted
    version is removed by the next commit. A write that fails leaves no file."""
    compact = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    clean = coerce_frame(name, frame, categorical=compact).reset_index(drop=True)
    table = _required_where_complete(arrow_table(clean))
    options = {
        "use_dictionary": _dictionary_columns(clean),
        "write_statistics": _statistics_columns(clean),
        "write_batch_size": WRITE_BATCH_ROWS,
        **_encodings(clean),
    }
    parts = _parts(table.num_rows)
    rows = -(-table.num_rows // parts)
    filenames = [f"{name}-{uuid.uuid4().hex[:12]}.parquet" for _ in range(parts)]

    def write(part: int) -> None:
        piece = table.slice(part * rows, rows)
        _atomic_write(Path(folder) / filenames[part], lambda tmp: pq.write_table(piece, tmp, **options))

    try:
        if parts == 1:
            write(0)
        else:
            with ThreadPoolExecutor(parts) as pool:
                list(pool.map(write, range(parts)))
    except BaseException:
        for filename in filenames:
            (Path(folder) / filename).unlink(missing_ok=True)
        raise
    return filenames


def commit(
    folder: str | os.PathLike[str],
    tables: Tables,
    file_reports: list[dict] | None = None,
    *,
    written: Mapping[str, list[str]] | None = None,
) -> None:
    """Replace the given tables (others stay) and append `file_reports` to the manifest, all or nothing. A
    table named in `written` is already in the folder under those file names (`write_table_file`)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed = dict(manifest.get("tables", {}))
    ready = {name: file for name, file in (written or {}).items() if name in tables}
    # Largest first, two at a time: Parquet encoding runs outside the GIL, and a large event table is written
    # while the others are.
    to_write = sorted(
        (name for name in tables if name not in ready),
        key=lambda name: -len(tables[name]) * len(tables[name].columns),
    )
    with ThreadPoolExecutor(2) as pool:
        files = pool.map(lambda name: write_table_file(folder, name, tables[name]), to_write)
        ready.update(zip(to_write, files, strict=True))
    listed.update({name: manifest_entry(files) for name, files in ready.items()})
    for name in TABLES:  # plain <table>.parquet files stay in use until a versioned file replaces them
        if name not in listed and table_path(folder, name).exists():
            listed[name] = table_path(folder, name).name
    manifest["tables"] = listed
    manifest["files"] = manifest.get("files", []) + list(file_reports or [])
    write_manifest(folder, manifest)  # the commit point
    _remove_unreferenced(folder, every_listed_file(listed))


WRITE_BATCH_ROWS = 1 << 16
"""Values Parquet's writer takes from a column at a time (its default: 1024): the same values in pages of about the
same size (a page ends at the first batch past `data_page_size`), 4–5 % less time writing 21 M e-mail events or
10 M score changes."""

PLAIN_FROM_ROWS = 1_000_000
"""Rows from which a table's columns are written without Parquet's dictionary encoding, except categoricals of
few categories (`_dictionary_columns`)."""


def _dictionary_columns(frame: pd.DataFrame) -> list[str]:
    """The columns written dictionary-encoded: categoricals of at most `FEW_CATEGORIES` (their codes are
    written as they are) and, in a table under `PLAIN_FROM_ROWS` rows, every column (Parquet's default).
    A large table's other columns — timestamps, amounts, ids — are mostly distinct: encoding them would hash
    every value for little gain (a third of the time it takes to write an event table)."""
    small = len(frame) < PLAIN_FROM_ROWS
    return [
        str(column)
        for column in frame.columns
        if small
        or (
            isinstance(frame[column].dtype, pd.CategoricalDtype)
            and len(frame[column].cat.categories) <= FEW_CATEGORIES
        )
    ]


def _statistics_columns(frame: pd.DataFrame) -> bool | list[str]:
    """The columns written with min/max statistics: in a table under `PLAIN_FROM_ROWS` rows every column
    (Parquet's default), in a larger one the dates, timestamps and numbers, the ranges a reader such as
    DuckDB prunes row groups on. The statistics of a large table's text and categoricals (string comparisons
    of every value) took a quarter of the time it took to write an event table, and nothing reads them."""
    if len(frame) < PLAIN_FROM_ROWS:
        return True
    return [str(column) for column in frame.columns if frame[column].dtype.kind in "Mmfiub"]


def _encodings(frame: pd.DataFrame) -> dict[str, Any]:
    """How a table of `PLAIN_FROM_ROWS` rows or more writes its timestamps and numbers and, from `PART_ROWS` rows
    (an event table), its short text columns that are not categoricals; its other columns with snappy, Parquet's
    default. Nothing for a smaller table (Parquet's defaults).

    Timestamps: delta-encoded (DELTA_BINARY_PACKED, the differences between neighbouring times bit-packed) and
    not compressed. For 21 M e-mail events' times: 45 MB instead of 68, read back in 0.03 s instead of 0.17, and
    0.16 CPU-seconds to write instead of 0.22 (10 M score changes': 52 MB instead of 64, 0.02 s instead of
    0.08, 0.12 CPU-s instead of 0.24). Snappy on top of the deltas would make them 18 MB and 41 MB, for 30–50 %
    more time to write and up to twice the time to read.

    An event table's short text that is not categorical — ids mostly distinct from row to row (the reader made
    a categorical of every column whose values repeat, `reader.DISTINCT_SHARE`), such as the e-mail events'
    recipients — plain and not compressed: for 21 M recipients' ids 0.15 CPU-seconds to write instead of 0.52,
    read back in 0.22 CPU-s instead of 0.62, 213 MB instead of 95 (LZ4 and zstd took as long as snappy, the
    delta encodings of text longer still). Longer text (`SHORT_TEXT_BYTES`; e-mail addresses, names), which
    snappy shrinks more for its time, keeps it.

    Numbers (float64): their bytes split into eight streams (BYTE_STREAM_SPLIT: the first byte of every value,
    then the second …), which snappy then shrinks. 10 M score changes' delta and score columns: written in 0.14 s
    instead of 0.195, 21 MB instead of 30, read back in 0.08 s instead of 0.07."""
    if len(frame) < PLAIN_FROM_ROWS:
        return {}
    times = {str(c) for c in frame.columns if frame[c].dtype.kind == "M"}
    numbers = {str(c) for c in frame.columns if frame[c].dtype.kind == "f"}
    ids = {str(c) for c in frame.columns if _short_text(frame[c])} if len(frame) >= PART_ROWS else set()
    if not times | numbers | ids:
        return {}
    encoding = {**dict.fromkeys(times, "DELTA_BINARY_PACKED"), **dict.fromkeys(numbers, "BYTE_STREAM_SPLIT")}
    return {
        **({"column_encoding": dict(sorted(encoding.items()))} if encoding else {}),
        "compression": {str(c): "none" if str(c) in times | ids else "snappy" for c in frame.columns},
    }


SHORT_TEXT_BYTES = 8
"""The average bytes per present cell up to which an event table's text is written uncompressed (`_encodings`)."""


def _short_text(values: pd.Series) -> bool:
    """Whether `values` is text (not categorical) of at most `SHORT_TEXT_BYTES` per present cell on average,
    read from its Arrow offsets (no pass over the cells)."""
    if values.dtype != "str":
        return False
    cells = pa.array(values.array)
    size = present = 0
    for chunk in cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return False
        if not len(chunk):
            continue
        offsets = cell_offsets(chunk)
        size += int(offsets[-1] - offsets[0])
        present += len(chunk) - chunk.null_count
    return size <= SHORT_TEXT_BYTES * max(present, 1)


def _remove_unreferenced(folder: Path, referenced: set[str]) -> None:
    for path in folder.iterdir():
        stale_version = _VERSIONED.match(path.name) and path.name not in referenced
        stale_plain = path.suffix == ".parquet" and path.stem in TABLES and path.name not in referenced
        stale_tmp = path.name.startswith(".") and path.name.endswith(".tmp")
        if stale_version or stale_plain or stale_tmp:
            path.unlink(missing_ok=True)


def save_table(folder: str | os.PathLike[str], table: str, frame: pd.DataFrame) -> None:
    """Write one canonical table atomically (replaces the previous version of that table)."""
    commit(folder, {table: frame})


def read_manifest(folder: str | os.PathLike[str]) -> dict:
    """The manifest: `tables` {table: file} and `files` (the ingest report of every file read)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {"files": []}
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(folder: str | os.PathLike[str], manifest: dict) -> None:
    """Replace the manifest atomically."""
    text = json.dumps(manifest, indent=2, default=str)
    _atomic_write(Path(folder) / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
