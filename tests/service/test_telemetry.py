"""Self-telemetry through the running daemon: otelcol-named Prometheus metrics labelled by component
id, and structlog JSON logs where every line names its component."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.metrics import Counter, Gauge, Histogram, Registry

pytestmark = pytest.mark.slow


def post(daemon: Any, path: str, body: bytes) -> int:
    request = urllib.request.Request(f"{daemon.http_url}{path}", data=body, headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_metrics_use_otelcol_names_and_component_labels(daemon: Any) -> None:
    spans = [Span(trace_id=b"\x01" * 16, span_id=i.to_bytes(8, "big"), name="s") for i in range(1, 8)]
    bad = Span(trace_id=b"\x00" * 16, span_id=b"\x01" * 8, name="zero trace id")
    post(daemon, "/v1/traces", ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[*spans, bad])])]).SerializeToString())
    logs = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(time_unix_nano=1)] * 3)])])
    post(daemon, "/v1/logs", logs.SerializeToString())

    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="otlp", transport="http") == 7
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="otlp", transport="http") == 1
    assert daemon.metric("otelcol_exporter_sent_spans", exporter="file/traces") == 7
    assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="file/traces") == 0
    assert daemon.metric("otelcol_receiver_accepted_log_records", receiver="otlp", transport="http") == 3
    assert daemon.metric("otelcol_exporter_sent_log_records", exporter="file/logs") == 3
    assert daemon.metric("otelcol_process_memory_rss") > 10e6
    assert daemon.metric("otelcol_process_cpu_seconds") > 0
    assert daemon.metric("otelcol_process_uptime") > 0
    text = daemon.metrics()
    assert "# TYPE otelcol_receiver_accepted_spans counter" in text
    assert "_total" not in text  # otelcol's names, which existing dashboards query
    # Exporters only expose series for the signals they actually handle.
    assert 'otelcol_exporter_sent_log_records{exporter="file/traces"}' not in text


def test_every_log_line_is_json_and_names_its_component(daemon: Any) -> None:
    assert daemon.stop() == 0
    records = daemon.log_records()
    raw_lines = [line for line in daemon.logs().splitlines() if line.strip()]
    assert len(records) == len(raw_lines) > 5
    assert all("component" in r and "level" in r and "ts" in r for r in records)
    components = {r["component"] for r in records}
    assert {"service", "otlp", "file/traces", "health_check"} <= components


def test_health_is_503_until_ready_and_while_draining(daemon_factory: Any) -> None:
    """Probe the health endpoint throughout start-up and shutdown: never 200 before the receivers
    listen, and 503 (not connection refused) while draining."""
    import json
    import threading
    import time
    import urllib.error

    daemon = daemon_factory(start=False)
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def probe() -> None:
        url = f"http://127.0.0.1:{daemon.ports['health']}/"
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    seen.append((time.monotonic(), r.status))
                    assert json.loads(r.read())["status"] == "Server available"
            except urllib.error.HTTPError as e:
                seen.append((time.monotonic(), e.code))
            except OSError:
                pass
            time.sleep(0.002)

    thread = threading.Thread(target=probe)
    thread.start()
    daemon.start()
    # Healthy means the OTLP ports already accept.
    import socket

    socket.create_connection(("127.0.0.1", daemon.ports["grpc"]), timeout=2).close()
    assert daemon.stop() == 0
    stop.set()
    thread.join()
    statuses = [s for _, s in seen]
    assert 200 in statuses
    assert set(statuses) <= {200, 503}
    assert daemon.startup_seconds < 5


def test_registry_renders_prometheus_text_format() -> None:
    registry = Registry()
    c = registry.get_or_create(Counter, "c", "a counter", ("k",))
    c.labels('v"1\n').inc(2)  # type: ignore[attr-defined]
    g = registry.get_or_create(Gauge, "g", "a gauge", ())
    g.labels().set(1.5)  # type: ignore[attr-defined]
    h = registry.get_or_create(Histogram, "h", "a histogram", (), buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 5):
        h.labels().observe(v)  # type: ignore[attr-defined]
    text = registry.exposition().decode()
    assert 'c{k="v\\"1\\n"} 2' in text
    assert "g 1.5" in text
    assert 'h_bucket{le="0.1"} 1' in text and 'h_bucket{le="1"} 2' in text and 'h_bucket{le="+Inf"} 3' in text
    assert "h_count 3" in text and "h_sum 5.55" in text
    with pytest.raises(ValueError):
        registry.get_or_create(Gauge, "c", "clash", ("k",))


def test_warns_when_protobuf_runs_on_the_pure_python_backend(daemon_factory: Any) -> None:
    slow = daemon_factory(env={"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"})
    assert slow.stop() == 0
    warnings = [r for r in slow.log_records() if "upb" in r.get("event", "")]
    assert warnings and warnings[0]["level"] == "warning" and warnings[0]["backend"] == "python"
    fast = daemon_factory()
    assert fast.stop() == 0
    assert not [r for r in fast.log_records() if "upb" in r.get("event", "")]


def test_process_tree_rss_counts_children_and_lists_them_at_most_once_a_second(monkeypatch: Any) -> None:
    import subprocess
    import sys
    import time

    from collector import telemetry

    calls = []
    real = telemetry.child_pids
    monkeypatch.setattr(telemetry, "child_pids", lambda pid: calls.append(pid) or real(pid))
    monkeypatch.setattr(telemetry, "_children_listed", (float("-inf"), 0, []))
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; block = bytearray(64 << 20); block[::4096] = b'x' * len(block[::4096]); print(1, flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"1\n"  # its 64 MiB are resident
        alone = telemetry.rss_bytes()
        for _ in range(200):
            tree = telemetry.process_tree_rss()
        assert len(calls) == 1
        assert tree - alone > 60 << 20  # a memory_limiter counts what the container counts
        time.sleep(telemetry._CHILDREN_MAX_AGE)
        telemetry.process_tree_rss()
        assert len(calls) == 2
    finally:
        child.kill()
        child.wait()
