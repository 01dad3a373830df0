"""The report as data (`build`), and that data as a text table, CSV or JSON.

CSV holds one block per section (groups, then trend with --trend, then top traces), each with its own
header row, blocks separated by one empty line; JSON holds every section in one object.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import orjson

from .aggregate import Aggregator, Totals
from .inputs import ReadStats

QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _totals(t: Totals) -> dict[str, Any]:
    return {"calls": t.calls, "priced_calls": t.priced_calls, "cost_usd": round(t.cost, 10), "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens, "errors": t.errors}


def build(agg: Aggregator, stats: ReadStats, *, top: int, trend: str | None) -> dict[str, Any]:
    groups = []
    for key, group in sorted(agg.groups.items(), key=lambda item: (-item[1].totals.cost, -item[1].totals.calls, item[0])):
        row: dict[str, Any] = dict(zip(agg.by, key, strict=True))
        row.update(_totals(group.totals))
        for name, q in QUANTILES:
            value = group.latency.quantile(q)
            row[f"latency_{name}_s"] = None if value is None else round(value, 6)
        groups.append(row)
    traces = [
        {"trace_id": trace_id.hex(), "cost_usd": round(entry[0], 10), "cost_error_usd": round(entry[1], 10), "priced_calls": entry[2], "root_span": entry[3]}
        for trace_id, entry in agg.traces.top(top)
    ] if top else []
    summary = {
        "files": stats.files,
        "records": stats.records,
        "spans": agg.spans,
        **_totals(agg.totals),
        "duplicate_spans": agg.duplicates,
        "spans_not_calls": agg.not_calls,
        "groups": len(agg.groups),
        "overflow_calls": agg.overflow_calls,
        "traces_evicted": agg.traces.evictions,
        "first_call": _iso(agg.first_ns / 1e9) if agg.first_ns else None,
        "last_call": _iso(agg.last_ns / 1e9) if agg.last_ns else None,
        "skipped_files": stats.skipped_files,
        "damaged": stats.damaged,
    }
    out: dict[str, Any] = {"summary": summary, "by": agg.by, "groups": groups, "top_traces": traces}
    if trend:
        out["trend"] = {"unit": trend, "buckets": [{"start": _iso(start), **_totals(t)} for start, t in agg.trend(trend)]}
    return out


def _sections(report: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    sections = [("groups", report["groups"])]
    if "trend" in report:
        sections.append((f"trend per {report['trend']['unit']}", report["trend"]["buckets"]))
    if report["top_traces"]:
        sections.append(("top traces by cost", report["top_traces"]))
    return sections


def to_json(report: dict[str, Any]) -> str:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    blocks = [rows for _, rows in _sections(report) if rows]
    for i, rows in enumerate(blocks):
        if i:
            out.write("\n")
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"
    return str(value)


def to_table(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"{s['spans']} spans in {s['records']} records from {s['files']} file(s); {s['calls']} calls ({s['priced_calls']} priced), "
        f"${s['cost_usd']:.4f}, {s['input_tokens']} input / {s['output_tokens']} output tokens, {s['errors']} errors",
        f"{s['duplicate_spans']} duplicate spans counted once; {s['spans_not_calls']} spans are not model calls; calls from {s['first_call'] or '-'} to {s['last_call'] or '-'}",
    ]
    if s["overflow_calls"]:
        lines.append(f"{s['overflow_calls']} calls past --max-groups are in the (other) group")
    if s["traces_evicted"]:
        lines.append("more costed traces than --max-traces: trace costs may be overestimated by up to cost_error_usd (see docs/operations.md)")
    for problem in s["damaged"]:
        lines.append(f"damaged: {problem}")
    for title, rows in _sections(report):
        lines += ["", f"{title}:"]
        if not rows:
            lines.append("  (none)")
            continue
        header = list(rows[0])
        cells = [[_cell(row[k]) for k in header] for row in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        for c in cells:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
