"""The benchmark's verdicts on made-up figures: which page figures miss their targets and how they grow
(`benchmarks/run.py`), and which months the page runs pick (`benchmarks/page_runs.py`)."""

from __future__ import annotations

from typing import Any

from benchmarks.page_runs import picked_months
from benchmarks.run import growth, targets_missed


def figures(scale: float = 1.0, **page_seconds: dict[str, float]) -> dict[str, Any]:
    """A benchmark's output with every non-page figure on target; page figures as given."""
    return {
        "raw_parse_s": 1.0 * scale, "ingest_s": 1.5 * scale, "build_facts_s": 2.0 * scale, "duckdb_s": 1.0 * scale,
        "peak_rss_mb": 1000.0, "ingest_ratio": 1.5, "ratio_vs_duckdb": 0.1, "ratio_vs_duckdb_all_metrics": 0.0,
        "interactions": {"month_switch_cold": 0.1, "month_switch_warm": 0.05},
        "pages": {"first_run_s": 0.3, "pages": page_seconds, "peak_rss_mb": 5000.0},
        "growth": None,
    }  # fmt: skip


def test_a_month_shown_already_is_held_to_the_warm_target_and_the_rest_to_the_cold_one() -> None:
    out = figures(
        nurture={"open_s": 1.2, "month_new_s": 0.9, "month_back_s": 0.3, "channel_new_s": 0.1},
        data={"open_s": 0.05},
    )
    assert targets_missed(out) == [
        "pages.nurture.open_s 1.200 s > 1.0 s",
        "pages.nurture.month_back_s 0.300 s > 0.2 s",
    ]  # the page process's peak RSS (5000 MB) is not a page time: no seconds target applies to it


def test_page_figures_grow_from_n_over_10_like_the_others() -> None:
    full = figures(10.0, overview={"open_s": 0.4, "month_new_s": 0.3})
    tenth = figures(1.0, overview={"open_s": 0.1, "month_new_s": 0.3})
    grown = growth(full, tenth)
    assert grown is not None
    assert grown["pages.overview.open_s"] == 4.0 and grown["pages.overview.month_new_s"] == 1.0
    assert grown["pages.first_run_s"] == 1.0 and grown["ingest_s"] == 10.0
    full["growth"] = {**grown, "pages.overview.open_s": 11.0}
    assert targets_missed(full) == ["growth.pages.overview.open_s 11.0 > 10.0"]


def test_every_second_month_is_picked_so_that_none_is_the_comparison_month_of_one_shown() -> None:
    assert picked_months(0, 3) == [2, 4, 6]
    assert picked_months(5, 2) == [7, 9]
