"""Every vendor format of SPEC §4 loads with no mapping: table and columns detected, rows accounted, values right.

The corpus (tests/fixtures/vendors, written by make_vendors.py) holds one realistic export per tool; what
ingest must make of each file is in expected.json, worked out by hand from the rows in make_vendors.py.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from lifecycle.ingest import Ingested, IngestError, read_export
from tests.paths import MAVEN_CRM

VENDORS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
EXPECTED: dict[str, dict] = json.loads((VENDORS / "expected.json").read_text(encoding="utf-8"))["files"]
MAVEN = MAVEN_CRM


@cache
def ingest(name: str) -> Ingested:
    results = read_export((VENDORS / name).read_bytes(), name)
    assert len(results) == 1, f"{name}: expected one table, got {[r.table for r in results]}"
    return results[0]


def test_every_corpus_file_has_an_expectation_and_every_expectation_a_file() -> None:
    on_disk = {p.name for p in VENDORS.iterdir() if p.suffix in (".csv", ".xlsx", ".tsv", ".txt")}
    assert on_disk == set(EXPECTED)


def test_the_corpus_covers_every_tool_of_spec_section_4() -> None:
    tools = " ".join(e["tool"] for e in EXPECTED.values()).lower()
    for tool in ("hubspot", "salesforce", "marketo", "pardot", "mautic", "mailchimp", "ga4", "google ads",
                 "linkedin", "delighted", "qualtrics", "surveymonkey", "typeform", "stripe", "chargebee"):  # fmt: skip
        assert tool in tools, tool


def test_the_generator_reproduces_the_committed_bytes() -> None:
    spec = importlib.util.spec_from_file_location("make_vendors", VENDORS / "make_vendors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, make in module.FILES.items():
        assert make() == (VENDORS / name).read_bytes(), f"{name} differs from make_vendors.py's output"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_table_and_columns_are_detected_with_no_mapping(name: str) -> None:
    want = EXPECTED[name]
    got = ingest(name)
    assert got.table == want["table"]
    assert got.report.columns == want["columns"]
    assert not any("approximately" in w for w in got.report.warnings), got.report.warnings


@pytest.mark.parametrize("name", list(EXPECTED))
def test_file_is_read_with_its_encoding_delimiter_and_skipped_lines(name: str) -> None:
    want = EXPECTED[name]
    report = ingest(name).report
    assert (report.encoding, report.delimiter, report.skipped_lines) == (
        want["encoding"],
        want["delimiter"],
        want["skipped_lines"],
    )


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_row_is_loaded_or_rejected_with_a_reason(name: str) -> None:
    want = EXPECTED[name]
    report = ingest(name).report
    assert report.rows_read == report.rows_loaded + report.rows_rejected
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (
        want["rows_read"],
        want["rows_loaded"],
        want["rows_rejected"],
    )
    assert report.rejected == want["rejected"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_parsed_values_match_the_export(name: str) -> None:
    frame = ingest(name).frame
    for row, column, value in EXPECTED[name]["values"]:
        got = frame.loc[row, column]
        where = f"{name} row {row} {column}"
        if value is None:
            assert pd.isna(got), f"{where}: {got!r} is not empty"
        elif frame[column].dtype.kind == "M":
            assert got == pd.Timestamp(value), where
        elif isinstance(value, float):
            assert got == pytest.approx(value), where
        else:
            assert got == value, where


def test_files_of_unrelated_tables_stay_unrecognized() -> None:
    for name in ("accounts.csv", "products.csv", "sales_teams.csv"):
        with pytest.raises(IngestError, match="could not tell which table"):
            read_export((MAVEN / name).read_bytes(), name)


def test_maven_pipeline_is_detected_as_deals() -> None:
    got = read_export((MAVEN / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")[0]
    assert got.table == "deals"
    assert got.report.columns == {
        "deal_id": "opportunity_id",
        "created_at": "engage_date",
        "closed_at": "close_date",
        "status": "deal_stage",
        "amount": "close_value",
        "account": "account",
    }


def test_salesforce_footer_lines_are_skipped_but_a_stray_last_line_without_a_footer_is_rejected() -> None:
    header = '"Lead ID","Create Date","Email"\r\n"00Q1","1/4/2024 9:12 AM","a@x.com"\r\n'
    footer = '\r\n"Leads Q1"\r\n"Confidential Information - Do Not Distribute"\r\n"Northwind Inc."\r\n'
    got = read_export((header + footer).encode("cp1252"), "report.csv")[0].report
    assert (got.rows_read, got.rows_loaded, got.skipped_lines) == (1, 1, 3)
    stray = read_export((header + '"Leads Q1"\r\n').encode("cp1252"), "report.csv")[0].report
    assert (stray.rows_read, stray.rows_rejected, stray.skipped_lines) == (2, 1, 0)
