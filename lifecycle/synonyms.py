"""Header and value synonyms of the export formats of common tools (SPEC §4 step 5 and §3 value rules).

Data only, read by `lifecycle.ingest`. Header names are compared after `normalize_header` (lower case,
every run of non-alphanumeric characters collapsed to one space, trimmed), so entries may be written as the
tool spells them.
"""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_header(name: str) -> str:
    """'Became a Marketing Qualified Lead Date ' -> 'became a marketing qualified lead date'."""
    return _NON_ALNUM.sub(" ", str(name).lower()).strip()


# table -> canonical column -> header names used by real exports (any spelling; normalized at lookup)
COLUMN_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "leads": {
        "lead_id": ("Record ID", "Contact ID", "Lead ID", "Id"),
        "created_at": ("Create Date", "Created Date", "Created At"),
        "email": ("Email", "Email Address"),
        "channel": ("Original Source", "Lead Source", "Channel"),
        "score": ("HubSpot Score", "Lead Score", "Score"),
        "mql_at": ("Became a Marketing Qualified Lead Date",),
        "sql_at": ("Became a Sales Qualified Lead Date",),
        "opportunity_at": ("Became an Opportunity Date",),
        "customer_at": ("Became a Customer Date",),
        "status": ("Lifecycle Stage", "Lead Status", "Status"),
    },
}

# "<table>.<column>" -> raw value (normalized like headers) -> canonical value
VALUE_SYNONYMS: dict[str, dict[str, str]] = {
    "deals.status": {"won": "won", "closed won": "won", "true": "won", "lost": "lost", "closed lost": "lost"},
    "deals.type": {"new business": "new", "upsell": "upsell", "cross sell": "cross_sell", "renewal": "renewal"},
    "email_events.event": {"sent": "sent", "delivered": "delivered", "open": "open", "click": "click"},
}

# raw channel value (normalized) -> standard channel group (schema.CHANNEL_GROUPS)
CHANNEL_GROUPS: dict[str, str] = {
    "organic search": "organic search",
    "paid search": "paid search",
    "paid social": "paid social",
    "social media": "organic social",
    "email marketing": "email",
    "referrals": "referral",
    "direct traffic": "direct",
    "offline sources": "events",
}
