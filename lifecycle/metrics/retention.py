"""Customer retention by start-month cohort (SPEC §5 "Retention"): share still active after k months.

Decisions where the spec is silent:

- A customer is *active after k months* when it has not churned by the end of month C + k, C being its start
  month: k = 0 is the share that survived its first (start) month, so a customer who starts and churns in
  the same month counts as lost at k = 0.
- The analysis is as of month M: cells whose month C + k lies after M are not yet observed and stay empty
  (never 100 % by default), so the triangle of a cohort table is visible.
- Without churn dates (no customers export, or one without ``churned_at``) retention is unavailable rather
  than a flat 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Retention:
    """Cohort retention: ``table`` (tidy: cohort, k, customers, active, share) and ``members``.

    ``share`` is active ÷ customers of the cohort; ``active`` and ``share`` are empty where month C + k is
    after M (not yet observed), ``share`` also for an empty cohort. ``members``: customer_id, cohort, start, churned_at, months_active (whole months survived after
    the start month; empty while still active).
    """

    month: str
    table: pd.DataFrame
    members: pd.DataFrame
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def pivot(self) -> pd.DataFrame:
        """Cohorts as rows, k (months after start) as columns, the share still active as values."""
        return self.table.pivot(index="cohort", columns="k", values="share")


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cohort": pd.Series(dtype="str"),
            "k": pd.Series(dtype="int64"),
            "customers": pd.Series(dtype="int64"),
            "active": pd.Series(dtype="Int64"),
            "share": pd.Series(dtype="float64"),
        }
    )


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="str"),
            "cohort": pd.Series(dtype="str"),
            "start": pd.Series(dtype="datetime64[us]"),
            "churned_at": pd.Series(dtype="datetime64[us]"),
            "months_active": pd.Series(dtype="float64"),
        }
    )


def _month_number(times: pd.Series) -> np.ndarray:
    """Months since year 0 (NaT → NEVER), so month differences are integer subtractions."""
    values = times.astype("datetime64[us]")
    number = (values.dt.year * 12 + values.dt.month - 1).to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(number), NEVER, dtype=np.int64)
    known = ~np.isnan(number)
    out[known] = number[known].astype(np.int64)
    return out


def retention_cohorts(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    cohorts: int = 12,
    max_k: int = 12,
) -> Retention:
    """Customers grouped by start month (the ``cohorts`` months ending with M): for k = 0…``max_k``, the
    share not churned by the end of the k-th month after the start month, as observed at the end of M."""
    facts = build_facts(data).view(channel)
    last = parse_month(month)
    if facts.customers is None:
        reason = needs_text([("customers",)])
        return Retention(str(last), _empty_table(), _empty_members(), (), reason)
    if not facts.info.get("churn_known"):
        reason = (
            "needs churn dates: a customers export with a churn or cancellation date (customers.churned_at)"
        )
        return Retention(str(last), _empty_table(), _empty_members(), (), reason)
    first = last - (cohorts - 1)
    start, _ = month_bounds(first)
    _, end = month_bounds(last)
    customers = facts.customers
    inside = ((customers["start"] >= start) & (customers["start"] < end)).to_numpy()
    chosen = customers[inside].reset_index(drop=True)
    start_no = _month_number(chosen["start"])
    churn_no = _month_number(chosen["churned_at"])
    survived = np.where(churn_no == NEVER, NEVER, churn_no - start_no)

    labels = [str(first + i) for i in range(cohorts)]
    ks = np.arange(max_k + 1)
    cohort_pos = start_no - (first.year * 12 + first.month - 1)
    # active[i, k]: customer i had not churned by the end of month C + k (its churn month is after it).
    active = survived[:, None] > ks[None, :]
    sizes = np.bincount(cohort_pos, minlength=cohorts)
    counts = np.zeros((cohorts, len(ks)), dtype=np.int64)
    np.add.at(counts, cohort_pos, active.astype(np.int64))
    observed = (np.arange(cohorts)[:, None] + ks[None, :]) <= cohorts - 1
    share = np.where(observed & (sizes[:, None] > 0), counts / np.maximum(sizes[:, None], 1), np.nan)
    table = pd.DataFrame(
        {
            "cohort": np.repeat(labels, len(ks)),
            "k": np.tile(ks, cohorts),
            "customers": np.repeat(sizes, len(ks)),
            "active": pd.array(np.where(observed, counts, 0).ravel(), dtype="Int64"),
            "share": share.ravel(),
        }
    ).astype({"cohort": "str", "k": "int64", "customers": "int64"})
    table.loc[~observed.ravel(), "active"] = pd.NA
    members = pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].to_numpy(),
            "cohort": np.asarray(labels, dtype=object)[cohort_pos]
            if len(chosen)
            else np.array([], dtype=object),
            "start": chosen["start"].to_numpy(),
            "churned_at": chosen["churned_at"].to_numpy(),
            "months_active": np.where(survived == NEVER, np.nan, survived).astype("float64"),
        }
    ).astype({"customer_id": "str", "cohort": "str"})
    return Retention(str(last), table, members)
