"""Performance benchmark: ingest, interactions, a DuckDB reference and memory at N leads and at N/10.

    python benchmarks/run.py --leads 100000 [--json] [--no-tenth] [--repeat 3] [--profile]

The sample company's canonical CSVs are generated once per (seed, N) into benchmarks/cache/<seed>-<N>/ and
reused while the generator's code is unchanged (`samples.py`). One run then measures the pyarrow parse of those
CSVs (the floor of any ingest, in a subprocess) in turns with the project's ingest into a fresh workspace, and
in this process every interaction cold and warm (`interactions.py`), the DuckDB reference (`reference_sql.py`)
and the peak RSS; the app's page runs on that workspace in a subprocess (`page_runs.py`); then the same at N/10
in a subprocess. Figures are in seconds; ratios (ingest ÷ raw parse,
app ÷ DuckDB, N ÷ N/10) are what to compare across machines. See README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet  # noqa: E402, F401  (imported before timing: load_workspace must not pay the import)

from benchmarks import reference_sql  # noqa: E402
from benchmarks.interactions import INTERACTIONS, Opened, load_workspace  # noqa: E402
from benchmarks.rss import peak_rss_mb  # noqa: E402
from benchmarks.samples import CACHE, sample_csvs  # noqa: E402
from lifecycle.ingest import ingest_files  # noqa: E402
from lifecycle.memory import in_small_pages, keeping_freed_memory  # noqa: E402
from lifecycle.metrics import build_facts  # noqa: E402
from lifecycle.metrics.store import save_facts  # noqa: E402
from lifecycle.workspace import load_tables  # noqa: E402

WARM_TARGET_S, COLD_TARGET_S = 0.2, 1.0
DUCKDB_TARGET, INGEST_TARGET, RSS_TARGET_MB, GROWTH_TARGET = 1.0, 2.0, 4000.0, 10.0
HOTSPOTS = 12


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of `fn` takes (after collecting the previous call's garbage), and its result."""
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# ---------------------------------------------------------------------------------------------- measuring


def _parse_all(paths: list[str | Path]) -> dict[str, int]:
    """Every CSV read with pyarrow alone (default options, all cores): its rows per file."""
    return {Path(p).stem: pacsv.read_csv(p).num_rows for p in paths}


def raw_parse_worker(paths: list[str]) -> None:
    """The process `RawParses` talks to. For each line "parse" read, every CSV parsed once (`_parse_all`) and a
    JSON line with the seconds and rows per file written back; for "release", the memory Arrow kept from the
    parses given back to the system (as a process that ended would) and an empty JSON object; at the end of its
    input, a JSON line with its peak RSS."""
    for line in sys.stdin:
        if line.strip() == "release":
            pa.default_memory_pool().release_unused()
            print("{}", flush=True)
            continue
        seconds, rows = timed(lambda: _parse_all(paths))
        print(json.dumps({"seconds": seconds, "rows": rows}), flush=True)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)


PARSES_PER_TURN = 2
"""Parses of the floor in a row at each turn (`RawParses`). The first parse of a turn follows an ingest run and
the memory given back after the turn before, and pays for faulting in fresh memory (6.9–12.3 s at a million
leads); the next, right after it, reuses what the first freed (2.96–5.0 s), as the best of three parses in a row
did before. The floor is the fastest parse: the ingest runs are measured against that warm parse, however cold
they are themselves."""


class RawParses:
    """The floor, measured in turns with the ingest: one subprocess (its memory its own) that parses every CSV
    with pyarrow alone, `PARSES_PER_TURN` times in a row, each time `parse()` is called. On a shared machine the
    speed of the same work drifts by half within minutes: parses taken before, between and after the ingest runs
    see what those runs see, where three parses taken first and three ingests after them compared two stretches
    of time (the ratio of one and the same code ranged 1.56–2.47 in four runs)."""

    def __init__(self, paths: list[Path]) -> None:
        code = "import sys; from benchmarks.run import raw_parse_worker; raw_parse_worker(sys.argv[1:])"
        # a file, not a pipe, that nobody reads while the parses run (closed by `kill`)
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, paths)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.seconds: list[float] = []
        self.rows: dict[str, int] = {}

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            self._stderr.seek(0)
            raise SystemExit(f"the pyarrow parse failed:\n{self._stderr.read()}")
        return json.loads(line)

    def _ask(self, command: str) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def parse(self) -> None:
        """Every CSV parsed `PARSES_PER_TURN` times more, each time's seconds kept; then the memory the parses
        kept given back, so that the ingest run that follows has the machine's memory as it would were the
        parsing process gone."""
        for _ in range(PARSES_PER_TURN):
            answer = self._ask("parse")
            self.seconds.append(round(answer["seconds"], 4))
            self.rows = answer["rows"]
        self._ask("release")

    def close(self) -> float:
        """Ends the subprocess; its peak RSS in MB."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        peak = self._answer()["peak_rss_mb"]
        self._proc.wait()
        return peak

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()


def measure_interactions(
    folder: Path, month: str | None, repeat: int
) -> tuple[dict[str, float], dict[str, Any], Opened]:
    """Cold and warm seconds of every interaction (median of `repeat` warm calls) on a workspace whose facts
    are saved; the month's metric values (for the DuckDB comparison); and the last opened workspace."""
    times: dict[str, float] = {}
    cold, opened = timed(lambda: load_workspace(folder, month))
    month = opened.month
    del opened  # one workspace in memory at a time, as in the app
    warm = [timed(lambda: load_workspace(folder, month))[0] for _ in range(repeat)]
    times.update(load_workspace_cold=cold, load_workspace_warm=median(warm))
    values: dict[str, Any] = {}
    for name, interaction in INTERACTIONS.items():
        opened = None
        gc.collect()
        start = time.perf_counter()
        opened = load_workspace(
            folder, month
        )  # freshly read: nothing a previous interaction touched is reused
        first = interaction(opened, 0)
        end = time.perf_counter()
        if name == "all_metrics":
            values = {metric_id: result.value for metric_id, result in first.items()}
        del first
        warm = [timed(lambda c=call, f=interaction, o=opened: f(o, c))[0] for call in range(1, repeat + 1)]
        times.update({f"{name}_cold": end - start, f"{name}_warm": median(warm)})
    return {k: round(v, 4) for k, v in times.items()}, values, opened


def pages_in_subprocess(workspace: Path) -> dict[str, Any]:
    """What each page of the app waits for on the workspace (`page_runs.py`), in a process of its own: the app
    as a server would run it, started on the folder, with nothing computed before."""
    command = [sys.executable, str(ROOT / "benchmarks" / "page_runs.py"), "--data", str(workspace), "--json"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the page runs failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def hotspots(fn: Callable[[], Any]) -> dict[str, list[list[Any]]]:
    """Where one call of `fn` spends its time: the project's functions by cumulative time ("lifecycle") and
    all functions by own time ("self"); each row [function, tottime s, cumtime s, calls]."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    rows = []
    for (filename, line, func), (_, calls, tottime, cumtime, _) in pstats.Stats(profile).stats.items():
        where = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else Path(filename).name
        rows.append([f"{where}:{line}({func})", round(tottime, 3), round(cumtime, 3), calls])
    own = [r for r in rows if r[0].startswith("lifecycle/")]
    return {
        "lifecycle": sorted(own, key=lambda r: -r[2])[:HOTSPOTS],
        "self": sorted(rows, key=lambda r: -r[1])[:HOTSPOTS],
    }


def profile_misses(
    missed: list[str], workspace: Path, paths: list[Path], opened: Opened
) -> dict[str, dict[str, list[list[Any]]]]:
    """Profiles of the figures that missed their targets (cold interactions profile opening + the call)."""
    out: dict[str, dict[str, list[list[Any]]]] = {}
    names = {m.split()[0] for m in missed}
    for name in sorted(names):
        base = name.removeprefix("interactions.").rsplit("_", 1)[0]
        if name == "ingest_ratio":
            with tempfile.TemporaryDirectory(dir=workspace.parent) as ws:
                out["ingest"] = hotspots(lambda ws=ws: ingest_files(paths, Path(ws) / "ws"))
        elif name.startswith("interactions.load_workspace"):
            out[name] = hotspots(lambda: load_workspace(workspace, opened.month))
        elif name.endswith("_warm") and base in INTERACTIONS:
            out[name] = hotspots(lambda base=base: INTERACTIONS[base](opened, 99))
        elif name.endswith("_cold") and base in INTERACTIONS:
            out[name] = hotspots(
                lambda base=base: INTERACTIONS[base](load_workspace(workspace, opened.month), 0)  # noqa: B023
            )
        elif name == "build_facts_s":
            out[name] = hotspots(lambda: build_facts(load_tables(workspace, compact=True)))
        elif name.startswith("ratio_vs_duckdb"):
            target = "month_switch" if name == "ratio_vs_duckdb" else "all_metrics"
            out[name] = hotspots(lambda target=target: INTERACTIONS[target](opened, 99))
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure at `args.leads` (this process); the N/10 figures come from `at_tenth`."""
    cache = Path(args.cache_dir)
    paths, sample = sample_csvs(args.leads, args.seed, cache)
    folder = paths[0].parent
    phases: dict[str, float] = {}
    for path in paths:  # the page cache holds the files for every parse (read in chunks: no memory kept)
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    raw = RawParses(paths)
    try:
        raw.parse()  # a turn before the first ingest run
        phases["start"] = peak_rss_mb()
        scratch = Path(tempfile.mkdtemp(prefix=".workspace-", dir=folder))  # one per run: runs may overlap
        try:
            return _measure(args, paths, sample, raw, phases, scratch / "workspace")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        raw.kill()


def _measure(
    args: argparse.Namespace,
    paths: list[Path],
    sample: dict[str, Any],
    raw: RawParses,
    phases: dict[str, float],
    workspace: Path,
) -> dict[str, Any]:
    ingest_runs: list[float] = []
    # The ingest and the derivation of the facts run as the CLI runs them (`lifecycle.memory`); the
    # interactions after them with glibc's defaults, as in the app.
    with keeping_freed_memory():
        if args.ingest == "files":
            # The fastest of `--runs` ingests, each into an empty workspace and followed by a raw parse: the floor
            # is the fastest of the parses before, between and after them (`RawParses`).
            for _ in range(args.runs):
                shutil.rmtree(workspace, ignore_errors=True)
                with in_small_pages():
                    seconds, (results, errors) = timed(lambda: ingest_files(paths, workspace))
                ingest_runs.append(round(seconds, 4))
                loaded = {item.table: item.report.rows_loaded for item in results}
                rejected: int | None = sum(item.report.rows_rejected for item in results)
                del results
                raw.parse()
            ingest_s: float | None = min(ingest_runs)
        else:
            code = "import sys; from benchmarks.samples import write_workspace; write_workspace(sys.argv[2:], sys.argv[1])"
            command = [sys.executable, "-c", code, str(workspace), *map(str, paths)]
            subprocess.run(command, cwd=ROOT, check=True)
            ingest_s, loaded, rejected, errors = None, {}, None, []
            for _ in range(args.runs):
                raw.parse()
        raw_peak_mb = raw.close()
        raw_s, rows = min(raw.seconds), raw.rows
        phases["ingest"] = peak_rss_mb()
        # Derive the facts and save them in the workspace, as `python -m lifecycle ingest` does (the fastest of
        # `--runs`; each run replaces the facts of the one before).
        build_runs = [
            round(
                timed(lambda: save_facts(workspace, build_facts(load_tables(workspace, compact=True))))[0], 4
            )
            for _ in range(args.runs)
        ]
    build_s = min(build_runs)
    phases["build_facts"] = peak_rss_mb()

    interactions, values, opened = measure_interactions(workspace, args.month, args.repeat)
    phases["interactions"] = peak_rss_mb()
    pages = pages_in_subprocess(workspace)

    files = reference_sql.parquet_files(workspace)
    duck_cold, reference = timed(lambda: reference_sql.month_metrics(files, opened.month))
    duck_s = median(
        timed(lambda: reference_sql.month_metrics(files, opened.month))[0] for _ in range(args.repeat)
    )
    phases["duckdb"] = peak_rss_mb()

    out: dict[str, Any] = {
        "leads": args.leads,
        "seed": args.seed,
        "month": opened.month,
        "rows": rows,
        "csv_mb": sample["csv_mb"],
        "sample_cached": sample["cached"],
        "sample_stale": sample["stale"],
        "generate_s": sample["generate_s"],
        "generator_peak_rss_mb": sample["generator_peak_rss_mb"],
        "raw_parse_s": round(raw_s, 4),
        "raw_parse_runs_s": raw.seconds,
        "raw_parse_peak_rss_mb": raw_peak_mb,
        "ingest": args.ingest,
        "ingest_s": None if ingest_s is None else round(ingest_s, 4),
        "ingest_ratio": None if ingest_s is None else round(ingest_s / raw_s, 2),
        "ingest_runs_s": ingest_runs,
        "ingest_rows_loaded": loaded,
        "ingest_rows_rejected": rejected,
        "ingest_errors": errors,
        "build_facts_s": round(build_s, 4),
        "build_facts_runs_s": build_runs,
        "runs": args.runs,
        "interactions": interactions,
        "pages": pages,
        "duckdb_s": round(duck_s, 4),
        "duckdb_cold_s": round(duck_cold, 4),
        # A switch computes a month not shown before; all metrics again (another stage page of the same month)
        # is answered from the results the engine keeps.
        "ratio_vs_duckdb": round(interactions["month_switch_warm"] / duck_s, 3),
        "ratio_vs_duckdb_all_metrics": round(interactions["all_metrics_warm"] / duck_s, 4),
        "duckdb_agreement": reference_sql.agreement(values, reference),
        "peak_rss_mb": phases["interactions"],
        "peak_rss_mb_by_phase": phases,
        "repeat": args.repeat,
        "environment": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "pyarrow": pa.__version__,
            "duckdb": duckdb.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
    }
    out["at_tenth"] = None if args.no_tenth else at_tenth(args)
    out["growth"] = growth(out, out["at_tenth"])
    out["targets_missed"] = targets_missed(out)
    if args.profile and out["targets_missed"]:
        out["hotspots"] = profile_misses(out["targets_missed"], workspace, paths, opened)
    return out


# ---------------------------------------------------------------------------------------------- N/10, targets


def at_tenth(args: argparse.Namespace) -> dict[str, Any] | None:
    """The same measurements at N/10 leads in a subprocess (its own peak RSS)."""
    leads = args.leads // 10
    if leads < 100:
        return None
    command = [sys.executable, str(Path(__file__).resolve()), "--leads", str(leads), "--seed", str(args.seed),
               "--repeat", str(args.repeat), "--runs", str(args.runs), "--cache-dir", str(args.cache_dir), "--json",
               "--no-tenth"]  # fmt: skip
    if args.month:
        command += ["--month", args.month]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the N/10 run failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def _timings(figures: dict[str, Any]) -> dict[str, float]:
    flat = {k: figures[k] for k in ("raw_parse_s", "ingest_s", "build_facts_s", "duckdb_s", "peak_rss_mb")}
    flat.update({f"interactions.{k}": v for k, v in figures["interactions"].items()})
    flat.update(_page_seconds(figures["pages"]))
    return flat


def _page_seconds(pages: dict[str, Any]) -> dict[str, float]:
    """The seconds of `page_runs.py` as flat figures: pages.first_run_s, pages.<page>.<figure>."""
    flat = {"pages.first_run_s": pages["first_run_s"]}
    for page, figures in pages["pages"].items():
        flat.update({f"pages.{page}.{k}": v for k, v in figures.items()})
    return flat


def growth(full: dict[str, Any], tenth: dict[str, Any] | None) -> dict[str, float | None] | None:
    """Each figure at N ÷ the same figure at N/10 (10 = linear growth)."""
    if tenth is None:
        return None
    small = _timings(tenth)
    return {
        k: (round(v / small[k], 2) if v is not None and small.get(k) else None)
        for k, v in _timings(full).items()
    }


def targets_missed(out: dict[str, Any]) -> list[str]:
    """Every target the figures miss, as 'figure value > target' (targets are set for 1M leads)."""
    missed = []
    for name, seconds in out["interactions"].items():
        limit = WARM_TARGET_S if name.endswith("_warm") else COLD_TARGET_S
        if seconds > limit:
            missed.append(f"interactions.{name} {seconds:.3f} s > {limit} s")
    for name, seconds in _page_seconds(out["pages"]).items():  # a month shown already is warm, the rest cold
        limit = WARM_TARGET_S if name.endswith("_back_s") else COLD_TARGET_S
        if seconds > limit:
            missed.append(f"{name} {seconds:.3f} s > {limit} s")
    for key, limit in (("ratio_vs_duckdb", DUCKDB_TARGET), ("ratio_vs_duckdb_all_metrics", DUCKDB_TARGET),
                       ("ingest_ratio", INGEST_TARGET), ("peak_rss_mb", RSS_TARGET_MB)):  # fmt: skip
        if out[key] is not None and out[key] > limit:
            missed.append(f"{key} {out[key]} > {limit}")
    for key, ratio in (out["growth"] or {}).items():  # the references' own growth is reported, not targeted
        if key not in ("raw_parse_s", "duckdb_s") and ratio is not None and ratio > GROWTH_TARGET:
            missed.append(f"growth.{key} {ratio} > {GROWTH_TARGET}")
    return missed


# ---------------------------------------------------------------------------------------------- output


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:>{width},.{digits}f}"


def text_report(out: dict[str, Any]) -> str:
    """The figures as a table for people: figure, at N, at N/10, growth."""
    tenth = _timings(out["at_tenth"]) if out["at_tenth"] else {}
    grown = out["growth"] or {}
    made = "cached" if out["sample_cached"] else f"generated in {out['generate_s']} s"
    made += " — STALE: the generator failed, an earlier sample was used" if out["sample_stale"] else ""
    lines = [f"{out['leads']:,} leads (seed {out['seed']}, month {out['month']}, CSV {out['csv_mb']} MB, {made})",
             f"{'figure':<36}{'at N':>12}{'at N/10':>12}{'growth':>9}"]  # fmt: skip
    for key, value in _timings(out).items():
        lines.append(
            f"{key:<36}{_cell(value, 12, 3)}{_cell(tenth.get(key), 12, 3)}{_cell(grown.get(key), 9, 2)}"
        )
    for key in ("ingest_ratio", "ratio_vs_duckdb", "ratio_vs_duckdb_all_metrics"):
        lines.append(f"{key:<36}{_cell(out[key], 12, 2)}")
    agreement = out["duckdb_agreement"]
    lines.append(f"DuckDB reference agrees on {agreement['agree']}/{agreement['compared']} metrics"
                 + "".join(f"\n  {k}: app {v[0]}, DuckDB {v[1]}" for k, v in agreement["differ"].items()))  # fmt: skip
    lines.append("targets missed:" + "".join(f"\n  {m}" for m in out["targets_missed"]) if out["targets_missed"]
                 else "every target met")  # fmt: skip
    for figure, lists in out.get("hotspots", {}).items():
        for kind, rows in lists.items():
            lines.append(f"hotspots of {figure}, {kind} (tottime, cumtime, calls):")
            lines += [f"  {r[1]:>8.3f} {r[2]:>8.3f} {r[3]:>8}  {r[0]}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--leads", type=int, default=100_000, help="leads in the sample company (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--month", help="month to report (default: the data's default month)")
    parser.add_argument("--repeat", type=int, default=3, help="warm calls per interaction (median reported)")
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of the ingest and of deriving the facts (the fastest reported)",
    )
    parser.add_argument("--cache-dir", default=str(CACHE), help="where sample CSVs are cached")
    parser.add_argument("--no-tenth", action="store_true", help="skip the N/10 run")
    parser.add_argument(
        "--ingest",
        choices=("files", "none"),
        default="files",
        help="files: time the project's ingest of the CSVs (default); none: write the workspace without it "
        "(for sizes whose ingest does not fit in memory) and leave the ingest figures null",
    )
    parser.add_argument("--profile", action="store_true", help="profile every figure that misses its target")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.leads < 100 or args.repeat < 1 or args.runs < 1:
        parser.error("--leads must be at least 100, --repeat and --runs at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still removes its workspace
    out = measure(args)
    print(json.dumps(out, indent=2) if args.json else text_report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
