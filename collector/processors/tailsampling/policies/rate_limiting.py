"""rate_limiting: otelcol's, samples a trace while the spans sampled in the current second plus its own stay
within spans_per_second."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..buffer import TraceData
from ..config import RateLimitingConfig
from .base import NOT_SAMPLED, SAMPLED, Policy


class RateLimiting(Policy):
    type_name = "rate_limiting"
    config_class = RateLimitingConfig

    def __init__(self, c: RateLimitingConfig, clock: Callable[[], float] = time.monotonic):
        self.limit = c.spans_per_second
        self.clock = clock
        self.second = -1
        self.spent = 0

    def evaluate(self, trace: TraceData) -> str:
        now = int(self.clock())
        if now != self.second:
            self.second, self.spent = now, 0
        if self.spent + trace.span_count <= self.limit:
            self.spent += trace.span_count
            return SAMPLED
        return NOT_SAMPLED
