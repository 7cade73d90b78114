"""The synthetic sample company (lifecycle.sample): canonical, consistent, deterministic, ingestible, and
carrying its planted effects — checked on the raw tables with plain pandas."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecycle.ingest import ingest_files
from lifecycle.sample import PLANTED_EFFECTS, SAMPLE_LEADS, generate, main, write_exports
from lifecycle.schema import NOT_SET, TABLE_NAMES, TABLES, coerce_frame, validate_frame
from lifecycle.workspace import load_tables

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "data" / "sample"
EXPECT = {effect["id"]: effect for effect in PLANTED_EFFECTS}


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    """What data/sample/ holds: the generator's defaults."""
    return generate()


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return generate(1_000, seed=3)


def _by_key(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(list(TABLES[table].key), kind="stable").reset_index(drop=True)


def _assert_same_tables(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert sorted(got) == sorted(want)
    for name, frame in want.items():
        pd.testing.assert_frame_equal(_by_key(got[name], name), _by_key(frame, name), obj=name)


def _monthly(values: pd.Series, when: pd.Series, start: str = "2024-11", end: str = "2026-10") -> pd.Series:
    months = pd.period_range(start, end, freq="M")
    return values.groupby(when.dt.to_period("M")).sum().reindex(months, fill_value=0)


# ---------------------------------------------------------------------------------------------- shape


def test_same_seed_gives_identical_tables_and_another_seed_differs(small):
    _assert_same_tables(generate(1_000, seed=3), small)
    other = generate(1_000, seed=4)
    assert not other["leads"]["created_at"].equals(small["leads"]["created_at"])


def test_every_canonical_table_is_generated_with_schema_dtypes_and_unique_keys(small):
    assert set(small) == set(TABLE_NAMES)
    for name, frame in small.items():
        validate_frame(name, frame)
        pd.testing.assert_frame_equal(coerce_frame(name, frame), frame, obj=name)
        assert len(frame) > 0, name
        assert not frame.duplicated(list(TABLES[name].key)).any(), name


def test_generating_fewer_than_100_leads_is_refused():
    with pytest.raises(ValueError, match="at least 100 leads"):
        generate(50)


@pytest.mark.parametrize("leads", [1_000, SAMPLE_LEADS])
def test_about_20_email_events_and_10_score_changes_per_lead_at_any_size(leads, sample):
    tables = sample if leads == SAMPLE_LEADS else generate(leads)
    assert len(tables["leads"]) == leads
    assert 17 <= len(tables["email_events"]) / leads <= 23
    assert 8 <= len(tables["score_changes"]) / leads <= 12
    assert 0.1 <= len(tables["deals"]) / leads <= 0.3


# ---------------------------------------------------------------------------------------------- consistency


def test_stage_dates_run_in_funnel_order(sample):
    leads = sample["leads"]
    for earlier, later in (
        ("created_at", "mql_at"), ("mql_at", "sql_at"), ("sql_at", "opportunity_at"),
        ("opportunity_at", "customer_at"), ("mql_at", "recycled_at"), ("recycled_at", "reopened_at"),
    ):  # fmt: skip
        both = leads[earlier].notna() & leads[later].notna()
        assert (leads.loc[both, earlier] <= leads.loc[both, later]).all(), (earlier, later)
    assert leads["recycled_at"].notna().sum() > 100 and leads["reopened_at"].notna().sum() > 30


def test_lead_stages_hold_the_same_dates_as_the_lead_columns(sample):
    stages = sample["lead_stages"].pivot(index="lead_id", columns="stage", values="entered_at")
    leads = sample["leads"].set_index("lead_id")
    assert len(stages) == len(leads)
    for stage in ("mql", "sql", "opportunity", "customer", "recycled", "reopened"):
        pd.testing.assert_series_equal(
            stages[stage].reindex(leads.index), leads[f"{stage}_at"], check_names=False, obj=stage
        )
    pd.testing.assert_series_equal(
        stages["lead"].reindex(leads.index), leads["created_at"], check_names=False
    )


def test_running_score_first_reaches_100_exactly_at_each_mql_and_ends_at_the_current_score(sample):
    changes = sample["score_changes"].sort_values(["lead_id", "at", "reason"], kind="stable")
    running = changes.groupby("lead_id")["delta"].cumsum()
    np.testing.assert_array_equal(running.to_numpy(), changes["score"].to_numpy())
    leads = sample["leads"].set_index("lead_id")
    crossed = changes[changes["score"] >= 100].groupby("lead_id")["at"].min().reindex(leads.index)
    pd.testing.assert_series_equal(crossed, leads["mql_at"], check_names=False)
    current = changes.groupby("lead_id")["score"].last().reindex(leads.index, fill_value=0)
    pd.testing.assert_series_equal(current, leads["score"], check_names=False)
    assert set(changes["reason"]) >= {
        "Email Open",
        "Webinar Attended",
        "Pricing Page Visit",
        "Inactivity Decay",
    }


def test_deals_customers_emails_and_nps_point_at_records_that_exist(sample):
    leads, deals, customers = sample["leads"], sample["deals"], sample["customers"]
    assert deals["lead_id"].dropna().isin(leads["lead_id"]).all()
    events = sample["email_events"]
    prospect = events["audience"] == "prospect"
    assert events.loc[prospect, "recipient"].isin(leads["lead_id"]).all()
    # Customer emails go to every customer; those of a lead in the export only once it is a customer.
    to_customers = events[~prospect].merge(
        leads[["lead_id", "customer_at"]], left_on="recipient", right_on="lead_id"
    )
    assert (to_customers["customer_at"] <= to_customers["at"]).all()
    active = customers["churned_at"].isna() | (customers["churned_at"] >= "2024-11-01")
    assert 0 < events.loc[~prospect, "recipient"].nunique() <= active.sum()
    assert sample["nps"]["customer_id"].dropna().isin(customers["customer_id"]).all()
    churned = customers["churned_at"].notna()
    assert (customers.loc[churned, "churned_at"] > customers.loc[churned, "started_at"]).all()
    # A customer that came through a lead carries the lead's e-mail, so the two link (SPEC §3).
    became = leads[leads["customer_at"].notna()]
    assert became["email"].isin(customers["email"]).all()
    closed = deals["closed_at"].notna()
    assert (deals.loc[closed, "closed_at"] > deals.loc[closed, "created_at"]).all()
    assert (deals["status"] == "open").eq(~closed).all()


def test_the_data_ends_on_the_export_day_so_the_default_month_is_2026_10(sample):
    latest = max(
        frame[c].max() for frame in sample.values() for c in frame.columns if frame[c].dtype.kind == "M"
    )
    assert pd.Timestamp("2026-11-01") <= latest < pd.Timestamp("2026-11-23")
    assert str(latest.to_period("M") - 1) == "2026-10"
    for name, column in (("leads", "created_at"), ("web_traffic", "date"), ("spend", "date")):
        assert sample[name][column].min() >= pd.Timestamp("2024-11-01"), name


def test_realistic_warts_are_present(sample):
    leads, deals, customers, nps = sample["leads"], sample["deals"], sample["customers"], sample["nps"]
    assert (leads["channel"] == NOT_SET).sum() > 0
    assert nps["comment"].isna().sum() > 0 and nps["comment"].notna().sum() > 0
    assert deals["lead_id"].isna().sum() > 0
    assert (~customers["account"].isin(deals["account"])).sum() > 0
    assert set(deals["type"]) == {"new", "upsell", "cross_sell", "renewal"}
    assert set(deals["status"]) == {"open", "won", "lost"}
    assert set(sample["email_events"]["audience"]) == {"prospect", "customer"}


# ---------------------------------------------------------------------------------------------- planted effects


def test_paid_social_is_the_cheapest_channel_per_lead_and_the_worst_at_reaching_mql(sample):
    expect = EXPECT["cheap_low_quality_channel"]["expect"]
    leads = sample["leads"][sample["leads"]["created_at"] < "2026-11-01"]
    spend = sample["spend"][sample["spend"]["date"] < "2026-11-01"]
    per_channel = spend[spend["channel"] != NOT_SET].groupby("channel")["amount"].sum()
    cost_per_lead = per_channel / leads.groupby("channel").size().reindex(per_channel.index)
    mql_rate = leads.groupby("channel")["mql_at"].apply(lambda s: s.notna().mean())
    low, high = expect["cost_per_lead"]
    assert low <= cost_per_lead["Paid Social"] <= high
    assert cost_per_lead.drop("Paid Social").min() >= expect["other_cost_per_lead_min"]
    low, high = expect["lead_to_mql_rate"]
    assert low <= mql_rate["Paid Social"] <= high
    assert mql_rate.drop("Paid Social").min() >= expect["other_lead_to_mql_rate_min"]


def test_solution_nurture_step_3_is_where_leads_stall(sample):
    expect = EXPECT["stalled_nurture_step"]["expect"]
    events = sample["email_events"]
    program = events[events["program"] == "Solution Nurture"].drop_duplicates(["recipient", "email", "event"])
    counts = program.pivot_table(index="step", columns="event", values="at", aggfunc="count")
    open_rate = counts["open"] / counts["delivered"]
    ctr = counts["click"] / counts["delivered"]
    move_on = (counts["sent"].shift(-1) / counts["sent"]).dropna()
    for measure, value in (("open_rate", open_rate), ("ctr", ctr), ("move_on", move_on)):
        low, high = expect[measure]
        assert low <= value["3"] <= high, measure
        assert value.drop("3").min() >= expect[f"other_{measure}_min"], measure


def test_customers_churn_steadily_before_the_window_too(sample):
    customers = sample["customers"]
    churned = _monthly(
        pd.Series(1, index=customers.index), customers["churned_at"].dropna(), "2022-11", "2024-10"
    )
    active = pd.Series(
        {
            month: (
                (customers["started_at"] < month.start_time) & ~(customers["churned_at"] < month.start_time)
            ).sum()
            for month in churned.index
        }
    )
    rate = churned / active
    assert rate.between(0.012, 0.02).all(), rate
    assert churned.diff().abs().max() <= 1


def test_churn_rate_doubles_in_the_last_quarter(sample):
    customers = sample["customers"]
    rates = {}
    for month in pd.period_range("2025-08", "2026-10", freq="M"):
        start, end = month.start_time, (month + 1).start_time
        active = (customers["started_at"] < start) & ~(customers["churned_at"] < start)
        churned = (customers["churned_at"] >= start) & (customers["churned_at"] < end)
        rates[str(month)] = churned.sum() / active.sum()
    rates = pd.Series(rates)
    before = rates[:"2026-07"].mean()
    low, high = EXPECT["churn_uptick"]["expect"]["ratio_to_prior_12_months"]
    for month in EXPECT["churn_uptick"]["months"]:
        assert low <= rates[month] / before <= high, month
    assert rates[:"2026-07"].max() < rates["2026-08":].min()


def test_organic_search_sessions_and_leads_fall_in_the_last_two_months_after_steady_growth(sample):
    expect = EXPECT["organic_decline"]["expect"]
    traffic, leads = sample["web_traffic"], sample["leads"]
    organic = traffic["channel"] == "Organic Search"
    series = {
        "organic sessions": _monthly(traffic.loc[organic, "sessions"], traffic.loc[organic, "date"]),
        "organic leads": _monthly(pd.Series(1, index=leads.index)[leads["channel"] == "Organic Search"],
                                  leads.loc[leads["channel"] == "Organic Search", "created_at"]),
        "sessions": _monthly(traffic["sessions"], traffic["date"]),
        "leads": _monthly(pd.Series(1, index=leads.index), leads["created_at"]),
    }  # fmt: skip
    for name, values in series.items():
        change = (values / values.shift(1)).dropna()
        assert (change[:"2026-08"] > 1).all(), f"{name} should grow every month before the decline"
        low, high = expect[
            "organic_month_over_month" if name.startswith("organic") else "total_month_over_month"
        ]
        for month in EXPECT["organic_decline"]["months"]:
            assert low <= change[month] <= high, (name, month)


def test_other_monthly_series_move_smoothly(sample):
    leads, events = sample["leads"], sample["email_events"]
    window = leads["mql_at"] < "2026-09-01"
    mqls = _monthly(
        pd.Series(1, index=leads.index)[window], leads.loc[window, "mql_at"], "2025-01", "2026-08"
    )
    assert (mqls / mqls.shift(1)).dropna().min() > 0.94
    prospect = events[events["audience"] == "prospect"].drop_duplicates(["recipient", "email", "event"])
    # Opens count toward the month of the send (SPEC §5), not the month they happened.
    sends = prospect[prospect["event"] == "sent"].set_index(["recipient", "email"])["at"].dt.to_period("M")
    sent_month = sends.reindex(pd.MultiIndex.from_frame(prospect[["recipient", "email"]])).to_numpy()
    prospect = prospect.assign(sent_month=sent_month)
    delivered = prospect[prospect["event"] == "delivered"].groupby("sent_month").size()
    opened = prospect[prospect["event"] == "open"].groupby("sent_month").size()
    open_rate = (opened / delivered)["2025-01":"2026-10"]
    assert (open_rate / open_rate.shift(1)).dropna().between(0.97, 1.03).all()


# ---------------------------------------------------------------------------------------------- files


def _decoded(path: Path) -> dict[str, bytes]:
    """A file's content with compression undone (compressor versions may encode the same data differently)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        return {"": gzip.decompress(data)}
    if path.suffix in (".zip", ".xlsx"):
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return {"": data}


def test_checked_in_sample_is_exactly_what_the_generator_writes(sample, tmp_path):
    written = write_exports(sample, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in SAMPLE_DIR.iterdir()), (
        "data/sample/ is stale: regenerate it with `python -m lifecycle.sample --out data/sample`"
    )
    for path in written:
        assert _decoded(path) == _decoded(SAMPLE_DIR / path.name), f"{path.name} differs from data/sample/"
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 5 * 1024**2


def test_checked_in_sample_ingests_through_the_cli_back_to_the_generated_tables(sample, tmp_path):
    workspace = tmp_path / "ws"
    files = sorted(str(p) for p in SAMPLE_DIR.iterdir())
    run = subprocess.run(
        [sys.executable, "-m", "lifecycle", "ingest", *files, "--out", str(workspace), "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    reports = json.loads(run.stdout)
    assert {r["table"] for r in reports} == set(TABLE_NAMES)
    assert all(r["rows_rejected"] == 0 for r in reports), [r for r in reports if r["rows_rejected"]]
    _assert_same_tables(load_tables(workspace), sample)


def test_plain_csv_style_ingests_back_to_the_generated_tables(small, tmp_path):
    paths = write_exports(small, tmp_path / "csv", style="csv")
    assert sorted(p.name for p in paths) == sorted(f"{name}.csv" for name in TABLE_NAMES)
    results, errors = ingest_files(paths, tmp_path / "ws")
    assert errors == [] and all(r.report.rows_rejected == 0 for r in results)
    _assert_same_tables(load_tables(tmp_path / "ws"), small)


def test_vendor_files_keep_the_quirks_of_their_tools(sample, tmp_path):
    write_exports({name: sample[name] for name in ("deals", "web_traffic", "spend", "nps")}, tmp_path)
    salesforce = (tmp_path / "salesforce_opportunities.csv").read_text(encoding="utf-8").splitlines()
    assert (
        salesforce[0] == '"Opportunities by Stage"'
        and '"Confidential Information - Do Not Distribute"' in salesforce
    )
    ga4 = gzip.decompress((tmp_path / "ga4_traffic_acquisition.csv.gz").read_bytes()).decode().splitlines()
    assert ga4[0].startswith("#") and any(line.startswith("Grand total") for line in ga4)
    google = (tmp_path / "google_ads_campaign_report.csv").read_text(encoding="utf-8").splitlines()
    assert (
        google[2].startswith("Day;")
        and google[3].split(";")[-1].startswith("€")
        and "," in google[3].split(";")[-1]
    )
    assert (tmp_path / "qualtrics_nps_export.tsv").read_bytes()[:2] == b"\xff\xfe"
    assert (tmp_path / "ga4_traffic_acquisition.csv.gz").read_bytes()[
        4:8
    ] == b"\x00\x00\x00\x00"  # gzip mtime 0


def test_cli_writes_and_lists_the_files(tmp_path, capsys):
    assert main(["--leads", "300", "--seed", "5", "--out", str(tmp_path), "--style", "csv"]) == 0
    listed = [
        line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith(str(tmp_path))
    ]
    assert sorted(Path(p).name for p in listed) == sorted(f"{name}.csv" for name in TABLE_NAMES)
    assert all(Path(p).exists() for p in listed)
    assert main(["--leads", "10", "--out", str(tmp_path)]) == 2
