"""Cohort score profile (SPEC §5): month-end score of each month's new leads, in bands — is lead quality rising?

Each cohort is the leads created in one month; a lead's score is its score at the end of that month (the
score history's running total, see ``scores``). Without a score history the leads' current ``score`` stands in
and a note says so: every cohort is then scored today, not at its month end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

SUMMARY_COLUMNS = ("cohort", "n", "n_scored", "median", "mean", "p25", "p75", "share_mql")


@dataclass(frozen=True)
class ScoreProfiles:
    """Score profile per cohort month: ``bands`` (tidy counts and shares), ``summary`` and ``members``.

    ``bands`` columns: cohort ("YYYY-MM"), band (ordered categorical of ``Settings.band_labels``), count,
    share (of the cohort's scored leads). ``summary``: cohort, n (leads), n_scored, median, mean, p25, p75,
    share_mql (share at or above the MQL threshold). ``members``: lead_id, cohort, score, band.
    """

    cohorts: tuple[str, ...]
    bands: pd.DataFrame
    summary: pd.DataFrame
    members: pd.DataFrame
    score_source: str | None
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def pivot(self, values: str = "share") -> pd.DataFrame:
        """Cohorts as rows, bands as columns (``values``: "share" or "count") — one stacked bar per row."""
        return self.bands.pivot(index="cohort", columns="band", values=values)


def cohort_months(month: str | pd.Period, count: int) -> list[pd.Period]:
    """The ``count`` months ending with ``month``, oldest first."""
    last = parse_month(month)
    return [last - i for i in range(count - 1, -1, -1)]


def _empty(
    cohorts: tuple[str, ...], settings: Settings, source: str | None, reason: str | None
) -> ScoreProfiles:
    band = pd.Categorical([], categories=settings.band_labels, ordered=True)
    bands = pd.DataFrame({"cohort": pd.Series(dtype="str"), "band": band, "count": pd.Series(dtype="int64")})
    bands["share"] = pd.Series(dtype="float64")
    summary = pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
    summary = summary.astype({"cohort": "str", "n": "int64", "n_scored": "int64"})
    members = pd.DataFrame(
        {
            "lead_id": pd.Series(dtype="str"),
            "cohort": pd.Series(dtype="str"),
            "score": pd.Series(dtype="float64"),
        }
    )
    members["band"] = band
    return ScoreProfiles(cohorts, bands, summary, members, source, (), reason)


def cohort_score_profile(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    cohorts: int = 24,
) -> ScoreProfiles:
    """For each of the ``cohorts`` months ending with M: the leads created that month, their score at the
    month's end, counts and shares per score band, median and the share at or above the MQL threshold."""
    facts = build_facts(data).view(channel)
    months = cohort_months(month, cohorts)
    labels = tuple(str(m) for m in months)
    source = facts.info.get("score_source")
    if facts.leads is None:
        return _empty(labels, settings, source, needs_text([("leads", "lead_stages")]))
    if source is None:
        return _empty(
            labels,
            settings,
            source,
            needs_text([("score_changes",)]) + ", or a score column in the leads export",
        )
    start, _ = month_bounds(months[0])
    _, end = month_bounds(months[-1])
    leads = facts.leads
    created = leads["created_at"].to_numpy()
    inside = (created >= start.to_datetime64()) & (created < end.to_datetime64())
    # Cohort of each lead as its position in ``labels`` (months are consecutive): integer keys group fast.
    position = created[inside].astype("datetime64[M]").astype(np.int64) - months[0].ordinal
    scores = leads["score_month_end"].to_numpy(dtype="float64", na_value=np.nan)[inside]
    band = settings.band_of(pd.Series(scores))
    members = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].astype("str").array.take(np.flatnonzero(inside)),
            "cohort": pd.Categorical.from_codes(position, categories=list(labels)),
            "score": scores,
            "band": band.array,
        }
    )

    n_bands = len(settings.band_labels)
    band_codes = band.cat.codes.to_numpy()
    scored = band_codes >= 0
    counts = np.bincount(position[scored] * n_bands + band_codes[scored], minlength=len(labels) * n_bands)
    bands = pd.DataFrame(
        {
            "cohort": np.repeat(np.array(labels, dtype=object), n_bands),
            "band": pd.Categorical(settings.band_labels * len(labels), categories=settings.band_labels,
                                   ordered=True),
            "count": counts.astype("int64"),
        }
    )  # fmt: skip
    per_cohort = counts.reshape(len(labels), n_bands).sum(axis=1).astype("float64")
    bands["share"] = bands["count"] / np.repeat(np.where(per_cohort > 0, per_cohort, np.nan), n_bands)
    bands["cohort"] = bands["cohort"].astype("str")

    by_cohort = pd.Series(scores).groupby(position)
    summary = pd.DataFrame(
        {
            "n": np.bincount(position, minlength=len(labels)),
            "n_scored": np.bincount(position[scored], minlength=len(labels)),
            "median": by_cohort.median().reindex(range(len(labels))).to_numpy(),
            "mean": by_cohort.mean().reindex(range(len(labels))).to_numpy(),
            "p25": by_cohort.quantile(0.25).reindex(range(len(labels))).to_numpy(),
            "p75": by_cohort.quantile(0.75).reindex(range(len(labels))).to_numpy(),
            "mql": np.bincount(position[scores >= settings.mql_threshold], minlength=len(labels)),
        },
        index=pd.Index(list(labels), name="cohort"),
    )
    summary["n"] = summary["n"].astype("int64")
    summary["n_scored"] = summary["n_scored"].astype("int64")
    summary["share_mql"] = summary["mql"] / summary["n_scored"].where(summary["n_scored"] > 0).astype(
        "float64"
    )
    summary = summary.rename_axis("cohort").reset_index()
    summary["cohort"] = summary["cohort"].astype("str")
    notes = []
    if source != "score_changes":
        notes.append(
            "No score history loaded: every cohort shows its leads' current score, not the month-end score."
        )
    unscored = int(summary["n"].sum() - summary["n_scored"].sum())
    if unscored:
        notes.append(f"{unscored} lead(s) without a score are left out of the bands and shares.")
    summary = summary[list(SUMMARY_COLUMNS)].astype({"median": "float64", "share_mql": "float64"})
    return ScoreProfiles(labels, bands, summary, members, source, tuple(notes))
