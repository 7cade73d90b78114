"""Page tables assembled from several engine calls: metrics by channel, quarter pacing, effectiveness rows."""

from __future__ import annotations

import pandas as pd

from lifecycle.metrics import DEFAULT_SETTINGS, build_facts, compute_metric
from lifecycle.metrics.effectiveness import source_effectiveness
from lifecycle.schema import coerce_frame
from lifecycle.views import effectiveness_rows, metrics_by_channel, pacing_table, quarter_label

# Seven leads over July–September 2026 in two channels; spend in every month.
LEADS = coerce_frame(
    "leads",
    pd.DataFrame(
        {
            "lead_id": ["1", "2", "3", "4", "5", "6", "7"],
            "created_at": pd.to_datetime(
                [
                    "2026-07-02",
                    "2026-07-15",
                    "2026-08-03",
                    "2026-08-20",
                    "2026-09-01",
                    "2026-09-09",
                    "2026-09-30",
                ]
            ),
            "channel": ["Email", "Paid", "Email", "Paid", "Paid", "Email", "Paid"],
        }
    ),
)
SPEND = coerce_frame(
    "spend",
    pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-07-01", "2026-08-01", "2026-09-01", "2026-09-01"]),
            "amount": [100.0, 100.0, 60.0, 90.0],
            "channel": ["Paid", "Paid", "Paid", "Email"],
        }
    ),
)
FACTS = build_facts({"leads": LEADS, "spend": SPEND})


def test_metrics_by_channel_give_each_channel_its_own_value() -> None:
    frame = metrics_by_channel(FACTS, ["capture.new_leads", "capture.cost_per_lead"], "2026-09", ["Email", "Paid"],
                               DEFAULT_SETTINGS)  # fmt: skip
    # September: Email 1 lead for 90 spend, Paid 2 leads for 60 spend.
    assert frame.to_dict("list") == {
        "channel": ["Email", "Paid"],
        "New leads": [1.0, 2.0],
        "Cost per lead": [90.0, 30.0],
    }
    total = compute_metric(FACTS, "capture.new_leads", "2026-09").value
    assert frame["New leads"].sum() == total


def test_pacing_compares_the_quarter_so_far_with_the_previous_quarter() -> None:
    frame = pacing_table(FACTS, ["capture.new_leads"], ["2026-07", "2026-08", "2026-09"], "2026-08", None,
                         DEFAULT_SETTINGS)  # fmt: skip
    [row] = frame.to_dict("records")
    # Q3 to the end of August: 4 leads, pacing 4 / 2 months × 3 = 6; no Q2 data, so no comparison.
    assert (row["metric"], row["quarter to date"], row["pacing to"]) == ("New leads", "4", "6")
    assert row["last quarter, same point"] == "—" and row["change"] == "—"
    assert quarter_label("2026-08") == "Q3 2026, month 2 of 3"


def test_effectiveness_rows_are_the_leads_behind_a_cell() -> None:
    result = source_effectiveness(FACTS, "2026-09", by="channel", months=3)
    rows = effectiveness_rows(FACTS, result.members, "Paid", "lead")
    assert sorted(rows["lead_id"]) == ["2", "4", "5", "7"]
    assert int(result.table.set_index("group").loc["Paid", "leads"]) == len(rows)
