"""The DuckDB reference: one month's metrics written directly as SQL over the workspace Parquet files.

This is the query an analyst would write by hand against the same Parquet files — no derived facts, no caching,
one statement per month — so its time is a fair yardstick for "all metrics of one month" in the app. It follows
SPEC §5 plainly and takes the canonical columns at face value (a lead's SQL date is `sql_at`, else
`opportunity_at`, else its first deal; a lead became a customer when `customer_at` is set; email rates come from
the event-level `email_events`, one row per (email, recipient)); a rate's "reached a stage" counts leads that reached a later one. It is not a second implementation of the
catalog: `agreement()` lists the metrics where the two differ, which are usually these simplifications.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

TABLES = ("leads", "deals", "customers", "spend", "web_traffic", "email_events", "score_changes", "nps")

SQL = """
WITH
traffic AS (
    SELECT sum(sessions) AS sessions, sum(users) AS visitors, sum(new_users) AS new_visitors,
           sum(form_submissions) AS form_submissions, sum(form_views) AS form_views
    FROM read_parquet($web_traffic) WHERE date >= $m0 AND date < $m1
),
spend AS (
    SELECT sum(amount) FILTER (WHERE date >= $m0) AS spend, sum(amount) AS spend_12m
    FROM read_parquet($spend) WHERE date >= $y0 AND date < $m1
),
deals AS (SELECT * FROM read_parquet($deals)),
first_deal AS (
    SELECT lead_id, min(created_at) AS first_deal_at FROM deals WHERE lead_id IS NOT NULL GROUP BY lead_id
),
leads AS (
    SELECT l.*, coalesce(l.sql_at, l.opportunity_at, f.first_deal_at) AS sql_date
    FROM read_parquet($leads) AS l LEFT JOIN first_deal AS f USING (lead_id)
),
lead_counts AS (
    SELECT
        count(*) FILTER (WHERE created_at >= $m0 AND created_at < $m1) AS new_leads,
        count(*) FILTER (WHERE created_at >= $m0 AND created_at < $m1
                           AND nullif(trim(program), '') IS NOT NULL) AS nurtured_leads,
        count(*) FILTER (WHERE created_at >= $m0 AND created_at < $m1
                           AND coalesce(mql_at, sql_date, customer_at) IS NOT NULL) AS new_with_mql,
        count(*) FILTER (WHERE mql_at >= $m0 AND mql_at < $m1) AS mqls,
        count(*) FILTER (WHERE mql_at >= $m0 AND mql_at < $m1
                           AND coalesce(sql_date, customer_at) IS NOT NULL) AS mqls_with_sql,
        count(*) FILTER (WHERE sql_date >= $m0 AND sql_date < $m1) AS sqls,
        count(*) FILTER (WHERE sql_date >= $m0 AND sql_date < $m1 AND customer_at IS NOT NULL) AS sqls_won,
        count(*) FILTER (WHERE recycled_at >= $m0 AND recycled_at < $m1) AS recycled,
        count(*) FILTER (WHERE reopened_at >= $m0 AND reopened_at < $m1) AS reopened
    FROM leads
),
deal_counts AS (
    SELECT
        count(*) FILTER (WHERE created_at >= $m0 AND created_at < $m1) AS opportunities,
        count(*) FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'won') AS won,
        count(*) FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'lost') AS lost,
        sum(amount) FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'won') AS bookings,
        sum(amount) FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'won'
                              AND type = 'new') AS bookings_new,
        sum(amount) FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'won'
                              AND type IN ('upsell', 'cross_sell')) AS bookings_upsell,
        sum(amount) FILTER (WHERE closed_at >= $y0 AND closed_at < $m1 AND status = 'won'
                              AND type = 'new') AS bookings_new_12m,
        median(date_diff('second', created_at, closed_at) / 86400.0)
            FILTER (WHERE closed_at >= $m0 AND closed_at < $m1 AND status = 'won') AS days_to_close
    FROM deals
),
customers AS (SELECT * FROM read_parquet($customers)),
customer_counts AS (
    SELECT
        count(*) FILTER (WHERE started_at >= $m0 AND started_at < $m1) AS new_customers,
        count(*) FILTER (WHERE started_at < $m0 AND (churned_at IS NULL OR churned_at >= $m0)) AS active,
        count(*) FILTER (WHERE churned_at >= $m0 AND churned_at < $m1) AS churned
    FROM customers
),
lead_to_customer AS (
    SELECT median(date_diff('second', l.created_at, c.started_at) / 86400.0) AS days
    FROM customers AS c JOIN leads AS l ON lower(l.email) = lower(c.email)
    WHERE c.started_at >= $m0 AND c.started_at < $m1
),
sends AS (
    SELECT email, recipient, coalesce(any_value(audience), 'prospect') AS audience,
           coalesce(min("at") FILTER (WHERE event = 'sent'), min("at")) AS sent_at,
           bool_or(event = 'delivered') AS delivered, bool_or(event IN ('open', 'click')) AS opened,
           bool_or(event = 'click') AS clicked
    FROM read_parquet($email_events) GROUP BY email, recipient
),
email_counts AS (
    SELECT
        count(*) FILTER (WHERE audience = 'prospect' AND delivered) AS p_delivered,
        count(*) FILTER (WHERE audience = 'prospect' AND opened) AS p_opened,
        count(*) FILTER (WHERE audience = 'prospect' AND clicked) AS p_clicked,
        count(*) FILTER (WHERE audience = 'customer' AND delivered) AS c_delivered,
        count(*) FILTER (WHERE audience = 'customer' AND opened) AS c_opened,
        count(*) FILTER (WHERE audience = 'customer' AND clicked) AS c_clicked
    FROM sends WHERE sent_at >= $m0 AND sent_at < $m1
),
cohort AS (SELECT lead_id FROM leads WHERE created_at >= $m0 AND created_at < $m1),
cohort_scores AS (
    SELECT c.lead_id, arg_max(s.score, s."at") AS score
    FROM cohort AS c LEFT JOIN read_parquet($score_changes) AS s ON s.lead_id = c.lead_id AND s."at" < $m1
    GROUP BY c.lead_id
),
score_profile AS (SELECT median(score) AS median_score FROM cohort_scores),
nps AS (
    SELECT 100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) / nullif(count(*), 0)
        AS nps
    FROM read_parquet($nps) WHERE responded_at >= $m0 AND responded_at < $m1
)
SELECT
    t.sessions AS "attract.sessions",
    t.visitors AS "attract.visitors",
    t.new_visitors AS "attract.new_visitors",
    s.spend / nullif(t.sessions, 0) AS "attract.cost_per_visit",
    lc.new_leads AS "capture.new_leads",
    lc.new_leads / nullif(t.sessions, 0) AS "capture.visit_to_lead_rate",
    t.form_submissions / nullif(t.form_views, 0) AS "capture.form_conversion_rate",
    s.spend / nullif(lc.new_leads, 0) AS "capture.cost_per_lead",
    lc.nurtured_leads AS "nurture.new_leads",
    lc.reopened AS "nurture.reopened_leads",
    lc.recycled AS "nurture.recycled_leads",
    e.p_opened / nullif(e.p_delivered, 0) AS "nurture.email_open_rate",
    e.p_clicked / nullif(e.p_delivered, 0) AS "nurture.email_ctr",
    e.p_clicked / nullif(e.p_opened, 0) AS "nurture.click_to_open",
    sp.median_score AS "nurture.score_profile",
    lc.mqls AS "nurture.mqls",
    lc.new_with_mql / nullif(lc.new_leads, 0) AS "nurture.lead_to_mql_rate",
    s.spend / nullif(lc.mqls, 0) AS "nurture.cost_per_mql",
    lc.sqls AS "convert.sqls",
    d.opportunities AS "convert.opportunities",
    cc.new_customers AS "convert.new_customers",
    lc.mqls_with_sql / nullif(lc.mqls, 0) AS "convert.mql_to_sql_rate",
    lc.sqls_won / nullif(lc.sqls, 0) AS "convert.sql_to_customer_rate",
    d.won / nullif(d.won + d.lost, 0) AS "convert.win_rate",
    d.won AS "convert.deals_won",
    coalesce(d.bookings, 0) AS "convert.bookings",
    coalesce(d.bookings_new, 0) AS "convert.bookings_new",
    s.spend / nullif(lc.sqls, 0) AS "convert.cost_per_sql",
    s.spend / nullif(cc.new_customers, 0) AS "convert.cost_per_customer",
    (coalesce(d.bookings_new_12m, 0) - s.spend_12m) / nullif(s.spend_12m, 0) AS "convert.roi_12m",
    d.days_to_close AS "convert.days_to_close",
    ltc.days AS "convert.days_lead_to_customer",
    e.c_opened / nullif(e.c_delivered, 0) AS "expand.customer_open_rate",
    e.c_clicked / nullif(e.c_delivered, 0) AS "expand.customer_ctr",
    cc.active AS "expand.active_customers",
    cc.churned AS "expand.churned_customers",
    cc.churned / nullif(cc.active, 0) AS "expand.churn_rate",
    coalesce(d.bookings_upsell, 0) / nullif(d.bookings, 0) AS "expand.upsell_share",
    n.nps AS "expand.nps"
FROM traffic AS t, spend AS s, lead_counts AS lc, deal_counts AS d, customer_counts AS cc,
     lead_to_customer AS ltc, email_counts AS e, score_profile AS sp, nps AS n
"""


def parquet_files(workspace: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The Parquet files of each table the reference reads (a large table's parts); ValueError naming the
    missing ones."""
    from lifecycle import workspace as ws

    folder = Path(workspace)
    found = {name: [str(path) for path in paths] for name, paths in ws.table_files(folder).items()}
    missing = [name for name in TABLES if name not in found]
    if missing:
        raise ValueError(f"the DuckDB reference needs the tables {', '.join(missing)} in {folder}")
    return {name: found[name] for name in TABLES}


def month_metrics(files: Mapping[str, list[str]], month: str) -> dict[str, float | None]:
    """Every metric the reference knows for month "YYYY-MM", by catalog id (None where undefined).

    Opens a fresh in-memory DuckDB connection each call: the timing includes reading the Parquet files.
    """
    period = pd.Period(month, freq="M")
    params = {
        **files,
        "m0": period.start_time.to_pydatetime(),
        "m1": (period + 1).start_time.to_pydatetime(),
        "y0": (period - 11).start_time.to_pydatetime(),
    }
    with duckdb.connect() as con:
        cursor = con.execute(SQL, params)
        names = [col[0] for col in cursor.description]
        row = cursor.fetchone()
    return {name: (None if value is None else float(value)) for name, value in zip(names, row, strict=True)}


def agreement(project: Mapping[str, float | None], reference: Mapping[str, float | None]) -> dict:
    """Compare the project's values with the reference's: how many agree (relative 1e-6) and the others."""
    differ: dict[str, list[float | None]] = {}
    for metric_id, ref in reference.items():
        mine = project.get(metric_id)
        mine = None if mine is None or (isinstance(mine, float) and math.isnan(mine)) else float(mine)
        same = (mine is None and ref is None) or (
            mine is not None and ref is not None and math.isclose(mine, ref, rel_tol=1e-6, abs_tol=1e-9)
        )
        if not same:
            differ[metric_id] = [mine, ref]
    return {"compared": len(reference), "agree": len(reference) - len(differ), "differ": differ}
