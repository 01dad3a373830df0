"""service.telemetry in today's otelcol shape, through the real command line and daemon: `metrics.readers`
(a pull Prometheus endpoint, a periodic OTLP push over gRPC and HTTP, console), `metrics.level: none`,
`resource`, `logs.*` (level in lower or upper case, output_paths, initial_fields) and the keys that are accepted but
have no effect here, each named by one start-up warning. Older otelcol's `metrics.address` keeps working
(tests/config/test_cli.py and every daemon test use it)."""

from __future__ import annotations

import json
import socket
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import collector.cli
from tests.conftest import Daemon, free_ports, run_in_process

RECEIVER = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  debug: {{}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
"""


def _config(telemetry: str, pipelines: str = "traces: {{receivers: [otlp], exporters: [debug]}}") -> str:
    return (RECEIVER + "service:\n  extensions: [health_check]\n  telemetry:\n" + textwrap.indent(textwrap.dedent(telemetry).strip("\n"), "    ")
            + "\n  pipelines:\n" + textwrap.indent(pipelines, "    ") + "\n")


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path, sink=5))
    result = run_in_process(collector.cli.main, "validate", "--config", str(path))
    return result.returncode, result.stdout + result.stderr


HELM_TELEMETRY = """
resource: {{deployment.environment: test}}
logs:
  level: INFO
  encoding: json
metrics:
  level: detailed
  readers:
    - pull:
        exporter:
          prometheus:
            host: 127.0.0.1
            port: {metrics}
            without_units: true
traces:
  processors:
    - batch:
        exporter:
          otlp: {{protocol: grpc, endpoint: "http://127.0.0.1:1"}}
"""


def _warnings(daemon: Daemon) -> dict[str, str]:
    return {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}


def test_pull_reader_serves_the_endpoint_with_target_info_and_warns_once_per_ineffective_key(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, _config(HELM_TELEMETRY)).start()
    try:
        text = daemon.metrics()
        assert "otelcol_process_uptime" in text
        info = [line for line in text.splitlines() if line.startswith("target_info{")]
        assert len(info) == 1 and 'deployment_environment="test"' in info[0] and 'service_name="llm-collector"' in info[0]
    finally:
        assert daemon.stop() == 0
    warnings = _warnings(daemon)
    assert set(warnings) == {"service.telemetry.traces", "service.telemetry.metrics.readers[0].pull.exporter.prometheus.without_units"}
    assert "does not trace itself" in warnings["service.telemetry.traces"]
    assert sum(r.get("event") == "config key has no effect" for r in daemon.log_records()) == 2


def test_level_none_turns_the_endpoint_off(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, _config("metrics: {{level: none, address: \"127.0.0.1:{metrics}\"}}")).start()
    try:
        with pytest.raises(OSError), urllib.request.urlopen(f"http://127.0.0.1:{daemon.ports['metrics']}/metrics", timeout=2):
            pass
    finally:
        assert daemon.stop() == 0


def _pushed(path: Path, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if lines:
                return lines
        time.sleep(0.1)
    raise AssertionError(f"nothing pushed to {path}")


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_periodic_reader_pushes_self_metrics_over_otlp(tmp_path: Path, protocol: str) -> None:
    (tmp_path / "sink").mkdir()
    sink = Daemon(tmp_path / "sink", """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file: {{path: "{data}/metrics.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    metrics: {{receivers: [otlp], exporters: [file]}}
""").start()
    try:
        endpoint = f"127.0.0.1:{sink.ports['grpc']}" if protocol == "grpc" else f"http://127.0.0.1:{sink.ports['http']}/v1/metrics"
        (tmp_path / "pusher").mkdir()
        pusher = Daemon(tmp_path / "pusher", _config(f"""
            resource: {{{{service.instance.id: null, deployment.environment: push}}}}
            metrics:
              readers:
                - periodic:
                    interval: 200
                    exporter:
                      otlp:
                        protocol: {protocol}
                        endpoint: "{endpoint}"
                        insecure: true
                        headers: [{{{{name: x-tenant, value: t1}}}}]
            """)).start()
        try:
            pushed = _pushed(sink.data / "metrics.jsonl")
        finally:
            assert pusher.stop() == 0
    finally:
        sink.stop()
    resource = pushed[0]["resourceMetrics"][0]["resource"]["attributes"]
    attributes = {a["key"]: a["value"]["stringValue"] for a in resource}
    assert attributes["service.name"] == "llm-collector" and attributes["deployment.environment"] == "push"
    assert "service.instance.id" not in attributes
    metrics = {m["name"]: m for m in pushed[0]["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]}
    assert metrics["otelcol_process_uptime"]["sum"]["isMonotonic"] is True
    assert "gauge" in metrics["otelcol_process_memory_rss"]
    assert "target_info" not in metrics or "gauge" in metrics["target_info"]


def test_console_reader_prints_otlp_json_and_logs_go_to_output_paths_with_initial_fields(tmp_path: Path) -> None:
    log_file = tmp_path / "own.log"
    daemon = Daemon(tmp_path, _config(f"""
        logs:
          level: DEBUG
          output_paths: ["{log_file}"]
          initial_fields: {{{{deployment: eu-1}}}}
          processors: [{{{{simple: {{{{exporter: {{{{console: {{{{}}}}}}}}}}}}}}}}]
        metrics:
          readers:
            - periodic: {{{{interval: 100, exporter: {{{{console: {{{{}}}}}}}}}}}}
        """)).start()
    try:
        time.sleep(0.5)
    finally:
        assert daemon.stop() == 0
    printed = [json.loads(line) for line in daemon.logs().splitlines() if line.startswith('{"resourceMetrics"')]
    assert printed and printed[0]["resourceMetrics"][0]["scopeMetrics"][0]["scope"]["name"] == "llm-collector"
    own = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert own and all(r["deployment"] == "eu-1" for r in own)
    assert any(r["event"] == "everything is ready; begin processing data" for r in own)
    assert [r["key"] for r in own if r["event"] == "config key has no effect"] == ["service.telemetry.logs.processors"]


@pytest.mark.parametrize(("telemetry", "expected"), [
    ("metrics: {{address: \"127.0.0.1:1\", readers: [{{pull: {{exporter: {{prometheus: {{port: 2}}}}}}}}]}}",
     "service.telemetry.metrics.address: address and readers cannot both be set"),
    ("metrics: {{readers: []}}", "service.telemetry.metrics.readers: collector telemetry metrics reader should exist when metric level is not none"),
    ("metrics: {{level: normal, views: []}}", "service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed"),
    ("logs: {{level: loud}}", 'service.telemetry.logs.level: expected one of "debug", "info", "warn", "error", got "loud"'),
    ("metrics: {{readers: [{{pull: {{exporter: {{prometheus: {{}}}}}}, periodic: {{exporter: {{console: {{}}}}}}}}]}}", "a metric reader is exactly one of pull and periodic"),
    ("metrics: {{readers: [{{periodic: {{exporter: {{otlp: {{protocol: udp, endpoint: x}}}}}}}}]}}", 'expected one of "grpc", "http/protobuf", "http/json", got "udp"'),
    ("unknown: 1", "service.telemetry.unknown: unknown key"),
])
def test_invalid_telemetry_is_refused(tmp_path: Path, telemetry: str, expected: str) -> None:
    code, output = _validate(tmp_path, _config(telemetry))
    assert code == 1
    assert expected in output, output


@pytest.mark.parametrize("telemetry", [
    HELM_TELEMETRY,
    "metrics: {{level: none, readers: []}}",
    "metrics: {{level: basic, address: \"localhost:6666\"}}",
    "metrics: {{readers: [{{periodic: {{interval: 5000, exporter: {{otlp: {{protocol: http/protobuf, endpoint: \"https://backend:4318/v1/metrics\", temporality_preference: delta}}}}}}}}]}}",
    "resource: {{attributes: [{{name: service.name, value: gateway}}], schema_url: \"https://opentelemetry.io/schemas/1.26.0\"}}",
    "logs: {{level: warn, sampling: {{enabled: true, tick: 10s, initial: 10, thereafter: 100}}, disable_caller: true, development: false}}",
])
def test_otelcol_telemetry_shapes_validate(tmp_path: Path, telemetry: str) -> None:
    code, output = _validate(tmp_path, _config(telemetry))
    assert code == 0, output


def test_endpoint_port_taken_is_named_by_its_reader(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        daemon = Daemon(tmp_path, _config(f"""
            metrics:
              readers:
                - pull:
                    exporter:
                      prometheus:
                        host: 127.0.0.1
                        port: {port}
            """))
        daemon.start(wait=False)
        assert daemon.proc is not None
        assert daemon.proc.wait(30) == 1
    assert "service.telemetry.metrics.readers[0].pull:" in daemon.logs()
