"""OTTL's converters (otelcol-contrib pkg/ottl/ottlfuncs func_*.go): functions with an uppercase name that
return a value and change nothing. Registered in functions.REGISTRY beside the editors."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import orjson

from .contexts import Ctx
from .functions import Param, _compile_regex, _register, _sha256, _string_like, to_string
from .values import AttrMap, plain, type_name


def _str_arg(v: Any, fname: str, what: str = "target") -> str:
    if not isinstance(v, str):
        raise TypeError(f"{fname}: {what} must be a string, got {type_name(v)}")
    return v


@_register("IsMatch", Param("target", "value"), Param("pattern", "str"))
def _is_match(target: Any, pattern: str) -> Any:
    rx = _compile_regex(pattern, "IsMatch")

    def get(ctx: Ctx) -> bool:
        text = _string_like(target(ctx))
        return text is not None and rx.search(text) is not None
    return get


@_register("Concat", Param("vals", "value"), Param("delimiter", "str"))
def _concat(vals: Any, delimiter: str) -> Any:
    def get(ctx: Ctx) -> str:
        items = vals(ctx)
        if not isinstance(items, list):
            raise TypeError(f"Concat: vals must be a list, got {type_name(items)}")
        return delimiter.join("<nil>" if v is None else to_string(v) for v in items)
    return get


@_register("Split", Param("target", "value"), Param("delimiter", "str"))
def _split(target: Any, delimiter: str) -> Any:
    def get(ctx: Ctx) -> Any:
        v = target(ctx)
        if v is None:
            return None
        text = _str_arg(v, "Split")
        if text == "":
            return []
        return text.split(delimiter) if delimiter else list(text)
    return get


@_register("Substring", Param("target", "value"), Param("start", "value"), Param("length", "value"))
def _substring(target: Any, start: Any, length: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        text = _str_arg(target(ctx), "Substring")
        s, n = start(ctx), length(ctx)
        if not isinstance(s, int) or not isinstance(n, int):
            raise TypeError("Substring: start and length must be ints")
        if s < 0:
            raise ValueError(f"Substring: invalid start for substring function, {s} cannot be negative")
        if n <= 0:
            raise ValueError(f"Substring: invalid length for substring function, {n} cannot be negative or zero")
        raw = text.encode()
        if s + n > len(raw):
            raise ValueError(f"Substring: invalid range for substring function, {s + n} cannot be greater than the length of target string({len(raw)})")
        return raw[s:s + n].decode(errors="replace")
    return get


def _snake(text: str) -> str:
    out = []
    for i, c in enumerate(text):
        if c.isupper() and i and (text[i - 1].islower() or (i + 1 < len(text) and text[i + 1].islower())) and text[i - 1] not in "_-. ":
            out.append("_")
        out.append("_" if c in "-. " else c.lower())
    return "".join(out)


def _camel(text: str) -> str:
    parts = [p for p in _snake(text).split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


@_register("ConvertCase", Param("target", "value"), Param("toCase", "str"))
def _convert_case(target: Any, toCase: str) -> Any:  # noqa: N803
    from .compiler import CompileError

    convert = {"lower": str.lower, "upper": str.upper, "snake": _snake, "camel": _camel}.get(toCase)
    if convert is None:
        raise CompileError(f"ConvertCase: invalid case: {toCase}, allowed cases are: lower, upper, snake, camel")

    def get(ctx: Ctx) -> Any:
        v = target(ctx)
        return None if v is None else convert(_str_arg(v, "ConvertCase"))
    return get


@_register("Int", Param("value", "value"))
def _int(value: Any) -> Any:
    """func_int.go: floats truncate, bools are 1/0, strings parse as base-10 int64; else nil."""
    def get(ctx: Ctx) -> Any:
        v = value(ctx)
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return int(v) if v == v and abs(v) < 2**63 else None
        if isinstance(v, str):
            try:
                n = int(v, 10) if v.strip() == v and v not in ("", "+", "-") else None
            except ValueError:
                return None
            return n if n is not None and -(2**63) <= n < 2**63 else None
        return None
    return get


@_register("Double", Param("value", "value"))
def _double(value: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        v = value(ctx)
        if isinstance(v, bool):
            return 1.0 if v else 0.0
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                return None
        return None
    return get


@_register("String", Param("value", "value"))
def _string(value: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        v = value(ctx)
        return None if v is None else to_string(v)
    return get


def _is(check: Any) -> Any:
    def factory(value: Any) -> Any:
        return lambda ctx: check(value(ctx))
    return factory


for _name, _check in (
    ("IsString", lambda v: isinstance(v, str)),
    ("IsBool", lambda v: isinstance(v, bool)),
    ("IsInt", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    ("IsDouble", lambda v: isinstance(v, float)),
    ("IsMap", lambda v: isinstance(v, (AttrMap, dict))),
    ("IsList", lambda v: isinstance(v, list)),
):
    _register(_name, Param("value", "value"))(_is(_check))


@_register("ParseJSON", Param("target", "value"))
def _parse_json(target: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        text = _str_arg(target(ctx), "ParseJSON")
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError("ParseJSON: the target is not valid JSON") from None
        if not isinstance(parsed, (dict, list)):
            raise ValueError("ParseJSON: the target is not a JSON object or array")
        return parsed
    return get


_register("SHA256", Param("value", "value"), direct=_sha256)(lambda value: lambda ctx: _sha256(value(ctx)))


def _sha1(v: Any) -> Any:
    return None if v is None else hashlib.sha1((_string_like(v) or "").encode()).hexdigest()  # noqa: S324 (otelcol's SHA1)


_register("SHA1", Param("value", "value"), direct=_sha1)(lambda value: lambda ctx: _sha1(value(ctx)))


@_register("Len", Param("target", "value"))
def _len(target: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        v = target(ctx)
        if isinstance(v, str):
            return len(v.encode())  # Go's len: bytes
        if isinstance(v, (bytes, list, dict, AttrMap)):
            return len(v)
        raise TypeError(f"Len: unsupported type {type_name(v)}")
    return get


@_register("Now")
def _now() -> Any:
    return lambda ctx: datetime.datetime.now(datetime.UTC)


def _id_of(width: int, fname: str) -> Any:
    def factory(**args: Any) -> Any:  # otelcol's parameter is named `bytes`
        value = args["bytes"]

        def get(ctx: Ctx) -> Any:
            v = value(ctx)
            if not isinstance(v, (bytes, bytearray)) or len(v) != width:
                raise ValueError(f"{fname}: expected {width} bytes")
            return bytes(v)
        return get
    return factory


_register("TraceID", Param("bytes", "value"))(_id_of(16, "TraceID"))
_register("SpanID", Param("bytes", "value"))(_id_of(8, "SpanID"))


@_register("Hex", Param("value", "value"))
def _hex(value: Any) -> Any:
    def get(ctx: Ctx) -> Any:
        v = value(ctx)
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, str):
            return v.encode().hex()
        if isinstance(v, bool):
            return "01" if v else "00"
        if isinstance(v, int):
            return (v & (2**64 - 1)).to_bytes(8, "big").hex()
        if isinstance(v, float):
            import struct

            return struct.pack(">d", v).hex()
        raise TypeError(f"Hex: unsupported type {type_name(v)}")
    return get


@_register("ExtractPatterns", Param("target", "value"), Param("pattern", "str"))
def _extract_patterns(target: Any, pattern: str) -> Any:
    from .compiler import CompileError

    rx = _compile_regex(pattern, "ExtractPatterns")
    names = [n for n in rx.groupindex]
    if not names:
        raise CompileError("ExtractPatterns: at least 1 named capture group must be supplied in the given regex")

    def get(ctx: Ctx) -> Any:
        text = _str_arg(target(ctx), "ExtractPatterns")
        m = rx.search(text)
        out: dict[str, Any] = {}
        if m is not None:
            for n in names:
                g = m.group(n)
                if g is not None:
                    out[n] = g
        return out
    return get


@_register("Format", Param("format", "str"), Param("vals", "value"))
def _format(format: str, vals: Any) -> Any:  # noqa: A002
    def get(ctx: Ctx) -> str:
        items = vals(ctx)
        if not isinstance(items, list):
            raise TypeError(f"Format: vals must be a list, got {type_name(items)}")
        return go_sprintf(format, [plain(v) for v in items])
    return get


def go_sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf's common verbs: %s %v %d %f %x %q %t %%, with width/precision; a missing argument prints
    %!v(MISSING) and extra ones %!(EXTRA ...), as Go does."""
    import re

    out = []
    i = 0
    pos = 0
    for m in re.finditer(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])", fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        v = args[i]
        i += 1
        if verb in ("s", "v"):
            text = "<nil>" if v is None else (to_string(v) if not isinstance(v, bool) else ("true" if v else "false"))
        elif verb == "d" and isinstance(v, int) and not isinstance(v, bool):
            text = str(v)
        elif verb == "f" and isinstance(v, (int, float)) and not isinstance(v, bool):
            text = f"{float(v):.{int(prec) if prec else 6}f}"
        elif verb == "x" and isinstance(v, int) and not isinstance(v, bool):
            text = format(v, "x")
        elif verb == "x" and isinstance(v, (str, bytes)):
            text = (v.encode() if isinstance(v, str) else v).hex()
        elif verb == "q" and isinstance(v, str):
            text = orjson.dumps(v).decode()
        elif verb == "t" and isinstance(v, bool):
            text = "true" if v else "false"
        else:
            text = f"%!{verb}({type_name(v).lower()}={to_string(v)})"
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width), "0" if "0" in flags and verb in "dfx" else " ")
        out.append(text)
    out.append(fmt[pos:])
    if i < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{type_name(a).lower()}={to_string(a)}" for a in args[i:]) + ")")
    return "".join(out)
