"""Helpers for the metrics tests: tiny canonical tables written inline (no shared data file)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lifecycle.schema import TABLES, coerce_frame


def table(name: str, **columns: Any) -> pd.DataFrame:
    """A canonical ``name`` frame from column lists; datetime columns accept "YYYY-MM-DD[ HH:MM]" or None."""
    spec = TABLES[name]
    data = {}
    for column, values in columns.items():
        if spec.column(column).kind == "datetime":
            data[column] = pd.to_datetime(pd.Series(values, dtype=object), format="mixed")
        else:
            data[column] = pd.Series(values, dtype=object)
    return coerce_frame(name, pd.DataFrame(data))
