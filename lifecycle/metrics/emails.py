"""Email facts: event-level activity collapsed once into one row per (email, recipient) send.

Decisions where SPEC §3/§5 are silent:

- A send is an (email, recipient) pair; its time is the first ``sent`` event, else its first event of any kind
  (an export of opens and clicks only still has sends). Opens and clicks count toward the month of the send,
  not the month they happened, so a rate never mixes two months' emails.
- Without an ``email`` column (or value), the email is identified by program and step, else by the month of
  the event, so unique opens are still per recipient and email.
- ``opened`` is an open *or* a click (a click proves the email was opened; tools that block images record the
  click only). ``delivered`` is the ``delivered`` event for emails whose export has delivered events, else
  "not bounced" (sent − bounced, SPEC §5); an open or click always proves delivery. Hence
  clicks ≤ opens ≤ delivered and every email rate is a share in [0, 1].
- Recipients join to leads by ``lead_id``, else by lead e-mail (case-insensitive); to customers likewise by
  ``customer_id`` / customer e-mail. Channel: the lead's, else the customer's, else ``(not set)``.
- Audience: the ``audience`` column (``customer`` / ``prospect``, first non-empty value of the send), else
  ``customer`` when the recipient was a customer at send time (customer start ≤ send < churn, or the lead's
  customer date ≤ send), else ``prospect``.
- Summary-level ``email_sends``: delivered = ``delivered``, else sent − bounces, else sent, per row; a send
  without an audience is a prospect send; these rows never join to leads, so they are never channel-filtered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lifecycle.metrics.records import positions_in, take_dates
from lifecycle.schema import NOT_SET
from lifecycle.values import categorical_of_distinct, factorized, first_appearance_codes, first_rows
from lifecycle.workspace import Tables

DATETIME = "datetime64[us]"

EVENT_NAMES = ("sent", "delivered", "open", "click", "bounce", "unsubscribe")
FLAG_NAMES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")
AUDIENCES = ("prospect", "customer")

SEND_COLUMNS = (
    "email", "recipient", "lead_id", "customer_id", "channel", "audience", "program", "step", "sent_at",
    "delivered", "opened", "clicked", "bounced", "unsubscribed",
)  # fmt: skip


def _key(values: pd.Series) -> pd.Series:
    out = values.astype("str").str.strip().str.lower()
    return out.mask(out.eq(""))


def _recoded(values: pd.Series, normalize: Callable[[pd.Series], pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the normalized values; normalizes the distinct values only, so a column of millions of rows
    (str or categorical) is never spelled out as strings."""
    codes, uniques = factorized(values)
    text = pd.Series(uniques, dtype="str")
    normalized = normalize(text)
    if not normalized.hasnans and normalized.eq(text).all():
        return codes, uniques  # already normalized, and distinct: no hash of a million values again
    norm_codes, norm = factorized(normalized)
    if len(norm) == len(uniques) and np.array_equal(norm_codes, np.arange(len(uniques))):
        return codes, norm  # normalizing merged and blanked nothing: the codes stay (no gather of every row)
    return np.append(norm_codes, -1)[codes], norm


def _stripped(values: pd.Series) -> pd.Series:
    out = values.str.strip()
    return out.mask(out.eq(""))


def _stripped_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the trimmed values (empty → missing)."""
    return _recoded(values, _stripped)


def _normalized_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the trimmed, lower-cased values (empty → missing)."""
    return _recoded(values, _key)


def _code_of(uniques: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
    """For each distinct value, its position in ``wanted`` (-1 when not wanted); plus -1 for missing. The
    smallest integers that hold them: the table is spread to every event (tens of millions)."""
    lookup = {w: i for i, w in enumerate(wanted)}
    dtype = np.int8 if len(wanted) < 127 else np.int64
    return np.array([lookup.get(u, -1) for u in uniques] + [-1], dtype=dtype)


def _first_code_per_group(
    groups: np.ndarray, codes: np.ndarray, n: int, first_rows: np.ndarray
) -> np.ndarray:
    """The first non-missing code (``codes`` ≥ 0, in row order) per group 0…n-1, -1 where a group has none.
    ``first_rows`` (``values.first_rows``) answers it at once when no code is missing."""
    present = codes >= 0
    if present.all():
        return codes[first_rows].astype(np.int64)
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(present)
    del present
    if len(rows):
        first_row = np.full(n, len(codes), dtype=np.int64)
        np.minimum.at(first_row, groups[rows], rows)  # no hashing of the millions of group codes
        has = first_row < len(codes)
        out[has] = codes[first_row[has]]
    return out


_NO_TICK = np.iinfo(np.int64).max


def _first_ticks(groups: np.ndarray, ticks: np.ndarray, n: int) -> np.ndarray:
    """The smallest of ``ticks`` per group code 0…n-1 (``_NO_TICK`` where a group has none): an unbuffered
    minimum into one array, instead of a groupby that hashes millions of codes again."""
    out = np.full(n, _NO_TICK, dtype=np.int64)
    np.minimum.at(out, groups, ticks)
    return out


def _categorical(
    codes: np.ndarray, categories: np.ndarray | pd.Series, *, distinct: bool = False
) -> pd.Categorical:
    """Categorical from codes into ``categories`` (-1 = missing); repeated categories are merged, unless the
    caller knows there are none (``distinct``: `values.factorized`' values, a table's deduplicated ids)."""
    cats = pd.Index(categories, dtype="str").rename(None)  # a Series' name is not the categories'
    if distinct:
        return categorical_of_distinct(codes, cats)
    if not cats.is_unique:
        merged, cats = pd.factorize(cats)
        codes = np.where(codes >= 0, merged[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(codes, categories=cats)


def _email_identity(events: pd.DataFrame) -> pd.Series:
    """The email a row belongs to: ``email``, else program · step, else the event month."""
    ident = _column(events, "email").set_axis(events.index)
    missing = ident.isna()
    if not missing.any():
        return ident
    ident = ident.astype("str")
    sub = events[missing.to_numpy()]
    parts = [sub[c].astype("str").fillna("") for c in ("program", "step") if c in sub.columns]
    fallback = sub["at"].dt.strftime("(email of %Y-%m)").astype("str")
    if parts:
        by_program = parts[0] if len(parts) == 1 else parts[0] + " · " + parts[1]
        fallback = by_program.mask(by_program.str.strip(" ·").eq(""), fallback)
    return ident.fillna(fallback)


def _lookup_index(keys: pd.Series, index_keys: pd.Series) -> np.ndarray:
    """Position in ``index_keys`` (first occurrence) of each key, -1 when absent or missing."""
    if keys.dtype == "str" and index_keys.dtype == "str" and not keys.hasnans and not index_keys.hasnans:
        # Arrow's lookup (first occurrence), or a table over the span of ids that are plain numbers.
        return positions_in(keys, pd.Index(index_keys)).astype(np.int64, copy=False)
    # Otherwise one hash pass over both sides, much cheaper than building a unique string Index to search.
    n_index = len(index_keys)
    both = pd.concat([index_keys.astype("str"), keys.astype("str")], ignore_index=True)
    codes, uniques = pd.factorize(both)
    index_codes, key_codes = codes[:n_index], codes[n_index:]
    present = np.flatnonzero(index_codes >= 0)
    first = pd.Series(index_codes[present]).drop_duplicates()
    position = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the extra slot answers code -1
    position[first.to_numpy()] = present[first.index.to_numpy()]
    return position[key_codes]


def join_recipients(recipients: pd.Series, frame: pd.DataFrame | None, id_col: str) -> np.ndarray:
    """Row position in ``frame`` of each recipient: by id, else by e-mail (case-insensitive); -1 if none."""
    if frame is None or frame.empty or not len(recipients):
        return np.full(len(recipients), -1)
    recipients = recipients.astype("str")
    pos = _lookup_index(recipients.str.strip(), frame[id_col].astype("str"))
    unmatched = np.flatnonzero(pos < 0)
    if "email" in frame.columns and len(unmatched):
        # Only the recipients no id matched are looked up by e-mail (a million fewer keys to normalize).
        pos[unmatched] = _lookup_index(_key(recipients.iloc[unmatched]), _key(frame["email"]))
    return pos


def _take_dates(frame: pd.DataFrame | None, col: str, pos: np.ndarray) -> np.ndarray:
    if frame is None or col not in frame.columns or frame.empty:
        return np.full(len(pos), np.datetime64("NaT"), dtype=DATETIME)
    return take_dates(frame[col].astype(DATETIME).to_numpy(), pos)


def _channel_codes(
    leads: pd.DataFrame | None, lead_pos: np.ndarray, customers: pd.DataFrame | None, cust_pos: np.ndarray
) -> pd.Categorical:
    """The lead's channel, else the customer's, else ``(not set)``, as a categorical."""
    sources = [f["channel"].astype("str") for f in (leads, customers) if f is not None]
    values = pd.concat([*sources, pd.Series([NOT_SET], dtype="str")], ignore_index=True)
    codes, uniques = factorized(values)
    not_set = codes[-1]
    out = np.full(len(lead_pos), not_set, dtype=np.int64)
    offset = 0
    for frame, pos in ((leads, lead_pos), (customers, cust_pos)):
        if frame is None:
            continue
        frame_codes = codes[offset : offset + len(frame)]
        offset += len(frame)
        fill = (out == not_set) & (pos >= 0)
        if len(frame_codes):
            taken = frame_codes[np.maximum(pos, 0)]
            out = np.where(fill & (taken >= 0), taken, out)
    return _categorical(out, uniques)


def email_send_facts(
    tables: Tables, *, leads: pd.DataFrame | None = None, customers: pd.DataFrame | None = None
) -> pd.DataFrame | None:
    """One row per (email, recipient) send from ``email_events`` (None without that table).

    Columns: ``email``, ``recipient`` (categorical); ``lead_id`` / ``customer_id`` (categorical, missing when
    the recipient matches none); ``channel`` (categorical); ``audience`` (categorical "prospect"/"customer");
    ``program``, ``step`` (categorical); ``sent_at`` (datetime); ``delivered``, ``opened``, ``clicked``,
    ``bounced``, ``unsubscribed`` (bool; see the module docs for how delivered/opened are derived).
    """
    events = tables.get("email_events")
    if events is None:
        return None
    at = events["at"].astype(DATETIME)
    rcodes, recipients = _stripped_codes(events["recipient"])
    usable = (rcodes >= 0) & at.notna().to_numpy()
    if not usable.all():
        events, at, rcodes = events[usable], at[usable], rcodes[usable]
    ecodes, emails = factorized(_email_identity(events))
    width = max(len(recipients), 1)
    # (email, recipient) as one number, computed in place: one event-long array
    keys = ecodes.astype(np.int64)
    del ecodes  # event-level arrays are let go as soon as they are used (tens of millions of rows)
    keys *= width
    keys += rcodes
    del rcodes
    pcodes, pairs = first_appearance_codes(keys, len(emails) * width)
    del keys
    n = len(pairs)
    event_codes, event_names = _normalized_codes(events["event"])
    event_kind = _code_of(event_names, EVENT_NAMES)[event_codes]
    del event_codes
    flags = {}
    for kind, name in enumerate(FLAG_NAMES):
        flag = np.zeros(n, dtype=bool)
        flag[pcodes[event_kind == kind]] = True
        flags[name] = flag
    # The send's time: its first "sent" event, else its first event (every pair has one; no time is missing).
    at_us = at.to_numpy()
    ticks = at_us.view(np.int64)
    is_sent = event_kind == 0
    first_any, first_sent = _first_ticks(pcodes, ticks, n), _first_ticks(pcodes[is_sent], ticks[is_sent], n)
    sent_at = np.where(first_sent != _NO_TICK, first_sent, first_any).view(at_us.dtype)
    del first_any, first_sent, is_sent, at, at_us, ticks

    email_codes, recipient_codes = pairs // width, pairs % width
    del pairs
    out = pd.DataFrame(
        {
            "email": _categorical(email_codes, emails),
            "recipient": _categorical(recipient_codes, recipients, distinct=True),
        }
    )
    # Join each distinct recipient once, then spread to its sends.
    unique_recipients = pd.Series(recipients, dtype="str")
    recipient_lead = join_recipients(unique_recipients, leads, "lead_id")
    recipient_customer = join_recipients(unique_recipients, customers, "customer_id")
    lead_pos, cust_pos = recipient_lead[recipient_codes], recipient_customer[recipient_codes]
    for col, frame, pos, id_col in (("lead_id", leads, lead_pos, "lead_id"),
                                    ("customer_id", customers, cust_pos, "customer_id")):  # fmt: skip
        ids = frame[id_col] if frame is not None else pd.Series([], dtype="str")
        # Lead facts hold one row per id; derived customers may share a display id, merged here.
        out[col] = _categorical(pos, ids, distinct=col == "lead_id")
    # The channel per recipient, then spread to its sends.
    channel = _channel_codes(leads, recipient_lead, customers, recipient_customer)
    out["channel"] = pd.Categorical.from_codes(channel.codes[recipient_codes], dtype=channel.dtype)
    del recipient_lead, recipient_customer, channel

    send_first_rows = first_rows(pcodes, n)
    audience_codes, audiences = _normalized_codes(_column(events, "audience"))
    given = _first_code_per_group(pcodes, _code_of(audiences, AUDIENCES)[audience_codes], n, send_first_rows)
    del audience_codes
    start = _take_dates(customers, "start", cust_pos)
    churn = _take_dates(customers, "churned_at", cust_pos)
    lead_customer = _take_dates(leads, "customer_at", lead_pos)
    del lead_pos, cust_pos, pos, recipient_codes
    # NaT compares False, so a missing start or customer date never makes a customer.
    was_customer = ((start <= sent_at) & ~(churn <= sent_at)) | (lead_customer <= sent_at)
    del start, churn, lead_customer
    audience = np.where(given >= 0, given, was_customer.astype(np.int64))
    out["audience"] = pd.Categorical.from_codes(audience, categories=list(AUDIENCES))
    del given, audience, was_customer
    for col in ("program", "step"):
        codes, uniques = factorized(_column(events, col))
        out[col] = _categorical(_first_code_per_group(pcodes, codes, n, send_first_rows), uniques)
        del codes
    out["sent_at"] = pd.Series(sent_at, dtype=DATETIME)

    # An email whose export has delivered events uses them; otherwise delivered = not bounced.
    has_delivered_events = np.zeros(len(emails), dtype=bool)
    has_delivered_events[email_codes[flags["delivered"]]] = True
    clicked = flags["clicked"]
    opened = flags["opened"] | clicked
    out["delivered"] = (
        np.where(has_delivered_events[email_codes], flags["delivered"], ~flags["bounced"]) | opened
    )
    out["opened"] = opened
    out["clicked"] = clicked
    out["bounced"] = flags["bounced"]
    out["unsubscribed"] = flags["unsubscribed"]
    return out[list(SEND_COLUMNS)]


def _column(frame: pd.DataFrame, col: str) -> pd.Series:
    """A text column as str, or as it is when categorical (compact tables); all missing when absent."""
    if col in frame.columns:
        values = frame[col]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("str")
        return values.reset_index(drop=True)
    return pd.Series(np.nan, index=range(len(frame)), dtype="str")


def email_engagements(tables: Tables, leads: pd.DataFrame | None) -> pd.DataFrame:
    """Open and click events joined to leads: ``lead`` (row position in ``leads``) and ``at`` (datetime)."""
    events = tables.get("email_events")
    empty = pd.DataFrame({"lead": pd.Series(dtype=np.int64), "at": pd.Series(dtype=DATETIME)})
    if events is None or leads is None:
        return empty
    event_codes, event_names = _normalized_codes(events["event"])
    sub = events[_code_of(event_names, ("open", "click"))[event_codes] >= 0]
    if sub.empty:
        return empty
    rcodes, recipients = _stripped_codes(sub["recipient"])
    pos = join_recipients(pd.Series(recipients, dtype="str"), leads, "lead_id")
    lead_of_row = np.where(rcodes >= 0, pos[np.maximum(rcodes, 0)] if len(pos) else -1, -1)
    keep = lead_of_row >= 0
    return pd.DataFrame({"lead": lead_of_row[keep], "at": sub["at"].astype(DATETIME).to_numpy()[keep]})


def send_months(sends: pd.DataFrame) -> pd.DataFrame:
    """Sends aggregated per (month of send, audience, channel): the counts every email rate needs.

    Columns: ``month`` (first day of the month), ``audience``, ``channel``, ``sends``, ``delivered``,
    ``opened``, ``clicked``, ``bounced``, ``unsubscribed`` (ints).
    """
    # One integer per (month, audience, channel), ordered as a sorted groupby would order the groups; each count
    # is a bincount over those integers (a groupby of millions of sends held a copy of every flag as int64).
    months = sends["sent_at"].to_numpy().astype("datetime64[M]").view(np.int64)
    audience, channel = sends["audience"].array, sends["channel"].array
    sized = len(audience.categories), len(channel.categories)
    keep = (months != np.iinfo(np.int64).min) & (audience.codes >= 0) & (channel.codes >= 0)
    first = int(months[keep].min()) if keep.any() else 0
    key = (((months - first) * sized[0] + audience.codes) * sized[1] + channel.codes)[keep]
    span = int(key.max()) + 1 if len(key) else 0
    if span <= 4 * len(key):  # a count per possible group, no sort (24 months, 2 audiences, a few channels)
        counts = np.bincount(key, minlength=span)
        groups = np.flatnonzero(counts)
        inverse, at = key, groups  # counts are per key value, read at the groups'
    else:  # far more months and channels than sends
        groups, inverse = np.unique(key, return_inverse=True)
        span, at = len(groups), slice(None)  # counts are per group
        counts = np.bincount(inverse, minlength=span)
    out = pd.DataFrame(
        {
            "month": ((groups // (sized[0] * sized[1])) + first).astype("datetime64[M]").astype(DATETIME),
            "audience": pd.Categorical.from_codes(groups // sized[1] % sized[0], dtype=audience.dtype),
            "channel": pd.Categorical.from_codes(groups % sized[1], dtype=channel.dtype),
            "sends": counts[at].astype(np.int64),
        }
    )
    for flag in FLAG_NAMES[1:]:
        counted = np.bincount(inverse[sends[flag].to_numpy(dtype=bool)[keep]], minlength=span)
        out[flag] = counted[at].astype(np.int64)
    return out


def email_summary_facts(tables: Tables) -> pd.DataFrame | None:
    """Summary-level ``email_sends`` with ``delivered`` filled (delivered, else sent − bounces, else sent).

    Columns: ``email``, ``sent_at``, ``sent``, ``delivered``, ``unique_opens``, ``unique_clicks``, ``bounces``,
    ``unsubscribes`` (float, missing counts as 0 except in ``attrs``-free column presence kept by Facts),
    ``program``, ``step`` (str), ``audience`` ("prospect" when empty). None without that table.
    """
    sends = tables.get("email_sends")
    if sends is None:
        return None
    out = pd.DataFrame({"email": sends["email"].astype("str"), "sent_at": sends["sent_at"].astype(DATETIME)})
    sent = sends["sent"].astype("float64").fillna(0.0)
    out["sent"] = sent
    bounces = sends["bounces"].astype("float64") if "bounces" in sends.columns else None
    delivered = sends["delivered"].astype("float64") if "delivered" in sends.columns else None
    fallback = sent - bounces.fillna(0.0) if bounces is not None else sent
    out["delivered"] = delivered.fillna(fallback) if delivered is not None else fallback
    for col in ("unique_opens", "unique_clicks", "bounces", "unsubscribes"):
        out[col] = sends[col].astype("float64").fillna(0.0) if col in sends.columns else 0.0
    for col in ("program", "step"):
        out[col] = (
            sends[col].astype("str")
            if col in sends.columns
            else pd.Series(np.nan, index=out.index, dtype="str")
        )
    audience = _key(sends["audience"]) if "audience" in sends.columns else pd.Series(np.nan, index=out.index)
    out["audience"] = pd.Categorical(
        audience.where(audience.eq("customer"), "prospect"), categories=["prospect", "customer"]
    )
    return out.reset_index(drop=True)
