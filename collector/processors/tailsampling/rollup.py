"""A trace's LLM totals: its cost and tokens, which the llm_cost and llm_tokens policies compare, and the
`rollup` option that writes them onto its root span before release."""

from __future__ import annotations

from ... import pdata
from . import lookups
from .buffer import TraceData
from .config import COST


def trace_cost(trace: TraceData) -> float:
    """The sum of the spans' `gen_ai.usage.cost`."""
    return lookups.number_sum(trace, COST)


def trace_tokens(trace: TraceData) -> tuple[int, int]:
    """(input tokens, output tokens) over the trace's LLM calls: each call once, so not over the spans the
    cost processor marked as another span's call (`gen_ai.usage.cost_duplicate`)."""
    inp = out = 0
    for view in trace.views():
        if view.has("cost_duplicate"):
            continue
        inp += view.usage.input_tokens or 0
        out += view.usage.output_tokens or 0
    return inp, out


def rollup(trace: TraceData) -> None:
    """Writes the trace totals onto its root span (no parent; else the earliest span)."""
    if not trace.spans:
        return
    views = trace.views()
    cost = trace_cost(trace)
    if not views and not cost:
        return
    inp, out = trace_tokens(trace)
    roots = [e[4] for e in trace.spans if not e[4].parent_span_id]
    root = roots[0] if roots else min((e[4] for e in trace.spans), key=lambda s: s.start_time_unix_nano)
    keys = ("gen_ai.trace.cost", "gen_ai.trace.input_tokens", "gen_ai.trace.output_tokens")
    kept = [kv for kv in root.attributes if kv.key not in keys]
    if len(kept) != len(root.attributes):
        del root.attributes[:]
        root.attributes.extend(kept)
    pdata.add_double(root.attributes, keys[0], round(cost, 10))
    pdata.add_int(root.attributes, keys[1], inp)
    pdata.add_int(root.attributes, keys[2], out)
