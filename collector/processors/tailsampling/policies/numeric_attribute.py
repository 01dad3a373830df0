"""numeric_attribute: otelcol's. Samples traces with a span or resource attribute `key` whose value, read as
an integer the way otelcol reads it (pcommon Value.Int(): the int of an int value, 0 for a double, string,
bool or any other type), is within [min_value, max_value]. A bound of 0 is no bound (otelcol passes only
non-zero bounds on), so `min_value: 0` reaches down to the smallest int64."""

from __future__ import annotations

from .. import lookups
from ..buffer import TraceData
from ..config import NumericAttributeConfig
from .base import Match

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class NumericAttribute(Match):
    type_name = "numeric_attribute"
    config_class = NumericAttributeConfig

    def __init__(self, c: NumericAttributeConfig):
        self.key = c.key
        self.lo = c.min_value or INT64_MIN
        self.hi = c.max_value or INT64_MAX
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        lo, hi = self.lo, self.hi
        for v in lookups.attribute_values(trace, self.key):
            n = v.int_value if v.WhichOneof("value") == "int_value" else 0
            if lo <= n <= hi:
                return True
        return False
