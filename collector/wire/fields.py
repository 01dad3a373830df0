"""The protobuf field numbers and wire types that code reading or writing OTLP bytes uses, by name.

Each class is a message of opentelemetry-proto v1 (or Jaeger's api_v2), each constant one of its fields,
named as in the .proto (upper-cased); tests/wire/test_wire.py checks every constant against the generated
message's descriptor. Only fields some walk or encoder in collector/ names are here. Hot code binds the
ones it compares against to module-level names at import.
"""

from __future__ import annotations

# Wire types (the low three bits of a tag).
VARINT = 0
I64 = 1
LEN = 2
I32 = 5


def tag(field: int, wire_type: int) -> int:
    """A field's tag as the integer a reader compares a decoded tag (or, below 128, its one byte) with."""
    return field << 3 | wire_type


# opentelemetry.proto.collector.{trace,logs,metrics}.v1


class ExportTraceServiceRequest:
    RESOURCE_SPANS = 1


class ExportLogsServiceRequest:
    RESOURCE_LOGS = 1


class ExportMetricsServiceRequest:
    RESOURCE_METRICS = 1


# opentelemetry.proto.trace.v1


class ResourceSpans:
    RESOURCE = 1
    SCOPE_SPANS = 2
    SCHEMA_URL = 3


class ScopeSpans:
    SCOPE = 1
    SPANS = 2
    SCHEMA_URL = 3


class Span:
    TRACE_ID = 1
    SPAN_ID = 2
    TRACE_STATE = 3
    NAME = 5
    KIND = 6
    START_TIME_UNIX_NANO = 7
    END_TIME_UNIX_NANO = 8
    ATTRIBUTES = 9
    EVENTS = 11
    LINKS = 13
    STATUS = 15


class Event:  # Span.Event
    ATTRIBUTES = 3


class Status:
    CODE = 3


# opentelemetry.proto.logs.v1


class ResourceLogs:
    RESOURCE = 1
    SCOPE_LOGS = 2
    SCHEMA_URL = 3


class ScopeLogs:
    SCOPE = 1
    LOG_RECORDS = 2
    SCHEMA_URL = 3


class LogRecord:
    TRACE_ID = 9


# opentelemetry.proto.metrics.v1


class ResourceMetrics:
    RESOURCE = 1
    SCOPE_METRICS = 2
    SCHEMA_URL = 3


class ScopeMetrics:
    SCOPE = 1
    METRICS = 2
    SCHEMA_URL = 3


class Metric:
    # The `data` oneof.
    GAUGE = 5
    SUM = 7
    HISTOGRAM = 9
    EXPONENTIAL_HISTOGRAM = 10
    SUMMARY = 11


class Gauge:
    DATA_POINTS = 1


class Sum:
    DATA_POINTS = 1


class Histogram:
    DATA_POINTS = 1


class ExponentialHistogram:
    DATA_POINTS = 1


class Summary:
    DATA_POINTS = 1


# opentelemetry.proto.common.v1


class InstrumentationScope:
    NAME = 1
    VERSION = 2


class KeyValue:
    KEY = 1
    VALUE = 2


class AnyValue:
    STRING_VALUE = 1
    BOOL_VALUE = 2
    INT_VALUE = 3
    DOUBLE_VALUE = 4
    ARRAY_VALUE = 5
    KVLIST_VALUE = 6
    BYTES_VALUE = 7
    STRING_VALUE_STRINDEX = 8


# jaeger.api_v2 (collector/jaeger_proto/api_v2.proto)


class PostSpansRequest:
    BATCH = 1
