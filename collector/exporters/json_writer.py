"""Child process of the file exporter that turns protobuf requests into OTLP-JSON lines.

OTLP-JSON encoding is pure-Python work (~13 µs a span) and would hold the daemon's single event loop;
here it runs on another core. The child owns the output file, so lines from different requests never
interleave. Protocol on stdin/stdout, one frame per request, answered strictly in order:

    request:  1 byte kind (T/L/M = traces/logs/metrics, C = close) + 4-byte big-endian length + payload
    answer:   b"\\x00" written, or b"\\x01" + 4-byte length + UTF-8 error message

Each request is answered as soon as its line is written. When no further input is waiting the file
is flushed first, so an acknowledged request is already in the file; under constant load it is
flushed at least every flush interval; on close it is fsynced before the close is answered.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import struct
import sys
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import otlpjson

HEADER = struct.Struct(">cI")
KINDS = {b"T": ("traces", ExportTraceServiceRequest), b"L": ("logs", ExportLogsServiceRequest), b"M": ("metrics", ExportMetricsServiceRequest)}
CLOSE = b"C"
OK = b"\x00"
FAILED = b"\x01"


def _fail(message: str) -> bytes:
    encoded = message.encode("utf-8", "replace")
    return FAILED + struct.pack(">I", len(encoded)) + encoded


def serve(path: str, append: bool, flush_interval: float, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    file = open(path, "ab" if append else "wb", buffering=1 << 20)
    buf = bytearray()
    last_flush = time.monotonic()
    closing = False
    while not closing:
        if not _has_frame(buf):
            chunk = os.read(stdin_fd, 1 << 20)
            if not chunk:
                break  # the daemon went away: keep what we have
            buf += chunk
            continue
        kind, size = HEADER.unpack_from(buf)
        payload = bytes(buf[HEADER.size : HEADER.size + size])
        del buf[: HEADER.size + size]
        if kind == CLOSE:
            closing = True  # answered below, once the file is on disk
            break
        answer = _write(file, kind, payload)
        # Nothing else waiting: flush before answering, so an acknowledged request is already in the
        # file. Under constant load, answer at once (pipelining) and flush on the interval.
        now = time.monotonic()
        if now - last_flush >= flush_interval or (not _has_frame(buf) and not select.select([stdin_fd], [], [], 0)[0]):
            file.flush()
            last_flush = now
        _write_all(stdout_fd, answer)
    file.flush()
    os.fsync(file.fileno())
    file.close()
    if closing:
        try:
            _write_all(stdout_fd, OK)
        except OSError:
            pass  # the daemon is gone; the data is already safe in the file
    return 0


def _has_frame(buf: bytearray) -> bool:
    return len(buf) >= HEADER.size and len(buf) >= HEADER.size + HEADER.unpack_from(buf)[1]


def _write(file: object, kind: bytes, payload: bytes) -> bytes:
    known = KINDS.get(kind)
    if known is None:
        return _fail(f"unknown frame kind {kind!r}")
    signal, request_type = known
    try:
        line = otlpjson.encode(signal, request_type.FromString(payload)) + b"\n"
    except Exception as exc:  # a bad payload must cost only its own request
        return _fail(f"cannot encode {signal} as OTLP-JSON: {exc}")
    try:
        file.write(line)  # type: ignore[attr-defined]
    except OSError as exc:
        return _fail(f"cannot write {getattr(file, 'name', '')}: {exc.strerror or exc}")
    return OK


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--flush-interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    # A terminal's Ctrl-C or systemd's cgroup-wide SIGTERM reach us too; the daemon drains and then
    # closes us (or we see EOF if it died), and only then may the file be finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return serve(args.path, args.append, args.flush_interval)


if __name__ == "__main__":
    sys.exit(main())
