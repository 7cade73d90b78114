"""The sample company's monthly NPS survey: a quota of the active customers answers each month, with category
shares drifting toward promoters and verbatims in several languages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifecycle import sample_model as m

NPS_COMMENTS = {
    "promoter": (
        "Great support team, quick onboarding.",
        "Saves our team hours every week.",
        "The lifecycle dashboards are exactly what our board asks for.",
        "Easy to set up, and the CSV import just works.",
        "Très bon produit, équipe réactive.",
        "Best reporting tool we’ve used — clear and fast.",
        "Our marketing ops team lives in it.",
    ),
    "passive": (
        "Good product, but reporting could be more flexible.",
        "Does the job. Pricing is on the high side.",
        "Solid, though the Salesforce sync is slow at times.",
        "Useful, but onboarding took longer than promised.",
        "Gutes Tool; die Exporte könnten besser sein.",
    ),
    "detractor": (
        "Too expensive for what we use.",
        "Support took days to answer our ticket.",
        "Missing an integration with our CRM.",
        "Dashboards are slow with our data volume.",
        "We struggled to get the team to adopt it.",
        "Renewal price went up 20 % without warning.",
    ),
}
COMMENT_RATE = 0.6
ANONYMOUS_RATE = 0.05


def active_at(customers: pd.DataFrame, t: np.datetime64, tenure_days: int = 0) -> np.ndarray:
    """Customers started at least `tenure_days` before `t` and not churned by then."""
    start, churned = customers["started_at"].to_numpy(), customers["churned_at"].to_numpy()
    return (start <= t - tenure_days * m.DAY) & (np.isnat(churned) | (churned > t))


def make_nps(customers: pd.DataFrame, cal: m.Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly NPS responses from a quota of active customers; category shares drift toward promoters."""
    rows = []
    for month in range(cal.window, cal.n):
        lo = cal.starts[month]
        pool = np.flatnonzero(active_at(customers, lo, 30))
        k = int(round(m.NPS_RESPONSE_RATE * len(pool) * cal.fraction()[month]))
        who = rng.permutation(pool)[:k]
        drift = 0.002 * (month - cal.window)
        mix = m.NPS_MIX + np.array([-drift, 0.0, drift])
        rows.append((np.full(k, month), who, m.categorical(m.stratified_uniform(np.zeros(k, int), rng), mix)))
    month = np.concatenate([r[0] for r in rows])
    who = np.concatenate([r[1] for r in rows])
    category = np.concatenate([r[2] for r in rows])
    n = len(who)
    at = cal.activity_times(month, m.stratified_uniform(month, rng))
    u = rng.random(n)
    score = np.select(
        [category == 2, category == 1],
        [9 + (u < 0.45), 7 + (u < 0.5)],
        m.categorical(u, np.array([1, 1, 1, 2, 3, 5, 7.0])),
    ).astype(float)
    comment = np.full(n, None, dtype=object)
    for c, name in enumerate(("detractor", "passive", "promoter")):
        mine = np.flatnonzero((category == c) & (rng.random(n) < COMMENT_RATE))
        pool = np.asarray(NPS_COMMENTS[name], dtype=object)
        comment[mine] = pool[rng.integers(0, len(pool), len(mine))]
    customer = customers["customer_id"].to_numpy(dtype=object)[who]
    customer = np.where(rng.random(n) < ANONYMOUS_RATE, None, customer)
    alphabet = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
    token = alphabet[rng.integers(0, 62, (n, 15))].copy().view("S15").ravel().astype(str)
    frame = pd.DataFrame(
        {
            "respondent": np.char.add("R_", token),
            "responded_at": at,
            "score": score,
            "comment": comment,
            "customer_id": customer,
        }
    )
    return frame.sort_values("responded_at", kind="stable").reset_index(drop=True)
