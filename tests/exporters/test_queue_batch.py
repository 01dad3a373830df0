"""otelcol's `sending_queue.batch` (core's exporter/exporterhelper/internal/queuebatch: config.go's keys,
defaults and Validate; partition_batcher.go's rules: a batch is sent at min_size or flush_timeout after its
first request, and with max_size a larger one is split), through a daemon whose otlp_http exporter sends
to a recording OTLP/HTTP sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import testing
from collector.component import Kind, Signal
from collector.config import ConfigErrors, load_config
from collector.exporterhelper.batcher import split
from collector.pdata import count_spans
from collector.testing import spans_request
from tests.conftest import daemon_yaml

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class Sink:
    """Records the span count of every OTLP/HTTP traces request it is sent."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with sink.lock:
                    sink.batches.append(count_spans(ExportTraceServiceRequest.FromString(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def total(self) -> int:
        with self.lock:
            return sum(self.batches)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.server.shutdown()


def start(daemon_factory: Any, sink: Sink, batch: str) -> Any:
    config = daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
exporters:
  otlp_http: {{{{endpoint: "{sink.url}", compression: none, sending_queue: {{{{batch: {batch}}}}}}}}}
""", "traces: {{receivers: [otlp], exporters: [otlp_http]}}")
    return daemon_factory(config)


def send(daemon: Any, spans: int) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(spans_request(spans).SerializeToString(), timeout=5)


@pytest.mark.slow
def test_requests_are_merged_up_to_min_size_and_the_rest_sent_at_flush_timeout(daemon_factory: Any, sink: Sink) -> None:
    daemon = start(daemon_factory, sink, "{{min_size: 10, flush_timeout: 1s}}")
    for _ in range(25):
        send(daemon, 1)
    testing.wait_for(lambda: sink.total() == 20, what="two full batches")
    assert sink.batches == [10, 10]  # the last 5 wait for flush_timeout
    testing.wait_for(lambda: sink.total() == 25, timeout=5, what="the rest after flush_timeout")
    assert sink.batches == [10, 10, 5]
    assert daemon.metric("otelcol_exporter_sent_spans", exporter="otlp_http") == 25
    assert daemon.stop() == 0


@pytest.mark.slow
def test_max_size_splits_a_request_and_shutdown_sends_what_is_pending(daemon_factory: Any, sink: Sink) -> None:
    daemon = start(daemon_factory, sink, "{{min_size: 4, max_size: 4, flush_timeout: 1m}}")
    send(daemon, 10)
    testing.wait_for(lambda: sink.total() == 8, what="two batches of max_size")
    time.sleep(0.3)
    assert sink.batches == [4, 4]
    assert daemon.stop() == 0  # the 2 left are sent at shutdown, not lost
    assert sink.batches == [4, 4, 2]


def test_split_keeps_resources_and_scopes() -> None:
    req = spans_request(5)
    head, tail = split(Signal.TRACES, req, 3, "items")
    assert (count_spans(head), count_spans(tail)) == (3, 2)
    assert head.resource_spans[0].resource == req.resource_spans[0].resource == tail.resource_spans[0].resource
    assert [s.span_id for rs in (head, tail) for r in rs.resource_spans for ss in r.scope_spans for s in ss.spans] == \
        [s.span_id for r in req.resource_spans for ss in r.scope_spans for s in ss.spans]


@pytest.mark.parametrize("batch,error", [
    ("{flush_timeout: 0s}", "sending_queue.batch.flush_timeout: must be positive"),
    ("{min_size: 10, max_size: 5}", "sending_queue.batch.max_size: max_size (5) must be greater or equal to min_size (10)"),
    ("{sizer: requests}", 'sending_queue.batch.sizer: expected one of "items", "bytes", got "requests"'),
    ("{min_size: 5000}", "sending_queue.batch.min_size: min_size must be less than or equal to queue_size"),
])
def test_batch_config_is_checked_as_otelcol(tmp_path: Path, batch: str, error: str) -> None:
    """config.go: BatchConfig.Validate and Config.Validate (min_size <= queue_size when both count the same)."""
    path = tmp_path / "c.yaml"
    path.write_text(f"""
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:1"}}}}}}
exporters:
  otlp_http: {{endpoint: "http://127.0.0.1:2", sending_queue: {{sizer: items, queue_size: 1000, batch: {batch}}}}}
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp_http]}}
""")
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert error in str(info.value)


def test_batch_defaults_are_otelcols(tmp_path: Path) -> None:
    """`batch: {}`: flush_timeout 200ms, min_size 8192, max_size 0, sizer items (the queue's sizer is requests)."""
    path = tmp_path / "c.yaml"
    path.write_text("""
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:1"}}}
exporters:
  otlp_http: {endpoint: "http://127.0.0.1:2", sending_queue: {batch: {}}}
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp_http]}
""")
    config = load_config([str(path)])
    (exporter,) = config.components[Kind.EXPORTER].values()
    batch = exporter.config.sending_queue.batch
    assert (float(batch.flush_timeout), batch.min_size, batch.max_size, batch.resolved_sizer("requests")) == (0.2, 8192, 0, "items")
