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

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lifecycle.metrics.catalog import needs_text
from lifecycle.metrics.derived import Facts, build_facts, month_bounds, parse_month
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
    delivered, opened, clicked, unsubscribed, moved_on, mql_90d. ``level`` is "event" or "summary".
    """

    steps: pd.DataFrame
    members: pd.DataFrame
    level: str | None
    notes: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

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
    out = values.astype("str").str.strip()
    return out.mask(out.isna() | out.eq(""), missing)


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


def _event_level(
    facts: Facts,
    channel: str | None,
    audience: Audience,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    sends = _audience_rows(facts.sends, audience)
    people = sends.groupby(["program", "step", "recipient"], sort=False, observed=True).agg(
        lead_id=("lead_id", "first"),
        customer_id=("customer_id", "first"),
        channel=("channel", "first"),
        first_received=("sent_at", "min"),
        delivered=("delivered", "any"),
        opened=("opened", "any"),
        clicked=("clicked", "any"),
        unsubscribed=("unsubscribed", "any"),
    )
    people = people.reset_index()
    # Step order and "received the next step" come from every recipient, so a channel view keeps the
    # program's real shape; only then are the rows narrowed to the channel.
    catalog = people[["program", "step"]].drop_duplicates().reset_index(drop=True)
    catalog["order"] = _step_order(catalog).to_numpy()
    people = people.merge(catalog, on=["program", "step"], how="left")

    # Next step of each row, then "did this recipient also get it" against the all-time recipients.
    next_step = catalog.assign(order=catalog["order"] - 1).rename(columns={"step": "next_step"})
    people = people.merge(next_step, on=["program", "order"], how="left")
    received = (
        people[["program", "step", "recipient"]].rename(columns={"step": "next_step"}).assign(_got=True)
    )
    people = people.merge(received, on=["program", "next_step", "recipient"], how="left")
    people["moved_on"] = people["_got"].eq(True) & people["next_step"].notna()
    people = people.drop(columns="_got")

    mql_at = pd.Series(pd.NaT, index=people.index, dtype="datetime64[us]")
    leads = facts.leads
    if leads is not None:
        mql_by_lead = pd.Series(leads["mql_at"].to_numpy(), index=pd.Index(leads["lead_id"]))
        mql_by_lead = mql_by_lead[~mql_by_lead.index.duplicated()]
        mql_at = pd.Series(mql_by_lead.reindex(people["lead_id"]).to_numpy(), index=people.index)
    received_at = people["first_received"]
    eligible = people["lead_id"].notna() & ~(mql_at <= received_at)
    people["mql_eligible"] = eligible
    people["mql_90d"] = eligible & (mql_at > received_at) & (mql_at <= received_at + MQL_WINDOW)

    keep = _in_window(people["first_received"], start, end)
    if channel is not None and facts.info.get("sends_filterable"):
        keep = keep & (people["channel"] == channel).to_numpy()
    people = people[keep].reset_index(drop=True)
    grouped = people.groupby(["program", "step", "order"], sort=False)
    steps = grouped.agg(
        recipients=("recipient", "size"),
        delivered=("delivered", "sum"),
        opens=("opened", "sum"),
        clicks=("clicked", "sum"),
        unsubscribes=("unsubscribed", "sum"),
        moved_on=("moved_on", "sum"),
        next_step=("next_step", "first"),
        mql_eligible=("mql_eligible", "sum"),
        mql_90d=("mql_90d", "sum"),
    ).reset_index()
    steps = _rates(steps.astype({c: "float64" for c in ("delivered", "opens", "clicks", "unsubscribes")}))
    steps["move_on_share"] = steps["move_on_share"].mask(steps["next_step"].isna())
    members = people[
        ["program", "step", "recipient", "lead_id", "customer_id", "channel", "first_received", "delivered", "opened",
         "clicked", "unsubscribed", "moved_on", "mql_90d"]
    ]  # fmt: skip
    return steps.drop(columns="next_step"), members


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
    has_events = facts.sends is not None and _label(facts.sends["program"], "").ne("").any()
    has_summary = facts.email_summary is not None and _label(facts.email_summary["program"], "").ne("").any()
    if has_events:
        steps, members = _event_level(facts, channel, audience, start, end)
        level = "event"
        if channel is not None and not facts.info.get("sends_filterable"):
            notes.append(
                "Email recipients do not match any lead or customer: programs are not filtered by channel."
            )
    elif has_summary:
        steps, members, level = _summary_level(facts, audience, start, end), _empty_members(), "summary"
        notes.append(
            "Summary-level email export: recipients are sends; moving on and MQLs within 90 days need "
            "event-level email activity (email_events)."
        )
        if channel is not None:
            notes.append("Summary-level email sends carry no channel: programs are not filtered by channel.")
    else:
        if facts.sends is None and facts.email_summary is None:
            reason = needs_text([("email_events", "email_sends")])
        else:
            reason = "no email in the exports names its program: add a program column to the email export"
        return ProgramSteps(empty_steps, _empty_members(), None, (), reason)
    if steps.empty:
        return ProgramSteps(empty_steps, members.reset_index(drop=True), level, tuple(notes))
    return ProgramSteps(
        _finish(steps, stall_ratio, dropout_rate, min_recipients), members, level, tuple(notes)
    )
