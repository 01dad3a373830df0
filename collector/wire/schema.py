"""Which fields the OTLP messages have, as a table the C walk `unknown_fields` reads (collector/wire/_walks.c):
whether a serialized request holds a field the schema does not know, which the protobuf parser keeps as an
unknown field and would write out again.

The table is built from the generated messages' descriptors, so it is the schema the parser itself uses.
For each message type reachable from a request (the request is type 0) and each field number below
`stride`, two bytes: the wire types the parser accepts for that field (bit w for wire type w: a field's own,
and for a repeated number also the packed form) and the type of the message a length-delimited field holds
(`NO_CHILD` for strings, bytes and packed numbers). A number the message does not have accepts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from . import native
from .fields import I32, I64, LEN, VARINT

NO_CHILD = 0xFF

_WIRE_TYPE = {
    **dict.fromkeys((FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64), I64),
    **dict.fromkeys((FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32), I32),
    **dict.fromkeys((FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE), LEN),
}


@dataclass(frozen=True)
class Schema:
    """One request type's table: `stride` fields per message type, two bytes each."""

    table: bytes
    stride: int


def build(descriptor: Any) -> Schema:
    """The table of the messages reachable from `descriptor` (a request's message descriptor)."""
    types = [descriptor]
    index = {descriptor.full_name: 0}
    for message in types:  # grows while it is walked: every message type a field holds, once
        for field in message.fields:
            child = field.message_type
            if child is not None and child.full_name not in index:
                index[child.full_name] = len(types)
                types.append(child)
    if len(types) >= NO_CHILD:
        raise ValueError(f"{descriptor.full_name}: {len(types)} message types do not fit the table")
    stride = 1 + max(field.number for message in types for field in message.fields)
    table = bytearray(len(types) * stride * 2)
    for number, message in enumerate(types):
        for field in message.fields:
            wire_type = _WIRE_TYPE.get(field.type, VARINT)
            accepted = 1 << wire_type
            if field.is_repeated and wire_type != LEN:
                accepted |= 1 << LEN  # packed
            at = (number * stride + field.number) * 2
            table[at] = accepted
            table[at + 1] = index[field.message_type.full_name] if field.message_type is not None else NO_CHILD
    return Schema(bytes(table), stride)


def known_only(payload: bytes, schema: Schema) -> bool:
    """True when every field of every message in `payload` is one the schema has, with a wire type the parser
    takes for it: a request parsed from these bytes holds no unknown field. False when some field is not, when
    the bytes cannot be read to the end, and where the C walk is not built (the caller cannot tell)."""
    walk = native.unknown_fields
    return walk is not None and not walk(payload, schema.table, schema.stride)



# The three requests' tables.
TRACES = build(ExportTraceServiceRequest.DESCRIPTOR)
LOGS = build(ExportLogsServiceRequest.DESCRIPTOR)
METRICS = build(ExportMetricsServiceRequest.DESCRIPTOR)
