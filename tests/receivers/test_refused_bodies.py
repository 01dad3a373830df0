"""HTTP bodies refused before they are read (receivers/bodies.py): drained in chunks and inflated piece by
piece with their items counted on the way, never held; a bomb stops at max_request_body_size, an invalid
stream is a 400; through the daemon, every encoding and a body without Content-Length are counted exactly."""

from __future__ import annotations

import gzip
import http.client
import zlib
from typing import Any

import pytest
import zstandard

from collector.component import Signal
from collector.otlpjson import encode_traces
from collector.receivers import bodies
from collector.tools import loadgen
from tests.processors.test_memory_limiter import config


def request(spans: int = 200) -> bytes:
    return loadgen.build_templates(batch_size=spans, count=1, seed=9)[0].payload


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data[: len(data) // 2]) + gzip.compress(data[len(data) // 2 :])  # two members
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def drained(body: bytes, encoding: str, json_body: bool = False, limit: int = 1 << 25, chunk: int = 1000) -> bodies.Drain:
    sink = bodies.Drain(Signal.TRACES, json_body, encoding, limit)
    for at in range(0, len(body), chunk):
        sink.feed(body[at : at + chunk])
    return sink


@pytest.mark.parametrize("encoding", ["", "identity", "gzip", "deflate", "zstd"])
def test_a_refused_body_is_counted_as_it_is_drained_in_any_encoding(encoding: str) -> None:
    data = request()
    sink = drained(compress(data, encoding), encoding)
    assert sink.items() == 200 and sink.inflated == len(data)


def test_a_refused_json_body_is_counted_when_small_enough_to_decode() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    text = encode_traces(ExportTraceServiceRequest.FromString(request(50)))
    assert len(text) <= bodies.JSON_COUNTED
    assert drained(gzip.compress(text), "gzip", json_body=True).items() == 50
    assert drained(b"{not json", "", json_body=True).items() is None
    large = b" " * bodies.JSON_COUNTED + text
    assert drained(large, "", json_body=True).items() is None


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_a_refused_bomb_stops_at_the_limit(encoding: str) -> None:
    bomb = gzip.compress(bytes(200 << 20)) if encoding == "gzip" else zstandard.ZstdCompressor().compress(bytes(200 << 20))
    with pytest.raises(bodies.HTTPProblem) as info:
        drained(bomb, encoding, limit=4 << 20, chunk=1 << 16)
    assert info.value.status == 413


def test_invalid_or_unsupported_streams_are_the_problems_the_normal_path_reports() -> None:
    with pytest.raises(bodies.HTTPProblem) as info:
        drained(b"\x1f\x8bnot gzip at all", "gzip")
    assert info.value.status == 400
    with pytest.raises(bodies.HTTPProblem) as info:
        bodies.Drain(Signal.TRACES, False, "br", 1000)
    assert info.value.status == 415


def post(daemon: Any, body: bytes, headers: dict[str, str], chunked: bool = False) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.ports["http"], timeout=30)
    headers = {"Content-Type": "application/x-protobuf", **headers}
    if chunked:
        conn.putrequest("POST", "/v1/traces")
        for k, v in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(k, v)
        conn.endheaders()
        for at in range(0, len(body), 7000):
            piece = body[at : at + 7000]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
    else:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.slow
def test_the_daemon_counts_every_refused_body_exactly(daemon_factory: Any) -> None:
    # A 10 MiB limit is far below any Python daemon: everything is refused, before it is read.
    daemon = daemon_factory(config("{{limit_mib: 10, spike_limit_mib: 2, check_interval: 100ms}}"))
    data = request()
    sent = 0
    for encoding in ("", "gzip", "deflate", "zstd"):
        for chunked in (False, True):
            headers = {"Content-Encoding": encoding} if encoding else {}
            response = post(daemon, compress(data, encoding), headers, chunked)
            assert response.status == 503 and int(response.getheader("Retry-After")) >= 1
            sent += 200
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="otlp") == sent
    assert daemon.metric("otelcol_processor_refused_spans", processor="memory_limiter") == sent
    assert daemon.metric("llm_collector_receiver_refused_uncounted_requests") == 0
    assert daemon.stop() == 0
