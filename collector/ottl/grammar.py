"""OTTL's grammar: a lexer and a recursive-descent parser giving the syntax tree of a statement or a condition.

It follows otelcol-contrib's pkg/ottl/grammar.go rule for rule (the participle grammar there, with its
lexer's token rules in the same order), so that what otelcol parses parses here into the same structure and
what it refuses is refused, with the position of the problem:

    statement   := editor ( "where" boolean )?
    boolean     := term ( "or" term )*
    term        := bvalue ( "and" bvalue )*
    bvalue      := "not"? ( comparison | Boolean | converter | "(" boolean ")" )
    comparison  := value OP value                     OP: == != < <= > >=
    value       := "nil" | math | Bytes | String | Boolean | Enum | map | list
    math        := addsub ( ("+"|"-") addsub )*       a lone literal stays a literal
    addsub      := mvalue ( ("*"|"/") mvalue )*
    mvalue      := converter | Float | Int | path | "(" math ")"
    editor      := lowercase-name "(" args ")"        converter := Uppercase-name "(" args ")" key*
    args        := ( ( name "=" )? ( value | Uppercase-name ) ),*
    path        := ( context "." )? field ( "." field )*    field := name key*    key := "[" (String|Int) "]"
    map         := "{" ( String ":" value ","? )* "}"      list := "[" value? ( "," value )* "]"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class OTTLSyntaxError(ValueError):
    """A statement or condition that does not parse: `position` is the character offset of the problem."""

    def __init__(self, message: str, text: str, position: int):
        self.reason = message
        self.text = text
        self.position = position
        super().__init__(f"{message} at column {position + 1} of {text!r}")


# pkg/ottl/grammar.go buildLexer: the rules in its order (the first that matches at a position wins).
_RULES = [
    ("Bytes", r"0x[a-fA-F0-9]+"),
    ("Float", r"[-+]?\d*\.\d+([eE][-+]?\d+)?"),
    ("Int", r"[-+]?\d+"),
    ("String", r'"(\\.|[^\\"])*"'),
    ("OpNot", r"\b(not)\b"),
    ("OpOr", r"\b(or)\b"),
    ("OpAnd", r"\b(and)\b"),
    ("OpComparison", r"==|!=|>=|<=|>|<"),
    ("OpAddSub", r"\+|\-"),
    ("OpMultDiv", r"\/|\*"),
    ("Boolean", r"\b(true|false)\b"),
    ("Equal", r"="),
    ("LParen", r"\("),
    ("RParen", r"\)"),
    ("LBrace", r"\{"),
    ("RBrace", r"\}"),
    ("Colon", r"\:"),
    ("Punct", r"[,.\[\]]"),
    ("Uppercase", r"[A-Z][A-Z0-9_]*"),
    ("Lowercase", r"[a-z][a-z0-9_]*"),
    ("whitespace", r"\s+"),
]
_LEXER = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _RULES))


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    pos: int
    end: int


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _LEXER.match(text, pos)
        if m is None or m.end() == pos:
            raise OTTLSyntaxError(f"invalid input {text[pos]!r}", text, pos)
        kind = m.lastgroup
        assert kind is not None
        if kind != "whitespace":
            tokens.append(Token(kind, m.group(), pos, m.end()))
        pos = m.end()
    return tokens


# The syntax tree. Values are Literal, Path, Call, MathExpr, ListExpr, MapExpr, EnumSymbol.
@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # None (nil), bool, int, float, str, bytes


@dataclass(frozen=True, slots=True)
class EnumSymbol:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    keys: tuple[str | int, ...] = ()


@dataclass(frozen=True, slots=True)
class Path:
    context: str  # "" when the path names none
    fields: tuple[Field, ...]
    pos: int

    def __str__(self) -> str:
        parts = [self.context] if self.context else []
        for f in self.fields:
            parts.append(f.name + "".join(f'["{k}"]' if isinstance(k, str) else f"[{k}]" for k in f.keys))
        return ".".join(parts)


@dataclass(frozen=True, slots=True)
class Argument:
    name: str  # "" when positional
    value: Any  # a value node, or FunctionName
    pos: int


@dataclass(frozen=True, slots=True)
class FunctionName:
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Argument, ...]
    keys: tuple[str | int, ...]
    pos: int
    editor: bool


@dataclass(frozen=True, slots=True)
class MathExpr:
    op: str  # + - * /
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class MapExpr:
    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Not:
    operand: Any


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    editor: Call
    where: Any = None  # a boolean node, or None
    text: str = field(default="", compare=False)


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def unquote(token: str, text: str, pos: int) -> str:
    """A String token's value, with Go's escapes (strconv.Unquote, which participle applies)."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise OTTLSyntaxError(f"invalid escape \\{e} in string", text, pos + 1 + i)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e.isdigit():
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise OTTLSyntaxError("invalid octal escape in string", text, pos + 1 + i)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise OTTLSyntaxError(f"invalid escape \\{e} in string", text, pos + 1 + i)
    return "".join(out)


class _Committed(Exception):
    """A syntax error after a comparison operator: no other reading of the condition can get past it."""

    def __init__(self, error: OTTLSyntaxError):
        self.error = error


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- helpers
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, kind: str, text: str | None = None, offset: int = 0) -> bool:
        t = self.peek(offset)
        return t is not None and t.kind == kind and (text is None or t.text == text)

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, message: str) -> OTTLSyntaxError:
        t = self.peek()
        if t is None:
            return OTTLSyntaxError(message + " (unexpected end)", self.text, len(self.text))
        return OTTLSyntaxError(f"{message} (unexpected {t.text!r})", self.text, t.pos)

    def expect(self, kind: str, text: str | None = None, what: str = "") -> Token:
        if not self.at(kind, text):
            raise self.fail(f"expected {what or text or kind}")
        return self.take()

    def name(self, first: str) -> tuple[str, int]:
        """A function name: a `first`-kind token followed by adjacent Uppercase/Lowercase tokens (`IsMatch` lexes as
        I, s, M, atch, as in otelcol)."""
        t = self.expect(first)
        parts, end = [t.text], t.end
        while (n := self.peek()) is not None and n.kind in ("Uppercase", "Lowercase") and n.pos == end:
            parts.append(n.text)
            end = n.end
            self.i += 1
        return "".join(parts), t.pos

    def done(self) -> None:
        if self.peek() is not None:
            raise self.fail("expected the end")

    # -- statements
    def statement(self) -> Statement:
        if self.at("Uppercase"):
            name, pos = self.name("Uppercase")
            raise OTTLSyntaxError(f"editor names must start with a lowercase letter but got '{name}'", self.text, pos)
        if not self.at("Lowercase"):
            raise self.fail("expected an editor")
        editor = self.call(editor=True)
        if editor.keys:
            raise OTTLSyntaxError(f"only paths and converters may be indexed, not editors, but got {editor.name}", self.text, editor.pos)
        where = None
        if self.at("Lowercase", "where"):
            self.take()
            where = self.boolean()
        self.done()
        return Statement(editor, where, self.text)

    def call(self, editor: bool) -> Call:
        name, pos = self.name("Lowercase" if editor else "Uppercase")
        self.expect("LParen", what='"("')
        args: list[Argument] = []
        if not self.at("RParen"):
            while True:
                args.append(self.argument())
                if self.at("Punct", ","):
                    self.take()
                    continue
                break
        self.expect("RParen", what='")" or ","')
        keys = self.keys()
        return Call(name, tuple(args), keys, pos, editor)

    def argument(self) -> Argument:
        t = self.peek()
        pos = t.pos if t is not None else len(self.text)
        name = ""
        if self.at("Lowercase") and self.at("Equal", offset=1):
            name = self.take().text
            self.take()
        # A bare Uppercase name not followed by "(" is a function name argument, or an enum: otelcol's grammar tries
        # value first, whose Enum alternative takes a single Uppercase token not followed by a Lowercase one.
        if self.at("Uppercase") and not self._call_ahead():
            start = self.i
            fname, _ = self.name("Uppercase")
            if self.i - start == 1 and not self.at("LParen"):
                return Argument(name, EnumSymbol(fname, pos), pos)
            return Argument(name, FunctionName(fname), pos)
        return Argument(name, self.value(), pos)

    def _call_ahead(self) -> bool:
        j, end = self.i, None
        while j < len(self.tokens) and self.tokens[j].kind in ("Uppercase", "Lowercase") and (end is None or self.tokens[j].pos == end):
            end = self.tokens[j].end
            j += 1
        return j < len(self.tokens) and self.tokens[j].kind == "LParen"

    def keys(self) -> tuple[str | int, ...]:
        keys: list[str | int] = []
        while self.at("Punct", "["):
            self.take()
            if self.at("String"):
                t = self.take()
                keys.append(unquote(t.text, self.text, t.pos))
            elif self.at("Int"):
                keys.append(int(self.take().text))
            else:
                raise self.fail("expected a string or integer key")
            self.expect("Punct", "]", '"]"')
        return tuple(keys)

    # -- conditions
    def boolean(self) -> Any:
        terms = [self.term()]
        while self.at("OpOr"):
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else BoolOp("or", tuple(terms))

    def term(self) -> Any:
        values = [self.bvalue()]
        while self.at("OpAnd"):
            self.take()
            values.append(self.bvalue())
        return values[0] if len(values) == 1 else BoolOp("and", tuple(values))

    def bvalue(self) -> Any:
        negate = False
        if self.at("OpNot"):
            self.take()
            negate = True
        node = self._bvalue()
        return Not(node) if negate else node

    def _bvalue(self) -> Any:
        start = self.i
        first = self.peek()
        # comparison first (as participle tries it first), then a constant, then a parenthesised expression.
        # When every alternative fails, the error reported is the one furthest into the text (where the
        # problem is: `x ==` lacks its value at the end, not at `x`); after a comparison operator nothing
        # but its right-hand value can follow, so an error there is final.
        furthest: OTTLSyntaxError | None = None
        try:
            left = self.value()
            if self.at("OpComparison"):
                op = self.take().text
                try:
                    right = self.value()
                except OTTLSyntaxError as exc:
                    raise _Committed(exc) from None
                return Comparison(op, left, right)
        except _Committed as committed:
            raise committed.error from None
        except OTTLSyntaxError as exc:
            if first is not None and exc.position > first.pos:
                furthest = exc
        self.i = start
        if self.at("Boolean"):
            return Literal(self.take().text == "true")
        if self.at("Uppercase") and self._call_ahead():
            return self.call(editor=False)
        if self.at("LParen"):
            self.take()
            inner = self.boolean()
            self.expect("RParen", what='")"')
            return inner
        if furthest is not None:
            raise furthest
        raise self.fail("expected a comparison, a boolean, a converter or a parenthesised condition")

    # -- values
    def value(self) -> Any:
        t = self.peek()
        if t is None:
            raise self.fail("expected a value")
        if t.kind == "Lowercase" and t.text == "nil" and not self.at("Punct", ".", 1) and not self.at("Punct", "[", 1):
            self.take()
            return Literal(None)
        if t.kind in ("Float", "Int", "Lowercase", "LParen") or (t.kind == "Uppercase" and self._call_ahead()):
            return self.math()
        if t.kind == "Bytes":
            self.take()
            digits = t.text[2:]
            if len(digits) % 2:
                raise OTTLSyntaxError("odd number of hex digits in bytes literal", self.text, t.pos)
            return Literal(bytes.fromhex(digits))
        if t.kind == "String":
            self.take()
            return Literal(unquote(t.text, self.text, t.pos))
        if t.kind == "Boolean":
            self.take()
            return Literal(t.text == "true")
        if t.kind == "Uppercase" and not self.at("Lowercase", offset=1):
            self.take()
            return EnumSymbol(t.text, t.pos)
        if t.kind == "LBrace":
            return self.map()
        if t.kind == "Punct" and t.text == "[":
            return self.list()
        raise self.fail("expected a value")

    def math(self) -> Any:
        node = self.addsub()
        while self.at("OpAddSub"):
            op = self.take().text
            node = MathExpr(op, node, self.addsub())
        return node

    def addsub(self) -> Any:
        node = self.mvalue()
        while self.at("OpMultDiv"):
            op = self.take().text
            node = MathExpr(op, node, self.mvalue())
        return node

    def mvalue(self) -> Any:
        t = self.peek()
        if t is None:
            raise self.fail("expected a value")
        if t.kind == "LParen":
            self.take()
            inner = self.math()
            self.expect("RParen", what='")"')
            return inner
        if t.kind == "Float":
            self.take()
            return Literal(float(t.text))
        if t.kind == "Int":
            self.take()
            return Literal(int(t.text))
        if t.kind == "Uppercase":
            return self.call(editor=False)
        if t.kind == "Lowercase":
            if self._call_ahead():
                name, pos = self.name("Lowercase")
                raise OTTLSyntaxError(f"converter names must start with an uppercase letter but got '{name}'", self.text, pos)
            return self.path()
        raise self.fail("expected a value")

    def path(self) -> Path:
        pos = self.peek().pos  # type: ignore[union-attr]
        fields = [self.field()]
        while self.at("Punct", ".") and self.at("Lowercase", offset=1):
            self.take()
            fields.append(self.field())
        if self.at("Punct", "."):
            self.take()
            raise self.fail("expected a path field")
        # grammar.go's `(@Lowercase '.')?`: a first part without keys followed by more is the context, if it is one
        # (see contexts.py: a first part that names no context is the path's first field).
        return Path("", tuple(fields), pos)

    def field(self) -> Field:
        name = self.expect("Lowercase", what="a path field").text
        return Field(name, self.keys())

    def list(self) -> ListExpr:
        self.expect("Punct", "[")
        items = []
        if not self.at("Punct", "]"):
            items.append(self.value())
            while self.at("Punct", ","):
                self.take()
                items.append(self.value())
        self.expect("Punct", "]", '"]" or ","')
        return ListExpr(tuple(items))

    def map(self) -> MapExpr:
        self.expect("LBrace")
        items = []
        while self.at("String"):
            t = self.take()
            self.expect("Colon", what='":"')
            items.append((unquote(t.text, self.text, t.pos), self.value()))
            if self.at("Punct", ","):
                self.take()
        self.expect("RBrace", what='"}"')
        return MapExpr(tuple(items))


def parse_statement(text: str) -> Statement:
    """The syntax tree of an OTTL statement (`editor(args) where condition`)."""
    return _Parser(text).statement()


def parse_condition(text: str) -> Any:
    """The syntax tree of an OTTL condition (what follows `where`, or a filter/routing condition)."""
    p = _Parser(text)
    node = p.boolean()
    p.done()
    return node


def parse_value(text: str) -> Any:
    """The syntax tree of one OTTL value expression (e.g. a routing statement's argument)."""
    p = _Parser(text)
    node = p.value()
    p.done()
    return node
