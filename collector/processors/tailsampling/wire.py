"""tail_sampling's hot-path machinery on OTLP bytes: the request cut into per-span bytes, attribute lookups
in held spans, number sums and the trace id hash, done by upb or the C walks (`_wire_walks`) where they are
built and by the same logic in Python where they are not.

OTLP bytes are read through message types of our own (built here at import), so upb does in C what would
otherwise be Python per span or per attribute. Nothing here knows about policies: they call these lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ... import pdata

if TYPE_CHECKING:
    from .buffer import TraceData

try:
    from .._wire_walks import attribute_values as _attribute_values_in_c
    from .._wire_walks import fnv1a64 as _fnv1a64_in_c
    from .._wire_walks import number_sum as _number_sum_in_c
except ImportError:  # built without a C compiler: the Python functions below do the same, slower
    _attribute_values_in_c = _fnv1a64_in_c = _number_sum_in_c = None


def _wire_views() -> tuple[Any, Any]:
    """(RequestCut, SpanAttributes).

    RequestCut reads an ExportTraceServiceRequest with its resources, scopes and spans as `bytes`: the
    request cut at its field boundaries. SpanAttributes reads a Span with only field 9, as
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

    message("ScopeSpansCut", [("scope", 1, field.TYPE_BYTES, optional, ""), ("spans", 2, field.TYPE_BYTES, repeated, "")])
    message("ResourceSpansCut", [("resource", 1, field.TYPE_BYTES, optional, ""), ("scope_spans", 2, field.TYPE_MESSAGE, repeated, f".{package}.ScopeSpansCut")])
    message("RequestCut", [("resource_spans", 1, field.TYPE_MESSAGE, repeated, f".{package}.ResourceSpansCut")])
    attributes = message("SpanAttributes", [("attributes", 9, field.TYPE_MESSAGE, repeated, f".{package}.SpanAttributes.AttributesEntry")])
    entry = message("AttributesEntry", [("key", 1, field.TYPE_STRING, optional, ""), ("value", 2, field.TYPE_BYTES, optional, "")], attributes)
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
# Attribute lookups on held spans
# --------------------------------------------------------------------------------------------------

_NEEDLES: dict[str, bytes] = {}


def _needle(key: str) -> bytes:
    """The wire bytes of a KeyValue's key field: in a serialized span wherever an attribute has that key."""
    needle = _NEEDLES.get(key)
    if needle is None:
        encoded = key.encode()
        needle = _NEEDLES[key] = b"\x0a" + pdata.encode_varint(len(encoded)) + encoded
    return needle


def span_attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of the span attribute `key` in the trace (AnyValue messages).

    Held spans are searched as bytes first: a span whose bytes lack the key's wire form has no such
    attribute (most spans, for most keys). A span with a hit is read by the C walk of its fields
    (`_wire_walks.attribute_values`) when it is built; else one occurrence is read through the C-built
    map, and several (a duplicate key, or the bytes inside some value) take the exact walk."""
    if trace._spans is not None:
        for entry in trace._spans:
            for kv in entry[4].attributes:
                if kv.key == key:
                    yield kv.value
        return
    needle = _needle(key)
    width = len(needle)
    key_bytes = key.encode()
    for raw in trace._raw:
        at = raw.find(needle)
        if at < 0:
            continue
        if _attribute_values_in_c is not None:
            try:
                values = _attribute_values_in_c(raw, key_bytes)
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


def resource_attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of the resource attribute `key` over the trace's distinct resources."""
    needle = _needle(key)
    seen: set[int] = set()
    for group in trace.held_groups() if trace._spans is None else trace._spans:
        rshell = group[1]
        if id(rshell) in seen:
            continue
        seen.add(id(rshell))
        if needle in group[0][0]:  # the resource's wire bytes
            for kv in rshell.resource.attributes:
                if kv.key == key:
                    yield kv.value


def attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of `key` on the trace's spans and their resources (AnyValue messages)."""
    yield from resource_attribute_values(trace, key)
    yield from span_attribute_values(trace, key)


def number(value: Any) -> float | None:
    """An AnyValue's number (int or double), else None."""
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return None


def number_sum(trace: TraceData, key: str) -> float:
    """The sum of the numeric values of the span attribute `key` over the trace: one C walk over the held
    spans (`_wire_walks.number_sum`) when it is built, else the lookups above."""
    if trace._spans is None and _number_sum_in_c is not None:
        try:
            return _number_sum_in_c(trace._raw, key.encode())
        except ValueError:
            pass  # a damaged span: the lookups below fall back to the parser span by span
    total = 0.0
    for value in span_attribute_values(trace, key):
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
    """`fnv1a64` as the C walk computes it (`_wire_walks.fnv1a64`) when it is built, else the function above."""
    return _fnv1a64_in_c or fnv1a64
