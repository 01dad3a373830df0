"""latency: samples traces lasting at least threshold_ms (and, when set, at most upper_threshold_ms), from
the earliest span start to the latest span end."""

from __future__ import annotations

from ..buffer import TIMES, TraceData
from ..config import LatencyConfig
from .base import Match


class Latency(Match):
    type_name = "latency"
    config_class = LatencyConfig
    facts = TIMES

    def __init__(self, c: LatencyConfig):
        self.c = c

    def matches(self, trace: TraceData) -> bool:
        c = self.c
        times = trace.times()
        if times is None:
            return False
        ms = (times[1] - times[0]) / 1e6
        if c.upper_threshold_ms:
            return c.threshold_ms <= ms <= c.upper_threshold_ms
        return ms >= c.threshold_ms
