"""Child process of the file exporter that turns protobuf requests into OTLP-JSON records.

OTLP-JSON encoding of a span costs ~15 µs in Python (~3 µs for traces in C, see `encode`) and would
hold the daemon's single event loop; here it runs on another core. The child owns the output files
(rotation, compression and group_by's one-file-per-value included, see file_rotation), so records from
different requests never interleave. Protocol on stdin/stdout, one frame per record, answered strictly
in order:

    request:  1 byte kind (T/L/M = traces/logs/metrics, C = close) + 1 byte flags + 2-byte path length
              + 4-byte payload length (all big-endian), then the path (UTF-8; empty = the configured
              path), then the serialized Export*ServiceRequest. Flag TRUNCATE: the daemon's first
              record for this path since it started, with append: false.
    answer:   b"\\x00" written, or b"\\x01" (retryable) / b"\\x02" (permanent: no retry can write it, e.g.
              a path conflict or a payload that cannot be encoded) + 4-byte length + UTF-8 error message

Each record is answered as soon as it is written. When no further input is waiting the files are
flushed first, so an acknowledged request is already in its file; under constant load they are
flushed at least every flush interval; on close they are fsynced before the close is answered.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.exporters.file_rotation import Framing, OutputFiles, RotationPolicy, is_permanent
from collector.lazyimport import lazy
from collector.wire import native

if TYPE_CHECKING:
    from collector import otlpjson
else:  # imported when a file is written, not by `validate` (collector/lazyimport.py)
    otlpjson = lazy("collector.otlpjson")

HEADER = struct.Struct(">cBHI")
KINDS = {b"T": ("traces", ExportTraceServiceRequest), b"L": ("logs", ExportLogsServiceRequest), b"M": ("metrics", ExportMetricsServiceRequest)}
CLOSE = b"C"
TRUNCATE = 1
OK = b"\x00"
FAILED = b"\x01"
FAILED_PERMANENTLY = b"\x02"


def header(kind: bytes, size: int, path: bytes = b"", flags: int = 0) -> bytes:
    """What precedes a frame's payload of `size` bytes (sent apart from it: a large payload is not copied)."""
    return HEADER.pack(kind, flags, len(path), size) + path


def _fail(message: str, permanent: bool = False) -> bytes:
    encoded = message.encode("utf-8", "replace")
    return (FAILED_PERMANENTLY if permanent else FAILED) + struct.pack(">I", len(encoded)) + encoded


def serve(path: str, options: dict, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    rotation = RotationPolicy(**options["rotation"]) if options.get("rotation") else None
    files = OutputFiles(rotation, int(options.get("max_open_files", 1)))
    framing = Framing(lines=True, zstd=options.get("compression") == "zstd")
    flush_interval = float(options.get("flush_interval", 1.0))
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
        kind, flags, path_size, size = HEADER.unpack_from(buf)
        start = HEADER.size + path_size
        target = buf[HEADER.size : start].decode("utf-8", "replace") if path_size else path
        with memoryview(buf) as view:  # one copy of a large payload, not a slice and then its copy
            payload = bytes(view[start : start + size])
        del buf[: start + size]
        if kind == CLOSE:
            closing = True  # answered below, once the files are on disk
            break
        answer = _write(files, framing, target, bool(flags & TRUNCATE), kind, payload)
        # Nothing else waiting: flush before answering, so an acknowledged request is already in the
        # file. Under constant load, answer at once (pipelining) and flush on the interval.
        now = time.monotonic()
        if now - last_flush >= flush_interval or (not _has_frame(buf) and not select.select([stdin_fd], [], [], 0)[0]):
            try:
                files.flush()
            except OSError as exc:
                answer = _fail(f"cannot write {target}: {exc.strerror or exc}")
            last_flush = now
        _write_all(stdout_fd, answer)
    error = None
    try:
        files.close()
    except OSError as exc:
        error = exc
    if closing:
        try:
            _write_all(stdout_fd, OK if error is None else _fail(f"cannot finish the output files: {error.strerror or error}"))
        except OSError:
            pass  # the daemon is gone; the data is already safe in the files
    return 0


def _has_frame(buf: bytearray) -> bool:
    if len(buf) < HEADER.size:
        return False
    _, _, path_size, size = HEADER.unpack_from(buf)
    return len(buf) >= HEADER.size + path_size + size


def _write(files: OutputFiles, framing: Framing, path: str, truncate: bool, kind: bytes, payload: bytes) -> bytes:
    known = KINDS.get(kind)
    if known is None:
        return _fail(f"unknown frame kind {kind!r}")
    signal, request_type = known
    try:
        # Opened before encoding, so a record that fails to encode still truncates a fresh file.
        file = files.get(path, truncate)
    except OSError as exc:
        return _fail(f"cannot open {path}: {exc.strerror or exc}", is_permanent(exc))
    try:
        record = framing.frame(encode(signal, request_type, payload))
    except Exception as exc:  # a bad payload must cost only its own request
        return _fail(f"cannot encode {signal} as OTLP-JSON: {exc}", permanent=True)
    try:
        file.write(record)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}", is_permanent(exc))
    return OK


def encode(signal: str, request_type: type[Message], payload: bytes) -> bytes:
    """OTLP-JSON of a serialized request: traces in C where the bytes are upb's own serialization (the
    daemon's always are), the same bytes otlpjson would write ~5x faster; anything else in Python."""
    traces_in_c = native.otlp_json_traces
    if signal == "traces" and traces_in_c is not None:
        try:
            return traces_in_c(payload, orjson.dumps)
        except ValueError:
            pass  # e.g. a field twice, which a parser merges: let it
    return otlpjson.encode(signal, request_type.FromString(payload))


def encode_message(signal: str, message: Any) -> bytes:
    """OTLP-JSON of a request object (the file exporter without its encoder process): serializing a trace
    request for the C encoder costs much less than the Python encoder's walk over it."""
    if signal == "traces" and native.otlp_json_traces is not None:
        return encode(signal, type(message), message.SerializeToString())
    return otlpjson.encode(signal, message)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--options", default="{}", help="JSON: flush_interval, compression, rotation, max_open_files")
    args = parser.parse_args(argv)
    # A terminal's Ctrl-C or systemd's cgroup-wide SIGTERM reach us too; the daemon drains and then
    # closes us (or we see EOF if it died), and only then may the files be finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return serve(args.path, json.loads(args.options))


if __name__ == "__main__":
    sys.exit(main())
