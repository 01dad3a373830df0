"""string_attribute: otelcol's (string_tag_filter.go). Samples traces with a resource or span attribute `key`
whose string is one of values (or, with enabled_regex_matching, contains a match of one of them). The value
is read as otelcol reads it (pcommon Value.Str(): "" for a value that is not a string); a span's empty
string never matches, a resource's is matched like any other, and an empty entry of `values` matches
nothing without regex matching."""

from __future__ import annotations

from typing import Any

from .. import lookups
from ..buffer import TraceData
from ..config import StringAttributeConfig
from .base import Match, string_matcher


def _str(value: Any) -> str:
    return value.string_value if value.WhichOneof("value") == "string_value" else ""


class StringAttribute(Match):
    type_name = "string_attribute"
    config_class = StringAttributeConfig

    def __init__(self, c: StringAttributeConfig):
        self.key = c.key
        values = c.values if c.enabled_regex_matching else [v for v in c.values if v]
        self.match_string = string_matcher(values, c.enabled_regex_matching)
        self.invert = c.invert_match

    def matches(self, trace: TraceData) -> bool:
        match_string = self.match_string
        if any(match_string(_str(v)) for v in lookups.resource_attribute_values(trace, self.key)):
            return True
        for v in lookups.span_attribute_values(trace, self.key):
            s = _str(v)
            if s and match_string(s):
                return True
        return False
