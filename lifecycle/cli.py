"""Command line (SPEC §6): `python -m lifecycle ingest|metrics|report …`. Exit status 2 on bad input."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from lifecycle.downloads import to_safe_csv
from lifecycle.ingest import IngestReport, ingest_files
from lifecycle.mapping import ColumnMapping, MappingError
from lifecycle.memory import in_small_pages, keeping_freed_memory
from lifecycle.schema import TABLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lifecycle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="read exports into a workspace folder of canonical Parquet tables")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--as", dest="table", choices=list(TABLES), help="the table the files hold")
    ingest.add_argument("--mapping", help="mapping file (JSON, SPEC §4 format) overriding detection")
    ingest.add_argument("--out", required=True, help="workspace folder")
    ingest.add_argument("--json", action="store_true", help="print the reports as JSON")
    metrics = sub.add_parser("metrics", help="every metric of one month as JSON or text")
    metrics.add_argument("--data", required=True, help="workspace folder")
    metrics.add_argument("--month", help="YYYY-MM (default: last complete month in the data)")
    metrics.add_argument("--channel", help="channel name as it appears in the data")
    metrics.add_argument("--json", action="store_true")
    report = sub.add_parser("report", help="the quarterly review as one self-contained HTML file")
    report.add_argument("--data", required=True, help="workspace folder")
    report.add_argument("--quarter", required=True, help="YYYY-Qn, e.g. 2026-Q3")
    report.add_argument("--channel", help="channel name as it appears in the data")
    report.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    report.add_argument("--xlsx", help="also write the numbers behind the report as an Excel workbook")
    return parser


SPEC_REPORT_KEYS = (
    "file", "table", "rows_read", "rows_loaded", "rows_rejected", "rejected", "skipped_lines", "columns",
    "dates", "encoding", "delimiter", "warnings",
)


def _report_text(report: IngestReport) -> str:
    lines = [
        f"{report.file}: {report.table} — read {report.rows_read}, loaded {report.rows_loaded}, "
        f"rejected {report.rows_rejected}, skipped lines {report.skipped_lines}",
        f"  encoding {report.encoding}, delimiter {report.delimiter!r}, dates {report.dates or '-'}",
        "  columns: " + ", ".join(f"{c} ← {h!r}" for c, h in report.columns.items()),
    ]
    lines += [f"  rejected {n}: {reason}" for reason, n in report.rejected.items()]
    lines += [f"  warning: {w}" for w in report.warnings]
    return "\n".join(lines)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-120:]


def run_ingest(args: argparse.Namespace) -> int:
    try:
        mapping = ColumnMapping.load(args.mapping) if args.mapping else None
    except (MappingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with in_small_pages():  # (lifecycle.memory: not the derivation of the facts below)
        results, errors = ingest_files(args.files, args.out, table=args.table, mapping=mapping)
    # The tables are in the workspace now: their rows are let go before the facts are derived from it (at a
    # million leads the process peaked at 4,731 MB holding them, 3,184 MB without).
    reports = [(item.report, item.rejected_rows) for item in results]
    del results
    out = Path(args.out)
    if reports:  # derive the facts once now, so the app (--data) and the other commands open the folder fast
        from lifecycle.metrics.store import open_facts

        open_facts(out)
    for report, rejected_rows in reports:
        if len(rejected_rows):
            sheet = f"-{report.sheet}" if report.sheet else ""
            path = out / "rejected" / f"{_safe_name(Path(report.file).stem + sheet)}.rejected.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_safe_csv(rejected_rows))
    if args.json:
        payload = [
            {**{k: report.to_dict()[k] for k in SPEC_REPORT_KEYS}, **report.to_dict()}
            for report, _ in reports
        ]
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    else:
        for report, _ in reports:
            print(_report_text(report))
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 2 if errors else 0


def run_metrics(args: argparse.Namespace) -> int:
    from lifecycle.metrics import metrics_payload
    from lifecycle.metrics.store import open_facts

    try:
        payload = metrics_payload(open_facts(args.data), month=args.month, channel=args.channel)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        return 0
    print(f"month {payload['month']}, channel {payload['channel'] or 'all'}")
    for metric_id, result in payload["metrics"].items():
        shown = result["value"] if result["available"] else f"unavailable: {result['reason']}"
        if result["available"] and result["value"] is None:
            shown = f"n/a ({result['reason']})"
        print(f"  {metric_id:32} {shown}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from lifecycle.metrics.store import open_facts
    from lifecycle.quarter import format_quarter
    from lifecycle.report import build_report_html, build_report_xlsx
    from lifecycle.workspace import table_files

    try:
        quarter = format_quarter(args.quarter)
        if Path(args.data).is_dir() and not table_files(args.data):
            raise ValueError(f"workspace {args.data!r} holds no tables: ingest exports first")
        facts = open_facts(args.data)
        page = build_report_html(facts, quarter, args.channel)
        workbook = build_report_xlsx(facts, quarter, args.channel) if args.xlsx else None
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(page, encoding="utf-8")
    print(f"wrote {args.out} ({quarter}, channel {args.channel or 'all'})")
    if workbook is not None:
        Path(args.xlsx).write_bytes(workbook)
        print(f"wrote {args.xlsx}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with keeping_freed_memory():  # ingests and derivations of millions of rows reuse what they free
        if args.command == "ingest":
            return run_ingest(args)
        if args.command == "report":
            return run_report(args)
        return run_metrics(args)
