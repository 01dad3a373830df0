"""otelcol keys of supported components beyond the OTLP ones, through real daemons: health_check's
`response_body` and `tls`, the debug exporter's `use_internal_logger: false` with `output_paths`; and the
accepted keys without effect here (otlp_http's `profiles_endpoint`, health_check's deprecated
`check_collector_pipeline`), each named by one start-up warning."""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from collector.testing import spans_request
from tests.conftest import Daemon, daemon_yaml


def _post(daemon: Daemon) -> None:
    request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=spans_request(2).SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    urllib.request.urlopen(request, timeout=10).close()


def test_debug_output_paths_response_body_and_ineffective_keys(tmp_path: Path) -> None:
    printed = tmp_path / "debug.txt"
    config = daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
exporters:
  debug: {{{{use_internal_logger: false, output_paths: ["{printed}"]}}}}
  otlp_http: {{{{endpoint: "http://127.0.0.1:1", profiles_endpoint: "http://127.0.0.1:1/v1development/profiles"}}}}
""", "traces: {{receivers: [otlp], exporters: [debug, otlp_http]}}").replace(
        'health_check: {{endpoint: "127.0.0.1:{health}"}}',
        'health_check: {{endpoint: "127.0.0.1:{health}", response_body: {{healthy: "I am fine", unhealthy: "not yet"}},'
        ' check_collector_pipeline: {{enabled: true, interval: 5m, exporter_failure_threshold: 5}}}}')
    assert "response_body" in config
    daemon = Daemon(tmp_path, config).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.ports['health']}/", timeout=5) as response:
            assert (response.status, response.read()) == (200, b"I am fine")
        _post(daemon)
        deadline = time.monotonic() + 10
        while not (printed.exists() and printed.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        daemon.stop()
    assert printed.read_text() == "debug: traces request: 2 spans\n"
    assert "debug: traces request" not in daemon.logs()  # not on stderr as well
    warnings = {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}
    assert warnings == {
        "exporters.otlp_http.profiles_endpoint": "the daemon has no profiles signal",
        "extensions.health_check.check_collector_pipeline": "otelcol deprecated it as not working; readiness here is every component started",
    }


def test_health_check_serves_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    config = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  debug: {{}}
""", "traces: {{receivers: [otlp], exporters: [debug]}}").replace(
        'health_check: {{endpoint: "127.0.0.1:{health}"}}', f'health_check: {{{{endpoint: "127.0.0.1:{{health}}", tls: {{{{cert_file: "{cert}", key_file: "{key}"}}}}}}}}')
    assert str(cert) in config
    daemon = Daemon(tmp_path, config)
    daemon.start(wait=False)
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 20
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{daemon.ports['health']}/", timeout=2, context=context) as response:
                    status = response.status
            except OSError:
                time.sleep(0.1)
        assert status == 200, daemon.logs()
    finally:
        assert daemon.stop() == 0


def test_file_storage_bbolt_keys_are_accepted_and_named(tmp_path: Path) -> None:
    config = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  debug: {{}}
""", "traces: {{receivers: [otlp], exporters: [debug]}}").replace(
        "  health_check: {{", '  file_storage: {{directory: "{data}/queues", create_directory: true, timeout: 1s,'
        " compaction: {{on_start: true, directory: /tmp, max_transaction_size: 65536}}}}\n  health_check: {{").replace(
        "extensions: [health_check]", "extensions: [health_check, file_storage]")
    daemon = Daemon(tmp_path, config).start()
    assert daemon.stop() == 0
    warnings = {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}
    assert warnings == {
        "extensions.file_storage.compaction": "each queue is a write-ahead log of segment files, not a bbolt database: there is nothing to compact",
        "extensions.file_storage.timeout": "each queue is a write-ahead log of segment files, not a bbolt database: its lock is taken at start-up or start-up fails, without waiting",
    }


def test_a_bare_integer_duration_is_nanoseconds_as_in_otelcol(tmp_path: Path) -> None:
    """The file exporter's `flush_interval: 200000000` is 200ms (otelcol's confmap stores a YAML number in a
    time.Duration as nanoseconds, collector/config/typed.py Duration); the daemon runs and writes with it."""
    config = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 200000000}}
""", "traces: {{receivers: [otlp], exporters: [file]}}")
    daemon = Daemon(tmp_path, config).start()
    _post(daemon)
    assert daemon.stop() == 0
    assert len((daemon.data / "traces.jsonl").read_bytes().splitlines()) == 1
