"""Tables as downloadable CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with = + - @ (or tab / CR) get a leading apostrophe so a spreadsheet shows them
    as text instead of running them as formulas (CSV / formula injection). Numbers are left alone."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_string_dtype(col) or col.dtype == object:
            text = col.astype("str")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if risky.any():
                out[name] = text.where(~risky, "'" + text)
    return out


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads accents right) of `frame` with formulas neutralized."""
    return neutralize_formulas(frame).to_csv(index=False).encode("utf-8-sig")
