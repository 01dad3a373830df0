"""OTTL, the OpenTelemetry Transformation Language of otelcol-contrib's pkg/ottl: statements and conditions
parsed (grammar.py), compiled once into closures (compiler.py) over OTLP protobuf items (contexts.py,
values.py), with otelcol's functions (functions.py, converters.py). `transform`, `filter`, the `routing`
connector and tail sampling's `ottl_condition` are written in it."""

from __future__ import annotations

from typing import Any

from .compiler import CompileError, compile_condition, compile_statement
from .contexts import CONTEXTS, Ctx
from .grammar import OTTLSyntaxError, parse_condition, parse_statement

__all__ = ["CONTEXTS", "CompileError", "Ctx", "OTTLError", "condition", "statement"]


class OTTLError(ValueError):
    """A statement or condition that does not parse or compile: `reason`, and `position` in `text`."""

    def __init__(self, text: str, reason: str, position: int):
        self.text, self.reason, self.position = text, reason, position
        super().__init__(f"{reason} (at column {position + 1} of {text!r})")


def statement(text: str, context: str) -> Any:
    """`run(ctx)` for one statement in `context` (one of CONTEXTS)."""
    try:
        return compile_statement(parse_statement(text), context)
    except (OTTLSyntaxError, CompileError) as exc:
        raise OTTLError(text, exc.reason, exc.position) from None


def condition(text: str, context: str) -> Any:
    """`test(ctx) -> bool` for one condition in `context`."""
    try:
        return compile_condition(parse_condition(text), context, text)
    except (OTTLSyntaxError, CompileError) as exc:
        raise OTTLError(text, exc.reason, exc.position) from None
