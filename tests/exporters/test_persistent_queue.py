"""The persistent sending queue (sending_queue.storage: file_storage/<name>): records on disk before the
client is answered, resent after a real kill -9, torn or corrupt records skipped and counted, segments
deleted once delivered, bounded, one fsync shared by concurrent writers."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from collector.component import ComponentID, Kind, RetryableError, Settings, Signal
from collector.config import Duration
from collector.envelope import Envelope
from collector.exporterhelper.persistent import HEADER_SIZE, PersistentQueue, segment_name
from collector.extensions.file_storage import FileStorageConfig, FileStorageExtension, queue_directory_name
from collector.telemetry import Telemetry, component_logger, setup_logging
from collector.testing import wait_for_async
from tests.conftest import REPO
from tests.exporters.test_exporterhelper import FakeHost, Scripted, make_exporter, metric, span_ids, spans_request

STORAGE = ComponentID("file_storage", "q")


@pytest.fixture(name="logs")
def captured_logs() -> Any:
    stream = io.StringIO()
    setup_logging("debug", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    setup_logging("info")


def storage(tmp_path: Path, telemetry: Telemetry, **config: Any) -> FileStorageExtension:
    settings = Settings(id=STORAGE, kind=Kind.EXTENSION, log=component_logger(STORAGE, Kind.EXTENSION), telemetry=telemetry)
    return FileStorageExtension(settings, FileStorageConfig(directory=str(tmp_path / "storage"), create_directory=True, **config))


def open_queue(directory: Path, **kwargs: Any) -> PersistentQueue:
    options: dict[str, Any] = {"capacity": 1000, "sizer": "requests", "max_bytes": 1 << 30, "fsync": False, "log": component_logger("test", "test"), **kwargs}
    return PersistentQueue(directory, **options)


async def put_all(queue: PersistentQueue, requests: list[Any]) -> None:
    for r in requests:
        await queue.put(Signal.TRACES, r, block=False)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


# --- recovery after a real kill -9 --------------------------------------------------------------

CRASHING_WRITER = """
import asyncio, os, sys, time
sys.path.insert(0, {repo!r})
from collector.component import Signal
from collector.exporterhelper.persistent import PersistentQueue
from collector.telemetry import component_logger
from tests.exporters.test_exporterhelper import spans_request, span_ids

async def main():
    q = PersistentQueue({directory!r}, capacity=1000, sizer="requests", max_bytes=1 << 30, fsync={fsync}, log=component_logger("t", "t"), segment_bytes=2048)
    await q.open()
    for i in range(40):
        r = spans_request(5)
        await q.put(Signal.TRACES, r, block=False)
        print("acked-to-client", *span_ids(r), flush=True)
    delivered = []
    for i in range(25):
        got = await q.get()
        delivered.append(got)
    for got in delivered[:20]:   # 20 delivered and acked; 5 were still "in flight" at the crash
        print("delivered", *span_ids(got.data), flush=True)
        q.done(got)
    print("READY", flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def run_until_killed(tmp_path: Path, directory: Path, fsync: bool = False) -> tuple[list[int], list[int]]:
    script = CRASHING_WRITER.format(repo=str(REPO), directory=str(directory), fsync=fsync)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, text=True)
    acked: list[int] = []
    delivered: list[int] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        words = line.split()
        if words[0] == "READY":
            break
        (acked if words[0] == "acked-to-client" else delivered).extend(int(w) for w in words[1:])
    else:
        raise AssertionError(f"writer exited early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return acked, delivered


@pytest.mark.slow
@pytest.mark.parametrize("fsync", [False, True])
def test_after_kill_9_everything_acknowledged_and_not_delivered_is_resent(tmp_path: Path, fsync: bool) -> None:
    directory = tmp_path / "queue"
    acked, delivered = run_until_killed(tmp_path, directory, fsync)
    assert len(acked) == 200 and len(delivered) == 100

    async def recover() -> list[int]:
        queue = open_queue(directory, segment_bytes=2048)
        await queue.open()
        assert queue.recovered == 20  # 15 never dispatched + 5 in flight at the crash
        got: list[int] = []
        while queue.size:
            request = await queue.get()
            assert request is not None
            got.extend(span_ids(request.data))
            queue.done(request)
        await queue.release()
        return got

    resent = asyncio.run(recover())
    assert sorted(set(delivered) | set(resent)) == sorted(acked), "every span acknowledged to the client is delivered"
    assert not set(delivered) & set(resent), "in-order acks: nothing delivered before the crash is sent twice here"
    assert resent == acked[100:], "resent in the original order"
    assert len(segments(directory)) == 1, "delivered segments were deleted"


# --- corrupt and torn records ------------------------------------------------------------------


def write_records(directory: Path, n: int, spans: int = 3) -> list[Any]:
    requests = [spans_request(spans) for _ in range(n)]

    async def run() -> None:
        queue = open_queue(directory)
        await queue.open()
        await put_all(queue, requests)
        await queue.release()

    asyncio.run(run())
    return requests


def read_back(directory: Path, telemetry: Telemetry | None = None) -> tuple[list[int], int, PersistentQueue]:
    counted: list[tuple[int, int]] = []

    async def run() -> tuple[list[int], PersistentQueue]:
        queue = open_queue(directory, on_corrupt=lambda records, nbytes: counted.append((records, nbytes)))
        await queue.open()
        got: list[int] = []
        while queue.size:
            request = await queue.get()
            assert request is not None
            got.extend(span_ids(request.data))
            queue.done(request)
        await queue.put(Signal.TRACES, spans_request(1), block=False)  # still writable after recovery
        await queue.release()
        return got, queue

    got, queue = asyncio.run(run())
    return got, sum(c[0] for c in counted), queue


def test_truncated_tail_record_is_skipped_and_counted(tmp_path: Path, logs: Any) -> None:
    directory = tmp_path / "queue"
    requests = write_records(directory, 5)
    (segment,) = segments(directory)
    size = segment.stat().st_size
    os.truncate(segment, size - 7)  # the last record's write was torn by the crash

    got, corrupt, _ = read_back(directory)
    assert got == [i for r in requests[:4] for i in span_ids(r)]
    assert corrupt == 1
    warning = next(r for r in logs() if "corrupt" in r["event"])
    assert warning["level"] == "warning" and warning["corrupt_regions"] == 1


def test_torn_header_at_the_tail_is_skipped(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    requests = write_records(directory, 3)
    (segment,) = segments(directory)
    with open(segment, "ab") as f:
        f.write(b"LCQ\x01\x01\x00")  # a crash after 6 bytes of the next header
    got, corrupt, _ = read_back(directory)
    assert got == [i for r in requests for i in span_ids(r)] and corrupt == 1


def test_corrupt_record_in_the_middle_is_skipped_and_reading_resumes_after_it(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    requests = write_records(directory, 6)
    (segment,) = segments(directory)
    data = bytearray(segment.read_bytes())
    offset = sum(HEADER_SIZE + r.ByteSize() for r in requests[:2]) + HEADER_SIZE + 5  # inside the 3rd payload
    data[offset] ^= 0xFF
    segment.write_bytes(bytes(data))
    got, corrupt, _ = read_back(directory)
    assert got == [i for k, r in enumerate(requests) if k != 2 for i in span_ids(r)]
    assert corrupt == 1


def test_garbage_file_never_crashes_and_is_counted(tmp_path: Path) -> None:
    directory = tmp_path / "queue"
    directory.mkdir()
    (directory / segment_name(1)).write_bytes(os.urandom(50_000) + b"LCQ\x01" + os.urandom(100))
    (directory / "ack").write_bytes(os.urandom(64))
    got, corrupt, _ = read_back(directory)
    assert got == [] and corrupt >= 1


def test_corrupt_records_are_counted_in_metrics_through_the_extension(tmp_path: Path) -> None:
    telemetry = Telemetry()
    ext = storage(tmp_path, telemetry)
    directory = tmp_path / "storage" / queue_directory_name(ComponentID("scripted"))
    requests = write_records(directory, 4)
    (segment,) = segments(directory)
    os.truncate(segment, segment.stat().st_size - 3)

    async def run() -> Scripted:
        await ext.start(FakeHost())
        exporter = make_exporter(telemetry, queue={"storage": "file_storage/q"})
        await exporter.start(FakeHost({STORAGE: ext}))
        await wait_for_async(lambda: len(exporter.delivered) == 9)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(run())
    assert exporter.delivered == [i for r in requests[:3] for i in span_ids(r)]
    assert metric(telemetry, "llm_collector_persistent_queue_corrupt_records", storage="file_storage/q", exporter="scripted") == 1
    assert metric(telemetry, "llm_collector_persistent_queue_corrupt_bytes", storage="file_storage/q", exporter="scripted") > 0


# --- disk reclaim and bounds -------------------------------------------------------------------


@pytest.mark.parametrize("hot_cache_bytes", [0, 1 << 20], ids=["read-from-disk", "hot-cache"])
def test_segments_are_deleted_once_every_record_in_them_is_delivered(tmp_path: Path, hot_cache_bytes: int) -> None:
    directory = tmp_path / "queue"
    sent = [spans_request(10) for _ in range(100)]  # ~400 B each: ~10 segments
    got: list[int] = []

    async def run() -> list[int]:
        queue = open_queue(directory, segment_bytes=4096, hot_cache_bytes=hot_cache_bytes)
        await queue.open()
        await put_all(queue, sent)
        written = len(segments(directory))
        assert written >= 8
        taken = [await queue.get() for _ in range(50)]
        for request in taken:
            assert request is not None
            got.extend(span_ids(request.data))
        for request in taken[1:]:
            assert request is not None
            queue.done(request)
        counts = [written, len(segments(directory))]  # the first request is still in flight: nothing freed
        assert taken[0] is not None
        queue.done(taken[0])
        counts.append(len(segments(directory)))
        while queue.size:
            request = await queue.get()
            assert request is not None
            got.extend(span_ids(request.data))
            queue.done(request)
        counts.append(len(segments(directory)))
        assert queue.disk_bytes() == (directory / segment_name(max(int(p.stem) for p in segments(directory)))).stat().st_size
        await queue.release()
        return counts

    written, while_head_in_flight, after_half, after_all = asyncio.run(run())
    assert got == [i for r in sent for i in span_ids(r)]
    assert while_head_in_flight == written
    assert after_half < written - 2
    assert after_all == 1


def test_queue_is_bounded_in_sizer_units_and_bytes(tmp_path: Path) -> None:
    async def run() -> None:
        queue = open_queue(tmp_path / "a", capacity=20, sizer="items")
        await queue.open()
        await put_all(queue, [spans_request(10), spans_request(10)])
        with pytest.raises(Exception, match="full"):
            await queue.put(Signal.TRACES, spans_request(1), block=False)
        await queue.release()

        one = spans_request(10)
        queue = open_queue(tmp_path / "b", max_bytes=2 * (HEADER_SIZE + one.ByteSize()) + 10)
        await queue.open()
        await put_all(queue, [one, spans_request(10)])
        with pytest.raises(Exception, match="bytes on disk"):
            await queue.put(Signal.TRACES, spans_request(10), block=False)
        request = await queue.get()
        assert request is not None
        queue.done(request)
        await queue.put(Signal.TRACES, spans_request(10), block=False)  # room again once one is delivered
        await queue.release()

        # The bound holds across a restart: what is on disk counts.
        queue = open_queue(tmp_path / "a", capacity=20, sizer="items")
        await queue.open()
        assert queue.size == 20
        with pytest.raises(Exception, match="full"):
            await queue.put(Signal.TRACES, spans_request(1), block=False)
        await queue.release()

    asyncio.run(run())


def test_full_persistent_queue_refuses_the_client_with_a_retryable_error(tmp_path: Path) -> None:
    telemetry = Telemetry()
    ext = storage(tmp_path, telemetry, max_bytes_per_queue=100_000)

    async def run() -> None:
        await ext.start(FakeHost())
        exporter = make_exporter(telemetry, queue={"storage": "file_storage/q", "queue_size": 3})
        exporter.gate = asyncio.Event()
        await exporter.start(FakeHost({STORAGE: ext}))
        for _ in range(3):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(4)))
        assert metric(telemetry, "otelcol_exporter_queue_size", exporter="scripted") == 3
        with pytest.raises(RetryableError, match="full"):
            await exporter.consume(Envelope(Signal.TRACES, spans_request(4)))
        exporter._drain_budget = 0.1
        await exporter.shutdown()

    asyncio.run(run())
    assert metric(telemetry, "otelcol_exporter_enqueue_failed_spans", exporter="scripted") == 4


# --- group commit, locking, extension errors ---------------------------------------------------


def test_concurrent_writers_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        time.sleep(0.005)  # a disk that takes its time, as real ones do
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)

    async def run() -> PersistentQueue:
        queue = open_queue(tmp_path / "queue", fsync=True)
        await queue.open()
        await asyncio.gather(*(queue.put(Signal.TRACES, spans_request(2), block=False) for _ in range(200)))
        await queue.release()
        return queue

    asyncio.run(run())
    assert 1 <= len(calls) < 40, f"{len(calls)} fsyncs for 200 concurrent puts"


def test_every_put_waits_for_its_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", recording_fsync)

    async def run() -> None:
        queue = open_queue(tmp_path / "queue", fsync=True)
        await queue.open()
        segment = tmp_path / "queue" / segment_name(queue._write_segment)
        for _ in range(5):
            await queue.put(Signal.TRACES, spans_request(3), block=False)
            assert synced and max(synced) >= segment.stat().st_size, "put returned before its record was fsynced"
        await queue.release()

    asyncio.run(run())


def test_a_second_process_cannot_open_the_same_queue(tmp_path: Path) -> None:
    directory = tmp_path / "queue"

    async def run() -> None:
        first = open_queue(directory)
        await first.open()
        script = textwrap.dedent(f"""
            import asyncio, sys
            sys.path.insert(0, {str(REPO)!r})
            from collector.exporterhelper.persistent import PersistentQueue
            from collector.telemetry import component_logger
            q = PersistentQueue(__import__("pathlib").Path({str(directory)!r}), capacity=1, sizer="requests", max_bytes=1 << 20, fsync=False, log=component_logger("t", "t"))
            try:
                asyncio.run(q.open())
            except OSError as exc:
                print("refused:", exc)
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO).stdout
        assert "refused:" in out and "in use by another process" in out
        await first.release()

    asyncio.run(run())


def test_file_storage_directory_must_exist_unless_create_directory(tmp_path: Path) -> None:
    telemetry = Telemetry()
    settings = Settings(id=STORAGE, kind=Kind.EXTENSION, log=component_logger(STORAGE, Kind.EXTENSION), telemetry=telemetry)
    missing = FileStorageExtension(settings, FileStorageConfig(directory=str(tmp_path / "nope")))
    with pytest.raises(OSError, match=r"extension file_storage/q: directory .*nope does not exist \(create it, or set create_directory: true\)"):
        asyncio.run(missing.start(FakeHost()))
    created = FileStorageExtension(settings, FileStorageConfig(directory=str(tmp_path / "made"), create_directory=True))
    asyncio.run(created.start(FakeHost()))
    assert (tmp_path / "made").is_dir()


@pytest.mark.parametrize("case", ["missing", "a file", "unwritable"])
def test_validate_rejects_the_storage_directories_that_run_rejects(tmp_path: Path, case: str) -> None:
    """`llm-collector validate` and `run` agree on the directory (contrib's extension/storage/filestorage/
    config.go, Config.Validate: it must exist unless create_directory, and be a directory): both exit 1 with
    the file, line and key; with create_directory the missing one passes both."""
    directory = tmp_path / "queues"
    if case == "a file":
        directory.write_text("")
    elif case == "unwritable":
        if os.geteuid() == 0:
            pytest.skip("root writes into any directory")
        directory.mkdir(mode=0o500)
    path = tmp_path / "c.yaml"
    body = f"""receivers:
  otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:0"}}}}}}
exporters:
  otlp: {{endpoint: "127.0.0.1:1", tls: {{insecure: true}}, sending_queue: {{storage: file_storage/q}}}}
extensions:
  file_storage/q:
    directory: "{directory}"
service:
  extensions: [file_storage/q]
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"""
    path.write_text(body)
    want = {"missing": f"directory {directory} does not exist (create it, or set create_directory: true)",
            "a file": f"{directory} is not a directory", "unwritable": f"directory {directory} is not writable"}[case]
    for command in ("validate", "run"):
        done = subprocess.run([sys.executable, "-m", "collector.cli", command, "--config", str(path)], capture_output=True, text=True, timeout=60, cwd=REPO)
        out = done.stdout + done.stderr
        assert done.returncode == 1, (command, out)
        assert f"{path}:7: extensions.file_storage/q.directory: {want}" in out, (command, out)
    if case == "missing":
        path.write_text(body.replace(f'directory: "{directory}"', f'directory: "{directory}"\n    create_directory: true'))
        done = subprocess.run([sys.executable, "-m", "collector.cli", "validate", "--config", str(path)], capture_output=True, text=True, timeout=60, cwd=REPO)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not directory.exists()  # validate checks; only run creates it


def test_queue_directory_names_follow_otelcol_and_escape_odd_characters() -> None:
    assert queue_directory_name(ComponentID("otlp")) == "exporter_otlp"
    assert queue_directory_name(ComponentID("otlp", "jaeger")) == "exporter_otlp_jaeger"
    assert queue_directory_name(ComponentID("otlp", "..")) == "exporter_otlp_.."
    assert "\\" not in queue_directory_name(ComponentID("otlp", "a\\b:c"))


# --- the exporter around it ---------------------------------------------------------------------


def test_persistent_exporter_shuts_down_at_once_with_the_backend_down_and_sends_after_restart(tmp_path: Path, logs: Any) -> None:
    telemetry = Telemetry()
    ext = storage(tmp_path, telemetry)
    sent = [spans_request(3) for _ in range(10)]

    async def first_run() -> float:
        await ext.start(FakeHost())
        exporter = make_exporter(telemetry, lambda n: RetryableError("UNAVAILABLE"), queue={"storage": "file_storage/q"}, retry={"initial_interval": Duration(1.0), "max_interval": Duration(1.0)})
        await exporter.start(FakeHost({STORAGE: ext}, grace=10.0))
        for r in sent:
            await exporter.consume(Envelope(Signal.TRACES, r))
        await wait_for_async(lambda: len(exporter.attempts) >= 10)
        started = time.monotonic()
        await exporter.shutdown()
        return time.monotonic() - started

    took = asyncio.run(first_run())
    assert took < 1.0, "requests waiting for a retry stay on disk instead of holding the shutdown"
    kept = next(r for r in logs() if r["event"].startswith("persistent queue keeps"))
    assert kept["requests"] == 10 and kept["spans"] == 30
    assert metric(telemetry, "otelcol_exporter_send_failed_spans", exporter="scripted") == 0

    async def second_run() -> Scripted:
        exporter = make_exporter(telemetry, queue={"storage": "file_storage/q"})
        await exporter.start(FakeHost({STORAGE: ext}))
        await wait_for_async(lambda: len(exporter.delivered) == 30)
        await exporter.shutdown()
        return exporter

    exporter = asyncio.run(second_run())
    assert sorted(exporter.delivered) == sorted(i for r in sent for i in span_ids(r))

