"""The batch processor through the running daemon, with otelcol's keys: size trigger, timeout,
max-size splitting, merging per resource/scope, metadata_keys partitions, flush on shutdown.
Each line of the output file is one batch the processor sent."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.component import Signal
from collector.config import ConfigErrors, load_config
from tests.conftest import daemon_yaml

pytestmark = pytest.mark.slow

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def config(batch: str) -> str:
    return daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: BATCH
exporters:
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""", """
traces: {{receivers: [otlp], processors: [batch], exporters: [file/traces]}}
""").replace("BATCH", batch)


_next_id = [1]


def request(n: int, service: str = "svc") -> bytes:
    spans = []
    for _ in range(n):
        i = _next_id[0]
        _next_id[0] += 1
        spans.append(Span(trace_id=i.to_bytes(16, "big"), span_id=i.to_bytes(8, "big"), name=f"s{i}"))
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]).SerializeToString()


def batches(daemon: Any) -> list[ExportTraceServiceRequest]:
    path = daemon.data / "traces.jsonl"
    if not path.exists():
        return []
    return [otlpjson.decode(Signal.TRACES, line) for line in path.read_bytes().splitlines()]


def sizes(reqs: list[ExportTraceServiceRequest]) -> list[int]:
    return [sum(len(ss.spans) for rs in r.resource_spans for ss in rs.scope_spans) for r in reqs]


def send(daemon: Any, body: bytes) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(body, timeout=10)


def test_size_triggers_a_send_and_requests_merge_per_resource(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{send_batch_size: 10, timeout: 1h}}"))
    for _ in range(3):
        send(daemon, request(4))
    time.sleep(0.3)
    (sent,) = batches(daemon)
    assert sizes([sent]) == [12]
    assert len(sent.resource_spans) == 1 and len(sent.resource_spans[0].scope_spans) == 1  # merged
    assert daemon.metric("otelcol_processor_batch_batch_size_trigger_send", processor="batch") == 1
    assert daemon.stop() == 0


def test_timeout_sends_a_partial_batch(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{send_batch_size: 1000, timeout: 150ms}}"))
    send(daemon, request(3, "a"))
    send(daemon, request(2, "b"))
    time.sleep(0.6)
    (sent,) = batches(daemon)
    assert sizes([sent]) == [5]
    assert {rs.resource.attributes[0].value.string_value for rs in sent.resource_spans} == {"a", "b"}  # kept apart
    assert daemon.metric("otelcol_processor_batch_timeout_trigger_send", processor="batch") == 1
    assert daemon.stop() == 0


def test_max_size_splits_and_timeout_zero_sends_at_once(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{send_batch_size: 5, send_batch_max_size: 5, timeout: 0s}}"))
    send(daemon, request(12))
    time.sleep(0.2)
    assert sizes(batches(daemon)) == [5, 5, 2]
    assert daemon.stop() == 0


def test_shutdown_sends_everything_pending(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{send_batch_size: 100000, timeout: 1h}}"))
    for _ in range(5):
        send(daemon, request(7))
    assert batches(daemon) == []
    assert daemon.stop() == 0
    assert sum(sizes(batches(daemon))) == 35


def test_metadata_keys_batch_each_tenant_separately(daemon_factory: Any) -> None:
    daemon = daemon_factory(config("{{send_batch_size: 1000, timeout: 200ms, metadata_keys: [X-Tenant]}}"))
    for tenant, service in (("acme", "a"), ("globex", "b"), ("acme", "a")):
        req = urllib.request.Request(
            f"{daemon.http_url}/v1/traces", data=request(2, service), headers={"Content-Type": "application/x-protobuf", "X-Tenant": tenant}
        )
        urllib.request.urlopen(req, timeout=10).close()
    time.sleep(0.7)
    sent = batches(daemon)
    by_service = sorted((rs.resource.attributes[0].value.string_value, sizes([b])[0]) for b in sent for rs in b.resource_spans)
    assert by_service == [("a", 4), ("b", 2)] and len(sent) == 2
    assert daemon.stop() == 0


@pytest.mark.parametrize(
    "block,message",
    [
        ("{send_batch_size: 100, send_batch_max_size: 10}", "send_batch_max_size: must be 0 or greater than or equal to send_batch_size (100)"),
        ("{timeout: soon}", 'timeout: expected a duration like "200ms", got "soon"'),
        ("{send_batch_size: -1}", "send_batch_size: must not be negative"),
    ],
)
def test_bad_batch_config(tmp_path: Any, block: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(config(block.replace("{", "{{").replace("}", "}}")).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert message in str(info.value)


def test_an_otelcol_batch_block_pastes_unchanged(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    block = "\n    send_batch_size: 8192\n    send_batch_max_size: 10000\n    timeout: 5s\n    metadata_keys: [tenant_id]\n    metadata_cardinality_limit: 100"
    path.write_text(config(block).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    load_config([str(path)])


def test_split_counts_metric_data_points_and_log_records() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics

    from collector import pdata
    from collector.processors.batch import split

    def gauge(name: str, points: int) -> Metric:
        return Metric(name=name, gauge=Gauge(data_points=[NumberDataPoint(as_int=i) for i in range(points)]))

    metrics = ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=[gauge("a", 3), gauge("b", 3), gauge("c", 9), gauge("d", 1)])])])
    chunks = split(Signal.METRICS, metrics, 6)
    # Whole metrics only: a+b fill 6, c (9 points) travels alone, d starts the next chunk.
    assert [[m.name for m in c.resource_metrics[0].scope_metrics[0].metrics] for c in chunks] == [["a", "b"], ["c"], ["d"]]
    assert sum(pdata.count_items(Signal.METRICS, c) for c in chunks) == 16

    logs = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(time_unix_nano=i) for i in range(7)])])])
    assert [pdata.count_items(Signal.LOGS, c) for c in split(Signal.LOGS, logs, 3)] == [3, 3, 1]
