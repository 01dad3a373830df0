"""Serialized spans read without parsing them: a trace request cut into per-span bytes, the values of one
attribute in span bytes, their numeric sum, and the FNV-1a hash of trace ids. tail_sampling holds the spans
of pending traces as bytes and evaluates its policies over them with these.

The request is cut and single attributes are read through message types of our own (built here at import),
so upb does in C what would otherwise be Python per span or per attribute; `_walks.c`'s `attribute_values`,
`number_sum` and `fnv1a64` (collector.wire.native) go further where they are built, with the functions here
as their reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from . import fields, native
from .encode import tag_bytes, varint


def _wire_views() -> tuple[Any, Any]:
    """(RequestCut, SpanAttributes).

    RequestCut reads an ExportTraceServiceRequest with its resources, scopes and spans as `bytes`: the
    request cut at its field boundaries. SpanAttributes reads a Span with only its attributes, as
    map<string, bytes>: a KeyValue and a map entry are the same on the wire (key = 1, value = 2), so
    upb builds the key -> serialized AnyValue table and skips every other field. A map keeps the last
    of duplicate keys, so it is only read where the key occurs once."""
    pool = descriptor_pool.DescriptorPool()
    package = "llm_collector.tail_sampling"
    file = descriptor_pb2.FileDescriptorProto(name="llm_collector/tail_sampling_wire.proto", package=package, syntax="proto3")
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED

    def message(name: str, fields: list[tuple[str, int, int, int, str]], parent: Any = None) -> Any:
        m = (parent.nested_type if parent is not None else file.message_type).add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    scope_spans, resource_spans, request = fields.ScopeSpans, fields.ResourceSpans, fields.ExportTraceServiceRequest
    message("ScopeSpansCut", [("scope", scope_spans.SCOPE, field.TYPE_BYTES, optional, ""), ("spans", scope_spans.SPANS, field.TYPE_BYTES, repeated, "")])
    message("ResourceSpansCut", [
        ("resource", resource_spans.RESOURCE, field.TYPE_BYTES, optional, ""),
        ("scope_spans", resource_spans.SCOPE_SPANS, field.TYPE_MESSAGE, repeated, f".{package}.ScopeSpansCut"),
    ])
    message("RequestCut", [("resource_spans", request.RESOURCE_SPANS, field.TYPE_MESSAGE, repeated, f".{package}.ResourceSpansCut")])
    attributes = message("SpanAttributes", [("attributes", fields.Span.ATTRIBUTES, field.TYPE_MESSAGE, repeated, f".{package}.SpanAttributes.AttributesEntry")])
    entry = message("AttributesEntry", [("key", fields.KeyValue.KEY, field.TYPE_STRING, optional, ""), ("value", fields.KeyValue.VALUE, field.TYPE_BYTES, optional, "")], attributes)
    entry.options.map_entry = True
    pool.Add(file)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in ("RequestCut", "SpanAttributes"))  # type: ignore[return-value]


_RequestCut, _SpanAttributes = _wire_views()


# --------------------------------------------------------------------------------------------------
# The request cut into spans
# --------------------------------------------------------------------------------------------------

Cut = list[tuple[Any, bytes, list[tuple[Any, bytes, list[bytes]]]]]


def cut(request: Any, payload: bytes | None = None) -> Cut:
    """Per ResourceSpans: (entry, resource bytes, [(ScopeSpans entry, scope bytes, [span bytes])]).

    The request is serialized once (unless `payload`, its current bytes, is given) and read back as
    `_RequestCut`, so upb cuts it into per-span bytes in C: one serialization of the whole request costs
    much less than one per span (upb's fixed cost per call dominates), and no Python runs per span."""
    request_cut = _RequestCut.FromString(payload if payload is not None else request.SerializeToString())
    out: Cut = []
    for rs, rs_cut in zip(request.resource_spans, request_cut.resource_spans, strict=True):
        out.append((rs, rs_cut.resource, [(ss, ss_cut.scope, list(ss_cut.spans)) for ss, ss_cut in zip(rs.scope_spans, rs_cut.scope_spans, strict=True)]))
    return out


# --------------------------------------------------------------------------------------------------
# Attribute lookups in span bytes
# --------------------------------------------------------------------------------------------------

_KEY = tag_bytes(fields.KeyValue.KEY)
_NEEDLES: dict[str, bytes] = {}


def key_needle(key: str) -> bytes:
    """The wire bytes of a KeyValue's key field: in a serialized span (or resource) wherever an attribute
    has that key."""
    needle = _NEEDLES.get(key)
    if needle is None:
        encoded = key.encode()
        needle = _NEEDLES[key] = _KEY + varint(len(encoded)) + encoded
    return needle


def attribute_values(spans: Iterable[bytes], key: str) -> Iterator[Any]:
    """Every value of the attribute `key` in the serialized spans (AnyValue messages), in order.

    The bytes are searched first: a span whose bytes lack the key's wire form has no such attribute (most
    spans, for most keys). A span with a hit is read by the C walk of its fields (`attribute_values`) when
    it is built; else one occurrence is read through the C-built map, and several (a duplicate key, or the
    bytes inside some value) take the exact walk."""
    needle = key_needle(key)
    width = len(needle)
    key_bytes = key.encode()
    in_c = native.attribute_values
    for raw in spans:
        at = raw.find(needle)
        if at < 0:
            continue
        if in_c is not None:
            try:
                values = in_c(raw, key_bytes)
            except ValueError:
                values = None  # not a well-formed span: the parser below says how
            if values is not None:
                for value in values:
                    yield AnyValue.FromString(value)
                continue
        if raw.find(needle, at + width) < 0:
            value = _SpanAttributes.FromString(raw).attributes.get(key)
            if value is not None:
                yield AnyValue.FromString(value)
        else:
            for kv in Span.FromString(raw).attributes:
                if kv.key == key:
                    yield kv.value


def number(value: Any) -> float | None:
    """An AnyValue's number (int or double), else None."""
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return None


def number_sum(spans: list[bytes], key: str) -> float:
    """The sum of the numeric values of the attribute `key` over the serialized spans: one C walk
    (`number_sum`) when it is built, else the lookups above."""
    in_c = native.number_sum
    if in_c is not None:
        try:
            return in_c(spans, key.encode())
        except ValueError:
            pass  # a damaged span: the lookups below fall back to the parser span by span
    total = 0.0
    for value in attribute_values(spans, key):
        n = number(value)
        if n is not None:
            total += n
    return total


# --------------------------------------------------------------------------------------------------
# Trace id hash
# --------------------------------------------------------------------------------------------------

FNV_OFFSET = 0xCBF29CE484222325


def fnv1a64(data: bytes, h: int = FNV_OFFSET) -> int:
    """FNV-1a 64 of `data`, continued from the state `h` (the offset basis by default)."""
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv1a64_hasher() -> Callable[[bytes, int], int]:
    """`fnv1a64` as the C walk computes it (`fnv1a64`) when it is built, else the function above."""
    return native.fnv1a64 or fnv1a64
