"""Large exports take a leaner road than small ones: a text file on disk is parsed as it is read
(`reader.read_raw_file`), a large body is parsed into dictionary-encoded columns that stay categorical where
values repeat (`reader.DICTIONARY_BYTES`), and ingest parses each distinct value once. Each road must give
exactly what the plain road gives: the same cells, rows, rejections, reasons and report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lifecycle import reader
from lifecycle.ingest import read_export, read_export_file
from lifecycle.schema import categorical_as_text, take_rows

EVENTS = (
    b"Recipient,Event,At,Email,Program,Step\n"
    + b"".join(
        b"L%d, open ,2024-01-%02d 10:%02d:00,Welcome 1,Welcome,1\n" % (i % 7, 1 + i % 28, i)
        for i in range(60)
    )
    + b"L0,open,2024-01-01 10:00:00,Welcome 1,Welcome,1\n"  # repeats the first row: that one is rejected
    + b"L1,opn,2024-02-01 10:00:00,Welcome 1,Welcome,1\n"  # not an event: rejected, quoted
    + b"L2,click,not a date,Welcome 1,Welcome,1\n"
    + b",click,2024-02-02 10:00:00,Welcome 1,Welcome,1\n"  # no recipient
    + b"L3,Click,2024-02-03 10:00:00,,Welcome,2\n"  # no email: identified by program and step
    + b'L4,sent,2024-02-04 10:00:00,"Welcome\n2",Welcome,2\n'  # a value spanning lines
    + b"L5,sent,2024-02-05 10:00:00,Welcome 2,Welcome\n"  # a field short
    + b"Grand total,,,,,\n"
)
LEADS = (
    b"Lead ID;Create Date;Channel;Score;Status\n"
    + b"".join(b"%d;%02d/01/2024;Paid Search ;%d;Open\n" % (i, 1 + i % 28, i % 5) for i in range(80))
    + b"80;31/01/2024;;7;Open\n"  # day first, read from the whole column; empty channel
    + b"81;no date;Email;3;Open\n"
    + b"82;02/02/2024;Email;lots;Open\n"
    + b"5;03/02/2024;Email;1;Open\n"  # repeats lead 5: the earlier row is rejected
)
PAYLOADS = {
    "events.csv": EVENTS,
    "events-crlf.csv": EVENTS.replace(b"\n", b"\r\n"),
    "events-bom.csv": b"\xef\xbb\xbf" + EVENTS,
    "events-title.csv": b"Email activity report\nExported 2024-03-01\n\n" + EVENTS,
    "leads.csv": LEADS,
    "leads-cp1252.csv": LEADS.replace(b"Open\n80;", b"Op\xe9n\n80;"),
    "leads.tsv": LEADS.replace(b";", b"\t"),
}


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, "str"))


def assert_same_tables(got: list[reader.RawTable], want: list[reader.RawTable]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(as_text(a.frame), b.frame)
        pd.testing.assert_series_equal(a.rows, b.rows)
        for field in vars(b):
            if field not in ("frame", "rows"):
                assert getattr(a, field) == getattr(b, field), field


def assert_same_ingest(got, want) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(as_text(a.frame), as_text(b.frame))
        pd.testing.assert_frame_equal(a.rejected_rows, b.rejected_rows)
        assert a.report == b.report


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_a_file_on_disk_is_read_as_its_bytes_are(name, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)  # so that these small files are read from disk
    path = tmp_path / name
    path.write_bytes(PAYLOADS[name])
    assert_same_tables(reader.read_raw_file(path), reader.read_raw(PAYLOADS[name], name))


def test_a_utf8_file_is_parsed_from_disk_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)
    path = tmp_path / "events.csv"
    path.write_bytes(EVENTS)

    def refuse(self):
        raise AssertionError("read whole")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    (raw,) = reader.read_raw_file(path)
    assert len(raw.frame) == 66
    assert [b.text for b in raw.bad_rows] == ["L5,sent,2024-02-05 10:00:00,Welcome 2,Welcome"]
    assert raw.skipped == ["Grand total,,,,,"]


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_dictionary_encoded_columns_ingest_exactly_like_strings(name, monkeypatch):
    want = read_export(PAYLOADS[name], name)
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "DISTINCT_SHARE", float("inf"))  # every column categorical
    (raw,) = reader.read_raw(PAYLOADS[name], name)
    assert all(isinstance(dtype, pd.CategoricalDtype) for dtype in raw.frame.dtypes)
    got = read_export(PAYLOADS[name], name)
    assert_same_ingest(got, want)


def test_large_event_tables_stay_categorical_and_other_tables_are_text(monkeypatch):
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    (events,) = read_export(EVENTS, "events.csv")
    assert events.table == "email_events"
    assert isinstance(events.frame["recipient"].dtype, pd.CategoricalDtype)
    assert events.frame["event"].value_counts().to_dict() == {"open": 60, "click": 1, "sent": 1}
    reasons = events.rejected_rows["reason"].str.split(":").str[0].value_counts().to_dict()
    assert reasons == {
        "duplicate recipient/event/at/email": 1, "event": 1, "at": 1, "recipient": 1,
        "row has 5 field(s) where the header has 6": 1,
    }  # fmt: skip
    (leads,) = read_export(LEADS, "leads.csv")
    assert leads.table == "leads"
    assert str(leads.frame["channel"].dtype) == "str"
    assert set(leads.frame["channel"]) == {"Paid Search", "(not set)", "Email"}
    created = leads.frame.set_index("lead_id")["created_at"]
    assert (created["80"], created["5"]) == (pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-03"))
    assert len(leads.frame) == 81 and len(leads.rejected_rows) == 3  # no date, no score, lead 5's first row


def test_a_mostly_distinct_column_stays_text(monkeypatch):
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    (raw,) = reader.read_raw(EVENTS, "events.csv")
    dtypes = dict(zip(raw.headers, raw.frame.dtypes, strict=True))
    assert str(dtypes["At"]) == "str"  # 65 distinct times in 67 rows
    assert isinstance(dtypes["Event"], pd.CategoricalDtype)


def test_values_repeating_across_the_parsers_blocks_are_counted_once(monkeypatch):
    # 100,000 rows (3.2 MB, several of the parser's default 1 MB blocks): Kind cycles through 20,000 values,
    # each seen in every block — a fifth of the rows, so repeating; Email is distinct on every row.
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    body = b"".join(b"K%05d,lead-%07d@example.com\n" % (i % 20_000, i) for i in range(100_000))
    assert 3 << 20 < len(body) < reader._SAMPLE_BODY_BYTES
    (raw,) = reader.read_raw(b"Kind,Email\n" + body, "kinds.csv")
    assert isinstance(raw.frame.iloc[:, 0].dtype, pd.CategoricalDtype)
    assert str(raw.frame.iloc[:, 1].dtype) == "str"
    assert raw.frame.iloc[:, 0].nunique() == 20_000 and len(raw.frame) == 100_000


def test_files_ingested_from_disk_match_their_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    for name, data in PAYLOADS.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_same_ingest(read_export_file(path), read_export(data, name))


def test_categorical_columns_become_the_same_text_as_astype():
    values = pd.Series(["b", None, "a", "b", "é"], dtype="str", index=[4, 5, 6, 7, 8], name="channel")
    for categorical in (values.astype("category"), values.astype("category").iloc[[4, 0, 1]]):
        got = categorical_as_text(categorical)
        pd.testing.assert_series_equal(got, categorical.astype("str"))
    objects = pd.Series(pd.Categorical(["x"], categories=pd.Index(["x", "y"], dtype=object)))
    assert objects.cat.categories.dtype == object  # not text categories: pandas' own conversion
    assert categorical_as_text(objects).tolist() == ["x"] and categorical_as_text(objects).dtype == "str"


def test_rows_taken_from_chunked_text_are_those_iloc_takes():
    chunks = [
        pa.array(["a", None, "b"], pa.large_string()),
        pa.array(["c"], pa.large_string()),
        pa.array(["d", "e"], pa.large_string()),
    ]
    text = pd.Series(pd.array(pa.chunked_array(chunks), dtype="str"), index=range(10, 16))
    assert pa.array(text.array).num_chunks == 3  # the road under test
    frame = pd.DataFrame({"text": text, "kind": text.astype("category"), "n": np.arange(6.0)})
    for rows in ([5, 0, 3, 3, 1], [], [2], [4, 5]):
        at = np.array(rows, dtype=np.int64)
        pd.testing.assert_frame_equal(take_rows(frame, at), frame.iloc[at])


def test_values_spanning_lines_across_the_parsers_blocks_are_read_whole(monkeypatch):
    # NPS verbatims spanning lines, and a short row before them, parsed in blocks far smaller than a value:
    # every value must be read whole and the short row listed once, as in one block.
    rows = [
        b'"R%d",2024-01-%02d,9,"Line one of %d\nline two, ""quoted""\n\nline four"' % (i, 1 + i % 28, i)
        for i in range(300)
    ]
    rows.insert(3, b'"R-short",2024-01-02')
    data = b"Respondent,Date,Score,Comment\n" + b"\n".join(rows) + b"\n"
    (whole,) = reader.read_raw(data, "nps.csv")
    assert whole.frame.shape == (300, 4) and len(whole.bad_rows) == 1
    assert whole.frame["c3"].iloc[299] == 'Line one of 299\nline two, "quoted"\n\nline four'
    monkeypatch.setattr(reader, "_BLOCK_BYTES", 256)
    (blocks,) = reader.read_raw(data, "nps.csv")
    pd.testing.assert_frame_equal(blocks.frame, whole.frame)
    pd.testing.assert_series_equal(blocks.rows, whole.rows)
    assert [b.text for b in blocks.bad_rows] == [b.text for b in whole.bad_rows] == ['"R-short",2024-01-02']
