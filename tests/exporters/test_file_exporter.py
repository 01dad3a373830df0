"""The file exporter's delivery behaviour through the running daemon: the OTLP-JSON encoder child
process (crash, respawn, Ctrl-C to the whole process group), inline mode, append vs truncate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.component import Signal
from collector.testing import wait_for
from tests.conftest import BASIC_CONFIG, Daemon

pytestmark = pytest.mark.slow
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def request(first_id: int, n: int = 10) -> bytes:
    spans = [Span(trace_id=first_id.to_bytes(16, "big"), span_id=(first_id * 1000 + i + 1).to_bytes(8, "big"), name=f"span-{first_id}-{i}") for i in range(n)]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]).SerializeToString()


def spans_in(path: Path) -> list[str]:
    names = []
    for line in path.read_bytes().splitlines():
        req = otlpjson.decode(Signal.TRACES, line)
        names.extend(s.name for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans)
    return names


def encoder_pids(daemon: Daemon) -> list[int]:
    assert daemon.proc is not None
    out = subprocess.run(["pgrep", "-P", str(daemon.proc.pid), "-f", "json_writer"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_encoder_process_starts_on_first_request_and_survives_being_killed(daemon: Daemon) -> None:
    assert encoder_pids(daemon) == []  # an idle daemon does not pay for it
    channel = grpc.insecure_channel(daemon.grpc_endpoint)
    export = channel.unary_unary(EXPORT)
    acked: list[int] = []
    for i in range(1, 4):
        export(request(i), timeout=10)
        acked.append(i)
    (pid,) = encoder_pids(daemon)
    os.kill(pid, signal.SIGKILL)
    # Requests caught by the crash get a retryable error; the next ones go to a fresh child.
    refused = 0
    for i in range(4, 10):
        try:
            export(request(i), timeout=10)
            acked.append(i)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
            refused += 1
    channel.close()
    assert daemon.alive()
    new_pids = encoder_pids(daemon)
    assert len(new_pids) == 1 and new_pids[0] != pid
    assert daemon.stop() == 0
    written = spans_in(daemon.data / "traces.jsonl")
    # The respawned child appended: nothing written before the crash was truncated away.
    assert sorted(written) == sorted(f"span-{i}-{j}" for i in acked for j in range(10))
    errors = [r for r in daemon.log_records() if r.get("level") == "error"]
    assert refused == 0 or any(r["component"] == "file/traces" for r in errors)


def test_ctrl_c_to_the_whole_process_group_still_drains_and_flushes(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals every process in the foreground group, the encoder child too;
    the child must wait for the daemon to drain and close it."""
    daemon = Daemon(tmp_path, BASIC_CONFIG)
    cmd = [sys.executable, "-m", "collector.cli", "run", "--config", str(daemon.config_path)]
    log = open(daemon.log_path, "wb")
    daemon.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    daemon._log = log
    daemon.wait_healthy()
    loadgen = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--rate", "max", "--duration", "30s", "--json", "--quiet", "--timeout", "5s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Under load: once spans arrive (building the load takes seconds on a busy host).
    wait_for(lambda: daemon.metric("otelcol_receiver_accepted_spans") >= 2000, timeout=60, what="the load to arrive")
    os.killpg(daemon.proc.pid, signal.SIGINT)
    code = daemon.proc.wait(20)
    loadgen.send_signal(signal.SIGINT)
    report = json.loads(loadgen.communicate(timeout=30)[0])
    log.close()
    assert code == 0, daemon.logs()
    assert report["spans_acknowledged"] > 1000
    assert len(spans_in(daemon.data / "traces.jsonl")) == report["spans_acknowledged"]


@pytest.mark.parametrize("encoder_process", [True, False])
def test_append_keeps_and_default_truncates(daemon_factory: Any, encoder_process: bool) -> None:
    flag = "true" if encoder_process else "false"
    keep = BASIC_CONFIG.replace('traces.jsonl"}}', f'traces.jsonl", append: true, encoder_process: {flag}}}}}')
    fresh = BASIC_CONFIG.replace('traces.jsonl"}}', f'traces.jsonl", encoder_process: {flag}}}}}')
    for round_, config in enumerate((keep, keep, fresh, keep)):
        daemon = daemon_factory(config, subdir="same")
        channel = grpc.insecure_channel(daemon.grpc_endpoint)
        channel.unary_unary(EXPORT)(request(round_ + 1, n=2), timeout=10)
        channel.close()
        assert daemon.stop() == 0
    names = spans_in(Path(daemon.data / "traces.jsonl"))
    # Rounds 1-2 appended, round 3 (append: false) truncated, round 4 appended again.
    assert names == ["span-3-0", "span-3-1", "span-4-0", "span-4-1"]


def test_inline_encoding_round_trips_exactly(daemon_factory: Any) -> None:
    daemon = daemon_factory(BASIC_CONFIG.replace('traces.jsonl"}}', 'traces.jsonl", encoder_process: false}}'))
    channel = grpc.insecure_channel(daemon.grpc_endpoint)
    sent = [request(i, n=3) for i in range(1, 6)]
    for body in sent:
        channel.unary_unary(EXPORT)(body, timeout=10)
    channel.close()
    assert encoder_pids(daemon) == []
    assert daemon.stop() == 0
    lines = (daemon.data / "traces.jsonl").read_bytes().splitlines()
    assert [otlpjson.decode(Signal.TRACES, line) for line in lines] == [ExportTraceServiceRequest.FromString(b) for b in sent]
