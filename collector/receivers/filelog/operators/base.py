"""What every file_log operator shares (stanza's helper/operator.go, transformer.go, parser.go): `id`,
`type`, `output`, `on_error`, `if`; and the parsers' `parse_from`, `parse_to`, `body`, `timestamp` and
`severity`, applied in stanza's order (parse, set parse_to, body, time, severity; errors after all)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ....config import Invalid, option
from ..entry import Entry, Field, FieldError
from .timeparse import SeverityConfig, SeverityParser, TimeConfig, TimeParser


class OperatorError(Exception):
    """An entry this operator could not process (handled by `on_error`)."""


@dataclass
class OperatorConfig:
    type: str = option("", "The operator type (below).")
    id: str = option("", "Name of the operator, for `output` and log lines; defaults to its type.")
    output: str | list[str] | None = option(None, "The `id` of the operator that receives this one's entries; default: the next one in the list (the last one's go to the pipeline).")
    on_error: Literal["send", "send_quiet", "drop", "drop_quiet"] = option(
        "send", "An entry the operator cannot process: `send` it on unchanged (logging an error), `drop` it (logging an error); `_quiet` variants log at debug level.")
    if_: str = option("", 'Only process entries for which this holds; others pass unchanged. Supported forms: `<field> == "text"`, `!=`, `<field> matches "regex"`, `<field> == nil`, `!= nil`.', key="if")

    def validate(self) -> None:
        if self.if_:
            try:
                compile_condition(self.if_)
            except ValueError as exc:
                raise Invalid(str(exc), "if") from None
        if isinstance(self.output, list) and len(self.output) > 1:
            raise Invalid("one output per operator (routing to several is not supported)", "output")


def check_field(value: str, key: str) -> None:
    try:
        Field.parse(value)
    except FieldError as exc:
        raise Invalid(str(exc), key) from None


_CONDITION = re.compile(r"""^\s*(?P<field>[\w.$]+(?:\[(?:"[^"]*"|'[^']*')\][\w.]*)*)\s*(?P<op>==|!=|matches)\s*(?P<value>nil|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*$""")


def compile_condition(text: str) -> Callable[[Entry], bool]:
    m = _CONDITION.match(text)
    if m is None:
        raise ValueError('unsupported expression: only `<field> == "text"`, `!=`, `matches "regex"` and `== nil` / `!= nil` are understood')
    try:
        field = Field.parse(m["field"])
    except FieldError as exc:
        raise ValueError(str(exc)) from None
    op, raw = m["op"], m["value"]
    if raw == "nil":
        if op == "matches":
            raise ValueError("`matches` needs a string")
        want_present = op == "!="
        return lambda e: field.get(e)[1] == want_present
    literal = raw[1:-1].encode().decode("unicode_escape")
    if op == "matches":
        try:
            regex = re.compile(literal)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        return lambda e: isinstance(v := field.get(e)[0], str) and regex.search(v) is not None
    if op == "==":
        return lambda e: field.get(e)[0] == literal
    return lambda e: field.get(e)[0] != literal


class Operator:
    def __init__(self, config: OperatorConfig, log: Any):
        self.id = config.id or config.type
        output = config.output[0] if isinstance(config.output, list) else config.output
        self.output: str | None = output or None
        self.on_error = config.on_error
        self.condition = compile_condition(config.if_) if config.if_ else None
        self.log = log

    def process(self, entry: Entry) -> list[Entry]:
        """The entries to hand on (none when dropped or held, as recombining does)."""
        if self.condition is not None and not self.condition(entry):
            return [entry]
        try:
            return self.apply(entry)
        except OperatorError as exc:
            return self.failed(entry, str(exc))

    def apply(self, entry: Entry) -> list[Entry]:
        raise NotImplementedError

    def failed(self, entry: Entry, reason: str) -> list[Entry]:
        """stanza's HandleEntryError."""
        if self.on_error.endswith("_quiet"):
            self.log.debug("failed to process entry", operator=self.id, reason=reason)
        else:
            self.log.error("failed to process entry", operator=self.id, reason=reason)
        return [] if self.on_error.startswith("drop") else [entry]

    def flush(self, force: bool) -> list[Entry]:
        """Entries held back (recombining) that are due, or all of them when `force`."""
        return []


@dataclass
class ParserConfig(OperatorConfig):
    parse_from: str = option("body", "Field to parse.")
    parse_to: str = option("attributes", "Where the parsed fields go (a mapping is merged into attributes or resource).")
    body: str | None = option(None, "Field whose value becomes the body once parsed.")
    timestamp: TimeConfig | None = option(None, "Parse the entry's time from a field (`parse_from`, `layout_type`, `layout`, `location`).")
    severity: SeverityConfig | None = option(None, "Parse the entry's severity from a field (`parse_from`, `preset`, `mapping`).")

    def validate(self) -> None:
        super().validate()
        check_field(self.parse_from, "parse_from")
        check_field(self.parse_to, "parse_to")
        if self.body is not None:
            check_field(self.body, "body")
            if Field.parse(self.parse_to) == Field("body"):
                raise Invalid("`parse_to: body` not allowed when `body` is configured", "parse_to")


class Parser(Operator):
    def __init__(self, config: ParserConfig, log: Any):
        super().__init__(config, log)
        self.parse_from = Field.parse(config.parse_from)
        self.parse_to = Field.parse(config.parse_to)
        self.body = Field.parse(config.body) if config.body else None
        self.time = TimeParser(config.timestamp) if config.timestamp else None
        self.severity = SeverityParser(config.severity) if config.severity else None

    def parse(self, value: Any) -> Any:
        raise NotImplementedError

    def apply(self, entry: Entry) -> list[Entry]:
        self.parse_with(entry, self.parse)
        return [entry]

    def parse_with(self, entry: Entry, parse: Callable[[Any], Any]) -> None:
        value, found = self.parse_from.get(entry)
        if not found:
            raise OperatorError(f"entry is missing the expected parse_from field {self.parse_from}")
        try:
            parsed = parse(value)
            self.parse_to.set(entry, parsed)
        except (ValueError, TypeError, FieldError) as exc:
            raise OperatorError(str(exc)) from None
        if self.body is not None:
            body, present = self.body.get(entry)
            if present:
                entry.body = body
        errors = []
        for step in (self.time, self.severity):
            if step is not None:
                try:
                    step.parse(entry)
                except (ValueError, OverflowError) as exc:
                    errors.append(str(exc))
        if errors:
            raise OperatorError("; ".join(errors))
