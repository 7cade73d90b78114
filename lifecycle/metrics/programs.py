"""Automated programs (SPEC §5): per program and step — reach, engagement, moving on, MQLs — with problem steps.

Nurture programs are the prospect-audience sends, customer campaigns the customer-audience sends (audience as
in ``emails``). A send belongs to a program when its ``program`` is set; sends without one are one-off emails.

Decisions where the spec is silent:

- Recipients of a step are counted once per person; the step's rates are per person (opened any email of the
  step ÷ delivered any). The month window picks the recipients who *first* received the step in it; what
  happened to them afterwards (next step, MQL) is counted to date.
- Step order: by the first number in the step's name ("Step 2" before "Step 10"); steps without a number
  follow, alphabetically. The next step of the last one does not exist, so its move-on share is empty.
- Moving on: a recipient of step k who has also received step k+1 (at any time).
- MQL within 90 days: of the recipients who are leads not yet MQL when they first received the step, the
  share whose MQL date falls within 90 days after it. Recipients whose 90 days are not over yet count with
  what happened so far.
- Stall flag: the step's move-on share is below ``stall_ratio`` (default ½) of the median move-on share of
  the program's other steps. Drop-out flag: the unsubscribe rate (÷ delivered) is at least ``dropout_rate``
  (default 1 %; mailbox providers and ESPs treat unsubscribes above ~0.5 % per send as a warning sign). Both
  need at least ``min_recipients`` (default 20) recipients, so a step of three people is never flagged.
- Summary-level exports (``email_sends``) give sends, delivered, opens, clicks and unsubscribes per step;
  their "recipients" are sends, and moving on and MQLs need event-level activity, so those stay empty.
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
from lifecycle.metrics.keys import Saved, labelled, lead_rows, remembered, sorted_order, stamps, ticks
from lifecycle.metrics.settings import DEFAULT_SETTINGS, Settings
from lifecycle.workspace import Tables

Audience = Literal["prospect", "customer"] | None

MQL_WINDOW = pd.Timedelta(days=90)
NO_STEP = "(no step)"

STEP_COLUMNS = (
    "program", "step", "order", "recipients", "delivered", "opens", "clicks", "unsubscribes", "open_rate", "ctr",
    "unsubscribe_rate", "moved_on", "move_on_share", "mql_eligible", "mql_90d", "mql_90d_share", "stalls",
    "drops_out", "flag",
)  # fmt: skip


@dataclass(frozen=True)
class ProgramSteps:
    """Per program and step: ``steps`` (one row each, in program order) and ``members`` (event level only).

    ``steps`` columns: program, step, order (1 = first step), recipients, delivered, opens, clicks,
    unsubscribes (people; sends at summary level), open_rate, ctr, unsubscribe_rate (÷ delivered), moved_on,
    move_on_share, mql_eligible, mql_90d, mql_90d_share, stalls, drops_out (bool) and flag (a sentence, empty
    when nothing is flagged). ``members``: program, step, recipient, lead_id, customer_id, channel, first_received,
    delivered, opened, clicked, unsubscribed, moved_on, mql_90d — listed when first asked for (``list_members``),
    since they read the email sends, which the step table does not. ``level`` is "event" or "summary".
    """

    steps: pd.DataFrame
    list_members: Callable[[], pd.DataFrame] = field(repr=False)
    level: str | None
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    @cached_property
    def members(self) -> pd.DataFrame:
        """The recipients behind the step table (see the class docs)."""
        return self.list_members()

    def rows(self, program: str, step: str | None = None) -> pd.DataFrame:
        """The recipients behind one program (and step)."""
        pick = self.members["program"].eq(program)
        if step is not None:
            pick &= self.members["step"].eq(step)
        return self.members[pick.to_numpy()].reset_index(drop=True)


def _step_order(steps: pd.DataFrame) -> pd.Series:
    """1-based position of each (program, step) row within its program (see module docs)."""
    number = steps["step"].str.extract(r"(\d+)", expand=False).astype("float64")
    keyed = steps.assign(_missing=number.isna(), _number=number)
    keyed = keyed.sort_values(["program", "_missing", "_number", "step"], kind="stable")
    order = keyed.groupby("program", sort=False).cumcount() + 1
    return order.reindex(steps.index)


def _window(month: str | pd.Period | None, months: int) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    if month is None:
        return None, None
    last = parse_month(month)
    return month_bounds(last - (months - 1))[0], month_bounds(last)[1]


def _in_window(times: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> np.ndarray:
    if start is None:
        return np.ones(len(times), dtype=bool)
    return ((times >= start) & (times < end)).to_numpy()


def _label(values: pd.Series, missing: str) -> pd.Series:
    """`keys.labelled` as text, on the rows' index."""
    return pd.Series(labelled(values, missing), index=values.index).astype("str")


def _audience_rows(frame: pd.DataFrame, audience: Audience) -> pd.DataFrame:
    program = _label(frame["program"], "")
    keep = program.ne("")
    if audience is not None:
        keep &= frame["audience"].eq(audience)
    out = frame[keep.to_numpy()].assign(program=program[keep], step=_label(frame["step"][keep], NO_STEP))
    return out.reset_index(drop=True)


def _flags(steps: pd.DataFrame, stall_ratio: float, dropout_rate: float, min_recipients: int) -> pd.DataFrame:
    """Add stalls / drops_out / flag (see module docs)."""
    share = steps["move_on_share"]
    # Median of the *other* steps of the program: per program, a handful of steps, so a loop over programs.
    typical = pd.Series(np.nan, index=steps.index)
    for _, idx in steps.groupby("program", sort=False).groups.items():
        values = share.loc[idx].to_numpy(dtype="float64")
        for pos, row in enumerate(idx):
            others = np.delete(values, pos)
            others = others[~np.isnan(others)]
            if len(others):
                typical.loc[row] = float(np.median(others))
    big = steps["recipients"] >= min_recipients
    stalls = big & share.notna() & typical.notna() & (share < stall_ratio * typical)
    drops = big & (steps["unsubscribe_rate"] >= dropout_rate)
    stall_text = (
        "only " + (share * 100).round(0).astype("Int64").astype("str") + " % moved on to the next step (the "
        "program's other steps: " + (typical * 100).round(0).astype("Int64").astype("str") + " %)"
    )
    unsubscribed = (steps["unsubscribe_rate"] * 100).round(1).astype("str")
    drop_text = unsubscribed + f" % unsubscribed (flagged at {dropout_rate * 100:g} % or more)"
    flag = pd.Series("", index=steps.index, dtype="str")
    flag = flag.mask(stalls, "Leads stall: " + stall_text)
    both = stalls & drops
    flag = flag.mask(drops & ~stalls, "Leads drop out: " + drop_text)
    flag = flag.mask(both, "Leads stall and drop out: " + stall_text + "; " + drop_text)
    return steps.assign(stalls=stalls.to_numpy(), drops_out=drops.to_numpy(), flag=flag.fillna(""))


def _rates(steps: pd.DataFrame) -> pd.DataFrame:
    delivered = steps["delivered"].where(steps["delivered"] > 0)
    recipients = steps["recipients"].where(steps["recipients"] > 0)
    eligible = steps["mql_eligible"].where(steps["mql_eligible"] > 0)
    return steps.assign(
        open_rate=steps["opens"] / delivered,
        ctr=steps["clicks"] / delivered,
        unsubscribe_rate=steps["unsubscribes"] / delivered,
        move_on_share=steps["moved_on"] / recipients,
        mql_90d_share=steps["mql_90d"] / eligible,
    )


def program_labels(facts: Facts) -> pd.Categorical:
    """Each send's program as a label ("" for a one-off email), once per facts."""
    return remembered(facts, ("programs", "program"), lambda: labelled(facts.sends["program"], ""))


def has_program(labels: pd.Categorical) -> np.ndarray:
    """Which rows name a program."""
    return labels.codes != labels.categories.get_indexer([""])[0]


@dataclass(frozen=True)
class _People:
    """Every recipient of every program step of one audience, all time (what no month or channel changes), as
    codes, one element per (program, step, recipient) in order of first receipt: ``pair`` the step as a row of
    ``catalog`` (program, step, order, has_next: one row per step), ``send`` the row of the sends holding its
    first send (whose recipient, lead, customer and channel the member rows show), ``channel`` the send's
    channel as a position in ``channels`` (-1: none), ``received`` the first receipt (`keys.ticks`; a missing time
    last), and per flag of ``FLAGS`` whether any of its sends was delivered, opened… (as 0/1)."""

    pair: np.ndarray
    send: np.ndarray
    channel: np.ndarray
    received: np.ndarray
    flags: dict[str, np.ndarray]
    catalog: pd.DataFrame
    channels: pd.Index


FLAGS = ("delivered", "opened", "clicked", "unsubscribed", "moved_on", "mql_eligible", "mql_90d")
"""What `_People` records per recipient of a step (the step table sums them)."""
NEVER = np.iinfo(np.int64).max
"""The first receipt of a recipient none of whose sends has a time (`_People.received`)."""


def _people(facts: Facts, audience: Audience) -> _People:
    return PEOPLE[audience].value(facts)


def _all_people(facts: Facts, audience: Audience) -> _People:
    sends = facts.sends
    program, step = program_labels(facts), labelled(sends["step"], NO_STEP)
    recipient = sends["recipient"].astype("category")
    recipient_codes = recipient.cat.codes.to_numpy()
    keep = has_program(program) & (recipient_codes >= 0)
    if audience is not None:
        keep &= sends["audience"].eq(audience).to_numpy()
    rows = np.flatnonzero(keep)
    n_steps, n_recipients = max(len(step.categories), 1), max(len(recipient.cat.categories), 1)
    keys = program.codes[rows].astype(np.int64) * n_steps + step.codes[rows]
    keys *= n_recipients
    keys += recipient_codes[rows]
    order, in_order = sorted_order(keys, len(program.categories) * n_steps * n_recipients)
    del keys
    source = rows[order]  # the sends grouped by (program, step, recipient), each group's in their order
    del rows, order
    starts = np.flatnonzero(np.r_[True, in_order[1:] != in_order[:-1]]) if len(in_order) else source[:0]
    group_keys = in_order[starts]
    del in_order
    first = source[starts]  # each (program, step, recipient)'s first send

    # The first receipt (a missing time last, as pandas' min) and whether any send was delivered, opened…
    sent_at = ticks(sends["sent_at"].to_numpy())[source]
    sent_at[sent_at == np.iinfo(np.int64).min] = NEVER
    received = np.minimum.reduceat(sent_at, starts) if len(starts) else sent_at
    flags = {
        col: np.logical_or.reduceat(sends[col].to_numpy(dtype=bool)[source], starts)
        if len(starts)
        else np.zeros(0, dtype=bool)
        for col in ("delivered", "opened", "clicked", "unsubscribed")
    }
    del source, sent_at

    # Step order and "received the next step" come from every recipient, so a channel view keeps the
    # program's real shape; only then are the rows narrowed to the channel.
    pair_codes = group_keys // n_recipients  # (program, step) as one number
    pairs = np.flatnonzero(np.bincount(pair_codes, minlength=len(program.categories) * n_steps))
    pair = np.searchsorted(pairs, pair_codes)  # the row of the step in `catalog`
    catalog = pd.DataFrame(
        {
            "program": program.categories[pairs // n_steps].astype("str"),
            "step": step.categories[pairs % n_steps].astype("str"),
        }
    )
    catalog["order"] = _step_order(catalog).to_numpy()
    following = catalog.assign(order=catalog["order"] - 1, next_pair=np.arange(len(catalog)))
    next_pair = catalog.merge(following, on=["program", "order"], how="left")["next_pair"]
    catalog["has_next"] = next_pair.notna().to_numpy()
    # A recipient moved on when (program, next step, recipient) is a group too: looked up in the sorted keys.
    moved_on = np.zeros(len(first), dtype=bool)
    has_next = catalog["has_next"].to_numpy()[pair]
    if has_next.any():
        next_keys = pairs[next_pair.to_numpy()[pair[has_next]].astype(np.int64)] * n_recipients
        next_keys += group_keys[has_next] % n_recipients
        at = np.minimum(np.searchsorted(group_keys, next_keys), len(group_keys) - 1)
        moved_on[has_next] = group_keys[at] == next_keys
    flags["moved_on"] = moved_on

    # MQL within 90 days of the first receipt, of the recipients who were leads not yet MQL then.
    mql_at = np.full(len(first), np.iinfo(np.int64).min)
    if facts.leads is not None:
        mql_of_lead = np.append(ticks(facts.leads["mql_at"].to_numpy()), np.iinfo(np.int64).min)
        mql_at = mql_of_lead[lead_rows(facts, "sends", sends["lead_id"])[first]]
    has_mql = mql_at != np.iinfo(np.int64).min
    is_lead = sends["lead_id"].notna().to_numpy()[first]
    # (a missing first receipt: no MQL is at or before it, nor within 90 days after it)
    eligible = is_lead & ~(has_mql & (received != NEVER) & (mql_at <= received))
    window = pd.Timedelta(MQL_WINDOW).value // 1000
    flags["mql_eligible"] = eligible
    flags["mql_90d"] = (
        eligible & has_mql & (received != NEVER) & (mql_at > received) & (mql_at <= received + window)
    )

    # In order of first receipt (a missing one last), so that a window of months is one slice (`_event_level`).
    by_receipt = np.argsort(received, kind="stable")
    channel = sends["channel"].astype("category")
    return _People(
        pair=pair[by_receipt].astype(np.int32),
        send=first[by_receipt].astype(np.int32 if len(sends) < 2**31 else np.int64),
        channel=channel.cat.codes.to_numpy()[first[by_receipt]].astype(np.int32),
        received=received[by_receipt],
        flags={col: values[by_receipt] for col, values in flags.items()},
        catalog=catalog,
        channels=pd.Index(channel.cat.categories.astype("str")),
    )


def _encode_people(people: _People) -> dict[str, pd.DataFrame]:
    codes = pd.DataFrame(
        {"pair": people.pair, "send": people.send, "channel": people.channel, "received": people.received}
        | {col: people.flags[col].view(np.uint8) for col in FLAGS}
    )
    return {"codes": codes, "catalog": people.catalog, "channels": pd.DataFrame({"channel": people.channels})}


def _decode_people(frames: dict[str, pd.DataFrame]) -> _People:
    codes = frames["codes"]
    return _People(
        pair=codes["pair"].to_numpy(),
        send=codes["send"].to_numpy(),
        channel=codes["channel"].to_numpy(),
        received=codes["received"].to_numpy(),
        flags={col: codes[col].to_numpy().view(bool) for col in FLAGS},
        catalog=frames["catalog"],
        channels=pd.Index(frames["channels"]["channel"].array, dtype="str"),
    )


def _names_a_program(facts: Facts) -> bool:
    """Whether any send names a program."""
    return bool(has_program(program_labels(facts)).any())


PEOPLE: dict[Audience, Saved[_People]] = {
    audience: Saved(
        ("programs", "people", audience),
        lambda facts, audience=audience: _all_people(facts, audience),
        _encode_people,
        _decode_people,
        ("sends",),
    )
    for audience in ("prospect", "customer", None)
}
"""How each audience's `_People` is worked out (once per facts)."""

SAVED = {
    # the audiences of the Nurture and Expand pages' program tables
    **{f"program-people-{audience}": PEOPLE[audience] for audience in ("prospect", "customer")},
    "program-any": Saved(
        ("programs", "any"),
        _names_a_program,
        lambda any_program: {"any": pd.DataFrame({"any": [any_program]})},
        lambda frames: bool(frames["any"]["any"].iloc[0]),
        ("sends",),
    ),
}
"""What the program tables work out once per facts, saved with a workspace's facts (`keys.Saved`)."""


def _event_level(
    facts: Facts,
    channel: str | None,
    audience: Audience,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> tuple[pd.DataFrame, Callable[[], pd.DataFrame]]:
    """The step table of the recipients who first got a step in [start, end) (all when start is None), and
    how to list them (member rows: read only when asked for, from the sends)."""
    people = _people(facts, audience)
    window = slice(0, len(people.pair))
    if start is not None:  # the recipients who first got the step in the window: one slice (`_People`)
        window = slice(
            *np.searchsorted(people.received, ticks(np.array([start, end], dtype="datetime64[us]")))
        )
    chosen = np.arange(window.start, window.stop)
    if channel is not None and facts.info.get("sends_filterable"):
        code = people.channels.get_indexer([channel])[0]
        chosen = chosen[people.channel[window] == code] if code >= 0 else chosen[:0]
    pair = people.pair[chosen]
    size = len(people.catalog)
    recipients = np.bincount(pair, minlength=size)
    steps = people.catalog.assign(recipients=recipients)
    for col, total in (("delivered", "delivered"), ("opened", "opens"), ("clicked", "clicks"),
                       ("unsubscribed", "unsubscribes"), ("moved_on", "moved_on"),
                       ("mql_eligible", "mql_eligible"), ("mql_90d", "mql_90d")):  # fmt: skip
        steps[total] = np.bincount(pair, weights=people.flags[col][chosen], minlength=size)
    steps = _rates(steps[recipients > 0].reset_index(drop=True))
    steps["move_on_share"] = steps["move_on_share"].where(steps["has_next"])
    return steps.drop(columns="has_next"), lambda: _members(facts, people, chosen)


def _members(facts: Facts, people: _People, chosen: np.ndarray) -> pd.DataFrame:
    """The member rows of the recipients at ``chosen`` (positions in ``people``)."""
    pair, first = people.pair[chosen], people.send[chosen]
    sends = facts.sends
    received = people.received[chosen].copy()
    received[received == NEVER] = np.iinfo(np.int64).min
    return pd.DataFrame(
        {
            "program": pd.Categorical(people.catalog["program"]).take(pair),
            "step": pd.Categorical(people.catalog["step"]).take(pair),
            **{
                col: sends[col].take(first).reset_index(drop=True)
                for col in ("recipient", "lead_id", "customer_id", "channel")
            },
            "first_received": stamps(received),
            **{
                col: people.flags[col][chosen].copy()
                for col in ("delivered", "opened", "clicked", "unsubscribed", "moved_on", "mql_90d")
            },
        }
    )


def _summary_level(
    facts: Facts, audience: Audience, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    sends = _audience_rows(facts.email_summary, audience)
    sends = sends[_in_window(sends["sent_at"], start, end)]
    steps = sends.groupby(["program", "step"], sort=False).agg(
        recipients=("sent", "sum"),
        delivered=("delivered", "sum"),
        opens=("unique_opens", "sum"),
        clicks=("unique_clicks", "sum"),
        unsubscribes=("unsubscribes", "sum"),
    )
    steps = steps.reset_index()
    steps["order"] = _step_order(steps).to_numpy()
    steps = steps.assign(moved_on=np.nan, mql_eligible=np.nan, mql_90d=np.nan)
    return _rates(steps)


def _empty_members() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in ("program", "step", "recipient", "lead_id")})
    frame["customer_id"] = pd.Series(dtype="str")
    frame["channel"] = pd.Series(dtype="str")
    frame["first_received"] = pd.Series(dtype="datetime64[us]")
    for col in ("delivered", "opened", "clicked", "unsubscribed", "moved_on", "mql_90d"):
        frame[col] = pd.Series(dtype="bool")
    return frame


def _finish(
    steps: pd.DataFrame, stall_ratio: float, dropout_rate: float, min_recipients: int
) -> pd.DataFrame:
    steps = steps.sort_values(["program", "order"], kind="stable").reset_index(drop=True)
    steps = _flags(steps, stall_ratio, dropout_rate, min_recipients)
    out = steps[list(STEP_COLUMNS)].astype({"program": "str", "step": "str", "flag": "str"})
    counts = ("recipients", "moved_on", "mql_eligible", "mql_90d")
    return out.astype({"order": "int64", **{c: "float64" for c in counts}})


def program_steps(
    data: Tables | Facts,
    month: str | pd.Period | None = None,
    channel: str | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    audience: Audience = "prospect",
    months: int = 1,
    stall_ratio: float = 0.5,
    dropout_rate: float = 0.01,
    min_recipients: int = 20,
) -> ProgramSteps:
    """Per automated program and step, for the recipients who first received the step in the ``months``
    months ending with M (all time when M is None): recipients, open rate, CTR, unsubscribe rate, share moving
    on to the next step and share reaching MQL within 90 days, with stalling and drop-out steps flagged."""
    # The program's shape (step order, next step, MQL dates) comes from all channels; see _event_level.
    facts = build_facts(data)
    start, end = _window(month, months)
    empty_steps = pd.DataFrame({c: pd.Series(dtype="float64") for c in STEP_COLUMNS})
    empty_steps = empty_steps.astype({"program": "str", "step": "str", "flag": "str", "order": "int64"})
    empty_steps = empty_steps.astype({"stalls": "bool", "drops_out": "bool"})
    notes: list[str] = []
    has_events = facts.has("sends") and SAVED["program-any"].value(facts)
    has_summary = facts.email_summary is not None and _label(facts.email_summary["program"], "").ne("").any()
    if has_events:
        steps, members = _event_level(facts, channel, audience, start, end)
        level = "event"
        if channel is not None and not facts.info.get("sends_filterable"):
            notes.append(
                "Email recipients do not match any lead or customer: programs are not filtered by channel."
            )
    elif has_summary:
        steps, members, level = _summary_level(facts, audience, start, end), _empty_members, "summary"
        notes.append(
            "Summary-level email export: recipients are sends; moving on and MQLs within 90 days need "
            "event-level email activity (email_events)."
        )
        if channel is not None:
            notes.append("Summary-level email sends carry no channel: programs are not filtered by channel.")
    else:
        if not facts.has("sends") and facts.email_summary is None:
            reason = needs_text([("email_events", "email_sends")])
        else:
            reason = "no email in the exports names its program: add a program column to the email export"
        return ProgramSteps(empty_steps, _empty_members, None, (), reason)
    if steps.empty:
        return ProgramSteps(empty_steps, members, level, tuple(notes))
    return ProgramSteps(
        _finish(steps, stall_ratio, dropout_rate, min_recipients), members, level, tuple(notes)
    )
