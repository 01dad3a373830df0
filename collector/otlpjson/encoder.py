"""The OTLP-JSON encoder's entry points: an Export*ServiceRequest -> its walk (spans, logs, metrics) ->
compact JSON bytes serialised once by orjson; and the generic proto3 JSON of the Export*ServiceResponse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from .base import JSONDict, OTLPJSONError
from .logs import _resource_logs
from .metrics import _resource_metrics
from .spans import _resource_spans


def _dumps(obj: JSONDict) -> bytes:
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError as exc:  # e.g. a str holding lone surrogates
        raise OTLPJSONError(f"cannot encode as JSON: {exc}") from exc


def _check_type(message: Any, cls: type[Message]) -> None:
    if type(message) is not cls:
        raise TypeError(f"expected {cls.DESCRIPTOR.full_name}, got {type(message).__name__}")


def encode_traces(req: ExportTraceServiceRequest) -> bytes:
    """ExportTraceServiceRequest -> compact OTLP-JSON (``{"resourceSpans":[...]}``)."""
    _check_type(req, ExportTraceServiceRequest)
    x = req.resource_spans
    try:
        doc = {"resourceSpans": [_resource_spans(rs) for rs in x]} if x else {}
    except RecursionError:
        raise OTLPJSONError("message is nested too deeply to encode") from None
    return _dumps(doc)


def encode_logs(req: ExportLogsServiceRequest) -> bytes:
    """ExportLogsServiceRequest -> compact OTLP-JSON (``{"resourceLogs":[...]}``)."""
    _check_type(req, ExportLogsServiceRequest)
    x = req.resource_logs
    try:
        doc = {"resourceLogs": [_resource_logs(rl) for rl in x]} if x else {}
    except RecursionError:
        raise OTLPJSONError("message is nested too deeply to encode") from None
    return _dumps(doc)


def encode_metrics(req: ExportMetricsServiceRequest) -> bytes:
    """ExportMetricsServiceRequest -> compact OTLP-JSON (``{"resourceMetrics":[...]}``)."""
    _check_type(req, ExportMetricsServiceRequest)
    x = req.resource_metrics
    try:
        doc = {"resourceMetrics": [_resource_metrics(rm) for rm in x]} if x else {}
    except RecursionError:
        raise OTLPJSONError("message is nested too deeply to encode") from None
    return _dumps(doc)


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "traces": encode_traces,
    "logs": encode_logs,
    "metrics": encode_metrics,
}


def encode(signal: str, message: Message) -> bytes:
    """Encode an Export*ServiceRequest for ``signal`` ("traces", "logs" or "metrics")."""
    try:
        encoder = _ENCODERS[signal]
    except KeyError:
        raise ValueError(f"unknown signal {signal!r}; expected one of {sorted(_ENCODERS)}") from None
    return encoder(message)


def encode_response(message: Message) -> bytes:
    """Generic proto3 JSON for Export*ServiceResponse / google.rpc.Status (not a hot path)."""
    obj = json_format.MessageToDict(message, preserving_proto_field_name=False)
    return orjson.dumps(obj)
