"""span_count: samples traces with at least min_spans spans (and at most max_spans, when set)."""

from __future__ import annotations

from ..buffer import TraceData
from ..config import SpanCountConfig
from .base import Match


class SpanCount(Match):
    type_name = "span_count"
    config_class = SpanCountConfig

    def __init__(self, c: SpanCountConfig):
        self.min_spans = c.min_spans
        self.max_spans = c.max_spans

    def matches(self, trace: TraceData) -> bool:
        return trace.span_count >= self.min_spans and (self.max_spans == 0 or trace.span_count <= self.max_spans)
