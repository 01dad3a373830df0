"""The prometheus receiver as a user runs it: the real daemon scraping real targets, its output read in the
file exporter's OTLP JSON. Targets: the daemon's own /metrics (the Helm chart's default config: the
`opentelemetry-collector` job on `${env:MY_POD_IP}:8888`, service.telemetry's pull reader), a
prometheus_client HTTP server in this process (counters, gauges, histograms, summaries with labels, in both
OpenMetrics and the text format), relabeling, and targets that refuse, serve garbage or hang."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, start_http_server

from collector.testing import wait_for
from tests.conftest import Daemon, free_port

_SERVICE = """\
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
exporters:
  file: {{path: "{data}/metrics.jsonl"}}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: ${{env:MY_POD_IP}}
                port: {metrics}
  pipelines:
    metrics: {{receivers: [{receivers}], exporters: [file]}}
"""


def _config(receivers: str, names: str = "prometheus") -> str:
    return receivers + _SERVICE.replace("{receivers}", names)


def _metrics(daemon: Daemon) -> list[tuple[dict[str, str], str, dict[str, Any]]]:
    """(resource attributes, scope name, metric) of every metric the file exporter wrote."""
    path = daemon.data / "metrics.jsonl"
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        for rm in json.loads(line)["resourceMetrics"]:
            resource = {a["key"]: a["value"]["stringValue"] for a in rm["resource"].get("attributes", [])}
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    out.append((resource, sm["scope"]["name"], m))
    return out


def _points(metric: dict[str, Any]) -> list[dict[str, Any]]:
    kind = next(k for k in ("sum", "gauge", "histogram", "summary") if k in metric)
    return metric[kind]["dataPoints"]


def _attrs(point: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: a["value"]["stringValue"] for a in point.get("attributes", [])}


def _series(daemon: Daemon, job: str, name: str) -> list[dict[str, Any]]:
    return [m for resource, _, m in _metrics(daemon) if resource.get("service.name") == job and m["name"] == name]


def _wait_scrapes(daemon: Daemon, job: str, count: int, timeout: float = 15.0) -> None:
    wait_for(lambda: len(_series(daemon, job, "up")) >= count, timeout, f"{count} scrapes of {job}")


def _no_tracebacks(daemon: Daemon) -> None:
    assert "Traceback" not in daemon.logs()
    assert not [r for r in daemon.log_records() if r.get("level") in ("error", "critical")]


@pytest.fixture
def registry_server() -> Iterator[tuple[int, CollectorRegistry]]:
    registry = CollectorRegistry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port, registry
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_helm_chart_default_scrapes_the_daemon_s_own_metrics(daemon_factory: Any) -> None:
    # The chart's receiver block (values.yaml), with a 500ms interval instead of 10s to keep the test short.
    receivers = """\
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: opentelemetry-collector
          scrape_interval: 500ms
          static_configs:
            - targets:
                - ${{env:MY_POD_IP}}:{metrics}
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    _wait_scrapes(daemon, "opentelemetry-collector", 3)
    metrics = _metrics(daemon)
    port = str(daemon.ports["metrics"])
    resources = [r for r, _, _ in metrics if r["service.name"] == "opentelemetry-collector"]
    # prom_to_otlp.go CreateResource: loopback is not a server.address.
    assert resources[0] == {"service.name": "opentelemetry-collector", "service.instance.id": f"127.0.0.1:{port}",
                            "server.port": port, "url.scheme": "http"}
    scopes = {scope for r, scope, _ in metrics if r["service.name"] == "opentelemetry-collector"}
    assert scopes == {"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"}
    ups = [_points(m)[0]["asDouble"] for m in _series(daemon, "opentelemetry-collector", "up")]
    assert ups[:3] == [1.0, 1.0, 1.0]
    # The daemon's own counters are cumulative monotonic Sums that keep their first point's start time.
    # The daemon exposes its counters without `_total` (`# TYPE otelcol_receiver_accepted_metric_points counter`): their
    # names stay as exposed, as in Prometheus and otelcol.
    accepted = _series(daemon, "opentelemetry-collector", "otelcol_receiver_accepted_metric_points")
    assert len(accepted) >= 2
    assert all(m["sum"]["isMonotonic"] and m["sum"]["aggregationTemporality"] == 2 for m in accepted)
    first, later = _points(accepted[0])[0], _points(accepted[-1])[0]
    assert _attrs(first) == {"receiver": "prometheus", "transport": "http"}
    assert first["startTimeUnixNano"] == first["timeUnixNano"] == later["startTimeUnixNano"] < later["timeUnixNano"]
    # What the receiver pushed is what the daemon counted (the scrapes before the last one).
    assert later["asDouble"] > 0
    assert _series(daemon, "opentelemetry-collector", "otelcol_process_memory_rss")[0]["gauge"]
    assert daemon.metric("otelcol_receiver_accepted_metric_points", receiver="prometheus") > 0
    assert daemon.stop() == 0
    _no_tracebacks(daemon)


def _instrument(registry: CollectorRegistry) -> None:
    requests = Counter("app_requests", "Requests served.", ["method", "code"], registry=registry)
    requests.labels("get", "200").inc(7)
    requests.labels("post", "500").inc(2)
    Gauge("app_queue_depth", "Jobs waiting.", ["queue"], registry=registry).labels("email").set(12.5)
    latency = Histogram("app_latency_seconds", "Request latency.", ["route"], buckets=(0.1, 0.5, 1.0), registry=registry)
    for v in (0.05, 0.2, 0.3, 0.7, 3.0):
        latency.labels("/chat").observe(v)
    size = Summary("app_payload_bytes", "Payload sizes.", registry=registry)
    size.observe(100)
    size.observe(300)


def test_a_prometheus_client_target_in_openmetrics_and_text(daemon_factory: Any, registry_server: tuple[int, CollectorRegistry]) -> None:
    port, registry = registry_server
    _instrument(registry)
    receivers = f"""\
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: om
          scrape_interval: 500ms
          static_configs: [{{{{targets: ["127.0.0.1:{port}"], labels: {{{{region: eu}}}}}}}}]
        - job_name: text
          scrape_interval: 500ms
          scrape_protocols: [PrometheusText0.0.4]
          static_configs: [{{{{targets: ["127.0.0.1:{port}"]}}}}]
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    _wait_scrapes(daemon, "om", 2)
    _wait_scrapes(daemon, "text", 2)
    assert daemon.stop() == 0
    _no_tracebacks(daemon)
    for job in ("om", "text"):
        (requests, *_) = _series(daemon, job, "app_requests_total")
        assert requests["description"] == "Requests served."
        assert requests["sum"]["isMonotonic"] and requests["sum"]["aggregationTemporality"] == 2
        by_code = {_attrs(p)["code"]: p for p in _points(requests)}
        assert by_code["200"]["asDouble"] == 7 and by_code["500"]["asDouble"] == 2
        expected = {"method": "get", "code": "200"} | ({"region": "eu"} if job == "om" else {})
        assert _attrs(by_code["200"]) == expected
        (queue, *_) = _series(daemon, job, "app_queue_depth")
        assert _points(queue)[0]["asDouble"] == 12.5 and "startTimeUnixNano" not in _points(queue)[0]
        (latency, *_) = _series(daemon, job, "app_latency_seconds")
        (h,) = _points(latency)
        assert h["explicitBounds"] == [0.1, 0.5, 1.0]
        assert h["bucketCounts"] == ["1", "2", "1", "1"] and h["count"] == "5" and h["sum"] == pytest.approx(4.25)
        assert _attrs(h) == {"route": "/chat"} | ({"region": "eu"} if job == "om" else {})
        (size, *_) = _series(daemon, job, "app_payload_bytes")
        (s,) = _points(size)
        assert s["count"] == "2" and s["sum"] == 400
    # OpenMetrics carries prometheus_client's `_created` (the start time); the text format gives it as a gauge
    # of its own, and the start time is the first scrape's (metrics_adjuster.go).
    om, text = _points(_series(daemon, "om", "app_requests_total")[0])[0], _points(_series(daemon, "text", "app_requests_total")[0])[0]
    assert int(om["startTimeUnixNano"]) < int(om["timeUnixNano"])
    assert text["startTimeUnixNano"] == text["timeUnixNano"]
    assert _series(daemon, "text", "app_requests_created") and not _series(daemon, "om", "app_requests_created")


def test_relabel_configs_and_metric_relabel_configs(daemon_factory: Any, registry_server: tuple[int, CollectorRegistry]) -> None:
    port, registry = registry_server
    _instrument(registry)
    # `$$1` is how an otelcol config writes Prometheus's `$1` (a single `$` starts an ${env:...} reference).
    receivers = f"""\
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: relabeled
          scrape_interval: 500ms
          static_configs:
            - targets: ["127.0.0.1:{port}", "127.0.0.2:{port}"]
          relabel_configs:
            - {{{{source_labels: [__address__], regex: "127\\\\.0\\\\.0\\\\.1:.*", action: keep}}}}
            - {{{{source_labels: [__address__], regex: "([^:]+):.*", target_label: host, replacement: "h-$$1"}}}}
          metric_relabel_configs:
            - {{{{source_labels: [__name__], regex: "app_(requests_total|queue_depth)", action: keep}}}}
            - {{{{source_labels: [code], regex: "5..", action: drop}}}}
            - {{{{source_labels: [method], regex: "(.*)", target_label: verb, replacement: "$$1!"}}}}
            - {{{{regex: method, action: labeldrop}}}}
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    _wait_scrapes(daemon, "relabeled", 2)
    assert daemon.stop() == 0
    _no_tracebacks(daemon)
    instances = {r["service.instance.id"] for r, _, _ in _metrics(daemon) if r["service.name"] == "relabeled"}
    assert instances == {f"127.0.0.1:{port}"}
    names = {m["name"] for r, _, m in _metrics(daemon) if r["service.name"] == "relabeled"}
    assert names == {"app_requests_total", "app_queue_depth", "up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
    (requests, *_) = _series(daemon, "relabeled", "app_requests_total")
    assert [_attrs(p) for p in _points(requests)] == [{"code": "200", "verb": "get!", "host": "h-127.0.0.1"}]
    (kept, *_) = _series(daemon, "relabeled", "scrape_samples_post_metric_relabeling")
    assert _points(kept)[0]["asDouble"] == 2  # the 200 counter and the gauge


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>secret-page-content</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def garbage_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """Accepts connections and reads requests, never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    sock.close()


@pytest.mark.slow
def test_targets_that_refuse_serve_garbage_or_hang_give_up_zero(daemon_factory: Any, garbage_server: int, hanging_server: int,
                                                                  registry_server: tuple[int, CollectorRegistry]) -> None:
    port, registry = registry_server
    _instrument(registry)
    refused = free_port()
    receivers = f"""\
receivers:
  prometheus:
    config:
      global: {{{{scrape_interval: 500ms, scrape_timeout: 300ms}}}}
      scrape_configs:
        - job_name: garbage
          static_configs: [{{{{targets: ["127.0.0.1:{garbage_server}"]}}}}]
        - job_name: hanging
          static_configs: [{{{{targets: ["127.0.0.1:{hanging_server}"]}}}}]
        - job_name: refused
          static_configs: [{{{{targets: ["127.0.0.1:{refused}"]}}}}]
        - job_name: good
          static_configs: [{{{{targets: ["127.0.0.1:{port}"]}}}}]
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    for job in ("garbage", "hanging", "refused", "good"):
        _wait_scrapes(daemon, job, 3)
    assert daemon.alive()
    assert daemon.stop() == 0
    for job in ("garbage", "hanging", "refused"):
        assert {_points(m)[0]["asDouble"] for m in _series(daemon, job, "up")} == {0.0}, job
    assert {_points(m)[0]["asDouble"] for m in _series(daemon, "good", "up")} == {1.0}
    (hang_duration, *_) = _series(daemon, "hanging", "scrape_duration_seconds")
    assert 0.25 < _points(hang_duration)[0]["asDouble"] < 1.0
    # One warning per target for its failure, however many scrapes failed; never a traceback, never the body.
    warnings = [r for r in daemon.log_records() if r.get("event") == "Failed to scrape Prometheus endpoint"]
    assert sorted(r["job"] for r in warnings) == ["garbage", "hanging", "refused"]
    reasons = {r["job"]: r["error"] for r in warnings}
    assert reasons["garbage"].startswith("cannot parse the text exposition")
    assert reasons["hanging"].startswith("context deadline exceeded")
    assert "secret-page-content" not in daemon.logs()
    _no_tracebacks(daemon)


def test_a_series_that_vanishes_gets_a_stale_point(daemon_factory: Any, registry_server: tuple[int, CollectorRegistry]) -> None:
    port, registry = registry_server
    workers = Gauge("app_workers", "Workers.", ["pool"], registry=registry)
    workers.labels("a").set(1)
    workers.labels("b").set(2)
    receivers = f"""\
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: stale
          scrape_interval: 500ms
          static_configs: [{{{{targets: ["127.0.0.1:{port}"]}}}}]
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    _wait_scrapes(daemon, "stale", 1)
    workers.remove("b")
    seen = len(_series(daemon, "stale", "up"))
    _wait_scrapes(daemon, "stale", seen + 2)
    assert daemon.stop() == 0
    b_points = [p for m in _series(daemon, "stale", "app_workers") for p in _points(m) if _attrs(p) == {"pool": "b"}]
    # Prometheus writes one staleness marker; contrib turns it into a NO_RECORDED_VALUE point (flags 1).
    assert [p.get("flags", 0) for p in b_points][-1] == 1
    assert sum(1 for p in b_points if p.get("flags")) == 1
    assert "asDouble" not in b_points[-1]


def test_config_problems_are_refused_by_validate(tmp_path: Path) -> None:
    from collector import cli
    from tests.conftest import run_in_process

    config = tmp_path / "config.yaml"
    config.write_text("""\
receivers:
  prometheus:
    config:
      remote_write: [{url: "http://x"}]
      scrape_configs:
        - job_name: k8s
          kubernetes_sd_configs: [{role: pod}]
        - job_name: dup
          static_configs: [{targets: ["a:1"]}]
        - job_name: dup
          scrape_interval: 5s
          scrape_timeout: 10s
          static_configs: [{targets: ["http://b:1/metrics"]}]
          metric_relabel_configs: [{source_labels: [a], target_label: __name__}]
  prometheus/empty:
    config: {}
  prometheus/ta:
    target_allocator: {endpoint: "http://ta", collector_id: c}
exporters:
  debug: {}
service:
  pipelines:
    metrics: {receivers: [prometheus, prometheus/empty, prometheus/ta], exporters: [debug]}
""")
    result = run_in_process(cli.main, "validate", "--config", str(config))
    assert result.returncode == 1
    problems = result.stderr
    assert "receivers.prometheus.config.remote_write: remote_write is not supported" in problems
    assert "receivers.prometheus.config.scrape_configs[0].kubernetes_sd_configs: service discovery (kubernetes_sd_configs) is not implemented here" in problems
    assert '"http://b:1/metrics" is not a valid target' in problems
    assert "receivers.prometheus/empty.config: no Prometheus scrape_configs or target_allocator set" in problems
    assert "prometheus/ta" not in problems


def test_ineffective_keys_are_accepted_with_one_warning_each(daemon_factory: Any, registry_server: tuple[int, CollectorRegistry]) -> None:
    port, _ = registry_server
    receivers = f"""\
receivers:
  prometheus:
    target_allocator: {{{{endpoint: "http://ta:80", interval: 30s, collector_id: c1}}}}
    config:
      global: {{{{evaluation_interval: 1m}}}}
      scrape_configs:
        - job_name: x
          enable_http2: false
          static_configs: [{{{{targets: ["127.0.0.1:{port}"]}}}}]
"""
    daemon = daemon_factory(_config(receivers), env={"MY_POD_IP": "127.0.0.1"})
    assert daemon.stop() == 0
    keys = sorted(r.get("key", "") for r in daemon.log_records() if r.get("event") == "config key has no effect")
    assert keys == ["receivers.prometheus.config.global.evaluation_interval", "receivers.prometheus.config.scrape_configs[0].enable_http2",
                    "receivers.prometheus.target_allocator"]
