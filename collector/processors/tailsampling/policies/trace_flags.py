"""trace_flags: otelcol's. Samples traces with a span whose W3C trace flags (the low byte of the span's
`flags`) have the sampled bit set: what a head sampler upstream decided."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import TraceFlagsConfig
from .base import Match

SAMPLED_FLAG = 0x01


class TraceFlags(Match):
    type_name = "trace_flags"
    config_class = TraceFlagsConfig

    def __init__(self, c: TraceFlagsConfig):
        pass

    def matches(self, trace: TraceData) -> bool:
        return any(e[4].flags & SAMPLED_FLAG for e in trace.spans)
