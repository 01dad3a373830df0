"""The decoder's converters of parsed JSON values into protobuf field values (integers of every width from
numbers or strings, doubles with "NaN"/"Infinity", bools, strings, base64 bytes, hex trace/span ids, enums
by number or name), and the internal error that collects the JSON path of an invalid value."""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf.descriptor import FieldDescriptor


class _Invalid(Exception):
    """Internal: a reason plus the JSON path collected (innermost first) while unwinding."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []

    def render(self) -> str:
        parts: list[str] = []
        for seg in reversed(self.path):
            if isinstance(seg, int):
                parts.append(f"[{seg}]")
            elif parts:
                parts.append("." + seg)
            else:
                parts.append(seg)
        where = "".join(parts)
        if len(where) > 300:
            where = where[:120] + "..." + where[-160:]
        return f"{where}: {self.reason}" if where else self.reason


def _got(value: Any) -> str:
    """Describe a parsed JSON value for an error message by its kind, never its content (a payload's value
    can be anyone's e-mail or key, and the message reaches logs and the client), e.g. "got a string of 3
    characters"."""
    t = type(value)
    if t is dict:
        return "got an object"
    if t is list:
        return "got an array"
    if t is bool:
        return "got true" if value else "got false"
    if value is None:
        return "got null"
    if t is str:
        return f"got a string of {len(value)} character{'s' if len(value) != 1 else ''}"
    if t is float:
        return "got a fractional number"
    return "got a number"


Converter = Callable[[Any], Any]

_INT_RE = re.compile(r"-?[0-9]+\Z")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def _int_converter(lo: int, hi: int, type_name: str) -> Converter:
    def conv(v: Any) -> int:
        t = type(v)
        if t is int:
            n = v
        elif t is str:
            if _INT_RE.match(v):
                # Bounded before int(): a megabyte of digits must not cost real time.
                if len(v.lstrip("-").lstrip("0")) > 20:
                    raise _Invalid(f"a number out of range for {type_name}")
                n = int(v)
            elif _NUMBER_RE.match(v):
                # Exponent/fraction notation is allowed by proto3 JSON if the value is integral.
                try:
                    dec = Decimal(v)
                except InvalidOperation:
                    raise _Invalid(f"expected an integer, {_got(v)}") from None
                if dec.adjusted() > 20:
                    raise _Invalid(f"a number out of range for {type_name}")
                if dec != dec.to_integral_value():
                    raise _Invalid(f"expected an integer, {_got(v)}")
                n = int(dec)
            else:
                raise _Invalid(f"expected an integer, {_got(v)}")
        elif t is float:
            # e.g. 1.7e18 from a client that computed a timestamp in floating point.
            if not v.is_integer():
                raise _Invalid(f"expected an integer, {_got(v)}")
            n = int(v)
        else:
            raise _Invalid(f"expected an integer, {_got(v)}")
        if n < lo or n > hi:
            raise _Invalid(f"a number out of range for {type_name}")
        return n

    return conv


def _double(v: Any) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int:
        try:
            return float(v)
        except OverflowError:
            raise _Invalid("a number out of range for double") from None
    if t is str:
        if v == "NaN":
            return math.nan
        if v == "Infinity":
            return math.inf
        if v == "-Infinity":
            return -math.inf
        if _NUMBER_RE.match(v):
            f = float(v)
            if f - f == 0.0:
                return f
            raise _Invalid("a number out of range for double")
        raise _Invalid(f'expected a number or "NaN"/"Infinity"/"-Infinity", {_got(v)}')
    raise _Invalid(f"expected a number, {_got(v)}")


_FLOAT_MAX = 3.4028234663852886e38


def _float(v: Any) -> float:
    f = _double(v)
    if f - f == 0.0 and abs(f) > _FLOAT_MAX:
        raise _Invalid("a number out of range for float")
    return f


def _bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise _Invalid(f"expected true or false, {_got(v)}")


def _string(v: Any) -> str:
    if type(v) is str:
        return v
    raise _Invalid(f"expected a string, {_got(v)}")


_URLSAFE_TO_STD = str.maketrans("-_", "+/")


def _bytes(v: Any) -> bytes:
    if type(v) is not str:
        raise _Invalid(f"expected a base64 string, {_got(v)}")
    # proto3 JSON accepts the standard and URL-safe alphabets, padded or not.
    s = v.translate(_URLSAFE_TO_STD)
    s += "=" * (-len(s) % 4)
    try:
        return binascii.a2b_base64(s, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise _Invalid(f"invalid base64 ({exc}), {_got(v)}") from None


def _hex_id_converter(n_bytes: int) -> Converter:
    n_chars = 2 * n_bytes

    def conv(v: Any) -> bytes:
        if type(v) is not str:
            raise _Invalid(f"expected {n_chars} hex characters, {_got(v)}")
        if not v:
            return b""
        if len(v) == n_chars:
            try:
                b = bytes.fromhex(v)
            except ValueError:
                pass
            else:
                if len(b) == n_bytes:
                    return b
        raise _Invalid(f"expected {n_chars} hex characters, {_got(v)}")

    return conv


# OTLP-JSON deviates from proto3 JSON only for these bytes fields (hex instead of base64).
_HEX_ID_BYTES = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}


def _enum_converter(field: FieldDescriptor) -> Converter:
    enum = field.enum_type
    assert enum is not None  # only called for TYPE_ENUM fields, which always have their enum descriptor
    by_name = {v.name: v.number for v in enum.values}
    closed = bool(getattr(enum, "is_closed", False))
    known = frozenset(v.number for v in enum.values)

    def conv(v: Any) -> int:
        t = type(v)
        if t is int:
            n = v
        elif t is str:
            try:
                return by_name[v]
            except KeyError:
                if len(v) > 12 or not _INT_RE.match(v):
                    raise _Invalid(f"unknown {enum.full_name} value ({_got(v)[4:]})") from None
                n = int(v)
        elif t is float and v.is_integer():
            n = int(v)
        else:
            raise _Invalid(f"expected an enum number or name, {_got(v)}")
        if n < -(2**31) or n >= 2**31:
            raise _Invalid(f"a number out of range for enum {enum.full_name}")
        if closed and n not in known:
            raise _Invalid(f"unknown {enum.full_name} value {n}")
        return n

    return conv


_T = FieldDescriptor
_I32 = (-(2**31), 2**31 - 1)
_U32 = (0, 2**32 - 1)
_I64 = (-(2**63), 2**63 - 1)
_U64 = (0, 2**64 - 1)
_SCALAR_CONVERTERS: dict[int, Converter] = {
    _T.TYPE_DOUBLE: _double,
    _T.TYPE_FLOAT: _float,
    _T.TYPE_INT32: _int_converter(*_I32, "int32"),
    _T.TYPE_SINT32: _int_converter(*_I32, "sint32"),
    _T.TYPE_SFIXED32: _int_converter(*_I32, "sfixed32"),
    _T.TYPE_UINT32: _int_converter(*_U32, "uint32"),
    _T.TYPE_FIXED32: _int_converter(*_U32, "fixed32"),
    _T.TYPE_INT64: _int_converter(*_I64, "int64"),
    _T.TYPE_SINT64: _int_converter(*_I64, "sint64"),
    _T.TYPE_SFIXED64: _int_converter(*_I64, "sfixed64"),
    _T.TYPE_UINT64: _int_converter(*_U64, "uint64"),
    _T.TYPE_FIXED64: _int_converter(*_U64, "fixed64"),
    _T.TYPE_BOOL: _bool,
    _T.TYPE_STRING: _string,
    _T.TYPE_BYTES: _bytes,
}
