"""Real data: the Maven CRM sales pipeline (8 800 opportunities) against an independent DuckDB computation.

The CSV is ingested with ``read_export`` (detected as deals, no mapping). For every month in the data the
engine's wins, win rate, bookings and days to close must equal plain SQL over the raw file.
"""

from __future__ import annotations

import duckdb
import pytest

from lifecycle.ingest import read_export
from lifecycle.metrics import build_facts, compute_metric, months_in_data
from tests.paths import MAVEN_CRM

CSV = MAVEN_CRM / "sales_pipeline.csv"

SQL = """
WITH raw AS (
    SELECT deal_stage, engage_date, close_date, close_value
    FROM read_csv(?, header = true, dateformat = '%m/%d/%Y',
                  columns = {'opportunity_id': 'VARCHAR', 'sales_agent': 'VARCHAR', 'product': 'VARCHAR',
                             'account': 'VARCHAR', 'deal_stage': 'VARCHAR', 'engage_date': 'DATE',
                             'close_date': 'DATE', 'close_value': 'DOUBLE'})
)
SELECT strftime(close_date, '%Y-%m') AS month,
       count(*) FILTER (WHERE deal_stage = 'Won') AS won,
       count(*) FILTER (WHERE deal_stage = 'Lost') AS lost,
       coalesce(sum(close_value) FILTER (WHERE deal_stage = 'Won'), 0) AS bookings,
       median(date_diff('day', engage_date, close_date)) FILTER (WHERE deal_stage = 'Won') AS days_median,
       quantile_cont(date_diff('day', engage_date, close_date), [0.25, 0.75, 0.9])
           FILTER (WHERE deal_stage = 'Won') AS days_quantiles
FROM raw
WHERE deal_stage IN ('Won', 'Lost') AND close_date IS NOT NULL
GROUP BY 1
"""


@pytest.fixture(scope="module")
def facts():
    [ingested] = read_export(CSV.read_bytes(), CSV.name)
    assert ingested.table == "deals"
    assert ingested.report.rows_rejected == 500  # Prospecting rows have no engage date
    return build_facts({"deals": ingested.frame})


@pytest.fixture(scope="module")
def expected() -> dict[str, tuple]:
    with duckdb.connect() as con:
        # every closed deal has an engage date, so the rejected rows cannot change these metrics
        missing = con.execute(
            "SELECT count(*) FROM read_csv(?, header = true, all_varchar = true) "
            "WHERE deal_stage IN ('Won', 'Lost') AND engage_date IS NULL",
            [str(CSV)],
        ).fetchone()[0]
        assert missing == 0
        rows = con.execute(SQL, [str(CSV)]).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_every_month_matches_duckdb(facts, expected):
    months = months_in_data(facts)
    assert months[0] == "2016-10" and months[-1] == "2017-12"
    assert set(expected) <= set(months)
    for month in months:
        won, lost, bookings, days_median, days_quantiles = expected.get(month, (0, 0, 0.0, None, None))
        assert compute_metric(facts, "convert.deals_won", month).value == won, month
        assert compute_metric(facts, "convert.bookings", month).value == pytest.approx(bookings), month
        win_rate = compute_metric(facts, "convert.win_rate", month).value
        assert win_rate == (pytest.approx(won / (won + lost)) if won + lost else None), month
        days = compute_metric(facts, "convert.days_to_close", month)
        assert days.value == (pytest.approx(days_median) if won else None), month
        if won:
            got = [days.details["p25"], days.details["p75"], days.details["p90"]]
            assert got == pytest.approx(days_quantiles), month


def test_months_with_closed_deals_are_compared(expected):
    # the comparison above is only meaningful if DuckDB found the closing months (March–December 2017)
    assert sorted(expected) == [f"2017-{m:02d}" for m in range(3, 13)]
