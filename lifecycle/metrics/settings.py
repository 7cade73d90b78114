"""User-adjustable settings of the metrics (MQL threshold, score bands, warning margin).

Timestamps are naive UTC throughout (ingest converts tz-aware values to UTC); ``timezone`` only labels them in
the UI and the report, it never shifts a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Settings:
    """Thresholds every metric and analysis reads; the defaults are the usual B2B conventions."""

    mql_threshold: float = 100.0
    """Score at or above which a lead counts as marketing-qualified in score profiles."""
    score_bands: tuple[float, ...] = (0, 25, 50, 75, 100)
    """Band edges: bands are <0, 0–24, 25–49, 50–74, 75–99, ≥100 for the default edges."""
    warning_margin: float = 0.20
    """Early warning when a metric is worse than its trailing 3-month median by more than this share."""
    timezone: str = "UTC"
    """Label only: timestamps are stored as naive UTC."""
    roi_months: int = 12
    """Length of the ROI window ending with the selected month."""
    max_verbatims: int = 20
    """NPS comments listed in the details of expand.nps (most recent first)."""

    def __post_init__(self) -> None:
        edges = list(self.score_bands)
        if not edges or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"score bands must be increasing numbers, got {self.score_bands!r}")
        if not 0 <= self.warning_margin < 10:
            raise ValueError(f"warning margin is a share (0.2 = 20 %), got {self.warning_margin!r}")
        if self.roi_months < 1:
            raise ValueError(f"the ROI window needs at least one month, got {self.roi_months!r}")

    @property
    def band_labels(self) -> list[str]:
        """Human labels of the score bands, lowest first (e.g. "<0", "0–24", …, "≥100")."""
        edges = list(self.score_bands)
        whole = all(float(e).is_integer() for e in edges)

        def fmt(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else f"{x:g}"

        labels = [f"<{fmt(edges[0])}"]
        for lo, hi in zip(edges, edges[1:], strict=False):
            # Integer edges read like the usual scoring-sheet ranges ("25–49"); fractional ones stay half-open.
            labels.append(f"{fmt(lo)}–{fmt(hi - 1)}" if whole else f"{fmt(lo)}–<{fmt(hi)}")
        labels.append(f"≥{fmt(edges[-1])}")
        return labels

    def band_of(self, scores: pd.Series) -> pd.Series:
        """Band label of each score (a band includes its lower edge); missing scores stay missing."""
        edges = np.asarray(self.score_bands, dtype="float64")
        values = scores.to_numpy(dtype="float64", na_value=np.nan)
        codes = np.searchsorted(edges, values, side="right")
        labels = pd.Categorical.from_codes(
            np.where(np.isnan(values), -1, codes), categories=self.band_labels, ordered=True
        )
        return pd.Series(labels, index=scores.index, name="band")


DEFAULT_SETTINGS = Settings()
