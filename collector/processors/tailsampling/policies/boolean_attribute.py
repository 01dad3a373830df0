"""boolean_attribute: otelcol's (boolean_tag_filter.go). Samples traces with a resource or span attribute
`key` holding the configured bool, read as otelcol reads it (pcommon Value.Bool(): false for a value that is
not a bool, so `value: false` also matches a non-bool attribute)."""

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
        return any((v.WhichOneof("value") == "bool_value" and v.bool_value) == value for v in lookups.attribute_values(trace, self.key))
