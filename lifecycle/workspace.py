"""A workspace: a folder of canonical tables as Parquet (`<table>.parquet`) plus a manifest.

Writes are atomic per file (write to a temporary file in the same folder, then rename), so a failed ingest
leaves the previous workspace readable.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from lifecycle.schema import TABLES, coerce_frame

Tables = Mapping[str, pd.DataFrame]
"""Canonical tables by name; a table that was never loaded is absent (not an empty frame)."""

MANIFEST = "workspace.json"


def table_path(folder: Path, table: str) -> Path:
    return Path(folder) / f"{table}.parquet"


def load_tables(folder: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read every canonical table present in `folder` (missing tables are simply absent)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"workspace folder {str(folder)!r} does not exist")
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = table_path(folder, name)
        if path.exists():
            tables[name] = coerce_frame(name, pd.read_parquet(path))
    return tables


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_table(folder: str | os.PathLike[str], table: str, frame: pd.DataFrame) -> None:
    """Write one canonical table atomically (replaces the previous version of that table)."""
    frame = coerce_frame(table, frame).reset_index(drop=True)
    _atomic_write_bytes(table_path(Path(folder), table), lambda tmp: frame.to_parquet(tmp, index=False))


def read_manifest(folder: str | os.PathLike[str]) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {"files": []}
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(folder: str | os.PathLike[str], manifest: dict) -> None:
    text = json.dumps(manifest, indent=2, default=str)
    _atomic_write_bytes(Path(folder) / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
