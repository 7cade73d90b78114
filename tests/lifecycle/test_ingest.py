"""Ingestion end to end (SPEC §4): mapping, typed values, validation with reasons, duplicates, merge by key."""

from __future__ import annotations

import codecs
import json
import time

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import ingest, workspace
from lifecycle.ingest import IngestError, ingest_files, read_export
from lifecycle.mapping import ColumnMapping
from lifecycle.values import missing_mask
from lifecycle.workspace import load_tables, read_manifest
from tests.paths import MAVEN_CRM

MAVEN = MAVEN_CRM

HUBSPOT_CONTACTS = (
    b"\xef\xbb\xbfRecord ID,First Name,Email,Create Date,Original Source,Lifecycle Stage\n"
    b"101,Ann,ann@x.com,2024-01-05 10:00,Organic Search,lead\n"
    b",Bob,bob@x.com,2024-01-06,Direct,lead\n"  # row 3: no id
    b"103,Cy,cy@x.com,someday,Paid Search,mql\n"  # row 4: not a date
    b"101,Ann,ann@x.com,2024-01-07,Organic Search,mql\n"  # row 5: same id as row 2, wins
    b"104,Di,di@x.com,2024-01-08,,lead\n"  # row 6: no channel -> (not set)
    b"Grand total,,,,,\n"
)


def one(data: bytes, name: str, **kwargs):
    results = read_export(data, name, **kwargs)
    assert len(results) == 1
    return results[0]


def test_every_row_is_loaded_or_rejected_with_its_reason_and_row_number():
    got = one(HUBSPOT_CONTACTS, "contacts.csv")
    report = got.report
    assert (report.table, report.encoding, report.delimiter) == ("leads", "utf-8-sig", ",")
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 2, 3)
    assert report.rows_read == report.rows_loaded + report.rows_rejected
    assert report.rejected == {
        "lead_id: missing (column 'Record ID' is empty)": 1,
        "created_at: not a date in column 'Create Date'": 1,
        "duplicate lead_id: a later row in this file replaces it": 1,
    }
    assert report.skipped_lines == 1 and report.skipped == ["Grand total,,,,,"]
    rejected = got.rejected_rows.set_index("row")
    assert sorted(rejected.index) == [2, 3, 4]
    assert rejected.loc[4, "reason"] == "created_at: not a date in column 'Create Date': 'someday'"
    assert rejected.loc[4, "First Name"] == "Cy"  # the raw cells are kept for download


def test_loaded_rows_are_canonical_and_the_last_duplicate_wins():
    got = one(HUBSPOT_CONTACTS, "contacts.csv")
    expected = pd.DataFrame(
        {
            "lead_id": ["101", "104"],
            "created_at": pd.to_datetime(["2024-01-07", "2024-01-08"]).astype("datetime64[us]"),
            "email": ["ann@x.com", "di@x.com"],
            "channel": ["Organic Search", "(not set)"],
            "status": ["mql", "lead"],
        }
    )
    pd.testing.assert_frame_equal(
        got.frame[expected.columns.tolist()],
        expected.astype({c: "str" for c in ("lead_id", "email", "channel", "status")}),
    )
    assert got.report.duplicates == 1
    assert got.report.unmapped_headers == ["First Name"]


def test_european_spend_export_with_title_lines_semicolons_and_decimal_commas():
    data = (
        "Kampagnenbericht\n"
        "1. Januar 2024 - 31. Januar 2024\n"
        "Tag;Kampagne;Kosten\n"
        "05.01.2024;Brand;1.234,50 €\n"
        "13.01.2024;Brand;99,90 €\n"
        "Gesamt: Konto;;1.334,40 €\n"
    ).encode("cp1252")
    with pytest.raises(IngestError):
        one(data, "bericht.csv")  # German headers are not in the synonym table: said, not guessed
    mapping = ColumnMapping.from_dict(
        {"table": "spend", "columns": {"date": "Tag", "campaign": "Kampagne", "amount": "Kosten"}}
    )
    got = one(data, "bericht.csv", mapping=mapping)
    assert got.report.delimiter == ";" and got.report.encoding == "cp1252"
    assert got.frame["amount"].tolist() == [1234.5, 99.9]
    assert got.frame["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-13")]
    assert got.report.rows_read == 3 and got.report.rows_rejected == 1  # the German total row has no date


def test_utf16_survey_export_rejects_scores_outside_0_to_10():
    text = "Respondent ID\tEnd Date\tScore\tComment\nr1\t2024-02-01\t10\tGreat\nr2\t2024-02-02\t11\tOops\nr3\t2024-02-03\t6\t\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    got = one(data, "nps.tsv", table="nps")
    assert got.report.encoding.startswith("utf-16")
    assert got.frame["score"].tolist() == [10.0, 6.0]
    assert got.report.rejected == {"score: not an NPS score 0–10 in column 'Score'": 1}


def test_deal_statuses_and_types_are_normalized_and_reported():
    data = (
        b"Opportunity ID,Created Date,Close Date,Stage,Amount,Type\n"
        b"o1,2024-01-02,2024-02-01,Closed Won,1000,New Business\n"
        b"o2,2024-01-03,2024-02-02,Closed Lost,500,Existing Business\n"
        b"o3,2024-01-04,,Negotiation,700,\n"
    )
    got = one(data, "opps.csv")
    assert got.table == "deals"
    assert got.frame["status"].tolist() == ["won", "lost", "open"]
    assert got.frame["type"].tolist() == ["new", "upsell", "new"]  # empty type -> new (SPEC §3)
    assert got.report.value_mappings["status"]["Closed Won"] == "won"


def test_an_unknown_email_event_is_rejected_not_guessed():
    data = (
        b"Email Address,Event,Timestamp,Campaign\n"
        b"a@x.com,open,2024-03-01 10:00,Welcome\n"
        b"a@x.com,forwarded to a friend,2024-03-01 11:00,Welcome\n"
    )
    got = one(data, "events.csv", table="email_events")
    assert got.report.rows_loaded == 1
    assert list(got.report.rejected) == ["event: value not recognized in column 'Event'"]


def test_negative_counts_and_astronomical_amounts_are_rejected():
    data = b"Date,Sessions\n20240101,100\n20240102,-5\n20240103,1e20\n"
    got = one(data, "ga4.csv", table="web_traffic")
    assert got.frame["sessions"].tolist() == [100.0]
    assert got.report.rows_rejected == 2


def test_maven_crm_pipeline_ingests_without_a_mapping_and_every_row_is_accounted_for():
    got = one((MAVEN / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    report = got.report
    assert report.table == "deals"
    assert report.columns == {
        "deal_id": "opportunity_id",
        "created_at": "engage_date",
        "closed_at": "close_date",
        "status": "deal_stage",
        "amount": "close_value",
        "account": "account",
    }
    # 8,800 opportunities; the 500 Prospecting ones have no engage_date (required created_at).
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (8800, 8300, 500)
    assert report.rejected == {"created_at: missing (column 'engage_date' is empty)": 500}
    assert got.frame["status"].value_counts().to_dict() == {"won": 4238, "lost": 2473, "open": 1589}
    assert got.frame["created_at"].min() == pd.Timestamp("2016-10-20")
    assert got.frame["closed_at"].max() == pd.Timestamp("2017-12-31")


def test_maven_crm_with_the_spec_mapping_file_format(tmp_path):
    mapping_file = tmp_path / "maven.json"
    mapping_file.write_text(
        json.dumps(
            {
                "table": "deals",
                "columns": {
                    "deal_id": "opportunity_id",
                    "created_at": "engage_date",
                    "closed_at": "close_date",
                    "status": "deal_stage",
                    "amount": "close_value",
                },
                "values": {"status": {"Engaging": "open", "Prospecting": "open"}},
                "defaults": {"type": "new"},
                "dates": "monthfirst",
            }
        )
    )
    got = one(
        (MAVEN / "sales_pipeline.csv").read_bytes(),
        "sales_pipeline.csv",
        mapping=ColumnMapping.load(mapping_file),
    )
    assert got.report.rows_loaded == 8300
    assert set(got.frame["type"]) == {"new"}
    assert got.frame.loc[got.frame["deal_id"] == "1C1I7A6R", "closed_at"].item() == pd.Timestamp("2017-03-01")


def test_a_second_file_of_the_same_table_merges_by_key(tmp_path):
    first = tmp_path / "jan.csv"
    first.write_bytes(b"Record ID,Create Date,Email\n1,2024-01-01,a@x.com\n2,2024-01-02,b@x.com\n")
    second = tmp_path / "feb.csv"
    second.write_bytes(b"Record ID,Create Date,Email\n2,2024-01-02,b@new.com\n3,2024-02-01,c@x.com\n")
    ws = tmp_path / "ws"
    results, errors = ingest_files([first], ws)
    assert errors == []
    results, errors = ingest_files([second], ws)
    assert results[0].report.replaced == 1
    leads = load_tables(ws)["leads"].set_index("lead_id")
    assert leads["email"].to_dict() == {"1": "a@x.com", "2": "b@new.com", "3": "c@x.com"}
    assert [f["file"] for f in read_manifest(ws)["files"]] == ["jan.csv", "feb.csv"]


def test_tables_are_written_as_their_files_are_read_and_merged_when_two_files_bring_one(
    tmp_path, monkeypatch
):
    # Each file's table is written as soon as it is read; deals (one file) keep that early file, leads (two
    # files in the same call) are merged by key and written again, and the early leads files are removed.
    (tmp_path / "jan.csv").write_bytes(
        b"Record ID,Create Date,Email\n1,2024-01-01,a@x.com\n2,2024-01-02,b@x.com\n"
    )
    (tmp_path / "feb.csv").write_bytes(
        b"Record ID,Create Date,Email\n2,2024-01-02,b@new.com\n3,2024-02-01,c@x.com\n"
    )
    (tmp_path / "deals.csv").write_bytes(
        b"Deal ID,Create Date,Deal Stage,Amount\nD1,2024-01-05,closedwon,100\n"
    )
    written: list[str] = []
    real = workspace.write_table_file

    def counted(folder, name, frame):
        written.append(name)
        return real(folder, name, frame)

    monkeypatch.setattr(workspace, "write_table_file", counted)
    ws = tmp_path / "ws"
    results, errors = ingest_files([tmp_path / "jan.csv", tmp_path / "deals.csv", tmp_path / "feb.csv"], ws)
    assert errors == [] and [r.table for r in results] == ["leads", "deals", "leads"]
    assert sorted(written) == ["deals", "leads", "leads", "leads"]
    assert results[2].report.replaced == 1
    tables = load_tables(ws)
    assert tables["leads"].set_index("lead_id")["email"].to_dict() == {
        "1": "a@x.com",
        "2": "b@new.com",
        "3": "c@x.com",
    }
    assert tables["deals"]["deal_id"].tolist() == ["D1"]
    assert sorted(path.name.split("-")[0] for path in ws.glob("*.parquet")) == ["deals", "leads"]
    assert set(read_manifest(ws)["tables"]) == {"leads", "deals"}


def test_an_ingest_that_fails_after_a_table_was_written_early_leaves_nothing(tmp_path, monkeypatch):
    # deals are written as soon as their file is read; the leads file then fails with an unexpected error: the
    # early file and the folder the ingest created are removed, so nothing of the failed ingest stays.
    (tmp_path / "deals.csv").write_bytes(
        b"Deal ID,Create Date,Deal Stage,Amount\nD1,2024-01-05,closedwon,100\n"
    )
    (tmp_path / "leads.csv").write_bytes(b"Record ID,Create Date\n1,2024-01-01\n")
    written: list[str] = []
    real_write, real_read = workspace.write_table_file, ingest.read_export_file

    def write(folder, name, frame):
        written.append(name)
        return real_write(folder, name, frame)

    def read(path, **kwargs):
        if str(path).endswith("leads.csv"):
            while not written:  # the deals file is read (and written) on the other thread first
                time.sleep(0.01)
            raise RuntimeError("out of memory")
        return real_read(path, **kwargs)

    monkeypatch.setattr(workspace, "write_table_file", write)
    monkeypatch.setattr(ingest, "read_export_file", read)
    ws = tmp_path / "ws"
    with pytest.raises(RuntimeError, match="out of memory"):
        ingest_files([tmp_path / "leads.csv", tmp_path / "deals.csv"], ws)
    assert written == ["deals"] and not ws.exists()


def test_an_unrecognizable_file_says_what_it_saw_and_writes_nothing(tmp_path):
    bad = tmp_path / "products.csv"
    bad.write_bytes(b"product,series,sales_price\nGTX,GT,550\n")
    results, errors = ingest_files([bad], tmp_path / "ws")
    assert results == []
    assert "product" in errors[0] and "sales_price" in errors[0] and "mapping" in errors[0]
    assert not (tmp_path / "ws").exists()


# ---------------------------------------------------------------------------------------------- property

VALID_DEALS = [
    "Deal ID,Create Date,Close Date,Deal Stage,Amount",
    "D1,2024-01-05,2024-02-01,closedwon,100",
    "D2,2024-01-06,,appointmentscheduled,200",
    "D3,2024-01-07,2024-03-01,closedlost,0",
    "D4,2024-01-08,2024-03-02,closedwon,1250.5",
    "D5,2024-01-09,,qualifiedtobuy,75",
]

garbage_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x85\u2028\u2029"),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    insertions=st.lists(
        st.tuples(st.integers(min_value=1, max_value=len(VALID_DEALS)), garbage_line), max_size=5
    )
)
def test_garbage_lines_never_lose_rows_silently(insertions):
    lines = list(VALID_DEALS)
    for position, garbage in sorted(insertions, key=lambda x: -x[0]):
        lines.insert(position, garbage)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        results = read_export(data, "deals.csv", table="deals")
    except IngestError as exc:  # e.g. garbage that makes the file unreadable: a message, never a traceback
        assert "deals.csv" in str(exc)
        return
    for got in results:
        report = got.report
        assert report.rows_read == report.rows_loaded + report.rows_rejected
        assert len(got.frame) == report.rows_loaded and len(got.rejected_rows) == report.rows_rejected
        assert sum(report.rejected.values()) == report.rows_rejected
        if not any('"' in g for _, g in insertions):
            # Without quotes no line can swallow another: each valid deal is loaded or listed as rejected.
            listed = got.rejected_rows.astype(str).to_string()
            for line in VALID_DEALS[1:]:
                deal = line.split(",")[0]
                assert deal in set(got.frame["deal_id"]) or deal in listed


def test_missing_values_are_found_in_every_kind_of_column_and_none_means_none_missing():
    columns = {
        "category": (pd.Series(["a", None, "b"], dtype="str").astype("category"), [False, True, False]),
        "datetime": (
            pd.Series(["2026-01-01", None, "2026-01-03"], dtype="datetime64[us]"),
            [False, True, False],
        ),
        "str": (pd.Series(["x", None, "z"], dtype="str"), [False, True, False]),
        "float": (pd.Series([1.0, None, 3.0], dtype="float64"), [False, True, False]),
    }
    for name, (values, missing) in columns.items():
        assert missing_mask(values).tolist() == missing, name
        complete = values.iloc[[0, 2]].reset_index(drop=True)
        found = missing_mask(complete)
        assert found is None or not found.any(), name
        assert missing_mask(values.iloc[:0]) is None or not len(missing_mask(values.iloc[:0])), name
    # Told without a mask where the column says so itself.
    assert missing_mask(pd.Series(["a", "b"], dtype="str").astype("category")) is None
    assert missing_mask(pd.Series(["2026-01-01"], dtype="datetime64[us]")) is None
    assert missing_mask(pd.Series(["a", "b"], dtype="str")) is None
