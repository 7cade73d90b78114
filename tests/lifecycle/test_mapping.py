"""Table detection and column mapping (SPEC §4 step 5): synonyms, patterns, fuzzy matches, saved mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lifecycle.ingest import read_export
from lifecycle.mapping import (
    ColumnMapping,
    MappingError,
    apply_mapping,
    detect_table,
    header_key,
    match_columns,
)

SPEC_MAPPING = {
    "table": "deals",
    "columns": {
        "deal_id": "opportunity_id",
        "created_at": "engage_date",
        "closed_at": "close_date",
        "status": "deal_stage",
        "amount": "close_value",
    },
    "values": {"status": {"Engaging": "open"}},
    "defaults": {"type": "new"},
    "dates": "monthfirst",
}

# A HubSpot "all properties" contact export carries deal-like headers too (Close Date, Status, Recent Deal
# Amount); header list as exported, from a public repository's check script (see tests/fixtures/vendors/README.md).
HUBSPOT_ALL_CONTACT_PROPERTIES = [
    "Record ID", "First Name", "Last Name", "Annual Revenue", "Became a Customer Date", "Became a Lead Date",
    "Became a Marketing Qualified Lead Date", "Became a Sales Qualified Lead Date", "Became an Opportunity Date",
    "City", "Close Date", "Company Name", "Contact owner", "Country/Region", "Create Date", "Days To Close",
    "Email", "First Conversion", "First Deal Created Date", "HubSpot Score", "Industry", "Job Title",
    "Last Activity Date", "Latest Source", "Lead Status", "Lifecycle Stage", "Number of Associated Deals",
    "Original Source", "Original Source Drill-Down 1", "Original Source Drill-Down 2", "Persona", "Phone Number",
    "Recent Deal Amount", "Recent Deal Close Date", "Start date", "Status", "Total Revenue", "Associated Company",
    "Associated Deal", "Associated Company IDs", "Associated Deal IDs",
]  # fmt: skip
HUBSPOT_DEALS = ["Record ID", "Deal Name", "Deal Stage", "Close Date", "Deal owner", "Amount", "Create Date",
                 "Pipeline", "Deal Type", "Associated Company"]  # fmt: skip


def test_saved_mapping_file_loads_with_its_values_defaults_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(SPEC_MAPPING), encoding="utf-8")
    mapping = ColumnMapping.load(path)
    assert (mapping.table, mapping.columns, mapping.values, mapping.defaults, mapping.dates) == (
        "deals",
        SPEC_MAPPING["columns"],
        {"status": {"Engaging": "open"}},
        {"type": "new"},
        "monthfirst",
    )
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping


def test_mapping_defaults_to_automatic_dates_and_no_values() -> None:
    mapping = ColumnMapping.from_dict({"table": "leads", "columns": {"lead_id": "Id"}})
    assert (mapping.dates, mapping.values, mapping.defaults) == ("auto", {}, {})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"table": "opportunities"}, "'table' must be one of"),
        ({"table": "deals", "columns": {"deal_value": "x"}}, "deals has no column 'deal_value'"),
        ({"table": "deals", "defaults": {"currency": "EUR"}}, "deals has no column 'currency'"),
    ],
)
def test_mapping_with_an_unknown_table_or_column_is_refused(data: dict, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        ColumnMapping.from_dict(data)


def test_mapping_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text("{table: deals", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid JSON"):
        ColumnMapping.load(path)


def test_apply_mapping_uses_the_named_headers_and_finds_the_rest_by_synonym() -> None:
    headers = ["opportunity_id", "Engage Date", "close_date", "deal_stage", "close_value", "Lead Source"]
    mapping = ColumnMapping.from_dict(
        {**SPEC_MAPPING, "columns": {**SPEC_MAPPING["columns"], "created_at": "ENGAGE_DATE"}}
    )
    found = apply_mapping(headers, mapping, "pipeline.csv")
    assert found.columns == {
        "deal_id": "opportunity_id",
        "created_at": "Engage Date",  # named case- and punctuation-insensitively
        "closed_at": "close_date",
        "status": "deal_stage",
        "amount": "close_value",
        "channel": "Lead Source",  # not in the mapping: found by synonym
    }


def test_apply_mapping_names_the_missing_header() -> None:
    mapping = ColumnMapping.from_dict({"table": "deals", "columns": {"deal_id": "Opportunity Number"}})
    with pytest.raises(
        MappingError, match="maps deal_id to 'Opportunity Number', but the file has no such column"
    ):
        apply_mapping(["Id", "Created", "Stage"], mapping, "opps.csv")


def test_apply_mapping_refuses_to_leave_a_required_column_unmapped_but_a_default_fills_it() -> None:
    headers = ["Opportunity ID", "Created Date", "Amount"]
    with pytest.raises(MappingError, match="leaves required column\\(s\\) status unmapped"):
        apply_mapping(headers, ColumnMapping.from_dict({"table": "deals"}), "opps.csv")
    found = apply_mapping(
        headers, ColumnMapping.from_dict({"table": "deals", "defaults": {"status": "open"}}), "x"
    )
    assert set(found.columns) == {"deal_id", "created_at", "amount"}


def test_mapping_values_and_dates_override_what_ingest_would_guess() -> None:
    data = (
        b"opportunity_id,engage_date,close_date,deal_stage,close_value\n"
        b"A1,03/04/2024,05/06/2024,Engaging,\n"
        b"A2,03/05/2024,,Signed,1200\n"
    )
    mapping = ColumnMapping.from_dict(
        {**SPEC_MAPPING, "values": {"status": {"Signed": "won"}}, "dates": "dayfirst"}
    )
    got = read_export(data, "pipeline.csv", mapping=mapping)[0]
    assert got.frame["status"].tolist() == ["open", "won"]
    assert got.frame["type"].tolist() == ["new", "new"]
    # 03/04/2024 is ambiguous; the mapping says day first, so it is the 3rd of April.
    assert got.frame["created_at"].tolist() == [pd.Timestamp("2024-04-03"), pd.Timestamp("2024-05-03")]


def test_a_misspelt_header_is_matched_approximately_and_flagged() -> None:
    found = match_columns("leads", ["Record ID", "Creat Date", "Email"])
    assert found.columns["created_at"] == "Creat Date"
    assert found.fuzzy == {"created_at": "Creat Date"}
    got = read_export(b"Record ID,Creat Date,Email\n1,2024-01-05,a@x.com\n", "contacts.csv")[0]
    assert (
        "column 'Creat Date' matched to created_at approximately — check the mapping" in got.report.warnings
    )


@pytest.mark.parametrize(
    ("table", "header"),
    [("leads", "campaignId"), ("deals", "Associated Contact IDs"), ("leads", "Emails")],
)
def test_a_header_that_only_adds_a_suffix_to_a_synonym_is_not_a_fuzzy_match(table: str, header: str) -> None:
    # 'campaignId' is the id beside a campaign name, 'Contact IDs' a list beside one id: other fields, not typos.
    assert header not in match_columns(table, [header]).columns.values()


def test_unrecognizable_headers_raise_an_error_naming_headers_closest_table_and_an_example() -> None:
    headers = ["Visitor", "Landed", "Page", "Referrer"]
    with pytest.raises(MappingError) as err:
        detect_table(headers, "weblog.csv")
    message = str(err.value)
    assert message.startswith("weblog.csv: could not tell which table this file holds.")
    assert "Headers seen: 'Visitor', 'Landed', 'Page', 'Referrer'." in message
    assert "Closest table: " in message
    assert '"columns": {' in message and "<header in your file>" in message


def test_closest_table_is_the_one_with_most_columns_found() -> None:
    with pytest.raises(
        MappingError, match=r"Closest table: leads \(found lead_id ← 'Record ID', email ← 'Email'"
    ):
        detect_table(["Record ID", "Email", "Favourite colour"], "contacts.csv")


def test_hubspot_contacts_with_deal_like_headers_are_leads_and_deals_are_deals() -> None:
    # Record ID, Create Date, Close Date and Status fit deals as well; the whole header set decides.
    contacts = detect_table(HUBSPOT_ALL_CONTACT_PROPERTIES, "contacts.csv")
    assert contacts.table == "leads"
    assert contacts.columns["lead_id"] == "Record ID" and contacts.columns["created_at"] == "Create Date"
    deals = detect_table(HUBSPOT_DEALS, "deals.csv")
    assert deals.table == "deals"
    assert deals.columns["status"] == "Deal Stage" and deals.columns["closed_at"] == "Close Date"


def test_forced_table_reports_what_it_could_not_find() -> None:
    assert detect_table(HUBSPOT_DEALS, "deals.csv", forced="deals").table == "deals"
    with pytest.raises(
        MappingError, match="read as 'customers', but no column was found for customer_id, started_at"
    ):
        detect_table(HUBSPOT_DEALS, "deals.csv", forced="customers")
    with pytest.raises(MappingError, match="unknown table 'opps'"):
        detect_table(HUBSPOT_DEALS, "deals.csv", forced="opps")


def test_typeform_hash_column_is_the_respondent() -> None:
    assert header_key("#") == "#" and header_key(" Record-ID ") == "record id"
    found = match_columns("nps", ["#", "Submit Date (UTC)", "NPS"])
    assert found.columns == {"respondent": "#", "responded_at": "Submit Date (UTC)", "score": "NPS"}


def test_nps_question_text_with_a_company_name_is_the_score() -> None:
    question = "How likely is it that you'd recommend ACME Corp. to a colleague?"
    reason = "What is the main reason for your rating?"
    found = match_columns("nps", ["Respondent ID", "End Date", question, reason])
    assert (found.columns["score"], found.columns["comment"]) == (question, reason)


def test_qualtrics_question_id_is_the_score_only_beside_its_nps_group() -> None:
    base = ["ResponseId", "RecordedDate"]
    assert "score" not in match_columns("nps", [*base, "Q1", "Q2"]).columns
    assert match_columns("nps", [*base, "Q1", "Q7", "Q7_NPS_GROUP"]).columns["score"] == "Q7"


def test_a_lone_source_column_is_the_channel_but_stays_source_beside_a_channel() -> None:
    assert match_columns("leads", ["id", "created_at", "source"]).columns["channel"] == "source"
    both = match_columns("leads", ["lead_id", "created_at", "channel", "source"]).columns
    assert (both["channel"], both["source"]) == ("channel", "source")


def test_canonical_column_names_map_onto_themselves() -> None:
    headers = [
        "deal_id",
        "created_at",
        "closed_at",
        "status",
        "amount",
        "type",
        "lead_id",
        "account",
        "channel",
    ]
    found = detect_table(headers, "deals.csv")
    assert found.table == "deals"
    assert found.columns == {h: h for h in headers}
