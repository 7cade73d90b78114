"""Large exports take a leaner road than small ones: a text file on disk is parsed as it is read
(`reader.read_raw_file`), a large body is parsed into dictionary-encoded columns that stay categorical where
values repeat (`reader.DICTIONARY_BYTES`), and ingest parses each distinct value once. Each road must give
exactly what the plain road gives: the same cells, rows, rejections, reasons and report."""

from __future__ import annotations

import random
import re
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import reader
from lifecycle.ingest import read_export, read_export_file
from lifecycle.mapping import ColumnMapping
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
        pd.testing.assert_index_equal(a.rows, b.rows)
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
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", 4 << 20)  # the whole body is the sample
    body = b"".join(b"K%05d,lead-%07d@example.com\n" % (i % 20_000, i) for i in range(100_000))
    assert 3 << 20 < len(body) < reader._SAMPLE_BODY_BYTES
    (raw,) = reader.read_raw(b"Kind,Email\n" + body, "kinds.csv")
    assert isinstance(raw.frame.iloc[:, 0].dtype, pd.CategoricalDtype)
    assert str(raw.frame.iloc[:, 1].dtype) == "str"
    assert raw.frame.iloc[:, 0].nunique() == 20_000 and len(raw.frame) == 100_000


def _blocks(*cells: str) -> st.SearchStrategy[list[list[str | None]]]:
    """Up to five parsed blocks of up to eight cells each, drawn from `cells` or missing."""
    return st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from(cells)), max_size=8), min_size=1, max_size=5
    )


def _dictionary_column(blocks: list[list[str | None]]) -> pa.ChunkedArray:
    """The blocks as the parser gives a dictionary-encoded column: each block with a dictionary of its own."""
    return pa.chunked_array(
        [pa.array(cells, pa.large_string()).dictionary_encode() for cells in blocks], reader._CODES
    )


@settings(max_examples=200, deadline=None)
@given(blocks=_blocks("7", "12", "0", "433156", "9", "10", "007", " 5"))
def test_ids_numbered_by_value_are_the_categories_unified_dictionaries_give(blocks):
    # Each parsed block has its own dictionary; ids that are plain numbers are numbered by value
    # (`reader._numbered_cells`), other text unified by Arrow: the same categorical either way.
    column = _dictionary_column(blocks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "_numbered_cells", lambda column: None)
        want = reader._dictionary_cells(column)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "NUMBERED_VALUES", 1)
        numbered = reader._numbered_cells(column)
        got = reader._dictionary_cells(column)
    pd.testing.assert_series_equal(got, want)
    present = {cell for cells in blocks for cell in cells if cell is not None}
    plain = bool(present) and all(cell.isdigit() and (cell == "0" or cell[0] != "0") for cell in present)
    entries = sum(len({cell for cell in cells if cell is not None}) for cells in blocks)
    dense = plain and max(map(int, present)) - min(map(int, present)) + 1 <= 4 * entries  # else hashed
    assert (numbered is not None) == dense


@pytest.mark.parametrize("ids", ["numbers", "text"])
def test_a_file_of_ids_repeating_across_blocks_reads_the_same_numbered_or_hashed(ids, tmp_path, monkeypatch):
    # 150,000 score changes of 20,000 leads, several blocks of the parser, codes of int16 and dictionaries
    # that overlap: numbered by value (`reader._numbered_cells`) they read as Arrow's unified dictionaries do.
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_BLOCK_BYTES", 1 << 19)
    monkeypatch.setattr(reader, "NUMBERED_VALUES", 1_000)
    rng = np.random.default_rng(7)
    leads = rng.integers(1_000, 21_000, 150_000)
    prefix = "" if ids == "numbers" else "L"
    body = "".join(f'"{prefix}{lead}","{i % 7}"\n' for i, lead in enumerate(leads)).encode()
    path = tmp_path / "scores.csv"
    path.write_bytes(b'"lead","delta"\n' + body)
    numbered = []
    real = reader._numbered_cells
    monkeypatch.setattr(
        reader, "_numbered_cells", lambda column: numbered.append(real(column)) or numbered[-1]
    )
    (got,) = reader.read_raw_file(path)
    monkeypatch.setattr(reader, "_numbered_cells", lambda column: None)
    (want,) = reader.read_raw_file(path)
    pd.testing.assert_frame_equal(got.frame, want.frame)
    lead = got.frame.iloc[:, 0]
    assert isinstance(lead.dtype, pd.CategoricalDtype) and lead.cat.codes.dtype == np.int16
    assert lead.astype("str").tolist() == [f"{prefix}{x}" for x in leads]
    assert [n is not None for n in numbered] == [ids == "numbers", False]  # ("delta": too few values)


def test_files_ingested_from_disk_match_their_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    for name, data in PAYLOADS.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_same_ingest(read_export_file(path), read_export(data, name))


def test_codes_parsed_into_bytes_become_the_same_codes_into_text():
    # Arrow parses a dictionary-encoded column as codes into bytes; each distinct value is checked to be UTF-8
    # once, after the parse, and the codes are kept as they are.
    codes = pa.DictionaryArray.from_arrays(
        pa.array([1, 0, None, 1], pa.int32()), pa.array([b"Open", "Clické".encode()], pa.large_binary())
    )
    text = pa.array(list("abcdefgh"), pa.large_string())
    table = pa.table({"c0": pa.chunked_array([codes, codes]), "c1": text})
    got = reader._text_codes(table, "events.csv")
    assert got.column("c0").type == reader._CODES
    assert got.column("c0").to_pylist() == ["Clické", "Open", None, "Clické"] * 2
    assert got.column("c0").chunk(1).indices.equals(codes.indices)
    assert got.column("c1").equals(table.column("c1"))
    cp1252 = pa.DictionaryArray.from_arrays(
        pa.array([0], pa.int32()), pa.array([b"Op\xe9n"], pa.large_binary())
    )
    with pytest.raises(reader._NotUtf8):
        reader._text_codes(pa.table({"c0": cp1252}), "events.csv")


def test_a_repeating_value_that_is_not_utf8_far_down_a_file_reads_the_file_in_its_encoding(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    rows = b"".join(b"L%d,%s\n" % (i, b"Open" if i % 3 else b"Sent") for i in range(300))
    path = tmp_path / "stages.csv"
    path.write_bytes(b"Lead,Stage\n" + rows + b"L300,Op\xe9n\n" + rows)
    read_whole = reader.read_raw

    def read_raw(data, name, **options):
        # not within the handler of the parse's error, whose traceback would keep the parsed table meanwhile
        assert sys.exc_info() == (None, None, None)
        return read_whole(data, name, **options)

    monkeypatch.setattr(reader, "read_raw", read_raw)
    (raw,) = reader.read_raw_file(path)
    assert isinstance(raw.frame["c1"].dtype, pd.CategoricalDtype)
    assert raw.frame["c1"].value_counts().to_dict() == {"Open": 400, "Sent": 200, "Opén": 1}


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
    pd.testing.assert_index_equal(blocks.rows, whole.rows)
    assert [b.text for b in blocks.bad_rows] == [b.text for b in whole.bad_rows] == ['"R-short",2024-01-02']


# A quoted body is first parsed in blocks cut at line breaks (`reader._blocks_cut_at_line_breaks`); that parse is
# kept only when it is provably the quote-aware one. The references below are Arrow's quote-aware parse on one
# core (its threaded parse lists the invalid rows of tiny blocks more than once, so it is no reference).

_CELLS = ["x", "y z", 'q""r', "", "c,d", "é", "long " * 5]
_BREAKS = ["\n", "\r\n", "\r", "\n\n"]


def _body(data: bytes, folder: Path | None) -> reader._Body:
    """`data` as a body in memory or, given a folder, in a file on disk below a header line."""
    if folder is None:
        return reader._Body.in_memory(pa.py_buffer(data))
    path = folder / f"body-{len(list(folder.iterdir()))}.csv"
    path.write_bytes(b"header\n" + data)
    return reader._Body(path=path, start=len(b"header\n"), size=len(data))


def _quote_aware(body: reader._Body) -> tuple[pa.Table, list[str]]:
    invalid: list[str] = []
    table = reader._read_body(
        body, ["c0", "c1", "c2"], ",", lambda r: invalid.append(r.text), "t", False, True, ()
    )
    return table, invalid


def _parsed(body: reader._Body) -> tuple[pa.Table, list[str]]:
    invalid: list[str] = []
    table = reader._arrow_parse(
        body, ["c0", "c1", "c2"], ",", lambda r: invalid.append(r.text), "t", threads=True
    )
    return table, invalid


def _assert_parsed_as_quote_aware(body: reader._Body) -> None:
    """`_parsed(body)` is the quote-aware parse: the same table, or invalid rows when it has some (the caller then
    reads the body again on one core for their line numbers, `_read_text_body`), or the same error."""
    try:
        want, want_invalid = _quote_aware(body)
    except reader.ReadError:
        with pytest.raises(reader.ReadError):
            _parsed(body)
        return
    got, got_invalid = _parsed(body)
    assert bool(got_invalid) == bool(want_invalid)
    if not want_invalid:
        assert got.equals(want)


def _csv_body(rng: random.Random) -> bytes:
    """Three-column bodies, mostly quoted, some with line breaks inside quoted values (or just one, whose
    second line has the row's other fields), blank lines, short rows, any line ending; or any mix of the
    characters that matter."""
    if rng.random() < 0.3:
        lines = [",".join(f'"{rng.choice(_CELLS)}"' for _ in range(3)) for _ in range(rng.randint(2, 40))]
        broken = rng.choice(_BREAKS) + rng.choice(["u,v,w", "u,v", "u"])
        lines[rng.randrange(len(lines))] = f'"a","b","{rng.choice(["p", "pq r"])}{broken}"'
        eol = rng.choice(["\n", "\r\n", "\r"])
        return (eol.join(lines) + rng.choice(["", eol])).encode()
    if rng.random() < 0.2:
        return "".join(
            rng.choice(['"', ",", "\n", "\r", "\r\n", "a", " ", "é"]) for _ in range(rng.randint(1, 200))
        ).encode()
    eol = rng.choice(["\n", "\r\n", "\r"])
    broken = rng.choice([0.0, 0.0, 0.01, 0.05, 0.3])
    lines = []
    for _ in range(rng.randint(1, 60)):
        cells = []
        for _ in range(3 if rng.random() < 0.98 else 2):
            cell = rng.choice(_CELLS)
            if rng.random() < broken:
                cell += rng.choice(_BREAKS) + rng.choice(_CELLS)
            cells.append(f'"{cell}"' if rng.random() < 0.9 or set(cell) & set('\n\r",') else cell)
        lines.append(",".join(cells))
        if rng.random() < 0.01:
            lines.append("")
    return (eol.join(lines) + rng.choice(["", eol, eol + eol])).encode()


@settings(max_examples=1000, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    block=st.sampled_from([16, 24, 40, 64, 128, 1 << 20]),
    on_disk=st.booleans(),  # a file's lines are counted as the parser reads it (`reader._CountingFile`)
)
def test_a_quoted_body_parses_as_the_quote_aware_parse_does(seed, block, on_disk):
    data = _csv_body(random.Random(seed))
    if not data.strip():
        return
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        body = _body(data, Path(folder) if on_disk else None)
        patch.setattr(reader, "_BLOCK_BYTES", block)
        _assert_parsed_as_quote_aware(body)


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_quoted_value_spanning_a_block_boundary_is_read_quote_aware(on_disk, tmp_path, monkeypatch):
    rows = [b'"%d","line %d","%d"' % (i, i, i) for i in range(400)]
    rows[200] = b'"200","first half\nsecond half, with a comma","200"'
    data = b"\n".join(rows) + b"\n"
    body = _body(data, tmp_path if on_disk else None)
    monkeypatch.setattr(reader, "_BLOCK_BYTES", 64)
    kept = []
    cut = reader._blocks_cut_at_line_breaks
    monkeypatch.setattr(reader, "_blocks_cut_at_line_breaks", lambda *a: kept.append(cut(*a)) or kept[-1])
    got, invalid = _parsed(body)
    assert kept == [None]  # the blocks cut at line breaks were not kept
    assert invalid == [] and got.num_rows == 400
    assert got.column("c1")[200].as_py() == "first half\nsecond half, with a comma"
    assert got.equals(_quote_aware(body)[0])
    # without the value spanning lines, the blocks cut at line breaks are kept
    clean = _body(data.replace(b"half\nsecond", b"half second"), tmp_path if on_disk else None)
    assert _parsed(clean)[0].equals(_quote_aware(clean)[0]) and kept[-1] is not None


# A large quoted body is cut at line breaks into ranges, at most one per core, each parsed on one core
# (`reader._ranges`); every range is checked as the whole body is.


@settings(max_examples=500, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    block=st.sampled_from([16, 40, 1 << 20]),
    cores=st.integers(2, 5),
    on_disk=st.booleans(),
)
def test_a_quoted_body_cut_into_ranges_parses_as_the_quote_aware_parse_does(seed, block, cores, on_disk):
    data = _csv_body(random.Random(seed))
    if not data.strip():
        return
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        body = _body(data, Path(folder) if on_disk else None)
        patch.setattr(reader, "_BLOCK_BYTES", block)
        patch.setattr(reader, "RANGE_BYTES", 1)  # every body of 2 bytes or more is cut
        patch.setattr(reader, "_cores", lambda: cores)
        _assert_parsed_as_quote_aware(body)


@settings(max_examples=300, deadline=None)
@given(
    data=st.text(st.sampled_from(["a", "\r", "\n", '"']), min_size=0, max_size=40).map(str.encode),
    cores=st.integers(1, 6),
    least=st.integers(1, 12),
    on_disk=st.booleans(),
)
def test_ranges_cut_a_body_right_after_line_breaks(data, cores, least, on_disk):
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(reader, "RANGE_BYTES", least)
        body = _body(data, Path(folder) if on_disk else None)
        ranges = reader._ranges(body, cores)
        texts = [
            part.buffer.to_pybytes()
            if part.buffer is not None
            else part.path.read_bytes()[part.start : part.start + part.size]
            for part in ranges
        ]
    assert b"".join(texts) == data  # the whole body, in order, nothing twice
    assert 1 <= len(ranges) <= max(1, min(cores, len(data) // least))
    assert all(text.endswith(b"\n") for text in texts[:-1]) and all(texts[:-1])


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_range_cut_inside_a_quoted_value_is_read_quote_aware(on_disk, tmp_path, monkeypatch):
    rows = [b'"%d","line %d","%d"' % (i, i, i) for i in range(200)]
    value = b'"100","' + b"x" * 1000 + b'\nsecond half, with a comma","100"'
    data = b"\n".join(rows[:100] + [value] + rows[101:]) + b"\n"
    body = _body(data, tmp_path if on_disk else None)
    monkeypatch.setattr(reader, "RANGE_BYTES", 1)
    monkeypatch.setattr(reader, "_cores", lambda: 2)
    first = reader._ranges(body, 2)[0]
    assert first.size == data.index(b"x\nsecond") + 2  # the cut: right after the line break inside quotes
    parsed = {}  # each range's parse by its size (the ranges are parsed at once, on threads)
    checked = reader._checked_parse

    def check(part, *args, **kwargs):
        parsed[part.size] = checked(part, *args, **kwargs)
        return parsed[part.size]

    monkeypatch.setattr(reader, "_checked_parse", check)
    got, invalid = _parsed(body)
    assert len(parsed) == 2 and parsed[first.size] is None  # the first range ends inside quotes: given up on
    assert invalid == [] and got.num_rows == 200
    assert got.column("c1")[100].as_py() == "x" * 1000 + "\nsecond half, with a comma"
    assert got.equals(_quote_aware(body)[0])
    # without the value spanning lines, both ranges are kept, and make the quote-aware parse
    parsed.clear()
    clean = _body(data.replace(b"x\nsecond", b"x second"), tmp_path if on_disk else None)
    assert _parsed(clean)[0].equals(_quote_aware(clean)[0])
    assert len(parsed) == 2 and all(table is not None for table in parsed.values())


@pytest.mark.parametrize(
    ("data", "block"),
    [
        # the line break inside quotes is the first one of Arrow's second read: Arrow ends the row there (the
        # line break kept in the value) and starts a row on the next line, so the rows still add up to the lines
        (b'aaaaaaa\n"q\nx"\n', 5),
        (
            b'"1","Bo","16 Elm Street West"\n"2","Ann","12 Main St\nSpringfield, IL, 62701"\n"3","Cy","9 Oak St"\n',
            48,
        ),
    ],
)
def test_a_row_completed_from_the_next_read_is_read_quote_aware(data, block, monkeypatch):
    body = reader._Body.in_memory(pa.py_buffer(data))
    columns = ["c0", "c1", "c2"][: data.split(b"\n")[0].count(b",") + 1]
    monkeypatch.setattr(reader, "_BLOCK_BYTES", block)
    got = reader._arrow_parse(body, columns, ",", lambda r: "skip", "t", threads=True)
    want = reader._read_body(body, columns, ",", lambda r: "skip", "t", False, True, ())
    assert got.equals(want) and got.num_rows == 2 + (len(columns) == 3)


@settings(max_examples=300, deadline=None)
@given(
    data=st.text(st.sampled_from(["a", "\r", "\n", '"', "é"]), min_size=1, max_size=60).map(str.encode),
    piece=st.sampled_from([1, 2, 3, 5, 8, 64]),
    part=st.sampled_from([1, 2, 3, 1 << 18]),
    skip=st.integers(0, 3),
)
def test_lines_are_counted_as_the_parser_ends_them(data, piece, part, skip):
    if not data.strip(b"\r\n"):
        return
    # \r\n, \n and a lone \r each end a line; the line breaks after the last line end none
    want = len(re.findall(rb"\r\n|\n|\r", data.rstrip(b"\r\n"))) + 1
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(reader, "_COUNT_BYTES", piece)
        patch.setattr(reader, "_COUNT_SLICE", part)  # the bytes of a piece compared a part at a time
        assert reader._line_count(reader._Body.in_memory(pa.py_buffer(data))) == want
        path = Path(folder) / "body.csv"
        path.write_bytes(b"x" * skip + data + b"\nthe next range")  # read up to the body's size only
        # a file's, counted as the parser reads it, in reads of any size
        with reader._CountingFile(reader._Body(path=path, start=skip, size=len(data))) as counting:
            read = b"".join(iter(lambda: counting.read(piece), b""))
        assert read == data and counting.counter.lines() == want


def test_a_counting_file_is_not_closed_under_a_read_still_under_way(tmp_path):
    # A parse that stops may leave a read of Arrow's under way on another thread: the file is closed only once it
    # is done (closed under it, its file descriptor could be the next file's, whose bytes the read would take),
    # and a read that comes after finds nothing.
    path = tmp_path / "body.csv"
    path.write_bytes(b"h\na,b\n")
    counting = reader._CountingFile(reader._Body(path=path, start=2, size=4))
    file, in_read, go_on = counting.file, threading.Event(), threading.Event()

    class InTheKernel:  # the file, its read held up where a real one waits for the disk
        closed = property(lambda _: file.closed)

        def read(self, size: int) -> bytes:
            in_read.set()
            go_on.wait(10)
            return file.read(size)

        def close(self) -> None:
            file.close()

    counting.file = InTheKernel()
    got: list[bytes] = []
    reading = threading.Thread(target=lambda: got.append(counting.read(4)))
    reading.start()
    assert in_read.wait(10)
    closing = threading.Thread(target=counting.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive() and not file.closed  # the close waits for the read under way
    go_on.set()
    reading.join(10)
    closing.join(10)
    assert got == [b"a,b\n"] and file.closed and counting.counter.lines() == 1
    assert counting.read(4) == b""


def test_the_invalid_rows_of_a_parse_given_up_on_are_not_listed(monkeypatch):
    # The first parse stops at a row longer than its blocks, after it met the short row; the parse in larger
    # blocks that follows lists the short row once.
    data = b'"a","b","c"\n"short"\n"' + b"long " * 40 + b'","b","c"\n'
    monkeypatch.setattr(reader, "_BLOCK_BYTES", 32)
    body = reader._Body.in_memory(pa.py_buffer(data))
    for threads in (False, True):
        invalid: list[pa.csv.InvalidRow] = []
        table = reader._read_body(body, ["c0", "c1", "c2"], ",", invalid.append, "t", threads, True, ())
        assert table.num_rows == 2 and [row.text for row in invalid] == ['"short"']


# ---------------------------------------------------------------------------------------------- timestamps
# A large body's columns whose start holds only timestamps in whole seconds are parsed as timestamps by Arrow
# (`reader._column_plan`); the ingest must be exactly the plain road's, and a cell further down that is not one
# sends the column back to text.

DATED = EVENTS.replace(b"L2,click,not a date,", b"L2,click,2024-02-01 11:00:00,")


def test_timestamp_columns_are_parsed_as_timestamps_and_ingest_like_text(monkeypatch):
    want = read_export(DATED, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    (raw,) = reader.read_raw(DATED, "events.csv")
    dtypes = dict(zip(raw.headers, raw.frame.dtypes, strict=True))
    assert dtypes["At"] == np.dtype("datetime64[us]")
    assert isinstance(dtypes["Event"], pd.CategoricalDtype)
    got = read_export(DATED, "events.csv")
    assert_same_ingest(got, want)
    # the rejected rows list the time as the file wrote it (a duplicate row, "opn", no recipient)
    rejected = got[0].rejected_rows.set_index("row")["At"].dropna()
    assert rejected.to_dict() == {
        2: "2024-01-01 10:00:00",
        63: "2024-02-01 10:00:00",
        65: "2024-02-02 10:00:00",
    }


@pytest.mark.parametrize(
    "cell",
    [b"not a date", b" 2024-02-01 11:00:00", b"2024-02-01T11:00:00Z", b"2024-02-30 11:00:00", b"N/A", b"-"],
)
def test_a_later_cell_that_is_not_a_timestamp_reads_the_column_as_text(cell, tmp_path, monkeypatch):
    data = EVENTS.replace(b"L2,click,not a date,", b"L2,click," + cell + b",")
    want = read_export(data, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", 400)  # the start: timestamps only
    body = reader._Body.in_memory(pa.py_buffer(data[data.index(b"\n") + 1 :]))
    assert reader._column_plan(body, list("abcdef"), ",")[1] == {"c"}
    (raw,) = reader.read_raw(data, "events.csv")
    assert str(raw.frame.iloc[:, 2].dtype) == "str"
    assert_same_ingest(read_export(data, "events.csv"), want)
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)  # parsed from disk
    (tmp_path / "events.csv").write_bytes(data)
    assert_same_ingest(read_export_file(tmp_path / "events.csv"), want)


def test_only_columns_of_whole_second_timestamps_are_parsed_as_timestamps():
    body = (
        b"2024-01-05 10:00:00,2024-01-05,,2024-01-05 10:00:00,x\n"
        b"2024-01-06 11:30:59,2024-01-06,,2024-01-05 10:00:00.5,2024-01-05 10:00:00\n"
        b",2024-01-07,,2024-01-05T10:00:00,\n"
    )
    columns = ["a", "b", "c", "d", "e"]
    dictionary, stamps = reader._column_plan(reader._Body.in_memory(pa.py_buffer(body)), columns, ",")
    assert stamps == {"a"}  # dates alone, an empty column, fractions, a T, other text: left as text
    assert "a" not in dictionary


def test_timestamps_read_back_as_the_text_they_were_read_from():
    stamps = pd.Series(
        np.array(["2024-01-05T10:00:00", "NaT", "2024-01-05T10:00:00.250", "0001-01-01T00:00:00"], "M8[us]")
    )
    cells = reader.timestamp_cells(stamps)
    assert str(cells.dtype) == "str"
    assert cells.tolist()[:1] + cells.tolist()[2:] == [
        "2024-01-05 10:00:00", "2024-01-05 10:00:00.250000", "0001-01-01 00:00:00",
    ]  # fmt: skip
    assert pd.isna(cells[1])


def test_an_implausible_year_parsed_as_a_timestamp_is_rejected_quoting_its_text(monkeypatch):
    data = DATED.replace(b"L2,click,2024-02-01 11:00:00,", b"L2,click,1850-02-01 11:00:00,")
    want = read_export(data, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    assert reader.read_raw(data, "events.csv")[0].frame.iloc[:, 2].dtype.kind == "M"
    got = read_export(data, "events.csv")
    assert_same_ingest(got, want)
    assert got[0].rejected_rows.set_index("row")["reason"][64] == (
        "at: not a date in column 'At': '1850-02-01 11:00:00'"
    )


def test_a_fraction_of_a_second_further_down_leaves_the_other_cells_text_as_they_were(monkeypatch):
    data = DATED.replace(b"Grand total", b"L6,open,2024-02-06 10:00:00.5,Welcome 1,Welcome,1\nGrand total")
    want = read_export(data, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", 400)  # the start: whole seconds only
    assert reader.read_raw(data, "events.csv")[0].frame.iloc[:, 2].dtype.kind == "M"
    got = read_export(data, "events.csv")
    assert_same_ingest(got, want)  # the rejected rows' times without a fraction, as written
    assert got[0].frame["at"].max() == pd.Timestamp("2024-02-06 10:00:00.5")


@pytest.mark.parametrize(
    "mapping",
    [
        # a date format of the mapping's parses the text the timestamps were read from
        ColumnMapping("email_events", dates="%Y-%m-%d %H:%M:%S"),
        # the times mapped to a text column (the step) are that text
        ColumnMapping("email_events", columns={"step": "At", "email": "Email", "at": "At"}),
    ],
)
def test_with_a_mapping_timestamps_are_read_as_text(mapping, tmp_path, monkeypatch):
    # A mapping may read the times otherwise than as ISO 8601, and the text of a fraction of a second, or of a
    # date without a time, is not what the timestamps would give back: the reader leaves them text.
    data = DATED.replace(b"Grand total", b"L6,open,2024-02-06 10:00:00.5,Welcome 1,Welcome,1\nGrand total")
    want = read_export(data, "events.csv", mapping=mapping)
    quoted = want[0].rejected_rows["reason"].str.contains("'2024-02-06 10:00:00.5'").any()
    assert quoted == (mapping.dates != "auto")  # rejected by the format as written
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", 400)
    assert reader.read_raw(data, "events.csv")[0].frame.iloc[:, 2].dtype.kind == "M"
    assert str(reader.read_raw(data, "events.csv", timestamps=False)[0].frame.iloc[:, 2].dtype) == "str"
    assert_same_ingest(read_export(data, "events.csv", mapping=mapping), want)
    monkeypatch.setattr(reader, "_HEAD_BYTES", 200)  # parsed from disk
    (tmp_path / "events.csv").write_bytes(data)
    assert_same_ingest(read_export_file(tmp_path / "events.csv", mapping=mapping), want)


def test_timestamps_taken_for_a_text_column_are_the_text_they_were_read_from(monkeypatch):
    # No mapping, and a column of times under a text column's header (the step): their text, as written
    data = re.sub(rb",Welcome,\d(\r?\n)", rb",Welcome,2024-01-01 09:00:00\1", DATED)
    want = read_export(data, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    assert reader.read_raw(data, "events.csv")[0].frame.iloc[:, 5].dtype.kind == "M"
    got = read_export(data, "events.csv")
    assert_same_ingest(got, want)
    assert set(got[0].frame["step"].astype(str)) == {"2024-01-01 09:00:00"}


def test_lines_swallowed_by_a_quote_and_recovered_keep_the_times_text(monkeypatch):
    # An unbalanced quote swallows a line, which is recovered; the frame becomes text, the times' as written
    # (a fraction of a second elsewhere in the column must not add ".000" to every other time).
    data = DATED.replace(b"L3,Click,2024-02-03 10:00:00,", b"L3,Click,2024-02-03 10:00:00.5,").replace(
        b"L5,sent,2024-02-05 10:00:00,Welcome 2,Welcome\n",
        b'L5,sent,2024-02-05 10:00:00,"Welcome 2,Welcome,1\nL6,open,2024-02-06 10:00:00,Welcome 2,Welcome,1\n',
    )
    want = read_export(data, "events.csv")
    monkeypatch.setattr(reader, "DICTIONARY_BYTES", 0)
    monkeypatch.setattr(reader, "_SAMPLE_BODY_BYTES", 400)
    assert_same_ingest(read_export(data, "events.csv"), want)


def _unified_cells(column: pa.ChunkedArray) -> list[str | None]:
    """What `reader._dictionary_cells` should give, the plain way: each cell of Arrow's unified dictionaries,
    trimmed, an empty one missing."""
    cells = column.unify_dictionaries().cast(pa.large_string()).to_pylist()
    return [None if cell is None or not cell.strip() else cell.strip() for cell in cells]


@settings(max_examples=300, deadline=None)
@given(blocks=_blocks("a", " a", "a ", "", " ", "b", "é", "\u3000é", "7"))
def test_dictionary_cells_are_the_trimmed_cells_in_order_of_first_appearance(blocks):
    # Each parsed block has its own dictionary; the categories are the distinct trimmed values in order of
    # first appearance (block by block), the blank ones missing.
    column = _dictionary_column(blocks)
    got = reader._dictionary_cells(column)
    want = _unified_cells(column)
    assert [None if pd.isna(v) else v for v in got] == want
    if isinstance(got.dtype, pd.CategoricalDtype):
        assert list(got.cat.categories) == list(dict.fromkeys(v for v in want if v is not None))
        assert got.cat.categories.dtype == "str"
