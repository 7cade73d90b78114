"""`python -m lifecycle ingest` as SPEC §6 specifies it: report shape, workspace, exit status 2."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import pandas as pd

from lifecycle import cli
from lifecycle.metrics import store
from lifecycle.workspace import load_tables

ROOT = Path(__file__).resolve().parents[2]
SPEC_KEYS = {
    "file", "table", "rows_read", "rows_loaded", "rows_rejected", "rejected", "skipped_lines", "columns",
    "dates", "encoding", "delimiter", "warnings",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lifecycle", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ingest_json_report_has_the_spec_shape_and_writes_parquet(tmp_path):
    export = tmp_path / "deals.csv"
    export.write_text(
        "Deal ID,Create Date,Close Date,Deal Stage,Amount\n"
        "D1,2024-01-05,2024-02-01,closedwon,100\n"
        "D2,2024-01-06,,appointmentscheduled,oops\n"
        "=HYPERLINK(\"http://x\"),2024-01-07,,closedwon,\n",
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    done = run("ingest", str(export), "--out", str(ws), "--json")
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert set(report) >= SPEC_KEYS
    assert (report["table"], report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == ("deals", 3, 2, 1)
    assert report["rejected"] == {"amount: not a number in column 'Amount'": 1}
    assert report["columns"]["deal_id"] == "Deal ID"
    deals = load_tables(ws)["deals"]
    assert sorted(deals["deal_id"]) == ["=HYPERLINK(\"http://x\")", "D1"]
    rejected = pd.read_csv(ws / "rejected" / "deals.rejected.csv", dtype=str)
    assert rejected.loc[0, "row"] == "3" and rejected.loc[0, "Amount"] == "oops"


def test_ingest_lets_the_rows_it_read_go_before_it_derives_the_facts(tmp_path, monkeypatch, capsys):
    # At a million leads, deriving the facts with the ingested rows still held peaked at 4,731 MB, 3,184 MB without.
    export = tmp_path / "deals.csv"
    export.write_text(
        "Deal ID,Create Date,Deal Stage,Amount\nD1,2024-01-05,closedwon,100\nD2,2024-01-06,closedwon,oops\n",
        encoding="utf-8",
    )
    read: list[weakref.ref] = []
    alive_then: list[int] = []
    ingest, derive = cli.ingest_files, store.open_facts

    def ingest_files(*args, **kwargs):
        results, errors = ingest(*args, **kwargs)
        read.extend(weakref.ref(item.frame) for item in results)
        return results, errors

    def open_facts(folder, **kwargs):
        gc.collect()
        alive_then.append(sum(ref() is not None for ref in read))
        return derive(folder, **kwargs)

    monkeypatch.setattr(cli, "ingest_files", ingest_files)
    monkeypatch.setattr(store, "open_facts", open_facts)
    assert cli.main(["ingest", str(export), "--out", str(tmp_path / "ws")]) == 0
    assert len(read) == 1 and alive_then == [0]
    # What is reported after the facts still comes from the reports and the rejected rows.
    assert "read 2, loaded 1, rejected 1" in capsys.readouterr().out
    assert (tmp_path / "ws" / "rejected" / "deals.rejected.csv").exists()


def test_rejected_rows_download_neutralizes_spreadsheet_formulas(tmp_path):
    export = tmp_path / "leads.csv"
    export.write_text("Record ID,Create Date,Email\n=1+1,not a date,@SUM(A1)\n", encoding="utf-8")
    done = run("ingest", str(export), "--out", str(tmp_path / "ws"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "ws" / "rejected" / "leads.rejected.csv").read_text(encoding="utf-8")
    assert "'=1+1" in text and "'@SUM(A1)" in text


def test_an_unrecognizable_file_exits_2_names_what_it_saw_and_writes_nothing(tmp_path):
    export = tmp_path / "products.csv"
    export.write_text("product,series,sales_price\nGTX Basic,GTX,550\n", encoding="utf-8")
    ws = tmp_path / "ws"
    done = run("ingest", str(export), "--out", str(ws), "--json")
    assert done.returncode == 2
    assert "products.csv" in done.stderr and "sales_price" in done.stderr and "--as" in done.stderr
    assert not ws.exists()


def test_as_and_mapping_options_force_the_table(tmp_path):
    export = tmp_path / "weird.csv"
    export.write_text("Ident,When,Stage\nx1,03/25/2024,Won\n", encoding="utf-8")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"table": "deals", "columns": {"deal_id": "Ident", "created_at": "When", "status": "Stage"}}))
    done = run("ingest", str(export), "--mapping", str(mapping), "--out", str(tmp_path / "ws"), "--json")
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert report["dates"] == "monthfirst"
    assert load_tables(tmp_path / "ws")["deals"]["created_at"].tolist() == [pd.Timestamp("2024-03-25")]
