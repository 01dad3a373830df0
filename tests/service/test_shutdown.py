"""SIGTERM under load: stop accepting, drain, flush, exit 0 within shutdown_timeout, and lose nothing
that was acknowledged: spans the load generator saw acknowledged == spans in the file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import orjson
import pytest

from collector.testing import wait_for

pytestmark = pytest.mark.slow


def count_file_spans(path: Any) -> int:
    total = 0
    for line in path.read_bytes().splitlines():
        for rs in orjson.loads(line)["resourceSpans"]:
            for ss in rs.get("scopeSpans", []):
                total += len(ss.get("spans", []))
    return total


def start_loadgen(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "loadgen", "--rate", "max", "--duration", "30s", "--json", "--quiet", "--timeout", "5s", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("protocol", ["grpc", "http"])
# SIGHUP reloads the config as in otelcol (tests/service/test_reload.py); it no longer stops the daemon.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_clean_stop_under_load_loses_nothing_acknowledged(daemon_factory: Any, protocol: str, sig: int) -> None:
    daemon = daemon_factory()
    endpoint = daemon.grpc_endpoint if protocol == "grpc" else daemon.http_url
    loadgen = start_loadgen(["--endpoint", endpoint, "--protocol", protocol, "--concurrency", "8"])
    # Stop it under load: once it has been sending for a while (building its requests takes seconds on a
    # busy host, so a fixed sleep may stop it before it sends).
    wait_for(lambda: daemon.metric("otelcol_receiver_accepted_spans") >= 2000, timeout=60, what="the load to arrive")
    stopped_at = time.monotonic()
    code = daemon.stop(sig=sig)
    stop_seconds = time.monotonic() - stopped_at
    # Give the loadgen a moment to see the refusals, then stop it too; it still reports.
    loadgen.send_signal(signal.SIGINT)
    out, err = loadgen.communicate(timeout=30)
    report = json.loads(out)

    assert code == 0, daemon.logs()
    assert stop_seconds < 10, f"shutdown took {stop_seconds:.1f}s"
    assert report["spans_acknowledged"] > 1000, report
    in_file = count_file_spans(daemon.data / "traces.jsonl")
    assert in_file == report["spans_acknowledged"], (in_file, report, daemon.logs()[-3000:])
    events = [r.get("event") for r in daemon.log_records()]
    assert "shutdown complete" in events


def test_a_stalled_client_cannot_hold_shutdown_hostage(daemon_factory: Any) -> None:
    """An upload that stops mid-body is abandoned after the receiver's grace (half of shutdown_timeout):
    it was never acknowledged, so nothing is lost, and the daemon exits 0 promptly."""
    import socket

    from tests.conftest import BASIC_CONFIG

    daemon = daemon_factory(BASIC_CONFIG.replace("service:\n", "service:\n  shutdown_timeout: 2s\n"))
    sock = socket.create_connection(("127.0.0.1", daemon.ports["http"]))
    sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n")
    time.sleep(0.2)
    started = time.monotonic()
    code = daemon.stop()
    elapsed = time.monotonic() - started
    sock.close()
    assert code == 0, daemon.logs()
    assert elapsed < 3, elapsed
    assert "shutdown complete" in [r.get("event") for r in daemon.log_records()]
