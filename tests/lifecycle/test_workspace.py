"""Workspace writes are all or nothing: an ingest that fails or is killed half-way changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lifecycle import workspace
from lifecycle.ingest import ingest_files
from lifecycle.session import folder_status
from lifecycle.workspace import load_tables, read_manifest

ROOT = Path(__file__).resolve().parents[2]
LEADS = b"Record ID,Create Date,Email\n1,2024-01-01,a@x.com\n2,2024-01-02,b@x.com\n"
DEALS = b"Deal ID,Create Date,Deal Stage,Amount\nD1,2024-01-05,closedwon,100\n"


def snapshot(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in load_tables(folder).items()}


def assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert set(before) == set(after)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "leads.csv").write_bytes(LEADS)
    (tmp_path / "deals.csv").write_bytes(DEALS)
    folder = tmp_path / "ws"
    ingest_files([tmp_path / "leads.csv", tmp_path / "deals.csv"], folder)
    return folder


def test_a_write_that_fails_half_way_leaves_the_previous_workspace_unchanged(ws, tmp_path, monkeypatch):
    before, manifest_before = snapshot(ws), read_manifest(ws)
    (tmp_path / "more_leads.csv").write_bytes(b"Record ID,Create Date\n3,2024-02-01\n")
    (tmp_path / "more_deals.csv").write_bytes(b"Deal ID,Create Date,Deal Stage\nD2,2024-02-05,closedlost\n")
    real_write = workspace._atomic_write
    calls = {"n": 0}

    def failing_write(path, write):
        calls["n"] += 1
        if calls["n"] == 2:  # the first new table is on disk, the second fails: a crash mid-ingest
            raise OSError("disk full")
        real_write(path, write)

    monkeypatch.setattr(workspace, "_atomic_write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        ingest_files([tmp_path / "more_leads.csv", tmp_path / "more_deals.csv"], ws)
    monkeypatch.undo()
    assert_same(before, snapshot(ws))
    assert read_manifest(ws) == manifest_before


def test_the_next_successful_write_removes_what_a_failed_one_left_behind(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(workspace, "write_manifest", lambda *a: (_ for _ in ()).throw(OSError("killed")))
    (tmp_path / "more.csv").write_bytes(b"Record ID,Create Date\n3,2024-02-01\n")
    with pytest.raises(OSError):
        ingest_files([tmp_path / "more.csv"], ws)
    monkeypatch.undo()
    assert len(list(ws.glob("leads-*.parquet"))) == 2  # the orphan of the failed write
    ingest_files([tmp_path / "more.csv"], ws)
    assert len(list(ws.glob("leads-*.parquet"))) == 1
    assert sorted(load_tables(ws)["leads"]["lead_id"]) == ["1", "2", "3"]


def test_killing_an_ingest_process_at_any_moment_leaves_a_readable_workspace(ws, tmp_path):
    before = snapshot(ws)
    big = tmp_path / "big_leads.csv"
    # A million leads: the CLI commits about 0.9 s after it starts (400,000 committed at 0.6 s once the ingest
    # got faster, so close to the first kill at 0.5 s that a kill could miss the moment before the commit).
    rows = "".join(f"{i},2024-03-01 10:00:00,u{i}@x.com\n" for i in range(10, 1_000_000))
    big.write_text("Record ID,Create Date,Email\n" + rows, encoding="utf-8")
    outcomes = set()
    for delay in (0.5, 1.0, 1.5, 2.5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "lifecycle", "ingest", str(big), "--out", str(ws)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after = snapshot(ws)  # always readable
        grown = len(after["leads"]) > len(before["leads"])
        outcomes.add(grown)
        if grown:
            assert len(after["leads"]) == len(before["leads"]) + len(rows.splitlines())
            break
        assert_same(before, after)
    assert False in outcomes  # at least one kill landed before the commit point


def _encodings(path: Path) -> dict[str, bool]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.schema.column(i).name: "RLE_DICTIONARY" in meta.row_group(0).column(i).encodings
        for i in range(meta.num_columns)
    }


def _with_statistics(path: Path) -> dict[str, bool]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.schema.column(i).name: meta.row_group(0).column(i).is_stats_set for i in range(meta.num_columns)
    }


def _codecs(path: Path) -> dict[str, str]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.schema.column(i).name: meta.row_group(0).column(i).compression for i in range(meta.num_columns)
    }


def _encoded(path: Path) -> dict[str, set[str]]:
    """Each column's encodings of its values (the levels' RLE left out)."""
    meta = pq.ParquetFile(path).metadata
    return {
        meta.schema.column(i).name: set(meta.row_group(0).column(i).encodings) - {"RLE"}
        for i in range(meta.num_columns)
    }


def test_large_tables_dictionary_encode_only_categoricals_of_few_categories(tmp_path, monkeypatch):
    events = pd.DataFrame(
        {
            "recipient": pd.Series(["L1", "L2", "L3", "L1"], dtype="str"),
            "event": pd.Series(["open", "click", "open", "open"], dtype="str").astype("category"),
            "at": pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"])),
            "email": pd.Series(["E1", "E1", "E2", "E1"], dtype="str").astype("category"),
        }
    )
    workspace.commit(tmp_path / "small", {"email_events": events})
    (small,) = workspace.table_files(tmp_path / "small")["email_events"]
    assert _encodings(small) == {
        "recipient": True,
        "event": True,
        "at": True,
        "email": True,
    }  # Parquet's default
    monkeypatch.setattr(workspace, "PLAIN_FROM_ROWS", 4)
    workspace.commit(tmp_path / "large", {"email_events": events})
    (large,) = workspace.table_files(tmp_path / "large")["email_events"]
    assert _encodings(large) == {"recipient": False, "event": True, "at": False, "email": True}
    # Statistics: every column of a small table, only the times and numbers of a large one.
    assert _with_statistics(small) == {"recipient": True, "event": True, "at": True, "email": True}
    assert _with_statistics(large) == {"recipient": False, "event": False, "at": True, "email": False}
    # The times of a large table delta-encoded and not compressed; the other columns as a small table's.
    assert _codecs(small) == dict.fromkeys(["recipient", "event", "at", "email"], "SNAPPY")
    assert _codecs(large) == {
        "recipient": "SNAPPY",
        "event": "SNAPPY",
        "at": "UNCOMPRESSED",
        "email": "SNAPPY",
    }
    assert "DELTA_BINARY_PACKED" not in _encoded(small)["at"]
    assert [_encoded(large)[c] for c in ("recipient", "at")] == [{"PLAIN"}, {"DELTA_BINARY_PACKED"}]
    # An event table (written in parts from `PART_ROWS`): its text that is not categorical (ids) is not
    # compressed either.
    monkeypatch.setattr(workspace, "PART_ROWS", 4)
    workspace.commit(tmp_path / "events", {"email_events": events})
    (many,) = workspace.table_files(tmp_path / "events")["email_events"]
    assert _codecs(many) == {
        "recipient": "UNCOMPRESSED",
        "event": "SNAPPY",
        "at": "UNCOMPRESSED",
        "email": "SNAPPY",
    }
    assert _encodings(many) == _encodings(large) and _encoded(many)["recipient"] == {"PLAIN"}
    # Longer text (e-mail addresses: more than `SHORT_TEXT_BYTES` a cell on average) keeps snappy.
    addressed = events.assign(recipient=events["recipient"].str.lower() + ".name@example.com")
    workspace.commit(tmp_path / "addressed", {"email_events": addressed})
    (mailed,) = workspace.table_files(tmp_path / "addressed")["email_events"]
    assert _codecs(mailed)["recipient"] == "SNAPPY" and _codecs(mailed)["at"] == "UNCOMPRESSED"
    # Numbers of a large table: their bytes split into streams, then snappy.
    scores = pd.DataFrame(
        {
            "lead_id": pd.Series(["L1", "L2", "L1", "L3"], dtype="str"),
            "at": events["at"],
            "delta": pd.Series([5.0, -2.5, None, 1e9], dtype="float64"),
            "score": pd.Series([5.0, 12.0, 7.25, None], dtype="float64"),
        }
    )
    workspace.commit(tmp_path / "scores", {"score_changes": scores})
    (scored,) = workspace.table_files(tmp_path / "scores")["score_changes"]
    assert [_encoded(scored)[c] for c in ("delta", "score")] == [{"BYTE_STREAM_SPLIT"}] * 2
    assert [_codecs(scored)[c] for c in ("delta", "score", "at")] == ["SNAPPY", "SNAPPY", "UNCOMPRESSED"]
    got = load_tables(tmp_path / "scores")["score_changes"]
    pd.testing.assert_series_equal(got["delta"], scores["delta"])
    pd.testing.assert_series_equal(got["score"], scores["score"])
    for folder in ("small", "large", "events"):  # the same table read back either way
        got = load_tables(tmp_path / folder, compact=True)["email_events"]
        assert got["recipient"].astype("str").tolist() == ["L1", "L2", "L3", "L1"]
        assert got["event"].astype("str").tolist() == ["open", "click", "open", "open"]
        assert got["at"].tolist() == events["at"].tolist()


def _events(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "recipient": pd.Series([f"L{i % 3}" for i in range(rows)], dtype="str"),
            "event": pd.Series(["open", "click"] * (rows // 2) + ["open"] * (rows % 2), dtype="category"),
            "at": pd.Series(pd.date_range("2026-01-01", periods=rows, freq="h")),
            "email": pd.Series([f"E{i % 2}" for i in range(rows)], dtype="str").astype("category"),
        }
    )


def test_a_large_table_is_written_in_parts_and_read_back_whole_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(workspace, "PART_ROWS", 2)
    monkeypatch.setattr(workspace.os, "cpu_count", lambda: 2)
    events = _events(5)
    workspace.commit(tmp_path, {"email_events": events, "deals": pd.DataFrame({"deal_id": ["D1"]})})
    listed = read_manifest(tmp_path)["tables"]
    assert isinstance(listed["email_events"], list) and len(listed["email_events"]) == 2
    assert isinstance(listed["deals"], str)  # one file: its name, as before parts existed
    parts = workspace.table_files(tmp_path)["email_events"]
    assert [path.name for path in parts] == listed["email_events"]
    assert [pq.read_metadata(path).num_rows for path in parts] == [3, 2]
    for compact in (False, True):
        got = load_tables(tmp_path, compact=compact)["email_events"]
        assert got.index.equals(pd.RangeIndex(5))
        assert got["recipient"].astype("str").tolist() == events["recipient"].tolist()
        assert got["event"].astype("str").tolist() == events["event"].astype("str").tolist()
        assert got["email"].astype("str").tolist() == events["email"].astype("str").tolist()
        assert got["at"].tolist() == events["at"].tolist()
    assert folder_status(tmp_path, []).rows["email_events"] == 5  # every part's rows
    parted = {compact: load_tables(tmp_path, compact=compact)["email_events"] for compact in (False, True)}
    monkeypatch.setattr(workspace, "PART_ROWS", 100)
    workspace.commit(tmp_path / "one", {"email_events": events})  # the same table as one file
    assert len(workspace.table_files(tmp_path / "one")["email_events"]) == 1
    for compact, frame in parted.items():
        pd.testing.assert_frame_equal(frame, load_tables(tmp_path / "one", compact=compact)["email_events"])
    # a new version replaces every part: the old parts are removed
    workspace.commit(tmp_path, {"email_events": _events(1)})
    assert sorted(path.name for path in tmp_path.glob("email_events-*.parquet")) == [
        read_manifest(tmp_path)["tables"]["email_events"]
    ]
    assert len(load_tables(tmp_path)["email_events"]) == 1


def test_a_table_written_in_parts_that_fails_leaves_no_part(tmp_path, monkeypatch):
    monkeypatch.setattr(workspace, "PART_ROWS", 2)
    monkeypatch.setattr(workspace.os, "cpu_count", lambda: 2)
    real = pq.write_table

    def second_part_fails(table, where, **options):
        if table.num_rows == 2:  # the second of parts of 3 and 2 rows
            raise OSError("disk full")
        real(table, where, **options)

    monkeypatch.setattr(workspace.pq, "write_table", second_part_fails)
    with pytest.raises(OSError, match="disk full"):
        workspace.write_table_file(tmp_path, "email_events", _events(5))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("missing", [False, True])
def test_tables_are_written_from_the_same_arrow_table_pandas_makes(missing):
    # `workspace.arrow_table` wraps codes and ticks as they are; the table and its schema (pandas' metadata,
    # which reads the table back) are pyarrow's own conversion's, with or without missing values.
    frame = pd.DataFrame(
        {
            "recipient": pd.Series(["L1", "L2", "L3", "L1"], dtype="str"),
            "event": pd.Series(["open", "click", "open", "open"], dtype="str").astype("category"),
            "at": pd.Series(
                pd.to_datetime(
                    ["2026-01-01 10:00", "2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 23:59"]
                )
            ),
            "ms": pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"])).astype(
                "datetime64[ms]"
            ),
            "zone": pd.Series(pd.to_datetime(["2026-01-01"] * 4)).dt.tz_localize("Europe/Paris"),
            "amount": pd.Series([1.5, 2.0, 3.25, 4.0]),
            "wide": pd.Series([f"c{i}" for i in range(300)] * 2, dtype="str").astype("category")[:4],
        }
    )
    if missing:
        for column in frame.columns:
            frame.loc[1, column] = None
        frame["none"] = pd.Series([None] * 4, dtype="str").astype("category")  # every cell missing
    want = pa.Table.from_pandas(frame, preserve_index=False)
    got = workspace.arrow_table(frame)
    assert got.schema.equals(want.schema, check_metadata=True)
    assert got.equals(want)
    assert [got.column(c).null_count for c in frame.columns if c != "none"] == [int(missing)] * 7
    # no rows, or a column whose type rows would tell (object): pyarrow's own conversion
    for other in (frame.iloc[:0], frame.assign(objects=pd.Series(["a", None, "b", "c"], dtype=object))):
        want = pa.Table.from_pandas(other, preserve_index=False)
        assert workspace.arrow_table(other).equals(want)
        assert workspace.arrow_table(other).schema.equals(want.schema, check_metadata=True)
