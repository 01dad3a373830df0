"""`unknown_fields`, the redaction gate's test for fields the schema does not know (collector/wire/schema.py),
against the protobuf parser itself: what the parser keeps as unknown fields when it reads the bytes.

Input (_harness.frame): the request type (its first byte: traces, logs or metrics), then the serialized
request. Where the parser reads the bytes, the C walk must answer exactly as it does: True when the parsed
message holds an unknown field (DiscardUnknownFields changes its serialization), False when it does not.
Bytes the parser refuses are a 400 before the gate is asked, so any answer is safe there (the walk does not
check UTF-8, which the parser does).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.wire import native, schema
from fuzz import _harness

KINDS = ((ExportTraceServiceRequest, schema.TRACES), (ExportLogsServiceRequest, schema.LOGS), (ExportMetricsServiceRequest, schema.METRICS))


def encode(kind: int, payload: bytes) -> bytes:
    return _harness.frame(bytes([kind]), payload)


def parser_keeps_unknown_fields(request_type: type, data: bytes) -> bool | None:
    """Whether the parser keeps unknown fields when it reads `data` (None: it refuses the bytes)."""
    try:
        parsed = request_type.FromString(data)  # type: ignore[attr-defined]
    except (DecodeError, RecursionError):
        return None
    bare = request_type()
    bare.CopyFrom(parsed)
    bare.DiscardUnknownFields()
    return bool(bare.SerializeToString() != parsed.SerializeToString())


def test_one_input(data: bytes) -> None:
    which, payload = _harness.unframe(data, 2)
    request_type, table = KINDS[which[0] % len(KINDS)] if which else KINDS[0]
    assert native.unknown_fields is not None
    got = native.unknown_fields(_harness.exact(payload), table.table, table.stride)
    assert type(got) is bool
    want = parser_keeps_unknown_fields(request_type, payload)
    if want is not None:
        assert got == want, (got, want)


if __name__ == "__main__":
    _harness.main(test_one_input)
