"""trace_state: otelcol's (trace_state_filter.go). Samples traces with a span whose W3C tracestate has `key`
set to one of values. The tracestate is parsed as OpenTelemetry Go's ParseTraceState does: a member that is
not a valid key=value, a duplicate key or more than 32 members make the whole tracestate unreadable (no
match). Empty values, and values that with the key reach 256 characters, are dropped from `values`."""

from __future__ import annotations

import re

from ..buffer import TraceData
from ..config import TraceStateConfig
from .base import Match

_KEY = re.compile(r"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MAX_MEMBERS = 32


def parse_trace_state(raw: str) -> dict[str, str] | None:
    """The members of a W3C tracestate, or None when Go's ParseTraceState would return an error."""
    members: dict[str, str] = {}
    for member in raw.split(","):
        if not member:
            continue
        key, sep, value = member.partition("=")
        key, value = key.lstrip(" \t"), value.rstrip(" \t")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value) or key in members:
            return None
        members[key] = value
        if len(members) > _MAX_MEMBERS:
            return None
    return members


class TraceState(Match):
    type_name = "trace_state"
    config_class = TraceStateConfig

    def __init__(self, c: TraceStateConfig):
        self.key = c.key
        self.wanted = {v for v in c.values if v and len(c.key) + len(v) < 256}

    def matches(self, trace: TraceData) -> bool:
        key, wanted = self.key, self.wanted
        for e in trace.spans:
            ts = e[4].trace_state
            if not ts:
                continue
            members = parse_trace_state(ts)
            if members is not None and members.get(key, "") in wanted:
                return True
        return False
