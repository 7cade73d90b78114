"""Derived facts (SPEC §3) bundled once per dataset, so every month and channel is a cheap mask over them.

:func:`build_facts` does the heavy work once — stage dates, customer starts, deal and customer channels, email
events collapsed to one row per (email, recipient) send, score history sorted with running totals, each lead's
score at the end of its creation month — and :meth:`Facts.view` narrows everything to one channel (memoized).
Channels are categoricals with the same categories in every frame (``(not set)`` last).

Decisions where SPEC is silent (with those in ``records``, ``emails`` and ``scores``):

- Spend and web traffic count in the month of their ``date``: a monthly row dated on the 1st counts in full
  in that month; daily rows are never spread across months.
- Re-engagement fallback for ``nurture.reopened_leads`` (no ``reopened_at`` anywhere): ``reengaged_at`` is a
  recycled lead's first email open/click or positive score change strictly after ``recycled_at``.
- NPS responses join to customers by ``customer_id``, else by ``respondent`` as id or e-mail; their channel is
  the customer's, else ``(not set)``. Responses that join nowhere keep the NPS unfiltered by channel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from lifecycle.metrics.emails import (
    email_engagements,
    email_send_facts,
    email_summary_facts,
    join_recipients,
    send_months,
)
from lifecycle.metrics.months import month_mask, register
from lifecycle.metrics.records import (
    STAGE_DATE_COLUMNS,
    clean_channel,
    customer_facts,
    deal_facts,
    has_program,
    lead_facts,
    text,
)
from lifecycle.metrics.scores import ScoreHistory, score_at
from lifecycle.schema import NOT_SET, TABLES, coerce_frame
from lifecycle.workspace import Tables

__all__ = [
    "Facts",
    "Later",
    "STAGE_DATE_COLUMNS",
    "build_facts",
    "month_bounds",
    "parse_month",
    "score_at",
]

DATETIME = "datetime64[us]"
_ONE_US = pd.Timedelta(1, "us")


def parse_month(month: str | pd.Period) -> pd.Period:
    """A "YYYY-MM" string (or Period) as a monthly Period; ValueError with a readable message otherwise."""
    if isinstance(month, pd.Period):
        return month.asfreq("M")
    text_month = str(month).strip()
    if len(text_month) != 7 or text_month[4] != "-" or not (text_month[:4] + text_month[5:]).isdigit():
        raise ValueError(f"month must be written YYYY-MM (e.g. 2026-03), got {month!r}")
    if not 1 <= int(text_month[5:]) <= 12:
        raise ValueError(f"month must be written YYYY-MM with a month 01–12, got {month!r}")
    return pd.Period(text_month, freq="M")


def month_bounds(month: str | pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Month M as [first day 00:00, first day of the next month 00:00)."""
    period = parse_month(month)
    return period.start_time.as_unit("us"), (period + 1).start_time.as_unit("us")


# ---------------------------------------------------------------- small tables


def _spend_facts(tables: Tables) -> pd.DataFrame | None:
    spend = tables.get("spend")
    if spend is None:
        return None
    out = pd.DataFrame({"date": spend["date"].astype(DATETIME), "amount": spend["amount"].astype("float64")})
    out["channel"] = clean_channel(text(spend, "channel"))
    out["campaign"] = text(spend, "campaign")
    out["category"] = text(spend, "category")
    return out.reset_index(drop=True)


def _traffic_facts(tables: Tables) -> pd.DataFrame | None:
    traffic = tables.get("web_traffic")
    if traffic is None:
        return None
    out = pd.DataFrame({"date": traffic["date"].astype(DATETIME)})
    for col in ("sessions", "users", "new_users", "form_views", "form_submissions"):
        out[col] = traffic[col].astype("float64") if col in traffic.columns else np.nan
    out["channel"] = clean_channel(text(traffic, "channel"))
    out["source"] = text(traffic, "source")
    return out.reset_index(drop=True)


def _nps_facts(tables: Tables, customers: pd.DataFrame | None) -> pd.DataFrame | None:
    nps = tables.get("nps")
    if nps is None:
        return None
    out = pd.DataFrame(
        {
            "respondent": nps["respondent"].astype("str").to_numpy(),
            "responded_at": nps["responded_at"].astype(DATETIME).to_numpy(),
            "score": nps["score"].astype("float64").to_numpy(),
            "comment": text(nps, "comment").to_numpy(),
            "customer_id": text(nps, "customer_id").to_numpy(),
        }
    )
    out["customer_id"] = out["customer_id"].astype("str")
    out["channel"] = pd.Series(np.nan, index=out.index, dtype="str")
    if customers is not None and not customers.empty:
        pos = join_recipients(out["customer_id"].fillna(out["respondent"]), customers, "customer_id")
        joined = pd.Series(pos >= 0, index=out.index)
        channel = customers["channel"].astype("str").to_numpy(dtype=object)[np.maximum(pos, 0)]
        out["channel"] = pd.Series(channel, index=out.index, dtype="str").where(joined)
        ids = customers["customer_id"].to_numpy(dtype=object)[np.maximum(pos, 0)]
        out["customer_id"] = pd.Series(ids, index=out.index, dtype="str").where(joined)
    out["channel"] = out["channel"].fillna(NOT_SET)
    return out


# ---------------------------------------------------------------- lead extras


def _month_end_scores(leads: pd.DataFrame, history: ScoreHistory | None) -> pd.Series:
    """Each lead's score at the end of its creation month (history), else its current ``score``."""
    if history is None:
        return leads["score"].astype("float64")
    created = leads["created_at"]
    month_end = created.dt.to_period("M").dt.end_time.dt.floor("us").astype(DATETIME)
    when = pd.Series(month_end.to_numpy(), index=pd.Index(leads["lead_id"]))
    return pd.Series(history.at(when, leads["lead_id"]).to_numpy(), index=leads.index).where(created.notna())


def _reengaged_at(tables: Tables, leads: pd.DataFrame, history: ScoreHistory | None) -> pd.Series:
    """First email open/click or positive score change strictly after a lead's ``recycled_at``."""
    parts = [email_engagements(tables, leads)]
    if history is not None:
        up = history.changes[(history.changes["delta"] > 0).to_numpy()]
        ids = up["lead_id"].array
        position = pd.Index(leads["lead_id"]).get_indexer(ids.categories)[ids.codes]
        parts.append(pd.DataFrame({"lead": position, "at": up["at"].to_numpy()})[position >= 0])
    events = pd.concat(parts, ignore_index=True)
    recycled = leads["recycled_at"].to_numpy()[events["lead"].to_numpy()]
    after = events[events["at"].to_numpy() > recycled]
    first = after.groupby("lead")["at"].min()
    out = pd.Series(pd.NaT, index=leads.index, dtype=DATETIME)
    out.iloc[first.index.to_numpy()] = first.to_numpy()
    return out


# ---------------------------------------------------------------- the bundle

T = TypeVar("T")


class Later(Generic[T]):
    """A value read on first use: a large frame of saved facts that most pages never read (``store``), or a
    frame of a channel view, narrowed to the channel when a metric first reads it (``Facts.view``).

    The value is read once, by the first caller; threads asking at the same time wait for that read."""

    def __init__(self, read: Callable[[], T]) -> None:
        self._read: Callable[[], T] | None = read
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._read is not None:
                self._value, self._read = self._read(), None
            return self._value  # type: ignore[return-value]


class _ReadOnFirstUse:
    """A Facts field that may be given as a :class:`Later`: reading the field reads the value then."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self.slot)  # no class-level default: the dataclass field stays required
        value = obj.__dict__[self.slot]
        if isinstance(value, Later):
            value = obj.__dict__[self.slot] = value.get()  # read once (Later's lock), then held
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


INDEXED_FRAMES = (
    "leads",
    "deals",
    "customers",
    "sends",
    "email_summary",
    "spend",
    "traffic",
    "nps",
    "scores",
)
"""The Facts fields whose date columns are indexed by month (``scores``: its changes)."""
REGISTERED_KEY = "month_index_frames"
"""The Facts cache key of the fields registered in the month index so far."""

READ_ON_FIRST_USE = (
    "leads",
    "deals",
    "customers",
    "sends",
    "send_months",
    "scores",
    "spend",
    "traffic",
    "nps",
)
"""The Facts fields that may be given as a :class:`Later`: the saved facts' large frames that most pages never
read, and a channel view's frames, each narrowed to the channel when first read."""


@dataclass(frozen=True, eq=False)
class Facts:
    """Every derived fact, built once by :func:`build_facts` and shared by all metrics, months and channels.

    Frames (None when their source tables are absent; every ``channel`` column is a categorical):

    - ``leads``: one row per lead — ``lead_id``, ``created_at``, ``channel``, ``email`` (lower-cased),
      ``segment``, ``program``, ``source``, ``campaign``, ``account``, ``status``, ``score`` (current),
      ``mql_at``, ``sql_at``, ``opportunity_at``, ``customer_at``, ``recycled_at``, ``reopened_at``,
      ``in_program`` (bool), ``score_month_end`` (score at the end of the creation month; the current score
      when no history is loaded), ``reengaged_at`` (see module docs).
    - ``deals``: ``deal_id``, ``created_at``, ``closed_at``, ``status``, ``type``, ``amount``, ``lead_id``,
      ``account``, ``campaign``, ``channel``, ``lead_linked``, ``days_to_close`` (fractional days).
    - ``customers``: ``customer_id``, ``start``, ``churned_at``, ``channel``, ``segment``, ``lead_id``,
      ``account``, ``email``, ``lead_created_at``.
    - ``sends``: one row per (email, recipient) send from email events — ``email``, ``recipient``,
      ``lead_id``, ``customer_id``, ``channel``, ``audience``, ``program``, ``step``, ``sent_at``,
      ``delivered``, ``opened``, ``clicked``, ``bounced``, ``unsubscribed`` (see ``emails``).
    - ``send_months``: ``sends`` counted per (``month``, ``audience``, ``channel``) — what email rates read.
    - ``email_summary``: summary-level ``email_sends`` with ``delivered`` filled.
    - ``spend`` (``date``, ``amount``, ``channel``, ``campaign``, ``category``), ``traffic`` (``date``,
      ``sessions``, ``users``, ``new_users``, ``form_views``, ``form_submissions``, ``channel``, ``source``),
      ``nps`` (``respondent``, ``responded_at``, ``score``, ``comment``, ``customer_id``, ``channel``).
    - ``scores``: the sorted :class:`ScoreHistory` (None without ``score_changes``).

    The frames of ``READ_ON_FIRST_USE`` may be given as a :class:`Later`, read when first used: ``sends`` and
    ``scores`` of facts opened from a workspace (``store``), and every frame of a channel view (narrowed to the
    channel then). :meth:`has` says whether one exists without reading it.

    ``info`` holds provenance: ``stage_sources`` {column: [tables]}, ``score_source``, ``customer_source``,
    ``churn_known``, ``program_basis``, ``sends_filterable``, ``nps_filterable``, ``columns`` {table: set}.
    A view (``channel`` set) holds only that channel's rows; sends/NPS stay whole when they cannot be joined.
    """

    tables: Mapping[str, pd.DataFrame]
    """The loaded canonical tables' layout (no rows): which tables and columns were loaded. The facts hold
    everything the metrics read, so the tables themselves can be let go once the facts are built."""
    leads: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    deals: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    customers: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    sends: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    send_months: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    email_summary: pd.DataFrame | None
    scores: ScoreHistory | None = _ReadOnFirstUse()  # type: ignore[assignment]
    spend: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    traffic: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    nps: pd.DataFrame | None = _ReadOnFirstUse()  # type: ignore[assignment]
    channels: tuple[str, ...]
    info: dict[str, Any]
    channel: str | None = None
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Memo of views and dataset-wide values (months); owned by this object."""

    @property
    def present(self) -> frozenset[str]:
        """Names of the canonical tables that were loaded."""
        return frozenset(self.tables)

    def has(self, name: str) -> bool:
        """Whether the frame ``name`` exists, without reading one that is read on first use."""
        return self.stored(name) is not None

    def stored(self, name: str) -> Any:
        """The field ``name`` as given: a :class:`Later` when it has not been read yet."""
        return self.__dict__[f"_{name}"] if name in READ_ON_FIRST_USE else getattr(self, name)

    def has_column(self, table: str, column: str) -> bool:
        """Whether the loaded ``table`` has ``column`` (False when the table is absent)."""
        return column in self.info["columns"].get(table, ())

    def score_at(
        self, when: pd.Timestamp | pd.Series, lead_ids: pd.Index | pd.Series | None = None
    ) -> pd.Series:
        """Score per lead at ``when`` from the score history (all missing without one); see ``scores``."""
        if lead_ids is None and self.leads is not None and not isinstance(when, pd.Series):
            lead_ids = self.leads["lead_id"]
        return score_at(self.scores, when, lead_ids)

    def month_mask(self, values: np.ndarray, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Boolean mask of the datetime ``values`` in [start, end) (NaT never is); a calendar month of one of
        these facts' date columns reads that column's month index (built on first use, see ``months``)."""
        # A frame not read yet is not indexed (its months would be compared directly: the same mask); it is
        # registered with the next mask asked for once it has been read.
        registered = self.cache.setdefault(REGISTERED_KEY, set())
        if len(registered) < len(INDEXED_FRAMES):
            read = {n: self.stored(n) for n in INDEXED_FRAMES if n not in registered}
            read = {n: f for n, f in read.items() if not isinstance(f, Later)}
            if read:
                register(self.cache, [f.changes if isinstance(f, ScoreHistory) else f for f in read.values()])
                registered.update(read)
        return month_mask(self.cache, values, start, end)

    def view(self, channel: str | None) -> Facts:
        """These facts narrowed to one channel (``None``: all channels); memoized."""
        if channel is None or self.channel == channel:
            return self
        if self.channel is not None:
            raise ValueError("a channel view cannot be narrowed to another channel")
        key = ("view", channel)
        if key not in self.cache:
            # Each frame is narrowed when a metric first reads it: a page's table by channel builds every
            # channel's view, and most of its metrics read one or two frames (opening the Attract page at 1M
            # took 0.9 s, 0.8 of it narrowing every frame of every channel).
            filterable = {
                "leads": True, "deals": True, "customers": True, "spend": True, "traffic": True,
                "sends": self.info["sends_filterable"], "send_months": self.info["sends_filterable"],
                "nps": self.info["nps_filterable"],
            }  # fmt: skip
            narrowed = {
                name: _narrowed(self.stored(name), channel) if narrow else self.stored(name)
                for name, narrow in filterable.items()
            }
            self.cache[key] = replace(
                self, **narrowed, scores=self.stored("scores"), channel=channel, cache={}
            )
        return self.cache[key]


def _only(frame: pd.DataFrame | None, channel: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame[(frame["channel"] == channel).to_numpy()].reset_index(drop=True)


def _narrowed(frame: pd.DataFrame | Later[pd.DataFrame | None] | None, channel: str) -> Any:
    """``frame`` of one channel, narrowed on first use (a :class:`Later`); None when there is no frame."""
    if frame is None:
        return None
    return Later(lambda: _only(frame.get() if isinstance(frame, Later) else frame, channel))


def _channel_categories(frames: list[pd.DataFrame | None]) -> tuple[str, ...]:
    values: set[str] = set()
    for frame in frames:
        if frame is not None:
            values.update(frame["channel"].dropna().unique().tolist())
    named = sorted(v for v in values if v != NOT_SET)
    return (*named, NOT_SET) if NOT_SET in values else tuple(named)


def build_facts(tables: Tables | Facts) -> Facts:
    """Compute every derived fact once (returns ``tables`` unchanged when it already is a Facts)."""
    if isinstance(tables, Facts):
        return tables
    tables = {name: frame for name, frame in tables.items() if name in TABLES and frame is not None}
    lead_result = lead_facts(tables)
    leads, sources = lead_result if lead_result is not None else (None, {})
    deals = deal_facts(tables, leads)
    customers = customer_facts(tables, leads, deals)
    scores = ScoreHistory.from_tables(tables)
    sends = email_send_facts(tables, leads=leads, customers=customers)
    nps = _nps_facts(tables, customers)
    score_column = "leads" in tables and "score" in tables["leads"].columns
    joined_sends = sends is not None and (sends["lead_id"].notna() | sends["customer_id"].notna()).any()
    info: dict[str, Any] = {
        "columns": {name: frozenset(frame.columns) for name, frame in tables.items()},
        "stage_sources": sources,
        "score_source": "score_changes" if scores is not None else ("leads.score" if score_column else None),
        "customer_source": "customers" if "customers" in tables else "derived from leads and won deals",
        "churn_known": "customers" in tables and "churned_at" in tables["customers"].columns,
        "sends_filterable": bool(joined_sends),
        "nps_filterable": nps is not None and bool(nps["channel"].ne(NOT_SET).any()),
    }
    if leads is not None:
        recorded = bool(has_program(leads["program"]).any())
        info["program_basis"] = "leads with a program" if recorded else "all new leads (no program recorded)"
        leads = leads.assign(score_month_end=_month_end_scores(leads, scores))
        reopen_known = bool(sources.get("reopened_at"))
        recycled_known = bool(sources.get("recycled_at"))
        engagement = recycled_known and not reopen_known and ("email_events" in tables or scores is not None)
        reengaged = (
            _reengaged_at(tables, leads, scores) if engagement else pd.Series(pd.NaT, index=leads.index)
        )
        leads = leads.assign(reengaged_at=reengaged.astype(DATETIME).to_numpy())
    frames = {"leads": leads, "deals": deals, "customers": customers, "sends": sends, "nps": nps}
    frames["spend"] = _spend_facts(tables)
    frames["traffic"] = _traffic_facts(tables)
    categories = _channel_categories(list(frames.values()))
    dtype = pd.CategoricalDtype(list(categories))
    for name, frame in frames.items():
        if frame is not None:
            frames[name] = frame.assign(channel=frame["channel"].astype(dtype))
    sends = frames["sends"]
    return Facts(
        tables={name: coerce_frame(name, frame.iloc[:0]) for name, frame in tables.items()},
        send_months=send_months(sends) if sends is not None else None,
        email_summary=email_summary_facts(tables),
        scores=scores,
        channels=categories,
        info=info,
        **frames,
    )
