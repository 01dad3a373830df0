"""The debug exporter prints what passes through to stderr at three verbosity levels, and the daemon's
own log level comes from service.telemetry.logs.level."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

pytestmark = pytest.mark.slow

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  debug: {{verbosity: VERBOSITY}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry:
    logs: {{level: LEVEL}}
    metrics: {{address: null}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug]}}
    logs: {{receivers: [otlp], exporters: [debug]}}
"""

RESOURCE = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="checkout"))])


def send(daemon: Any) -> None:
    channel = grpc.insecure_channel(daemon.grpc_endpoint)
    spans = [
        Span(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="chat gpt-4o", start_time_unix_nano=1_000_000_000, end_time_unix_nano=1_250_000_000, status=Status(code=2)),
        Span(trace_id=bytes(range(1, 17)), span_id=bytes(range(2, 10)), name="retrieve"),
    ]
    traces = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=RESOURCE, scope_spans=[ScopeSpans(spans=spans)])])
    channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(traces.SerializeToString(), timeout=10)
    record = LogRecord(time_unix_nano=1, severity_text="WARN", body=AnyValue(string_value="token budget at 90%"))
    logs = ExportLogsServiceRequest(resource_logs=[ResourceLogs(resource=RESOURCE, scope_logs=[ScopeLogs(log_records=[record])])])
    channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")(logs.SerializeToString(), timeout=10)
    channel.close()


def run(daemon_factory: Any, verbosity: str, level: str = "info") -> str:
    daemon = daemon_factory(CONFIG.replace("VERBOSITY", verbosity).replace("LEVEL", level))
    send(daemon)
    assert daemon.stop() == 0
    return daemon.logs()


def test_basic_prints_one_line_per_request(daemon_factory: Any) -> None:
    out = run(daemon_factory, "basic")
    assert "debug: traces request: 2 spans" in out
    assert "debug: logs request: 1 log records" in out
    assert "chat gpt-4o" not in out


def test_normal_prints_one_line_per_item(daemon_factory: Any) -> None:
    out = run(daemon_factory, "normal")
    assert "checkout 0102030405060708090a0b0c0d0e0f10 0102030405060708 'chat gpt-4o' 250.0ms ERROR" in out
    assert "'retrieve'" in out
    assert "checkout WARN 'token budget at 90%'" in out


def test_detailed_prints_every_field(daemon_factory: Any) -> None:
    out = run(daemon_factory, "detailed")
    assert 'name: "chat gpt-4o"' in out and "end_time_unix_nano: 1250000000" in out
    assert 'string_value: "token budget at 90%"' in out


def test_log_level_from_config_filters_the_daemons_own_logs(daemon_factory: Any) -> None:
    quiet = run(daemon_factory, "basic", level="warn")
    chatty = run(daemon_factory, "basic", level="debug")
    assert '"level":"info"' not in quiet and '"event":"everything is ready' not in quiet
    assert '"level":"info"' in chatty
