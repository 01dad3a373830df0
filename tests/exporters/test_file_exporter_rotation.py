"""The file exporter's rotation, zstd compression and group_by, through the running daemon: real OTLP
requests over gRPC in, the files on disk read back with an independent reader (length prefix, zstd,
protobuf / OTLP-JSON) and compared with what was sent."""

from __future__ import annotations

import datetime as dt
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import cli, otlpjson
from collector.component import Signal
from collector.testing import kv
from tests.conftest import REPO, daemon_yaml, run_in_process

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BACKUP = re.compile(r"^traces-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.(jsonl|bin)$")
MIB = 1 << 20

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file/traces:
%s
""", """
traces: {{receivers: [otlp], exporters: [file/traces]}}
""")


def config(exporter: str) -> str:
    """The daemon config around one file exporter's YAML, in which only {data} is a placeholder."""
    escaped = exporter.replace("{", "{{").replace("}", "}}").replace("{{data}}", "{data}")
    return CONFIG % textwrap.indent(textwrap.dedent(escaped).strip(), "    ")


def request(number: int, spans: int = 10, padding: int = 0, resource: dict[str, str] | None = None, random: bool = False) -> ExportTraceServiceRequest:
    """Spans named `r<number>-<i>` with a `padding`-byte attribute, so tests control the size;
    random padding stays large under zstd too."""
    items = [
        Span(
            trace_id=(number + 1).to_bytes(16, "big"),
            span_id=(number * 1000 + i + 1).to_bytes(8, "big"),
            name=f"r{number}-{i}",
            attributes=[kv("pad", os.urandom(padding // 2).hex() if random else "x" * padding), kv("index", str(i))],
        )
        for i in range(spans)
    ]
    attrs = [kv(k, v) for k, v in (resource or {"service.name": "svc"}).items()]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=Resource(attributes=attrs), scope_spans=[ScopeSpans(spans=items)])])


def send(endpoint: str, requests: list[ExportTraceServiceRequest]) -> list[ExportTraceServiceResponse]:
    with grpc.insecure_channel(endpoint) as channel:
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        return [export(r.SerializeToString(), timeout=30) for r in requests]


def read_requests(path: Path) -> list[ExportTraceServiceRequest]:
    """Every request in one file, by the otelcol layout: JSON lines, else 4-byte length + record, each
    record zstd if it starts with the zstd magic, OTLP-JSON if it starts with `{`, protobuf otherwise."""
    data = path.read_bytes()
    if data[:1] == b"{":
        return [otlpjson.decode(Signal.TRACES, line) for line in data.splitlines() if line]
    out, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        record = data[offset + 4 : offset + 4 + size]
        assert len(record) == size, f"{path}: record at {offset} is cut short"
        offset += 4 + size
        if record[:4] == b"\x28\xb5\x2f\xfd":
            record = zstandard.ZstdDecompressor().decompress(record)
        out.append(otlpjson.decode(Signal.TRACES, record) if record[:1] == b"{" else ExportTraceServiceRequest.FromString(record))
    return out


def span_names(requests: list[ExportTraceServiceRequest]) -> list[str]:
    return [s.name for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


def files_oldest_first(directory: Path, current: str) -> list[Path]:
    backups = sorted(p for p in directory.iterdir() if p.name != current)
    return [*backups, directory / current]


FORMATS = [
    pytest.param("json", "", True, id="json-encoder-process"),
    pytest.param("json", "", False, id="json-inline"),
    pytest.param("proto", "", False, id="proto"),
    pytest.param("json", "zstd", True, id="json-zstd"),
    pytest.param("proto", "zstd", False, id="proto-zstd"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("format", "compression", "encoder_process"), FORMATS)
def test_rotation_by_size_keeps_every_span_in_order_across_backups(daemon_factory: Any, format: str, compression: str, encoder_process: bool) -> None:
    name = "traces.jsonl" if format == "json" else "traces.bin"
    daemon = daemon_factory(
        config(f"""
            path: "{{data}}/out/{name}"
            format: {format}
            compression: "{compression}"
            encoder_process: {str(encoder_process).lower()}
            rotation: {{max_megabytes: 1, max_backups: 0}}
        """)
    )
    # ~100 KB per request, ~50 KB under zstd: several rotations at 1 MiB either way.
    sent = [request(i, spans=20, padding=5000, random=True) for i in range(80)]
    send(daemon.grpc_endpoint, sent)
    assert daemon.stop() == 0
    out = daemon.data / "out"
    files = files_oldest_first(out, name)
    backups = files[:-1]
    assert len(backups) >= 3, sorted(p.name for p in out.iterdir())
    assert all(BACKUP.match(p.name) for p in backups), [p.name for p in backups]
    assert all(p.stat().st_size <= MIB for p in files)
    assert all(p.stat().st_size > MIB - 200_000 for p in backups)  # rotated only when the next record did not fit
    written = [r for p in files for r in read_requests(p)]
    assert written == sent


@pytest.mark.slow
@pytest.mark.parametrize(("format", "compression", "encoder_process"), [FORMATS[0], FORMATS[4]])
def test_rotation_prunes_to_max_backups_keeping_the_newest(daemon_factory: Any, format: str, compression: str, encoder_process: bool) -> None:
    name = "traces.jsonl" if format == "json" else "traces.bin"
    daemon = daemon_factory(
        config(f"""
            path: "{{data}}/out/{name}"
            format: {format}
            compression: "{compression}"
            rotation: {{max_megabytes: 1, max_backups: 2}}
        """)
    )
    sent = [request(i, spans=20, padding=5000, random=True) for i in range(80)]
    send(daemon.grpc_endpoint, sent)
    assert daemon.stop() == 0
    out = daemon.data / "out"
    files = files_oldest_first(out, name)
    assert len(files) == 3, sorted(p.name for p in out.iterdir())
    written = span_names([r for p in files for r in read_requests(p)])
    everything = span_names(sent)
    # What is left is the newest data, unbroken up to the last span sent.
    assert 0 < len(written) < len(everything)
    assert written == everything[-len(written) :]


@pytest.mark.slow
def test_rotation_continues_the_existing_file_and_prunes_old_backups_by_age(daemon_factory: Any) -> None:
    daemon = daemon_factory(
        config("""
            path: "{data}/out/traces.bin"
            format: proto
            rotation: {max_megabytes: 1, max_days: 1, max_backups: 0}
        """),
        start=False,
    )
    out = daemon.data / "out"
    out.mkdir(parents=True)
    earlier = request(100, spans=3)
    (out / "traces.bin").write_bytes(len(earlier.SerializeToString()).to_bytes(4, "big") + earlier.SerializeToString())
    stale = out / "traces-2020-01-01T00-00-00.000.bin"
    recent_stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H-%M-%S.000")
    recent = out / f"traces-{recent_stamp}.bin"
    unrelated = out / "traces-notes.bin"
    for path in (stale, recent, unrelated):
        path.write_bytes(b"")
    daemon.start()
    later = request(101, spans=3)
    send(daemon.grpc_endpoint, [later])
    assert daemon.stop() == 0
    assert read_requests(out / "traces.bin") == [earlier, later]
    assert not stale.exists()  # older than max_days
    assert recent.exists() and unrelated.exists()


@pytest.mark.slow
@pytest.mark.parametrize(("format", "encoder_process"), [("json", True), ("proto", False)])
def test_zstd_records_decode_back_to_the_requests_sent(daemon_factory: Any, format: str, encoder_process: bool) -> None:
    daemon = daemon_factory(
        config(f"""
            path: "{{data}}/traces.zst"
            format: {format}
            compression: zstd
            encoder_process: {str(encoder_process).lower()}
        """)
    )
    sent = [request(i, spans=50, padding=200) for i in range(12)]
    send(daemon.grpc_endpoint, sent)
    assert daemon.stop() == 0
    data = (daemon.data / "traces.zst").read_bytes()
    offset, records = 0, []
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        frame = data[offset + 4 : offset + 4 + size]
        assert frame[:4] == b"\x28\xb5\x2f\xfd", "each record is its own zstd frame"
        records.append(zstandard.ZstdDecompressor().decompress(frame))
        offset += 4 + size
    assert offset == len(data)
    decoded = [otlpjson.decode(Signal.TRACES, r) if format == "json" else ExportTraceServiceRequest.FromString(r) for r in records]
    assert decoded == sent
    # Compressed, and compressed well: repeated padding shrinks a lot.
    plain = sum(len(otlpjson.encode(Signal.TRACES, r)) if format == "json" else r.ByteSize() for r in sent)
    assert len(data) < plain / 5


GROUP_BY = """
    path: "{data}/tenants/app-*.jsonl"
    format: %s
    encoder_process: %s
    group_by: {enabled: true, max_open_files: 1}
"""


@pytest.mark.slow
@pytest.mark.parametrize(("format", "encoder_process"), [("json", "true"), ("json", "false"), ("proto", "false")])
def test_group_by_writes_one_file_per_attribute_value_and_refuses_traversal(daemon_factory: Any, format: str, encoder_process: str) -> None:
    daemon = daemon_factory(config(GROUP_BY % (format, encoder_process)), start=False)
    tenants = daemon.data / "tenants"
    tenants.mkdir(parents=True)
    (tenants / "app-a.jsonl").write_bytes(b"left over from an earlier run\n")
    daemon.start()
    segment = "fileexporter.path_segment"

    def mixed(number: int) -> ExportTraceServiceRequest:
        parts = [
            request(number * 10 + 1, spans=2, resource={segment: "a"}),
            request(number * 10 + 2, spans=3, resource={segment: "b"}),
            request(number * 10 + 3, spans=1, resource={segment: "nested/c"}),
            request(number * 10 + 4, spans=4, resource={"service.name": "no-segment"}),
            request(number * 10 + 5, spans=5, resource={segment: "../../escaped"}),
            request(number * 10 + 6, spans=6, resource={segment: "/etc/absolute"}),
        ]
        return ExportTraceServiceRequest(resource_spans=[p.resource_spans[0] for p in parts])

    # max_open_files: 1 makes every resource switch files: reopened files must append, not truncate.
    responses = send(daemon.grpc_endpoint, [mixed(1), mixed(2)])
    for response in responses:
        assert response.partial_success.rejected_spans == 4 + 5 + 6
        assert segment in response.partial_success.error_message
        assert "../../escaped" in response.partial_success.error_message
    assert daemon.stop() == 0

    def names(path: Path) -> list[str]:
        return span_names(read_requests(path))

    assert sorted(p.relative_to(tenants).as_posix() for p in tenants.rglob("*") if p.is_file()) == ["app-a.jsonl", "app-b.jsonl", "app-nested/c.jsonl"]
    assert names(tenants / "app-a.jsonl") == ["r11-0", "r11-1", "r21-0", "r21-1"]  # the stale line was truncated once
    assert names(tenants / "app-b.jsonl") == ["r12-0", "r12-1", "r12-2", "r22-0", "r22-1", "r22-2"]
    assert names(tenants / "app-nested" / "c.jsonl") == ["r13-0", "r23-0"]
    assert not any("escaped" in p.name or "absolute" in p.name for p in daemon.tmp.rglob("*"))
    refusal_logs = [r for r in daemon.log_records() if r.get("event") == "group_by refused data"]
    assert refusal_logs and all(r["component"] == "file/traces" for r in refusal_logs)


def test_invalid_combinations_are_reported_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
            receivers:
              otlp:
            exporters:
              file/a:
                path: a.jsonl
                append: true
                rotation:
              file/b:
                path: b.jsonl
                group_by: {enabled: true}
              file/c:
                path: c.jsonl
                rotation: {max_megabytes: 0}
              file/d:
                path: d.jsonl
                compression: gzip
            service:
              pipelines:
                traces: {receivers: [otlp], exporters: [file/a, file/b, file/c, file/d]}
        """)
    )
    result = run_in_process(cli.main, "validate", "--config", str(path), cwd=REPO)
    assert result.returncode == 1
    lines = result.stderr.splitlines()

    def problem(key: str) -> str:
        found = [line for line in lines if f"exporters.{key}:" in line]
        assert found, result.stderr
        return found[0]

    assert f"{path}:6:" in problem("file/a.append") and "rotation" in problem("file/a.append")
    assert f"{path}:9:" in problem("file/b.path") and "exactly one *" in problem("file/b.path")
    assert f"{path}:13:" in problem("file/c.rotation.max_megabytes") and "at least 1" in problem("file/c.rotation.max_megabytes")
    assert '"zstd"' in problem("file/d.compression")
