"""The filter processor through the running daemon (otelcol-contrib processor/filterprocessor): OTTL
conditions on spans, span events, log records, metrics and data points drop what they match (traces.go,
logs.go, metrics.go: empty scopes and resources removed, an emptied request not passed on), the
otelcol_processor_filter_*_filtered counters, error_mode, and the config errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.component import Signal
from collector.envelope import Envelope
from collector.testing import Sink, build_chain, wait_for
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import as_dict, attrs, read_json, send


def _config(filter_block: str, mode: str = "ignore") -> str:
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
processors:
  filter:
    error_mode: {mode}
{filter_block}
exporters:
  file/traces: {{{{path: "{{data}}/traces.jsonl"}}}}
  file/logs: {{{{path: "{{data}}/logs.jsonl"}}}}
  file/metrics: {{{{path: "{{data}}/metrics.jsonl"}}}}
""", """
traces: {{receivers: [otlp], processors: [filter], exporters: [file/traces]}}
logs: {{receivers: [otlp], processors: [filter], exporters: [file/logs]}}
metrics: {{receivers: [otlp], processors: [filter], exporters: [file/metrics]}}
""")


def _traces() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for service, names in (("checkout", ["GET /health", "POST /pay"]), ("probe", ["GET /health"])):
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(attrs({"service.name": service}))
        ss = rs.scope_spans.add()
        for i, name in enumerate(names):
            span = ss.spans.add(name=name, trace_id=bytes(range(16)), span_id=bytes([i + 1]) * 8)
            span.attributes.extend(attrs({"http.route": name.split()[1]}))
            span.events.add(name="retry").attributes.extend(attrs({"attempt": 1}))
            span.events.add(name="exception")
    return request


def test_spans_and_span_events(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config("""
    traces:
      span:
        - 'attributes["http.route"] == "/health"'
      spanevent:
        - 'name == "retry" and span.name == "POST /pay"'
"""))
    send(daemon, Signal.TRACES, _traces())
    (request,) = wait_for(lambda: (p := daemon.data / "traces.jsonl").exists() and read_json(p, Signal.TRACES), what="the traces")
    # the probe's resource had only a health span: removed with its scope
    assert [as_dict(rs.resource.attributes)["service.name"] for rs in request.resource_spans] == ["checkout"]
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert span.name == "POST /pay" and [e.name for e in span.events] == ["exception"]
    assert daemon.metric("otelcol_processor_filter_spans_filtered", filter="filter") == 2


def test_a_request_filtered_to_nothing_is_answered_and_not_passed_on(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config("""
    traces:
      span: ['IsMatch(name, ".*")']
"""))
    send(daemon, Signal.TRACES, _traces())  # success for the client
    wait_for(lambda: daemon.metric("otelcol_processor_filter_spans_filtered", filter="filter") == 3, what="the count")
    assert not (daemon.data / "traces.jsonl").exists() or not (daemon.data / "traces.jsonl").read_bytes().strip()


def test_log_records_metrics_and_data_points(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config("""
    logs:
      log_record:
        - 'severity_number < SEVERITY_NUMBER_WARN'
    metrics:
      metric:
        - 'name == "debug.noise"'
      datapoint:
        - 'attributes["env"] == "test"'
"""))
    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add().scope_logs.add().log_records
    records.add(severity_number=9).body.string_value = "info"
    records.add(severity_number=17).body.string_value = "error"
    send(daemon, Signal.LOGS, logs)
    metrics = ExportMetricsServiceRequest()
    sm = metrics.resource_metrics.add().scope_metrics.add()
    noise = sm.metrics.add(name="debug.noise")
    noise.gauge.data_points.add(as_int=1)
    kept = sm.metrics.add(name="requests")
    for env in ("prod", "test"):
        kept.sum.data_points.add(as_int=5).attributes.extend(attrs({"env": env}))
    only_test = sm.metrics.add(name="only.test")
    only_test.gauge.data_points.add(as_double=1.0).attributes.extend(attrs({"env": "test"}))
    send(daemon, Signal.METRICS, metrics)
    (got_logs,) = wait_for(lambda: (p := daemon.data / "logs.jsonl").exists() and read_json(p, Signal.LOGS), what="logs")
    assert [r.body.string_value for r in got_logs.resource_logs[0].scope_logs[0].log_records] == ["error"]
    (got,) = wait_for(lambda: (p := daemon.data / "metrics.jsonl").exists() and read_json(p, Signal.METRICS), what="metrics")
    (metric,) = got.resource_metrics[0].scope_metrics[0].metrics
    assert metric.name == "requests" and [as_dict(d.attributes) for d in metric.sum.data_points] == [{"env": "prod"}]
    assert daemon.metric("otelcol_processor_filter_logs_filtered", filter="filter") == 1
    assert daemon.metric("otelcol_processor_filter_datapoints_filtered", filter="filter") == 3


@pytest.mark.parametrize(("mode", "refused"), [("ignore", False), ("propagate", True)])
def test_a_condition_that_fails_follows_error_mode(daemon_factory: Any, mode: str, refused: bool) -> None:
    """`Substring` past the end of a short name fails: propagate (otelcol's default) fails the request, ignore keeps the span."""
    daemon = daemon_factory(_config("""
    traces:
      span: ['Substring(name, 0, 6) == "GET /h"']
""", mode))
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(name="GET", trace_id=bytes(range(16)), span_id=bytes(range(8)))
    spans.add(name="GET /health", trace_id=bytes(range(16)), span_id=bytes(range(1, 9)))
    if refused:
        with pytest.raises(grpc.RpcError) as info:
            send(daemon, Signal.TRACES, request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "GET" not in (info.value.details() or "")
        return
    send(daemon, Signal.TRACES, request)
    (got,) = wait_for(lambda: (p := daemon.data / "traces.jsonl").exists() and read_json(p, Signal.TRACES), what="traces")
    assert [s.name for s in got.resource_spans[0].scope_spans[0].spans] == ["GET"]


def test_config_errors(tmp_path: Path) -> None:
    from collector.cli import main
    from tests.conftest import run_in_process

    path = tmp_path / "c.yaml"
    path.write_text(_config("""
    traces:
      span: ['IsMatch(nme, "x")']
    spans:
      include:
        match_type: strict
        services: [a]
""").format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    result = run_in_process(main, "validate", "--config", str(path))
    assert result.returncode == 1
    assert f'{path}:11: processors.filter.traces.span[0]: invalid path "nme" for the span context (at column 9 of' in result.stderr
    assert f"{path}:12: processors.filter.spans: otelcol's include/exclude match blocks are not supported here" in result.stderr


@pytest.mark.parametrize("mode", ["ignore", "silent"])
def test_a_failing_condition_does_not_stop_the_next(mode: str) -> None:
    # pkg/ottl ConditionSequence.Eval (the filter's conditions, filterottl.NewBoolExprForSpan): under ignore and
    # silent a condition that fails is skipped and the conditions after it are still evaluated.
    async def run() -> list[str]:
        sink = Sink()
        chain = await build_chain([f"filter={{error_mode: {mode}, traces: {{span: ['Substring(name, 0, 6) == \"GET /h\"', 'name == \"GET\"']}}}}"], sink)
        request = ExportTraceServiceRequest()
        spans = request.resource_spans.add().scope_spans.add().spans
        spans.add(name="GET", trace_id=bytes(range(16)), span_id=bytes(range(8)))
        spans.add(name="POST /items", trace_id=bytes(range(16)), span_id=bytes(range(1, 9)))
        await chain.head.consume(Envelope(Signal.TRACES, request))
        await chain.shutdown()
        return [s.name for s in sink.spans]

    assert asyncio.run(run()) == ["POST /items"]
