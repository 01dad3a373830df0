"""span_metrics through the running daemon: spans sent by the OpenTelemetry Python SDK's OTLP gRPC exporter,
metrics read back from a file exporter. Values, explicit buckets, temporality and start times follow contrib's
connector/spanmetricsconnector (connector_test.go TestConsumeTraces' verifiers, connector.go buildMetrics);
the overflow series follows internal/metrics/metrics.go GetOrCreate."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from collector.component import Signal
from collector.testing import wait_for
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import as_dict, read_json

pytestmark = pytest.mark.slow

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def _tracer(daemon: Any, batched: bool = False) -> tuple[Any, TracerProvider]:
    """The SDK's tracer exporting to the daemon: each span at once, or (`batched`) on force_flush, in one request."""
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "test"}))
    exporter = OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000) if batched else SimpleSpanProcessor(exporter))
    return provider.get_tracer("shop.lib", "2.0"), provider


def _span(tracer: Any, name: str, ms: float, *, error: bool = False, start: int = T0, **attributes: Any) -> None:
    span = tracer.start_span(name, kind=SpanKind.SERVER, start_time=start, attributes=attributes)
    if error:
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=start + int(ms * MS))


def _flushes(path: Path) -> list[Any]:
    return read_json(path, Signal.METRICS) if path.exists() else []


def _metrics(request: Any) -> dict[str, Any]:
    (rm,) = request.resource_metrics
    (sm,) = rm.scope_metrics
    assert sm.scope.name == "spanmetricsconnector"
    assert as_dict(rm.resource.attributes)["service.name"] == "checkout"
    return {m.name: m for m in sm.metrics}


def _points(metric: Any) -> dict[str, Any]:
    data = metric.sum if metric.WhichOneof("data") == "sum" else metric.histogram
    return {as_dict(dp.attributes).get("span.name", "<overflow>"): dp for dp in data.data_points}


def test_cumulative_calls_and_explicit_duration_buckets(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file/metrics: {{path: "{data}/metrics.jsonl"}}
connectors:
  span_metrics:
    metrics_flush_interval: 300ms
    histogram:
      explicit:
        buckets: [5ms, 50ms]
    dimensions:
      - name: http.method
        default: GET
      - name: deployment.environment
""", """
traces: {{receivers: [otlp], exporters: [span_metrics]}}
metrics: {{receivers: [span_metrics], exporters: [file/metrics]}}
"""))
    tracer, provider = _tracer(daemon)
    _span(tracer, "/cart", 10)
    _span(tracer, "/cart", 30, **{"http.method": "POST"})
    _span(tracer, "/cart", 20, **{"http.method": "POST"})
    _span(tracer, "/pay", 100, error=True)
    provider.shutdown()
    path = daemon.data / "metrics.jsonl"

    def complete() -> list[Any]:
        flushes = [f for f in _flushes(path) if f.resource_metrics]
        done = [f for f in flushes if sum(dp.as_int for dp in _metrics(f)["traces.span.metrics.calls"].sum.data_points) == 4]
        return done[:2] if len(done) >= 2 else []
    first, second = wait_for(complete, timeout=30, what="two flushes holding all four spans")
    metrics = _metrics(second)
    assert set(metrics) == {"traces.span.metrics.calls", "traces.span.metrics.duration"}
    calls, duration = metrics["traces.span.metrics.calls"], metrics["traces.span.metrics.duration"]
    assert calls.sum.aggregation_temporality == 2 and calls.sum.is_monotonic
    assert duration.unit == "ms" and duration.histogram.aggregation_temporality == 2
    series = {(as_dict(dp.attributes)["span.name"], as_dict(dp.attributes)["http.method"], as_dict(dp.attributes)["status.code"]): dp
              for dp in calls.sum.data_points}
    assert {k: dp.as_int for k, dp in series.items()} == {
        ("/cart", "GET", "STATUS_CODE_UNSET"): 1, ("/cart", "POST", "STATUS_CODE_UNSET"): 2, ("/pay", "GET", "STATUS_CODE_ERROR"): 1}
    for dp in calls.sum.data_points:
        a = as_dict(dp.attributes)
        assert a["service.name"] == "checkout" and a["span.kind"] == "SPAN_KIND_SERVER" and a["deployment.environment"] == "test"
    # contrib's includeCollectorInstanceID gate (beta, on): the daemon's own service.instance.id on every series
    (instance,) = {as_dict(dp.attributes)["collector.instance.id"] for dp in [*calls.sum.data_points, *duration.histogram.data_points]}
    assert uuid.UUID(instance)
    hist = {(as_dict(dp.attributes)["span.name"], as_dict(dp.attributes)["http.method"]): dp for dp in duration.histogram.data_points}
    assert list(hist["/cart", "POST"].explicit_bounds) == [5.0, 50.0]
    assert [list(hist[k].bucket_counts) for k in (("/cart", "GET"), ("/cart", "POST"), ("/pay", "GET"))] == [[0, 1, 0], [0, 2, 0], [0, 0, 1]]
    assert hist["/cart", "POST"].sum == pytest.approx(50.0) and hist["/pay", "GET"].count == 1
    # cumulative: a later flush repeats the totals with the same start and a later time
    again = _points(_metrics(first)["traces.span.metrics.calls"])["/pay"]
    now = _points(calls)["/pay"]
    assert now.start_time_unix_nano == again.start_time_unix_nano and now.time_unix_nano > again.time_unix_nano
    assert daemon.stop() == 0


def test_delta_with_overflow_under_the_older_type_name(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file/metrics: {{path: "{data}/metrics.jsonl"}}
connectors:
  spanmetrics:
    metrics_flush_interval: 300ms
    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
    aggregation_cardinality_limit: 2
    histogram:
      exponential:
    dimensions_cache_size: 500
""", """
traces: {{receivers: [otlp], exporters: [spanmetrics]}}
metrics: {{receivers: [spanmetrics], exporters: [file/metrics]}}
"""))
    tracer, provider = _tracer(daemon, batched=True)
    for name in ("/a", "/b", "/c", "/d", "/a"):
        _span(tracer, name, 7)
    assert provider.force_flush()  # one request: no flush tick can split it
    path = daemon.data / "metrics.jsonl"

    def with_data() -> list[Any]:
        flushes = [f for f in _flushes(path) if f.resource_metrics]
        total = sum(dp.as_int for f in flushes for dp in _metrics(f)["traces.span.metrics.calls"].sum.data_points)
        return flushes if total == 5 else []
    flushes = wait_for(with_data, timeout=30, what="the five spans counted")
    assert len(flushes) == 1
    (request,) = flushes
    calls = _metrics(request)["traces.span.metrics.calls"]
    assert calls.sum.aggregation_temporality == 1
    assert {name: dp.as_int for name, dp in _points(calls).items()} == {"/a": 2, "/b": 1, "<overflow>": 2}
    (overflow,) = [dp for dp in calls.sum.data_points if "span.name" not in as_dict(dp.attributes)]
    assert as_dict(overflow.attributes) == {"otel.metric.overflow": True}
    duration = _metrics(request)["traces.span.metrics.duration"]
    assert duration.exponential_histogram.aggregation_temporality == 1
    assert [dp.count for dp in duration.exponential_histogram.data_points] == [2, 1, 2]
    first_time = _points(calls)["/a"].time_unix_nano

    # delta: the next point of a series starts where its previous flush ended
    _span(tracer, "/a", 7)
    assert provider.force_flush()
    provider.shutdown()

    def next_one() -> Any:
        later = [f for f in _flushes(path) if f.resource_metrics][1:]
        return later[0] if later else None
    following = _points(_metrics(wait_for(next_one, timeout=30, what="a second flush with data"))["traces.span.metrics.calls"])
    assert following["/a"].as_int == 1 and following["/a"].start_time_unix_nano == first_time
    logs = daemon.logs()
    assert "spanmetrics" in logs and "span_metrics" in logs  # the older name's warning
    assert "dimensions_cache_size" in logs and "config key has no effect" in logs
    assert daemon.stop() == 0
