"""What the OTLP-JSON encoder and decoder share: the error both raise, the request type of each signal and
the alias for a JSON object."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)


class OTLPJSONError(ValueError):
    """Invalid OTLP-JSON input (or a message that cannot be encoded).

    The message starts with the JSON path of the offending value when known, e.g.
    ``resourceSpans[0].scopeSpans[0].spans[3].traceId: expected 32 hex characters, got a string of 3 characters``.
    The value itself is never shown (it may be personal data or a secret).
    """


SIGNALS: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}

JSONDict = dict[str, Any]
