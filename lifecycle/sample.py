"""A synthetic B2B company (SPEC §2 `data/sample/`): every canonical table over 24 months, with planted effects.

`generate()` returns canonical tables; `write_exports()` writes them as the tools would export them (HubSpot,
Salesforce, Marketo, GA4, Google Ads, LinkedIn, Mailchimp, Qualtrics, a budget workbook) or as plain CSVs.
The company: eight channels of different quality, Welcome + nurture tracks, webinar invitations, a
re-engagement program for recycled leads, customer onboarding and adoption programs, lead scoring with an
MQL threshold of 100, annual contracts that renew or churn, upsells, cross-sells and a monthly NPS survey.
Volumes follow deterministic monthly quotas (past the MQL, quotas on the window's trend), amounts are scaled
onto trends and delays are spread evenly, so apart from `PLANTED_EFFECTS` the months move smoothly: the
early-warning rule (SPEC §5) fires exactly where `PLANTED_EFFECTS` lists `warnings`.

The data runs to day 22 of the month after `end_month` (the export day), so `end_month` is the last complete
month — the app's default month.

    python -m lifecycle.sample --out data/sample            # the checked-in sample (12,000 leads)
    python -m lifecycle.sample --leads 1000000 --style csv --out /tmp/big
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lifecycle import sample_model as m
from lifecycle import sample_tables as t
from lifecycle.sample_activity import make_emails, make_scores
from lifecycle.sample_exports import write_exports
from lifecycle.sample_funnel import make_leads
from lifecycle.sample_revenue import make_revenue
from lifecycle.schema import coerce_frame

__all__ = ["PLANTED_EFFECTS", "SAMPLE_LEADS", "generate", "main", "write_exports"]

SAMPLE_LEADS = 12_000
"""Leads in the checked-in `data/sample/` (≈ 360–600 new leads a month, 4.5 MB): `generate()`'s default, so
`generate()` is exactly what `data/sample/` holds."""

PLANTED_EFFECTS: tuple[dict[str, Any], ...] = (
    {
        "id": "cheap_low_quality_channel",
        "stage": "capture → nurture",
        "channel": "Paid Social",
        "effect": "Paid Social brings the cheapest leads of the channels with spend, and the worst: the lowest "
        "lead → MQL rate of all channels, so its cost per MQL is among the highest.",
        "check": "over the 24 months: spend ÷ new leads is ≈ 38 for Paid Social vs ≥ 57 for every other channel "
        "with spend; the share of its leads with an mql_at is ≈ 7 % vs ≥ 22 % for every other channel",
        "metrics": ("capture.cost_per_lead", "nurture.lead_to_mql_rate", "nurture.cost_per_mql"),
        "expect": {
            "cost_per_lead": (34.0, 42.0),
            "other_cost_per_lead_min": 50.0,
            "lead_to_mql_rate": (0.05, 0.09),
            "other_lead_to_mql_rate_min": 0.18,
        },
    },
    {
        "id": "stalled_nurture_step",
        "stage": "nurture",
        "program": "Solution Nurture",
        "step": "3",
        "effect": "Leads stall at step 3 of the Solution Nurture program: its email is rarely opened, almost never "
        "clicked, and only a quarter of its recipients are sent step 4.",
        "check": "step 3: unique opens ÷ delivered ≈ 12 % (other steps ≥ 27 %), unique clicks ÷ delivered ≈ 0.6 % "
        "(other steps ≥ 3 %), recipients of step 4 ÷ recipients of step 3 ≈ 0.24 (other steps of the "
        "program ≥ 0.9)",
        "metrics": ("programs: open rate, CTR and share moving on, by program and step",),
        "expect": {
            "open_rate": (0.09, 0.16),
            "ctr": (0.0, 0.015),
            "move_on": (0.15, 0.35),
            "other_open_rate_min": 0.22,
            "other_ctr_min": 0.025,
            "other_move_on_min": 0.8,
        },
    },
    {
        "id": "churn_uptick",
        "stage": "expand",
        "months": ("2026-08", "2026-09", "2026-10"),
        "effect": "Churn doubles in the last quarter.",
        "check": "churned ÷ active at the month's start is ≈ 2.7 % in each of 2026-08..10 vs ≈ 1.4 % on average "
        "over 2025-08..2026-07; churned_customers doubles with it (the lost renewals take ≈ 9 % off bookings "
        "and ≈ 13 % off the win rate, inside the warning margin)",
        "metrics": ("expand.churn_rate", "expand.churned_customers"),
        "expect": {"ratio_to_prior_12_months": (1.6, 2.4)},
        # The step fires "worse than the trailing median" while the median still holds pre-step months.
        "warnings": {
            "expand.churn_rate": ("2026-08", "2026-09"),
            "expand.churned_customers": ("2026-08", "2026-09"),
        },
    },
    {
        "id": "organic_decline",
        "stage": "attract → capture",
        "channel": "Organic Search",
        "months": ("2026-09", "2026-10"),
        "effect": "Organic search traffic and the leads it brings fall in the last two months — an early warning.",
        "check": "Organic Search sessions and new leads are ≈ 38 % below trend in 2026-09 and ≈ 70 % below in "
        "2026-10 (≈ −36 % then −50 % month over month); total sessions, new leads and MQLs fall by more than "
        "5 % in both months, after rising every month before (sales keeps accepting its trend of SQLs, so the "
        "dip stops at the MQLs)",
        "metrics": ("attract.sessions", "capture.new_leads", "nurture.new_leads"),
        "expect": {"organic_month_over_month": (0.45, 0.7), "total_month_over_month": (0.85, 0.95)},
        # "Two months running" fires in the second month of the slide, on the volumes and on the costs per unit
        # of them (spend follows its trend).
        "warnings": {
            metric: ("2026-10",)
            for metric in (
                "attract.sessions",
                "attract.visitors",
                "attract.new_visitors",
                "attract.cost_per_visit",
                "capture.new_leads",
                "capture.cost_per_lead",
                "nurture.new_leads",
                "nurture.mqls",
                "nurture.cost_per_mql",
            )
        },
    },
)
"""Effects planted for users (and tests) to discover; months are for the default `end_month` 2026-10. Apart
from these, monthly series follow smooth trends (growth ≈ 2.5 % a month, mild summer and December dips).
`warnings` lists every (metric, months) where the early-warning rule (SPEC §5 "Trends") fires because of the
effect; over the months whose look-back lies in the window (2025-02..2026-10) it fires nowhere else."""


def generate(
    leads: int = SAMPLE_LEADS, seed: int = 7, end_month: str = "2026-10", months: int = 24
) -> dict[str, pd.DataFrame]:
    """Every canonical table of the sample company: `leads` leads created over `months` months ending `end_month`."""
    if leads < 100:
        raise ValueError("the sample company needs at least 100 leads")
    rng = np.random.default_rng(seed)
    cal = m.Calendar.build(end_month, months)
    people = make_leads(leads, cal, rng)
    revenue = make_revenue(people, cal, rng)
    log = make_emails(people, revenue.customers, cal, rng)
    scores = make_scores(people, log, cal, rng)

    # Marketo ids: the leads', then older (smaller) ones for the customers without a lead, who only receive
    # customer emails — after the leads' when a huge company has too many of them to fit below 100,000.
    without_lead = int((revenue.customers["lead"].to_numpy() < 0).sum())
    lead_ids = 100_000 + np.cumsum(rng.integers(1, 4, people.n))
    step = min(39, 89_990 // max(without_lead, 1))
    older = np.cumsum(rng.integers(1, max(step, 1) + 1, without_lead))
    older_ids = 10_000 + older if step >= 1 else lead_ids[-1] + older
    ids = pa.array(np.concatenate([lead_ids, older_ids])).cast(pa.string())
    kept = people.kept
    customer = revenue.customers["lead"].to_numpy()
    customer_at = np.full(people.n, m.NAT)
    customer_at[customer[customer >= 0]] = revenue.customers["started_at"].to_numpy()[customer >= 0]
    tables = {
        "leads": t.leads_table(people, ids, customer_at, scores.current),
        "lead_stages": t.stages_table(people, ids, customer_at),
        "email_events": t.events_table(log, ids, kept, cal.window_start),
        "email_sends": t.newsletters(people, revenue.customers, cal),
        "score_changes": t.scores_table(scores, ids, kept),
        "spend": t.spend_table(people, cal, leads),
        "deals": t.deals_table(revenue.deals, ids, kept),
        "customers": t.customers_table(revenue.customers),
        "nps": revenue.nps,
        "web_traffic": t.web_traffic(people, cal),
    }
    return {name: coerce_frame(name, frame).reset_index(drop=True) for name, frame in tables.items()}


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """`python -m lifecycle.sample --leads N [--seed S] --out DIR [--style vendor|csv]`."""
    parser = argparse.ArgumentParser(prog="python -m lifecycle.sample", description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=SAMPLE_LEADS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-month", default="2026-10")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--out", required=True)
    parser.add_argument("--style", choices=("vendor", "csv"), default="vendor")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        tables = generate(args.leads, args.seed, args.end_month, args.months)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    generated = time.perf_counter()
    paths = write_exports(tables, args.out, style=args.style)
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1024:,.0f} KB")
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items())
    print(f"rows: {rows}")
    print(f"generated in {generated - started:.1f} s, written in {time.perf_counter() - generated:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
