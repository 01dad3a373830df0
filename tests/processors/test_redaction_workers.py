"""`redaction: {workers: N}` redacts in child processes (collector/processors/redaction/worker.py): the same
output and metrics as redacting in the daemon, nothing unredacted when a worker dies, and the worker's
answer handed to tail_sampling behind it in the envelope (collector/envelope.py) without changing what is
sampled."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from collector import cli
from tests.conftest import daemon_yaml, run_in_process

# A whole address (the loadgen's retriever query cuts one prompt's address to "...@acme-corp.c", which no
# e-mail detector takes for one, in the daemon or in a worker).
EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}")


def loadgen(daemon: Any, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--json", "--quiet", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE)


def report(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return json.loads(out)


def spans_by_id(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    key = (span["traceId"], span["spanId"])  # the loadgen reuses span ids under fresh trace ids
                    assert key not in out, "a span was written twice"
                    out[key] = span
    return out


def worker_pids(daemon: Any) -> list[int]:
    return [r["pid"] for r in daemon.log_records() if r.get("event") == "started redaction worker process"]


SIDE_BY_SIDE = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost: {{}}
  redaction: {{detectors: {{}}, allow_all_keys: true, workers: 0}}
  redaction/workers: {{detectors: {{}}, allow_all_keys: true, workers: 2}}
  tail_sampling: {{decision_wait: 300ms, policies: [{{name: costly, type: llm_cost, llm_cost: {{min_usd: 0.002}}}}]}}
  batch: {{timeout: 50ms}}
exporters:
  file/daemon: {{path: "{data}/daemon.jsonl"}}
  file/workers: {{path: "{data}/workers.jsonl"}}
""", """
traces/daemon: {{receivers: [otlp], processors: [token_count, cost, redaction, tail_sampling, batch], exporters: [file/daemon]}}
traces/workers: {{receivers: [otlp], processors: [token_count, cost, redaction/workers, tail_sampling, batch], exporters: [file/workers]}}
""")


@pytest.mark.slow
def test_workers_redact_and_count_exactly_as_the_daemon_does(daemon_factory: Any) -> None:
    daemon = daemon_factory(SIDE_BY_SIDE)
    sent = report(loadgen(daemon, "--rate", "4000", "--duration", "2s", "--pii-share", "0.5", "--seed", "5", "--concurrency", "8"))
    assert sent["spans_acknowledged"] == sent["spans_sent"] > 0
    time.sleep(1.0)  # decision_wait, then the batch timeout
    metrics = {}
    for name in ("redaction_values_scanned_total", "redaction_scanned_characters_total"):
        metrics[name] = [daemon.metric(name, processor=p) for p in ("redaction", "redaction/workers")]
    detectors = sorted(set(re.findall(r'redaction_matches_total\{[^}]*detector="(\w+)"', daemon.metrics())))
    for detector in detectors:
        metrics[detector] = [daemon.metric("redaction_matches_total", processor=p, detector=detector) for p in ("redaction", "redaction/workers")]
    pids = worker_pids(daemon)
    assert daemon.stop() == 0

    assert len(pids) == 2 and daemon.proc.pid not in pids, "two worker processes, not the daemon itself"
    assert "email" in detectors and "phone" in detectors
    for name, (in_daemon, in_workers) in metrics.items():
        if name.startswith("redaction_"):
            # Each process keeps its own memo of short texts already found clean, so the two workers hand
            # the scanner a few more values than the one daemon does; the findings are the same.
            assert in_daemon > 0 and abs(in_daemon - in_workers) <= 0.01 * in_daemon, (name, in_daemon, in_workers)
        else:
            assert in_daemon == in_workers > 0, name
    in_daemon = spans_by_id(daemon.data / "daemon.jsonl")
    in_workers = spans_by_id(daemon.data / "workers.jsonl")
    # The policy keeps only some traces: the worker path's bytes, lent to tail_sampling, must keep the same.
    assert 0 < len(in_daemon) < sent["spans_acknowledged"]
    assert in_workers == in_daemon
    raw = (daemon.data / "workers.jsonl").read_bytes()
    assert b"<EMAIL>" in raw and not EMAIL.search(raw)


ONE_WORKER = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  redaction: {{detectors: {{}}, allow_all_keys: true, workers: 1}}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file]}}
""")


@pytest.mark.slow
def test_a_killed_worker_fails_only_its_requests_and_is_replaced(daemon_factory: Any) -> None:
    daemon = daemon_factory(ONE_WORKER)
    (first,) = worker_pids(daemon)
    load = loadgen(daemon, "--rate", "3000", "--duration", "4s", "--pii-share", "1", "--seed", "9", "--concurrency", "8")
    time.sleep(1.5)
    os.kill(first, signal.SIGKILL)
    sent = report(load)
    assert daemon.alive()
    pids = worker_pids(daemon)
    exits = [r for r in daemon.log_records() if r.get("component") == "redaction" and r.get("level") == "error"]
    assert daemon.stop() == 0

    assert pids[0] == first and len(pids) == 2, "the next request started a new worker"
    assert exits and exits[0]["exit_code"] == -signal.SIGKILL
    # Its requests in flight were refused as retryable; everything acknowledged was written, redacted.
    assert set(sent["failed_by_code"]) <= {"UNAVAILABLE"}
    assert sent["spans_acknowledged"] >= 0.5 * sent["spans_sent"]
    assert len(spans_by_id(daemon.data / "traces.jsonl")) == sent["spans_acknowledged"]
    raw = (daemon.data / "traces.jsonl").read_bytes()
    assert b"<EMAIL>" in raw and not EMAIL.search(raw)


@pytest.mark.slow
def test_shutdown_answers_every_request_then_stops_the_workers(daemon_factory: Any) -> None:
    daemon = daemon_factory(ONE_WORKER)
    (pid,) = worker_pids(daemon)
    sent = report(loadgen(daemon, "--rate", "2000", "--duration", "1s", "--pii-share", "1", "--seed", "2"))
    assert daemon.stop() == 0
    assert sent["requests_failed"] == 0
    assert len(spans_by_id(daemon.data / "traces.jsonl")) == sent["spans_acknowledged"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker is gone with the daemon


def test_workers_must_be_a_small_count(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(ONE_WORKER.replace("workers: 1}}", "workers: -1}}").format(grpc=4317, data=tmp_path, health=13133, metrics=8888))
    done = run_in_process(cli.main, "validate", "--config", str(path))
    assert done.returncode == 1
    assert f"{path}:7" in done.stdout + done.stderr
    assert "processors::redaction::workers" in done.stdout + done.stderr or "workers" in done.stdout + done.stderr
    assert "expected 0 (redact in the daemon) to 64 worker processes, got -1" in done.stdout + done.stderr


@pytest.mark.parametrize("signal_name", ["logs", "metrics"])
def test_the_worker_protocol_redacts_logs_and_metrics_too(signal_name: str) -> None:
    import io
    import pickle

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    from collector.component import Signal
    from collector.processors.redaction import worker as rw
    from tests.processors.test_redaction import llm_config

    address = "write to jane.doe@example.com"
    if signal_name == "logs":
        request: Any = ExportLogsServiceRequest()
        request.resource_logs.add().scope_logs.add().log_records.add().body.string_value = address
    else:
        request = ExportMetricsServiceRequest()
        point = request.resource_metrics.add().scope_metrics.add().metrics.add(name="m").gauge.data_points.add(as_int=1)
        point.attributes.add(key="contact").value.string_value = address
    payload = request.SerializeToString()
    blob = pickle.dumps(llm_config())
    kind = rw.KINDS[Signal(signal_name)]
    stdin = io.BytesIO(rw.LENGTH.pack(len(blob)) + blob + kind + rw.LENGTH.pack(len(payload)) + payload)
    stdout = io.BytesIO()
    assert rw.serve(stdin, stdout) == 0  # answers, then stops at the end of its input
    answer = stdout.getvalue()
    assert answer[:1] == rw.REPLACED
    size = rw.LENGTH.unpack_from(answer, 1)[0]
    redacted = type(request).FromString(answer[5 : 5 + size])
    meta = json.loads(answer[9 + size :])
    assert b"jane.doe@example.com" not in redacted.SerializeToString() and "<EMAIL>" in str(redacted)
    assert meta[2] == {"email": 1} and meta[3] == 0
