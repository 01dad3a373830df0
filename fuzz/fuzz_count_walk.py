"""`count_walk`, the item count of a request refused before it is decoded, in C, against the Python walk
(collector.wire.count.walk) fed the same chunks, and against protobuf's own count where the parser reads the
bytes.

Input (_harness.frame): the signal (its first byte: traces, logs or metrics), where to cut the request in
two (a uint16, modulo its length + 1: a body arrives in pieces), then the serialized request. C and Python
must give the same items and the same verdict on malformed bytes; where the parser reads the request the
count is protobuf's and not malformed.
"""

from __future__ import annotations

import struct

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import pdata
from collector.wire import count, native
from fuzz import _harness

SIGNALS = (("traces", ExportTraceServiceRequest), ("logs", ExportLogsServiceRequest), ("metrics", ExportMetricsServiceRequest))


def encode(signal: int, cut: int, payload: bytes) -> bytes:
    return _harness.frame(bytes([signal]), struct.pack("<H", cut), payload)


def counted(signal: str, pieces: tuple[bytes, ...], c_walk: object) -> tuple[int, bool]:
    saved = native.count_walk
    native.count_walk = c_walk  # type: ignore[assignment]
    try:
        counter = count.ItemCounter(signal)
        for piece in pieces:
            counter.feed(_harness.exact(piece) if c_walk is not None else piece)
        return counter.items, counter.bad
    finally:
        native.count_walk = saved


def test_one_input(data: bytes) -> None:
    which, cut_bytes, payload = _harness.unframe(data, 3)
    signal, request_type = SIGNALS[which[0] % len(SIGNALS)] if which else SIGNALS[0]
    cut = struct.unpack("<H", cut_bytes[:2].ljust(2, b"\0"))[0] % (len(payload) + 1)
    pieces = (payload[:cut], payload[cut:])
    assert native.count_walk is not None
    c = counted(signal, pieces, native.count_walk)
    python = counted(signal, pieces, None)
    assert c == python, (c, python)
    try:
        parsed = request_type.FromString(payload)
    except (DecodeError, RecursionError):
        return
    assert c == (pdata.count_items(signal, parsed), False), c


if __name__ == "__main__":
    _harness.main(test_one_input, [count])
