"""routing's configuration (contrib connector/routingconnector config.go): `table` of routes, each an OTTL
`condition` or `statement` in a `context` with the `pipelines` it routes to; `default_pipelines` for what no
route matches; `error_mode`. Conditions and statements compile here, so a bad one is a config error naming
its file, line, the text and the column of the problem.

A statement is `route() where <condition>` (or one of routing's editors, delete_key / delete_matching_keys,
run on what it matches); the route matches where its `where` holds, everywhere when it has none. The
`request` context takes only `request["key"] == "value"` or `!=` conditions over the request's metadata
(gRPC metadata, HTTP headers), as contrib's request.go."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ... import ottl
from ...config import Invalid, option
from ...ottl.compiler import CompileError, Compiler, compile_condition
from ...ottl.grammar import OTTLSyntaxError, parse_statement

ErrorMode = Literal["ignore", "silent", "propagate"]
CONTEXTS = ("resource", "span", "metric", "datapoint", "log", "request")
_EDITORS = ("route", "delete_key", "delete_matching_keys")  # contrib routingconnector common.Functions
_REQUEST = re.compile(r'^\s*request\[\s*"([^"]+)"\s*\]\s*(==|!=)\s*"([^"]*)"\s*$')


@dataclass
class Route:
    context: str = option("resource", "The OTTL context the condition or statement is evaluated in: resource, span, metric, datapoint, log or request.")
    condition: str = option("", "The routing condition (OTTL). Required when `statement` is not given; the only form the request context takes.")
    statement: str = option("", "The routing statement: `route() where <condition>` (or delete_key / delete_matching_keys, run on what matches). Not for the request context.")
    pipelines: list[str] = option(factory=list, doc="The pipelines what matches goes to (each must list this connector as a receiver).")
    test: Callable[[Any], bool] | None = field(default=None, init=False, repr=False, compare=False)
    request: tuple[str, str, str] | None = field(default=None, init=False, repr=False, compare=False)  # (key, op, value)

    def validate(self) -> None:
        if not self.statement and not self.condition:
            raise Invalid("invalid route: no condition or statement provided")
        if self.statement and self.condition:
            raise Invalid("invalid route: both condition and statement provided")
        if not self.pipelines:
            raise Invalid("invalid route: no pipelines defined", "pipelines")
        context = self.context or "resource"
        if context not in CONTEXTS:
            raise Invalid(f"invalid context: {context} (valid: {', '.join(CONTEXTS)})", "context")
        if context == "request":
            if self.statement:
                raise Invalid('"request" context requires a \'condition\'', "statement")
            m = _REQUEST.match(self.condition)
            if m is None:
                raise Invalid('the request context takes only conditions of the form request["key"] == "value" or request["key"] != "value"', "condition")
            self.request = (m.group(1).lower(), m.group(2), m.group(3))
            return
        if self.condition:
            try:
                self.test = ottl.condition(self.condition, context)
            except ottl.OTTLError as exc:
                raise Invalid(str(exc), "condition") from None
            return
        self.test = _statement(self.statement, context)


def _statement(text: str, context: str) -> Callable[[Any], bool]:
    """A routing statement as a test: true where its `where` holds, running its editor there."""
    try:
        node = parse_statement(text)
        if node.editor.name not in _EDITORS:
            raise CompileError(f'undefined function "{node.editor.name}" (a routing statement uses route(), delete_key or delete_matching_keys)', node.editor.pos)
        if node.editor.name == "route" and node.editor.args:
            raise CompileError("route() takes no arguments", node.editor.pos)
        run = None if node.editor.name == "route" else Compiler(context, text).editor(node.editor)
        where = compile_condition(node.where, context, text) if node.where is not None else None
    except (OTTLSyntaxError, CompileError) as exc:
        raise Invalid(str(ottl.OTTLError(text, exc.reason, exc.position)), "statement") from None

    def test(ctx: Any) -> bool:
        if where is not None and not where(ctx):
            return False
        if run is not None:
            run(ctx)
        return True
    return test


@dataclass
class RoutingConfig:
    table: list[Route] = option(factory=list, doc="The routes, tried in order: an item goes to the first route that matches it (contrib's behaviour since match_once was removed in v0.120.0).")
    default_pipelines: list[str] = option(factory=list, doc="Where what no route matches goes; dropped when empty.")
    error_mode: ErrorMode = option("propagate", "A condition that fails to evaluate: propagate (the request fails), ignore (logged; the item counts as not matched), silent (not matched, not logged).")

    def validate(self) -> None:
        if not self.table:
            raise Invalid("invalid routing table: the routing table is empty", "table")
