"""OTTL syntax trees compiled to Python closures, once, at start-up.

A value becomes `get(ctx) -> value`, a condition `test(ctx) -> bool`, a statement `run(ctx) -> None`. Paths are
resolved against the statement's context (contexts.py) and functions against the registry (functions.py)
with otelcol's argument rules: positional arguments before named ones, each named argument once, every
required parameter given. Comparison and arithmetic follow pkg/ottl/compare.go and math.go."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from ..pdata import wrap_int
from . import contexts
from .grammar import (
    Argument,
    BoolOp,
    Call,
    Comparison,
    EnumSymbol,
    FunctionName,
    ListExpr,
    Literal,
    MapExpr,
    MathExpr,
    Not,
    OTTLSyntaxError,
    Path,
    Statement,
)
from .values import AttrMap, plain, type_name

Getter = Callable[[contexts.Ctx], Any]


class CompileError(ValueError):
    """A statement that parses but cannot run: an unknown path or function, a wrong argument. `position` is the
    offset in the statement's text."""

    def __init__(self, message: str, position: int = 0):
        self.reason = message
        self.position = position
        super().__init__(message)


class Compiler:
    def __init__(self, context: str, text: str):
        from . import functions

        self.context = context
        self.text = text
        self.functions = functions.REGISTRY

    # -- values
    def value(self, node: Any) -> Getter:
        if isinstance(node, Literal):
            v = node.value
            return lambda ctx: v
        if isinstance(node, Path):
            return self.path(node)[0]
        if isinstance(node, EnumSymbol):
            value = contexts.enum_value(self.context, node.name)
            if value is None:
                raise CompileError(f"enum symbol {node.name} not found", node.pos)
            return lambda ctx: value
        if isinstance(node, Call):
            if node.editor:
                raise CompileError(f"converter names must start with an uppercase letter but got '{node.name}'", node.pos)
            return self.converter(node)
        if isinstance(node, MathExpr):
            return self.math(node)
        if isinstance(node, ListExpr):
            items = [self.value(i) for i in node.items]
            return lambda ctx: [plain(g(ctx)) for g in items]
        if isinstance(node, MapExpr):
            pairs = [(k, self.value(v)) for k, v in node.items]
            return lambda ctx: {k: plain(g(ctx)) for k, g in pairs}
        raise CompileError(f"unexpected {type(node).__name__}")

    def path(self, node: Path) -> tuple[Getter, contexts.Setter]:
        try:
            return contexts.resolve(self.context, node)
        except contexts.PathError as exc:
            raise CompileError(str(exc), node.pos) from None

    def math(self, node: MathExpr) -> Getter:
        left, right, op = self.value(node.left), self.value(node.right), node.op
        return lambda ctx: _math(op, left(ctx), right(ctx))

    # -- conditions
    def condition(self, node: Any) -> Callable[[contexts.Ctx], bool]:
        if isinstance(node, BoolOp):
            parts = [self.condition(n) for n in node.operands]
            if node.op == "and":
                return lambda ctx: all(p(ctx) for p in parts)
            return lambda ctx: any(p(ctx) for p in parts)
        if isinstance(node, Not):
            inner = self.condition(node.operand)
            return lambda ctx: not inner(ctx)
        if isinstance(node, Comparison):
            left, right, op = self.value(node.left), self.value(node.right), node.op
            return lambda ctx: compare(left(ctx), right(ctx), op)
        if isinstance(node, Literal) and isinstance(node.value, bool):
            v = node.value
            return lambda ctx: v
        if isinstance(node, Call):
            get = self.converter(node)

            def test(ctx: contexts.Ctx) -> bool:
                v = get(ctx)
                if not isinstance(v, bool):
                    raise TypeError(f"{node.name} returned {type_name(v)}, a condition needs a bool")
                return v
            return test
        raise CompileError("expected a condition")

    # -- functions
    def converter(self, node: Call) -> Getter:
        spec = self.functions.get(node.name)
        if spec is None or spec.editor:
            raise CompileError(f"undefined function \"{node.name}\"", node.pos)
        get = spec.build(self, self.arguments(spec, node))
        if not node.keys:
            return get
        keys = node.keys
        return lambda ctx: _index(get(ctx), keys, node.name)

    def editor(self, node: Call) -> Callable[[contexts.Ctx], None]:
        spec = self.functions.get(node.name)
        if spec is None or not spec.editor:
            raise CompileError(f"undefined function \"{node.name}\"", node.pos)
        if spec.contexts is not None and self.context not in spec.contexts:
            raise CompileError(f"{node.name} is only available in the {', '.join(sorted(spec.contexts))} context, not {self.context}", node.pos)
        return spec.build(self, self.arguments(spec, node))

    def arguments(self, spec: Any, node: Call) -> dict[str, Any]:
        """Argument nodes by parameter name (pkg/ottl/functions.go: named after positional, each once)."""
        params = spec.params
        by_name: dict[str, Any] = {}
        named_seen = False
        for i, arg in enumerate(node.args):
            if arg.name:
                named_seen = True
                if arg.name not in {p.name for p in params}:
                    raise CompileError(f"no such parameter \"{arg.name}\" for {node.name}", arg.pos)
                if arg.name in by_name:
                    raise CompileError(f"duplicate argument \"{arg.name}\" for {node.name}", arg.pos)
                by_name[arg.name] = arg
            else:
                if named_seen:
                    raise CompileError("unnamed argument used after named argument", arg.pos)
                if i >= len(params):
                    raise CompileError(f"too many arguments for {node.name}: expected at most {len(params)}", arg.pos)
                by_name[params[i].name] = arg
        for p in params:
            if p.name not in by_name and not p.optional:
                raise CompileError(f"{node.name} is missing its required argument \"{p.name}\"", node.pos)
        return by_name

    def param(self, arg: Argument, kind: str, fname: str) -> Any:
        """A compiled argument: 'value' (a getter), 'target' ((getter, setter) of a path), 'str'/'int'/'strlist'
        (literals, resolved now), 'function' (a converter given by name)."""
        node = arg.value
        if kind == "value":
            if isinstance(node, FunctionName):
                raise CompileError(f"{fname}: expected a value, got the function name {node.name}", arg.pos)
            return self.value(node)
        if kind == "target":
            if not isinstance(node, Path):
                raise CompileError(f"{fname}: expected a path to set, got {type(node).__name__}", arg.pos)
            return self.path(node)
        if kind == "function":
            name = node.name if isinstance(node, (FunctionName, EnumSymbol)) else None
            spec = self.functions.get(name or "")
            if spec is None or spec.editor or not spec.hash_like:
                raise CompileError(f"{fname}: expected the name of an optional function such as SHA256", arg.pos)
            return spec.direct
        if kind in ("str", "int", "strlist"):
            literal = _literal(node)
            if kind == "str" and isinstance(literal, str):
                return literal
            if kind == "int" and isinstance(literal, int) and not isinstance(literal, bool):
                return literal
            if kind == "strlist" and isinstance(literal, list) and all(isinstance(s, str) for s in literal):
                return literal
            raise CompileError(f"{fname}: expected a literal {'list of strings' if kind == 'strlist' else kind}", arg.pos)
        raise AssertionError(kind)


def _literal(node: Any) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListExpr) and all(isinstance(i, Literal) for i in node.items):
        return [i.value for i in node.items]
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _index(value: Any, keys: tuple[str | int, ...], name: str) -> Any:
    for k in keys:
        if value is None:
            return None
        if isinstance(k, str) and isinstance(value, (AttrMap, dict)):
            value = value.get(k)
        elif isinstance(k, int) and isinstance(value, list) and 0 <= k < len(value):
            value = value[k]
        else:
            raise TypeError(f"{name}: cannot index its {type_name(value)} result with {k!r}")
    return value


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(a: Any, b: Any, op: str) -> bool:
    """pkg/ottl/compare.go: nil equals only nil; ints and doubles compare as numbers; strings, bytes, bools
    (false < true) and times order; maps and slices are only (in)equal; values of two types are unequal and
    not ordered."""
    if a is None or b is None:
        if a is None and b is None:  # nil is equal to, and so also <= and >=, nil
            return op in ("==", "<=", ">=")
        return op == "!="
    a, b = plain(a), plain(b)
    if _number(a) and _number(b) or isinstance(a, bool) and isinstance(b, bool):  # false < true, as Go's compareBools
        pass
    elif isinstance(a, str) and isinstance(b, str):
        pass
    elif isinstance(a, bytes) and isinstance(b, bytes):
        pass
    elif isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime):
        pass
    elif isinstance(a, datetime.timedelta) and isinstance(b, datetime.timedelta):
        pass
    elif isinstance(a, dict) and isinstance(b, dict) or isinstance(a, list) and isinstance(b, list):
        if op not in ("==", "!="):
            return False
    else:
        return op == "!="
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _math(op: str, a: Any, b: Any) -> Any:
    """pkg/ottl/math.go: int64 with int64 stays int64 (wrapping, integer division), float64 with float64; times
    and durations add and subtract; anything else is an error."""
    if isinstance(a, int) and not isinstance(a, bool) and isinstance(b, int) and not isinstance(b, bool):
        if op == "+":
            return wrap_int(a + b)
        if op == "-":
            return wrap_int(a - b)
        if op == "*":
            return wrap_int(a * b)
        if b == 0:
            raise ZeroDivisionError("attempted to divide by 0")
        q = abs(a) // abs(b)
        return wrap_int(q if (a >= 0) == (b >= 0) else -q)
    if isinstance(a, float) and isinstance(b, float):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise ZeroDivisionError("attempted to divide by 0")
        return a / b
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime) and op == "-":
        return a - b
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.timedelta) and op in "+-":
        return a + b if op == "+" else a - b
    if isinstance(a, datetime.timedelta) and isinstance(b, datetime.timedelta) and op in "+-":
        return a + b if op == "+" else a - b
    raise TypeError(f"{type_name(a)} {op} {type_name(b)} is not supported")


def compile_statement(statement: Statement, context: str) -> Callable[[contexts.Ctx], None]:
    c = Compiler(context, statement.text)
    run = c.editor(statement.editor)
    if statement.where is None:
        return run
    test = c.condition(statement.where)

    def guarded(ctx: contexts.Ctx) -> None:
        if test(ctx):
            run(ctx)
    return guarded


def compile_condition(node: Any, context: str, text: str) -> Callable[[contexts.Ctx], bool]:
    return Compiler(context, text).condition(node)


__all__ = ["CompileError", "OTTLSyntaxError", "compare", "compile_condition", "compile_statement"]
