"""The benchmark's data: the sample company's canonical CSVs, cached per (seed, N), and a workspace made from
them without the project's ingest (for sizes whose ingest does not fit in memory)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from lifecycle.schema import TABLES
from lifecycle.workspace import commit

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"
GENERATOR_SOURCES = ("lifecycle/sample*.py", "lifecycle/schema.py")
GENERATE = """
import re, sys
from pathlib import Path
from lifecycle.sample import main
code = main(sys.argv[1:])
peak = re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())
print(round(int(peak.group(1)) / 1024, 1) if peak else "nan", file=sys.stderr)
sys.exit(code)
"""
"""`python -m lifecycle.sample …` that prints its own peak RSS (MB) last on stderr."""


def generator_digest() -> str:
    """Hash of the generator's code: a cached sample is regenerated when the generator changes."""
    digest = hashlib.sha256()
    for pattern in GENERATOR_SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def sample_csvs(leads: int, seed: int, cache: Path) -> tuple[list[Path], dict[str, Any]]:
    """The sample company's canonical CSVs at `leads` leads, generated (in a subprocess) unless cached by the
    same generator code. When the generator fails and an earlier sample exists, that one is used ("stale")."""
    folder = cache / f"{seed}-{leads}"
    marker = folder / "sample.json"
    digest = generator_digest()
    cached = json.loads(marker.read_text()) if marker.exists() else None
    if cached and not all((folder / name).exists() for name in cached["files"]):
        cached = None
    if cached and cached.get("generator") == digest:
        return [folder / name for name in cached["files"]], {**cached, "cached": True, "stale": False}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{seed}-{leads}-", dir=cache))
    tmp.chmod(0o755)
    command = [sys.executable, "-c", GENERATE, "--leads", str(leads), "--seed", str(seed),
               "--out", str(tmp), "--style", "csv"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        failure = f"the sample generator failed (--leads {leads} --seed {seed}):\n{proc.stderr}"
        if cached is None:
            raise SystemExit(failure)
        # A generator being edited should not stop the benchmark: measure the previous sample, and say so.
        print(f"{failure}\nusing the sample generated before the generator changed", file=sys.stderr)
        return [folder / name for name in cached["files"]], {**cached, "cached": True, "stale": True}
    files = sorted(path.name for path in tmp.glob("*.csv"))
    info = {
        "leads": leads, "seed": seed, "generator": digest, "files": files,
        "generate_s": round(elapsed, 3), "generator_peak_rss_mb": float(proc.stderr.split()[-1]),
        "csv_mb": round(sum((tmp / name).stat().st_size for name in files) / 2**20, 1),
    }  # fmt: skip
    (tmp / "sample.json").write_text(json.dumps(info, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:  # another run generated the same sample meanwhile: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return [folder / name for name in files], {**info, "cached": False, "stale": False}


def write_workspace(paths: list[str | Path], workspace: str | Path) -> None:
    """The workspace the ingest would write, made without it (`--ingest none`): each canonical CSV parsed by
    pyarrow, sorted by its key like the ingest's merge, and committed (run in a subprocess by `run.py`, so its
    memory is not the measured process's). Tables identical to the ingest's, checked at 20 000 leads."""
    tables = {}
    for path in map(Path, paths):
        text = {col.name: pa.string() for col in TABLES[path.stem].columns if col.dtype == "str"}
        options = pacsv.ConvertOptions(column_types=text, strings_can_be_null=True)
        frame = pacsv.read_csv(path, convert_options=options).to_pandas()
        tables[path.stem] = frame.sort_values(TABLES[path.stem].key[0], kind="stable").reset_index(drop=True)
    commit(workspace, tables)
