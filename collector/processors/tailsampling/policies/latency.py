"""latency: otelcol's. The trace's duration runs from the earliest span start to the latest span end, in
whole milliseconds (truncated, as Go's Duration.Milliseconds). Without upper_threshold_ms a trace lasting at
least threshold_ms is sampled. With it, otelcol checks the running duration after each span in the order
the spans arrived, and samples as soon as it is above threshold_ms (strictly) and at most
upper_threshold_ms: a trace whose total is past the upper bound is still sampled when a prefix of its spans
was within the bounds."""

from __future__ import annotations

from ..buffer import TIMES, TraceData
from ..config import LatencyConfig
from .base import Match

_MS = 1_000_000


def _whole_ms(ns: int) -> int:
    """Nanoseconds to whole milliseconds, truncated toward zero (Go's Duration.Milliseconds)."""
    return ns // _MS if ns >= 0 else -(-ns // _MS)


class Latency(Match):
    type_name = "latency"
    config_class = LatencyConfig
    facts = TIMES

    def __init__(self, c: LatencyConfig):
        self.lower = c.threshold_ms
        self.upper = c.upper_threshold_ms

    def matches(self, trace: TraceData) -> bool:
        times = trace.times()
        if times is None:
            return False
        total = _whole_ms(times[1] - times[0])
        lower, upper = self.lower, self.upper
        if not upper:
            return total >= lower  # the running duration only grows: the total decides
        if total <= upper:
            return lower < total  # every prefix is within the upper bound too
        return self._prefix_within(trace)

    def _prefix_within(self, trace: TraceData) -> bool:
        """otelcol's running check (latency.go Evaluate over hasSpanWithCondition), for a trace whose total
        is past the upper bound. otelcol treats a zero timestamp as "none seen yet"; so does this."""
        lower, upper = self.lower, self.upper
        lo = hi = 0
        for entry in trace.spans:
            s = entry[4]
            if lo == 0 or s.start_time_unix_nano < lo:
                lo = s.start_time_unix_nano
            if hi == 0 or s.end_time_unix_nano > hi:
                hi = s.end_time_unix_nano
            if lower < _whole_ms(hi - lo) <= upper:
                return True
        return False
