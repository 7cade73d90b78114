"""The app's per-user state without Streamlit: workspace files, data status, selection, editor helpers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lifecycle.session import (
    Selection,
    Workspace,
    data_status,
    file_headers,
    format_bytes,
    loaded_file,
    mapping_editor_frame,
    mapping_from_choices,
    rejected_reasons,
    sample_workspace,
    trailing_months,
)

LEADS = b"Record ID,Create Date\n1,2026-01-05\n"


def test_the_first_upload_replaces_the_sample_and_later_ones_add_to_it() -> None:
    sample = Workspace("sample", (loaded_file("a.csv", b"x"),))
    first = sample.with_file(loaded_file("leads.csv", LEADS))
    assert (first.source, [f.name for f in first.files]) == ("uploads", ["leads.csv"])
    second = first.with_file(loaded_file("deals.csv", b"y")).with_file(loaded_file("leads.csv", LEADS))
    assert [f.name for f in second.files] == [
        "deals.csv",
        "leads.csv",
    ]  # same file again: replaced, not doubled
    assert [f.name for f in second.without(0).files] == ["leads.csv"]


def test_the_workspace_key_changes_with_content_and_mapping_only() -> None:
    ws = Workspace("uploads", (loaded_file("leads.csv", LEADS),))
    assert ws.key == Workspace("uploads", (loaded_file("leads.csv", LEADS),)).key
    remapped = ws.remapped(0, "leads", {"table": "leads", "columns": {}, "dates": "dayfirst"})
    assert remapped.key != ws.key
    assert Workspace("uploads", (loaded_file("leads.csv", LEADS + b"2,2026-01-06\n"),)).key != ws.key


def test_sample_workspace_reads_the_export_files_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "b_deals.csv").write_bytes(b"1")
    (tmp_path / "a_contacts.xlsx").write_bytes(b"2")
    (tmp_path / "README.md").write_text("not an export")
    ws = sample_workspace(tmp_path)
    assert (ws.source, [f.name for f in ws.files]) == ("sample", ["a_contacts.xlsx", "b_deals.csv"])
    assert sample_workspace(tmp_path / "missing").files == ()


def test_data_status_counts_rows_and_spans_the_dates_of_every_table() -> None:
    tables = {
        "leads": pd.DataFrame({"created_at": pd.to_datetime(["2025-03-02", "2026-01-09"])}),
        "spend": pd.DataFrame({"date": pd.to_datetime(["2024-12-01"]), "amount": [5.0]}),
    }
    status = data_status(tables, "uploads", 2)
    assert status.rows == {"leads": 2, "spend": 1}
    assert status.range_label() == "Dec 2024 – Jan 2026"
    assert status.source_label() == "Your uploads (2 files)"
    assert data_status({}, "uploads", 0).source_label() == "Empty workspace"


def test_selection_params_leave_out_defaults_and_compare_with_the_right_month() -> None:
    assert Selection("2026-03").params() == {"month": "2026-03"}
    assert Selection("2026-03", "Email", "yoy").params() == {
        "month": "2026-03",
        "channel": "Email",
        "compare": "yoy",
    }
    assert Selection("2026-03").compare_month == "2026-02"
    assert Selection("2026-03", compare="yoy").compare_month == "2025-03"
    assert Selection(None).compare_month is None


def test_trailing_months_end_with_the_selected_month() -> None:
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert trailing_months(months, "2026-03", 2) == ["2026-02", "2026-03"]
    assert trailing_months(months, None, 2) == []


def test_mapping_editor_rows_and_the_mapping_they_give() -> None:
    frame = mapping_editor_frame("deals", {"deal_id": "Opportunity ID"})
    assert frame.loc[frame["column"].eq("deal_id"), "source header"].item() == "Opportunity ID"
    assert frame.loc[frame["column"].eq("status"), "required"].item()
    mapping = mapping_from_choices(
        "deals", {"deal_id": "Opportunity ID", "amount": None, "type": " "}, "dayfirst"
    )
    assert mapping == {"table": "deals", "columns": {"deal_id": "Opportunity ID"}, "dates": "dayfirst"}
    assert file_headers({"deal_id": "Opportunity ID"}, ["Owner", "Opportunity ID"]) == [
        "Opportunity ID",
        "Owner",
    ]


def test_rejected_reasons_most_frequent_first_and_sizes_in_words() -> None:
    reasons = rejected_reasons({"created_at: not a date": 2, "deal_id: missing": 5})
    assert reasons["reason"].tolist() == ["deal_id: missing", "created_at: not a date"]
    assert (format_bytes(512), format_bytes(2048), format_bytes(3 * 1024**3 // 2)) == (
        "512 bytes",
        "2 KB",
        "1.5 GB",
    )
