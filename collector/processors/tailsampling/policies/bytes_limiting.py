"""bytes_limiting: otelcol's token bucket (bytes_limiting.go: rate bytes_per_second, capacity burst_capacity
or 2 x bytes_per_second) over the trace's size. The size is the serialized bytes of its spans; otelcol's
calculateTraceSize takes the protobuf size of the batches the trace arrived in, each with its resource
and scope, so for the same traffic its bucket empties a little faster."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import BytesLimitingConfig
from .base import TokenBucket


class BytesLimiting(TokenBucket):
    type_name = "bytes_limiting"
    config_class = BytesLimitingConfig

    def __init__(self, c: BytesLimitingConfig):
        super().__init__(c.bytes_per_second, c.burst_capacity or 2 * c.bytes_per_second)

    def evaluate(self, trace: TraceData) -> str:
        return self.take(trace.bytes)
