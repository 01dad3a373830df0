"""Which OTTL where-clauses and conditions cannot hold anywhere in a request, told from its wire bytes alone.

A comparison `PATH == "text"`, where PATH reads a string as the request stores it (`name`, `attributes[...]`,
with or without a context prefix such as `resource.`), can only hold when the UTF-8 bytes of "text" occur in
the request's protobuf encoding: a protobuf string is its bytes, verbatim. So a request whose bytes lack the
text is known not to match without parsing an item. `and` needs every operand possible, `or` one of them;
`false` never holds; anything else (other operators and paths, converters, `not`) may hold.

`possible(text)` gives, for a condition or a statement's where-clause, `may(wire) -> bool`, or None when
the wire cannot rule it out (a statement without a where-clause always runs). The transform and filter
processors use it to pass a request on untouched (without taking the request, so its wire bytes and GenAI
views stay attached) when none of their statements or conditions can apply."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .contexts import _PREFIXES
from .grammar import BoolOp, Comparison, Field, Literal, Path, parse_condition, parse_statement

May = Callable[[bytes], bool]


def _verbatim(node: object) -> bool:
    """Whether a path reads a string exactly as the request's protobuf holds it."""
    if not isinstance(node, Path):
        return False
    fields: tuple[Field, ...] = node.fields
    if len(fields) > 1 and not fields[0].keys and fields[0].name in _PREFIXES:
        fields = fields[1:]
    if len(fields) != 1:
        return False
    (f,) = fields
    return (f.name == "attributes" and bool(f.keys)) or (f.name == "name" and not f.keys)


def _may(node: object) -> May | None:
    if isinstance(node, Literal) and node.value is False:
        return lambda wire: False
    if isinstance(node, Comparison) and node.op == "==":
        for path, other in ((node.left, node.right), (node.right, node.left)):
            if _verbatim(path) and isinstance(other, Literal) and isinstance(other.value, str):
                needle = other.value.encode()
                return lambda wire: needle in wire
        return None
    if isinstance(node, BoolOp):
        parts = [_may(n) for n in node.operands]
        if node.op == "and":
            known = [p for p in parts if p is not None]
            if not known:
                return None
            return known[0] if len(known) == 1 else (lambda wire: all(p(wire) for p in known))
        if any(p is None for p in parts):
            return None
        ors = [p for p in parts if p is not None]
        return lambda wire: any(p(wire) for p in ors)
    return None


def condition(text: str) -> May | None:
    """`may(wire)` for a condition (None: it may hold on any request)."""
    return _may(parse_condition(text))


def statement(text: str) -> May | None:
    """`may(wire)` for a statement: whether its where-clause may hold (None: it may run on any request)."""
    where = parse_statement(text).where
    return None if where is None else _may(where)


def any_of(mays: Iterable[May | None]) -> May | None:
    """`may(wire)` for a list of which any may apply (None when one of them always may, or the list is empty)."""
    known = []
    for m in mays:
        if m is None:
            return None
        known.append(m)
    if not known:
        return None
    return known[0] if len(known) == 1 else (lambda wire: any(m(wire) for m in known))
