"""Source effectiveness (SPEC §5): per channel, source or campaign — volume at each stage, cost and return.

Counts use the catalog's definitions, attributed to the group of the lead (channel, ``source``, ``campaign``):
leads created, MQLs and SQLs whose date falls in the window, new customers starting in it, won new-business
deals closed in it (bookings). Spend is matched to the group by its own ``channel`` / ``campaign``.

Decisions where the spec is silent:

- Customers group by their channel (SPEC §3) for ``by="channel"``; by source / campaign they take their
  linked lead's. Deals group by their channel; by campaign they take ``deals.campaign``, else their lead's;
  by source their lead's.
- Conversion lead → customer is a cohort share: of the leads created in the window, those that became
  customers to date (a period ratio of customers ÷ leads would mix different people).
- Spend has no ``source``: by source every spend column is empty and a note says so.
- Empty group values form their own group, ``(not set)``; campaign names match as written (trimmed).
- ROI covers the ``Settings.roi_months`` (default 12) months ending with M whatever the window:
  (won new-business bookings − spend) ÷ spend, empty without spend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
from lifecycle.metrics.keys import deal_rows, labelled, lead_positions, remembered
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.schema import NOT_SET
from lifecycle.workspace import Tables

SourceLevel = Literal["channel", "source", "campaign"]

COLUMNS = (
    "group", "leads", "mqls", "sqls", "customers", "lead_to_customer", "spend", "cost_per_lead", "cost_per_mql",
    "cost_per_sql", "cost_per_customer", "bookings", "spend_12m", "bookings_12m", "roi_12m",
)  # fmt: skip
COUNTS = ("lead", "mql", "sql", "customer", "deal")


@dataclass(frozen=True)
class SourceEffectiveness:
    """One row per group (``table``) and the records behind each count (``members``).

    ``table`` columns: group, leads, mqls, sqls, customers, lead_to_customer (share of the window's leads that
    became customers to date), spend, cost_per_lead / _mql / _sql / _customer, bookings (won new-business
    amount in the window), spend_12m, bookings_12m, roi_12m. ``members``: kind (lead / mql / sql / customer /
    deal), id, group.
    """

    by: SourceLevel
    table: pd.DataFrame
    list_members: Callable[[], pd.DataFrame] = field(repr=False)
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @cached_property
    def members(self) -> pd.DataFrame:
        """The records behind the counts (listed when first asked for: a drill-through)."""
        return self.list_members()

    def rows(self, group: str, kind: str) -> pd.DataFrame:
        """Ids behind one cell: ``kind`` is lead, mql, sql, customer or deal (won new deals in the window)."""
        pick = self.members["group"].eq(group) & self.members["kind"].eq(kind)
        return self.members[pick.to_numpy()].reset_index(drop=True)


def _label(values: pd.Series) -> pd.Series:
    """`keys.labelled` as text, on the rows' index: empty → ``(not set)``."""
    return pd.Series(labelled(values, NOT_SET), index=values.index).astype("str")


def _between(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    values = times.to_numpy()
    return (values >= start.to_datetime64()) & (values < end.to_datetime64())


def _counts(groups: pd.Categorical | pd.Series | np.ndarray, mask: np.ndarray | None = None) -> pd.Series:
    """How many rows (where ``mask`` holds) each group has, for the groups that have any: by the codes of a
    categorical of groups, else by the labels."""
    if isinstance(groups, pd.Categorical):
        codes = groups.codes if mask is None else groups.codes[mask]
        sizes = np.bincount(codes[codes >= 0], minlength=len(groups.categories))
        present = np.flatnonzero(sizes)
        return pd.Series(sizes[present], index=pd.Index(groups.categories[present], dtype="str"))
    sizes = pd.Series(np.asarray(groups, dtype="object")).value_counts()
    return pd.Series(sizes.to_numpy(), index=pd.Index(sizes.index, dtype="str"))


def _window(month: str | pd.Period, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    last = parse_month(month)
    return month_bounds(last - (months - 1))[0], month_bounds(last)[1]


def _member(kind: str, ids: pd.Series, groups: pd.Series | pd.Categorical) -> pd.DataFrame:
    return pd.DataFrame({"kind": kind, "id": ids.to_numpy(), "group": np.asarray(groups, dtype="object")})


def _lead_groups(facts: Facts, by: SourceLevel) -> pd.Categorical:
    """Each lead's group (`_label` of its ``by``), once per facts."""
    return remembered(facts, ("effectiveness", "lead groups", by), lambda: labelled(facts.leads[by], NOT_SET))


def _groups_of_lead_rows(facts: Facts, rows: np.ndarray, by: SourceLevel) -> np.ndarray:
    """The group (`_lead_groups`) of the lead at each of ``rows`` (rows of ``facts.leads``), ``(not set)`` where
    a row is -1 (no lead)."""

    def per_lead() -> tuple[np.ndarray, np.ndarray]:
        groups = _lead_groups(facts, by)
        labels = np.append(np.asarray(groups.categories, dtype="object"), NOT_SET)
        return labels, np.append(groups.codes, len(groups.categories))  # a missing lead: the last label

    labels, codes = remembered(facts, ("effectiveness", "lead labels", by), per_lead)
    return labels[codes[rows]]


def _deal_groups(facts: Facts, base: Facts, by: SourceLevel) -> pd.Series:
    """Each deal's group of ``facts`` (a channel view's deals are the whole facts' ``base`` of that channel):
    worked out for the whole deals once, by codes — the deal's lead found by `keys.deal_rows` (saved with a
    workspace's facts) and labelled with `_lead_groups`."""
    groups = remembered(base, ("effectiveness", "all deal groups", by), lambda: _all_deal_groups(base, by))
    if facts is not base:
        groups = groups[(base.deals["channel"] == facts.channel).to_numpy()]
    return pd.Series(groups, dtype="str")


def _all_deal_groups(facts: Facts, by: SourceLevel) -> np.ndarray:
    deals = facts.deals
    if by == "channel":
        return np.asarray(_label(deals["channel"]), dtype="object")
    if facts.leads is None:
        of_lead = np.full(len(deals), NOT_SET, dtype="object")
    else:
        of_lead = _groups_of_lead_rows(facts, deal_rows(facts), by)
    if by != "campaign":
        return of_lead
    own = deals["campaign"]
    named = own.notna().to_numpy()
    # A deal's own campaign where it has one (blank text too, which labels as not set), else its lead's.
    of_lead[named] = np.asarray(_label(own[named]), dtype="object")
    return of_lead


def _spend_by_group(
    spend: pd.DataFrame, by: SourceLevel, start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    rows = spend[_between(spend["date"], start, end)]
    return rows["amount"].groupby(_label(rows[by]).to_numpy()).sum()


def _bookings(
    deals: pd.DataFrame, groups: pd.Series, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    """Won new-business amount per group closed in [start, end), and the deals' ids with their groups."""
    won = (deals["status"].eq("won") & deals["type"].eq("new")).to_numpy() & _between(
        deals["closed_at"], start, end
    )
    amount = deals["amount"][won].fillna(0.0)
    return amount.groupby(groups[won].to_numpy()).sum(), deals["deal_id"][won]


def source_effectiveness(
    data: Tables | Facts,
    month: str | pd.Period,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    by: SourceLevel = "channel",
    months: int = 1,
) -> SourceEffectiveness:
    """Per channel, source or campaign, in the ``months`` months ending with M: leads, MQLs, SQLs, new
    customers, lead-to-customer conversion, spend, cost per lead / MQL / SQL / customer, won new-business
    bookings and the 12-month ROI ((bookings − spend) ÷ spend over the 12 months ending with M)."""
    if by not in ("channel", "source", "campaign"):
        raise ValueError(f"source effectiveness is by 'channel', 'source' or 'campaign', not {by!r}")
    base = build_facts(data)
    facts = base.view(channel)

    def empty_members() -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("kind", "id", "group")})

    if facts.leads is None:
        table = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS}).astype({"group": "str"})
        return SourceEffectiveness(by, table, empty_members, (), needs_text([("leads", "lead_stages")]))
    start, end = _window(month, months)
    roi_start, roi_end = _window(month, settings.roi_months)
    leads = facts.leads
    group = _lead_groups(facts, by)
    cohort = _between(leads["created_at"], start, end)
    # Counted by codes; the records behind each count are listed only when asked for (`members`).
    lead_kinds = {"lead": cohort}
    for kind, col in (("mql", "mql_at"), ("sql", "sql_at")):
        lead_kinds[kind] = _between(leads[col], start, end)
    counted = {kind: _counts(group, mask) for kind, mask in lead_kinds.items()}
    listed: list[Callable[[], pd.DataFrame]] = [
        lambda kind=kind, mask=mask: _member(kind, leads["lead_id"][mask], group[mask])
        for kind, mask in lead_kinds.items()
    ]
    converted = leads["customer_at"].notna().to_numpy() & cohort
    notes: list[str] = []

    if facts.customers is not None:
        customers = facts.customers
        new = customers[_between(customers["start"], start, end)]
        if by == "channel":
            groups = _label(new["channel"])
        else:
            groups = _groups_of_lead_rows(base, lead_positions(base, new["lead_id"]), by)
        counted["customer"] = _counts(groups)
        listed.append(lambda: _member("customer", new["customer_id"], groups))
    spend = bookings = spend_12m = bookings_12m = None
    if facts.spend is not None and by != "source":
        spend = _spend_by_group(facts.spend, by, start, end)
        spend_12m = _spend_by_group(facts.spend, by, roi_start, roi_end)
    elif facts.spend is None:
        notes.append("No spend export: costs and ROI need spend.")
    else:
        notes.append("Spend has no source: costs and ROI are shown by channel or campaign only.")
    if facts.deals is not None:
        deal_group = remembered(
            facts, ("effectiveness", "deal groups", by), lambda: _deal_groups(facts, base, by)
        )
        bookings, won_ids = _bookings(facts.deals, deal_group, start, end)
        bookings_12m, _ = _bookings(facts.deals, deal_group, roi_start, roi_end)
        won_groups = deal_group[won_ids.index]
        counted["deal"] = _counts(won_groups)
        listed.append(lambda: _member("deal", won_ids, won_groups))
    else:
        notes.append("No deals export: bookings and ROI need deals.")

    def members() -> pd.DataFrame:
        return pd.concat([part() for part in listed], ignore_index=True).astype("str")

    counts = pd.DataFrame(counted).reindex(columns=list(COUNTS))
    names = set(counts.index)
    for series in (spend, bookings, spend_12m, bookings_12m):
        if series is not None:
            names |= set(series.index)
    table = counts.reindex(sorted(names)).fillna(0)
    out = pd.DataFrame(index=table.index)
    for kind, col in (("lead", "leads"), ("mql", "mqls"), ("sql", "sqls"), ("customer", "customers")):
        out[col] = table[kind].astype("float64")
    cohort_leads = counted["lead"].reindex(out.index, fill_value=0)
    cohort_customers = _counts(group, converted).reindex(out.index, fill_value=0)
    out["lead_to_customer"] = cohort_customers / cohort_leads.where(cohort_leads > 0)
    if facts.customers is None:
        out["customers"] = np.nan
    money = {"spend": spend, "bookings": bookings, "spend_12m": spend_12m, "bookings_12m": bookings_12m}
    for col, series in money.items():
        out[col] = series.reindex(out.index, fill_value=0.0) if series is not None else np.nan
    # A group without spend rows costs 0 when spend is loaded (organic); a group with no leads has no cost.
    for col, count in (("cost_per_lead", "leads"), ("cost_per_mql", "mqls"), ("cost_per_sql", "sqls"),
                       ("cost_per_customer", "customers")):  # fmt: skip
        out[col] = out["spend"] / out[count].where(out[count] > 0)
    spent = out["spend_12m"].where(out["spend_12m"] > 0)
    out["roi_12m"] = (out["bookings_12m"] - out["spend_12m"]) / spent
    out = out.rename_axis("group").reset_index()
    out = out.sort_values(["leads", "group"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return SourceEffectiveness(by, out[list(COLUMNS)].astype({"group": "str"}), members, tuple(notes))
