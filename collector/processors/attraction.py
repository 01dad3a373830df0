"""otelcol's attribute actions (contrib's internal/coreinternal/attraction), shared by the `attributes`
processor (span, log record and data point attributes) and the `resource` processor (resource attributes).

An action list is applied in order to one attribute list (a repeated OTLP `KeyValue` field):

- `insert`, `update`, `upsert`: set `key` from `value`, `from_attribute` (another attribute of the same list)
  or `from_context` (the request's client metadata; `metadata.<name>` or a bare name, several values joined
  with `;`), inserting only when absent, updating only when present, or either;
- `delete`, `hash`: remove, or replace by the SHA-256 hex digest of, `key` and every key matching `pattern`;
- `extract`: the named groups of `pattern` matched against the string value of `key` become attributes;
- `convert`: `key`'s value becomes `converted_type` (`int`, `double` or `string`) when it can.

Config validation gives otelcol's rules (which keys each action takes) with the key at fault.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ..config import Invalid, option
from ..pdata import set_any

ACTIONS = ("insert", "update", "upsert", "delete", "hash", "extract", "convert")
CONVERTED_TYPES = ("int", "double", "string")
# from_context keys with no source in this daemon: receivers carry no client address nor authenticator data.
UNAVAILABLE_CONTEXT = ("client.address", "auth.")


@dataclass
class ActionConfig:
    key: str = option("", "The attribute acted on (delete and hash: this and/or `pattern`).")
    action: str = option("", "insert, update, upsert, delete, hash, extract or convert (any case).")
    value: Any = option(None, "The value to set (insert/update/upsert); its YAML type is kept (string, int, double, bool, list, map).")
    pattern: str = option("", "A regular expression: keys to delete or hash, or (extract) named groups to pull out of `key`'s value.")
    from_attribute: str = option("", "Set the value from this attribute of the same item (insert/update/upsert).")
    from_context: str = option("", "Set the value from the client metadata key (`metadata.<name>` or `<name>`; several values joined with `;`). otelcol's `client.address` and `auth.<name>` have no source here: accepted with a start-up warning, the action does nothing.")
    converted_type: str = option("", "convert: int, double or string.")
    default_value: Any = option(None, "insert/update/upsert: the value set when `value` is unset or empty (e.g. `${ENV}` of a variable that is not set) or `from_attribute` / `from_context` finds nothing.")

    def sources(self) -> int:
        return (self.value is not None) + bool(self.from_attribute) + bool(self.from_context)

    def validate(self) -> None:
        """NewAttrProc's rules (attraction.go), each error at the key it is about."""
        action = self.action.lower()
        if action not in ACTIONS:
            raise Invalid(f'unsupported action "{self.action}" (expected one of {", ".join(ACTIONS)})', "action")
        if action in ("delete", "hash"):
            if not self.key and not self.pattern:
                raise Invalid('at least one of "key" and "pattern" have to be used', "key")
        elif not self.key:
            raise Invalid('missing required field "key"', "key")
        if self.default_value is not None and action not in ("insert", "update", "upsert"):
            raise Invalid(f'action "{action}" does not use the "default_value" field', "default_value")
        if action in ("insert", "update", "upsert"):
            if self.sources() == 0 and self.default_value is None:
                raise Invalid('either field "value", "from_attribute" or "from_context" setting must be specified', "value")
            if self.sources() > 1:
                raise Invalid("multiple value sources are set: use one of value, from_attribute, from_context", "value")
            _no(self, action, "pattern", "converted_type")
            for key in ("value", "default_value"):
                if getattr(self, key) is not None:
                    try:
                        any_value(getattr(self, key))
                    except TypeError:
                        raise Invalid("unsupported value type", key) from None
        elif action in ("delete", "hash"):
            if self.value is not None or self.from_attribute:
                raise Invalid(f'action "{action}" does not use "value" or "from_attribute"', "value" if self.value is not None else "from_attribute")
            if self.pattern:
                compile_pattern(self.pattern)
            _no(self, action, "converted_type")
        elif action == "extract":
            if self.sources():
                raise Invalid(f'action "{action}" does not use a value source field', "value" if self.value is not None else "from_attribute" if self.from_attribute else "from_context")
            if not self.pattern:
                raise Invalid(f'missing required field "pattern" for action "{action}"', "pattern")
            _no(self, action, "converted_type")
            regex = compile_pattern(self.pattern)
            if regex.groups == 0:
                raise Invalid('field "pattern" contains no named matcher groups', "pattern")
            if len(regex.groupindex) != regex.groups:
                raise Invalid('field "pattern" contains at least one unnamed matcher group', "pattern")
        else:  # convert
            if self.sources() or self.pattern:
                raise Invalid(f'action "{action}" does not use value sources or "pattern" field', "pattern" if self.pattern else "value")
            if not self.converted_type:
                raise Invalid(f'missing required field "converted_type" for action "{action}"', "converted_type")
            if self.converted_type not in CONVERTED_TYPES:
                raise Invalid(f'invalid value "{self.converted_type}" (expected int, double or string)', "converted_type")


def _no(action_config: ActionConfig, action: str, *keys: str) -> None:
    for key in keys:
        if getattr(action_config, key):
            raise Invalid(f'action "{action}" does not use the "{key}" field', key)


_GO_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) pattern as Python's re: `(?<name>` is Go's other spelling of `(?P<name>`."""
    try:
        return re.compile(_GO_NAMED_GROUP.sub("(?P<", pattern))
    except re.error as exc:
        raise Invalid(f'field "pattern" has an invalid pattern: {exc}', "pattern") from None


def context_keys_without_source(actions: list[ActionConfig]) -> list[tuple[int, str]]:
    """(index, from_context) of actions reading client data the receivers here do not carry."""
    return [(i, a.from_context) for i, a in enumerate(actions)
            if a.from_context == UNAVAILABLE_CONTEXT[0] or a.from_context.startswith(UNAVAILABLE_CONTEXT[1])]


# Values ---------------------------------------------------------------------------------------------------


def any_value(value: Any) -> AnyValue:
    """pcommon's FromRaw of a YAML value: string, bool, int, double, list or map (TypeError otherwise, and for
    an int outside int64)."""
    out = AnyValue()
    set_any(out, value, big_int="error", other="error")
    return out


def hash_value(value: AnyValue) -> str:
    """sha2Hasher (hasher.go): SHA-256 hex of the string's UTF-8, a bool's one byte, an int's or a double's 8
    little-endian bytes; "" for other kinds (empty, bytes, arrays, maps)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        data = value.string_value.encode()
    elif kind == "bool_value":
        data = b"\x01" if value.bool_value else b"\x00"
    elif kind == "int_value":
        data = struct.pack("<q", value.int_value)
    elif kind == "double_value":
        data = struct.pack("<d", value.double_value)
    else:
        return ""
    return hashlib.sha256(data).hexdigest()


def format_double(f: float) -> str:
    """pcommon's AsString of a double: shortest round-trip digits, positional between 1e-6 and 1e21
    (ECMAScript's rule, as Go's encoding/json), exponent form outside with e-7 rather than e-07."""
    if math.isinf(f) or math.isnan(f):
        return f"json: unsupported value: {'NaN' if math.isnan(f) else ('+Inf' if f > 0 else '-Inf')}"
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = repr(f)
        if "e" not in text:
            text = f"{f:e}"
        mantissa, _, exp = text.partition("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    return format_positional(f)


def format_positional(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): the shortest round-trip digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "-0" if text == "0" and math.copysign(1.0, f) < 0 else text


def _raw(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind is None:
        return None
    return getattr(value, kind)


def as_string(value: AnyValue) -> str:
    """pcommon Value.AsString: the string itself, true/false, decimal ints, format_double, base64 bytes, JSON
    for arrays and maps, "" when empty."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_double(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind in ("array_value", "kvlist_value"):
        return json.dumps(_raw(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return ""


_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)", re.IGNORECASE)
_GO_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): optional sign, digits, within int64."""
    if not _GO_INT.fullmatch(text):
        return None
    n = int(text)
    return n if -(1 << 63) <= n < (1 << 63) else None


def parse_float(text: str) -> float | None:
    """strconv.ParseFloat(s, 64): decimal, hex (0x1p-2), inf/infinity/nan; out of range is an error."""
    if _GO_HEX_FLOAT.fullmatch(text):
        return float.fromhex(text)
    if not _GO_FLOAT.fullmatch(text):
        return None
    f = float(text)
    if math.isinf(f) and "inf" not in text.lower():
        return None
    return f


def _go_int64(f: float) -> int:
    """int64(f) as Go on amd64: truncation; NaN and out-of-range give the minimum int64."""
    if math.isnan(f) or math.isinf(f) or not -(2.0**63) <= f < 2.0**63:
        return -(1 << 63)
    return int(f)


def convert(value: AnyValue, to: str) -> None:
    """convertValue (type_converter.go): in place; a value that cannot be converted stays as it is."""
    kind = value.WhichOneof("value")
    if to == "string":
        if kind != "string_value":
            value.string_value = as_string(value)
    elif to == "int":
        if kind == "double_value":
            value.int_value = _go_int64(value.double_value)
        elif kind == "bool_value":
            value.int_value = 1 if value.bool_value else 0
        elif kind == "string_value":
            n = _parse_int(value.string_value)
            if n is not None:
                value.int_value = n
    elif to == "double":
        if kind == "int_value":
            value.double_value = float(value.int_value)
        elif kind == "bool_value":
            value.double_value = 1.0 if value.bool_value else 0.0
        elif kind == "string_value":
            f = parse_float(value.string_value)
            if f is not None:
                value.double_value = f


# The engine -----------------------------------------------------------------------------------------------


def _find(attrs: Any, key: str) -> Any:
    for kv in attrs:
        if kv.key == key:
            return kv
    return None


def _remove(attrs: Any, key: str) -> None:
    for i, kv in enumerate(attrs):
        if kv.key == key:
            del attrs[i]
            return


def _put(attrs: Any, key: str, value: AnyValue) -> None:
    kv = attrs.add()
    kv.key = key
    kv.value.CopyFrom(value)


def context_value(metadata: Mapping[str, tuple[str, ...]], key: str) -> AnyValue | None:
    """getAttributeValueFromContext: `metadata.<name>` or a bare name from the client metadata (keys are
    case-insensitive), several values joined with `;`. `client.address` and `auth.*` have no source here."""
    if key == UNAVAILABLE_CONTEXT[0] or key.startswith(UNAVAILABLE_CONTEXT[1]):
        return None
    name = key[len("metadata."):] if key.startswith("metadata.") else key
    values = metadata.get(name.lower())
    if not values:
        return None
    return AnyValue(string_value=";".join(values))


Step = Callable[[Any, Mapping[str, tuple[str, ...]]], None]


class AttrProc:
    """The compiled actions of one processor, applied in order by `process`."""

    def __init__(self, actions: list[ActionConfig]):
        self.steps: list[Step] = [self._compile(a) for a in actions]
        self.uses_context = any(a.from_context for a in actions)

    def process(self, attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
        for step in self.steps:
            step(attrs, metadata)

    @staticmethod
    def _compile(a: ActionConfig) -> Step:
        action, key = a.action.lower(), a.key
        regex = compile_pattern(a.pattern) if a.pattern else None
        if action in ("insert", "update", "upsert"):
            default = any_value(a.default_value) if a.default_value is not None else None
            # An empty `value` (what `${VAR}` of an unset variable gives) provides nothing when there is a default.
            constant = any_value(a.value) if a.value is not None and not (a.value == "" and default is not None) else None
            from_attribute, from_context = a.from_attribute, a.from_context

            def source(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> AnyValue | None:
                """getSourceAttributeValue: the value, else from_context, else from_attribute, else the default."""
                if constant is not None:
                    return constant
                if from_context:
                    found_in_context = context_value(metadata, from_context)
                    if found_in_context is not None:
                        return found_in_context
                if from_attribute:
                    found = _find(attrs, from_attribute)
                    if found is not None:
                        return found.value
                return default

            def set_value(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
                value = source(attrs, metadata)
                if value is None:
                    return
                existing = _find(attrs, key)
                if existing is None:
                    if action != "update":
                        _put(attrs, key, value)
                elif action != "insert":
                    existing.value.CopyFrom(value)

            return set_value
        if action in ("delete", "hash"):
            def matching(attrs: Any) -> list[str]:
                return [kv.key for kv in attrs if regex.search(kv.key)] if regex is not None else []

            if action == "delete":
                def delete(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
                    if key:
                        _remove(attrs, key)
                    for k in matching(attrs):
                        _remove(attrs, k)

                return delete

            def hash_one(attrs: Any, k: str) -> None:
                found = _find(attrs, k)
                if found is not None:
                    found.value.string_value = hash_value(found.value)

            def hash_all(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
                if key:
                    hash_one(attrs, key)
                for k in matching(attrs):
                    hash_one(attrs, k)

            return hash_all
        if action == "extract":
            assert regex is not None
            names = [name for name, _ in sorted(regex.groupindex.items(), key=lambda item: item[1])]

            def extract(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
                found = _find(attrs, key)
                if found is None or found.value.WhichOneof("value") != "string_value":
                    return
                m = regex.search(found.value.string_value)
                if m is None:
                    return
                for name, group in zip(names, m.groups(), strict=True):
                    target = _find(attrs, name)
                    if target is None:
                        target = attrs.add()
                        target.key = name
                    target.value.string_value = group or ""

            return extract
        to = a.converted_type

        def convert_one(attrs: Any, metadata: Mapping[str, tuple[str, ...]]) -> None:
            found = _find(attrs, key)
            if found is not None:
                convert(found.value, to)

        return convert_one
