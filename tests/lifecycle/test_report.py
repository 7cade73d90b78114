"""The quarterly report (lifecycle.report, `python -m lifecycle report`): one self-contained HTML file whose
numbers are the engine's, sections that say why they are missing, data text escaped, and the Excel workbook."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from lifecycle.cli import main
from lifecycle.metrics import CATALOG, STAGES, build_facts, compute_all
from lifecycle.quarter import quarter_view
from lifecycle.report import build_report_html, build_report_xlsx
from lifecycle.sample import generate
from lifecycle.schema import coerce_frame
from lifecycle.workspace import commit

ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>alert(1)</script>"
FIGURE = re.compile(r'<div id="figure-\d+" class="plotly-graph-div"')
CELL = re.compile(r"data-metric='([^']+)' data-month='([^']+)' data-value='([^']+)'")


def cells(page: str) -> dict[tuple[str, str], float]:
    """The values the report shows, read back from its value cells: (metric, month) → number."""
    return {(metric, month): float(value) for metric, month, value in CELL.findall(page)}


@pytest.fixture(scope="module")
def sample():
    return build_facts(generate())


@pytest.fixture(scope="module")
def sample_page(sample) -> str:
    return build_report_html(sample, "2026-Q3")


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return generate(1_000, seed=3)


# ---------------------------------------------------------------------------------------------- the sample company


def test_sample_report_shows_every_section_and_embeds_plotly_once_without_external_resources(sample_page):
    for anchor in ("glance", "warnings", *STAGES, "funnel", "profiles", "definitions"):
        assert f"id='{anchor}'" in sample_page
    assert sample_page.count("class='missing'") == 0  # every export is loaded: nothing says "not available"
    assert sample_page.count("* plotly.js v") == 1
    assert len(FIGURE.findall(sample_page)) == 13  # 2 charts per stage, 2 funnels, the score profile
    # plotly.js itself holds map-tile URLs it never fetches for bar charts; the markup around it holds none
    # (the browser test records every request the page makes).
    assert not re.search(r"<script[^>]+src=", sample_page)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", sample_page, flags=re.DOTALL)
    assert not re.search(r"(https?:)?//", markup) and "<link" not in markup and "@import" not in markup


def test_sample_report_monthly_values_are_the_engines(sample, sample_page):
    shown = cells(sample_page)
    for month in ("2026-07", "2026-08", "2026-09"):
        for metric_id, result in compute_all(sample, month).items():
            if result.value is None:
                assert (metric_id, month) not in shown
            else:
                assert shown[(metric_id, month)] == pytest.approx(result.value, rel=1e-12), (metric_id, month)


def test_sample_report_quarter_totals_sum_counts_and_average_rates_of_the_engines_months(sample, sample_page):
    shown = cells(sample_page)
    results = [compute_all(sample, m) for m in ("2026-07", "2026-08", "2026-09")]
    # MQLs are summed over the quarter; churn rate is the average of the monthly rates.
    mqls = sum(r["nurture.mqls"].value for r in results)
    churn = sum(r["expand.churn_rate"].value for r in results) / 3
    assert shown[("nurture.mqls", "quarter")] == mqls
    assert shown[("expand.churn_rate", "quarter")] == pytest.approx(churn)


def test_sample_report_lists_each_warning_of_the_quarter_with_its_month_and_reason(sample, sample_page):
    warnings = quarter_view(sample, "2026-Q3").warnings
    assert not warnings.empty  # the planted churn uptick fires in August and September
    for warning in warnings.itertuples():
        assert f"<td class='text nowrap'>{pd.Period(warning.month, freq='M'):%b %Y}</td>" in sample_page
        assert html.escape(warning.message) in sample_page


# ---------------------------------------------------------------------------------------------- partial workspaces


def test_report_of_marketing_exports_only_says_why_lead_sections_are_missing(small):
    page = build_report_html({t: small[t] for t in ("web_traffic", "spend")}, "2026-Q3")
    assert "The funnel is not available: needs leads or lead stages" in page
    assert "Score profiles are not available: needs leads or lead stages" in page
    assert "Not available: New leads, Visit-to-lead rate, Cost per lead — needs leads or lead stages" in page
    assert cells(page)[("attract.sessions", "2026-07")] == small["web_traffic"].pipe(
        lambda t: t.loc[t["date"].dt.to_period("M").eq(pd.Period("2026-07", freq="M")), "sessions"].sum()
    )
    assert len(FIGURE.findall(page)) == 2  # sessions and cost per visit; cost per lead needs leads
    assert page.count("* plotly.js v") == 1


def test_report_of_leads_and_deals_shows_the_funnel_and_names_the_exports_missing_elsewhere(small):
    page = build_report_html({t: small[t] for t in ("leads", "deals")}, "2026-Q3")
    assert "id='funnel'" in page and "The funnel is not available" not in page
    assert "Not available: Sessions, Visitors, New visitors — needs web traffic" in page
    assert "Unavailable: needs customers" in page  # the churn card
    assert ("convert.opportunities", "2026-08") in cells(page)


# ---------------------------------------------------------------------------------------------- escaping, errors


@pytest.fixture(scope="module")
def hostile(small):
    """The small company's leads and traffic with the Email channel renamed to a script tag (facts built once:
    the report and the workbook share the quarter view)."""
    renamed = {name: small[name].assign(channel=small[name]["channel"].replace("Email", XSS))
               for name in ("leads", "web_traffic")}  # fmt: skip
    return build_facts(renamed)


def test_a_channel_named_like_a_script_renders_as_text(hostile):
    page = build_report_html(hostile, "2026-Q3")
    assert "<td class='text'>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page  # its cohort-by-channel row
    assert XSS not in page


def test_a_report_filtered_to_a_channel_named_like_a_script_names_it_as_text():
    leads = coerce_frame(
        "leads",
        pd.DataFrame(
            {
                "lead_id": ["a", "b", "c"],
                "created_at": pd.to_datetime(["2026-07-03", "2026-08-04", "2026-10-05"]),
                "channel": [XSS, XSS, "Direct"],
            }
        ),
    )
    page = build_report_html({"leads": leads}, "2026-Q3", channel=XSS)
    assert "Channel: &lt;script&gt;alert(1)&lt;/script&gt;" in page and XSS not in page
    assert cells(page)[("capture.new_leads", "quarter")] == 2


def test_report_refuses_a_bad_quarter_a_quarter_without_data_and_an_unknown_channel(small):
    with pytest.raises(ValueError, match="YYYY-Qn"):
        build_report_html(small, "2026-Q5")
    with pytest.raises(ValueError, match="no complete month"):
        build_report_html(small, "2027-Q1")
    with pytest.raises(ValueError, match="does not occur in the data"):
        build_report_html(small, "2026-Q3", channel="Carrier pigeon")


def test_workbook_holds_the_quarter_the_months_the_warnings_and_the_definitions(hostile):
    book = openpyxl.load_workbook(io.BytesIO(build_report_xlsx(hostile, "2026-Q3")))
    assert book.sheetnames == ["Quarter", "Monthly", "Warnings", "Definitions"]
    quarter = pd.DataFrame(book["Quarter"].values).pipe(lambda f: f.iloc[1:].set_axis(f.iloc[0], axis=1))
    view = quarter_view(hostile, "2026-Q3").summary.set_index("metric")
    leads = quarter.set_index("id").loc["capture.new_leads"]
    assert leads["value"] == view.loc["capture.new_leads", "value"] and leads["metric"] == "New leads"
    monthly = book["Monthly"]
    header = [c.value for c in monthly[1]]
    assert header[:3] == ["metric", "id", "unit"] and header[-1] == "2026-09"
    rate_row = next(r for r in monthly.iter_rows(min_row=2) if r[1].value == "capture.visit_to_lead_rate")
    assert rate_row[-1].number_format == "0.0%" and 0 < rate_row[-1].value < 1
    assert book["Definitions"].max_row == len(CATALOG) + 1


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def workspace(small, tmp_path_factory) -> Path:
    """A workspace of two exports (enough for a report, cheap to compute in a subprocess)."""
    folder = tmp_path_factory.mktemp("workspace")
    commit(folder, {"leads": small["leads"], "web_traffic": small["web_traffic"]})
    return folder


def test_cli_report_writes_the_html_and_the_workbook(workspace, tmp_path):
    out, xlsx = tmp_path / "q3.html", tmp_path / "q3.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "lifecycle", "report", "--data", str(workspace), "--quarter", "2026-q3",
         "--out", str(out), "--xlsx", str(xlsx)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "2026-Q3" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Lifecycle review · Q3 2026" in page
    assert openpyxl.load_workbook(xlsx).sheetnames[0] == "Quarter"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quarter", "2026-Q5"], "YYYY-Qn"),
        (["--quarter", "2030-Q1"], "no complete month"),
        (["--quarter", "2026-Q3", "--channel", "Carrier pigeon"], "does not occur"),
    ],
)
def test_cli_report_exits_2_with_a_message_on_bad_input(workspace, tmp_path, capsys, args, message):
    out = tmp_path / "r.html"
    assert main(["report", "--data", str(workspace), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_cli_report_exits_2_on_a_missing_or_empty_workspace(tmp_path, capsys):
    assert main(["report", "--data", str(tmp_path / "nowhere"), "--quarter", "2026-Q3"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", "--data", str(tmp_path), "--quarter", "2026-Q3"]) == 2
    assert "holds no tables" in capsys.readouterr().err
