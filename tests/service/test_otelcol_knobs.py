"""otelcol's tuning keys on the OTLP receiver and exporters, through real daemons: what has a Python
equivalent works (gRPC keepalive server parameters and enforcement policy, client keepalive,
`balancer_name`, `include_metadata`, otlp_http's `read_buffer_size`); gRPC Go's buffer sizes and
otlp_http's `write_buffer_size` are accepted with one start-up warning each naming the key and why."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from collector import otlpjson
from collector.component import Signal
from collector.testing import spans_request
from tests.conftest import Daemon, daemon_yaml

KNOBS = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
        read_buffer_size: 524288
        write_buffer_size: 524288
        include_metadata: true
        keepalive:
          server_parameters: {{max_connection_idle: 300ms, time: 30s, timeout: 5s}}
          enforcement_policy: {{min_time: 10s, permit_without_stream: true}}
      http:
        endpoint: "127.0.0.1:{http}"
        include_metadata: true
exporters:
  otlp_grpc:
    endpoint: "127.0.0.1:{sink}"
    tls: {{insecure: true}}
    balancer_name: round_robin
    keepalive: {{time: 10s, timeout: 5s, permit_without_stream: true}}
    read_buffer_size: 1MiB
    write_buffer_size: 1MiB
  otlp_http:
    endpoint: "http://127.0.0.1:{sink_http}"
    read_buffer_size: 128KiB
    write_buffer_size: 512KiB
""", """
traces: {{receivers: [otlp], exporters: [otlp_grpc, otlp_http]}}
""")

SINK = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""", "traces: {{receivers: [otlp], exporters: [file]}}")


def _spans(daemon: Daemon) -> int:
    path = daemon.data / "traces.jsonl"
    if not path.exists():
        return 0
    return sum(len(ss.spans) for line in path.read_bytes().splitlines() for rs in otlpjson.decode(Signal.TRACES, line).resource_spans for ss in rs.scope_spans)


def test_knobs_load_work_and_the_ineffective_ones_warn_once_each(tmp_path: Path) -> None:
    (tmp_path / "sink").mkdir()
    sink = Daemon(tmp_path / "sink", SINK).start()
    try:
        (tmp_path / "knobs").mkdir()
        daemon = Daemon(tmp_path / "knobs", KNOBS.replace("{sink}", str(sink.ports["grpc"])).replace("{sink_http}", str(sink.ports["http"])))
        daemon.start()
        try:
            request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=spans_request(3).SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
            urllib.request.urlopen(request, timeout=10).close()
            deadline = time.monotonic() + 15
            while _spans(sink) < 6 and time.monotonic() < deadline:  # through both exporters
                time.sleep(0.05)
            assert _spans(sink) == 6
        finally:
            assert daemon.stop() == 0
    finally:
        sink.stop()
    warnings = {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}
    grpc_reason = "gRPC Go's per-connection buffer size; Python's gRPC core sizes its own buffers"
    assert warnings == {
        "receivers.otlp.protocols.grpc.read_buffer_size": grpc_reason,
        "receivers.otlp.protocols.grpc.write_buffer_size": grpc_reason,
        "exporters.otlp_grpc.read_buffer_size": grpc_reason,
        "exporters.otlp_grpc.write_buffer_size": grpc_reason,
        "exporters.otlp_http.write_buffer_size": "Go's net/http write buffer size; aiohttp writes each request to the socket as it is",
    }
    assert sum(r.get("event") == "config key has no effect" for r in daemon.log_records()) == 5


def test_keepalive_max_connection_idle_closes_an_idle_connection(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, KNOBS.replace("{sink}", "1").replace("{sink_http}", "2")).start()

    async def idle_state() -> grpc.ChannelConnectivity:
        async with grpc.aio.insecure_channel(daemon.grpc_endpoint) as channel:
            await channel.channel_ready()
            assert channel.get_state() is grpc.ChannelConnectivity.READY
            deadline = time.monotonic() + 10
            while channel.get_state() is grpc.ChannelConnectivity.READY and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return channel.get_state()

    try:
        assert asyncio.run(idle_state()) is grpc.ChannelConnectivity.IDLE  # the server's GOAWAY after 300ms idle
    finally:
        assert daemon.stop() == 0


BATCH = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}", include_metadata: INCLUDE}}
processors:
  batch: {{send_batch_size: 1000, timeout: 200ms, metadata_keys: [X-Tenant]}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""", "traces: {{receivers: [otlp], processors: [batch], exporters: [file]}}")


@pytest.mark.parametrize(("include", "batches"), [("true", 2), ("false", 1)])
def test_include_metadata_decides_whether_batch_sees_the_headers(tmp_path: Path, include: str, batches: int) -> None:
    daemon = Daemon(tmp_path, BATCH.replace("INCLUDE", include)).start()
    try:
        for tenant in ("acme", "globex"):
            request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=spans_request(2).SerializeToString(),
                                             headers={"Content-Type": "application/x-protobuf", "X-Tenant": tenant})
            urllib.request.urlopen(request, timeout=10).close()
        deadline = time.monotonic() + 10
        while _spans(daemon) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        assert daemon.stop() == 0
    assert len((daemon.data / "traces.jsonl").read_bytes().splitlines()) == batches


def test_an_unknown_balancer_is_refused(tmp_path: Path) -> None:
    from collector.config import ConfigErrors, load_config

    path = tmp_path / "config.yaml"
    path.write_text("receivers: {otlp: }\nexporters:\n  otlp_grpc: {endpoint: \"x:1\", balancer_name: grpclb}\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [otlp_grpc]}\n")
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert "exporters.otlp_grpc.balancer_name: expected one of pick_first, round_robin, got 'grpclb'" in str(info.value)
