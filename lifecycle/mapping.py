"""Which canonical table a file holds, and which header feeds each canonical column (SPEC §4 step 5).

Detection scores every table by the headers that match its columns' synonyms (`lifecycle.synonyms`),
weighting a header by how specific it is (a header that is a synonym in one table only counts fully;
'Create Date', a synonym in several tables, counts less); the complete table (every required column found)
with the highest score wins, so overlapping headers (HubSpot's 'Record ID' in contacts and deals) are decided
by the whole header set. After the exact synonyms come survey question patterns (an NPS question that names
the company) and fuzzy matches for misspelt headers, never for a header that merely extends a synonym
('campaignId' beside 'campaign'). A saved `ColumnMapping` (the SPEC §4 mapping file) overrides detection.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lifecycle.schema import TABLES
from lifecycle.synonyms import (
    COLUMN_PATTERNS,
    COLUMN_SYNONYMS,
    NPS_GROUP_SUFFIX,
    PROMOTE_TO,
    normalize_header,
)

FUZZY_CUTOFF = 0.88
DATE_OPTIONS = ("auto", "dayfirst", "monthfirst")
_QUESTION_ID = re.compile(r"q\d+")


class MappingError(ValueError):
    """The file's table or columns cannot be determined; the message says what was seen and how to map it."""


@dataclass
class ColumnMapping:
    """The SPEC §4 mapping file: table, canonical → source header, raw value maps, constant defaults, dates."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    dates: str = "auto"

    @classmethod
    def from_dict(cls, data: dict) -> ColumnMapping:
        table = data.get("table")
        if table not in TABLES:
            raise MappingError(f"mapping: 'table' must be one of {', '.join(TABLES)}, got {table!r}")
        spec = TABLES[table]
        columns = dict(data.get("columns") or {})
        defaults = dict(data.get("defaults") or {})
        values = {k: {str(r): str(c) for r, c in v.items()} for k, v in (data.get("values") or {}).items()}
        for name in [*columns, *defaults, *values]:
            if name not in spec.column_names:
                raise MappingError(
                    f"mapping: {table} has no column {name!r} (columns: {', '.join(spec.column_names)})"
                )
        return cls(
            table, columns, values, {k: str(v) for k, v in defaults.items()}, str(data.get("dates") or "auto")
        )

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise MappingError(f"mapping file {path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        out: dict = {"table": self.table, "columns": self.columns}
        if self.values:
            out["values"] = self.values
        if self.defaults:
            out["defaults"] = self.defaults
        out["dates"] = self.dates
        return out


@dataclass
class Detection:
    table: str
    columns: dict[str, str]
    """canonical column → source header"""
    score: float
    fuzzy: dict[str, str] = field(default_factory=dict)
    """canonical columns matched only approximately → source header (reported as a warning)"""


def header_key(name: str) -> str:
    """Lookup key of a header: its normalized form, or the trimmed header itself when nothing alphanumeric
    is left (Typeform's response-token column is called '#')."""
    return normalize_header(name) or str(name).strip()


@lru_cache(maxsize=1)
def _synonym_index() -> tuple[dict[str, dict[str, list[tuple[int, str]]]], dict[str, int]]:
    """table → normalized header → [(priority, canonical column)], and header → number of tables using it."""
    index: dict[str, dict[str, list[tuple[int, str]]]] = {}
    tables_using: dict[str, set[str]] = defaultdict(set)
    for table, spec in TABLES.items():
        by_header: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for col in spec.column_names:
            names = [col, col.replace("_", " "), *COLUMN_SYNONYMS.get(table, {}).get(col, ())]
            for prio, name in enumerate(names):
                key = header_key(name)
                if key and (prio, col) not in by_header[key]:
                    by_header[key].append((prio, col))
                    tables_using[key].add(table)
        index[table] = dict(by_header)
    return index, {h: len(t) for h, t in tables_using.items()}


def match_columns(table: str, headers: list[str]) -> Detection:
    """Best header for each canonical column of `table`: exact synonyms first (in synonym order), then the
    question-text patterns of survey tools, then fuzzy matches of misspelt headers."""
    index, spread = _synonym_index()
    by_header = index[table]
    keys = [header_key(h) for h in headers]
    candidates: list[tuple[int, int, str, str, float]] = []  # (rank, position, canonical, header, weight)
    nps_questions = _nps_questions(headers, keys) if table == "nps" else set()
    for pos, (header, key) in enumerate(zip(headers, keys, strict=True)):
        if pos in nps_questions:
            candidates.append((-1, pos, "score", header, 1.0))
            continue
        for prio, col in by_header.get(key, ()):
            if table == "nps" and _QUESTION_ID.fullmatch(key):
                continue  # a bare question id is the NPS score only beside its _NPS_GROUP sibling (above)
            candidates.append((prio, pos, col, header, 1.0 / spread.get(key, 1)))
    columns: dict[str, str] = {}
    used: set[int] = set()
    score = 0.0
    for _prio, pos, col, header, weight in sorted(candidates):
        if col in columns or pos in used:
            continue
        columns[col] = header
        used.add(pos)
        score += weight
    for col, patterns in COLUMN_PATTERNS.get(table, {}).items():
        if col in columns:
            continue
        for pos, (header, key) in enumerate(zip(headers, keys, strict=True)):
            if pos not in used and any(re.search(p, key) for p in patterns):
                columns[col] = header
                used.add(pos)
                score += 1.0  # question wordings belong to one table
                break
    fuzzy: dict[str, str] = {}
    known = list(by_header)
    for pos, (header, key) in enumerate(zip(headers, keys, strict=True)):
        if pos in used or not key or len(key) < 4:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=FUZZY_CUTOFF)
        if not close or _same_stem(key, close[0]):
            continue
        col = by_header[close[0]][0][1]
        if col not in columns:
            columns[col] = header
            fuzzy[col] = header
            used.add(pos)
            score += 0.5 / spread.get(close[0], 1)
    for src, dst in PROMOTE_TO.get(table, {}).items():
        if dst not in columns and src in columns and header_key(columns[src]) == src:
            columns[dst] = columns.pop(src)
    ordered = {c: columns[c] for c in TABLES[table].column_names if c in columns}  # schema order reads best
    return Detection(table, ordered, score, fuzzy)


def _nps_questions(headers: list[str], keys: list[str]) -> set[int]:
    """Positions of Qualtrics NPS question columns: 'Q7' when 'Q7_NPS_GROUP' is also a header."""
    present = set(keys)
    return {
        pos
        for pos, (header, key) in enumerate(zip(headers, keys, strict=True))
        if _QUESTION_ID.fullmatch(key) and normalize_header(header + NPS_GROUP_SUFFIX) in present
    }


def _same_stem(a: str, b: str) -> bool:
    """Whether one key is the other plus a suffix ('campaign' / 'campaignId', 'contact id' / 'contact ids'):
    those are different fields (an id beside a name, a list beside one value), not a typo."""
    a, b = a.replace(" ", ""), b.replace(" ", "")
    return a != b and (a.startswith(b) or b.startswith(a))


def missing_required(
    table: str, columns: dict[str, str], defaults: dict[str, str] | None = None
) -> list[str]:
    spec = TABLES[table]
    have = set(columns) | set(defaults or {})
    missing = [c for c in spec.required if c not in have]
    for group in spec.one_of:
        if not have.intersection(group):
            missing.append(" or ".join(group))
    return missing


def detect_table(headers: list[str], name: str, forced: str | None = None) -> Detection:
    """The canonical table the headers belong to, with its column mapping; raises MappingError if none fits."""
    if forced is not None:
        if forced not in TABLES:
            raise MappingError(f"{name}: unknown table {forced!r}; tables are {', '.join(TABLES)}")
        found = match_columns(forced, headers)
        missing = missing_required(forced, found.columns)
        if missing:
            raise MappingError(_explain(name, headers, found, missing, forced=True))
        return found
    results = [match_columns(t, headers) for t in TABLES]
    complete = [d for d in results if not missing_required(d.table, d.columns)]
    if complete:
        return max(complete, key=lambda d: (d.score, len(d.columns)))
    closest = max(
        results, key=lambda d: (len(d.columns) - len(missing_required(d.table, d.columns)), d.score)
    )
    raise MappingError(_explain(name, headers, closest, missing_required(closest.table, closest.columns)))


def _explain(
    name: str, headers: list[str], closest: Detection, missing: list[str], forced: bool = False
) -> str:
    seen = ", ".join(repr(h) for h in headers[:25]) + (" …" if len(headers) > 25 else "")
    found = ", ".join(f"{c} ← {h!r}" for c, h in closest.columns.items()) or "nothing"
    example = {
        "table": closest.table,
        "columns": {m.split(" or ")[0]: "<header in your file>" for m in missing},
    }
    lead = (
        f"{name}: read as {closest.table!r}, but no column was found for {', '.join(missing)}."
        if forced
        else f"{name}: could not tell which table this file holds."
    )
    return (
        f"{lead} Headers seen: {seen}. Closest table: {closest.table} (found {found}; missing "
        f"{', '.join(missing)}). Name the table with --as TABLE and map the missing columns with a mapping "
        f"file, e.g. {json.dumps(example)}."
    )


def apply_mapping(headers: list[str], mapping: ColumnMapping, name: str) -> Detection:
    """A Detection from a saved mapping; headers named in it must exist (compared case-insensitively)."""
    by_norm = {header_key(h): h for h in headers}
    columns: dict[str, str] = {}
    for canonical, source in mapping.columns.items():
        header = source if source in headers else by_norm.get(header_key(source))
        if header is None:
            raise MappingError(
                f"{name}: the mapping maps {canonical} to {source!r}, but the file has no such column "
                f"(headers: {', '.join(repr(h) for h in headers[:25])})"
            )
        columns[canonical] = header
    # Columns the mapping leaves out are still found by synonym, so a mapping need name only the odd ones.
    auto = match_columns(mapping.table, [h for h in headers if h not in columns.values()])
    for col, header in auto.columns.items():
        if col not in mapping.defaults:
            columns.setdefault(col, header)
    missing = missing_required(mapping.table, columns, mapping.defaults)
    if missing:
        raise MappingError(
            f"{name}: the mapping for {mapping.table} leaves required column(s) {', '.join(missing)} "
            f"unmapped (headers: {', '.join(repr(h) for h in headers[:25])})"
        )
    return Detection(mapping.table, columns, float(len(columns)))
