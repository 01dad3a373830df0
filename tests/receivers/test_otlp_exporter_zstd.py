"""`Content-Encoding: zstd` on the OTLP/HTTP receiver (what the otlphttp exporter and otelcol send with
`compression: zstd`): accepted, bounded like gzip (a bomb gets 413 without being inflated), and a
truncated or corrupt body is a 400 that says so."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import zstandard
from google.rpc import status_pb2

from collector.receivers import bodies
from tests.exporters.test_otlp_exporter import count_spans, proto_records
from tests.processors.test_batch import request

SINK = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: "127.0.0.1:{http}"
        max_request_body_size: 1MiB
exporters:
  file/traces:
    path: "{data}/traces.pb"
    format: proto
extensions:
  health_check:
    endpoint: "127.0.0.1:{health}"
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: "127.0.0.1:{metrics}"
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/traces]
"""


def post(daemon: Any, body: bytes, encoding: str = "zstd") -> tuple[int, str]:
    req = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf", "Content-Encoding": encoding})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, status_pb2.Status.FromString(exc.read()).message


def zstd_bomb(inflated: int) -> bytes:
    """Zeros compressed in a stream without a declared content size, so only decoding can find the size."""
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(inflated >> 20)) + compressor.flush()


@pytest.mark.slow
def test_zstd_bodies_accepted_and_bombs_and_corruption_refused(daemon_factory: Any) -> None:
    daemon = daemon_factory(SINK)
    compressor = zstandard.ZstdCompressor(level=3)
    assert post(daemon, compressor.compress(request(7))) == (200, "")
    # Two frames back to back are one valid zstd stream (RFC 8878 3.1).
    assert post(daemon, compressor.compress(request(2)) + compressor.compress(b"")) == (200, "")
    status, message = post(daemon, zstd_bomb(32 * 2**20))
    assert (status, message) == (413, "decompressed body exceeds max_request_body_size 1048576")
    whole = compressor.compress(request(3) * 50)
    assert post(daemon, whole[: len(whole) // 2]) == (400, "truncated zstd body")
    status, message = post(daemon, b"\x28\xb5\x2f\xfd" + b"not zstd at all")
    assert status == 400 and message.startswith("invalid zstd body")
    status, message = post(daemon, b"\x00", encoding="br")
    assert status == 415 and "supported: gzip, deflate, zstd" in message
    assert daemon.stop() == 0
    assert count_spans(proto_records(daemon.data / "traces.pb")) == 9


def test_zstd_decoding_is_bounded_by_the_limit_not_by_the_declared_or_real_size() -> None:
    bomb = zstd_bomb(64 * 2**20)
    started = time.monotonic()
    with pytest.raises(bodies.HTTPProblem) as info:
        bodies.decompress(bomb, "zstd", 4 * 2**20)
    assert info.value.status == 413
    assert time.monotonic() - started < 2.0  # stops near the limit instead of inflating 64 MiB
    data = request(40)
    assert bodies.decompress(zstandard.ZstdCompressor().compress(data), "zstd", len(data)) == data
    with pytest.raises(bodies.HTTPProblem) as info:
        bodies.decompress(zstandard.ZstdCompressor().compress(data), "zstd", len(data) - 1)
    assert info.value.status == 413
