"""string_attribute: samples traces with a span or resource attribute whose string is one of values (or
matches one, with enabled_regex_matching)."""

from __future__ import annotations

from .. import lookups
from ..buffer import TraceData
from ..config import StringAttributeConfig
from .base import Match, string_matcher


class StringAttribute(Match):
    type_name = "string_attribute"
    config_class = StringAttributeConfig

    def __init__(self, c: StringAttributeConfig):
        self.key = c.key
        self.match_string = string_matcher(c.values, c.enabled_regex_matching)
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        match_string = self.match_string
        for v in lookups.attribute_values(trace, self.key):
            if v.WhichOneof("value") == "string_value" and match_string(v.string_value):
                return True
        return False
