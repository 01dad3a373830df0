"""`llm-collector replay`, as a user runs it: a daemon writes a file, the CLI replays it through another
config's pipelines, and the spans that come out the other side are compared with those sent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.component import Signal
from collector.testing import kv
from tests.conftest import BASIC_CONFIG, REPO, Daemon, daemon_yaml

pytestmark = pytest.mark.slow
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

WRITER = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file/traces: {{path: "{data}/%s", format: %s, compression: "%s"%s}}
""", """
traces: {{receivers: [otlp], exporters: [file/traces]}}
""")


def replay_config(path: Path, ports: dict[str, int], exporters: str, pipeline_exporters: str) -> Path:
    """A config whose receiver, health_check and metrics ports are `ports` (a running daemon's, to
    prove replay binds none of them)."""
    head = textwrap.dedent(f"""
        receivers:
          otlp:
            protocols:
              grpc: {{endpoint: "127.0.0.1:{ports["grpc"]}"}}
              http: {{endpoint: "127.0.0.1:{ports["http"]}"}}
        processors:
          batch: {{timeout: 50ms}}
        exporters:
    """)
    tail = textwrap.dedent(f"""
        extensions:
          health_check: {{endpoint: "127.0.0.1:{ports["health"]}"}}
        service:
          extensions: [health_check]
          telemetry:
            metrics: {{address: "127.0.0.1:{ports["metrics"]}"}}
          pipelines:
            traces: {{receivers: [otlp], processors: [batch], exporters: [{pipeline_exporters}]}}
    """)
    path.write_text(head + textwrap.indent(textwrap.dedent(exporters).strip(), "  ") + "\n" + tail)
    return path


def replay(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", "replay", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def requests(count: int, spans: int = 25) -> list[ExportTraceServiceRequest]:
    out = []
    for n in range(count):
        resources = []
        for r in range(2):
            items = [
                Span(
                    trace_id=(n * 10 + r + 1).to_bytes(16, "big"),
                    span_id=(n * 1000 + r * 100 + i + 1).to_bytes(8, "big"),
                    name=f"chat r{n}",
                    kind=Span.SPAN_KIND_CLIENT,
                    start_time_unix_nano=1_700_000_000_000_000_000 + n,
                    end_time_unix_nano=1_700_000_000_500_000_000 + n,
                    attributes=[kv("gen_ai.request.model", f"model-{i % 3}"), kv("gen_ai.prompt", os.urandom(1000).hex()), kv("n", str(n))],
                )
                for i in range(spans)
            ]
            resource = Resource(attributes=[kv("service.name", f"svc-{r}")])
            resources.append(ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=items)]))
        out.append(ExportTraceServiceRequest(resource_spans=resources))
    return out


def send(daemon: Daemon, batch: list[ExportTraceServiceRequest]) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        export = channel.unary_unary(EXPORT)
        for r in batch:
            export(r.SerializeToString(), timeout=30)


def span_facts(batch: list[ExportTraceServiceRequest]) -> list[tuple[Any, ...]]:
    """Every span with its resource: ids, name, kind, times and attributes, sorted."""
    facts = []
    for r in batch:
        for rs in r.resource_spans:
            resource = tuple(sorted((a.key, a.value.string_value) for a in rs.resource.attributes))
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = tuple(sorted((a.key, a.value.string_value) for a in s.attributes))
                    facts.append((s.trace_id.hex(), s.span_id.hex(), s.name, s.kind, s.start_time_unix_nano, s.end_time_unix_nano, attrs, resource))
    return sorted(facts)


def read_jsonl(path: Path) -> list[ExportTraceServiceRequest]:
    return [otlpjson.decode(Signal.TRACES, line) for line in path.read_bytes().splitlines() if line]


def written_by_daemon(daemon_factory: Any, name: str, format: str, compression: str, extra: str = "") -> tuple[list[Path], list[ExportTraceServiceRequest]]:
    writer = daemon_factory(WRITER % (name, format, compression, extra), subdir="writer")
    sent = requests(40)
    send(writer, sent)
    assert writer.stop() == 0
    files = sorted(p for p in writer.data.iterdir() if p.name != name) + [writer.data / name]
    return files, sent


@pytest.mark.parametrize(
    ("format", "compression", "extra"),
    [
        pytest.param("json", "", "", id="json"),
        pytest.param("proto", "", "", id="proto"),
        pytest.param("json", "zstd", "", id="json-zstd"),
        pytest.param("proto", "zstd", ", rotation: {max_megabytes: 1}", id="proto-zstd-rotated"),
    ],
)
def test_replay_pushes_every_span_through_another_configs_pipelines(daemon_factory: Any, tmp_path: Path, format: str, compression: str, extra: str) -> None:
    files, sent = written_by_daemon(daemon_factory, "traces.out", format, compression, extra.replace("{", "{{").replace("}", "}}"))
    if extra:
        assert len(files) > 1, "the rotated case should replay backups and the current file"
    # A daemon holds the ports the replay config names: replay must not bind receivers, health_check
    # or the metrics endpoint, so it can run beside the daemon it is helping.
    busy = daemon_factory(BASIC_CONFIG, subdir="busy")
    out = tmp_path / "replayed.jsonl"
    cfg = replay_config(tmp_path / "replay.yaml", busy.ports, f'file/out: {{path: "{out}"}}', "file/out")
    result = replay(*map(str, files), "--config", str(cfg), "--progress-every", "10")
    assert result.returncode == 0, result.stderr
    assert "replayed 40 records (2000 spans)" in result.stdout
    assert "file/out: sent 2000 spans, failed 0" in result.stdout
    assert span_facts(read_jsonl(out)) == span_facts(sent)
    progress = [line for line in result.stderr.splitlines() if '"replay progress"' in line]
    assert len(progress) == 4
    assert busy.alive()


def test_replay_drains_the_sending_queue_of_a_backend_that_comes_back(daemon_factory: Any, tmp_path: Path) -> None:
    """The outage-recovery case: replay into an otlp exporter whose backend is down at first. Records
    are queued, retried, and replay exits only once the queue has delivered them."""
    files, sent = written_by_daemon(daemon_factory, "traces.bin", "proto", "zstd")
    backend = daemon_factory(BASIC_CONFIG, subdir="backend", start=False)
    busy = daemon_factory(BASIC_CONFIG, subdir="busy")
    exporter = f"""
        otlp/backend:
          endpoint: "http://{backend.grpc_endpoint}"
          sending_queue: {{enabled: true, queue_size: 1000}}
          retry_on_failure: {{initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 60s}}
    """
    cfg = replay_config(tmp_path / "replay.yaml", busy.ports, exporter, "otlp/backend")
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "replay", *map(str, files), "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    time.sleep(3.0)
    assert proc.poll() is None, "replay must wait for the queue while the backend is down"
    backend.start()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "otlp/backend: sent 2000 spans, failed 0" in stdout
    assert '"send failed, will retry"' in stderr
    assert backend.stop() == 0
    assert span_facts(read_jsonl(backend.data / "traces.jsonl")) == span_facts(sent)


def test_corrupt_files_stop_replay_with_the_record_and_byte_offset(daemon_factory: Any, tmp_path: Path) -> None:
    files, sent = written_by_daemon(daemon_factory, "traces.bin", "proto", "")
    (good,) = files
    data = good.read_bytes()
    sizes = []
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        sizes.append((offset, size))
        offset += 4 + size
    cut_at, cut_size = sizes[5]
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: cut_at + 4 + cut_size // 2])  # a writer killed inside record 5

    out = tmp_path / "replayed.jsonl"
    ports = {"grpc": 1, "http": 2, "health": 3, "metrics": 4}
    cfg = replay_config(tmp_path / "replay.yaml", ports, f'file/out: {{path: "{out}"}}', "file/out")
    result = replay(str(cut), "--config", str(cfg), "--concurrency", "1")
    assert result.returncode == 1
    assert f"{cut}: record 5 at byte offset {cut_at}:" in result.stderr
    assert f"truncate -s {cut_at} {cut}" in result.stderr
    # Streaming: the five good records before the damage went through, and the summary says so.
    assert "replayed 5 records (250 spans)" in result.stdout
    assert span_facts(read_jsonl(out)) == span_facts(sent[:5])

    # --check finds the same without starting anything.
    check = replay(str(cut), "--check")
    assert check.returncode == 1 and f"record 5 at byte offset {cut_at}" in check.stderr

    # A damaged byte inside a JSON line is named by its line's offset; nothing after it is pushed.
    lines = otlpjson.encode(Signal.TRACES, sent[0]) + b"\n" + b'{"resourceSpans": [{"resource": 7}]}\n' + otlpjson.encode(Signal.TRACES, sent[1]) + b"\n"
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_bytes(lines)
    check = replay(str(bad_json), "--check")
    second_line = lines.index(b"\n") + 1
    assert check.returncode == 1
    assert f"{bad_json}: record 1 at byte offset {second_line}: invalid OTLP-JSON" in check.stderr

    # Protobuf does not name its signal; a wrong --signal is caught instead of pushing garbage.
    wrong = replay(str(good), "--check", "--signal", "logs")
    assert wrong.returncode == 1 and "record 0 at byte offset 0" in wrong.stderr and "omit --signal" in wrong.stderr
    right = replay(str(good), "--check")
    assert right.returncode == 0 and "40 records, 2000 spans" in right.stdout


def test_replay_refuses_a_file_whose_signal_has_no_pipeline(daemon_factory: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}\n')
    cfg = replay_config(tmp_path / "replay.yaml", {"grpc": 1, "http": 2, "health": 3, "metrics": 4}, f'file/out: {{path: "{tmp_path}/out.jsonl"}}', "file/out")
    result = replay(str(logs), "--config", str(cfg))
    assert result.returncode == 1
    assert "holds logs, but the config has no logs pipeline" in result.stderr or "hold(s) logs, but the config has no logs pipeline" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()  # nothing was started
