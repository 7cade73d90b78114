"""Canonical tables (SPEC §3) as data: ingestion, validation, docs and tests all read this module.

Every upload is mapped onto one of these tables. A column has a *kind* that fixes its dtype in the
canonical frame:

- ``id`` / ``text`` / ``category`` -> pandas ``str`` (ids are strings; categories are normalized values)
- ``datetime`` -> naive ``datetime64[us]`` (tz-aware values converted to UTC first)
- ``number`` -> ``float64`` (money in one currency, counts that may be fractional, scores)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

ColumnKind = Literal["id", "text", "category", "datetime", "number"]

DATETIME_DTYPE = "datetime64[us]"

KIND_DTYPES: dict[str, str] = {
    "id": "str",
    "text": "str",
    "category": "str",
    "datetime": DATETIME_DTYPE,
    "number": "float64",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False
    description: str = ""

    @property
    def dtype(self) -> str:
        return KIND_DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Columns identifying a row; a later row with the same key replaces an earlier one."""
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    """Groups of columns of which at least one must be present (e.g. score_changes: delta or score)."""
    enables: str = ""
    """Which export typically provides this table (shown when a metric needs it and it is missing)."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _c(name: str, kind: ColumnKind, required: bool = False, description: str = "") -> Column:
    return Column(name, kind, required, description)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "leads",
            "One row per lead or contact, with the dates it reached each lifecycle stage.",
            (
                _c("lead_id", "id", True, "Lead or contact id in the source tool"),
                _c("created_at", "datetime", True, "When the lead was created"),
                _c("email", "text"),
                _c("account", "text", description="Company / account name or id"),
                _c("channel", "category", description="Original source / channel as the tool spells it"),
                _c("source", "text", description="Finer source detail (drill-down, UTM source)"),
                _c("campaign", "text"),
                _c("program", "text", description="Automated (nurture) program the lead is in"),
                _c("segment", "category"),
                _c("score", "number", description="Current lead score (only the current value)"),
                _c("mql_at", "datetime", description="Became a marketing qualified lead"),
                _c("sql_at", "datetime", description="Became a sales qualified lead"),
                _c("opportunity_at", "datetime", description="Became an opportunity"),
                _c("customer_at", "datetime", description="Became a customer"),
                _c("recycled_at", "datetime", description="Sent back by sales / marked not ready"),
                _c("reopened_at", "datetime", description="Re-engaged after being recycled"),
                _c("status", "category", description="Lifecycle stage or lead status as exported"),
            ),
            key=("lead_id",),
            enables="a lead / contact export from the CRM or marketing automation tool",
        ),
        Table(
            "lead_stages",
            "Long-form stage history: one row per lead and stage entered.",
            (
                _c("lead_id", "id", True),
                _c("stage", "category", True, "lead / mql / sql / opportunity / customer / recycled …"),
                _c("entered_at", "datetime", True),
            ),
            key=("lead_id", "stage", "entered_at"),
            enables="a lifecycle-stage history export",
        ),
        Table(
            "email_events",
            "Event-level email activity: one row per send, delivery, open, click, bounce or unsubscribe.",
            (
                _c("recipient", "id", True, "Lead/contact id or e-mail address of the recipient"),
                _c("event", "category", True, "sent / delivered / open / click / bounce / unsubscribe"),
                _c("at", "datetime", True),
                _c("email", "text", description="Email id or name"),
                _c("program", "text"),
                _c("step", "text"),
                _c("audience", "category", description="prospect / customer"),
            ),
            key=("recipient", "event", "at", "email"),
            enables="an email activity (event-level) export from the marketing automation tool",
        ),
        Table(
            "email_sends",
            "Summary-level email performance: one row per email send.",
            (
                _c("email", "text", True),
                _c("sent_at", "datetime", True),
                _c("sent", "number", True),
                _c("delivered", "number"),
                _c("unique_opens", "number"),
                _c("unique_clicks", "number"),
                _c("bounces", "number"),
                _c("unsubscribes", "number"),
                _c("program", "text"),
                _c("step", "text"),
                _c("audience", "category"),
            ),
            key=("email", "sent_at"),
            enables="an email performance (one row per send) report",
        ),
        Table(
            "score_changes",
            "Lead score history: points added (delta) or the new total (score) at a time.",
            (
                _c("lead_id", "id", True),
                _c("at", "datetime", True),
                _c("delta", "number", description="Points added (may be negative)"),
                _c("score", "number", description="New total score"),
                _c("reason", "text", description="Activity or rule that changed the score"),
            ),
            key=("lead_id", "at", "reason"),
            one_of=(("delta", "score"),),
            enables="a lead score history export",
        ),
        Table(
            "spend",
            "Marketing spend by day or month.",
            (
                _c("date", "datetime", True, "Day or month of the spend"),
                _c("amount", "number", True),
                _c("channel", "category"),
                _c("campaign", "text"),
                _c("category", "category", description="media / labor / technology / other"),
            ),
            key=("date", "channel", "campaign", "category"),
            enables="a spend / cost export (ad platforms or a budget sheet)",
        ),
        Table(
            "deals",
            "Deals / opportunities with their outcome.",
            (
                _c("deal_id", "id", True),
                _c("created_at", "datetime", True),
                _c("closed_at", "datetime"),
                _c("status", "category", True, "open / won / lost"),
                _c("amount", "number"),
                _c("type", "category", description="new / upsell / cross_sell / renewal"),
                _c("lead_id", "id"),
                _c("account", "text"),
                _c("channel", "category"),
                _c("campaign", "text"),
            ),
            key=("deal_id",),
            enables="a deals / opportunities export from the CRM",
        ),
        Table(
            "customers",
            "Customers (accounts or subscriptions) with start and churn dates.",
            (
                _c("customer_id", "id", True),
                _c("started_at", "datetime", True),
                _c("churned_at", "datetime"),
                _c("email", "text"),
                _c("account", "text"),
                _c("channel", "category"),
                _c("segment", "category"),
            ),
            key=("customer_id",),
            enables="a customers / subscriptions export (CRM or billing tool)",
        ),
        Table(
            "nps",
            "Net Promoter Score survey responses.",
            (
                _c("respondent", "id", True),
                _c("responded_at", "datetime", True),
                _c("score", "number", True, "0–10"),
                _c("comment", "text"),
                _c("customer_id", "id"),
            ),
            key=("respondent", "responded_at"),
            enables="an NPS survey export (Delighted, Qualtrics, SurveyMonkey, Typeform …)",
        ),
        Table(
            "web_traffic",
            "Web analytics sessions by day (or month) and channel.",
            (
                _c("date", "datetime", True),
                _c("sessions", "number", True),
                _c("channel", "category"),
                _c("source", "text"),
                _c("users", "number"),
                _c("new_users", "number"),
                _c("form_views", "number"),
                _c("form_submissions", "number"),
            ),
            key=("date", "channel", "source"),
            enables="a web analytics export (GA4 traffic acquisition report)",
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)

NOT_SET = "(not set)"
"""Channel value for rows whose channel is empty: a channel of its own (SPEC §3)."""

DEAL_STATUSES = ("open", "won", "lost")
DEAL_TYPES = ("new", "upsell", "cross_sell", "renewal")
EMAIL_EVENTS = ("sent", "delivered", "open", "click", "bounce", "unsubscribe")
AUDIENCES = ("prospect", "customer")
SPEND_CATEGORIES = ("media", "labor", "technology", "other")
LEAD_STAGES = ("lead", "mql", "sql", "opportunity", "customer", "recycled", "reopened")

CHANNEL_GROUPS = (
    "organic search",
    "paid search",
    "paid social",
    "organic social",
    "email",
    "referral",
    "direct",
    "events",
    "partner",
    "other",
)


def empty_frame(table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """An empty canonical frame of `table` with the given (default: all) columns and their dtypes."""
    spec = TABLES[table]
    names = columns if columns is not None else spec.column_names
    return pd.DataFrame({n: pd.Series(dtype=spec.column(n).dtype) for n in names})


def coerce_frame(table: str, frame: pd.DataFrame, *, categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Cast the canonical columns of `frame` to the schema dtypes, in schema order (extra columns dropped).
    Text columns named in `categorical` become categoricals of str instead (same values, compact).

    Values must already be parsed (ingest does that); this only fixes dtypes.
    """
    spec = TABLES[table]
    out = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        values = frame[col.name]
        if col.name in categorical and col.dtype == "str":
            if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.categories.dtype == "str":
                out[col.name] = values  # as it is: pandas' astype would copy and check every code (21 M rows)
                continue
            values = values.astype("category")
            if values.cat.categories.dtype != "str":
                values = values.cat.rename_categories(values.cat.categories.astype("str"))
            out[col.name] = values
        elif col.dtype == "str" and isinstance(values.dtype, pd.CategoricalDtype):
            out[col.name] = categorical_as_text(values)
        else:
            out[col.name] = values.astype(col.dtype)
    return frame_of(out, frame.index)


def categorical_as_text(values: pd.Series) -> pd.Series:
    """`values.astype("str")` of a categorical Series, by one Arrow take of its categories (30× faster)."""
    categories = values.cat.categories
    if categories.dtype != "str":
        return values.astype("str")
    codes = values.cat.codes.to_numpy()
    cells = pa.array(categories.array).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(cells, dtype="str"), index=values.index, name=values.name)


def take_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """`frame.iloc[rows]`, with text columns taken chunk by chunk: Arrow's take of a chunked array first joins
    its chunks, which copies a 20-million-row column to take the few rejected rows of a file."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        cells = pa.array(values.array) if values.dtype == "str" else None
        if isinstance(cells, pa.ChunkedArray) and cells.num_chunks > 1:
            taken = pd.array(_take_chunked(cells, rows), dtype="str")
            columns[name] = pd.Series(taken, index=frame.index[rows], name=name)
        else:
            columns[name] = values.iloc[rows]
    return frame_of(columns, frame.index[rows]) if columns else frame.iloc[rows]


def _take_chunked(cells: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    starts = np.cumsum([0] + [len(chunk) for chunk in cells.chunks])
    chunk_of = np.searchsorted(starts, rows, side="right") - 1
    by_chunk = np.argsort(chunk_of, kind="stable")
    parts = [
        cells.chunk(k).take(pa.array(rows[by_chunk][chunk_of[by_chunk] == k] - starts[k]))
        for k in np.unique(chunk_of)
    ]
    gathered = pa.concat_arrays(parts) if parts else pa.array([], cells.type)
    return gathered.take(pa.array(np.argsort(by_chunk)))  # back in the order of `rows`


def frame_of(columns: Mapping[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """`pd.DataFrame(columns, index=index)` for Series already on `index`, keeping one block per column: the
    constructor would copy the columns of one dtype into a 2-D block (half a second for two number columns of
    ten million rows)."""
    if not columns:
        return pd.DataFrame(index=index)
    return pd.concat(columns, axis=1)


def validate_frame(table: str, frame: pd.DataFrame) -> None:
    """Raise ValueError if `frame` is not a canonical `table` frame (missing required columns or wrong dtypes)."""
    spec = TABLES[table]
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise ValueError(f"table {table!r} is missing required column(s): {', '.join(missing)}")
    for group in spec.one_of:
        if not any(c in frame.columns for c in group):
            raise ValueError(f"table {table!r} needs at least one of: {', '.join(group)}")
    unknown = [c for c in frame.columns if c not in spec.column_names]
    if unknown:
        raise ValueError(f"table {table!r} has unknown column(s): {', '.join(unknown)}")
    for name in frame.columns:
        want = spec.column(name).dtype
        if str(frame[name].dtype) != str(pd.Series(dtype=want).dtype):
            raise ValueError(f"{table}.{name} has dtype {frame[name].dtype}, expected {want}")
