"""Fan-out to every exporter at once (issue 6, "Tests"): file + otlp + jaeger + elasticsearch receive the
same spans, and a backend that goes down only fills its own queue: the others, and the client, carry on.

Jaeger and Elasticsearch are the protocol-faithful fakes in tests/fakes/ (no servers install here); the
OTLP backend is a second daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import daemon_yaml
from tests.fakes.elasticsearch import ElasticsearchFake
from tests.fakes.jaeger import FakeJaegerCollector

pytestmark = pytest.mark.slow

SINK = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 50ms}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"""

FANOUT = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 50ms}}
  otlp:
    endpoint: "OTLP_ENDPOINT"
    tls: {{insecure: true}}
    retry_on_failure: &fast {{initial_interval: 100ms, max_interval: 500ms}}
  jaeger:
    endpoint: "JAEGER_ENDPOINT"
    protocol: grpc
    tls: {{insecure: true}}
    retry_on_failure: *fast
  elasticsearch:
    endpoints: ["ES_URL"]
    flush: {{interval: 50ms}}
    retry_on_failure: *fast
""", """
traces: {{receivers: [otlp], exporters: [file, otlp, jaeger, elasticsearch]}}
""")


def file_names(path: Path) -> list[str]:
    if not path.exists():
        return []
    names = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            for rs in orjson.loads(line).get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    names.extend(s["name"] for s in ss.get("spans", ()))
    return names


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_every_exporter_gets_the_same_spans_and_a_dead_backend_stalls_only_its_own_queue(daemon_factory: Any) -> None:
    jaeger = FakeJaegerCollector().start()
    es = ElasticsearchFake().start()
    try:
        sink = daemon_factory(SINK)
        config = FANOUT.replace("OTLP_ENDPOINT", sink.grpc_endpoint).replace("JAEGER_ENDPOINT", jaeger.endpoint).replace("ES_URL", es.url)
        daemon = daemon_factory(config)
        provider = TracerProvider(resource=Resource.create({"service.name": "fanout"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True)))
        tracer = provider.get_tracer("fanout.test")

        def send(names: list[str]) -> float:
            started = time.monotonic()
            for name in names:
                with tracer.start_as_current_span(name):
                    pass
            return time.monotonic() - started

        backends: dict[str, Callable[[], list[str]]] = {
            "file": lambda: file_names(daemon.data / "traces.jsonl"),
            "otlp": lambda: file_names(sink.data / "traces.jsonl"),
            "jaeger": lambda: [span.operation_name for _, span in jaeger.spans()],
            "elasticsearch": lambda: [d["name"] for d in es.documents("traces-generic.otel-default")],
        }

        first = [f"all-up-{i}" for i in range(20)]
        send(first)
        for name, received in backends.items():
            wait_until(lambda r=received: sorted(r()) == sorted(first), 20, f"{name} to receive the first spans")

        jaeger.stop()
        second = [f"jaeger-down-{i}" for i in range(20)]
        client_seconds = send(second)
        # Queued, not waiting for Jaeger: 20 synchronous exports return as fast as with every backend up.
        assert client_seconds < 5, client_seconds
        for name in ("file", "otlp", "elasticsearch"):
            took = wait_until(lambda n=name: sorted(backends[n]()) == sorted(first + second), 10, f"{name} while Jaeger is down")
            print(f"{name}: second batch delivered {took:.2f}s after the client finished, Jaeger down")
        assert daemon.metric("otelcol_exporter_queue_size", exporter="jaeger") > 0

        jaeger.start()  # same port
        wait_until(lambda: sorted(backends["jaeger"]()) == sorted(first + second), 30, "jaeger to catch up after it came back")
        for name, received in backends.items():
            assert sorted(received()) == sorted(first + second), name  # each exactly once
        assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="jaeger") == 0
        provider.shutdown()
    finally:
        jaeger.stop()
        es.stop()
