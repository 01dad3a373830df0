"""`llm-collector loadgen`: run the load from parsed arguments and print the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .options import Options
from .report import format_report
from .run import run_async
from .transports import resolve_endpoint


def main(args: argparse.Namespace) -> int:
    """Run `llm-collector loadgen`. Exit 0 if at least one request succeeded, 1 otherwise."""
    opts = Options.from_namespace(args)
    progress = None if opts.quiet else sys.stderr
    if not opts.quiet:
        target, _ = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
        rate = "max" if opts.rate is None else f"{opts.rate:,.0f}/s"
        processed = f", as {' -> '.join(opts.processed_by)} leave them" if opts.processed_by else ""
        print(f"loadgen: {opts.signal} to {target} over {opts.protocol}, usage {opts.usage}{processed}, rate {rate}, {opts.duration:g}s, "
              f"batch {opts.batch_size}, concurrency {opts.concurrency}", file=sys.stderr, flush=True)
    from ...testing import BuildError

    try:
        report = asyncio.run(run_async(opts, progress=progress, handle_signals=True))
    except BuildError as exc:
        print(f"loadgen: --processed-by: {exc}", file=sys.stderr)
        return 2
    schedule = report.get("schedule")
    if schedule is not None and not schedule["kept_up"]:
        unit = report["unit"]
        print(f"loadgen: could not keep up with --rate {opts.rate:,.0f}: {schedule['late_sends']:,} sends late, "
              f"{schedule['requests_not_sent']:,} not sent, max lag {schedule['max_lag_ms']:.0f} ms; achieved "
              f"{report['sent_per_second']:,.0f} {unit}/s sent", file=sys.stderr)
        if schedule["waits_for_free_slot"]:
            print(f"loadgen: all {opts.concurrency} request slots were busy {schedule['waits_for_free_slot']:,} times "
                  f"(p50 latency {report['latency_ms']['p50']:.1f} ms); raise --concurrency or --batch-size, or "
                  f"lower --rate", file=sys.stderr)
    if opts.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print(format_report(report))
    sys.stdout.flush()
    return 0 if report["requests_ok"] > 0 else 1
