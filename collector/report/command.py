"""`llm-collector report PATH...`: the command line of the spend report (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

AUTO_HOURLY_SPAN_NS = 72 * 3_600 * 10**9  # --html without --trend: hourly bars up to three days of data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Files a file exporter wrote, or directories of them; a file's rotated backups are read too.")
    parser.add_argument("--by", default="gen_ai.request.model", metavar="KEYS",
                        help="Comma-separated attributes to group by, looked up on the span, then its resource (default gen_ai.request.model; empty: one group).")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="List the N costliest traces with their root span names (default 10; 0: none).")
    parser.add_argument("--trend", choices=["hour", "day"], help="Add cost, calls and tokens per hour or per day (UTC, by span start).")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table", help="Output on stdout (default table).")
    parser.add_argument("--html", metavar="FILE", help="Also write one self-contained HTML page with charts (cost over time, top spenders).")
    parser.add_argument("--max-groups", type=int, default=10_000, metavar="N", help="Most groups kept; calls of later new values go to one (other) group (default 10000).")
    parser.add_argument("--max-traces", type=int, default=100_000, metavar="N",
                        help="Most traces whose cost is tracked at once; exact up to this many costed traces (default 100000, see docs/operations.md).")
    parser.add_argument("--progress-every", type=float, default=2.0, metavar="SECONDS", help="Log progress on stderr this often (default 2).")


def main(args: argparse.Namespace) -> int:
    from ..telemetry import component_logger, setup_logging
    from . import html, render
    from .aggregate import Aggregator
    from .inputs import Inputs

    if args.top < 0 or args.max_groups < 1 or args.max_traces < 1 or args.progress_every <= 0:
        print("report: --top must be at least 0, --max-groups and --max-traces at least 1, --progress-every above 0", file=sys.stderr)
        return 2
    setup_logging("info", "json")
    log = component_logger("report", "report")
    by = [key.strip() for key in args.by.split(",") if key.strip()]
    inputs = Inputs(args.paths, log, args.progress_every)
    if not inputs.paths:
        print("report: no input files found", file=sys.stderr)
        return 2
    agg = Aggregator(by, args.max_groups, args.max_traces)
    log.info("reading", files=len(inputs.paths), bytes=inputs.stats.bytes_total, by=by)
    for request in inputs.requests(lambda: agg.spans):
        agg.add_request(request)
    report = render.build(agg, inputs.stats, top=args.top, trend=args.trend)
    log.info("report done", files=inputs.stats.files_read, records=inputs.stats.records, spans=agg.spans, calls=agg.totals.calls, damaged=len(inputs.stats.damaged))
    output: Any = {"table": render.to_table, "csv": render.to_csv, "json": render.to_json}[args.format]
    sys.stdout.write(output(report))
    if args.html:
        unit = args.trend or ("hour" if agg.first_ns is None or agg.last_ns - agg.first_ns <= AUTO_HOURLY_SPAN_NS else "day")  # type: ignore[operator]
        buckets = report["trend"]["buckets"] if args.trend else render.build(agg, inputs.stats, top=0, trend=unit)["trend"]["buckets"]
        try:
            with open(args.html, "w", encoding="utf-8") as out:
                out.write(html.page(report, unit, buckets))
        except OSError as exc:
            print(f"report: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        log.info("wrote the HTML report", path=args.html)
    # Damaged input was reported above and logged; the exit status says the answer may be short of it.
    return 1 if inputs.stats.damaged else 0
