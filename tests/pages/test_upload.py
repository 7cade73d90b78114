"""Uploads on the Data page: a good file joins the workspace, a bad one is refused with a clear message."""

from __future__ import annotations

import json

from conftest import click, open_page, plain, upload
from streamlit.testing.v1 import AppTest

# Four deals; the third has a close date that is not a date and is rejected with its reason.
DEALS_CSV = b"""Deal ID,Create Date,Close Date,Deal Stage,Amount,Deal Type
D1,2026-07-01,2026-08-15,Closed Won,12000,New Business
D2,2026-07-03,2026-08-20,Closed Lost,8000,New Business
D3,2026-07-09,soon,Closed Won,5000,Existing Business
D4,2026-08-01,,Appointment Scheduled,3000,New Business
"""
# A spreadsheet of notes: no canonical table can be recognized in it.
NOTES_CSV = b"""Topic,Owner,Remark
Q3 offsite,Ana,book the room
Budget,Luis,send by Friday
"""


def test_uploading_a_good_file_replaces_the_sample_with_it(app_test: AppTest) -> None:
    at = upload(open_page(app_test, "data"), ("deals.csv", DEALS_CSV))
    assert not at.exception and not at.error
    ws = at.session_state["workspace"]
    assert ws.source == "uploads" and [f.name for f in ws.files] == ["deals.csv"]
    [summary] = [d for d in at.dataframe if "rows read" in d.value.columns]
    row = summary.value.iloc[0]
    assert (row["table"], row["rows read"], row["loaded"], row["rejected"]) == ("deals", 4, 3, 1)
    tables = at.session_state["_built"].tables
    assert sorted(tables) == ["deals"] and len(tables["deals"]) == 3
    assert "Your uploads (1 file)" in " ".join(m.value for m in at.sidebar.markdown)


def test_rejected_rows_are_listed_with_their_reason_and_downloadable(app_test: AppTest) -> None:
    at = upload(open_page(app_test, "data"), ("deals.csv", DEALS_CSV))
    [rejected] = [d for d in at.dataframe if "reason" in d.value.columns and "Deal ID" in d.value.columns]
    assert rejected.value["Deal ID"].tolist() == ["D3"]
    assert "closed_at" in rejected.value["reason"].iloc[0]
    assert any(b.label == "Download CSV" for b in at.get("download_button"))


def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_else_is_lost(app_test: AppTest) -> None:
    at = upload(open_page(app_test, "data"), ("deals.csv", DEALS_CSV))
    at = upload(at, ("notes.csv", NOTES_CSV))
    assert not at.exception
    [error] = at.error
    assert plain(error.value).startswith("Not loaded — notes.csv: could not tell which table")
    assert [f.name for f in at.session_state["workspace"].files] == ["deals.csv"]
    assert len(at.session_state["_built"].tables["deals"]) == 3


def test_several_files_upload_at_once_and_reset_brings_the_sample_back(app_test: AppTest) -> None:
    at = open_page(app_test, "data")
    sample_files = len(at.session_state["workspace"].files)
    at = upload(at, ("deals.csv", DEALS_CSV), ("notes.csv", NOTES_CSV))
    assert [f.name for f in at.session_state["workspace"].files] == ["deals.csv"]
    assert len(at.error) == 1
    at = click(at, "Reset to the sample data")
    assert at.session_state["workspace"].source == "sample"
    assert len(at.session_state["workspace"].files) == sample_files


def test_a_loaded_mapping_file_rereads_the_file_with_it(app_test: AppTest) -> None:
    at = upload(open_page(app_test, "data"), ("deals.csv", DEALS_CSV))
    # Date the deals by their close date and call every deal an upsell: D3 ("soon") and D4 (no close date)
    # then have no creation date and are rejected; D1 and D2 are created on 15 and 20 August.
    mapping = {"table": "deals", "columns": {"created_at": "Close Date"}, "defaults": {"type": "upsell"}}
    [loader] = [u for u in at.file_uploader if u.label == "Load a mapping file"]
    at = loader.set_value(("mapping.json", json.dumps(mapping).encode(), "application/json")).run()
    assert not at.exception and not at.error
    assert at.session_state["workspace"].files[0].mapping["defaults"] == {"type": "upsell"}
    deals = at.session_state["_built"].tables["deals"]
    assert deals["deal_id"].tolist() == ["D1", "D2"] and set(deals["type"]) == {"upsell"}
    assert deals["created_at"].dt.strftime("%Y-%m-%d").tolist() == ["2026-08-15", "2026-08-20"]
