"""A large body's columns of ISO timestamps are parsed as timestamps while Arrow reads it (`reader._iso_columns`,
decided on the body's sample): the ingest must give exactly what the text road gives — values, rejections,
reasons, report — and fall back to the text road when a later cell is not an ISO timestamp."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import reader
from lifecycle.ingest import read_export
from lifecycle.mapping import ColumnMapping

HEADER = b"Lead ID,Stage,Entered at\n"
ROWS = [
    b"1,mql,2024-01-05 10:00:00",
    b"2,sql,2024-01-05 11:30:00",
    b'3,mql,"2024-01-06 09:00:00"',  # quoted
    b"4,mql,",  # no date: rejected (required)
    b"5,,2024-01-07 08:00:00",  # no stage: rejected, its date cell shown as it was
    b"6,mql,1850-01-01 00:00:00",  # an implausible year: rejected, the cell quoted
    b"1,mql,2024-01-05 10:00:00",  # repeats the first row: that one is rejected
    b"7,sql,2024-02-29 23:59:59",
]


def _csv(rows: list[bytes]) -> bytes:
    return HEADER + b"\n".join(rows) + b"\n"


def _typed_road(monkeypatch, sample_bytes: int = 120) -> None:
    """Every body is sampled (the first `sample_bytes`), as a body of 16 MB or more is."""
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", sample_bytes)


def _same(got, want, *, date_cells_as_text: bool = True) -> None:
    assert len(got) == len(want) == 1
    (a,), (b,) = got, want
    as_text = {c: "str" for c in a.frame.columns if isinstance(a.frame[c].dtype, pd.CategoricalDtype)}
    pd.testing.assert_frame_equal(a.frame.astype(as_text), b.frame.astype(as_text))
    assert a.report == b.report
    if date_cells_as_text:
        pd.testing.assert_frame_equal(a.rejected_rows, b.rejected_rows)
    else:  # the same rows and reasons; a date cell shown in its column's format, the same instant
        assert a.rejected_rows.columns.tolist() == b.rejected_rows.columns.tolist()
        rest = [c for c in b.rejected_rows.columns if c != "Entered at"]
        pd.testing.assert_frame_equal(a.rejected_rows[rest], b.rejected_rows[rest])
        for x, y in zip(
            a.rejected_rows.get("Entered at", []), b.rejected_rows.get("Entered at", []), strict=True
        ):
            assert x == y or (pd.isna(x) and pd.isna(y)) or pd.Timestamp(x) == pd.Timestamp(y)


def test_iso_columns_are_read_as_timestamps_and_ingest_like_text(monkeypatch):
    data = _csv(ROWS)
    want = read_export(data, "stages.csv")
    _typed_road(monkeypatch)
    (raw,) = reader.read_raw(data, "stages.csv")
    assert raw.iso_formats == {"c2": "%Y-%m-%d %H:%M:%S"}
    assert raw.frame["c2"].dtype == "datetime64[us]" and raw.frame["c0"].dtype != "datetime64[us]"
    got = read_export(data, "stages.csv")
    _same(got, want)
    (result,) = got
    assert result.frame["lead_id"].tolist() == ["2", "3", "1", "7"]
    reasons = result.rejected_rows.set_index("row")["reason"].str.split(":").str[0].to_dict()
    assert reasons == {5: "entered_at", 6: "stage", 7: "entered_at", 2: "duplicate lead_id/stage/entered_at"}
    assert "'1850-01-01 00:00:00'" in result.rejected_rows.set_index("row").loc[7, "reason"]
    assert result.rejected_rows.set_index("row").loc[6, "Entered at"] == "2024-01-07 08:00:00"


def test_a_later_cell_that_is_not_iso_sends_the_body_back_to_text(monkeypatch):
    data = _csv([*ROWS, b"8,mql,05/03/2024 10:00", b"9,sql,N/A"])
    want = read_export(data, "stages.csv")
    _typed_road(monkeypatch)
    (raw,) = reader.read_raw(data, "stages.csv")
    assert raw.iso_formats == {} and raw.frame["c2"].dtype == "str"
    _same(read_export(data, "stages.csv"), want)


def test_date_only_cells_and_a_footer_line(monkeypatch):
    rows = [r.replace(b" 10:00:00", b"").replace(b" 11:30:00", b"") for r in ROWS[:2]] + [b"3,mql,2024-01-08"]
    data = _csv([*rows, b"Grand total"])  # a footer line: one field, skipped
    want = read_export(data, "stages.csv")
    _typed_road(monkeypatch, sample_bytes=60)
    (raw,) = reader.read_raw(data, "stages.csv")
    assert raw.iso_formats == {"c2": "%Y-%m-%d"} and raw.skipped == ["Grand total"]
    _same(read_export(data, "stages.csv"), want)


def test_a_timestamp_column_with_a_date_format_of_its_own_is_read_as_text(monkeypatch):
    data = _csv(ROWS)
    mapping = ColumnMapping(
        "lead_stages",
        {"lead_id": "Lead ID", "stage": "Stage", "entered_at": "Entered at"},
        dates="%Y-%m-%d %H:%M:%S",
    )
    want = read_export(data, "stages.csv", mapping=mapping)
    _typed_road(monkeypatch)
    _same(read_export(data, "stages.csv", mapping=mapping), want)


CELLS = [
    "2024-01-05 10:00:00",
    "2024-01-05T10:00:00",
    "2024-01-05",
    "2024-01-05 10:00:00.250",
    "2024-01-05T10:00:00Z",
    "",
    "N/A",
    " 2024-01-05 10:00:00",
    "2024-02-30 10:00:00",
    "1850-06-01 10:00:00",
    "2024-01-06 10:00:00",
]


SAMPLED = ["2024-01-05 10:00:00", "2024-01-06 10:00:00", "1850-06-01 10:00:00", ""]  # one shape, or empty


def _rows(cells: list[str]) -> st.SearchStrategy:
    return st.lists(
        st.tuples(st.integers(1, 4), st.sampled_from(["mql", "sql", ""]), st.sampled_from(cells)), max_size=12
    )


@settings(max_examples=80, deadline=None)
@given(_rows(SAMPLED), _rows(CELLS), st.integers(20, 200))
def test_any_cells_ingest_as_on_the_text_road(head, tail, sample_bytes):
    # The first rows (in the sample, mostly) of one ISO shape, then any cells: the typed road, or the fallback.
    rows = head + tail
    if not rows:
        return
    data = _csv([b'%d,%s,"%s"' % (lead, stage.encode(), cell.encode()) for lead, stage, cell in rows])
    want = read_export(data, "stages.csv")
    with pytest.MonkeyPatch.context() as monkeypatch:  # (hypothesis runs this many times in one test)
        _typed_road(monkeypatch, sample_bytes)
        got = read_export(data, "stages.csv")
    # A rejected row's date cell is written back in its column's format (the sample's): the same instant.
    _same(got, want, date_cells_as_text=False)
