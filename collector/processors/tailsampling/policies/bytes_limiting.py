"""bytes_limiting: otelcol's token bucket (bytes_limiting.go: rate bytes_per_second, capacity burst_capacity
or 2 x bytes_per_second) over the trace's size as calculateTraceSize measures it: the protobuf size of the
batches otelcol holds for the trace, one per ResourceSpans it arrived in, each with its resource and
scopes (TraceData.batches_size)."""

from __future__ import annotations

from ..buffer import BATCH_BYTES, TraceData
from ..config import BytesLimitingConfig
from .base import TokenBucket


class BytesLimiting(TokenBucket):
    type_name = "bytes_limiting"
    config_class = BytesLimitingConfig
    facts = BATCH_BYTES

    def __init__(self, c: BytesLimitingConfig):
        super().__init__(c.bytes_per_second, c.burst_capacity or 2 * c.bytes_per_second)

    def evaluate(self, trace: TraceData) -> str:
        return self.take(trace.batches_size())
