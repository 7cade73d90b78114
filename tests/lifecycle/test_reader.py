"""Reading raw exports: encodings, delimiters, header rows, footers, containers (SPEC §4 steps 1–4)."""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import zipfile

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.ingest import ingest_raw
from lifecycle.mapping import MappingError
from lifecycle.reader import ReadError, decode, read_raw

LEADS = "Record ID,Create Date,Email,Original Source\n1,2024-01-05,a@x.com,Paid Search\n2,2024-01-06,b@x.com,Zürich Events\n"


def one(data: bytes, name: str = "export.csv"):
    tables = read_raw(data, name)
    assert len(tables) == 1
    return tables[0]


def cells(raw) -> list[list[str | None]]:
    return [[None if v != v else v for v in row] for row in raw.frame.astype(object).values.tolist()]


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [
        (LEADS.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + LEADS.encode("utf-8"), "utf-8-sig"),
        (LEADS.encode("utf-16"), "utf-16"),
        (LEADS.encode("utf-16-le"), "utf-16-le"),
        (LEADS.encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_decode_to_the_same_cells(payload: bytes, encoding: str) -> None:
    raw = one(payload)
    assert raw.encoding == encoding
    assert raw.headers == ["Record ID", "Create Date", "Email", "Original Source"]
    assert cells(raw)[1] == ["2", "2024-01-06", "b@x.com", "Zürich Events"]


def test_mixed_utf8_and_cp1252_bytes_are_both_read_and_reported() -> None:
    payload = "id,created,city\n1,2024-01-01,Zürich\n".encode() + "2,2024-01-02,Malmö\n".encode("cp1252")
    raw = one(payload)
    assert [r[2] for r in cells(raw)] == ["Zürich", "Malmö"]
    assert raw.encoding == "utf-8+cp1252 (mixed)"
    assert any("Windows-1252" in w for w in raw.warnings)


def test_a_cp1252_byte_past_the_first_megabyte_is_still_found_and_read() -> None:
    # The body of a UTF-8 file is parsed in place; a stray Windows-1252 byte deep inside sends it back to decoding.
    rows = "".join(f"{i},2024-01-01,Zürich\n" for i in range(1, 60_001)).encode()
    assert len(rows) > 1 << 20
    payload = codecs.BOM_UTF8 + b"id,created,city\n" + rows + "60001,2024-01-02,Malmö\n".encode("cp1252")
    raw = one(payload)
    assert len(raw.frame) == 60_001
    assert [r[2] for r in cells(raw)[-2:]] == ["Zürich", "Malmö"]
    assert raw.encoding == "utf-8+cp1252 (mixed)"
    assert raw.rows[-1] == 60_002


def test_a_utf8_file_with_a_bom_is_read_in_place_with_its_rows_numbered() -> None:
    raw = one(codecs.BOM_UTF8 + "Report\n\nid,city\n1,Zürich\n2, Malmö \n".encode())
    assert raw.encoding == "utf-8-sig"
    assert raw.headers == ["id", "city"]
    assert cells(raw) == [["1", "Zürich"], ["2", "Malmö"]]
    assert raw.rows.tolist() == [4, 5]


def test_decode_prefers_bom() -> None:
    assert decode(codecs.BOM_UTF8 + "é".encode()) == ("é", "utf-8-sig")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    text = LEADS.replace(",", delimiter)
    raw = one(text.encode())
    assert raw.delimiter == delimiter
    assert len(raw.headers) == 4
    assert len(raw.frame) == 2


def test_semicolon_file_with_decimal_commas_in_quotes() -> None:
    raw = one(b'Datum;Kosten;Kanal\n01.02.2024;"1.234,50";Suche\n02.02.2024;5,00;Social\n')
    assert raw.delimiter == ";"
    assert cells(raw) == [["01.02.2024", "1.234,50", "Suche"], ["02.02.2024", "5,00", "Social"]]


def test_title_and_date_range_lines_above_header_are_skipped() -> None:
    # Google Ads report shape: report title, date range, header, data, "Total" footer rows.
    text = (
        "Campaign performance report\n"
        '"January 1, 2024 - January 31, 2024"\n'
        "Day,Campaign,Cost,Clicks\n"
        "2024-01-01,Brand,12.50,4\n"
        "2024-01-02,Brand,7.00,2\n"
        "Total: Account,--,19.50,6\n"
        "Total: Search,--,19.50,6\n"
    )
    raw = one(text.encode())
    assert raw.headers == ["Day", "Campaign", "Cost", "Clicks"]
    assert cells(raw) == [["2024-01-01", "Brand", "12.50", "4"], ["2024-01-02", "Brand", "7.00", "2"]]
    assert raw.skipped_lines == 4  # 2 title lines + 2 total rows
    assert raw.rows.tolist() == [4, 5]  # spreadsheet rows of the data


def test_comment_lines_above_header_are_skipped() -> None:
    # GA4 CSV download shape.
    text = (
        "# ----------------------------------------\n# Traffic acquisition\n# Start date: 20240101\n"
        "# End date: 20240131\n# ----------------------------------------\n"
        "Date,Session default channel group,Sessions\n20240101,Organic Search,120\n20240102,Direct,80\n"
    )
    raw = one(text.encode())
    assert raw.headers == ["Date", "Session default channel group", "Sessions"]
    assert len(raw.frame) == 2
    assert raw.skipped_lines == 5


def test_footer_rows_and_blank_tail_are_skipped_not_rejected() -> None:
    text = (
        "Opportunity ID,Created Date,Stage,Amount\n"
        "006A,1/5/2024,Closed Won,100\n006B,1/6/2024,Closed Lost,0\n"
        "\n\n"
        '"Grand Total (2 records)",,,100\n'
        '"Confidential Information - Do Not Distribute"\n'
        '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."\n'
    )
    raw = one(text.encode())
    assert len(raw.frame) == 2
    assert raw.bad_rows == []
    assert raw.skipped_lines == 3


def test_row_with_wrong_field_count_is_kept_as_bad_row_with_its_line() -> None:
    raw = one(b"id,created,email\n1,2024-01-01,a@x.com\n2,2024-01-02\n3,2024-01-03,c@x.com\n")
    assert len(raw.frame) == 2
    assert [(b.line, b.text) for b in raw.bad_rows] == [(3, "2,2024-01-02")]
    assert raw.rows.tolist() == [2, 4]


def test_survey_export_with_two_header_rows_collapses_to_the_specific_label() -> None:
    # SurveyMonkey shape: question text in row 1, "Response" / "Open-Ended Response" in row 2.
    text = (
        "Respondent ID,Start Date,End Date,How likely are you to recommend us to a friend?,Why?\n"
        ",,,Response,Open-Ended Response\n"
        "101,01/05/2024 10:00:00 AM,01/05/2024 10:02:00 AM,9,Great support\n"
        "102,01/06/2024 11:00:00 AM,01/06/2024 11:05:00 AM,3,Too slow\n"
    )
    raw = one(text.encode())
    assert raw.header_rows == 2
    assert raw.headers == [
        "Respondent ID",
        "Start Date",
        "End Date",
        "How likely are you to recommend us to a friend?",
        "Why?",
    ]
    assert len(raw.frame) == 2


def test_qualtrics_import_id_row_is_a_header_row() -> None:
    text = (
        "StartDate,RecordedDate,ResponseId,Q1,Q2\n"
        "Start Date,Recorded Date,Response ID,How likely are you to recommend us?,Comment\n"
        '"{""ImportId"":""startDate""}","{""ImportId"":""recordedDate""}","{""ImportId"":""_recordId""}",'
        '"{""ImportId"":""QID1""}","{""ImportId"":""QID2""}"\n'
        "2024-01-05 10:00:00,2024-01-05 10:03:00,R_1,10,Love it\n"
    )
    raw = one(text.encode())
    assert raw.header_rows == 3
    assert len(raw.frame) == 1
    assert cells(raw)[0][2] == "R_1"


def test_duplicated_and_empty_headers_are_made_unique() -> None:
    raw = one(b"id,Email,Email,\n1,a@x.com,b@x.com,z\n")
    assert raw.headers == ["id", "Email", "Email (2)", "column 4"]
    assert any("more than once" in w for w in raw.warnings)


def test_gzip_and_zip_members_are_read() -> None:
    gz = gzip.compress(LEADS.encode())
    assert len(one(gz, "leads.csv.gz").frame) == 2
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("exports/leads.csv", LEADS)
        z.writestr("exports/web.tsv", "Date\tSessions\n20240101\t5\n")
        z.writestr("__MACOSX/._leads.csv", "junk")
        z.writestr("README.md", "not a table")
    tables = read_raw(buf.getvalue(), "bundle.zip")
    assert [t.name for t in tables] == ["bundle.zip/leads.csv", "bundle.zip/web.tsv"]


def test_zip_expanding_past_the_limit_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.csv", "a,b\n" + "0,0\n" * 300_000)
    with pytest.raises(ReadError, match="zip bomb"):
        read_raw(buf.getvalue(), "bomb.zip", limit=100_000)


def test_xlsx_sheets_are_read_with_typed_cells_as_text() -> None:
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Deals"
    sheet.append(["Deal report"])
    sheet.append([])
    sheet.append(["Deal ID", "Create Date", "Amount"])
    sheet.append(["D1", dt.datetime(2024, 1, 5, 9, 30), 1200.5])
    sheet.append(["D2", dt.date(2024, 1, 6), 300])
    book.create_sheet("Empty")
    buf = io.BytesIO()
    book.save(buf)
    raw = one(buf.getvalue(), "deals.xlsx")
    assert raw.sheet == "Deals"
    assert raw.headers == ["Deal ID", "Create Date", "Amount"]
    assert cells(raw) == [["D1", "2024-01-05 09:30:00", "1200.5"], ["D2", "2024-01-06", "300"]]
    assert raw.rows.tolist() == [4, 5]


def test_legacy_xls_is_read() -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Leads")
    for j, h in enumerate(["Lead ID", "Created Date", "Lead Source"]):
        sheet.write(0, j, h)
    for j, v in enumerate(["L1", "2024-02-01", "Web"]):
        sheet.write(1, j, v)
    buf = io.BytesIO()
    book.save(buf)
    raw = one(buf.getvalue(), "leads.xls")
    assert cells(raw) == [["L1", "2024-02-01", "Web"]]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (bytes(range(256)) * 40, "binary"),
        (b"PK\x03\x04garbage", "Excel|zip"),
    ],
)
def test_unreadable_input_says_why(payload: bytes, message: str) -> None:
    with pytest.raises(ReadError, match=message):
        read_raw(payload, "upload.csv")


def test_header_only_file_has_no_rows() -> None:
    raw = one(b"Record ID,Create Date\n")
    assert raw.headers == ["Record ID", "Create Date"]
    assert raw.frame.empty


# A CSV's text cells come out of the reader trimmed, none empty (`RawTable.trimmed`), and the ingest then takes
# them as they are (`values.parse_text(trimmed=True)`): the same tables as looking at every cell again.

_PADDED = st.sampled_from(["", " ", "\t", "\u00a0", "\u3000", "\x1f", "  "])
_WORDS = st.sampled_from(["won", "a b", "é", "2024-01-05", "12", "", '"'])
_CELL = st.tuples(_PADDED, _WORDS, _PADDED, st.booleans()).map(
    lambda c: f'"{c[0]}{c[1]}{c[2]}"' if c[3] and c[1] != '"' else f"{c[0]}{c[1]}{c[2]}"
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(_PADDED, _CELL, _CELL, _CELL), min_size=1, max_size=12))
def test_text_the_reader_calls_trimmed_ingests_as_when_every_cell_is_looked_at(rows) -> None:
    lines = [
        f"{pad}{number}{pad},{date},{stage},{amount}"
        for number, (pad, date, stage, amount) in enumerate(rows)
    ]
    data = ("Deal ID,Create Date,Stage,Amount\n" + "\n".join(lines) + "\n").encode()
    try:
        raws = read_raw(data, "deals.csv")
    except ReadError:
        return
    for raw in raws:
        if raw.trimmed:
            for position in raw.positions:
                column = raw.frame[position]
                text = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
                present = [c for c in text if isinstance(c, str)]
                assert all(c and c == pc.utf8_trim_whitespace(pa.scalar(c)).as_py() for c in present)
        looked_at = _ingested(dataclasses.replace(raw, trimmed=False))
        taken = _ingested(raw)
        if isinstance(taken, str) or isinstance(looked_at, str):  # a header not found: the same message
            assert taken == looked_at
            continue
        pd.testing.assert_frame_equal(taken.frame, looked_at.frame)
        pd.testing.assert_frame_equal(taken.rejected_rows, looked_at.rejected_rows)


def _ingested(raw):
    try:
        return ingest_raw(raw, table="deals")
    except MappingError as exc:  # (a stray quote can make the sniffer see one column)
        return str(exc)


def test_lines_recovered_from_a_bad_row_are_not_said_to_be_trimmed() -> None:
    # An unbalanced quote swallows the next lines; those recovered are split and stripped by Python's csv.
    data = b'Deal ID,Create Date,Stage\nD1,"2024-01-05,won\n D2 ,2024-01-06, won \nD3,2024-01-07,lost\n'
    raw = one(data, "deals.csv")
    assert not raw.trimmed
    assert cells(raw) == [["D2", "2024-01-06", "won"], ["D3", "2024-01-07", "lost"]]
    assert one(data.replace(b'"2024', b"2024"), "deals.csv").trimmed
