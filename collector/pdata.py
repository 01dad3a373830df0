"""Helpers over the OTLP protobuf request messages, which are the pipeline's data model."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from .component import Rejected, Signal

REQUEST_TYPES: dict[Signal, type] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
}
RESPONSE_TYPES: dict[Signal, type] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
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


_COUNTERS = {Signal.TRACES: count_spans, Signal.LOGS: count_log_records, Signal.METRICS: count_data_points}


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
# value=AnyValue(...)), which builds and copies a temporary message; processors add many.
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
