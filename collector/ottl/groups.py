"""OTTL statement groups as otelcol's transform processor configures them, and the walk that runs them over a
request (processor/transformprocessor/internal/common: ContextStatements, the parser collections and context
inference).

A group is a context, statements, optional `conditions` (ORed: the statements run on an item only when one
holds) and an `error_mode`. Without `context` the group's context is inferred from its paths' prefixes: the
lowest context of the signal every prefix belongs to (`set(span.name, ...) where resource.attributes[...]`
runs per span). A flat statement (a plain string in the list) is a group of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import OTTLError, condition, prefilter, statement
from .contexts import _PREFIXES, Ctx
from .grammar import OTTLSyntaxError, Path, parse_condition, parse_statement

ERROR_MODES = ("ignore", "silent", "propagate")

# Per signal, its contexts from the lowest (most specific) up.
SIGNAL_CONTEXTS = {
    "traces": ("spanevent", "span", "scope", "resource"),
    "logs": ("log", "scope", "resource"),
    "metrics": ("datapoint", "metric", "scope", "resource"),
}
# A context's parent chain within a signal, for inference: the contexts a path of it may be read from.
_REACHES = {
    "spanevent": {"spanevent", "span", "scope", "resource"}, "span": {"span", "scope", "resource"},
    "log": {"log", "scope", "resource"}, "datapoint": {"datapoint", "metric", "scope", "resource"},
    "metric": {"metric", "scope", "resource"}, "scope": {"scope", "resource"}, "resource": {"resource"},
}


class GroupError(ValueError):
    """A problem with one statement or condition of a group: `index` is its position in `statements` (or in
    `conditions` when `in_conditions`), `text` the statement, `reason` what is wrong and where."""

    def __init__(self, reason: str, index: int | None = None, in_conditions: bool = False):
        self.reason, self.index, self.in_conditions = reason, index, in_conditions
        super().__init__(reason)


def _prefixes(node: Any) -> Iterator[str]:
    """The context prefixes a syntax tree's paths name (`span` of `span.attributes[...]`)."""
    if isinstance(node, Path):
        if len(node.fields) > 1 and not node.fields[0].keys and node.fields[0].name in _PREFIXES:
            yield _PREFIXES[node.fields[0].name]
        return
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _prefixes(item)
        return
    if hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            yield from _prefixes(getattr(node, name))


def infer_context(signal: str, statements: list[str], conditions: list[str]) -> str:
    """The group's context: the lowest one of `signal` that reads every prefix its paths name."""
    named: set[str] = set()
    for i, text in enumerate(statements):
        try:
            named.update(_prefixes(parse_statement(text)))
        except OTTLSyntaxError as exc:
            raise GroupError(f"{exc.reason} (at column {exc.position + 1} of {text!r})", i) from None
    for i, text in enumerate(conditions):
        try:
            named.update(_prefixes(parse_condition(text)))
        except OTTLSyntaxError as exc:
            raise GroupError(f"{exc.reason} (at column {exc.position + 1} of {text!r})", i, True) from None
    order = SIGNAL_CONTEXTS[signal]
    foreign = sorted(named - set(order))
    if foreign:
        raise GroupError(f"the paths name the {', '.join(foreign)} context, which {signal} statements cannot use (they can use {', '.join(reversed(order))})")
    if not named:
        raise GroupError("unable to infer a context: prefix the paths with their context (e.g. span.attributes[\"x\"], "
                         f"resource.attributes[\"x\"]) or set the group's `context` ({', '.join(reversed(order))})")
    for ctx in order:
        if ctx in named and named <= _REACHES[ctx]:
            return ctx
    raise GroupError(f"no single context can read the paths named ({', '.join(sorted(named))}): split them into groups")


@dataclass
class Group:
    context: str
    error_mode: str
    statements: list[Callable[[Ctx], None]] = field(default_factory=list)
    conditions: list[Callable[[Ctx], bool]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    # Whether the group may change a request, told from its wire bytes (prefilter.py); None: it may on any.
    may: prefilter.May | None = None


def may_apply(groups: list[Group]) -> prefilter.May | None:
    """`may(wire)`: whether any of the groups may change a request (None: any of them may on any request)."""
    return prefilter.any_of(g.may for g in groups)


def compile_group(signal: str, statements: list[str], conditions: list[str], context: str | None, error_mode: str) -> Group:
    """A compiled group (GroupError naming the statement or condition at fault)."""
    if context is None:
        context = infer_context(signal, statements, conditions)
    elif context not in SIGNAL_CONTEXTS[signal]:
        raise GroupError(f"unknown context \"{context}\" for {signal} (valid: {', '.join(reversed(SIGNAL_CONTEXTS[signal]))})")
    group = Group(context, error_mode, texts=list(statements))
    for i, text in enumerate(statements):
        try:
            group.statements.append(statement(text, context))
        except OTTLError as exc:
            raise GroupError(str(exc), i) from None
    for i, text in enumerate(conditions):
        try:
            group.conditions.append(condition(text, context))
        except OTTLError as exc:
            raise GroupError(str(exc), i, True) from None
    by_statement = prefilter.any_of(prefilter.statement(t) for t in statements)
    by_condition = prefilter.any_of(prefilter.condition(t) for t in conditions)
    if by_statement is None or by_condition is None:
        group.may = by_statement or by_condition
    else:
        group.may = lambda wire: by_condition(wire) and by_statement(wire)
    return group


class StatementFailed(Exception):
    """A statement failed under error_mode propagate."""


def contexts_of(signal: str, context: str, request: Any) -> Iterator[Ctx]:
    """One Ctx per item of `context` in `request`, with what contains it."""
    if signal == "traces":
        for rs in request.resource_spans:
            if context == "resource":
                yield Ctx(resource=rs.resource)
                continue
            for ss in rs.scope_spans:
                if context == "scope":
                    yield Ctx(resource=rs.resource, scope=ss.scope)
                    continue
                for span in ss.spans:
                    if context == "span":
                        yield Ctx(rs.resource, ss.scope, span)
                        continue
                    for i, event in enumerate(span.events):
                        ctx = Ctx(rs.resource, ss.scope, span, event)
                        ctx.event_index = i
                        yield ctx
    elif signal == "logs":
        for rl in request.resource_logs:
            if context == "resource":
                yield Ctx(resource=rl.resource)
                continue
            for sl in rl.scope_logs:
                if context == "scope":
                    yield Ctx(resource=rl.resource, scope=sl.scope)
                    continue
                for log in sl.log_records:
                    yield Ctx(rl.resource, sl.scope, log=log)
    else:
        for rm in request.resource_metrics:
            if context == "resource":
                yield Ctx(resource=rm.resource)
                continue
            for sm in rm.scope_metrics:
                if context == "scope":
                    yield Ctx(resource=rm.resource, scope=sm.scope)
                    continue
                for metric in sm.metrics:
                    if context == "metric":
                        yield Ctx(rm.resource, sm.scope, metric=metric)
                        continue
                    for dp in data_points(metric):
                        yield Ctx(rm.resource, sm.scope, metric=metric, dp=dp)


def data_points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else ()


def run_group(group: Group, signal: str, request: Any, on_error: Callable[[str, Exception], None]) -> None:
    """Runs a group over every item of its context in `request`. A failing statement or condition is reported
    to `on_error` (ignore) or not (silent) and the next statement runs; under propagate it raises
    StatementFailed."""
    statements, conditions, mode = group.statements, group.conditions, group.error_mode
    for ctx in contexts_of(signal, group.context, request):
        if conditions:
            try:
                if not any(test(ctx) for test in conditions):
                    continue
            except Exception as exc:  # noqa: BLE001 (client data: a failing condition follows error_mode)
                if mode == "propagate":
                    raise StatementFailed(f"failed to evaluate the group's conditions: {exc}") from None
                if mode == "ignore":
                    on_error("conditions", exc)
                continue
        for i, run in enumerate(statements):
            try:
                run(ctx)
            except Exception as exc:  # noqa: BLE001 (client data: a failing statement follows error_mode)
                if mode == "propagate":
                    raise StatementFailed(f"failed to execute statement: {group.texts[i]}: {exc}") from None
                if mode == "ignore":
                    on_error(group.texts[i], exc)
