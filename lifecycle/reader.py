"""Read an export's bytes into raw string tables (SPEC §4 steps 1–4).

`read_raw(data, name) -> list[RawTable]`: unpack `.zip`/`.gz`, decode (BOM → UTF-16 → UTF-8 with a
Windows-1252 fallback for stray bytes), sniff the delimiter, find the real header below title / comment
lines, collapse multi-row (survey) headers, and drop footer rows ("Grand total", "Total: …",
"Confidential…", copyright, blank tail). Every cell stays a string here (a large body's columns of whole-second
ISO timestamps excepted, parsed as timestamps as they are read: `_column_plan`); typing happens in
`lifecycle.values`.
Rows the CSV parser cannot split into the header's number of fields are kept as `bad_rows` so ingest can
list them as rejected — nothing read is lost.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lifecycle import limits
from lifecycle.synonyms import normalize_header
from lifecycle.values import (
    categorical_of_distinct,
    cell_offsets,
    code_dtype,
    maybe_untrimmed,
    numbered_ids,
    plain_integers,
)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_LINES = 60
_CONTROL_BYTES = [b for b in range(32) if b not in (9, 10, 13)]

_FOOTER = re.compile(
    r"^\s*(grand\s+totals?|totals?\b|total\s*:|confidential|copyright|\(c\)|©|all rights reserved|"
    r"generated\s+(by|on|at)|report\s+generated|powered by)",
    re.IGNORECASE,
)


class ReadError(ValueError):
    """The bytes cannot be read as a table at all (not a recognizable format, over a limit, empty)."""


@dataclass
class BadRow:
    line: int | None
    text: str
    reason: str


@dataclass
class RawTable:
    """One table of strings as it stood in the file, header resolved, footers removed."""

    name: str
    headers: list[str]
    frame: pd.DataFrame
    """Columns named by position `c0..cN` (headers may repeat), dtype str (categorical, or datetime64[us] for
    a large body's timestamps: `_column_plan`), empty cells as NA."""
    rows: pd.Index
    """Spreadsheet row number (1-based, as a user sees it in the file) of every frame row, by position: a
    `RangeIndex` when they follow each other (a body without invalid lines), which holds no array (21 M e-mail
    events' numbers took 170 MB of fresh memory and 0.07 s to write out, for the few rows a file rejects)."""
    encoding: str = "utf-8"
    delimiter: str | None = None
    skipped_lines: int = 0
    skipped: list[str] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None
    header_rows: int = 1
    trimmed: bool = False
    """Whether every text cell of `frame` is known to be trimmed of the whitespace Arrow trims, none of them
    empty (missing instead), as `_strings_frame` leaves a CSV body's cells: parsing the text need not look again
    (`values.parse_text`). False when not known."""

    @property
    def positions(self) -> list[str]:
        return list(self.frame.columns)


# ---------------------------------------------------------------------------------------------- containers


def read_raw(data: bytes, name: str, *, limit: int | None = None, timestamps: bool = True) -> list[RawTable]:
    """All tables in one uploaded file (several for a zip or a multi-sheet workbook). `timestamps` False: a
    large body's columns of timestamps stay text too (`_column_plan`; a mapping file may read them otherwise)."""
    limit = limits.MAX_DECOMPRESSED.value() if limit is None else limit
    lower = name.lower()
    if not _packed(data, lower):
        return [_read_text(data, name, timestamps=timestamps)]
    if lower.endswith(".zip") or data[:4] == b"PK\x03\x04" and not lower.endswith(EXCEL_SUFFIXES):
        return _read_zip(data, name, limit, timestamps)
    if lower.endswith(".gz") or data[:2] == b"\x1f\x8b":
        inner = name[:-3] if lower.endswith(".gz") else name
        return read_raw(_gunzip(data, name, limit), inner, limit=limit, timestamps=timestamps)
    return _read_excel(data, name)  # an Excel suffix, or a workbook's (PK / OLE) signature


def _packed(data: bytes, lower: str) -> bool:
    """Whether `read_raw` unpacks the file (zip, gzip, Excel workbook) rather than reading it as text."""
    return (
        lower.endswith((".zip", ".gz", *EXCEL_SUFFIXES))
        or data[:4] == b"PK\x03\x04"
        or data[:2] == b"\x1f\x8b"
        or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    )


def _gunzip(data: bytes, name: str, limit: int) -> bytes:
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while chunk := gz.read(1 << 20):
                out.write(chunk)
                if out.tell() > limit:
                    raise ReadError(
                        f"{name}: decompresses to more than {limits.MAX_DECOMPRESSED.text(limit)} — refused as a possible zip "
                        f"bomb ({limits.MAX_DECOMPRESSED.hint()})"
                    )
    except (OSError, EOFError, zlib.error) as exc:
        raise ReadError(f"{name}: not a valid gzip file ({exc})") from exc
    return out.getvalue()


def _read_zip(data: bytes, name: str, limit: int, timestamps: bool) -> list[RawTable]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ReadError(f"{name}: not a valid zip archive ({exc})") from exc
    members = [m for m in archive.infolist() if not m.is_dir() and not _hidden(m.filename)]
    max_members = limits.MAX_ARCHIVE_MEMBERS.value()
    if len(members) > max_members:
        raise ReadError(
            f"{name}: the archive has {len(members)} files; at most {max_members} are read — "
            f"unpack it and upload the files you need, or {limits.MAX_ARCHIVE_MEMBERS.hint()}"
        )
    if sum(m.file_size for m in members) > limit:
        raise ReadError(
            f"{name}: the archive expands to {limits.MAX_DECOMPRESSED.text(sum(m.file_size for m in members))}, over the "
            f"{limits.MAX_DECOMPRESSED.text(limit)} limit — refused as a possible zip bomb ({limits.MAX_DECOMPRESSED.hint()})"
        )
    tables: list[RawTable] = []
    for member in members:
        # Only the member's base name is used, never as a path: archive paths cannot reach the file system.
        member_name = f"{name}/{PurePosixPath(member.filename.replace(chr(92), '/')).name}"
        if not member.filename.lower().endswith(TEXT_SUFFIXES + EXCEL_SUFFIXES + (".gz",)):
            continue
        try:
            with archive.open(member) as fh:
                content = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
            raise ReadError(f"{member_name}: cannot be unpacked ({exc})") from exc
        if len(content) > limit:
            raise ReadError(
                f"{member_name}: expands past the {limits.MAX_DECOMPRESSED.text(limit)} limit — refused ({limits.MAX_DECOMPRESSED.hint()})"
            )
        tables.extend(read_raw(content, member_name, limit=limit, timestamps=timestamps))
    if not tables:
        raise ReadError(f"{name}: the archive holds no .csv, .tsv, .txt or Excel file")
    return tables


def _hidden(path: str) -> bool:
    # macOS resource forks and dotfiles; '..' in a member path is not hidden (only the base name is used).
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return "__MACOSX" in parts or PurePosixPath(path.replace("\\", "/")).name.startswith(".")


# ---------------------------------------------------------------------------------------------- encoding


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("lifecycle_cp1252", _cp1252_fallback)


def decode(data: bytes) -> tuple[str, str]:
    """Text and the name of the encoding used: BOM, then UTF-16 by its NUL pattern, then UTF-8 (stray
    bytes read as Windows-1252, reported as mixed), then the charset-normalizer guess."""
    if data.startswith(codecs.BOM_UTF8):
        return _decode_utf8(data[3:], "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    head = data[:4000]
    if len(head) >= 4 and head.count(b"\x00") > len(head) // 4:
        le = head[1::2].count(0) > head[0::2].count(0)
        enc = "utf-16-le" if le else "utf-16-be"
        return data.decode(enc, errors="replace"), enc
    return _decode_utf8(data, "utf-8")


def _decode_utf8(data: bytes, label: str) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), label
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    guess = best.encoding if best is not None else "cp1252"
    if guess not in _TRUSTED_GUESSES:
        # On a few kB of mostly-ASCII text the detector's single-byte guesses (cp775, cp850, latin-1, mac…)
        # are noise; the exports this app reads that are not UTF-8 are nearly always Windows-1252.
        guess = "cp1252"
    if guess not in ("utf_8", "ascii") and not _has_valid_utf8_multibyte(data):
        try:
            return data.decode(guess), guess.replace("_", "-")
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode("utf-8", errors="lifecycle_cp1252"), "utf-8+cp1252 (mixed)"


_TRUSTED_GUESSES = frozenset(
    {
        "cp1251",
        "koi8_r",
        "shift_jis",
        "cp932",
        "euc_jp",
        "gb2312",
        "gbk",
        "gb18030",
        "big5",
        "euc_kr",
        "cp949",
        "utf_8",
        "ascii",
    }
)
_UTF8_MULTI = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def _has_valid_utf8_multibyte(data: bytes) -> bool:
    return _UTF8_MULTI.search(data[: 1 << 20]) is not None


# ---------------------------------------------------------------------------------------------- sniffing


def _split(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:
        return [line.split(delimiter) for line in lines]


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the most sample lines into the same (largest) number of fields."""
    content = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not content:
        return ","
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        counts = [len(r) for r in _split(content, delim)]
        widths = pd.Series([c for c in counts if c > 1])
        if widths.empty:
            continue
        modal = int(widths.mode().iloc[0])
        share = float((pd.Series(counts) == modal).mean())
        score = (round(share, 2), modal)
        if score > best_score:
            best, best_score = delim, score
    return best


def _is_numberlike(cell: str) -> bool:
    return bool(re.fullmatch(r"[\s$€£¥%+\-().,:/0-9TZ]*[0-9][\s$€£¥%+\-().,:/0-9TZ]*", cell))


def _header_like(row: list[str], width: int) -> bool:
    cells = [c.strip() for c in row]
    filled = [c for c in cells if c]
    if len(cells) < max(2, int(width * 0.8)) or len(filled) < max(2, int(width * 0.5)):
        return False
    texty = [c for c in filled if not _is_numberlike(c)]
    return len(texty) >= 0.7 * len(filled)


def find_header(rows: list[list[str]]) -> tuple[int, int]:
    """(index of the header row, number of header rows) in the sample rows.

    The header is the first header-like row as wide as the body; survey exports add one or two more
    header rows right below it (sub-labels, `{"ImportId": …}`), detected as header-like rows before the
    first row that holds a number or date.
    """
    widths = pd.Series([len(r) for r in rows if len([c for c in r if c.strip()]) > 1])
    if widths.empty:
        return 0, 1
    width = int(widths.max())
    wide = widths[widths >= 2]
    if not wide.empty:
        width = int(wide.mode().max())
    start = 0
    for i, row in enumerate(rows):
        if row and row[0].lstrip().startswith("#"):
            continue
        if _header_like(row, width):
            start = i
            break
    else:
        return 0, 1
    extra = 0
    for row in rows[start + 1 : start + 4]:
        if _is_subheader(row):
            extra += 1
        else:
            break
    if extra and start + 1 + extra >= len(rows):
        extra = 0  # nothing but text below: those are data rows, not more header
    return start, 1 + extra


def _is_subheader(row: list[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    if not cells:
        return False
    if all(c.startswith("{") and "ImportId" in c for c in cells):
        return True
    return all(not _is_numberlike(c) and len(c) < 400 for c in cells) and any(
        c.lower() in ("response", "open-ended response", "other (please specify)") or "?" in c for c in cells
    )


def collapse_headers(rows: list[list[str]]) -> list[str]:
    """One label per column from several header rows: the most specific one.

    A label matching a known synonym wins; otherwise the first row's label, unless it is empty or a
    generic sub-label ("Response"), in which case the other rows' label is used.
    """
    from lifecycle.synonyms import COLUMN_SYNONYMS

    known = {normalize_header(h) for cols in COLUMN_SYNONYMS.values() for hs in cols.values() for h in hs}
    width = max(len(r) for r in rows)
    out: list[str] = []
    for j in range(width):
        labels = [r[j].strip() if j < len(r) else "" for r in rows]
        labels = [lab for lab in labels if lab and not lab.startswith("{")]
        pick = next((lab for lab in labels if normalize_header(lab) in known), None)
        if pick is None:
            generic = ("response", "open ended response")
            specific = [lab for lab in labels if normalize_header(lab) not in generic]
            pick = specific[0] if specific else (labels[0] if labels else "")
        out.append(pick)
    return out


def unique_headers(headers: list[str]) -> tuple[list[str], list[str]]:
    """Headers made unique and non-empty ('Email', 'Email (2)', 'column 5'), plus warnings."""
    seen: dict[str, int] = {}
    out, warnings = [], []
    for i, h in enumerate(headers):
        label = h.strip() or f"column {i + 1}"
        key = label.lower()
        if key in seen:
            seen[key] += 1
            new = f"{label} ({seen[key]})"
            warnings.append(f"header {label!r} appears more than once; column {i + 1} is read as {new!r}")
            label = new
        else:
            seen[key] = 1
        out.append(label)
    return out, warnings


# ---------------------------------------------------------------------------------------------- text


_NON_SPACE = re.compile(rb"\S")
_HEAD_BYTES = 1 << 20
"""The sample (delimiter, header, title lines) comes from this much of the start of the file."""

DICTIONARY_BYTES = 16 << 20
"""A text body this large is parsed into dictionary-encoded columns: a column whose values repeat (event
names, email names, recipients' ids among millions of events) becomes a categorical, a tenth of the memory of
its strings, and ingest parses each distinct value once. Columns of mostly distinct values stay str."""

DISTINCT_SHARE = 0.5
"""A dictionary-encoded column with more distinct values than this share of its rows stays str."""

_SAMPLE_BODY_BYTES = 1 << 20
"""Which columns of a large body are parsed dictionary-encoded is decided on this much of its start: a column
with more distinct values there than half `DISTINCT_SHARE` of its rows (timestamps, ids) is parsed as plain
text, faster to parse and to trim than codes that would likely not be kept. A million leads' files are planned
the same on 1 MB as on 4 MB (about 10,000 rows of e-mail events), in 0.03 CPU-seconds instead of 0.1."""


@dataclass
class _Body:
    """The bytes of a text export after its header lines: a buffer in memory, or a file on disk that the parser
    reads block by block (a large export is never held whole in memory, `read_raw_file`)."""

    buffer: pa.Buffer | None = None
    path: Path | None = None
    start: int = 0
    size: int = 0

    @classmethod
    def in_memory(cls, buffer: pa.Buffer) -> _Body:
        return cls(buffer=buffer, size=len(buffer))

    def open(self) -> pa.NativeFile:
        if self.buffer is not None:
            return pa.BufferReader(self.buffer)
        stream = pa.OSFile(str(self.path))
        stream.seek(self.start)
        return stream

    def has(self, pattern: re.Pattern[bytes]) -> bool:
        """Whether a one-byte `pattern` occurs (scanning stops at the first)."""
        if self.buffer is not None:
            return pattern.search(memoryview(self.buffer)) is not None
        assert self.path is not None
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            while chunk := fh.read(1 << 24):
                if pattern.search(chunk):
                    return True
        return False


class _NotUtf8(ReadError):
    """The body holds bytes that are not UTF-8 (the head was): the file is read again through `decode`."""


def _utf8_head(data: bytes, size: int) -> tuple[str, int, str] | None:
    """The decoded start of a UTF-8 file (no UTF-16), the BOM's length and the encoding's label; None when
    the start is not UTF-8. The rest of the file is then parsed from the bytes as they are, and Arrow's
    own UTF-8 check stands in for decoding it (`_NotUtf8` when it fails)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    head = data[bom : bom + _HEAD_BYTES]
    if b"\x00" in head[:4000]:
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=size <= bom + _HEAD_BYTES)
    except UnicodeDecodeError:
        return None
    return text, bom, "utf-8-sig" if bom else "utf-8"


def read_raw_file(
    path: str | os.PathLike[str], name: str | None = None, *, timestamps: bool = True
) -> list[RawTable]:
    """`read_raw` of a file on disk. A plain UTF-8 text export is parsed as it is read from disk, so its bytes
    are never all in memory at once; any other file (zip, gzip, workbook, another encoding) is read whole."""
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES + 8)
    whole = len(head) >= size
    if whole or _packed(head, name.lower()):
        return read_raw(head if whole else path.read_bytes(), name, timestamps=timestamps)
    try:
        return [_read_text(head, name, file=_Body(path=path, size=size), timestamps=timestamps)]
    except _NotUtf8:
        pass  # read whole below: out of the handler, whose traceback holds what the parse made
    return read_raw(path.read_bytes(), name, timestamps=timestamps)


def _read_text(data: bytes, name: str, file: _Body | None = None, *, timestamps: bool = True) -> RawTable:
    """A text export from its bytes, or (`file`) from the start of a file on disk held in `data`; a file
    raises `_NotUtf8` when it has to be decoded whole."""
    if _NON_SPACE.search(data) is None and (file is None or not file.has(_NON_SPACE)):
        raise ReadError(f"{name}: the file is empty")
    head = data[:4000]
    if b"\x00" in head and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        zero_share = head.count(0) / len(head)
        # UTF-16 without a BOM is ~50 % NUL bytes; a text export with one corrupted line has a handful of
        # control bytes (that line gets rejected, the rest loads); a binary file is full of them.
        control_share = sum(head.count(b) for b in _CONTROL_BYTES) / len(head)
        if zero_share < 0.25 and control_share > 0.10:
            raise ReadError(f"{name}: this is a binary file, not a CSV/TSV text export or Excel workbook")
    fast = _utf8_head(data, file.size if file is not None else len(data))
    if fast is not None:
        try:
            return _read_text_body(data, name, *fast, file=file, timestamps=timestamps)
        except _NotUtf8:
            if file is not None:
                raise
    if file is not None:
        raise _NotUtf8(name)
    return _read_text_body(data, name, None, 0, "", timestamps=timestamps)


def _read_text_body(
    data: bytes,
    name: str,
    head: str | None,
    bom: int,
    encoding: str,
    file: _Body | None = None,
    *,
    timestamps: bool = True,
) -> RawTable:
    """`_read_text` once the encoding is known: `head` is the decoded start of a UTF-8 file whose body Arrow
    parses from `data` in place (or from `file` as it reads it); without it the whole file is decoded first
    (`decode`)."""
    text = None
    if head is None:
        text, encoding = decode(data)
        head = text[:_HEAD_BYTES]
    if "\ufffd" in head[:4000] and head[:4000].count("\ufffd") > 20:
        raise ReadError(f"{name}: this is a binary file, not a CSV/TSV text export or Excel workbook")
    if not head.strip("\ufeff \t\r\n\x00"):
        raise ReadError(f"{name}: the file is empty")
    sample = head.splitlines()[:_SAMPLE_LINES]
    lower = name.lower()
    delimiter = "\t" if lower.endswith(".tsv") else sniff_delimiter(sample)
    rows = _split(sample, delimiter)
    start, n_header = find_header(rows)
    header_rows = rows[start : start + n_header]
    headers = collapse_headers(header_rows) if n_header > 1 else [c.strip() for c in header_rows[0]]
    headers, warnings = unique_headers(headers)
    _check_width(name, len(headers))

    # Lines above the header: physical lines of the sample before the header row. csv rows map to lines
    # 1:1 in that region (titles and comments hold no embedded newlines).
    skip_lines = _physical_lines_before(sample, rows, start)
    body_skip = _physical_lines_before(sample, rows, start + n_header)
    skipped = [ln for ln in sample[:skip_lines] if ln.strip()]

    bad_rows: list[BadRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append(
            BadRow(
                row.number,
                row.text,
                f"row has {row.actual_columns} field(s) where the header has {row.expected_columns}",
            )
        )
        return "skip"

    positions = [f"c{i}" for i in range(len(headers))]
    if text is None:  # parsed in place: the bytes after the header lines
        header_end = _offset_after_lines(head, body_skip)
        if header_end >= len(head) and (file.size if file is not None else len(data)) > bom + _HEAD_BYTES:
            raise _NotUtf8(name)  # the header lines fill the whole head: decode it all, as for any other file
        start = bom + len(head[:header_end].encode("utf-8"))
        newline = re.compile(rb"[\r\n]")
        one_line = newline.search(data) is None and (file is None or not file.has(newline))
        if file is not None:
            body = _Body(path=file.path, start=start, size=file.size - start)
        else:
            body = _Body.in_memory(pa.py_buffer(data).slice(start))
    else:
        start = len(text[: _offset_after_lines(text, body_skip)].encode("utf-8"))
        one_line = "\n" not in text and "\r" not in text
        body = _Body.in_memory(pa.py_buffer(text.encode("utf-8")).slice(start))
    if one_line:
        body = _Body.in_memory(pa.py_buffer(b""))
    dictionary, stamps = (
        _column_plan(body, positions, delimiter, timestamps=timestamps)
        if body.size >= DICTIONARY_BYTES
        else (set(), set())
    )
    try:
        table = _parse_all(body, positions, delimiter, on_invalid, name, bad_rows, dictionary, stamps)
    except _NotTimestamps:  # a cell further down is not one: every such column read as text after all
        bad_rows.clear()
        table = _parse_all(body, positions, delimiter, on_invalid, name, bad_rows, dictionary, set())
    del body, text
    pending = {p: table.column(p) for p in positions}
    del table
    frame = _strings_frame(pending)
    pa.default_memory_pool().release_unused()  # the parser's blocks, given back before ingest parses values
    recovered = _recover_swallowed_lines(bad_rows, delimiter, len(positions))
    # Spreadsheet row numbers (exact when no value spans lines and no blank lines sit inside the data).
    bad_lines = np.array(sorted({b.line for b in bad_rows if b.line is not None}), dtype="int64")
    rows_no: pd.Index = pd.RangeIndex(body_skip + 1, body_skip + len(frame) + 1)
    if len(bad_lines):
        numbers = np.arange(body_skip + 1, body_skip + len(frame) + len(bad_lines) + 1, dtype="int64")
        rows_no = pd.Index(numbers[~np.isin(numbers, body_skip + bad_lines)][: len(frame)])
    for b in bad_rows:
        if b.line is not None:
            b.line += body_skip
    if recovered:
        extra = pd.DataFrame([cells for _, cells in recovered], columns=positions, dtype="str")
        extra = extra.mask(extra == "").astype("str")
        text = pd.DataFrame({p: cell_texts(frame[p]) for p in positions}, index=frame.index)
        frame = pd.concat([text, extra], ignore_index=True)
        rows_no = rows_no.append(pd.Index([body_skip + line for line, _ in recovered], dtype="int64"))

    raw = RawTable(
        name=name,
        headers=headers,
        frame=frame,
        rows=rows_no,
        encoding=encoding,
        delimiter=delimiter,
        skipped=skipped,
        bad_rows=[],
        warnings=warnings,
        header_rows=n_header,
        trimmed=not recovered,  # the lines recovered from a bad row are split and stripped by Python
    )
    if encoding.startswith("utf-8+"):
        raw.warnings.append("some bytes were not valid UTF-8 and were read as Windows-1252 (mixed encoding)")
    if n_header > 1:
        raw.warnings.append(f"{n_header} header rows (survey export) collapsed into one")
    footer_block = _footer_block(bad_rows, delimiter, int(rows_no.max()) if len(rows_no) else 0)
    for bad in bad_rows:
        footer = _FOOTER.match(bad.text.strip().strip('"')) or not bad.text.strip(',;\t| "')
        if footer or id(bad) in footer_block:
            raw.skipped.append(bad.text)
        else:
            raw.bad_rows.append(bad)
    _drop_footers(raw)
    _check_length(raw)
    raw.skipped_lines = len(raw.skipped)
    return raw


_PARSING = threading.Lock()
"""Held while a body is parsed (`_parse_all`): one parse at a time in the process. Each parse takes every core
itself (Arrow's threads, or a range per core), so two at once would only split the cores between them, and the
one a caller waits on would end later; the ingest reads two files at a time (`ingest.ingest_files`), one of them
parsed while the other's values are checked and written."""


def _parse_all(
    body: _Body,
    positions: list[str],
    delimiter: str,
    on_invalid,
    name: str,
    bad_rows: list[BadRow],
    dictionary: Collection[str],
    stamps: Collection[str],
) -> pa.Table:
    """`_arrow_parse` of the whole body on every core; again on one when some rows are invalid (only then does
    the parser know their line numbers). One body at a time (`_PARSING`)."""
    with _PARSING:
        table = _arrow_parse(
            body, positions, delimiter, on_invalid, name, threads=True, dictionary=dictionary, stamps=stamps
        )
        if bad_rows:
            bad_rows.clear()
            table = _arrow_parse(
                body,
                positions,
                delimiter,
                on_invalid,
                name,
                threads=False,
                dictionary=dictionary,
                stamps=stamps,
            )
    return table


def _footer_block(bad_rows: list[BadRow], delimiter: str, last_data_line: int) -> set[int]:
    """Ids of the one-field lines after the last data row when one of them is a footer marker: Salesforce
    ends a report with the report's name, the copyright and confidentiality lines, "Generated By" and the
    company's name, and the name lines are footer too."""
    tail = [
        b
        for b in bad_rows
        if b.line is not None and b.line > last_data_line and len(_split([b.text], delimiter)[0] or [""]) <= 1
    ]
    if any(_FOOTER.match(b.text.strip().strip('"')) for b in tail):
        return {id(b) for b in tail}
    return set()


def _check_width(name: str, width: int) -> None:
    if width > limits.MAX_COLUMNS.value():
        raise ReadError(
            f"{name}: {width:,} columns, over the limit of {limits.MAX_COLUMNS.text()} — export fewer columns "
            f"or {limits.MAX_COLUMNS.hint()}"
        )


def _check_length(raw: RawTable) -> None:
    rows = len(raw.frame) + len(raw.bad_rows)
    if rows > limits.MAX_ROWS.value():
        where = f"{raw.name}[{raw.sheet}]" if raw.sheet else raw.name
        raise ReadError(
            f"{where}: {rows:,} rows, over the limit of {limits.MAX_ROWS.text()} — split the export or "
            f"{limits.MAX_ROWS.hint()}"
        )


def _recover_swallowed_lines(
    bad_rows: list[BadRow], delimiter: str, width: int
) -> list[tuple[int, list[str]]]:
    """An unbalanced quote makes the parser read the following lines as one long bad row. Split such a
    row back into its lines: lines that parse on their own to the header's width are recovered (returned
    as (line number, cells)); the others stay bad rows, each with its own line number."""
    recovered: list[tuple[int, list[str]]] = []
    for bad in [b for b in bad_rows if "\n" in b.text or "\r" in b.text]:
        bad_rows.remove(bad)
        start = bad.line or 0
        for offset, line in enumerate(bad.text.splitlines()):
            number = start + offset if bad.line is not None else None
            try:
                cells = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error:
                cells = []
            if len(cells) == width and number is not None and line.count('"') % 2 == 0:
                recovered.append((number, [c.strip() for c in cells]))
            elif line.strip():
                bad_rows.append(
                    BadRow(
                        number,
                        line,
                        f"row has {len(cells)} field(s) where the header has {width}"
                        if line.count('"') % 2 == 0
                        else "unbalanced quote: the row could not be split into fields",
                    )
                )
    return recovered


def _physical_lines_before(sample: list[str], rows: list[list[str]], row_index: int) -> int:
    # csv.reader over a list of lines yields one row per line unless a quoted value spans lines; count
    # the lines the first `row_index` parsed rows consumed.
    if row_index == 0:
        return 0
    reader = csv.reader(iter(sample))
    consumed = 0
    for _ in range(row_index):
        try:
            next(reader)
        except (StopIteration, csv.Error):
            break
        consumed = reader.line_num
    return consumed


def _offset_after_lines(text: str, n: int) -> int:
    pos = 0
    for _ in range(n):
        nxt = re.search(r"\r\n|\n|\r", text[pos:])
        if nxt is None:
            return len(text)
        pos += nxt.end()
    return pos


_CODES = pa.dictionary(pa.int32(), pa.large_string())

_BYTE_CODES = pa.dictionary(pa.int32(), pa.large_binary())
"""How `_read_body` has Arrow parse a dictionary-encoded column: codes into bytes, which `_text_codes` makes
codes into text, checking once per distinct value that it is UTF-8. Parsed as codes into text, every cell is
checked (a sixth of the CPU time of parsing 21 M e-mail events)."""


_TIMESTAMP_CELL = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
"""A text cell a large body's column may be parsed as a timestamp by Arrow from: ISO 8601 in whole seconds,
as exports write them, which `timestamp_cells` gives back as it was (where text is needed: a rejected row, a
column ingest reads as text)."""

_STAMP = pa.timestamp("us")


class _NotTimestamps(Exception):
    """A column parsed as timestamps (`_column_plan`) holds a cell further down that is not one."""


def _column_plan(
    body: _Body, positions: list[str], delimiter: str, *, timestamps: bool = True
) -> tuple[set[str], set[str]]:
    """Which columns of a large body are parsed dictionary-encoded, and which as timestamps, from its start
    (`_SAMPLE_BODY_BYTES`, cut after its last line break). Dictionary-encoded: the columns whose values repeat
    there. Timestamps: those whose every cell there is one in whole seconds (`_TIMESTAMP_CELL`, at least one):
    Arrow types them as it parses the body, no text of 20 million cells made to be parsed again (should a cell
    further down be something else, the body is parsed again with them as text). Every column
    dictionary-encoded when the sample does not parse; none as timestamps when not `timestamps`."""
    with body.open() as stream:
        sample = stream.read(_SAMPLE_BODY_BYTES)
    sample = sample[: sample.rfind(b"\n") + 1]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(sample),
            # one block, so each column has one dictionary (per-block dictionaries would overcount)
            read_options=pacsv.ReadOptions(
                column_names=positions, use_threads=False, block_size=len(sample) + 1
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=b'"' in sample, invalid_row_handler=lambda _: "skip"
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={p: _CODES for p in positions}, strings_can_be_null=True, null_values=[""]
            ),
        )
    except pa.ArrowInvalid:
        return set(positions), set()
    stamps = set()
    for p in positions if timestamps else ():
        chunks = table.column(p).chunks
        values = (
            pa.concat_arrays([chunk.dictionary for chunk in chunks]) if chunks else pa.array([], pa.string())
        )
        if len(values) and pc.all(pc.match_substring_regex(values, _TIMESTAMP_CELL)).as_py():
            stamps.add(p)
    dictionary = {
        p
        for p in positions
        if p not in stamps
        and sum(len(chunk.dictionary) for chunk in table.column(p).chunks)
        <= DISTINCT_SHARE / 2 * table.num_rows
    }
    return dictionary, stamps


def timestamp_cells(values: pd.Series) -> pd.Series:
    """Timestamps a column was parsed into (`_column_plan`) as text cells: "YYYY-MM-DD hh:mm:ss", as the start
    of the column wrote them, with six digits of a fraction of a second where there is one; missing stays
    missing. A cell further down in another ISO 8601 form Arrow accepts (a date alone, a "T", no seconds, a
    fraction) comes back in this form, with the same time."""
    stamps = pa.array(values, type=_STAMP, from_pandas=True)
    text = pc.cast(stamps, pa.large_string())  # "YYYY-MM-DD hh:mm:ss.ffffff"
    ticks = np.asarray(values.to_numpy(dtype="datetime64[us]")).view(np.int64)
    whole = pa.array(ticks % 1_000_000 == 0)
    cells = pc.if_else(whole, pc.utf8_slice_codeunits(text, 0, 19), text)
    return pd.Series(pd.array(cells, dtype="str"), index=values.index, copy=False)


def cell_texts(cells: pd.Series) -> pd.Series:
    """A raw column's cells as text: a large body's timestamps as `timestamp_cells` gives them, others as str."""
    return timestamp_cells(cells) if cells.dtype.kind == "M" else cells.astype("str")


_BLOCK_BYTES = 1 << 22
"""The size of the blocks Arrow parses a body in (on all cores)."""


def _arrow_parse(
    body: _Body,
    positions: list[str],
    delimiter: str,
    on_invalid,
    name: str,
    *,
    threads: bool,
    dictionary: Collection[str] = (),
    stamps: Collection[str] = (),
) -> pa.Table:
    """The body's cells as text; the columns named in `dictionary` dictionary-encoded (`DICTIONARY_BYTES`), those
    in `stamps` as timestamps (`_NotTimestamps` when a cell is not one).

    A quoted body may hold line breaks inside quoted values, so Arrow has to find its block boundaries with a
    quote-aware pass over every byte, on one core, before the blocks are parsed on all. Most exports quote
    every cell yet hold no such line break: on all cores, the body is first parsed with blocks cut at line
    breaks (`_blocks_cut_at_line_breaks`), and that result is kept only when it is provably the quote-aware
    one; otherwise the body is parsed again, quote-aware."""
    if not body.has(_NON_SPACE):
        return pa.table({p: pa.array([], pa.large_string()) for p in positions})
    quoted = body.has(re.compile(rb'"'))
    if quoted and threads:
        table = _blocks_cut_at_line_breaks(body, positions, delimiter, name, dictionary, stamps)
        if table is not None:
            return table
    return _read_body(body, positions, delimiter, on_invalid, name, threads, quoted, dictionary, stamps)


RANGE_BYTES = 64 << 20
"""A quoted body of at least twice this size is cut at line breaks into ranges of at least this size, at most one
per core (`_ranges`), each parsed on one core, all at once (`_blocks_cut_at_line_breaks`)."""


def _ranges(body: _Body, cores: int) -> list[_Body]:
    """`body` cut right after line breaks into up to `cores` ranges of about equal size, each at least
    `RANGE_BYTES`; the body itself when it is smaller or holds no line break where one is looked for."""
    count = min(cores, body.size // RANGE_BYTES)
    if count < 2:
        return [body]
    cuts = [0]
    for i in range(1, count):
        found = _find_line_break(body, max(cuts[-1], body.size * i // count))
        if found < 0:
            break
        if found + 1 < body.size:
            cuts.append(found + 1)
    cuts.append(body.size)
    return [
        _Body.in_memory(body.buffer.slice(a, b - a))
        if body.buffer is not None
        else _Body(path=body.path, start=body.start + a, size=b - a)
        for a, b in zip(cuts, cuts[1:], strict=False)
        if b > a
    ]


def _cores() -> int:
    return os.cpu_count() or 1


def _find_line_break(body: _Body, at: int) -> int:
    """Where the first \\n at or after offset `at` of the body is (relative to the body), -1 when none."""
    step = 1 << 16
    with body.open() as stream:
        stream.seek(body.start + at if body.buffer is None else at)
        while at < body.size:
            piece = stream.read(min(step, body.size - at))
            if not piece:
                break
            found = piece.find(b"\n")
            if found >= 0:
                return at + found
            at += len(piece)
    return -1


def _blocks_cut_at_line_breaks(
    body: _Body,
    positions: list[str],
    delimiter: str,
    name: str,
    dictionary: Collection[str],
    stamps: Collection[str],
) -> pa.Table | None:
    """The body parsed on all cores in blocks cut at line breaks, or None when that parse may differ from the
    quote-aware one, or has invalid rows (which the quote-aware parse then reports).

    A large body is cut at line breaks into ranges, at most one per core (`_ranges`), each parsed on one core, all
    at once: read through Python as here, Arrow parsing the 21 M e-mail events on both cores itself took 3.8–4.6
    CPU-seconds and 1.9–2.3 s, two ranges on one core each 3.5–3.6 CPU-seconds and 1.8 s. Each range is checked as
    the whole body is, below, and a cut is then where the quote-aware parse ends a row: a range that ends inside a
    quoted value ends with that value open, and Arrow keeps the range's last line break in it (the check finds
    it), so every range that passes ends where a row ends, and the next starts where a row starts.

    The two parses are the same when no line break of the body is inside a quoted value: every line break then
    ends a row (or an empty line), so every cut is where the quote-aware parse ends a row. Arrow's parser is
    itself quote-aware, so the first line break inside a quoted value shows in the fast parse in one of three
    ways. Within a block, or where a block's last row is completed from the next read, the line break is kept in
    the value: a cell holds a line break (or the row is invalid). Where a block is cut there, the block's last
    row is dropped: the rows fall short of the body's lines (`_LineCounter`), as every row the parse kept ended at
    a line break of its own (or at the end of the body). So a parse without invalid rows, without a line break
    in any cell and with as many rows as the body has lines is the quote-aware parse."""
    ranges = _ranges(body, _cores())
    if len(ranges) == 1:
        return _checked_parse(body, positions, delimiter, name, dictionary, stamps, threads=True)
    with ThreadPoolExecutor(len(ranges)) as pool:
        tables = list(
            pool.map(
                lambda part: _checked_parse(
                    part, positions, delimiter, name, dictionary, stamps, threads=False
                ),
                ranges,
            )
        )
    if any(table is None for table in tables):
        return None
    return pa.concat_tables(tables)


def _checked_parse(
    body: _Body,
    positions: list[str],
    delimiter: str,
    name: str,
    dictionary: Collection[str],
    stamps: Collection[str],
    *,
    threads: bool,
) -> pa.Table | None:
    """`_blocks_cut_at_line_breaks` of one body or range, parsed on all cores or on one (`threads`)."""
    invalid: list[pacsv.InvalidRow] = []
    files: list[_CountingFile] = []  # a file's lines are counted as it is read (the last read counts)

    def counting() -> _CountingFile:
        files.append(_CountingFile(body))
        return files[-1]

    with ThreadPoolExecutor(1) as pool:  # a buffer's lines are counted on a second thread while it is parsed
        in_memory = pool.submit(_line_count, body) if body.path is None else None
        try:
            table = _read_body(
                body,
                positions,
                delimiter,
                invalid.append,
                name,
                threads,
                False,
                dictionary,
                stamps,
                opener=None if body.path is None else counting,
            )
        except (ReadError, _NotTimestamps):
            return None  # the quote-aware parse says what is wrong (or that a cell is not a timestamp)
        lines = files[-1].counter.lines() if in_memory is None else in_memory.result()
        if invalid or table.num_rows != lines or any(map(_holds_line_break, table.columns)):
            return None
    return table


def _holds_line_break(column: pa.ChunkedArray) -> bool:
    """Whether a text cell of `column` (a dictionary's values, for codes) holds \\n or \\r: a scan of the
    bytes of the values, not of each cell."""
    if pa.types.is_timestamp(column.type):
        return False
    for chunk in column.chunks:
        values = (chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk).cast(pa.large_string())
        if not len(values):
            continue
        offsets = cell_offsets(values)
        data = values.buffers()[2]
        if data is None:
            continue
        text = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if not len(text) or text.min() > 13:  # no byte as low as \r (13) or \n (10): ids, most names
            continue
        if np.count_nonzero(text == 10) or np.count_nonzero(text == 13):
            return True
    return False


def _read_body(
    body: _Body,
    positions: list[str],
    delimiter: str,
    on_invalid,
    name: str,
    threads: bool,
    quoted: bool,
    dictionary: Collection[str],
    stamps: Collection[str] = (),
    *,
    opener: Callable[[], io.RawIOBase] | None = None,
) -> pa.Table:
    """`read_csv` of the body (read through `opener()` when given); `quoted` parses it quote-aware (line breaks
    inside quoted values). Only the invalid rows of the parse that succeeds are handed to `on_invalid`."""
    types = {
        p: _STAMP if p in stamps else _BYTE_CODES if p in dictionary else pa.large_string() for p in positions
    }
    block = _BLOCK_BYTES
    while True:
        invalid: list[pacsv.InvalidRow] = []

        def hold(row: pacsv.InvalidRow, invalid: list[pacsv.InvalidRow] = invalid) -> str:
            invalid.append(row)
            return "skip"

        try:
            with (opener or body.open)() as stream:
                table = pacsv.read_csv(
                    stream,
                    read_options=pacsv.ReadOptions(
                        column_names=positions, block_size=block, use_threads=threads
                    ),
                    parse_options=pacsv.ParseOptions(
                        delimiter=delimiter, newlines_in_values=quoted, invalid_row_handler=hold
                    ),
                    convert_options=pacsv.ConvertOptions(
                        # pandas' own str layout, or codes into it
                        column_types=types,
                        strings_can_be_null=True,
                        null_values=[""],
                        quoted_strings_can_be_null=True,
                    ),
                )
            table = _text_codes(table, name)
            for row in invalid:
                on_invalid(row)
            return table
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "straddling" in msg and block < body.size + 1:
                block = min(block * 8, body.size + 1)
                continue
            if "invalid UTF8" in msg:
                raise _NotUtf8(name) from exc
            if stamps and f"conversion error to {_STAMP}" in msg:
                raise _NotTimestamps(msg) from exc
            raise ReadError(f"{name}: the CSV parser stopped: {msg}") from exc


def _text_codes(table: pa.Table, name: str) -> pa.Table:
    """`table` with its columns of codes into bytes (`_BYTE_CODES`) as codes into text (the same codes; only
    the distinct values are checked and cast); `_NotUtf8` when a value is not UTF-8."""
    for i, column in enumerate(table.schema):
        if column.type == _BYTE_CODES:
            try:
                table = table.set_column(i, column.name, table.column(i).cast(_CODES))
            except pa.ArrowInvalid as exc:
                raise _NotUtf8(name) from exc
    return table


_COUNT_BYTES = 1 << 24
"""`_line_count` counts a body in memory this much at a time."""

_COUNT_SLICE = 1 << 18
"""`_LineCounter` compares a piece's bytes this many at a time, while they and their mask are in the cache (a
third less time than comparing the whole piece at once)."""


class _LineCounter:
    """The lines of a body fed to it piece by piece (`add`), as Arrow's parser ends them: at \\n, \\r\\n or a
    lone \\r, whatever the quotes; a last line without a line break counts, the line breaks that end the body
    after its last line do not (`lines` is -1 when they fill more than 64 kB of one piece: too many to tell)."""

    def __init__(self) -> None:
        self.breaks = 0
        self.previous = 0  # the last byte of the previous piece
        self.ending = b""  # the line breaks at the end of the body so far
        self.untold = False
        self.in_slice = np.empty(_COUNT_SLICE, dtype=bool)

    def add(self, data: np.ndarray, may_return: bool = True) -> None:
        """Count the bytes `data` (uint8) that follow those added before; `may_return`: whether they may hold a
        \\r (most bodies hold none, and looking for one in each piece is cheaper than counting them)."""
        if not len(data) or self.untold:
            return
        self.breaks += sum(
            int(np.count_nonzero(np.equal(part, 10, out=self.in_slice[: len(part)])))
            for part in (data[at : at + _COUNT_SLICE] for at in range(0, len(data), _COUNT_SLICE))
        )
        if may_return:  # a \\r\\n is one line break
            is_return = data == 13
            returns = int(np.count_nonzero(is_return))
            if returns:
                self.breaks += returns - int(np.count_nonzero(is_return[:-1] & (data[1:] == 10)))
        if self.previous == 13 and data[0] == 10:
            self.breaks -= 1
        self.previous = int(data[-1])
        last = len(data) - 1
        while last >= 0 and data[last] in (10, 13):  # usually one or two bytes
            last -= 1
            if len(data) - last > 1 << 16:
                self.untold = True
                return
        self.ending = (self.ending if last < 0 else b"") + data[last + 1 :].tobytes()

    def lines(self) -> int:
        if self.untold:
            return -1
        ending = self.ending
        return self.breaks - (ending.count(b"\n") + ending.count(b"\r") - ending.count(b"\r\n")) + 1


def _line_count(body: _Body) -> int:
    """The lines of a body in memory (`_LineCounter`), `_COUNT_BYTES` at a time (a file's are counted as the
    parser reads it, `_CountingFile`)."""
    assert body.buffer is not None
    counter = _LineCounter()
    data = np.frombuffer(body.buffer, dtype=np.uint8)
    for at in range(0, len(data), _COUNT_BYTES):
        counter.add(data[at : at + _COUNT_BYTES])
        if counter.untold:
            break
    return counter.lines()


class _CountingFile(io.RawIOBase):
    """A body on disk (up to its size: a range ends before the file does) read by Arrow's parser through
    Python, its lines counted (`_LineCounter`) in the very bytes the parser is handed: the file is read once,
    not a second time to count them (for 2 GB of e-mail events, 0.2–0.3 CPU-seconds of the kernel copying the
    file again)."""

    def __init__(self, body: _Body) -> None:
        super().__init__()
        assert body.path is not None
        self.file = open(body.path, "rb", buffering=0)  # noqa: SIM115 (closed with this object)
        self.file.seek(body.start)
        self.left = body.size  # bytes of the body not read yet: a range ends before the file does
        self.counter = _LineCounter()
        self.reading = threading.Lock()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self.reading:
            if self.file.closed:
                return b""  # a read Arrow's parser issued ahead, reaching here once the parse has stopped
            data = self.file.read(self.left if size < 0 else min(size, self.left)) if self.left else b""
            self.left -= len(data)
            if data:
                self.counter.add(np.frombuffer(data, dtype=np.uint8), data.find(b"\r") >= 0)
        return data

    def close(self) -> None:
        """Closes the file once no read is under way. A parse that stops (an error, a block too small) may leave
        a read of Arrow's under way on another thread, past Python's check that the file is open: closed under
        it, its file descriptor could be the next file's opened meanwhile (the same body opened again to parse
        it again, another file of the ingest), whose bytes that read would take (the first 40 of a body parsed
        again went missing, about once in 300 parses of a tiny body in 40-byte blocks)."""
        with self.reading:
            self.file.close()
        super().close()


def _strings_frame(pending: dict[str, pa.ChunkedArray]) -> pd.DataFrame:
    """Trimmed text cells, empty → missing; done in Arrow, column by column, because files can be wide (and
    long: each parsed column is taken out of `pending`, which ends empty, and let go as soon as its trimmed
    copy exists; pandas holds that copy as is). A dictionary-encoded column becomes a categorical of its
    trimmed distinct values when they repeat (`DISTINCT_SHARE`), else str; timestamps stay as they are."""
    columns: dict[str, pd.Series] = {}
    for p in list(pending):
        column = pending.pop(p)
        if pa.types.is_dictionary(column.type):
            columns[p] = _dictionary_cells(column)
        elif pa.types.is_timestamp(column.type):
            columns[p] = pd.Series(column.to_numpy(), copy=False)
        else:
            columns[p] = pd.Series(pd.array(_trimmed(column), dtype="str"), copy=False)
    return pd.DataFrame(columns, copy=False) if columns else pd.DataFrame()


def _trimmed(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    values = values.cast(pa.large_string())
    if not maybe_untrimmed(values):  # most cells of most exports: nothing to trim, no empty text
        return values
    trimmed = pc.utf8_trim_whitespace(values)
    blank = pc.equal(trimmed, "")
    if pc.any(blank).as_py():
        trimmed = pc.if_else(blank, pa.scalar(None, pa.large_string()), trimmed)
    return trimmed


def _dictionary_cells(column: pa.ChunkedArray) -> pd.Series:
    """`_strings_frame` of one dictionary-encoded column: trims the distinct values only."""
    # Each parsed block has its own dictionary: their sizes add up to at least the distinct values.
    if (
        sum(len(chunk.dictionary) for chunk in column.chunks) > DISTINCT_SHARE * len(column)
        or not column.num_chunks
    ):
        return pd.Series(pd.array(_trimmed(column), dtype="str"), copy=False)
    numbered = _numbered_cells(column)
    if numbered is not None:
        return numbered
    column = column.unify_dictionaries()
    values = column.chunk(0).dictionary.cast(pa.large_string())
    distinct = len(values)
    if not maybe_untrimmed(values):  # nothing to trim, none empty: the distinct values are the categories
        merged, categories = None, pd.Index(pd.array(values, dtype="str"))
    else:  # trimming can make two distinct values equal (" a" and "a") or empty: factorize the trimmed values
        merged, categories = pd.factorize(pd.Series(pd.array(_trimmed(values), dtype="str")))
    smallest = code_dtype(len(categories))
    if merged is None or np.array_equal(merged, np.arange(distinct)):  # the codes are the indices
        codes = _indices(column, smallest, missing=-1)
    else:
        rows = _indices(column, np.int32, missing=distinct)  # a missing cell points past the last value
        codes = np.append(merged, -1).astype(smallest)[rows]
    # distinct by construction (the unified dictionary, or factorized values): not hashed again to check it
    return pd.Series(categorical_of_distinct(codes, pd.Index(categories, dtype="str")), copy=False)


NUMBERED_VALUES = 1 << 16
"""Distinct values (the blocks' dictionaries added up) from which `_numbered_cells` numbers ids by value."""


def _numbered_cells(column: pa.ChunkedArray) -> pd.Series | None:
    """`_dictionary_cells` of a column whose blocks' dictionaries hold `NUMBERED_VALUES` or more ids that are
    plain numbers (`values.plain_integers`: nothing to trim): the dictionaries are numbered by value
    (`values.numbered_ids`) instead of unified by hashing their text (a million lead ids in 10 M score
    changes: 0.12–0.2 s), into the same categories in the same order (first appearance, block by block, as
    `unify_dictionaries` adds them). None for any other column."""
    dictionaries = [chunk.dictionary for chunk in column.chunks]
    if sum(map(len, dictionaries)) < NUMBERED_VALUES:
        return None
    numbers = plain_integers(pa.chunked_array(dictionaries, dictionaries[0].type))  # None unless text
    if numbers is None or numbers.min() < 0:  # (a dictionary holds no missing value)
        return None
    numbered = numbered_ids(numbers)
    del numbers
    if numbered is None:
        return None
    entries, text = numbered  # each dictionary entry's category, and the categories' text
    smallest = code_dtype(len(text))
    codes = np.empty(len(column), dtype=smallest)
    at = entry = 0
    for chunk in column.chunks:
        size = len(chunk.dictionary)
        categories_of = np.append(entries[entry : entry + size], -1).astype(smallest)  # -1: a missing cell
        indices = chunk.indices if not chunk.null_count else pc.fill_null(chunk.indices, size)
        np.take(categories_of, indices.to_numpy(), out=codes[at : at + len(chunk)])
        entry += size
        at += len(chunk)
    return pd.Series(categorical_of_distinct(codes, pd.Index(pd.array(text, dtype="str"))), copy=False)


def _indices(column: pa.ChunkedArray, dtype: type[np.integer], *, missing: int) -> np.ndarray:
    """The dictionary indices of `column`'s chunks as one numpy array of `dtype`, `missing` where a cell is
    missing: each chunk copied into its place (Arrow's cast of the whole chunked array cost 5× more)."""
    out = np.empty(len(column), dtype=dtype)
    at = 0
    for chunk in column.chunks:
        indices = chunk.indices if not chunk.null_count else pc.fill_null(chunk.indices, missing)
        out[at : at + len(chunk)] = indices.to_numpy()
        at += len(chunk)
    return out


_FOOTER_WINDOW = 1000
"""Footers and totals sit at the ends of the body; only this many rows at each end are examined."""


def _first_cells(frame: pd.DataFrame) -> pd.Series:
    first = frame.iloc[:, 0]
    for name in frame.columns[1:]:
        first = first.fillna(frame[name])
    return first.fillna("").astype("str")


def _drop_footers(raw: RawTable) -> None:
    """Remove 'Grand total' / 'Total: …' / blank rows and footnotes at the start or end of the body
    (reported as skipped)."""
    frame = raw.frame
    n = len(frame)
    if frame.empty or not len(frame.columns):
        return
    keep = np.ones(n, dtype=bool)
    lo = max(0, n - _FOOTER_WINDOW)
    tail = frame.iloc[lo:].astype("str")  # categorical cells (a large file) compared as text
    first = _first_cells(tail)
    blank = tail.isna().all(axis=1).to_numpy()
    footer = first.str.match(_FOOTER.pattern, case=False).to_numpy() | blank
    single = tail.notna().sum(axis=1).le(1).to_numpy() & (len(frame.columns) > 1)
    i = len(tail) - 1
    while i >= 0 and footer[i]:
        keep[lo + i] = False
        i -= 1
    # Footnotes: after a blank row at the end, rows holding a single cell of text ("* figures in EUR").
    k = i
    while k >= 0 and single[k] and not blank[k]:
        k -= 1
    if k < i and k >= 0 and blank[k]:
        keep[lo + k : lo + i + 1] = False
        i = k - 1
        while i >= 0 and blank[i]:
            keep[lo + i] = False
            i -= 1
    head = frame.iloc[: min(n, _FOOTER_WINDOW)].astype("str")
    head_first = _first_cells(head).str.lower()
    head_blank = head.isna().all(axis=1).to_numpy()
    j = 0
    while j < len(head) and not head_blank[j] and head_first.iloc[j].startswith(("grand total", "total")):
        keep[j] = False
        j += 1
    if not keep.all():
        dropped = frame[~keep].astype("str")
        raw.skipped.extend(dropped.fillna("").astype(str).agg((raw.delimiter or ",").join, axis=1).tolist())
        raw.frame = frame[keep]
        raw.rows = raw.rows[keep]


# ---------------------------------------------------------------------------------------------- excel


def _cell_text(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _read_excel(data: bytes, name: str) -> list[RawTable]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise ReadError(f"{name}: not a readable Excel workbook ({exc})") from exc
    tables: list[RawTable] = []
    for sheet in book.sheet_names:
        try:
            cells = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except Exception as exc:
            raise ReadError(f"{name}: sheet {sheet!r} cannot be read ({exc})") from exc
        rows = [[_cell_text(v) for v in row] for row in cells]
        if not any(any(c.strip() for c in r) for r in rows):
            continue
        tables.append(_table_from_rows(rows, name, sheet))
    if not tables:
        raise ReadError(f"{name}: the workbook has no sheet with data")
    unsaved = _formulas_without_values(data)
    if unsaved:
        for table in tables:
            table.warnings.append(
                f"{unsaved} formula cell(s) have no saved result (the workbook was written by a program, not "
                "saved in Excel) and read as empty — open and save it in Excel, or export CSV"
            )
    return tables


_CACHED_VALUE = re.compile(rb"<v>[^<]+</v>")
_FORMULA_CELL = re.compile(rb"<c\b[^>]*>(?:(?!</c>).)*?<f\b(?:(?!</c>).)*?</c>", re.DOTALL)


def _formulas_without_values(data: bytes) -> int:
    """Formula cells of an .xlsx that carry no cached value (calamine can only read cached values)."""
    if data[:4] != b"PK\x03\x04":
        return 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        count = 0
        for sheet in sheets:
            xml = archive.read(sheet)
            if b"<f" not in xml:
                continue
            count += sum(1 for cell in _FORMULA_CELL.findall(xml) if not _CACHED_VALUE.search(cell))
        return count
    except (zipfile.BadZipFile, KeyError, OSError):
        return 0


def _table_from_rows(rows: list[list[str]], name: str, sheet: str) -> RawTable:
    start, n_header = find_header(rows[:_SAMPLE_LINES])
    header_rows = rows[start : start + n_header]
    headers = collapse_headers(header_rows) if n_header > 1 else [c.strip() for c in header_rows[0]]
    headers, warnings = unique_headers(headers)
    _check_width(name, len(headers))
    body = rows[start + n_header :]
    positions = [f"c{i}" for i in range(len(headers))]
    width = len(headers)
    body = [
        (r + [""] * width)[:width] if len(r) <= width or not any(x.strip() for x in r[width:]) else r
        for r in body
    ]
    bad = [
        BadRow(start + n_header + 1 + i, "\t".join(r), f"row has {len(r)} cells where the header has {width}")
        for i, r in enumerate(body)
        if len(r) != width
    ]
    good_idx = [i for i, r in enumerate(body) if len(r) == width]
    frame = pd.DataFrame([body[i] for i in good_idx], columns=positions, dtype="str")
    if frame.empty:
        frame = pd.DataFrame({p: pd.Series(dtype="str") for p in positions})
    if len(frame):
        frame = frame.apply(lambda s: s.str.strip())
        frame = frame.mask(frame == "").astype("str")
    rows_no = pd.Index([start + n_header + 1 + i for i in good_idx], dtype="int64")
    raw = RawTable(
        name=f"{name}[{sheet}]",
        headers=headers,
        frame=frame,
        rows=rows_no,
        encoding="xlsx",
        delimiter=None,
        skipped=[" ".join(c for c in r if c) for r in rows[:start] if any(c.strip() for c in r)],
        bad_rows=bad,
        warnings=warnings,
        sheet=sheet,
        header_rows=n_header,
    )
    _drop_footers(raw)
    _check_length(raw)
    raw.skipped_lines = len(raw.skipped)
    return raw
