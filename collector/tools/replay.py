"""`llm-collector replay FILE... --config cfg.yaml`: push what a file exporter wrote back through the
pipelines, to recover from a backend outage by hand or to backfill a new backend.

Reads every layout the file exporter (collector/exporters/file.py, otelcol's file exporter) writes:
OTLP-JSON lines, or records behind a 4-byte big-endian length holding protobuf or OTLP-JSON, each
optionally a zstd frame. The layout is told by the first byte (`{` starts a JSON line; a length prefix never does),
compression by the zstd magic number in front of each record (or of the whole file, as gzip's, when the
file was compressed after it was written), and the signal by the JSON key or, for
protobuf, by which request type parses cleanly. `--format`, `--compression` and `--signal` turn the
detection into checks.

The service starts from the config WITHOUT its receivers (and without health_check and the metrics
endpoint), so replay can run beside a daemon using the same config and no live data mixes in; records
go to every pipeline of their signal exactly as a receiver would hand them over. A retryable refusal
(full queue, memory limit) is retried with backoff, as a client would; delivery is at-least-once.
A damaged file stops the replay with the record number and byte offset: nothing is skipped silently.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal as signals
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from ..component import Signal
from ..envelope import Envelope

JSON_KEYS = {
    Signal.TRACES: (b'"resourceSpans"', b'"resource_spans"'),
    Signal.LOGS: (b'"resourceLogs"', b'"resource_logs"'),
    Signal.METRICS: (b'"resourceMetrics"', b'"resource_metrics"'),
}


class ReplayError(Exception):
    """Stops the replay; the message is for the user as it stands."""


class CorruptRecord(ReplayError):
    def __init__(self, path: str, index: int, offset: int, reason: str):
        super().__init__(f"{path}: record {index} at byte offset {offset}: {reason}")
        self.path, self.index, self.offset = path, index, offset


@dataclass
class Record:
    index: int
    offset: int
    signal: Signal
    request: Any
    items: int


@dataclass
class Expect:
    signal: Signal | None = None
    format: str = "auto"
    compression: str = "auto"


class RecordReader:
    """Iterates the records of one exported file, decoding each into its Export*ServiceRequest."""

    def __init__(self, path: str, expect: Expect):
        self.path = path
        self.expect = expect
        self.signal: Signal | None = expect.signal
        self._checked_signal = False
        self._decompressor: Any = None
        self.layout = ""

    def __iter__(self) -> Iterator[Record]:
        try:
            # A buffered binary file is a BufferedReader (typeshed knows that only for buffering -1 or 1).
            file = cast(io.BufferedReader, open(self.path, "rb", buffering=1 << 20))
        except OSError as exc:
            raise ReplayError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        with file:
            size: int | None = os.fstat(file.fileno()).st_size
            stream: Any = file
            whole = _whole_file_compression(file.peek(4)[:4])
            if whole:
                # A file compressed as a whole after it was written (logrotate's gzip, `zstd file`): read
                # through a decompressing stream; its decompressed size is not known up front.
                stream, size = _decompressing(file, whole), None
            first = stream.peek(1)[:1]
            if not first:
                return
            suffix = f", {whole} file" if whole else ""
            records = self._lines(stream) if first == b"{" else self._length_prefixed(stream, size)
            self.layout = ("json lines" if first == b"{" else "length-prefixed") + suffix
            if not whole:
                yield from records
                return
            import zstandard

            try:
                yield from records
            except (EOFError, OSError, zstandard.ZstdError) as exc:
                raise ReplayError(f"{self.path}: damaged {whole} file: {exc}") from None

    def first_signal(self) -> Signal | None:
        """The signal of the file's first record (None for an empty file), without decoding the rest."""
        for record in self:
            return record.signal
        return None

    def _lines(self, file: Any) -> Iterator[Record]:
        if self.expect.compression == "zstd":
            raise CorruptRecord(self.path, 0, 0, "the file is OTLP-JSON lines, not length-prefixed zstd records as --compression zstd says")
        if self.expect.format == "proto":
            raise CorruptRecord(self.path, 0, 0, "the file is OTLP-JSON lines, not protobuf as --format proto says")
        offset = index = 0
        for line in file:
            start, offset = offset, offset + len(line)
            body = line.rstrip(b"\r\n")
            if not body.strip():
                continue  # a blank line carries no data
            try:
                request, signal = self._json(body)
            except ValueError as exc:
                hint = "" if line.endswith(b"\n") else f"; the last line has no newline, so the writer was probably stopped mid-record: `truncate -s {start} {self.path}` drops it"
                raise CorruptRecord(self.path, index, start, f"{exc}{hint}") from None
            yield Record(index, start, signal, request, _count(signal, request))
            index += 1

    def _length_prefixed(self, file: Any, size: int | None) -> Iterator[Record]:
        from ..exporters.file_rotation import LENGTH

        offset = index = 0
        while True:
            header = file.read(LENGTH.size)
            if not header:
                return
            # After good records, a short tail is what a writer stopped mid-record leaves behind.
            truncate_hint = f"; if the writer was stopped mid-record, `truncate -s {offset} {self.path}` drops the partial record" if index else ""
            if len(header) < LENGTH.size:
                raise CorruptRecord(self.path, index, offset, f"the file ends inside the 4-byte length prefix{truncate_hint}")
            (length,) = LENGTH.unpack(header)
            remaining = size - offset - LENGTH.size if size is not None else length
            if length > remaining:
                raise CorruptRecord(self.path, index, offset, f"the length prefix says {length} bytes but only {remaining} remain (a partial write, or not a file exporter file){truncate_hint}")
            payload = file.read(length)
            if len(payload) < length:
                raise CorruptRecord(self.path, index, offset, f"the file ends {length - len(payload)} bytes into the record{truncate_hint}")
            try:
                request, signal = self._decode(payload)
            except ValueError as exc:
                raise CorruptRecord(self.path, index, offset, str(exc)) from None
            yield Record(index, offset, signal, request, _count(signal, request))
            offset += LENGTH.size + length
            index += 1

    def _decode(self, payload: bytes) -> tuple[Any, Signal]:
        from ..exporters.file_rotation import ZSTD_MAGIC

        compressed = payload[:4] == ZSTD_MAGIC
        if compressed and self.expect.compression == "none":
            raise ValueError("the record is zstd-compressed, but --compression none was given")
        if not compressed and self.expect.compression == "zstd":
            raise ValueError("the record is not zstd-compressed (no zstd magic number), but --compression zstd was given")
        if compressed:
            payload = self._unzstd(payload)
        is_json = payload[:1] == b"{"
        if is_json and self.expect.format == "proto":
            raise ValueError("the record is OTLP-JSON, but --format proto was given")
        if not is_json and self.expect.format == "json":
            raise ValueError("the record is not OTLP-JSON (does not start with '{'), but --format json was given")
        return self._json(payload) if is_json else self._proto(payload)

    def _unzstd(self, payload: bytes) -> bytes:
        import zstandard

        if self._decompressor is None:
            self._decompressor = zstandard.ZstdDecompressor()
        # A decompressobj also reads frames that do not state their content size; eof tells a
        # complete frame from a cut one, and the frame's checksum catches damaged bytes.
        stream = self._decompressor.decompressobj()
        try:
            data = stream.decompress(payload)
        except zstandard.ZstdError as exc:
            raise ValueError(f"damaged zstd record: {exc}") from None
        if not stream.eof:
            raise ValueError("damaged zstd record: the frame is incomplete")
        return data

    def _json(self, body: bytes) -> tuple[Any, Signal]:
        from .. import otlpjson

        signal = self.signal
        if signal is None or not self._checked_signal:
            found = _json_signal(body)
            if found is None:
                raise ValueError("not an OTLP-JSON export request (no resourceSpans, resourceLogs or resourceMetrics key)")
            if signal is not None and found is not signal:
                raise ValueError(f"the record holds {found.value}, but --signal {signal.value} was given")
            self.signal = signal = found
            self._checked_signal = True
        elif not any(key in body for key in JSON_KEYS[signal]):
            raise ValueError(f"not an OTLP-JSON {signal.value} request (the file's earlier records are {signal.value})")
        try:
            return otlpjson.decode(signal, body), signal
        except otlpjson.OTLPJSONError as exc:
            raise ValueError(f"invalid OTLP-JSON: {exc}") from None

    def _proto(self, payload: bytes) -> tuple[Any, Signal]:
        from google.protobuf.message import DecodeError

        from ..pdata import REQUEST_TYPES

        if self.signal is not None and self._checked_signal:
            try:
                return REQUEST_TYPES[self.signal].FromString(payload), self.signal
            except DecodeError as exc:
                raise ValueError(f"invalid protobuf {self.signal.value} request: {exc}") from None
        # Protobuf does not say what it holds: the file's first record decides, checked field by field.
        candidates = [self.signal] if self.signal is not None else list(Signal)
        plausible: list[tuple[Signal, Any]] = []
        reasons = []
        for candidate in candidates:
            try:
                request = REQUEST_TYPES[candidate].FromString(payload)
            except DecodeError as exc:
                reasons.append(f"not a {candidate.value} request ({exc})")
                continue
            problem = _implausible(candidate, request)
            if problem:
                reasons.append(f"not a {candidate.value} request ({problem})")
                continue
            plausible.append((candidate, request))
        if not plausible:
            hint = " (the file may hold another signal: omit --signal to detect it)" if self.expect.signal is not None else ""
            raise ValueError("invalid protobuf: " + "; ".join(reasons) + hint)
        if len(plausible) > 1:
            with_items = [p for p in plausible if _count(*p)]
            if len(with_items) != 1:
                names = ", ".join(s.value for s, _ in plausible)
                raise ValueError(f"cannot tell whether the file holds {names}; pass --signal")
            plausible = with_items
        self.signal, request = plausible[0]
        self._checked_signal = True
        return request, self.signal


_GZIP_MAGIC = b"\x1f\x8b"


def _whole_file_compression(head: bytes) -> str:
    """"gzip" or "zstd" when the file itself starts with that format's magic number (a record-compressed
    file starts with a length prefix instead), else ""."""
    from ..exporters.file_rotation import ZSTD_MAGIC

    if head[:2] == _GZIP_MAGIC:
        return "gzip"
    if head == ZSTD_MAGIC:
        return "zstd"
    return ""


def _decompressing(file: Any, compression: str) -> io.BufferedReader:
    if compression == "gzip":
        import gzip

        return io.BufferedReader(cast(Any, gzip.GzipFile(fileobj=file, mode="rb")), buffer_size=1 << 20)
    import zstandard

    return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True), buffer_size=1 << 20)


def _json_signal(body: bytes) -> Signal | None:
    import orjson

    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        return None
    for signal, keys in JSON_KEYS.items():
        if any(key.decode().strip('"') in obj for key in keys):
            return signal
    return None


def _count(signal: Signal, request: Any) -> int:
    from ..pdata import count_items

    return count_items(signal, request)


def _implausible(signal: Signal, request: Any) -> str:
    """Why `request` cannot really be of `signal` although it parsed: another signal's bytes parse
    with unknown fields, and span ids of the wrong size."""
    path = _unknown_field(request, "")
    if path is not None:
        return f"unknown field in {path or 'the request'}"
    if signal is Signal.TRACES:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if len(span.trace_id) != 16 or len(span.span_id) != 8:
                        return "a span without a 16-byte trace_id and 8-byte span_id"
    return ""


def _unknown_field(message: Any, path: str) -> str | None:
    from google.protobuf.unknown_fields import UnknownFieldSet

    if len(UnknownFieldSet(message)):
        return path
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        children = value if descriptor.is_repeated else [value]
        for i, child in enumerate(children):
            found = _unknown_field(child, f"{path}.{descriptor.name}[{i}]" if descriptor.is_repeated else f"{path}.{descriptor.name}")
            if found is not None:
                return found.lstrip(".")
    return None


# ------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="Files a file exporter wrote (rotated backups too), replayed in the order given.")
    parser.add_argument("--signal", choices=[s.value for s in Signal], help="What the files hold (default: detect; every file must then hold it).")
    parser.add_argument("--format", choices=["auto", "json", "proto"], default="auto", help="Record encoding (default: detect per record).")
    parser.add_argument("--compression", choices=["auto", "none", "zstd"], default="auto", help="Record compression (default: detect per record by the zstd magic number).")
    parser.add_argument("--check", action="store_true", help="Only read and validate the files; start nothing, send nothing.")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="Records in the pipelines at once (default 4; 1 keeps the file order exactly).")
    parser.add_argument("--retry-timeout", default="5m", metavar="DURATION", help="How long to keep retrying a record the pipelines refuse retryably (default 5m).")
    parser.add_argument("--drain-timeout", default="5m", metavar="DURATION", help="How long to wait at the end for sending queues to empty and exporters to flush (default 5m).")
    parser.add_argument("--progress-every", type=int, default=1000, metavar="N", help="Log progress every N records (default 1000).")


@dataclass
class _Totals:
    records: int = 0
    items: int = 0
    rejected: int = 0
    failed_records: int = 0
    failed_items: int = 0
    by_signal: dict[Signal, int] = field(default_factory=dict)


def main(args: argparse.Namespace) -> int:
    from ..config import ConfigErrors, Duration, load_config
    from ..telemetry import setup_logging

    try:
        retry_timeout = Duration.parse(args.retry_timeout)
        drain_timeout = Duration.parse(args.drain_timeout)
    except ValueError:
        print("replay: --retry-timeout and --drain-timeout take durations like 30s or 5m", file=sys.stderr)
        return 2
    if args.concurrency < 1 or args.progress_every < 1:
        print("replay: --concurrency and --progress-every must be at least 1", file=sys.stderr)
        return 2
    expect = Expect(Signal(args.signal) if args.signal else None, args.format, args.compression)
    if args.check:
        setup_logging("info", "json")
        return _check(args.files, expect)
    try:
        config = load_config(args.config, args.set)
    except ConfigErrors as exc:
        print(f"invalid configuration: {len(exc.errors)} problem(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    logs = config.service.telemetry.logs
    setup_logging(logs.level, logs.encoding)
    # A daemon running from the same config holds the metrics port; replay has nothing to serve or push.
    config.service.telemetry.metrics.level = "none"
    config.service.shutdown_timeout = Duration(max(float(config.service.shutdown_timeout), float(drain_timeout)))
    try:
        return asyncio.run(_Replay(config, args.files, expect, args, float(retry_timeout), float(drain_timeout)).run())
    except ReplayError as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 1


def _check(paths: list[str], expect: Expect) -> int:
    totals = _Totals()
    for path in paths:
        reader = RecordReader(path, expect)
        try:
            records = items = 0
            for record in reader:
                records += 1
                items += record.items
        except ReplayError as exc:
            print(f"replay --check: {exc}", file=sys.stderr)
            return 1
        totals.records += records
        totals.items += items
        print(f"{path}: {records} records, {items} {_item_name(reader.signal)} ({reader.layout or 'empty'})")
    print(f"ok: {totals.records} records, {totals.items} items in {len(paths)} file(s)")
    return 0


def _item_name(signal: Signal | None) -> str:
    from ..telemetry import ITEM

    return ITEM[signal] if signal is not None else "items"


class _Replay:
    def __init__(self, config: Any, paths: list[str], expect: Expect, args: argparse.Namespace, retry_timeout: float, drain_timeout: float):
        from ..telemetry import component_logger

        self.config = config
        self.paths = paths
        self.expect = expect
        self.args = args
        self.retry_timeout = retry_timeout
        self.drain_timeout = drain_timeout
        self.log = component_logger("replay", "replay")
        self.totals = _Totals()
        self.stop_reason = ""

    def _heads(self, service: Any, signal: Signal) -> Any:
        from ..service import fan_out

        names = [name for name, p in self.config.pipelines.items() if p.signal is signal]
        return fan_out([service.pipeline_entries[name] for name in names])

    async def run(self) -> int:
        from ..service import Service, StartupError

        # Know every file's signal before anything starts, so a missing pipeline fails fast.
        signals_of = {path: RecordReader(path, self.expect).first_signal() for path in self.paths}
        used = {s for s in signals_of.values() if s is not None}
        for signal in sorted(used):
            if not any(p.signal is signal for p in self.config.pipelines.values()):
                files = ", ".join(p for p, s in signals_of.items() if s is signal)
                raise ReplayError(f"{files} hold(s) {signal.value}, but the config has no {signal.value} pipeline")
        try:
            service = Service(self.config)
        except StartupError as exc:
            raise ReplayError(f"start-up failed: {exc}") from None
        service.receivers.clear()  # the records take the receivers' place
        for id in [id for id in service.extensions if id.type == "health_check"]:
            del service.extensions[id]  # a batch job is not probed; its port may belong to a running daemon
        try:
            await service.start()
        except StartupError as exc:
            raise ReplayError(f"start-up failed: {exc}") from None
        heads = {signal: self._heads(service, signal) for signal in used}
        self.log.info("replaying", files=len(self.paths), signals=sorted(s.value for s in used), pipelines=[n for n, p in self.config.pipelines.items() if p.signal in used])

        loop = asyncio.get_running_loop()
        for signum in (signals.SIGINT, signals.SIGTERM):
            loop.add_signal_handler(signum, self._interrupt, signum)
        failure: ReplayError | None = None
        started = time.monotonic()
        try:
            await self._push_all(heads, started)
        except ReplayError as exc:
            failure = exc
        queues_empty = await self._wait_for_queues(service, used)
        drained = await service.shutdown()
        return self._report(service, used, failure, queues_empty and drained, time.monotonic() - started)

    def _interrupt(self, signum: int) -> None:
        if self.stop_reason:
            os._exit(1)  # a second signal: the user does not want to wait for the drain
        self.stop_reason = f"interrupted by {signals.Signals(signum).name}"
        self.log.warning("stopping: finishing records in flight, then draining", signal=signals.Signals(signum).name)

    async def _push_all(self, heads: dict[Signal, Any], started: float) -> None:
        window = asyncio.Semaphore(self.args.concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        errors: list[ReplayError] = []
        position = ""

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            window.release()
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                errors.append(exc if isinstance(exc, ReplayError) else ReplayError(f"{type(exc).__name__}: {exc}"))

        try:
            for path, record in self._records():
                await window.acquire()
                if errors or self.stop_reason:
                    window.release()
                    break
                position = f"{path} record {record.index} (byte offset {record.offset})"
                task = asyncio.get_running_loop().create_task(self._push(heads[record.signal], path, record))
                in_flight.add(task)
                task.add_done_callback(finished)
                self.totals.records += 1
                self.totals.items += record.items
                self.totals.by_signal[record.signal] = self.totals.by_signal.get(record.signal, 0) + record.items
                if self.totals.records % self.args.progress_every == 0:
                    elapsed = max(time.monotonic() - started, 1e-9)
                    self.log.info("replay progress", file=path, records=self.totals.records, items=self.totals.items, items_per_second=round(self.totals.items / elapsed))
        finally:
            if in_flight:
                await asyncio.gather(*list(in_flight), return_exceptions=True)
        if errors:
            raise errors[0]
        if self.stop_reason:
            raise ReplayError(f"{self.stop_reason}; the last record handed to the pipelines was {position or 'none'}")

    def _records(self) -> Iterator[tuple[str, Record]]:
        for path in self.paths:
            for record in RecordReader(path, self.expect):
                yield path, record

    async def _push(self, head: Any, path: str, record: Record) -> None:
        from .. import pdata
        from ..component import PermanentError, RetryableError

        deadline = time.monotonic() + self.retry_timeout
        delay = 0.1
        while True:
            # A mutating pipeline changes the request; a retry must send what the file holds.
            data = pdata.clone(record.request) if head.capabilities.mutates_data else record.request
            try:
                rejected = await head.consume(Envelope(record.signal, data))
            except PermanentError as exc:
                self.totals.failed_records += 1
                self.totals.failed_items += record.items
                self.log.error("the pipelines refused a record permanently; continuing", file=path, record=record.index, offset=record.offset, error=str(exc))
                return
            except RetryableError as exc:
                wait = max(delay, exc.retry_after or 0.0)
                if time.monotonic() + wait > deadline or self.stop_reason:
                    raise ReplayError(f"{path} record {record.index} (byte offset {record.offset}) still refused after {self.retry_timeout:g}s: {exc}") from None
                self.log.warning("pipelines refused a record; retrying", file=path, record=record.index, error=str(exc), delay_s=round(wait, 3))
                await asyncio.sleep(wait)
                delay = min(delay * 2, 5.0)
                continue
            if rejected is not None and rejected.count:
                self.totals.rejected += rejected.count
            return

    def _queue_sizes(self, service: Any, used: set[Signal]) -> dict[str, float]:
        gauge = service.telemetry.gauge("otelcol_exporter_queue_size", "Current size of the retry queue (in the sizer's units).", ("exporter",))
        return {str(id): gauge.labels(str(id)).value for id in self._exporters(used)}

    def _exporters(self, used: set[Signal]) -> list[Any]:
        ids = {id for p in self.config.pipelines.values() if p.signal in used for id in p.exporters}
        return sorted(ids)

    async def _wait_for_queues(self, service: Any, used: set[Signal]) -> bool:
        """Sending queues hold acknowledged data (a persistent one keeps it past shutdown): wait for them
        to empty before stopping, so replay ends with the data delivered rather than queued."""
        deadline = time.monotonic() + self.drain_timeout
        last_log = 0.0
        while True:
            waiting = {id: size for id, size in self._queue_sizes(service, used).items() if size > 0}
            if not waiting:
                return True
            now = time.monotonic()
            if now >= deadline:
                self.log.error("sending queues did not empty within the drain timeout", queue_sizes=waiting, drain_timeout_s=self.drain_timeout)
                return False
            if now - last_log >= 5.0:
                self.log.info("waiting for sending queues to empty", queue_sizes=waiting)
                last_log = now
            await asyncio.sleep(0.05)

    def _report(self, service: Any, used: set[Signal], failure: ReplayError | None, drained: bool, seconds: float) -> int:
        t = self.totals
        exporters: list[dict[str, Any]] = []
        undelivered = []
        for id in self._exporters(used):
            for signal in used:
                counters = service.telemetry.exporter_counters(id, signal)
                sent, failed, refused = counters.sent.value, counters.send_failed.value, counters.enqueue_failed.value
                exporters.append({"exporter": str(id), "signal": signal.value, "sent": int(sent), "send_failed": int(failed), "enqueue_failed": int(refused)})
                if failed or refused:
                    undelivered.append(f"{id} could not deliver {int(failed + refused)} {_item_name(signal)}")
        left = {id: size for id, size in self._queue_sizes(service, used).items() if size > 0}
        self.log.info(
            "replay finished",
            records=t.records,
            items=t.items,
            rejected_items=t.rejected,
            failed_records=t.failed_records,
            seconds=round(seconds, 3),
            exporters=exporters,
            left_in_queues=left,
        )
        counts = ", ".join(f"{n} {_item_name(s)}" for s, n in sorted(t.by_signal.items())) or "0 items"
        print(f"replayed {t.records} records ({counts}) from {len(self.paths)} file(s) in {seconds:.1f}s")
        for row in exporters:
            print(f"  {row['exporter']}: sent {row['sent']} {_item_name(Signal(row['signal']))}, failed {row['send_failed'] + row['enqueue_failed']}")
        problems = []
        if failure is not None:
            problems.append(str(failure))
        if t.failed_records:
            problems.append(f"{t.failed_records} record(s) ({t.failed_items} items) refused permanently by the pipelines (see the errors logged)")
        problems.extend(undelivered)
        if left:
            problems.append(f"still queued when replay stopped (a persistent queue keeps it for the daemon's next start): {left}")
        elif not drained:
            problems.append("exporters did not finish draining within --drain-timeout")
        if t.rejected:
            print(f"  {t.rejected} item(s) were refused on purpose by the pipeline (partial success), see the warnings logged")
        for problem in problems:
            print(f"replay failed: {problem}", file=sys.stderr)
        return 1 if problems else 0
