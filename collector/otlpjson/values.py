"""The encoder's walk of what every signal shares: doubles (non-finite ones as strings), bytes as base64,
AnyValue, attribute lists (the hottest loop of the encoder), entity references, Resource and
InstrumentationScope, each as the dict orjson serialises."""

from __future__ import annotations

import binascii
import math
from collections.abc import Iterable
from typing import Any

from .base import JSONDict, OTLPJSONError

_copysign = math.copysign
_b2a_base64 = binascii.b2a_base64


def _nonfinite(x: float) -> str:
    if x != x:
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _f64(x: float) -> float | str:
    # x - x is 0.0 for every finite double and NaN for NaN/±inf; orjson would write null.
    return x if x - x == 0.0 else _nonfinite(x)


def _f64_list(xs: Iterable[float]) -> list[float] | list[float | str]:
    values = list(xs)
    total = sum(values)
    # A finite sum proves every element is finite (inf/NaN are absorbing).
    if total - total == 0.0:
        return values
    return [x if x - x == 0.0 else _nonfinite(x) for x in values]


def _f64_set(x: float) -> bool:
    # proto3 implicit-presence doubles: -0.0 is serialised (and compares unequal to
    # 0.0 in the message), so it must survive the round trip.
    return bool(x) or _copysign(1.0, x) < 0.0


def _b64(b: bytes) -> str:
    return _b2a_base64(b, newline=False).decode("ascii")


def _any(v: Any) -> JSONDict:
    """AnyValue -> dict, every oneof alternative (the common ones are inlined in _attrs)."""
    x = v.string_value
    if x:
        return {"stringValue": x}
    w = v.WhichOneof("value")
    if w is None:
        return {}
    if w == "string_value":
        return {"stringValue": v.string_value}
    if w == "int_value":
        return {"intValue": str(v.int_value)}
    if w == "double_value":
        return {"doubleValue": _f64(v.double_value)}
    if w == "bool_value":
        return {"boolValue": v.bool_value}
    if w == "array_value":
        values = v.array_value.values
        return {"arrayValue": {"values": [_any(x) for x in values]} if values else {}}
    if w == "kvlist_value":
        kvs = v.kvlist_value.values
        return {"kvlistValue": {"values": _attrs(kvs)} if kvs else {}}
    if w == "bytes_value":
        return {"bytesValue": _b64(v.bytes_value)}
    if w == "string_value_strindex":
        return {"stringValueStrindex": v.string_value_strindex}
    raise OTLPJSONError(f"AnyValue: unsupported value kind {w!r}")


def _kv(kv: Any) -> JSONDict:
    d: JSONDict = {}
    x = kv.key
    if x:
        d["key"] = x
    if kv.HasField("value"):
        d["value"] = _any(kv.value)
    x = kv.key_strindex
    if x:
        d["keyStrindex"] = x
    return d


def _attrs(kvs: Any) -> list[JSONDict]:
    """Repeated KeyValue -> list; the hottest loop of the encoder."""
    out: list[JSONDict] = []
    append = out.append
    # Slicing materialises all wrappers in one C call, a little cheaper than iterating.
    for kv in kvs[:]:
        v = kv.value
        # A non-default member proves which alternative the oneof holds, so probing
        # the common types directly is cheaper than WhichOneof (a method call).
        x = v.string_value
        if x:
            k = kv.key
            if k and not kv.key_strindex:
                append({"key": k, "value": {"stringValue": x}})
            else:
                append(_kv(kv))
            continue
        x = v.int_value
        if x:
            val: JSONDict = {"intValue": str(x)}
        else:
            x = v.double_value
            if x:
                val = {"doubleValue": x if x - x == 0.0 else _nonfinite(x)}
            elif v.bool_value:
                val = {"boolValue": True}
            elif v.WhichOneof("value") == "array_value":
                values = v.array_value.values
                val = {"arrayValue": {"values": [_any(a) for a in values]} if values else {}}
            else:
                # Default-valued members, kvlists, bytes, strindex, unset values.
                append(_kv(kv))
                continue
        k = kv.key
        if k and not kv.key_strindex:
            append({"key": k, "value": val})
        else:
            append(_kv(kv))
    return out


def _entity_ref(e: Any) -> JSONDict:
    d: JSONDict = {}
    x = e.schema_url
    if x:
        d["schemaUrl"] = x
    x = e.type
    if x:
        d["type"] = x
    x = e.id_keys
    if x:
        d["idKeys"] = list(x)
    x = e.description_keys
    if x:
        d["descriptionKeys"] = list(x)
    return d


def _resource(r: Any) -> JSONDict:
    d: JSONDict = {}
    x = r.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = r.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    x = r.entity_refs
    if x:
        d["entityRefs"] = [_entity_ref(e) for e in x]
    return d


def _scope(s: Any) -> JSONDict:
    d: JSONDict = {}
    x = s.name
    if x:
        d["name"] = x
    x = s.version
    if x:
        d["version"] = x
    x = s.attributes
    if x:
        d["attributes"] = _attrs(x)
    x = s.dropped_attributes_count
    if x:
        d["droppedAttributesCount"] = x
    return d
