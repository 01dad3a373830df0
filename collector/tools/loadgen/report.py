"""The loadgen's report: what a run measured, as the dict `--json` prints and as the text table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .options import UNITS
from .transports import resolve_endpoint

if TYPE_CHECKING:
    from .run import LoadRun


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def build_report(run: LoadRun, start_unix: float, t0: float, send_end: float, end: float, cpu_s: float) -> dict[str, Any]:
    """The report of a finished run: `t0`, `send_end` and `end` are perf_counter readings, `cpu_s` its CPU seconds."""
    opts, st = run.opts, run.stats
    unit = UNITS[opts.signal]
    elapsed = max(end - t0, 1e-9)
    ordered = sorted(st.latencies_ms)
    target, _ = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
    report: dict[str, Any] = {
        "signal": opts.signal,
        "unit": unit,
        "protocol": opts.protocol,
        "endpoint": target,
        "profile": opts.profile,
        "usage": opts.usage,
        "processed_by": opts.processed_by,
        "pii_share": opts.pii_share,
        "rate_target": opts.rate,
        "batch_size": opts.batch_size,
        "concurrency": opts.concurrency,
        "duration_s": round(elapsed, 3),
        "send_duration_s": round(send_end - t0, 3),
        "interrupted": run.interrupted,
        "requests_ok": st.requests_ok,
        "requests_failed": sum(st.failures.values()),
        "failed_by_code": dict(st.failures.most_common()),
        f"{unit}_sent": st.items_sent,
        f"{unit}_acknowledged": st.items_acked,
        f"{unit}_rejected": st.items_rejected,
        f"{unit}_per_second": round(st.items_acked / elapsed, 1),
        "sent_per_second": round(st.items_sent / elapsed, 1),
        "bytes_sent": st.bytes_sent,
        "avg_item_bytes": round(st.bytes_sent / st.items_sent, 1) if st.items_sent else 0,
        "latency_ms": {
            "p50": round(_percentile(ordered, 0.50), 3),
            "p90": round(_percentile(ordered, 0.90), 3),
            "p99": round(_percentile(ordered, 0.99), 3),
            "max": round(ordered[-1], 3) if ordered else 0.0,
            "mean": round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
        },
        "abandoned_in_flight": run.abandoned,
        "loadgen_cpu_percent": round(100.0 * cpu_s / elapsed, 1),
        "start_unix": round(start_unix, 3),
        "end_unix": round(start_unix + elapsed, 3),
    }
    if opts.rate is not None:
        sent_requests = st.requests_ok + sum(st.failures.values())
        behind = max(0, run.scheduled - sent_requests)
        report["schedule"] = {
            "requests_due": run.scheduled,
            "requests_not_sent": behind,
            "late_sends": run.late,
            "waits_for_free_slot": run.slot_waits,
            "max_lag_ms": round(run.max_lag * 1000.0, 3),
            "kept_up": behind <= max(1, run.scheduled // 100) and run.late <= max(1, run.scheduled // 100),
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    unit = report["unit"]
    lat = report["latency_ms"]
    rate = "max" if report["rate_target"] is None else f"{report['rate_target']:,.0f}/s"
    failed = ", ".join(f"{code} {n:,}" for code, n in report["failed_by_code"].items())
    mb = report["bytes_sent"] / 1e6
    rows = [
        ("duration", f"{report['duration_s']:.2f} s"),
        ("requests ok", f"{report['requests_ok']:,}"),
        ("requests failed", f"{report['requests_failed']:,}" + (f"  ({failed})" if failed else "")),
        (f"{unit} sent", f"{report[f'{unit}_sent']:,}"),
        (f"{unit} acknowledged", f"{report[f'{unit}_acknowledged']:,}  (rejected {report[f'{unit}_rejected']:,})"),
        ("throughput", f"{report[f'{unit}_per_second']:,.0f} {unit}/s acknowledged"),
        ("latency ms", f"p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}  max {lat['max']:.2f}"),
        ("bytes sent", f"{mb:,.1f} MB ({mb / report['duration_s']:,.1f} MB/s, "
                       f"{report['avg_item_bytes']:,.0f} B per item)"),
        ("loadgen cpu", f"{report['loadgen_cpu_percent']:.0f}% of one core"),
    ]
    schedule = report.get("schedule")
    if schedule is not None:
        rows.append(("schedule", f"{'kept up' if schedule['kept_up'] else 'FELL BEHIND'}: "
                                 f"{schedule['late_sends']:,} late sends, {schedule['requests_not_sent']:,} not sent, "
                                 f"max lag {schedule['max_lag_ms']:.1f} ms"))
    lines = [f"llm-collector loadgen: {report['signal']} over {report['protocol']} to {report['endpoint']} "
             f"(profile {report['profile']}, usage {report.get('usage', 'reported')}, batch {report['batch_size']}, concurrency {report['concurrency']}, "
             f"rate {rate}){' [interrupted]' if report['interrupted'] else ''}"]
    width = max(len(label) for label, _ in rows) + 2
    lines += [f"  {label:<{width}}{value}" for label, value in rows]
    return "\n".join(lines)
