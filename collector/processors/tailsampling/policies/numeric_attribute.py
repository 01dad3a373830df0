"""numeric_attribute: samples traces with a span or resource attribute whose number is within
[min_value, max_value]."""

from __future__ import annotations

from ....wire.spans import number
from .. import lookups
from ..buffer import TraceData
from ..config import NumericAttributeConfig
from .base import Match


class NumericAttribute(Match):
    type_name = "numeric_attribute"
    config_class = NumericAttributeConfig

    def __init__(self, c: NumericAttributeConfig):
        self.key = c.key
        self.lo = c.min_value if c.min_value is not None else float("-inf")
        self.hi = c.max_value if c.max_value is not None else float("inf")
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        lo, hi = self.lo, self.hi
        for v in lookups.attribute_values(trace, self.key):
            n = number(v)
            if n is not None and lo <= n <= hi:
                return True
        return False
