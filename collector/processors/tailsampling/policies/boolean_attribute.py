"""boolean_attribute: samples traces with a span or resource attribute holding the configured bool."""

from __future__ import annotations

from .. import lookups
from ..buffer import TraceData
from ..config import BooleanAttributeConfig
from .base import Match


class BooleanAttribute(Match):
    type_name = "boolean_attribute"
    config_class = BooleanAttributeConfig

    def __init__(self, c: BooleanAttributeConfig):
        self.key = c.key
        self.value = c.value
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        value = self.value
        return any(v.WhichOneof("value") == "bool_value" and v.bool_value == value for v in lookups.attribute_values(trace, self.key))
