"""The `jaeger` receiver in the real daemon, on every transport, as clients reach it: gRPC api_v2 PostSpans with
the generated stub over real gRPC, Thrift over HTTP with real POSTs, and agent datagrams on real UDP sockets;
what arrives is read back from the file exporter. Hostile input is answered as otelcol's receiver answers it
(trace_receiver.go: 400 for what cannot be read, never a 500) or, on UDP, dropped and counted; the daemon keeps
serving. The config follows receiver/jaegerreceiver/config.go (protocols on by presence, at least one)."""

from __future__ import annotations

import gzip
import os
import random
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

import collector.cli
from collector import otlpjson
from collector.component import Kind, Signal
from collector.jaeger_proto import api_v2_pb2 as pb
from collector.jaeger_proto.api_v2_pb2_grpc import CollectorServiceStub
from collector.testing import decode_config, wait_for
from tests.conftest import daemon_yaml, damaged_copies, run_in_process
from tests.receivers import jaeger_wire as w

CONFIG = daemon_yaml("""
receivers:
  jaeger:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{jgrpc}"}}
      thrift_http: {{endpoint: "127.0.0.1:{jhttp}"}}
      thrift_compact: {{endpoint: "127.0.0.1:{jcompact}"}}
      thrift_binary: {{endpoint: "127.0.0.1:{jbinary}", queue_size: 4, workers: 1}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [jaeger], exporters: [file/traces]}}
""")
PORTS = ("jgrpc", "jhttp", "jcompact", "jbinary")
TRACE = 0x5B8EFFF798038103D269B633813FC60C
SECRET = "never-echo-this-value"


@pytest.fixture
def daemon(daemon_factory: Any) -> Any:
    return daemon_factory(CONFIG, extra_ports=PORTS)


def spans_in(daemon: Any, count: int) -> list[tuple[Any, Any]]:
    """(resource, span) pairs of the file exporter's output, once `count` spans are there."""

    def read() -> list[tuple[Any, Any]] | None:
        path = daemon.data / "traces.jsonl"
        if not path.exists():
            return None
        out = [(rs.resource, span) for line in path.read_bytes().splitlines() if line.strip()
               for rs in otlpjson.decode(Signal.TRACES, line).resource_spans for ss in rs.scope_spans for span in ss.spans]
        return out if len(out) >= count else None

    return wait_for(read, 15, f"{count} spans in the file")


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


def _post(daemon: Any, body: bytes, content_type: str = "application/x-thrift", method: str = "POST", headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{daemon.ports['jhttp']}/api/traces", data=body if method == "POST" else None, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _send_udp(daemon: Any, port_name: str, *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", daemon.ports[port_name]))


# ------------------------------------------------------------------------------------------------ gRPC

def _proto_batch(service: str, *span_ids: int) -> pb.Batch:
    batch = pb.Batch(process=pb.Process(service_name=service, tags=[pb.KeyValue(key="hostname", v_str="web-1")]))
    for i in span_ids:
        span = batch.spans.add(trace_id=TRACE.to_bytes(16, "big"), span_id=i.to_bytes(8, "big"), operation_name=f"op-{i}", flags=1)
        span.start_time.FromNanoseconds(1_700_000_000_123_456_789)
        span.duration.FromNanoseconds(2_500_000)
        span.tags.extend([pb.KeyValue(key="span.kind", v_str="server"), pb.KeyValue(key="error", v_type=pb.BOOL, v_bool=True),
                          pb.KeyValue(key="otel.scope.name", v_str="lib"), pb.KeyValue(key="n", v_type=pb.INT64, v_int64=i)])
        log = span.logs.add(fields=[pb.KeyValue(key="event", v_str="retry"), pb.KeyValue(key="attempt", v_type=pb.INT64, v_int64=2)])
        log.timestamp.FromNanoseconds(1_700_000_000_124_000_000)
    return batch


def test_grpc_post_spans_arrive_translated(daemon: Any) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{daemon.ports['jgrpc']}") as channel:
        response = CollectorServiceStub(channel).PostSpans(pb.PostSpansRequest(batch=_proto_batch("checkout", 1, 2)), timeout=10)
    assert response == pb.PostSpansResponse()
    got = spans_in(daemon, 2)
    resource, span = got[0]
    assert _attrs(resource.attributes) == {"service.name": "checkout", "host.name": "web-1"}
    assert span.trace_id == TRACE.to_bytes(16, "big") and span.span_id == (1).to_bytes(8, "big") and span.name == "op-1"
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1_700_000_000_123_456_789, 1_700_000_000_125_956_789)
    assert span.kind == 2 and span.status.code == 2 and span.flags == 1
    assert _attrs(span.attributes) == {"n": 1}
    assert [(e.name, e.time_unix_nano, _attrs(e.attributes)) for e in span.events] == [("retry", 1_700_000_000_124_000_000, {"attempt": 2})]
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="jaeger", transport="grpc") == 2


def test_grpc_refuses_what_it_cannot_read_and_keeps_serving(daemon: Any) -> None:
    target = f"127.0.0.1:{daemon.ports['jgrpc']}"
    with grpc.insecure_channel(target) as channel:
        raw = channel.unary_unary("/jaeger.api_v2.CollectorService/PostSpans")
        with pytest.raises(grpc.RpcError) as caught:
            raw(b"\x0a\xff\xff\xff\xff\x0f" + SECRET.encode(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and SECRET not in (caught.value.details() or "")
        # A span with an all-zero span id is refused alone; its batch's other span goes through.
        batch = _proto_batch("svc", 0, 7)
        CollectorServiceStub(channel).PostSpans(pb.PostSpansRequest(batch=batch), timeout=10)
    assert [s.name for _, s in spans_in(daemon, 1)] == ["op-7"]
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="jaeger", transport="grpc") == 1


# ------------------------------------------------------------------------------------------------ Thrift HTTP

def _thrift_batch(service: str, *span_ids: int) -> w.Fields:
    return w.batch(service, [w.span(TRACE, i, f"op-{i}", span_tags={"span.kind": "client", "http.status_code": 503, "secret": SECRET},
                                    logs=[(1_700_000_000_000_500, {"event": "sent"})]) for i in span_ids], process_tags={"jaeger.version": "Python-4.8.0"})


@pytest.mark.parametrize("content_type", ["application/x-thrift", "application/vnd.apache.thrift.binary"])
def test_thrift_http_batch_is_accepted_with_202(daemon: Any, content_type: str) -> None:
    assert _post(daemon, w.Binary.struct(_thrift_batch("billing", 3)), content_type)[0] == 202
    ((resource, span),) = spans_in(daemon, 1)
    assert _attrs(resource.attributes) == {"service.name": "billing", "opencensus.exporterversion": "Jaeger-Python-4.8.0"}
    assert (span.name, span.kind, span.status.code) == ("op-3", 3, 2)
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1_700_000_000_000_000_000, 1_700_000_000_001_000_000)
    assert _attrs(span.attributes) == {"http.status_code": 503, "secret": SECRET}
    assert [(e.name, e.time_unix_nano) for e in span.events] == [("sent", 1_700_000_000_000_500_000)]
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="jaeger", transport="collector_http") == 1


def test_thrift_http_gzip_body_is_read(daemon: Any) -> None:
    assert _post(daemon, gzip.compress(w.Binary.struct(_thrift_batch("svc", 4))), headers={"Content-Encoding": "gzip"})[0] == 202
    spans_in(daemon, 1)


def test_thrift_http_answers_400_for_what_it_cannot_read_and_never_echoes_it(daemon: Any) -> None:
    good = w.Binary.struct(_thrift_batch("svc", 5))
    for body, content_type in ((good, f"text/{SECRET}"), (good[:-9], "application/x-thrift"), (SECRET.encode() * 3, "application/x-thrift"),
                               (b"", "application/x-thrift")):
        status, text = _post(daemon, body, content_type)
        assert status == 400 and SECRET not in text, (status, text)
    assert _post(daemon, b"", method="GET")[0] == 405
    rng = random.Random(7)
    statuses = {_post(daemon, body)[0] for body in damaged_copies(rng, [good], 60, cut=True, overwrite=4, insert=True)}
    assert statuses <= {202, 400}, statuses
    assert daemon.alive() and _post(daemon, good)[0] == 202


# ------------------------------------------------------------------------------------------------ agent UDP

def test_agent_ports_take_emit_batch_in_compact_and_binary(daemon: Any) -> None:
    _send_udp(daemon, "jcompact", w.emit_batch(_thrift_batch("agent-compact", 10, 11), compact=True))
    _send_udp(daemon, "jbinary", w.emit_batch(_thrift_batch("agent-binary", 12), compact=False))
    got = spans_in(daemon, 3)
    by_service = sorted((_attrs(r.attributes)["service.name"], s.name) for r, s in got)
    assert by_service == [("agent-binary", "op-12"), ("agent-compact", "op-10"), ("agent-compact", "op-11")]
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="jaeger", transport="udp_thrift_compact") == 2
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="jaeger", transport="udp_thrift_binary") == 1


def test_bad_datagrams_are_dropped_and_counted_and_the_port_keeps_serving(daemon: Any) -> None:
    good = w.emit_batch(_thrift_batch("svc", 20), compact=True)

    def dropped(reason: str) -> float:
        try:
            return daemon.metric("llm_collector_receiver_dropped_packets", receiver="jaeger", transport="udp_thrift_compact", reason=reason)
        except KeyError:
            return 0.0

    _send_udp(daemon, "jcompact", b"\x82" * 65001)
    wait_for(lambda: dropped("too_large") == 1, 10, "the datagram over max_packet_size counted")
    _send_udp(daemon, "jcompact", b"", SECRET.encode(), b"\x82\x81" + b"\xff" * 100)
    wait_for(lambda: dropped("malformed") == 3, 10, "malformed datagrams counted")
    # Damaged copies of a good datagram, in bursts the socket's buffer holds: each is dropped or read, none stops the port.
    rng = random.Random(3)
    damaged = list(damaged_copies(rng, [good], 150, cut=True, overwrite=4, insert=True))
    for start in range(0, len(damaged), 30):
        _send_udp(daemon, "jcompact", *damaged[start:start + 30])
        wait_for(lambda: daemon.alive(), 5, "the daemon")
    _send_udp(daemon, "jcompact", good)
    wait_for(lambda: any(s.name == "op-20" for _, s in spans_in(daemon, 1)), 10, "the good datagram's span")
    assert dropped("malformed") > 3 and daemon.alive()


# ------------------------------------------------------------------------------------------------ config

def _validate(tmp_path: Path, receiver: str) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(f"receivers:\n  jaeger:\n{receiver}\nexporters:\n  debug: {{}}\nservice:\n  pipelines:\n    traces: {{receivers: [jaeger], exporters: [debug]}}\n")
    result = run_in_process(collector.cli.main, "validate", "--config", str(path), env=dict(os.environ))
    return result.returncode, result.stderr


@pytest.mark.parametrize(("receiver", "problem"), [
    ("    protocols: {}", "must specify at least one protocol"),
    ("    protocols:\n      thrift_tcp:", "unknown protocol"),
    ("    {}", "protocols"),
    ("    protocols:\n      thrift_compact: {workers: 0}", "must be a positive number"),
])
def test_config_is_refused_as_otelcol_refuses_it(tmp_path: Path, receiver: str, problem: str) -> None:
    code, stderr = _validate(tmp_path, receiver)
    assert code == 1 and problem in stderr, stderr


def test_defaults_bind_loopback_on_the_jaeger_ports() -> None:
    # factory.go's defaults (localhost:14250, 14268, 6831, 6832; ServerConfigUDP 1000 / 65000 / 10 / 0), bound to
    # 127.0.0.1 as the otlp receiver's are.
    _, config = decode_config("jaeger", "protocols: {grpc: null, thrift_http: null, thrift_compact: null, thrift_binary: {queue_size: 5}}", Kind.RECEIVER)
    p = config.protocols
    assert [str(p.grpc.endpoint), str(p.thrift_http.endpoint), str(p.thrift_compact.endpoint), str(p.thrift_binary.endpoint)] == [
        "127.0.0.1:14250", "127.0.0.1:14268", "127.0.0.1:6831", "127.0.0.1:6832"]
    assert (p.thrift_compact.queue_size, p.thrift_compact.max_packet_size, p.thrift_compact.workers, p.thrift_compact.socket_buffer_size) == (1000, 65000, 10, 0)
    assert p.thrift_binary.queue_size == 5


def test_remote_sampling_is_accepted_with_a_start_up_warning(daemon_factory: Any) -> None:
    config = CONFIG.replace("receivers:\n  jaeger:\n", 'receivers:\n  jaeger:\n    remote_sampling: {{host_endpoint: "0.0.0.0:5778", strategy_file: /etc/s.json}}\n')
    daemon = daemon_factory(config.replace("queue_size: 4, workers: 1", "socket_buffer_size: 262144"), extra_ports=PORTS)
    warnings = [r for r in daemon.log_records() if r.get("key") == "receivers.jaeger.remote_sampling"]
    assert len(warnings) == 1 and "no-op" in warnings[0]["reason"]


@pytest.mark.slow
def test_over_a_memory_limit_every_transport_refuses_retryably(daemon_factory: Any) -> None:
    # As test_memory_limiter's otlp case: a 10 MiB limit is far below any Python daemon, so it refuses from the first check.
    config = CONFIG.replace("traces: {{receivers: [jaeger], exporters: [file/traces]}}", "traces: {{receivers: [jaeger], processors: [memory_limiter], exporters: [file/traces]}}")
    config = config.replace("exporters:\n  file/traces:", "processors:\n  memory_limiter: {{limit_mib: 10, spike_limit_mib: 2, check_interval: 100ms}}\nexporters:\n  file/traces:")
    daemon = daemon_factory(config, extra_ports=PORTS)
    with grpc.insecure_channel(f"127.0.0.1:{daemon.ports['jgrpc']}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            CollectorServiceStub(channel).PostSpans(pb.PostSpansRequest(batch=_proto_batch("svc", 1, 2)), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="jaeger", transport="grpc") == 2
    status, _ = _post(daemon, w.Binary.struct(_thrift_batch("svc", 3)))
    assert status == 503
    _send_udp(daemon, "jcompact", w.emit_batch(_thrift_batch("svc", 4)))
    wait_for(lambda: daemon.metric("otelcol_receiver_refused_spans", receiver="jaeger", transport="udp_thrift_compact") == 1, 10, "the datagram's span refused")
    assert daemon.alive() and daemon.stop() == 0
    assert not (daemon.data / "traces.jsonl").read_bytes()
