"""rate_limiting: otelcol's current one (rate_limiting.go since contrib PR #48226), a token bucket over
spans: rate spans_per_second, capacity burst_capacity or 2 x spans_per_second. A trace is sampled when its
spans' tokens are all there. (Before that PR otelcol counted the spans sampled in the current second and
sampled while that count plus the trace stayed strictly below spans_per_second.)"""

from __future__ import annotations

from ..buffer import TraceData
from ..config import RateLimitingConfig
from .base import TokenBucket


class RateLimiting(TokenBucket):
    type_name = "rate_limiting"
    config_class = RateLimitingConfig

    def __init__(self, c: RateLimitingConfig):
        super().__init__(c.spans_per_second, c.burst_capacity or 2 * c.spans_per_second)

    def evaluate(self, trace: TraceData) -> str:
        return self.take(trace.span_count)
