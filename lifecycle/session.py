"""What the explorer app holds for one user: the loaded files, the tables built from them, and the selection.

No Streamlit here: the app keeps a `Workspace` in its session state, asks this module to build the tables
(the app caches the result on the files' content hash), and parses / writes the selection (month, channel,
comparison) from / to the URL query parameters so a link reproduces a view.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from lifecycle.ingest import Ingested, combine_tables, read_export
from lifecycle.mapping import ColumnMapping
from lifecycle.schema import TABLES
from lifecycle.workspace import read_manifest, table_files

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
SAMPLE_DIR_ENV = "LIFECYCLE_SAMPLE_DIR"
"""Environment variable pointing the app at another sample folder (tests use a small one)."""
DATA_DIR_ENV = "LIFECYCLE_DATA"
"""A workspace folder (written by `python -m lifecycle ingest`) the app opens instead of the sample company;
also `streamlit run app.py -- --data DIR`."""
EXPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".zip", ".gz")

COMPARISONS: dict[str, str] = {"mom": "previous month", "yoy": "same month last year"}
ALL_CHANNELS = "All"

# The date column that places a row of each table in time (for the "date range" of the loaded data).
TABLE_DATES: dict[str, str] = {
    "leads": "created_at",
    "lead_stages": "entered_at",
    "email_events": "at",
    "email_sends": "sent_at",
    "score_changes": "at",
    "spend": "date",
    "deals": "created_at",
    "customers": "started_at",
    "nps": "responded_at",
    "web_traffic": "date",
}


# ---------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class LoadedFile:
    """One file of the workspace: its bytes, content digest, and the user's table / mapping override."""

    name: str
    data: bytes = field(repr=False)
    digest: str
    table: str | None = None
    mapping: dict | None = None
    """A SPEC §4 mapping-file dict applied when reading this file (None: automatic detection)."""

    @property
    def key(self) -> str:
        """Content, name and mapping key: equal keys give equal ingest results. The name is part of it
        because it selects the format (.tsv, .zip …) and is written into the report, which another session
        uploading the same bytes under another name must not see."""
        spec = json.dumps({"n": self.name, "t": self.table, "m": self.mapping}, sort_keys=True)
        return f"{self.digest}:{hashlib.sha256(spec.encode()).hexdigest()[:16]}"


def content_digest(data: bytes) -> str:
    """SHA-256 of a file's bytes (the cache key of everything built from it)."""
    return hashlib.sha256(data).hexdigest()


def loaded_file(name: str, data: bytes, table: str | None = None, mapping: dict | None = None) -> LoadedFile:
    """A workspace file from an upload's name and bytes."""
    return LoadedFile(name, data, content_digest(data), table, mapping)


@dataclass(frozen=True)
class Workspace:
    """The files one user works on: the sample company (`source="sample"`), their own uploads, or a workspace
    folder the app was started on (`source="folder"`, `folder` set: tables already ingested, no files)."""

    source: str = "sample"
    files: tuple[LoadedFile, ...] = ()
    folder: str | None = None

    @property
    def key(self) -> str:
        """Fingerprint of the workspace content (source, files, mappings; a folder's table files), for caching
        derived results."""
        parts = [self.source, *(f.key for f in self.files)]
        if self.folder is not None:
            parts += [self.folder, json.dumps(read_manifest(self.folder).get("tables", {}), sort_keys=True)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def with_file(self, item: LoadedFile) -> Workspace:
        """The workspace with `item` added (a file with the same name and content is replaced); the first
        upload replaces the sample company rather than mixing with it."""
        files = self.files if self.source == "uploads" else ()
        kept = tuple(f for f in files if not (f.name == item.name and f.digest == item.digest))
        return Workspace("uploads", (*kept, item))

    def without(self, index: int) -> Workspace:
        """The workspace without its `index`-th file."""
        return Workspace("uploads", self.files[:index] + self.files[index + 1 :])

    def remapped(self, index: int, table: str | None, mapping: dict | None) -> Workspace:
        """The workspace with the `index`-th file read as `table` with `mapping`."""
        files = list(self.files)
        files[index] = replace(files[index], table=table, mapping=mapping)
        return Workspace(self.source, tuple(files))


def sample_dir() -> Path:
    """The folder of the sample company's exports (data/sample/, or $LIFECYCLE_SAMPLE_DIR)."""
    return Path(os.environ.get(SAMPLE_DIR_ENV) or SAMPLE_DIR)


def data_dir(argv: list[str] | None = None) -> Path | None:
    """The workspace folder the app was started on: `--data DIR` after `streamlit run app.py --`, else
    $LIFECYCLE_DATA, else None (the sample company)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    chosen = known.data or os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else None


def default_workspace() -> Workspace:
    """What a new session starts on: the workspace folder given at start-up, else the sample company."""
    folder = data_dir()
    return Workspace("folder", (), str(folder)) if folder is not None else sample_workspace()


def folder_status(folder: str | os.PathLike[str], months: list[str]) -> DataStatus:
    """Rows per table of a workspace folder (from the Parquet footers: no table is read) and its months."""
    rows = {
        name: sum(pq.read_metadata(path).num_rows for path in paths)
        for name, paths in table_files(folder).items()
    }
    first = pd.Timestamp(months[0]) if months else None
    last = pd.Timestamp(months[-1]) if months else None
    return DataStatus("folder", 0, rows, first, last, Path(folder).name)


def sample_workspace(folder: Path | None = None) -> Workspace:
    """The sample company's export files as a workspace (empty when the folder does not exist)."""
    folder = folder or sample_dir()
    if not folder.is_dir():
        return Workspace("sample", ())
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(EXPORT_SUFFIXES))
    return Workspace("sample", tuple(loaded_file(p.name, p.read_bytes()) for p in paths))


def read_file(item: LoadedFile) -> list[Ingested]:
    """Ingest one workspace file with its table / mapping override (raises IngestError or MappingError)."""
    mapping = ColumnMapping.from_dict(item.mapping) if item.mapping else None
    table = mapping.table if mapping else item.table
    return read_export(item.data, item.name, table=table, mapping=mapping)


def build_tables(results: list[list[Ingested]]) -> dict[str, pd.DataFrame]:
    """Canonical tables of a workspace from each file's ingest results, merged by key in file order."""
    return combine_tables([item for file_results in results for item in file_results])


# ---------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class DataStatus:
    """What is loaded, for the sidebar: source, files, rows per table, date range."""

    source: str
    files: int
    rows: dict[str, int]
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    folder: str | None = None
    """The workspace folder's name (source "folder")."""

    @property
    def empty(self) -> bool:
        return not self.rows

    def source_label(self) -> str:
        """'Sample company', 'Workspace acme' or 'Your uploads (3 files)'."""
        if self.source == "sample":
            return "Sample company"
        if self.source == "folder":
            return f"Workspace {self.folder}"
        if not self.files:
            return "Empty workspace"
        return f"Your uploads ({self.files} file{'s' if self.files != 1 else ''})"

    def range_label(self) -> str:
        """The loaded date range as 'Nov 2024 – Oct 2026', or 'no dated rows'."""
        if self.first is None or self.last is None:
            return "no dated rows"
        first, last = f"{self.first:%b %Y}", f"{self.last:%b %Y}"
        return first if first == last else f"{first} – {last}"


def data_status(tables: Mapping[str, pd.DataFrame], source: str, files: int) -> DataStatus:
    """Rows per loaded table and the span of their dates."""
    rows = {name: len(tables[name]) for name in TABLES if name in tables}
    firsts, lasts = [], []
    for name, col in TABLE_DATES.items():
        if name in tables and col in tables[name].columns:
            dates = tables[name][col].dropna()
            if len(dates):
                firsts.append(dates.min())
                lasts.append(dates.max())
    return DataStatus(source, files, rows, min(firsts) if firsts else None, max(lasts) if lasts else None)


# ---------------------------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """The view: month (YYYY-MM), channel (None = all channels) and the comparison (mom / yoy)."""

    month: str | None
    channel: str | None = None
    compare: str = "mom"

    def params(self) -> dict[str, str]:
        """The selection as URL query parameters (all channels and month-over-month are left out)."""
        out: dict[str, str] = {}
        if self.month:
            out["month"] = self.month
        if self.channel:
            out["channel"] = self.channel
        if self.compare != "mom":
            out["compare"] = self.compare
        return out

    @property
    def compare_month(self) -> str | None:
        """The month the selected one is compared with."""
        return comparison_month(self.month, self.compare) if self.month else None


def comparison_month(month: str, compare: str) -> str:
    """The previous month (mom) or the same month a year earlier (yoy), as YYYY-MM."""
    period = pd.Period(month, freq="M")
    return str(period - (12 if compare == "yoy" else 1))


def month_label(month: str) -> str:
    """'2026-09' as 'Sep 2026'."""
    return f"{pd.Period(month, freq='M'):%b %Y}"


def trailing_months(months: list[str], month: str | None, length: int) -> list[str]:
    """The last `length` months of `months` (sorted "YYYY-MM") up to and including `month`."""
    if month is None:
        return []
    upto = [m for m in months if m <= month]
    return upto[-length:]


# ---------------------------------------------------------------------------------------------- mapping editor


def file_headers(report_columns: Mapping[str, str], unmapped: list[str]) -> list[str]:
    """Every header of a file as the mapping editor offers it: mapped ones first, then the others."""
    return list(dict.fromkeys([*report_columns.values(), *unmapped]))


def mapping_from_choices(table: str, choices: Mapping[str, str | None], dates: str) -> dict:
    """A SPEC §4 mapping-file dict from the editor's canonical column → source header choices."""
    columns = {
        col: str(header) for col, header in choices.items() if header is not None and str(header).strip()
    }
    return {"table": table, "columns": columns, "dates": dates}


def validation_summary(results: list[list[Ingested]], files: tuple[LoadedFile, ...]) -> pd.DataFrame:
    """One row per file and table read: rows read / loaded / rejected, skipped lines, encoding, dates."""
    rows = []
    for item, file_results in zip(files, results, strict=True):
        for result in file_results:
            report = result.report
            rows.append(
                {
                    "file": item.name if not report.sheet else f"{item.name} [{report.sheet}]",
                    "table": result.table,
                    "rows read": report.rows_read,
                    "loaded": report.rows_loaded,
                    "rejected": report.rows_rejected,
                    "skipped lines": report.skipped_lines,
                    "dates": report.dates,
                    "encoding": report.encoding,
                    "delimiter": {"\t": "tab", None: ""}.get(report.delimiter, report.delimiter),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "file",
            "table",
            "rows read",
            "loaded",
            "rejected",
            "skipped lines",
            "dates",
            "encoding",
            "delimiter",
        ],
    )


def rejected_reasons(rejected: Mapping[str, int]) -> pd.DataFrame:
    """The rejection reasons of one file with their counts, most frequent first."""
    frame = pd.DataFrame(
        {"reason": list(rejected), "rows": list(rejected.values())}, columns=["reason", "rows"]
    )
    return frame.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def format_bytes(size: int) -> str:
    """A file size as 12 KB / 3.4 MB / 1.2 GB."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


def mapping_editor_frame(table: str, columns: Mapping[str, str]) -> pd.DataFrame:
    """The rows of the mapping editor: every canonical column of `table`, whether it is required, what it
    means, and the source header currently feeding it (None when none does)."""
    spec = TABLES[table]
    return pd.DataFrame(
        {
            "column": spec.column_names,
            "required": [c.required for c in spec.columns],
            "source header": pd.Series([columns.get(c.name) for c in spec.columns], dtype="object"),
            "meaning": [c.description for c in spec.columns],
        }
    )


def date_columns(frame: pd.DataFrame) -> list[str]:
    """The datetime columns of a frame (shown as dates in tables)."""
    return [str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
