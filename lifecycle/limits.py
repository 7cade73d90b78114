"""Explicit limits on what one upload may hold, each overridable by an environment variable.

Every refusal names the limit and how to change it. The upload size itself is Streamlit's
`server.maxUploadSize` in `.streamlit/config.toml` (MB).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    default: int
    unit: str

    def value(self) -> int:
        """The limit in force: the environment variable if set to a number, else the default."""
        raw = os.environ.get(self.env, "").strip()
        try:
            return int(float(raw) * (1024**2 if self.unit == "bytes" else 1)) if raw else self.default
        except ValueError:
            return self.default

    def text(self, value: int | None = None) -> str:
        v = self.value() if value is None else value
        if self.unit == "bytes":
            return f"{v / 1024**3:.1f} GB" if v >= 1024**3 else f"{v / 1024**2:.0f} MB"
        return f"{v:,} {self.unit}"

    def hint(self) -> str:
        scale = " (in MB)" if self.unit == "bytes" else ""
        return f"set {self.env}{scale} to change the limit"


MAX_DECOMPRESSED = Limit("decompressed size", "LIFECYCLE_MAX_DECOMPRESSED_MB", 4 * 1024**3, "bytes")
"""What one .zip/.gz upload may expand to (guards against zip bombs)."""
MAX_ROWS = Limit("rows", "LIFECYCLE_MAX_ROWS", 50_000_000, "rows")
"""Data rows in one file or sheet."""
MAX_COLUMNS = Limit("columns", "LIFECYCLE_MAX_COLUMNS", 20_000, "columns")
"""Columns in one file or sheet."""
MAX_ARCHIVE_MEMBERS = Limit("archive members", "LIFECYCLE_MAX_ARCHIVE_MEMBERS", 1000, "files")
"""Files inside one .zip upload."""
