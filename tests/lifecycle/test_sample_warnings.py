"""The early-warning rule (SPEC §5 "Trends") on the sample company: it fires exactly where the generator planted
a decline — the (metric, month) pairs `PLANTED_EFFECTS` lists under "warnings" — and nowhere else."""

from __future__ import annotations

import pandas as pd
import pytest

from lifecycle.metrics import CATALOG, build_facts
from lifecycle.metrics.catalog import MATURING_COHORT_RATES
from lifecycle.metrics.trends import warnings_for_month
from lifecycle.sample import PLANTED_EFFECTS, generate


@pytest.fixture(scope="module")
def facts():
    """The sample company exactly as data/sample/ holds it (test_sample checks generate() == data/sample/)."""
    return build_facts(generate())


@pytest.fixture(scope="module")
def judged_months(facts) -> list[str]:
    """Months whose three-month look-back lies inside the lead window, up to the last complete month."""
    created = facts.leads["created_at"]
    first, last = created.min().to_period("M") + 3, created.max().to_period("M") - 1
    return [str(month) for month in pd.period_range(first, last, freq="M")]


def planted_warnings() -> set[tuple[str, str]]:
    return {
        (metric, month)
        for effect in PLANTED_EFFECTS
        for metric, months in effect.get("warnings", {}).items()
        for month in months
    }


def test_planted_warnings_name_catalog_metrics_in_the_judged_months(judged_months):
    planted = planted_warnings()
    assert {metric for metric, _ in planted} <= set(CATALOG) - set(MATURING_COHORT_RATES)
    assert {month for _, month in planted} <= set(judged_months)
    assert judged_months[0] == "2025-02" and judged_months[-1] == "2026-10"


def test_early_warnings_fire_exactly_where_the_generator_planted_a_decline(facts, judged_months):
    fired = pd.concat([warnings_for_month(facts, month) for month in judged_months], ignore_index=True)
    got = set(zip(fired["metric"], fired["month"], strict=True))
    planted = planted_warnings()
    unexpected = fired[
        [(m, mo) not in planted for m, mo in zip(fired["metric"], fired["month"], strict=True)]
    ]
    assert got == planted, (
        f"missing: {sorted(planted - got)}\nunexpected:\n"
        + unexpected[["metric", "month", "rule", "value", "reference"]].to_string()
    )
