"""The benchmark is not a test (benchmarks/README.md); this only checks that a tiny run prints the JSON shape."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.page_runs import OTHER_PAGES, PICKER_PAGES
from benchmarks.run import PARSES_PER_TURN

ROOT = Path(__file__).resolve().parents[1]
LEADS = 300

INTERACTIONS = ("load_workspace", "all_metrics", "month_switch", "channel_switch", "overview", "cohort_funnel",
                "score_profile_24", "trends_24", "nurture_analyses", "source_effectiveness")  # fmt: skip
NUMBERS = ("raw_parse_s", "ingest_s", "ingest_ratio", "build_facts_s", "duckdb_s", "duckdb_cold_s",
           "ratio_vs_duckdb", "peak_rss_mb", "raw_parse_peak_rss_mb", "csv_mb")  # fmt: skip


def test_tiny_benchmark_prints_every_figure_as_json(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--leads", str(LEADS), "--json", "--no-tenth",
               "--repeat", "1", "--cache-dir", str(tmp_path)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stderr
    # CPU seconds, not wall clock: on a shared machine the wall clock of the same run varies threefold.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 60, f"the smoke run took {cpu:.0f} CPU seconds"
    out = json.loads(proc.stdout)

    assert out["leads"] == LEADS and out["ingest"] == "files"
    for key in NUMBERS:
        assert isinstance(out[key], int | float) and out[key] > 0, key
    assert set(out["interactions"]) == {
        f"{name}_{kind}" for name in INTERACTIONS for kind in ("cold", "warm")
    }
    assert all(isinstance(v, float) and v >= 0 for v in out["interactions"].values())
    pages = out["pages"]
    assert set(pages["pages"]) == set(PICKER_PAGES) | set(OTHER_PAGES)
    for page, seconds in pages["pages"].items():
        picked = {"month_new_s", "month_back_s", "channel_new_s"} if page in PICKER_PAGES else set()
        assert set(seconds) == {"open_s"} | picked | ({"report_s"} if page == "quarter" else set()), page
        assert all(isinstance(v, float) and v > 0 for v in seconds.values()), page
    assert pages["first_run_s"] > 0 and pages["peak_rss_mb"] > 0
    for runs in ("ingest_runs_s", "build_facts_runs_s"):  # every run listed; the fastest is the figure
        assert len(out[runs]) == out["runs"] == 3, runs
    assert out["ingest_s"] == min(out["ingest_runs_s"]) and out["build_facts_s"] == min(
        out["build_facts_runs_s"]
    )
    # the floor is parsed before the first ingest run and after each one, in turns with them
    assert len(out["raw_parse_runs_s"]) == PARSES_PER_TURN * (out["runs"] + 1)
    assert out["raw_parse_s"] == min(out["raw_parse_runs_s"])
    assert out["ratio_vs_duckdb_all_metrics"] >= 0  # all metrics again is answered from memory: may be 0
    assert out["at_tenth"] is None and out["growth"] is None
    assert isinstance(out["targets_missed"], list)
    assert set(out["rows"]) >= {"leads", "deals", "customers", "spend", "web_traffic", "email_events"}
    assert out["ingest_rows_loaded"] == out["rows"], "the ingest loads every row pyarrow reads"
    assert out["ingest_errors"] == []
    agreement = out["duckdb_agreement"]
    assert agreement["agree"] + len(agreement["differ"]) == agreement["compared"] > 30
    # only the workspace of the run is removed; the generated sample stays cached
    assert (tmp_path / f"7-{LEADS}" / "sample.json").exists()
    assert not list((tmp_path / f"7-{LEADS}").glob(".workspace-*"))
