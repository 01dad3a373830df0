"""attributes, resource and probabilistic_sampler in the running daemon, configured as otelcol users write them:
spans from the OpenTelemetry SDK over OTLP/gRPC (with a tenant header), logs and metrics posted over OTLP/HTTP,
read back from the file exporter's OTLP JSON. The sampler keeps exactly the spans and log records otelcol
keeps for the same trace ids (processor/probabilisticsamplerprocessor/logsprocessor_test.go TestLogsSampling:
45 of its 100 trace ids at 50% by trace id hash, 57 with a fourth of the records at priority 100)."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator

from collector import otlpjson
from collector.component import Signal
from collector.testing import kv
from tests.conftest import daemon_yaml
from tests.processors.test_attributes_otelcol import attrs_of
from tests.processors.test_probabilistic_sampler_otelcol import log_records_100

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  probabilistic_sampler:
    sampling_percentage: 50
  probabilistic_sampler/logs:
    sampling_percentage: 50
    sampling_priority: priority
    attribute_source: traceID
    fail_closed: false
  attributes:
    include:
      match_type: regexp
      services: ["check.*"]
    exclude:
      match_type: strict
      attributes: [{{key: internal, value: true}}]
    actions:
      - {{key: tenant, from_context: x-tenant, action: insert}}
      - {{key: user.email, action: hash}}
      - {{key: http.target, pattern: '^/api/(?P<api_version>v[0-9]+)/', action: extract}}
      - {{key: peer.ip, from_context: client.address, action: insert}}
  attributes/metrics:
    include: {{match_type: strict, metric_names: [http.server.duration]}}
    actions:
      - {{key: http.route, action: delete}}
      - {{key: region, value: eu-west-1, action: upsert}}
  resource:
    attributes:
      - {{key: deployment.environment, value: production, action: upsert}}
      - {{key: host.name, action: delete}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [probabilistic_sampler, attributes, resource], exporters: [file/traces]}}
logs: {{receivers: [otlp], processors: [probabilistic_sampler/logs, resource], exporters: [file/logs]}}
metrics: {{receivers: [otlp], processors: [attributes/metrics, resource], exporters: [file/metrics]}}
""")


class FixedIds(IdGenerator):
    """otelcol's test trace ids (logsprocessor_test.go TestLogsSampling): 8 zero bytes then byte i eight times,
    i = 1..99 (i = 0 is no valid trace id for an SDK to send)."""

    def __init__(self) -> None:
        self.i = 0

    def generate_span_id(self) -> int:
        return self.i + 1

    def generate_trace_id(self) -> int:
        self.i += 1
        return int.from_bytes(bytes(8) + bytes([self.i]) * 8, "big")


def read(path: Path, signal: Signal) -> list[Any]:
    return [otlpjson.decode(signal, line) for line in path.read_bytes().splitlines()] if path.exists() else []


def post(daemon: Any, path: str, body: bytes) -> None:
    request = urllib.request.Request(f"{daemon.http_url}{path}", data=body, headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import Daemon

    daemon = Daemon(tmp_path_factory.mktemp("attrs"), CONFIG).start()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "laptop"}), id_generator=FixedIds())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True, headers=(("x-tenant", "acme"),))))
    tracer = provider.get_tracer("shop")
    for i in range(1, 100):
        with tracer.start_as_current_span(f"GET {i}") as span:
            span.set_attribute("i", i)
            span.set_attribute("user.email", "john.doe@example.com")
            span.set_attribute("http.target", "/api/v2/orders")
            span.set_attribute("internal", i % 3 == 0)
    provider.force_flush()
    provider.shutdown()

    post(daemon, "/v1/logs", log_records_100().SerializeToString())
    metrics = ExportMetricsServiceRequest()
    rm = metrics.resource_metrics.add()
    rm.resource.attributes.append(kv("host.name", "laptop"))
    sm = rm.scope_metrics.add()
    for name in ("http.server.duration", "queue.depth"):
        sm.metrics.add(name=name).gauge.data_points.add(as_double=1.5).attributes.extend([kv("http.route", "/orders"), kv("region", "local")])
    post(daemon, "/v1/metrics", metrics.SerializeToString())
    sampled = {(policy, kept): daemon.metric("otelcol_processor_probabilistic_sampler_count_traces_sampled", policy=policy, sampled=kept)
               for policy, kept in (("trace_id_hash", "true"), ("trace_id_hash", "false"))}
    logs_sampled = daemon.metric("otelcol_processor_probabilistic_sampler_count_logs_sampled", processor="probabilistic_sampler/logs", sampled="true")
    assert daemon.stop() == 0
    daemon.sampled, daemon.logs_sampled = sampled, logs_sampled
    return daemon


def spans(daemon: Any) -> list[tuple[Any, Any]]:
    return [(rs.resource, s) for r in read(daemon.data / "traces.jsonl", Signal.TRACES) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_the_sampler_keeps_the_trace_ids_otelcol_keeps(run: Any) -> None:
    kept = spans(run)
    assert len(kept) == 45
    # hash_seed mode marks what it kept, as otelcol does: the randomness it used and the threshold (50%).
    assert {s.trace_state.split(";")[-1] for _, s in kept} == {"th:8"}


def test_the_sampler_counts_its_decisions_as_otelcol_does(run: Any) -> None:
    """metadata.yaml telemetry: processor_probabilistic_sampler_count_traces_sampled by policy and sampled."""
    assert run.sampled == {("trace_id_hash", "true"): 45, ("trace_id_hash", "false"): 54}
    assert run.logs_sampled == 57


def test_attributes_actions_apply_to_the_included_spans(run: Any) -> None:
    digest = hashlib.sha256(b"john.doe@example.com").hexdigest()
    for _, span in spans(run):
        attrs = attrs_of(span.attributes)
        if attrs["internal"]:  # excluded: untouched
            assert (attrs["user.email"], "tenant" in attrs, "api_version" in attrs) == ("john.doe@example.com", False, False)
        else:
            assert (attrs["user.email"], attrs["tenant"], attrs["api_version"]) == (digest, "acme", "v2")
        assert "peer.ip" not in attrs


def test_resource_actions_apply_to_every_signal(run: Any) -> None:
    resources = [attrs_of(resource.attributes) for resource, _ in spans(run)]
    resources += [attrs_of(rl.resource.attributes) for r in read(run.data / "logs.jsonl", Signal.LOGS) for rl in r.resource_logs]
    resources += [attrs_of(rm.resource.attributes) for r in read(run.data / "metrics.jsonl", Signal.METRICS) for rm in r.resource_metrics]
    assert len(resources) >= 47
    assert all(r["deployment.environment"] == "production" and "host.name" not in r for r in resources)
    assert {r.get("service.name") for r in resources[:45]} == {"checkout"}


def test_logs_sampler_with_priority(run: Any) -> None:
    records = [rec for r in read(run.data / "logs.jsonl", Signal.LOGS) for rl in r.resource_logs for sl in rl.scope_logs for rec in sl.log_records]
    assert len(records) == 57


def test_metric_data_points_of_selected_metrics(run: Any) -> None:
    metrics = {m.name: attrs_of(m.gauge.data_points[0].attributes)
               for r in read(run.data / "metrics.jsonl", Signal.METRICS) for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert metrics == {"http.server.duration": {"region": "eu-west-1"}, "queue.depth": {"http.route": "/orders", "region": "local"}}


def test_client_address_is_reported_as_having_no_source(run: Any) -> None:
    warnings = [r for r in run.log_records() if r.get("event") == "config key has no effect"]
    assert [w["key"] for w in warnings] == ["processors.attributes.actions[3].from_context"]

