"""bytes_limiting: a token bucket over the serialized size of the trace's spans."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..buffer import TraceData
from ..config import BytesLimitingConfig
from .base import NOT_SAMPLED, SAMPLED, Policy


class BytesLimiting(Policy):
    type_name = "bytes_limiting"
    config_class = BytesLimitingConfig

    def __init__(self, c: BytesLimitingConfig, clock: Callable[[], float] = time.monotonic):
        self.rate = c.bytes_per_second
        self.capacity = c.burst_capacity or 2 * c.bytes_per_second
        self.tokens = float(self.capacity)
        self.clock = clock
        self.last = clock()

    def evaluate(self, trace: TraceData) -> str:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        size = trace.bytes
        if size <= self.tokens:
            self.tokens -= size
            return SAMPLED
        return NOT_SAMPLED
