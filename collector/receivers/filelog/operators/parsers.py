"""The `json_parser` and `regex_parser` operators (stanza's operator/parser/json and parser/regex)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ....config import Invalid, option
from .base import Parser, ParserConfig


@dataclass
class JSONParserConfig(ParserConfig):
    parse_ints: bool = option(False, "Keep integers as integers; otherwise every JSON number becomes a double, as in otelcol.")


def _floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


class JSONParser(Parser):
    def __init__(self, config: JSONParserConfig, log: Any):
        super().__init__(config, log)
        self.parse_ints = config.parse_ints

    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"type {type(value).__name__} cannot be parsed as JSON")
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError(f"JSON {type(parsed).__name__} is not an object")
        return parsed if self.parse_ints else _floats(parsed)


def go_regex(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) pattern compiled by Python: named groups `(?P<name>...)` are spelled the same;
    RE2's `(?<name>...)` is rewritten."""
    return re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", pattern))


@dataclass
class RegexParserConfig(ParserConfig):
    regex: str = option("", "Regular expression with named groups (`(?P<name>...)`); each group becomes a field (required).")

    def validate(self) -> None:
        super().validate()
        if not self.regex:
            raise Invalid("missing required key", "regex")
        try:
            compiled = go_regex(self.regex)
        except re.error as exc:
            raise Invalid(f"invalid regex: {exc}", "regex") from None
        if not compiled.groupindex:
            raise Invalid("no named capture groups in regex", "regex")


def match_values(value: Any, regex: re.Pattern[str]) -> dict[str, Any]:
    """stanza's helper.MatchValues: the named groups of the first match (unmatched groups left out)."""
    if not isinstance(value, str):
        raise TypeError(f"type {type(value).__name__} cannot be parsed as regex")
    m = regex.search(value)
    if m is None:
        raise ValueError("regex pattern does not match")
    return {k: v for k, v in m.groupdict().items() if v is not None}


class RegexParser(Parser):
    def __init__(self, config: RegexParserConfig, log: Any):
        super().__init__(config, log)
        self.regex = go_regex(config.regex)

    def parse(self, value: Any) -> Any:
        return match_values(value, self.regex)
