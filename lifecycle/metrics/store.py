"""Derived facts saved beside the tables of a workspace, so opening a large workspace reads them instead of
deriving them again.

``build_facts`` is the expensive step of opening data (joining millions of email events to leads, sorting the
score history); its result depends only on the workspace's tables. :func:`save_facts` writes each frame of the
facts as Parquet under ``facts/`` (categoricals stay dictionary-encoded, so reading them back is cheap) and
records in the manifest which table files they were derived from; :func:`open_facts` reads them back when the
tables are still those files, and otherwise derives the facts from the tables and saves them for next time.
Writes follow the workspace's rule: files first, then the manifest in one atomic replace.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lifecycle.metrics.derived import Facts, build_facts
from lifecycle.metrics.scores import ScoreHistory
from lifecycle.workspace import _atomic_write, load_tables, read_manifest, table_files, write_manifest

FACTS_DIR = "facts"
FORMAT = 1
"""Version of the saved layout; a manifest entry of another version is ignored (the facts are rebuilt)."""
FRAMES = ("leads", "deals", "customers", "sends", "send_months", "email_summary", "spend", "traffic", "nps")


def _source(folder: Path) -> dict[str, str]:
    """The table files the facts of ``folder`` derive from: name → file name."""
    return {name: path.name for name, path in table_files(folder).items()}


def _write_frame(folder: Path, name: str, frame: pd.DataFrame) -> str:
    filename = f"{name}-{uuid.uuid4().hex[:12]}.parquet"
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    _atomic_write(folder / FACTS_DIR / filename, lambda tmp: pq.write_table(table, tmp))
    return f"{FACTS_DIR}/{filename}"


def _jsonable_info(info: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    out["columns"] = {table: sorted(cols) for table, cols in info["columns"].items()}
    return out


def save_facts(folder: str | os.PathLike[str], facts: Facts) -> None:
    """Write ``facts`` (built from the workspace's current tables) into ``folder`` and record them."""
    folder = Path(folder)
    files: dict[str, str] = {}
    for name in FRAMES:
        frame = getattr(facts, name)
        if frame is not None:
            files[name] = _write_frame(folder, name, frame)
    if facts.scores is not None:
        files["scores"] = _write_frame(folder, "scores", facts.scores.changes)
        leads = pd.DataFrame({"lead_id": facts.scores.lead_index, "start": facts.scores.starts[:-1]})
        files["score_leads"] = _write_frame(folder, "score_leads", leads)
    manifest = read_manifest(folder)
    manifest["facts"] = {
        "format": FORMAT,
        "source": _source(folder),
        "files": files,
        "info": _jsonable_info(facts.info),
        "channels": list(facts.channels),
        "score_rows": int(facts.scores.starts[-1]) if facts.scores is not None else None,
    }
    write_manifest(folder, manifest)  # the commit point
    referenced = {Path(f).name for f in files.values()}
    for path in (folder / FACTS_DIR).iterdir():
        if path.name not in referenced:
            path.unlink(missing_ok=True)


def _read_frame(folder: Path, file: str) -> pd.DataFrame:
    return pq.read_table(folder / file).to_pandas()


def load_facts(folder: str | os.PathLike[str]) -> Facts | None:
    """The saved facts of ``folder`` when they were derived from its current tables (else None)."""
    folder = Path(folder)
    entry = read_manifest(folder).get("facts")
    if not entry or entry.get("format") != FORMAT or entry.get("source") != _source(folder):
        return None
    files = entry["files"]
    if not all((folder / f).exists() for f in files.values()):
        return None
    frames = {name: _read_frame(folder, files[name]) if name in files else None for name in FRAMES}
    scores = None
    if "scores" in files:
        leads = _read_frame(folder, files["score_leads"])
        starts = np.append(leads["start"].to_numpy(dtype=np.int64), entry["score_rows"])
        scores = ScoreHistory(_read_frame(folder, files["scores"]), pd.Index(leads["lead_id"].array), starts)
    info = dict(entry["info"])
    info["columns"] = {table: frozenset(cols) for table, cols in info["columns"].items()}
    # The metrics read the facts only; the tables are kept as their (empty) column layout for `present`.
    tables = {name: pd.DataFrame(columns=sorted(cols)) for name, cols in info["columns"].items()}
    return Facts(tables=tables, scores=scores, channels=tuple(entry["channels"]), info=info, **frames)


def open_facts(folder: str | os.PathLike[str], *, save: bool = True) -> Facts:
    """The facts of the workspace ``folder``: read when saved for its current tables, else derived from the
    tables (and saved, unless ``save`` is False or the folder is read-only)."""
    saved = load_facts(folder)
    if saved is not None:
        return saved
    facts = build_facts(load_tables(folder))
    if save:
        with contextlib.suppress(
            OSError
        ):  # a read-only workspace still opens; it derives them again next time
            save_facts(folder, facts)
    return facts
