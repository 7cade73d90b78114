"""Net Promoter Score trend and verbatims (SPEC §5 "Retention": NPS trend with verbatims).

Categories follow the NPS convention: promoter 9–10, passive 7–8, detractor 0–6; NPS = % promoters −
% detractors (−100…100). A score outside 0–10 is left out and counted in a note. Responses join to
customers as in ``derived`` (``customer_id``, else respondent as id or e-mail); with a channel selected, only
joined responses of that channel count — unless no response joins at all, then the NPS stays unfiltered and
says so.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

CATEGORIES = ("promoter", "passive", "detractor")
TREND_COLUMNS = ("month", "n", "promoters", "passives", "detractors", "nps")
VERBATIM_COLUMNS = ("responded_at", "score", "category", "comment", "customer")


@dataclass(frozen=True)
class NpsTable:
    """An NPS frame (trend or verbatims) with notes, and the reason when the NPS export is missing."""

    frame: pd.DataFrame
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None


def nps_category(scores: pd.Series) -> pd.Series:
    """promoter (9–10), passive (7–8) or detractor (0–6) per score; missing outside 0–10."""
    values = scores.to_numpy(dtype="float64", na_value=np.nan)
    valid = (values >= 0) & (values <= 10)
    category = np.select([values >= 9, values >= 7], ["promoter", "passive"], "detractor").astype(object)
    return pd.Series(np.where(valid, category, None), index=scores.index, dtype="str")


def _responses(facts: Facts) -> tuple[pd.DataFrame, tuple[str, ...]]:
    nps = facts.nps
    out = nps.assign(category=nps_category(nps["score"]))
    notes = []
    if facts.channel is not None and not facts.info.get("nps_filterable"):
        notes.append("No NPS response matches a customer: the NPS is not filtered by channel.")
    if bad := int((out["category"].isna() & out["score"].notna()).sum()):
        notes.append(f"{bad} response(s) with a score outside 0–10 left out.")
    return out, tuple(notes)


def nps_by_month(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    months: int = 12,
) -> NpsTable:
    """For each of the ``months`` months ending with M: responses n, promoters, passives, detractors and the
    NPS (% promoters − % detractors, empty without responses)."""
    facts = build_facts(data).view(channel)
    last = parse_month(month)
    labels = [str(last - i) for i in range(months - 1, -1, -1)]
    if facts.nps is None:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in TREND_COLUMNS}).astype({"month": "str"})
        return NpsTable(empty, (), needs_text([("nps",)]))
    responses, notes = _responses(facts)
    start, _ = month_bounds(last - (months - 1))
    _, end = month_bounds(last)
    inside = ((responses["responded_at"] >= start) & (responses["responded_at"] < end)).to_numpy()
    responses = responses[inside & responses["category"].notna().to_numpy()]
    counts = (
        pd.crosstab(responses["responded_at"].dt.strftime("%Y-%m"), responses["category"])
        .reindex(index=labels, columns=list(CATEGORIES))
        .fillna(0)
    )
    out = pd.DataFrame(
        {
            "month": labels,
            "promoters": counts["promoter"].to_numpy(dtype="int64"),
            "passives": counts["passive"].to_numpy(dtype="int64"),
            "detractors": counts["detractor"].to_numpy(dtype="int64"),
        }
    )
    out["n"] = out[["promoters", "passives", "detractors"]].sum(axis=1)
    n = out["n"].astype("float64").where(out["n"] > 0)
    out["nps"] = (out["promoters"] - out["detractors"]) / n * 100
    return NpsTable(out[list(TREND_COLUMNS)].astype({"month": "str"}), notes)


def nps_verbatims(
    data: Tables | Facts,
    month: str | pd.Period | None = None,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    category: str | Collection[str] | None = None,
    months: int = 1,
) -> NpsTable:
    """NPS comments of the ``months`` months ending with M (all time when M is None), newest first: date,
    score, category, comment and customer (customer id, else respondent); optionally one or more categories."""
    wanted = [category] if isinstance(category, str) else list(category) if category is not None else None
    if wanted is not None and (bad := [c for c in wanted if c not in CATEGORIES]):
        raise ValueError(
            f"NPS category must be promoter, passive or detractor, got {', '.join(map(repr, bad))}"
        )
    facts = build_facts(data).view(channel)
    if facts.nps is None:
        empty = pd.DataFrame({c: pd.Series(dtype="str") for c in VERBATIM_COLUMNS})
        empty = empty.astype({"responded_at": "datetime64[us]", "score": "float64"})
        return NpsTable(empty, (), needs_text([("nps",)]))
    responses, notes = _responses(facts)
    comment = responses["comment"].astype("str").str.strip()
    keep = (comment.notna() & comment.ne("") & responses["category"].notna()).to_numpy()
    if month is not None:
        last = parse_month(month)
        start, _ = month_bounds(last - (months - 1))
        _, end = month_bounds(last)
        keep = keep & ((responses["responded_at"] >= start) & (responses["responded_at"] < end)).to_numpy()
    if wanted is not None:
        keep = keep & responses["category"].isin(wanted).to_numpy()
    chosen = responses[keep].assign(
        comment=comment[keep], customer=responses["customer_id"].fillna(responses["respondent"])[keep]
    )
    chosen = chosen.sort_values("responded_at", ascending=False, kind="stable")
    out = chosen[list(VERBATIM_COLUMNS)].reset_index(drop=True)
    return NpsTable(out.astype({"category": "str", "comment": "str", "customer": "str"}), notes)
