"""`validate` does not open the TLS files a config names, as otelcol's validate does not (a config checked
on a laptop passes there); `run` opens them as it loads the config and names each missing file and its key.
A TLS problem that needs no file (a certificate without its key) is still `validate`'s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import collector.cli
from tests.conftest import run_in_process

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:1"
        tls: {{cert_file: "{missing}/server.crt", key_file: "{missing}/server.key", client_ca_file: "{missing}/ca.crt"}}
exporters:
  otlp_grpc:
    endpoint: "collector:4317"
    tls: {{ca_file: "{missing}/backend-ca.crt"}}
  elasticsearch:
    endpoints: ["https://es:9200"]
    tls: {{ca_file: "{missing}/es-ca.crt"}}
service:
  telemetry: {{metrics: {{address: null}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp_grpc, elasticsearch]}}
"""


def test_validate_does_not_open_tls_files_and_run_names_each_missing_one(tmp_path: Path) -> None:
    missing = tmp_path / "certs"  # does not exist on this machine
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(missing=missing))
    validated = run_in_process(collector.cli.main, "validate", "--config", str(path))
    assert validated.returncode == 0, validated.stderr
    run = subprocess.run([sys.executable, "-m", "collector.cli", "run", "--config", str(path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    problems = sorted(line.strip().split(": ", 1)[1] for line in run.stderr.splitlines()[1:])
    assert problems == sorted([
        f"receivers.otlp.protocols.grpc.tls.cert_file: file not found: {missing}/server.crt",
        f"exporters.otlp_grpc.tls.ca_file: file not found: {missing}/backend-ca.crt",
        f"exporters.elasticsearch.tls.ca_file: file not found: {missing}/es-ca.crt",
    ]), run.stderr


def test_validate_still_checks_what_needs_no_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(missing=tmp_path).replace('tls: {ca_file: "' + str(tmp_path) + '/backend-ca.crt"}', f'tls: {{cert_file: "{tmp_path}/client.crt"}}'))
    validated = run_in_process(collector.cli.main, "validate", "--config", str(path))
    assert validated.returncode == 1
    assert "exporters.otlp_grpc.tls.key_file: cert_file needs key_file" in validated.stderr
