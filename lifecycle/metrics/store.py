"""Derived facts saved beside the tables of a workspace, so opening a large workspace reads them instead of
deriving them again.

``build_facts`` is the expensive step of opening data (joining millions of email events to leads, sorting the
score history); its result depends only on the workspace's tables. :func:`save_facts` writes each frame of the
facts under ``facts/`` — the frames opening reads as uncompressed Arrow IPC files, which are memory-mapped and
become pandas frames without decoding (a million leads open in a few hundredths of a second, against a few
tenths from Parquet), the three read on first use (``LATER``) as zstd-compressed Arrow IPC files (a third of
their uncompressed size; Parquet took 7 s to write the sends of a million leads, whose ids are mostly
distinct, against 0.4 s) — with every metric's value in the last three years of data under the default
settings (``engine.recent_values``: what trend charts, sparklines, warnings and pacing read), and records in
the manifest which table files they were derived from and which version of the metrics code derived them.
:func:`open_facts` reads them back when both still hold, and otherwise derives the facts from the tables and
saves them for next time. Writes follow the workspace's rule: files first, then the manifest in one atomic
replace.

Opening reads every frame except the largest (``LATER``): the event-level email sends, the score history and
its leads. The program, score-driver and nurture-impact tables of the Nurture and Expand pages work from codes
derived from them once per facts (``SAVED``: who received which step when, the score changes before MQL as
integers), which are saved too, uncompressed, and memory-mapped on first use; only the rows behind those tables
and the e-mail drill-through read the frames themselves, so they are read on first use (``derived.Later``)
from files opened when the facts were (a later save that replaces the files does not take them away from facts
already open).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from lifecycle.memory import release_freed_memory
from lifecycle.metrics import drivers, programs
from lifecycle.metrics.derived import Facts, Later, build_facts
from lifecycle.metrics.engine import event_date_range, recent_values, remember_values
from lifecycle.metrics.keys import Saved
from lifecycle.metrics.scores import ScoreHistory
from lifecycle.workspace import (
    _atomic_write,
    load_tables,
    manifest_entry,
    read_manifest,
    table_files,
    write_manifest,
)

FACTS_DIR = "facts"
FORMAT = 4
"""Version of the saved layout; a manifest entry of another version is ignored (the facts are rebuilt)."""
CODE = (Path(__file__).parent, Path(__file__).parent.parent / "schema.py")
"""The code the saved facts and values depend on: the metrics package and the canonical schema."""
FRAMES = ("leads", "deals", "customers", "sends", "send_months", "email_summary", "spend", "traffic", "nps")


@cache
def code_version() -> str:
    """A digest of the metrics code (``CODE``): facts saved by other code are derived again."""
    digest = hashlib.sha256()
    for place in CODE:
        for path in sorted(place.glob("*.py")) if place.is_dir() else [place]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _source(folder: Path) -> dict[str, str | list[str]]:
    """The table files the facts of ``folder`` derive from: name → file name (or names, for parts)."""
    return {
        name: manifest_entry([path.name for path in paths]) for name, paths in table_files(folder).items()
    }


LATER = ("sends", "scores", "score_leads")
"""The frames read on first use (``_frame_later``), written compressed; the others are uncompressed (mapped)."""
SAVED: dict[str, Saved[Any]] = {**programs.SAVED, **drivers.SAVED}
"""What the analyses of the Nurture and Expand pages work out once per facts from the email sends and the score
history (`keys.Saved`): saved as ``saved.<name>.<part>`` frames and read on first use, so that the first program,
score-driver or nurture-impact table of opened facts neither reads those frames nor works it out again."""


def _write_frame(folder: Path, name: str, frame: pd.DataFrame) -> str:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    if name in LATER:
        filename = f"{name}-{uuid.uuid4().hex[:12]}.arrow"
        write = lambda tmp: feather.write_feather(table, tmp, compression="zstd")  # noqa: E731
        _atomic_write(folder / FACTS_DIR / filename, write)
    else:
        # One record batch: each column is read back as one chunk (rows of a chunked text column, as a channel
        # view selects them, cost several times more).
        whole = table.combine_chunks()
        filename = f"{name}-{uuid.uuid4().hex[:12]}.arrow"
        write = lambda tmp: feather.write_feather(  # noqa: E731
            whole, tmp, compression="uncompressed", chunksize=max(whole.num_rows, 1)
        )
        _atomic_write(folder / FACTS_DIR / filename, write)
    return f"{FACTS_DIR}/{filename}"


def _jsonable_info(info: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    out["columns"] = {table: sorted(cols) for table, cols in info["columns"].items()}
    return out


def save_facts(folder: str | os.PathLike[str], facts: Facts) -> None:
    """Write ``facts`` (built from the workspace's current tables) into ``folder`` and record them."""
    folder = Path(folder)
    frames = {name: getattr(facts, name) for name in FRAMES if getattr(facts, name) is not None}
    if facts.scores is not None:
        frames["scores"] = facts.scores.changes
        frames["score_leads"] = pd.DataFrame(
            {"lead_id": facts.scores.lead_index, "start": facts.scores.starts[:-1]}
        )
    # The frames are written on a second thread (Arrow encodes and compresses outside the GIL) while this one
    # computes the metric values and the analyses' saved values; each frame is only read.
    with ThreadPoolExecutor(1) as pool:
        written = {name: pool.submit(_write_frame, folder, name, frame) for name, frame in frames.items()}
        values = recent_values(facts)
        for name, saved in SAVED.items():
            if saved.applies(facts):
                for part, frame in saved.frames(facts).items():
                    key = f"saved.{name}.{part}"
                    written[key] = pool.submit(_write_frame, folder, key, frame)
        files = {name: future.result() for name, future in written.items()}
    files["values"] = _write_frame(folder, "values", values)
    span = event_date_range(facts)
    manifest = read_manifest(folder)
    manifest["facts"] = {
        "format": FORMAT,
        "code": code_version(),
        "source": _source(folder),
        "date_range": [str(day) for day in span] if span is not None else None,
        "files": files,
        "info": _jsonable_info(facts.info),
        "channels": list(facts.channels),
        "score_rows": int(facts.scores.starts[-1]) if facts.scores is not None else None,
    }
    write_manifest(folder, manifest)  # the commit point
    referenced = {Path(f).name for f in files.values()}
    for path in (folder / FACTS_DIR).iterdir():
        if path.name not in referenced:
            with contextlib.suppress(OSError):  # e.g. still open elsewhere on Windows: removed next time
                path.unlink(missing_ok=True)
    release_freed_memory()  # what deriving the facts kept for itself (lifecycle.memory)


def _read_frame(folder: Path, file: str) -> pd.DataFrame:
    """A frame written by ``_write_frame`` as Arrow IPC, memory-mapped (its columns are one chunk each)."""
    return feather.read_table(folder / file, memory_map=True).to_pandas()


def _frame_later(folder: Path, file: str) -> Later[pd.DataFrame]:
    """The frame of ``file``, read on first use from the file opened now."""
    opened = pa.memory_map(str(folder / file))

    def read() -> pd.DataFrame:
        with opened:
            return pa.ipc.open_file(opened).read_all().to_pandas()

    return Later(read)


def _scores_later(folder: Path, files: dict[str, str], rows: int) -> Later[ScoreHistory]:
    changes, leads = _frame_later(folder, files["scores"]), _frame_later(folder, files["score_leads"])

    def read() -> ScoreHistory:
        lead_starts = leads.get()
        starts = np.append(lead_starts["start"].to_numpy(dtype=np.int64), rows)
        return ScoreHistory(changes.get(), pd.Index(lead_starts["lead_id"].array), starts)

    return Later(read)


def load_facts(folder: str | os.PathLike[str]) -> Facts | None:
    """The saved facts of ``folder`` when they were derived from its current tables by this version of the
    metrics code (else None). The email sends and the score history are read on first use."""
    folder = Path(folder)
    entry = read_manifest(folder).get("facts")
    if not entry or entry.get("format") != FORMAT or entry.get("code") != code_version():
        return None
    if entry.get("source") != _source(folder):
        return None
    files = entry["files"]
    if not all((folder / f).exists() for f in files.values()):
        return None
    eager = [name for name in FRAMES if name != "sends"]
    frames: dict[str, Any] = {
        name: _read_frame(folder, files[name]) if name in files else None for name in eager
    }
    frames["sends"] = _frame_later(folder, files["sends"]) if "sends" in files else None
    scores = _scores_later(folder, files, entry["score_rows"]) if "scores" in files else None
    info = dict(entry["info"])
    info["columns"] = {table: frozenset(cols) for table, cols in info["columns"].items()}
    # The metrics read the facts only; the tables are kept as their (empty) column layout for `present`.
    tables = {name: pd.DataFrame(columns=sorted(cols)) for name, cols in info["columns"].items()}
    facts = Facts(tables=tables, scores=scores, channels=tuple(entry["channels"]), info=info, **frames)
    span = entry["date_range"]
    facts.cache["date_range"] = tuple(pd.Timestamp(day) for day in span) if span is not None else None
    remember_values(facts, _read_frame(folder, files["values"]))
    for name, saved in SAVED.items():
        parts = {f.removeprefix(f"saved.{name}."): files[f] for f in files if f.startswith(f"saved.{name}.")}
        if parts:
            facts.cache[saved.key] = _saved_later(folder, saved, parts)
    return facts


def _saved_later(folder: Path, saved: Saved[Any], parts: dict[str, str]) -> Later[Any]:
    """The value of ``saved`` decoded from its frames on first use, from the files opened now; numeric columns
    are memory-mapped, not copied (`keys.Saved`)."""
    opened = {part: pa.memory_map(str(folder / file)) for part, file in parts.items()}

    def read() -> Any:
        tables = {part: pa.ipc.open_file(source).read_all() for part, source in opened.items()}
        return saved.decode({part: table.to_pandas(split_blocks=True) for part, table in tables.items()})

    return Later(read)


def open_facts(folder: str | os.PathLike[str], *, save: bool = True) -> Facts:
    """The facts of the workspace ``folder``: read when saved for its current tables, else derived from the
    tables (and saved, unless ``save`` is False or the folder is read-only)."""
    saved = load_facts(folder)
    if saved is not None:
        return saved
    facts = build_facts(load_tables(folder, compact=True))
    if save:
        with contextlib.suppress(
            OSError
        ):  # a read-only workspace still opens; it derives them again next time
            save_facts(folder, facts)
    return facts
