"""A value renamed onto an OTel GenAI key is made the type the conventions give that key (semconv.TYPES),
as contrib's genainormalizerprocessor does (internal/otelsemconv/coerce.go): numbers and booleans parsed
from strings the way Go's strconv does, a string wrapped into a one-element string array, an integral double
taken as an int. A value that cannot be made that type is not written (the original stays).

Also here: the string forms Go gives values (pcommon's AsString, encoding/json), which the rebuilt message
JSON needs too (messages.py)."""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from . import semconv

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan)\Z", re.IGNORECASE)
_INT64 = (-(2**63), 2**63 - 1)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64)."""
    if not _INT.match(text):
        return None
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else None


def parse_float(text: str) -> float | None:
    """Go's strconv.ParseFloat(text, 64) for decimal and special forms (out of range is an error)."""
    if _SPECIAL_FLOAT.match(text):
        return float(text)
    if not _FLOAT.match(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def format_float(value: float) -> str:
    """A double as Go's pcommon AsString and encoding/json write it (ES6 number-to-string)."""
    if math.isnan(value) or math.isinf(value):
        return "json: unsupported value: " + ("NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf"))
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = repr(value).partition("e")  # repr uses the exponent form in this range
        mantissa = mantissa.removesuffix(".0")
        sign, digits = ("-", exponent[1:]) if exponent.startswith("-") else ("+", exponent.lstrip("+"))
        return f"{mantissa}e{sign}{int(digits)}"
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def as_string(value: AnyValue) -> str:
    """pcommon's Value.AsString: scalars as text, arrays and maps as JSON, bytes as base64."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "int_value":
        return str(value.int_value)
    if which == "double_value":
        return format_float(value.double_value)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which in ("array_value", "kvlist_value"):
        return go_json(to_python(value))
    return ""


def to_python(value: AnyValue) -> Any:
    """pcommon's Value.AsRaw, maps with their keys sorted as Go marshals them."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [to_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in sorted(value.kvlist_value.values, key=lambda kv: kv.key)}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which is None:
        return None
    return getattr(value, which)


_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json(value: Any) -> str:
    """JSON as Go's encoding/json.Marshal writes it: compact, UTF-8, `<`, `>`, `&`, U+2028 and U+2029
    escaped, doubles in ES6 form, objects in the order given (Go sorts a map's keys: `to_python` and
    messages.py give them sorted where Go's value is a map)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_GO_ESCAPES)
    if isinstance(value, dict):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"no JSON for {type(value).__name__}")


def coerce(target: str, value: AnyValue) -> AnyValue | None:
    """`value` as the type `target` carries, a new AnyValue (the same one for untyped keys); None when it
    cannot be made that type without loss."""
    kind = semconv.TYPES.get(target, semconv.ANY)
    if kind == semconv.ANY:
        return value
    which = value.WhichOneof("value")
    if kind == semconv.STRING:
        if which == "string_value":
            return value
        if which in ("bool_value", "int_value", "double_value"):
            return AnyValue(string_value=as_string(value))
        return None  # maps, arrays, bytes are not stringified
    if kind == semconv.INT:
        if which == "int_value":
            return value
        if which == "double_value":
            f = value.double_value
            if math.isfinite(f) and f == int(f) and _INT64[0] <= int(f) <= _INT64[1]:
                return AnyValue(int_value=int(f))
            return None
        if which == "string_value":
            i = parse_int(value.string_value)
            return None if i is None else AnyValue(int_value=i)
        return None
    if kind == semconv.DOUBLE:
        if which == "double_value":
            return value
        if which == "int_value":
            return AnyValue(double_value=float(value.int_value))
        if which == "string_value":
            parsed = parse_float(value.string_value)
            return None if parsed is None else AnyValue(double_value=parsed)
        return None
    if kind == semconv.STRING_ARRAY:
        if which == "string_value":
            out = AnyValue()
            out.array_value.values.add().string_value = value.string_value
            return out
        if which == "array_value":
            ok = all(v.WhichOneof("value") == "string_value" for v in value.array_value.values)
            return value if ok else None
        return None
    if kind == semconv.BOOLEAN:
        if which == "bool_value":
            return value
        if which == "string_value":
            b = parse_bool(value.string_value)
            return None if b is None else AnyValue(bool_value=b)
        return None
    return None
