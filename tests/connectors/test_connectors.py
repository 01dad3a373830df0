"""forward, routing and count through the running daemon: OTLP gRPC in, file exporters out.

forward follows otelcol's connector/forwardconnector (same signal to same signal); a fan-out where one
branch transforms shows the other branch exporting the data as received. A refusal downstream of a
connector reaches the client (permanent: INVALID_ARGUMENT; retryable: UNAVAILABLE), as
service/internal/graph's fanout and the connector routers return their consumers' errors. routing follows
contrib connector/routingconnector (its README's examples and ConsumeTraces/ConsumeLogs/ConsumeMetrics in
traces.go, logs.go, metrics.go: the first matching route takes the item, the rest goes on, what is left goes
to default_pipelines; a failed condition is no match); count follows contrib connector/countconnector (README
defaults, counter.go update: attributes from the item, scope or resource, default_value, conditions ORed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.component import Signal
from collector.testing import kv, traces_request, wait_for
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import METHODS, as_dict, read_json, send

OTLP = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
"""


def _spans(path: Path, count: int) -> list[Any]:
    def found() -> list[Any]:
        if not path.exists():
            return []
        return [(rs, s) for r in read_json(path, Signal.TRACES) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return wait_for(lambda: (f := found()) and len(f) >= count and f, timeout=20, what=f"{count} spans in {path.name}")


def _span(name: str, i: int, **attributes: Any) -> Span:
    return Span(name=name, trace_id=bytes(range(16)), span_id=(i + 1).to_bytes(8, "big"), attributes=[kv(k, v) for k, v in attributes.items()])


def test_forward_joins_pipelines_and_a_transform_on_one_branch_leaves_the_other_unchanged(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(OTLP + """
processors:
  transform:
    trace_statements: ['set(span.attributes["user"], "redacted")']
exporters:
  file/edited: {{path: "{data}/edited.jsonl"}}
  file/plain: {{path: "{data}/plain.jsonl"}}
connectors:
  forward:
""", """
traces/in: {{receivers: [otlp], exporters: [forward]}}
traces/edited: {{receivers: [forward], processors: [transform], exporters: [file/edited]}}
traces/plain: {{receivers: [forward], exporters: [file/plain]}}
"""))
    send(daemon, Signal.TRACES, traces_request(_span("checkout", 0, user="alice"), resource={"service.name": "shop"}))
    (_, edited), = _spans(daemon.data / "edited.jsonl", 1)
    (rs, plain), = _spans(daemon.data / "plain.jsonl", 1)
    assert as_dict(edited.attributes) == {"user": "redacted"}
    assert as_dict(plain.attributes) == {"user": "alice"}
    assert as_dict(rs.resource.attributes) == {"service.name": "shop"}
    assert "component is configured but not used" not in daemon.logs()


def test_a_permanent_refusal_downstream_of_a_connector_reaches_the_client(daemon_factory: Any) -> None:
    # filter under error_mode propagate fails the request when a condition fails (Substring past the end).
    daemon = daemon_factory(daemon_yaml(OTLP + """
processors:
  filter:
    error_mode: propagate
    traces: {{span: ['Substring(name, 0, 6) == "GET /h"']}}
exporters:
  file/out: {{path: "{data}/out.jsonl"}}
connectors:
  forward:
""", """
traces/in: {{receivers: [otlp], exporters: [forward]}}
traces/out: {{receivers: [forward], processors: [filter], exporters: [file/out]}}
"""))
    with pytest.raises(grpc.RpcError) as info:
        send(daemon, Signal.TRACES, traces_request(_span("GET", 0)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    send(daemon, Signal.TRACES, traces_request(_span("GET /items", 1)))
    assert [s.name for _, s in _spans(daemon.data / "out.jsonl", 1)] == ["GET /items"]


def test_a_retryable_refusal_downstream_of_a_connector_reaches_the_client(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(OTLP + """
exporters:
  otlp/down:
    endpoint: "127.0.0.1:{down}"
    tls: {{insecure: true}}
    timeout: 1s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
connectors:
  routing:
    default_pipelines: [traces/down]
    table:
      - condition: attributes["never"] == true
        pipelines: [traces/down]
""", """
traces/in: {{receivers: [otlp], exporters: [routing]}}
traces/down: {{receivers: [routing], exporters: [otlp/down]}}
"""), extra_ports=("down",))
    with pytest.raises(grpc.RpcError) as info:
        send(daemon, Signal.TRACES, traces_request(_span("a", 0)))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


ROUTING = OTLP + """
exporters:
  file/prod: {{path: "{data}/prod.jsonl"}}
  file/slow: {{path: "{data}/slow.jsonl"}}
  file/acme: {{path: "{data}/acme.jsonl"}}
  file/other: {{path: "{data}/other.jsonl"}}
connectors:
  routing:
    default_pipelines: [traces/other]
    table:
      - context: request
        condition: request["X-Tenant"] == "acme"
        pipelines: [traces/acme]
      - condition: attributes["env"] == "prod"
        pipelines: [traces/prod]
      - context: span
        statement: route() where attributes["slow"] == true
        pipelines: [traces/slow]
"""
ROUTING_PIPELINES = """
traces/in: {{receivers: [otlp], exporters: [routing]}}
traces/prod: {{receivers: [routing], exporters: [file/prod]}}
traces/slow: {{receivers: [routing], exporters: [file/slow]}}
traces/acme: {{receivers: [routing], exporters: [file/acme]}}
traces/other: {{receivers: [routing], exporters: [file/other]}}
"""


def test_routing_splits_a_request_by_resource_span_and_request_metadata(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(ROUTING, ROUTING_PIPELINES))
    request = traces_request(_span("p-fast", 0), _span("p-slow", 1, slow=True), resource={"env": "prod"})
    dev = request.resource_spans.add()
    dev.resource.attributes.append(kv("env", "dev"))
    dev.scope_spans.add().spans.extend([_span("d-fast", 2), _span("d-slow", 3, slow=True)])
    send(daemon, Signal.TRACES, request)
    # The resource route comes first and takes all of prod; the span route takes dev's slow span.
    assert sorted(s.name for _, s in _spans(daemon.data / "prod.jsonl", 2)) == ["p-fast", "p-slow"]
    ((rs, slow),) = _spans(daemon.data / "slow.jsonl", 1)
    assert slow.name == "d-slow" and as_dict(rs.resource.attributes) == {"env": "dev"}
    assert [s.name for _, s in _spans(daemon.data / "other.jsonl", 1)] == ["d-fast"]
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(METHODS[Signal.TRACES])(traces_request(_span("tenant", 4), resource={"env": "prod"}).SerializeToString(),
                                                    metadata=(("x-tenant", "acme"),), timeout=30)
    assert [s.name for _, s in _spans(daemon.data / "acme.jsonl", 1)] == ["tenant"]
    assert daemon.stop() == 0
    assert len(_spans(daemon.data / "prod.jsonl", 2)) == 2  # the tenant's request went to acme only


def test_routing_logs_by_severity_as_the_readme_example(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(OTLP + """
exporters:
  file/cheap: {{path: "{data}/cheap.jsonl"}}
  file/service1: {{path: "{data}/service1.jsonl"}}
connectors:
  routing:
    table:
      - context: log
        condition: severity_number < SEVERITY_NUMBER_ERROR
        pipelines: [logs/cheap]
      - context: resource
        condition: attributes["service.name"] == "service1"
        pipelines: [logs/service1]
""", """
logs/in: {{receivers: [otlp], exporters: [routing]}}
logs/cheap: {{receivers: [routing], exporters: [file/cheap]}}
logs/service1: {{receivers: [routing], exporters: [file/service1]}}
"""))
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", "service1"))
    records = rl.scope_logs.add().log_records
    records.add(severity_number=9).body.string_value = "info"
    records.add(severity_number=17).body.string_value = "error"
    send(daemon, Signal.LOGS, request)

    def bodies(name: str) -> list[str]:
        path = daemon.data / name
        if not path.exists():
            return []
        return [lr.body.string_value for r in read_json(path, Signal.LOGS) for rl in r.resource_logs for sl in rl.scope_logs for lr in sl.log_records]
    assert wait_for(lambda: bodies("cheap.jsonl"), timeout=20) == ["info"]
    assert wait_for(lambda: bodies("service1.jsonl"), timeout=20) == ["error"]


def _points(path: Path) -> dict[str, list[tuple[dict[str, Any], int]]]:
    out: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for r in read_json(path, Signal.METRICS):
        for rm in r.resource_metrics:
            for sm in rm.scope_metrics:
                assert sm.scope.name == "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector"
                for m in sm.metrics:
                    assert m.sum.is_monotonic and m.sum.aggregation_temporality == 1
                    out.setdefault(m.name, []).extend((as_dict(dp.attributes), dp.as_int) for dp in m.sum.data_points)
    return out


def test_count_by_default_counts_spans_and_span_events(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(OTLP + """
exporters:
  file/metrics: {{path: "{data}/metrics.jsonl"}}
  file/traces: {{path: "{data}/traces.jsonl"}}
connectors:
  count:
""", """
traces: {{receivers: [otlp], exporters: [file/traces, count]}}
metrics: {{receivers: [count], exporters: [file/metrics]}}
"""))
    span = _span("a", 0)
    span.events.add(name="e1")
    span.events.add(name="e2")
    send(daemon, Signal.TRACES, traces_request(span, _span("b", 1), resource={"service.name": "shop"}))
    path = daemon.data / "metrics.jsonl"
    wait_for(lambda: path.exists() and path.stat().st_size > 0, timeout=20)
    assert _points(path) == {"trace.span.count": [({}, 2)], "trace.span.event.count": [({}, 2)]}
    assert len(_spans(daemon.data / "traces.jsonl", 2)) == 2


def test_count_with_conditions_and_attributes(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(OTLP + """
exporters:
  file/metrics: {{path: "{data}/metrics.jsonl"}}
connectors:
  count:
    spans:
      llm.calls:
        description: Calls per model.
        conditions: ['attributes["gen_ai.operation.name"] == "chat"']
        attributes:
          - key: gen_ai.request.model
            default_value: unknown
          - key: service.name
""", """
traces: {{receivers: [otlp], exporters: [count]}}
metrics: {{receivers: [count], exporters: [file/metrics]}}
"""))
    chat = {"gen_ai.operation.name": "chat"}
    send(daemon, Signal.TRACES, traces_request(
        _span("c1", 0, **chat, **{"gen_ai.request.model": "gpt-4o"}),
        _span("c2", 1, **chat, **{"gen_ai.request.model": "gpt-4o"}),
        _span("c3", 2, **chat),
        _span("embed", 3, **{"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "gpt-4o"}),
        resource={"service.name": "shop"}))
    path = daemon.data / "metrics.jsonl"
    wait_for(lambda: path.exists() and path.stat().st_size > 0, timeout=20)
    # The span's attribute, else its resource's (service.name), else default_value; span events keep their default.
    assert _points(path) == {
        "llm.calls": [({"gen_ai.request.model": "gpt-4o", "service.name": "shop"}, 2), ({"gen_ai.request.model": "unknown", "service.name": "shop"}, 1)],
    }


def test_metrics_routed_by_data_point_and_counted_by_metric_and_data_point(daemon_factory: Any) -> None:
    """routing's datapoint context moves single points (the metric is copied around them, as contrib's
    pmetricutil MoveDataPointsWithContextIf); count's metrics/datapoints defaults count what arrives; a condition
    failing under error_mode ignore is logged and the point counts as not matched (goes to the default)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    daemon = daemon_factory(daemon_yaml(OTLP + """
exporters:
  file/red: {{path: "{data}/red.jsonl"}}
  file/rest: {{path: "{data}/rest.jsonl"}}
  file/counts: {{path: "{data}/counts.jsonl"}}
connectors:
  count:
  routing:
    error_mode: ignore
    default_pipelines: [metrics/rest]
    table:
      - context: datapoint
        condition: Substring(attributes["color"], 0, 3) == "red"
        pipelines: [metrics/red]
""", """
metrics/in: {{receivers: [otlp], exporters: [routing, count]}}
metrics/red: {{receivers: [routing], exporters: [file/red]}}
metrics/rest: {{receivers: [routing], exporters: [file/rest]}}
metrics/counts: {{receivers: [count], exporters: [file/counts]}}
"""))
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="requests", unit="1")
    metric.sum.aggregation_temporality = 2
    for i, color in enumerate(["red", "blue", "re", "reddish"]):
        metric.sum.data_points.add(as_int=i, attributes=[kv("color", color)])
    send(daemon, Signal.METRICS, request)

    def points(name: str) -> list[tuple[str, int, str]]:
        path = daemon.data / name
        if not path.exists():
            return []
        return [(m.name, dp.as_int, m.unit) for r in read_json(path, Signal.METRICS) for rm in r.resource_metrics
                for sm in rm.scope_metrics for m in sm.metrics for dp in m.sum.data_points]
    assert wait_for(lambda: points("red.jsonl"), timeout=20) == [("requests", 0, "1"), ("requests", 3, "1")]
    assert wait_for(lambda: points("rest.jsonl"), timeout=20) == [("requests", 1, "1"), ("requests", 2, "1")]
    counts = daemon.data / "counts.jsonl"
    wait_for(lambda: counts.exists() and counts.stat().st_size > 0, timeout=20)
    assert _points(counts) == {"metric.count": [({}, 1)], "metric.datapoint.count": [({}, 4)]}
    assert "failed to evaluate routing conditions" in daemon.logs()
