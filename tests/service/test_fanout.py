"""What a fan-out acknowledges, through the running daemon with the OpenTelemetry SDK as the client:

- an error no retry can fix (a group_by value naming a file where another value made a directory) refuses
  only its own items as OTLP partial success and is counted, instead of a 503 that clients retry forever
  while the other exporters write every attempt again;
- when one exporter fails retryably and another took the request, the client's retry (the same bytes) goes
  only to the exporter that failed: every exporter ends with exactly one copy.

otelcol's fanoutconsumer (consumer/internal/fanoutconsumer/traces.go, Traces.ConsumeTraces) joins the
branches' errors, so the client retries the whole request into every branch; this daemon remembers which
branches took it (collector/service.py, FanOut).
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector.testing import kv, wait_for

pytestmark = pytest.mark.slow

HEALTH_AND_METRICS = """
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry:
    metrics: {{address: "127.0.0.1:{metrics}"}}
"""


def spans_in(path: Path) -> list[str]:
    names = []
    if path.exists():
        for line in path.read_bytes().splitlines():
            for rs in orjson.loads(line)["resourceSpans"]:
                for ss in rs.get("scopeSpans", []):
                    names += [s["name"] for s in ss.get("spans", [])]
    return names


def metric(daemon: Any, name: str, **labels: str) -> float:
    try:
        return float(daemon.metric(name, **labels))
    except KeyError:  # not exported yet
        return 0.0


def post(daemon: Any, tenant: str, name: str, count: int = 1) -> tuple[int, Any]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("tenant", tenant))
    for i in range(count):
        span = rs.scope_spans.add().spans.add() if i == 0 else rs.scope_spans[0].spans.add()
        span.trace_id, span.span_id, span.name = bytes([1 + i]) * 16, bytes([1 + i]) * 8, name
    http = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(http, timeout=10) as response:
        return response.status, trace_service_pb2.ExportTraceServiceResponse.FromString(response.read())


def test_a_path_conflict_refuses_its_items_once_and_the_other_exporter_writes_one_copy(daemon_factory: Any) -> None:
    daemon = daemon_factory("""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{http}"}}}}}}
exporters:
  file/tenants:
    path: "{data}/tenants/*"
    group_by: {{enabled: true, resource_attribute: tenant}}
  file/all: {{path: "{data}/all.jsonl"}}
""" + HEALTH_AND_METRICS + """
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/tenants, file/all]}}
""")
    assert post(daemon, "dir1/file", "first")[0] == 200
    # "dir1" names a file where "dir1/file" made a directory: no retry can ever write it.
    status, response = post(daemon, "dir1", "second", count=3)
    assert status == 200
    assert response.partial_success.rejected_spans == 3
    assert "for " in response.partial_success.error_message and "refused" in response.partial_success.error_message
    assert post(daemon, "other", "third")[0] == 200
    assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="file/tenants") == 3
    assert daemon.stop() == 0
    assert spans_in(daemon.data / "all.jsonl") == ["first", "second", "second", "second", "third"]
    assert spans_in(daemon.data / "tenants" / "dir1" / "file") == ["first"]
    assert spans_in(daemon.data / "tenants" / "other") == ["third"]


@pytest.mark.parametrize("encoder_process", [True, False], ids=["encoder-process", "in-process"])
def test_the_conflict_is_permanent_on_both_write_paths(daemon_factory: Any, encoder_process: bool) -> None:
    daemon = daemon_factory(f"""
receivers:
  otlp: {{{{protocols: {{{{http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}}}}}}}}}
exporters:
  file/tenants:
    path: "{{data}}/tenants/*"
    encoder_process: {str(encoder_process).lower()}
    group_by: {{{{enabled: true, resource_attribute: tenant}}}}
""" + HEALTH_AND_METRICS + """
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/tenants]}}
""")
    assert post(daemon, "a/b", "first")[0] == 200
    status, response = post(daemon, "a", "second", count=2)
    assert status == 200 and response.partial_success.rejected_spans == 2
    assert daemon.stop() == 0


def test_a_retry_after_one_exporter_failed_is_written_once_by_each(daemon_factory: Any) -> None:
    """The SDK's OTLP/HTTP exporter retries 503 with backoff, resending the same bytes. The otlp exporter's
    backend is down for the first attempts; the file exporter took the first one. After the backend comes
    up, both have the span exactly once, and the metric counts what was not handed to the file again."""
    backend = daemon_factory("""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{grpc}"}}}}}}
exporters:
  file/traces: {{path: "{data}/backend.jsonl"}}
""" + HEALTH_AND_METRICS + """
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/traces]}}
""", start=False, subdir="backend")
    daemon = daemon_factory("""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{http}"}}}}}}
exporters:
  file/local: {{path: "{data}/local.jsonl"}}
  otlp/backend:
    endpoint: "127.0.0.1:BACKEND"
    tls: {{insecure: true}}
    timeout: 1s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
""".replace("BACKEND", str(backend.ports["grpc"])) + HEALTH_AND_METRICS + """
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/local, otlp/backend]}}
""", subdir="front")

    provider = TracerProvider(resource=Resource.create({"service.name": "fanout-test"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{daemon.http_url}/v1/traces", timeout=30)))
    import threading

    sender = threading.Thread(target=lambda: provider.get_tracer("t").start_span("the-span").end())
    sender.start()
    # The first attempt reached the file and failed on the backend; the client is backing off.
    wait_for(lambda: metric(daemon, "otelcol_exporter_send_failed_spans", exporter="otlp/backend") >= 1, timeout=15)
    backend.start()
    sender.join(timeout=60)
    assert not sender.is_alive()
    provider.shutdown()

    wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans", exporter="otlp/backend") == 1, timeout=15)
    skipped = daemon.metric("llm_collector_fanout_retry_skipped_items", fanout="pipeline/traces")
    failed_attempts = daemon.metric("otelcol_exporter_send_failed_spans", exporter="otlp/backend")
    assert daemon.metric("otelcol_exporter_sent_spans", exporter="file/local") == 1
    assert skipped == failed_attempts >= 1  # every retry skipped the file exporter
    assert daemon.stop() == 0
    assert backend.stop() == 0
    assert spans_in(daemon.data / "local.jsonl") == ["the-span"]
    assert spans_in(backend.data / "backend.jsonl") == ["the-span"]


def test_without_failures_nothing_is_digested_or_skipped(daemon_factory: Any) -> None:
    daemon = daemon_factory("""
receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:{http}"}}}}}}
exporters:
  file/a: {{path: "{data}/a.jsonl"}}
  file/b: {{path: "{data}/b.jsonl"}}
""" + HEALTH_AND_METRICS + """
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/a, file/b]}}
""")
    for i in range(3):
        assert post(daemon, "t", f"s{i}")[0] == 200
    time.sleep(0.2)
    assert daemon.metric("llm_collector_fanout_retry_skipped_items", fanout="pipeline/traces") == 0
    assert daemon.stop() == 0
    assert spans_in(daemon.data / "a.jsonl") == spans_in(daemon.data / "b.jsonl") == ["s0", "s1", "s2"]
