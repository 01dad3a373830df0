"""trace_state: samples traces with a span whose W3C tracestate has `key` set to one of values."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import TraceStateConfig
from .base import Match


class TraceState(Match):
    type_name = "trace_state"
    config_class = TraceStateConfig

    def __init__(self, c: TraceStateConfig):
        self.key = c.key
        self.wanted = set(c.values)

    def matches(self, trace: TraceData) -> bool:
        key, wanted = self.key, self.wanted
        for e in trace.spans:
            ts = e[4].trace_state
            if not ts:
                continue
            for member in ts.split(","):
                k, sep, v = member.strip().partition("=")
                if sep and k == key and v in wanted:
                    return True
        return False
