"""Text formats and deterministic containers for the sample's vendor exports (`lifecycle.sample_exports`).

Numbers and dates are formatted column-wise as the tools write them (grouped thousands, decimal commas,
unpadded US dates, 12-hour clocks); archives carry fixed timestamps so rewriting a file gives the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from lifecycle.schema import NOT_SET

EXPORTED_AT = (2026, 11, 22, 9, 30, 0)
"""Timestamp stamped into archives (zip members, workbook properties) so rewritten files are byte-identical."""


_ISO_LIKE: dict[str, Callable[[pd.Series], pd.Series]] = {
    "%Y-%m-%dT%H:%M:%SZ": lambda iso: iso + "Z",
    "%Y-%m-%d %H:%M:%S": lambda iso: iso.str.replace("T", " ", regex=False),
    "%Y%m%d": lambda iso: iso.str.slice(0, 10).str.replace("-", "", regex=False),
}
"""strftime formats that are a rewrite of numpy's ISO text."""


def stamp(values: pd.Series, fmt: str) -> pd.Series:
    """Timestamps as text in `fmt` (strftime codes plus `{m}`, `{d}`, `{h12}`: month, day and 12-hour clock
    hour without zero padding, as US-locale tools write them); NaT → ''."""
    ts = pd.to_datetime(values)
    if fmt in _ISO_LIKE:
        # numpy formats ISO timestamps an order of magnitude faster than strftime (activity logs are long).
        iso = pd.Series(
            np.datetime_as_string(ts.to_numpy().astype("datetime64[s]"), unit="s"), index=ts.index
        )
        out = _ISO_LIKE[fmt](iso)
        return out.astype(object).where(ts.notna(), "")
    tokens = (("{m}", ts.dt.month), ("{d}", ts.dt.day), ("{h12}", (ts.dt.hour + 11) % 12 + 1))
    for token, _ in tokens:
        fmt = fmt.replace(token, f"@{token[1:-1]}@")
    text = ts.dt.strftime(fmt)
    for token, number in tokens:
        marker = f"@{token[1:-1]}@"
        if marker in fmt:
            pieces = text.str.split(marker, n=1, regex=False)
            text = pieces.str[0] + number.astype("Int64").astype(str) + pieces.str[1]
    return text.astype(object).where(ts.notna(), "")


def money(values: pd.Series, thousands: str = ",", decimal: str = ".", prefix: str = "") -> pd.Series:
    """Money with two decimals and grouped thousands ('EUR 12,000.00', '€1.234,56'); missing → ''."""
    cents = np.round(values.fillna(0).to_numpy(float) * 100).astype(np.int64)
    whole = pd.Series(np.abs(cents) // 100, index=values.index).astype(str)
    whole = whole.str.replace(r"\B(?=(\d{3})+(?!\d))", thousands, regex=True)
    frac = pd.Series(np.abs(cents) % 100, index=values.index).astype(str).str.zfill(2)
    out = prefix + np.where(cents < 0, "-", "") + whole + decimal + frac
    return out.astype(object).where(values.notna(), "")


def integers(values: pd.Series, sign: bool = False) -> pd.Series:
    """Whole numbers as text ('+10' with `sign`); missing → ''."""
    ints = values.fillna(0).round().astype(np.int64)
    out = ints.astype(str)
    if sign:
        out = out.where(ints < 0, "+" + out)
    return out.astype(object).where(values.notna(), "")


def text(values: pd.Series) -> pd.Series:
    """Strings with missing values as empty cells."""
    return values.astype(object).where(values.notna(), "")


def unset(channel: pd.Series) -> pd.Series:
    """A channel column as a tool leaves it: "(not set)" is an empty cell."""
    return text(channel.mask(channel == NOT_SET))


def csv_text(frame: pd.DataFrame, *, sep: str = ",", quote_all: bool = False) -> str:
    """The frame as CSV text with `\\n` line ends (every value quoted with `quote_all`, as Salesforce does)."""
    buffer = io.StringIO()
    frame.to_csv(
        buffer,
        index=False,
        sep=sep,
        lineterminator="\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    """Write the bytes and return the path."""
    path.write_bytes(data)
    return path


def gzip_file(path: Path, text: str) -> Path:
    """UTF-8 text gzipped without a name or timestamp in the header (stable bytes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return write(path, buffer.getvalue())


def zip_file(path: Path, member: str, data: bytes) -> Path:
    """A one-member zip archive with a fixed member timestamp (stable bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        info = zipfile.ZipInfo(member, date_time=EXPORTED_AT)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)
    return write(path, buffer.getvalue())


def xlsx_file(
    path: Path, sheet: str, title: str | None, frame: pd.DataFrame, formats: dict[str, str]
) -> Path:
    """An Excel workbook (optional title row above the header) with stable bytes."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.append([])
    ws.append(list(frame.columns))
    for row in frame.itertuples(
        index=False, name=None
    ):  # openpyxl writes cell by cell; the workbooks are small
        ws.append([None if pd.isna(v) else v for v in row])
    first = 4 if title else 2
    for col, fmt in formats.items():
        letter = chr(ord("A") + list(frame.columns).index(col))
        for cell in ws[f"{letter}{first}:{letter}{ws.max_row}"]:
            cell[0].number_format = fmt
    buffer = io.BytesIO()
    book.save(buffer)
    return write(path, restamp_zip(buffer.getvalue()))


def restamp_zip(data: bytes) -> bytes:
    """The same archive with fixed member timestamps and document dates (openpyxl stamps 'now')."""
    y, mo, d, h, mi, sec = EXPORTED_AT
    stamp = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}Z"
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content
                )
            info = zipfile.ZipInfo(item.filename, date_time=EXPORTED_AT)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
