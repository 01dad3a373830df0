"""The report as one self-contained HTML page: inline SVG charts (cost over time, top spenders) and the
tables, no script and nothing fetched from the network, so it opens offline and can be mailed as is."""

from __future__ import annotations

import html
from typing import Any

# The charts' fill colours; tests/tools/test_report_html.py looks for them in a screenshot.
TREND_COLOUR = "#1f77b4"
SPENDER_COLOUR = "#ff7f0e"
TOP_SPENDERS = 15

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin-top: 8px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.k { text-align: left; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""


def _e(value: Any) -> str:
    return html.escape("-" if value is None else str(value))


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def trend_chart(buckets: list[dict[str, Any]], unit: str, width: int = 900, height: int = 260) -> str:
    left, bottom, top = 70, 40, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((b["cost_usd"] for b in buckets), default=0.0) or 1.0
    n = max(len(buckets), 1)
    step = plot_w / n
    bar = max(step * 0.8, 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="cost per {unit}">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_e(_money(peak))}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">$0</text>']
    label_every = max(1, n // 8)
    for i, b in enumerate(buckets):
        h = max(plot_h * b["cost_usd"] / peak, 1.0 if b["cost_usd"] else 0.0)
        x = left + i * step + (step - bar) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{TREND_COLOUR}">'
                     f'<title>{_e(b["start"])}: {_e(_money(b["cost_usd"]))}, {b["calls"]} calls</title></rect>')
        if i % label_every == 0:
            label = b["start"][:13].replace("T", " ") + "h" if unit == "hour" else b["start"][:10]
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def spender_chart(groups: list[dict[str, Any]], by: list[str], width: int = 900) -> str:
    rows = [g for g in groups if g["cost_usd"] > 0][:TOP_SPENDERS]
    row_h, left = 22, 300
    height = row_h * max(len(rows), 1) + 10
    peak = max((g["cost_usd"] for g in rows), default=0.0) or 1.0
    plot_w = width - left - 110
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="top spenders">']
    for i, g in enumerate(rows):
        y = 5 + i * row_h
        name = " / ".join(str(g[k]) for k in by) or "all calls"
        w = max(plot_w * g["cost_usd"] / peak, 1.0)
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{_e(name[:48])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{SPENDER_COLOUR}"><title>{_e(name)}</title></rect>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}">{_e(_money(g["cost_usd"]))} ({g["calls"]} calls)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[dict[str, Any]], keys: frozenset[str] = frozenset()) -> str:
    if not rows:
        return "<p>(none)</p>"
    header = list(rows[0])
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in header), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td{" class=k" if h in keys else ""}>{_e(row[h])}</td>' for h in header) + "</tr>")
    out.append("</table>")
    return "".join(out)


def page(report: dict[str, Any], trend_unit: str, buckets: list[dict[str, Any]]) -> str:
    s = report["summary"]
    by = report["by"]
    summary = (f"{s['calls']} calls ({s['priced_calls']} priced), {_money(s['cost_usd'])}, {s['input_tokens']:,} input / "
               f"{s['output_tokens']:,} output tokens, {s['errors']} errors, from {s['first_call'] or '-'} to {s['last_call'] or '-'}; "
               f"{s['spans']:,} spans in {s['files']} file(s), {s['duplicate_spans']} duplicate spans counted once.")
    return "".join([
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>LLM spend report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>LLM spend report</h1>",
        f"<p>{_e(summary)}</p>",
        *(f"<p>damaged: {_e(d)}</p>" for d in s["damaged"]),
        f"<h2>Cost per {_e(trend_unit)}</h2>",
        trend_chart(buckets, trend_unit),
        f"<h2>Top spenders by {_e(', '.join(by) or 'all calls')}</h2>",
        spender_chart(report["groups"], by),
        "<h2>Groups</h2>",
        _table(report["groups"], frozenset(by)),
        "<h2>Top traces by cost</h2>",
        _table(report["top_traces"], frozenset({"trace_id", "root_span"})),
        "</body></html>\n",
    ])
