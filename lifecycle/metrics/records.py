"""Lead, deal and customer facts (SPEC §3 derived facts): one row per lead / deal / customer, one definition each.

Every metric and analysis reads these frames instead of re-deriving stage dates, customer starts or channels,
so "one number, one definition" holds across pages, the CLI and the report. Vectorized; inputs never mutated.

Decisions where SPEC §3 is silent:

- Without a ``leads`` table, leads come from ``lead_stages``: one per ``lead_id``, created at its ``lead`` stage
  entry, else its earliest entry of any stage; channel ``(not set)``.
- Lead ↔ customer link: a customer belongs to the lead whose ``lead_id`` equals its ``customer_id``, else the
  lead with the same e-mail (case-insensitive), else the first-created lead of the same account
  (case-insensitive). The lead's ``customer_at`` is then the linked customer's start (earliest if several),
  else ``leads.customer_at`` / the ``customer`` stage, else the lead's first won deal ``closed_at``.
- ``opportunity_at``: ``leads.opportunity_at`` / the ``opportunity`` stage, else the lead's first deal
  ``created_at`` (a deal is an opportunity). A deal belongs to a lead only through ``deals.lead_id``.
- Without a ``customers`` table, customers are derived: one per account (case-insensitive), else per lead,
  else per won deal, starting at the earliest of its leads' ``customer_at`` and its won *new-business* deals'
  ``closed_at`` (an upsell or renewal is an existing customer's deal); churn is then unknown. ``customer_id`` is the account name, ``lead:<id>`` or ``deal:<id>``.
- "Entered active marketing" (``in_program``): the lead has a ``program`` (not blank / "none" / "no"); when
  no lead has a program recorded, every lead counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lifecycle.schema import DEAL_STATUSES, DEAL_TYPES, NOT_SET
from lifecycle.values import plain_integers
from lifecycle.workspace import Tables

DATETIME = "datetime64[us]"

STAGE_DATE_COLUMNS: dict[str, str] = {
    "mql": "mql_at",
    "sql": "sql_at",
    "opportunity": "opportunity_at",
    "customer": "customer_at",
    "recycled": "recycled_at",
    "reopened": "reopened_at",
}
"""lead_stages ``stage`` value → stage-date column of ``lead_facts``."""

_STAGE_SYNONYMS = {
    "marketing qualified lead": "mql",
    "marketingqualifiedlead": "mql",
    "sales qualified lead": "sql",
    "salesqualifiedlead": "sql",
    "sales accepted lead": "sql",
    "opp": "opportunity",
    "won": "customer",
    "recycle": "recycled",
    "not ready": "recycled",
    "reopen": "reopened",
    "re-opened": "reopened",
}
_CREATED_STAGES = ("lead", "new", "subscriber", "contact", "new lead")
_NO_PROGRAM = ("none", "no", "n/a", "na", "-", "false", "0", "no program")

LEAD_TEXT_COLUMNS = ("segment", "program", "source", "campaign", "account", "status")
LEAD_COLUMNS = (
    "lead_id", "created_at", "channel", "email", *LEAD_TEXT_COLUMNS, "score",
    *STAGE_DATE_COLUMNS.values(), "in_program",
)  # fmt: skip


# ---------------------------------------------------------------- small vectorized helpers


def text(frame: pd.DataFrame, col: str) -> pd.Series:
    """Column as str dtype, all-missing when the frame lacks it."""
    if col in frame.columns:
        return frame[col].astype("str")
    return pd.Series(np.nan, index=frame.index, dtype="str")


def dates(frame: pd.DataFrame, col: str) -> pd.Series:
    """Column as naive datetime, all-NaT when the frame lacks it."""
    if col in frame.columns:
        return frame[col].astype(DATETIME)
    return pd.Series(pd.NaT, index=frame.index, dtype=DATETIME)


def join_key(values: pd.Series) -> pd.Series:
    """Join key: trimmed, lower-cased, empty → missing."""
    out = values.astype("str").str.strip().str.lower()
    return out.mask(out.eq(""))


def clean_channel(values: pd.Series) -> pd.Series:
    """Channel as exported, trimmed; empty → ``(not set)`` (SPEC §3)."""
    out = values.astype("str").str.strip()
    return out.mask(out.isna() | out.eq(""), NOT_SET)


def _blank_channel(values: pd.Series) -> pd.Series:
    """Trimmed channel with empty → missing (so a fallback can fill it)."""
    out = values.astype("str").str.strip()
    return out.mask(out.eq(""))


def positions_in(keys: pd.Series | pd.Index, index: pd.Index, *, last: bool = False) -> np.ndarray:
    """`index.get_indexer(keys)` (-1 where a key is absent) for a unique `index`, or, with `last`, the position
    of each key's last occurrence in an `index` that may repeat. By Arrow's hash lookup when both are text
    (pandas would first turn a text index into a million Python strings to hash them, and check that they are
    unique)."""
    if keys.dtype == "str" and index.dtype == "str":
        values = pa.array(index.array)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        cells = pa.array(keys.array)
        by_number = _positions_by_number(cells, values, last=last)
        if by_number is not None:
            return by_number
        if 4 * len(cells) <= len(values):
            return _positions_of_few(cells, values, last=last)
        if last:
            values = values[::-1]  # Arrow finds a value's first occurrence
        found = pc.fill_null(pc.index_in(cells, value_set=values), -1).to_numpy()
        found = found.astype(np.intp, copy=False)
        return np.where(found >= 0, len(values) - 1 - found, -1) if last else found
    if not last:
        return index.get_indexer(keys)
    kept = ~index.duplicated(keep="last")
    found = index[kept].get_indexer(keys)
    if not len(index):
        return found
    return np.where(found >= 0, np.flatnonzero(kept)[np.maximum(found, 0)], -1)


def _positions_of_few(cells: pa.Array | pa.ChunkedArray, values: pa.Array, *, last: bool) -> np.ndarray:
    """`positions_in` of a few keys in a large text index: the keys' distinct values are hashed and the index
    rows looked up among them (a hash table of the few, not of the million: a fifth of the time), then each
    distinct key takes the first (or last) row that matched it. A missing key matches a missing index value,
    as in `index.get_indexer`."""
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    encoded = pc.dictionary_encode(cells, null_encoding="encode")
    distinct, key_codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    matched = pc.fill_null(pc.index_in(values, value_set=distinct), -1).to_numpy()
    rows = np.flatnonzero(matched >= 0)
    hits = matched[rows]
    position = np.full(len(distinct), -1, dtype=np.intp)
    if last:
        found, at = np.unique(hits[::-1], return_index=True)
        position[found] = rows[::-1][at]
    else:
        found, at = np.unique(hits, return_index=True)
        position[found] = rows[at]
    return position[key_codes]


def _positions_by_number(
    cells: pa.Array | pa.ChunkedArray, values: pa.Array, *, last: bool
) -> np.ndarray | None:
    """`positions_in` of ids that are plain numbers on both sides, none missing (`values.plain_integers`): a
    table over their span, filled by the first (or last) position of each value, read at each key — no
    hashing, which grows faster than the data once its table leaves the cache. None otherwise."""
    if cells.null_count or values.null_count or not len(cells) or not len(values):
        return None
    index_numbers = plain_integers(values)
    key_numbers = plain_integers(cells) if index_numbers is not None else None
    if index_numbers is None or key_numbers is None:
        return None
    lo = min(int(index_numbers.min()), int(key_numbers.min()))
    span = max(int(index_numbers.max()), int(key_numbers.max())) - lo + 1
    if span > 4 * (len(index_numbers) + len(key_numbers)):
        return None
    rows = np.arange(len(index_numbers), dtype=np.intp)
    if last:
        table = np.full(span, -1, dtype=np.intp)
        np.maximum.at(table, index_numbers - lo, rows)
        return table[key_numbers - lo]
    table = np.full(span, len(rows), dtype=np.intp)
    np.minimum.at(table, index_numbers - lo, rows)
    found = table[key_numbers - lo]
    found[found == len(rows)] = -1
    return found


def lookup(keys: pd.Series, index: pd.Index, values: pd.Series | np.ndarray) -> pd.Series:
    """values[position of each key in index] (missing where the key is absent); index must be unique."""
    pos = positions_in(keys, index)
    vals = pd.Series(values).reset_index(drop=True)
    out = vals.reindex(pos)
    out.index = keys.index
    return out.where(pos >= 0)


def take_dates(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``values[pos]`` (datetimes), NaT where ``pos`` is -1."""
    if not len(values):
        return np.full(len(pos), np.datetime64("NaT"), dtype=DATETIME)
    return np.where(pos >= 0, values[np.maximum(pos, 0)], np.datetime64("NaT"))


def _first_lead_per_key(keys: pd.Series, created: pd.Series, lead_ids: pd.Series) -> pd.Series:
    """lead_id of the first-created lead per join key (index = key)."""
    codes, distinct = pd.factorize(keys)  # a missing key is -1
    ticks = created.astype(DATETIME).to_numpy().view(np.int64)
    ticks = np.where(ticks == np.iinfo(np.int64).min, np.iinfo(np.int64).max, ticks)  # no date: last
    order = np.lexsort((ticks, codes))  # by key, then date, then file order (lexsort is stable)
    order = order[codes[order] >= 0]
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]] if len(order) else order
    return pd.Series(lead_ids.to_numpy()[first], index=pd.Index(distinct[codes[first]]))


# ---------------------------------------------------------------- leads


def _stage_rows(tables: Tables) -> pd.DataFrame | None:
    stages = tables.get("lead_stages")
    if stages is None:
        return None
    return pd.DataFrame(
        {
            "lead_id": stages["lead_id"].astype("str"),
            "stage": join_key(stages["stage"]),
            "at": stages["entered_at"].astype(DATETIME),
        }
    ).dropna()


def _stage_history(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """First ``entered_at`` per lead and stage-date column from lead_stages (index = lead_id)."""
    if rows is None or rows.empty:
        return None
    col = rows["stage"].replace(_STAGE_SYNONYMS).map(STAGE_DATE_COLUMNS)
    frame = rows.assign(col=col).dropna(subset=["col"])
    if frame.empty:
        return None
    return frame.groupby(["lead_id", "col"], observed=True)["at"].min().unstack("col")


def _leads_from_stages(rows: pd.DataFrame) -> pd.DataFrame:
    """One lead per lead_id of lead_stages, created at its lead-stage entry, else its earliest entry."""
    first_any = rows.groupby("lead_id")["at"].min()
    created_rows = rows[rows["stage"].isin(_CREATED_STAGES)]
    first_lead = created_rows.groupby("lead_id")["at"].min().reindex(first_any.index)
    created = first_lead.fillna(first_any)
    return pd.DataFrame({"lead_id": pd.array(created.index, dtype="str"), "created_at": created.to_numpy()})


def _link_customers(customers: pd.DataFrame, leads: pd.DataFrame) -> pd.Series:
    """lead_id of each customer: same id, else same e-mail, else first-created lead of the same account. An
    e-mail or account match is only the customer's lead when that lead existed by the customer's start: a
    contact created after the account became a customer did not bring it in."""
    cid = customers["customer_id"].astype("str")
    lead_index = pd.Index(leads["lead_id"])
    linked = cid.where(positions_in(cid, lead_index) >= 0)
    created_by_lead = pd.Series(leads["created_at"].to_numpy(), index=lead_index)
    started = customers["started_at"].astype(DATETIME) if "started_at" in customers.columns else None
    for col in ("email", "account"):
        if col in customers.columns and leads[col].notna().any():
            keys, lead_keys = join_key(customers[col]), join_key(leads[col])
            # Only a lead whose key some customer has can be a customer's first lead: the rest are not ranked.
            mine = pc.is_in(pa.array(lead_keys.array), value_set=pa.array(keys.dropna().array)).to_numpy(
                zero_copy_only=False
            )
            first = _first_lead_per_key(lead_keys[mine], leads["created_at"][mine], leads["lead_id"][mine])
            found = lookup(keys, first.index, first.to_numpy())
            if started is not None:
                lead_created = lookup(found, created_by_lead.index, created_by_lead.to_numpy())
                found = found.where(~(pd.to_datetime(lead_created) > started.to_numpy()))
            linked = linked.fillna(found)
    return linked.astype("str")


def _deals_by_lead(deals: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """First deal created_at and first won deal closed_at per lead_id."""
    empty = pd.Series(dtype=DATETIME)
    if deals is None or "lead_id" not in deals.columns or deals.empty:
        return empty, empty
    lead = deals["lead_id"].astype("str")
    first_deal = deals["created_at"].astype(DATETIME).groupby(lead).min()
    won = join_key(deals["status"]).eq("won")
    closed = dates(deals, "closed_at")
    first_won = closed[won].groupby(lead[won]).min()
    return first_deal, first_won


def has_program(program: pd.Series) -> pd.Series:
    """Whether each lead has a program recorded (not blank, "none", "no", "n/a" …)."""
    key = join_key(program)
    return key.notna() & ~key.isin(_NO_PROGRAM)


def _in_program(program: pd.Series) -> pd.Series:
    has = has_program(program)
    # No program recorded anywhere: the export does not track nurture membership, so every lead is in.
    return has if has.any() else pd.Series(True, index=program.index)


def lead_facts(tables: Tables) -> tuple[pd.DataFrame, dict[str, list[str]]] | None:
    """One row per lead with channel, attributes and stage dates per SPEC §3, plus the sources of each date.

    Columns: ``lead_id``, ``created_at``, ``channel`` (str, empty → ``(not set)``), ``email`` (lower-cased),
    ``segment``, ``program``, ``source``, ``campaign``, ``account``, ``status``, ``score`` (current score
    column, float), ``mql_at``, ``sql_at`` (else opportunity, else first deal), ``opportunity_at``,
    ``customer_at`` (customer-start precedence), ``recycled_at``, ``reopened_at`` (datetimes), ``in_program``
    (bool). The dict names, per stage-date column, the tables that fed it (empty: unknown for every lead).
    None without leads or lead_stages.
    """
    raw = tables.get("leads")
    stage_rows = _stage_rows(tables)
    if raw is None:
        if stage_rows is None:
            return None
        raw = _leads_from_stages(stage_rows)
    leads = raw.drop_duplicates("lead_id", keep="last").reset_index(drop=True)
    ids = leads["lead_id"].astype("str")
    out = pd.DataFrame({"lead_id": ids, "created_at": leads["created_at"].astype(DATETIME)})
    out["channel"] = clean_channel(text(leads, "channel"))
    out["email"] = join_key(text(leads, "email"))
    for col in LEAD_TEXT_COLUMNS:
        out[col] = text(leads, col)
    out["score"] = leads["score"].astype("float64") if "score" in leads.columns else np.nan

    history = _stage_history(stage_rows)
    at_history = positions_in(ids, history.index) if history is not None else None  # each lead's row, or -1
    sources: dict[str, list[str]] = {}
    for col in STAGE_DATE_COLUMNS.values():
        value = dates(leads, col)
        src = ["leads"] if col in leads.columns else []
        if history is not None and col in history.columns:
            found = take_dates(history[col].astype(DATETIME).to_numpy(), at_history)
            value = value.fillna(pd.Series(found, index=value.index, dtype=DATETIME))
            src.append("lead_stages")
        out[col] = value.astype(DATETIME)
        sources[col] = src

    deals = tables.get("deals")
    first_deal, first_won = _deals_by_lead(deals)
    if deals is not None and "lead_id" in deals.columns:
        out["opportunity_at"] = out["opportunity_at"].fillna(lookup(ids, first_deal.index, first_deal))
        sources["opportunity_at"].append("deals")
    out["sql_at"] = out["sql_at"].fillna(out["opportunity_at"]).astype(DATETIME)
    sources["sql_at"] = list(dict.fromkeys(sources["sql_at"] + sources["opportunity_at"]))

    customers = tables.get("customers")
    customer_at = out["customer_at"]
    cust_src = []
    if customers is not None and not customers.empty:
        link = _link_customers(customers, out)
        start = customers["started_at"].astype(DATETIME).groupby(link).min()
        customer_at = lookup(ids, start.index, start).astype(DATETIME).fillna(customer_at)
        cust_src.append("customers")
    if deals is not None and "lead_id" in deals.columns:
        customer_at = customer_at.fillna(lookup(ids, first_won.index, first_won))
        sources["customer_at"].append("deals")
    out["customer_at"] = customer_at.astype(DATETIME)
    out["opportunity_at"] = out["opportunity_at"].astype(DATETIME)
    sources["customer_at"] = cust_src + sources["customer_at"]
    out["in_program"] = _in_program(out["program"]).to_numpy()
    return out[list(LEAD_COLUMNS)], sources


# ---------------------------------------------------------------- deals


def deal_facts(tables: Tables, leads: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row per deal; ``channel`` = deals.channel, else its lead's channel, else ``(not set)``.

    Columns: ``deal_id``, ``created_at``, ``closed_at``, ``status`` (categorical open/won/lost), ``type``
    (categorical, empty → new),
    ``amount`` (float), ``lead_id``, ``account``, ``campaign``, ``channel``, ``lead_linked`` (the lead_id is a
    known lead), ``days_to_close`` (fractional days created → closed). None without a deals table.
    """
    deals = tables.get("deals")
    if deals is None:
        return None
    deals = deals.drop_duplicates("deal_id", keep="last").reset_index(drop=True)
    out = pd.DataFrame({"deal_id": deals["deal_id"].astype("str"), "created_at": dates(deals, "created_at")})
    out["closed_at"] = dates(deals, "closed_at")
    status = join_key(deals["status"])
    out["status"] = pd.Categorical(
        status.where(status.isin(["won", "lost"]), "open"), categories=DEAL_STATUSES
    )
    deal_type = join_key(text(deals, "type")).fillna("new")
    out["type"] = pd.Categorical(deal_type, categories=sorted(set(DEAL_TYPES) | set(deal_type.unique())))
    out["amount"] = deals["amount"].astype("float64") if "amount" in deals.columns else np.nan
    out["lead_id"] = text(deals, "lead_id")
    out["account"] = text(deals, "account")
    out["campaign"] = text(deals, "campaign")
    channel = _blank_channel(text(deals, "channel"))
    if leads is not None:
        index = pd.Index(leads["lead_id"])
        out["lead_linked"] = index.get_indexer(out["lead_id"]) >= 0
        channel = channel.fillna(lookup(out["lead_id"], index, leads["channel"]))
    else:
        out["lead_linked"] = False
    out["channel"] = channel.fillna(NOT_SET).astype("str")
    out["days_to_close"] = (out["closed_at"] - out["created_at"]).dt.total_seconds() / 86400.0
    return out


# ---------------------------------------------------------------- customers


def _derived_customers(leads: pd.DataFrame | None, deals: pd.DataFrame | None) -> pd.DataFrame | None:
    parts = []
    if leads is not None and leads["customer_at"].notna().any():
        sub = leads[leads["customer_at"].notna()]
        acct = join_key(sub["account"])
        parts.append(
            pd.DataFrame(
                {
                    "key": acct.fillna("lead:" + sub["lead_id"]),
                    "display": sub["account"].where(acct.notna(), "lead:" + sub["lead_id"]),
                    "start": sub["customer_at"],
                    "lead_id": sub["lead_id"],
                    "account": sub["account"],
                    "deal_channel": pd.Series(np.nan, index=sub.index, dtype="str"),
                }
            )
        )
    if deals is not None:
        # An upsell, cross-sell or renewal is an existing customer's deal: it never starts a customer.
        won = deals[
            (deals["status"].eq("won") & deals["type"].eq("new") & deals["closed_at"].notna()).to_numpy()
        ]
        lead_id = won["lead_id"].where(won["lead_linked"])
        account = won["account"]
        if leads is not None:
            account = account.fillna(lookup(lead_id, pd.Index(leads["lead_id"]), leads["account"]))
        acct = join_key(account)
        key = acct.fillna("lead:" + lead_id).fillna("deal:" + won["deal_id"])
        parts.append(
            pd.DataFrame(
                {
                    "key": key,
                    "display": account.where(acct.notna(), key),
                    "start": won["closed_at"],
                    "lead_id": lead_id,
                    "account": account,
                    "deal_channel": won["channel"],
                }
            )
        )
    if not parts:
        return None
    rows = pd.concat(parts, ignore_index=True).sort_values(["start", "key"], kind="stable")
    # first() skips missing values, so each field comes from the earliest row that has it.
    out = (
        rows.groupby("key", sort=True)
        .agg(
            customer_id=("display", "first"),
            start=("start", "min"),
            lead_id=("lead_id", "first"),
            account=("account", "first"),
            deal_channel=("deal_channel", "first"),
        )
        .reset_index(drop=True)
    )
    for col in ("customer_id", "lead_id", "account", "deal_channel"):
        out[col] = out[col].astype("str")
    out["churned_at"] = pd.Series(pd.NaT, index=out.index, dtype=DATETIME)
    for col in ("email", "channel", "segment"):
        out[col] = pd.Series(np.nan, index=out.index, dtype="str")
    return out


def customer_facts(
    tables: Tables, leads: pd.DataFrame | None, deals: pd.DataFrame | None
) -> pd.DataFrame | None:
    """One row per customer; start = customers.started_at, else the linked lead's customer date.

    Columns: ``customer_id``, ``start``, ``churned_at`` (datetimes), ``channel`` (customers.channel, else the
    linked lead's, else the first won deal's, else ``(not set)``), ``segment``, ``lead_id`` (linked lead),
    ``account``, ``email`` (lower-cased), ``lead_created_at``. Without a customers table, customers are
    derived from leads' customer dates and won deals (module docs). None when there is nothing to derive from.
    """
    customers = tables.get("customers")
    if customers is not None:
        customers = customers.drop_duplicates("customer_id", keep="last").reset_index(drop=True)
        out = pd.DataFrame({"customer_id": customers["customer_id"].astype("str")})
        out["start"] = customers["started_at"].astype(DATETIME)
        out["churned_at"] = dates(customers, "churned_at")
        out["email"] = join_key(text(customers, "email"))
        out["account"] = text(customers, "account")
        out["channel"] = _blank_channel(text(customers, "channel"))
        out["segment"] = text(customers, "segment")
        if leads is not None:
            out["lead_id"] = _link_customers(customers, leads).to_numpy()
            start = lookup(out["lead_id"], pd.Index(leads["lead_id"]), leads["customer_at"])
            out["start"] = out["start"].fillna(start.astype(DATETIME))
        else:
            out["lead_id"] = pd.Series(np.nan, index=out.index, dtype="str")
        out["deal_channel"] = pd.Series(np.nan, index=out.index, dtype="str")
    else:
        out = _derived_customers(leads, deals)
        if out is None:
            return None
    if leads is not None:
        index = pd.Index(leads["lead_id"])
        out["channel"] = out["channel"].fillna(lookup(out["lead_id"], index, leads["channel"]))
        out["segment"] = out["segment"].fillna(lookup(out["lead_id"], index, leads["segment"]))
        out["lead_created_at"] = lookup(out["lead_id"], index, leads["created_at"]).astype(DATETIME)
    else:
        out["lead_created_at"] = pd.Series(pd.NaT, index=out.index, dtype=DATETIME)
    out["channel"] = out["channel"].fillna(out["deal_channel"]).fillna(NOT_SET).astype("str")
    out["start"] = out["start"].astype(DATETIME)
    cols = ["customer_id", "start", "churned_at", "channel", "segment", "lead_id", "account", "email"]
    return out[[*cols, "lead_created_at"]].reset_index(drop=True)
