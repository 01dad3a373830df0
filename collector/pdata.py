"""Helpers over the OTLP protobuf request messages, which are the pipeline's data model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from .component import Rejected, Signal

# The OTLP gRPC service of each signal (its one method is Export).
GRPC_SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
}
REQUEST_TYPES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
}
RESPONSE_TYPES: dict[Signal, type] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
}
# (resources, scopes, items) repeated-field names of each request type.
FIELDS: dict[Signal, tuple[str, str, str]] = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
}
_REJECTED_FIELD = {Signal.TRACES: "rejected_spans", Signal.LOGS: "rejected_log_records", Signal.METRICS: "rejected_data_points"}


def count_spans(req: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


def count_log_records(req: ExportLogsServiceRequest) -> int:
    return sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)


def count_data_points(req: ExportMetricsServiceRequest) -> int:
    total = 0
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


_COUNTERS: dict[Signal, Callable[[Any], int]] = {Signal.TRACES: count_spans, Signal.LOGS: count_log_records, Signal.METRICS: count_data_points}


def count_items(signal: Signal, data: Any) -> int:
    return _COUNTERS[signal](data)


def clone(data: Any) -> Any:
    copy = type(data)()
    copy.CopyFrom(data)
    return copy


def response_bytes(signal: Signal, rejected: Rejected | None) -> bytes:
    """An empty Export*ServiceResponse serialises to zero bytes, which is the common case."""
    if rejected is None or not rejected.count:
        return b""
    return response_message(signal, rejected).SerializeToString()


def response_message(signal: Signal, rejected: Rejected | None) -> Any:
    response = RESPONSE_TYPES[signal]()
    if rejected is not None and rejected.count:
        setattr(response.partial_success, _REJECTED_FIELD[signal], rejected.count)
        response.partial_success.error_message = rejected.message
    return response


# Appending through the returned KeyValue is about half the cost of attributes.add(key=...,
# value=AnyValue(...)), which builds and copies a temporary message; processors add many. Several at
# once cost less still as wire bytes (collector/wire/encode.py).
def add_int(attrs: Any, key: str, value: int) -> None:
    kv = attrs.add()
    kv.key = key
    kv.value.int_value = value


def add_str(attrs: Any, key: str, value: str) -> None:
    kv = attrs.add()
    kv.key = key
    kv.value.string_value = value


def add_double(attrs: Any, key: str, value: float) -> None:
    kv = attrs.add()
    kv.key = key
    kv.value.double_value = value


def add_bool(attrs: Any, key: str, value: bool) -> None:
    kv = attrs.add()
    kv.key = key
    kv.value.bool_value = value


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def wrap_int(v: int) -> int:
    """Go's int64 overflow: wraps around."""
    if INT64_MIN <= v <= INT64_MAX:
        return v
    return (v - INT64_MIN) % (1 << 64) + INT64_MIN


def set_any(out: Any, value: Any, *, big_int: str = "error", other: str = "error") -> None:
    """Writes a Python value into the empty AnyValue `out`, in place: None leaves it empty; bool, int,
    float, str, bytes/bytearray, maps (anything with items(): dict, OTTL's AttrMap) with keys str()-ed, and
    lists/tuples nest; an AnyValue is copied. The two policies callers differ on:
    `big_int` for an int outside int64: "wrap" around as Go's int64 does (OTTL), "string" writes its
    decimal digits (file_log's parsed JSON), "error" raises TypeError (pcommon's FromRaw);
    `other` for any other type: "string" writes str(value), "error" raises TypeError."""
    if value is None:
        return
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            out.int_value = value
        elif big_int == "wrap":
            out.int_value = wrap_int(value)
        elif big_int == "string":
            out.string_value = str(value)
        else:
            raise TypeError("integer out of the int64 range")
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, (bytes, bytearray)):
        out.bytes_value = bytes(value)
    elif isinstance(value, (list, tuple)):
        array = out.array_value
        array.SetInParent()
        for item in value:
            set_any(array.values.add(), item, big_int=big_int, other=other)
    elif isinstance(value, dict) or hasattr(value, "items"):
        kvlist = out.kvlist_value
        kvlist.SetInParent()
        for key, item in list(value.items()):
            set_any(kvlist.values.add(key=str(key)).value, item, big_int=big_int, other=other)
    elif isinstance(value, AnyValue):
        out.CopyFrom(value)
    elif other == "string":
        out.string_value = str(value)
    else:
        raise TypeError(f"no attribute value for {type(value).__name__}")


def resource_key(entry: Any) -> tuple[bytes, str]:
    """Identity of a Resource{Spans,Logs,Metrics} entry's resource, for merging."""
    return entry.resource.SerializeToString(deterministic=True), entry.schema_url


def scope_key(entry: Any) -> tuple[bytes, str]:
    """Identity of a Scope{Spans,Logs,Metrics} entry's scope, for merging."""
    return entry.scope.SerializeToString(deterministic=True), entry.schema_url


class RequestBuilder:
    """Assembles one request from the items of others, with one resource entry per distinct
    (resource, schema_url) and one scope entry per distinct (scope, schema_url) under it."""

    def __init__(self, signal: Signal):
        self.request: Any = REQUEST_TYPES[signal]()  # the signal's request type; callers know which
        self._resources_field, self._scopes_field, self._items_field = FIELDS[signal]
        self._resources: dict[tuple[bytes, str], tuple[Any, dict[tuple[bytes, str], Any]]] = {}

    def resource_for(self, entry: Any, key: tuple[bytes, str] | None = None) -> tuple[Any, dict[tuple[bytes, str], Any]]:
        """The target resource entry matching `entry` (only .resource and .schema_url are read)."""
        key = key if key is not None else resource_key(entry)
        found = self._resources.get(key)
        if found is None:
            target = getattr(self.request, self._resources_field).add()
            target.resource.CopyFrom(entry.resource)
            target.schema_url = entry.schema_url
            found = self._resources[key] = (target, {})
        return found

    def items_for(self, resource: Any, scope: Any, rkey: tuple[bytes, str] | None = None, skey: tuple[bytes, str] | None = None) -> Any:
        """The repeated items field (spans, log_records or metrics) to add to for this resource and scope."""
        target, scopes = self.resource_for(resource, rkey)
        skey = skey if skey is not None else scope_key(scope)
        found = scopes.get(skey)
        if found is None:
            found = getattr(target, self._scopes_field).add()
            found.scope.CopyFrom(scope.scope)
            found.schema_url = scope.schema_url
            scopes[skey] = found
        return getattr(found, self._items_field)
