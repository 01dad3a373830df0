"""The `jaeger` exporter through the running daemon: the real OTel SDK (or raw OTLP requests) into the
daemon's OTLP receiver, out through the exporter to a fake Jaeger collector built from the api_v2
.proto (protocol grpc), or to a second daemon's OTLP receiver (protocol otlp). Outages, refusals and
RetryInfo come from the fake; the counts come from the daemon's /metrics."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from collector import cli, testing
from collector.exporters.jaeger_translate import batches_from_request
from collector.jaeger_proto import api_v2_pb2 as jaeger
from collector.testing import kv
from tests.conftest import REPO, run_in_process
from tests.exporters.test_jaeger_translate import llm_request, request, span
from tests.fakes.jaeger import FakeJaegerCollector
from tests.receivers.test_receiver_security import pki  # noqa: F401  (module-scoped certificate fixture)

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def fill(text: str, **values: Any) -> str:
    for key, value in values.items():
        text = text.replace(f"<<{key}>>", str(value))
    assert "<<" not in text, text
    return text


# Block YAML, so the only braces are the Daemon's placeholders; the fake's values go in as <<name>>.
DAEMON = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
  jaeger:
    endpoint: "<<endpoint>>"
    protocol: <<protocol>>
    headers:
      x-tenant: acme
    tls:
<<tls>>
    sending_queue:
      num_consumers: 4
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 400ms
      max_elapsed_time: <<max_elapsed>>
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
      exporters: [jaeger]
"""
INSECURE = "      insecure: true"


def start(daemon_factory: Any, endpoint: str, protocol: str = "grpc", tls: str = INSECURE, max_elapsed: str = "60s") -> Any:
    return daemon_factory(fill(DAEMON, endpoint=endpoint, protocol=protocol, tls=tls, max_elapsed=max_elapsed))


def export(daemon: Any, req: ExportTraceServiceRequest) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(req.SerializeToString(), timeout=10)


# Deliveries between daemons and backends, on a machine that may be busy: twice the shared default.
wait_for = functools.partial(testing.wait_for, timeout=20.0)


def metric(daemon: Any, name: str) -> float:
    try:
        return daemon.metric(name, exporter="jaeger")
    except KeyError:
        return 0.0


def tag_map(fields: Any) -> dict[str, Any]:
    out = {}
    for t in fields:
        kind = jaeger.ValueType.Name(t.v_type)
        out[t.key] = {"STRING": t.v_str, "BOOL": t.v_bool, "INT64": t.v_int64, "FLOAT64": t.v_float64, "BINARY": t.v_binary}[kind]
    return out


def resources(*sizes: int) -> ExportTraceServiceRequest:
    """One ResourceSpans (so one Jaeger Batch) per size, each its own service, distinct span ids."""
    req = ExportTraceServiceRequest()
    n = 0
    for i, size in enumerate(sizes):
        spans = []
        for _ in range(size):
            n += 1
            spans.append(span(span_id=n.to_bytes(8, "big"), name=f"op{n}", start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_000_100_000_000))
        req.MergeFrom(request(({"service.name": f"svc{i}"}, [(("lib", "1"), spans)])))
    return req


def received_span_ids(fake: FakeJaegerCollector) -> list[bytes]:
    return [s.span_id for _, s in fake.spans()]


# --- the mapping, end to end ----------------------------------------------------------------------


@pytest.mark.slow
def test_sdk_spans_arrive_in_jaeger_with_the_collector_mapping(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        provider = TracerProvider(resource=Resource.create({"service.name": "chatbot", "deployment.environment": "prod"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True)))
        tracer = provider.get_tracer("opentelemetry.instrumentation.openai", "0.9.1")
        with tracer.start_as_current_span("retrieve documents") as earlier:
            earlier_ctx = earlier.get_span_context()
        with tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER) as root:
            root_ctx = root.get_span_context()
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, links=[Link(earlier_ctx), Link(earlier_ctx, {"opentracing.ref_type": "child_of"})],
                                              attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 812, "gen_ai.request.temperature": 0.2,
                                                          "gen_ai.response.finish_reasons": ["stop"], "stream": False}) as child:
                child.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "what is 2+2?"})
                child.set_status(Status(StatusCode.ERROR, "rate limited"))
        provider.shutdown()

        assert fake.wait_for_spans(3) == 3
        by_name = {s.operation_name: (process, s) for process, s in fake.spans()}
        process, child = by_name["chat gpt-4o"]
        _, parent = by_name["POST /chat"]
        assert process.service_name == "chatbot"
        process_tags = tag_map(process.tags)
        assert process_tags["deployment.environment"] == "prod" and "service.name" not in process_tags
        assert process_tags["telemetry.sdk.language"] == "python"

        assert child.trace_id == parent.trace_id == root_ctx.trace_id.to_bytes(16, "big")
        assert parent.span_id == root_ctx.span_id.to_bytes(8, "big")
        earlier_ids = (earlier_ctx.trace_id.to_bytes(16, "big"), earlier_ctx.span_id.to_bytes(8, "big"))
        assert [(r.trace_id, r.span_id, r.ref_type) for r in child.references] == [
            (parent.trace_id, parent.span_id, jaeger.CHILD_OF),  # the parent first
            (*earlier_ids, jaeger.FOLLOWS_FROM),  # a link
            (*earlier_ids, jaeger.CHILD_OF),  # a link that says opentracing.ref_type: child_of
        ]
        assert not parent.references
        tags = tag_map(child.tags)
        assert [t.key for t in child.tags][:2] == ["otel.scope.name", "otel.scope.version"]
        assert tags["otel.scope.name"] == "opentelemetry.instrumentation.openai" and tags["otel.scope.version"] == "0.9.1"
        assert tags["gen_ai.usage.input_tokens"] == 812 and tags["gen_ai.request.temperature"] == 0.2 and tags["stream"] is False
        assert tags["gen_ai.response.finish_reasons"] == '["stop"]'
        assert (tags["span.kind"], tags["otel.status_code"], tags["error"], tags["otel.status_description"]) == ("client", "ERROR", True, "rate limited")
        assert tag_map(parent.tags)["span.kind"] == "server" and "error" not in tag_map(parent.tags)
        (log,) = child.logs
        assert tag_map(log.fields) == {"event": "gen_ai.content.prompt", "gen_ai.prompt": "what is 2+2?"}
        assert child.start_time.ToNanoseconds() <= log.timestamp.ToNanoseconds() <= child.start_time.ToNanoseconds() + child.duration.ToNanoseconds()

        assert all(md.get("x-tenant") == "acme" and "llm-collector/" in md.get("user-agent", "") for md in fake.metadata)
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 3, what="sent_spans == 3")
        assert metric(daemon, "otelcol_exporter_send_failed_spans") == 0


@pytest.mark.slow
def test_what_jaeger_decodes_is_exactly_the_translation(daemon_factory: Any) -> None:
    """Decoding round-trip: the bytes the exporter frames and posts, decoded by the fake with the
    generated stubs, equal the translator's Batches for the same request."""
    req = llm_request(40)
    req.MergeFrom(resources(3, 1))
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        export(daemon, req)
        assert fake.wait_for_spans(44) == 44
        expected = sorted(b.SerializeToString(deterministic=True) for b in batches_from_request(req))
        got = sorted(b.SerializeToString(deterministic=True) for b in fake.batches)
        assert len(fake.requests) == 3  # one PostSpans per resource
        assert got == expected


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_unavailable_backend_is_retried_and_nothing_is_lost(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        fake.fail(grpc.StatusCode.UNAVAILABLE)  # until recover()
        for i in range(10):
            req = resources(5, 3)
            for rs in req.resource_spans:  # distinct ids across requests
                for s in rs.scope_spans[0].spans:
                    s.span_id = (i * 100 + int.from_bytes(s.span_id, "big")).to_bytes(8, "big")
            export(daemon, req)  # acknowledged once queued
        wait_for(lambda: fake.failed_calls >= 20, what="the fake to refuse some attempts")
        assert fake.span_count() == 0
        fake.recover()
        assert fake.wait_for_spans(80, timeout=30) == 80
        time.sleep(0.5)  # anything duplicated would arrive by now
        ids = received_span_ids(fake)
        assert len(ids) == len(set(ids)) == 80
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 80, what="sent_spans == 80")
        assert metric(daemon, "otelcol_exporter_send_failed_spans") == 0
        assert metric(daemon, "llm_collector_exporter_retried_spans") >= 80


@pytest.mark.slow
def test_a_retry_resends_only_the_batches_jaeger_did_not_take(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        fake.fail(grpc.StatusCode.UNAVAILABLE, times=1)  # one of the three concurrent posts fails
        export(daemon, resources(4, 2, 3))
        assert fake.wait_for_spans(9) == 9
        time.sleep(0.5)
        assert fake.calls == 4 and fake.failed_calls == 1
        ids = received_span_ids(fake)
        assert len(ids) == len(set(ids)) == 9
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 9, what="sent_spans == 9")


@pytest.mark.slow
def test_backend_down_then_back_loses_nothing(daemon_factory: Any) -> None:
    fake = FakeJaegerCollector().start()
    try:
        daemon = start(daemon_factory, fake.endpoint)
        export(daemon, resources(2))
        assert fake.wait_for_spans(2) == 2
        # Stop only once the exporter has the reply: a reply cut off by the stop would rightly be
        # retried, and the fake (which records before replying) would count those spans twice.
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 2, what="the first request acknowledged")
        fake.stop()
        for i in range(5):
            req = resources(3)
            for s in req.resource_spans[0].scope_spans[0].spans:
                s.span_id = (1000 + i * 10 + int.from_bytes(s.span_id, "big")).to_bytes(8, "big")
            export(daemon, req)
        wait_for(lambda: metric(daemon, "llm_collector_exporter_retried_spans") > 0, what="retries while Jaeger is down")
        fake.start()  # same port, same recorded history
        assert fake.wait_for_spans(17, timeout=30) == 17
        time.sleep(0.5)
        ids = received_span_ids(fake)
        assert len(ids) == len(set(ids)) == 17
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 17, what="sent_spans == 17")
        assert metric(daemon, "otelcol_exporter_send_failed_spans") == 0
    finally:
        fake.stop()


@pytest.mark.slow
def test_invalid_argument_is_dropped_at_once_and_counted(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        fake.fail(grpc.StatusCode.INVALID_ARGUMENT, details="span has no service name")
        export(daemon, resources(7))
        wait_for(lambda: metric(daemon, "otelcol_exporter_send_failed_spans") == 7, what="send_failed_spans == 7")
        time.sleep(0.5)
        assert fake.calls == 1  # not retried
        assert metric(daemon, "otelcol_exporter_sent_spans") == 0
        dropped = [r for r in daemon.log_records() if r.get("event") == "dropping data: permanent error"]
        assert dropped and dropped[0]["exporter"] == "jaeger" and "INVALID_ARGUMENT" in dropped[0]["error"] and "span has no service name" in dropped[0]["error"]

        fake.recover()  # the daemon goes on with the next request
        export(daemon, resources(2))
        assert fake.wait_for_spans(2) == 2
        assert daemon.alive()


@pytest.mark.slow
def test_one_refused_batch_is_counted_while_the_others_are_delivered(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        fake.fail(grpc.StatusCode.INVALID_ARGUMENT, times=1)  # one of the two concurrent posts
        export(daemon, resources(3, 5))
        wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") + metric(daemon, "otelcol_exporter_send_failed_spans") == 8, what="all 8 spans settled")
        failed = metric(daemon, "otelcol_exporter_send_failed_spans")
        assert failed in (3, 5)
        assert fake.span_count() == 8 - failed == metric(daemon, "otelcol_exporter_sent_spans")
        assert fake.calls == 2  # the refused batch is not retried, the accepted one not resent


@pytest.mark.slow
def test_a_batch_over_jaegers_message_limit_is_split_and_a_lone_giant_span_is_counted(daemon_factory: Any) -> None:
    """The fake, like Jaeger's collector, refuses messages over gRPC's default 4 MiB."""
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        req = resources(3)
        for s in req.resource_spans[0].scope_spans[0].spans:
            s.attributes.append(kv("gen_ai.prompt", "x" * 1_500_000))  # 4.5 MB together
        export(daemon, req)
        assert fake.wait_for_spans(3) == 3
        assert len(fake.requests) == 2 and all(len(b.spans) >= 1 and b.process.service_name == "svc0" for b in fake.batches)
        assert sorted(received_span_ids(fake)) == sorted(s.span_id for s in req.resource_spans[0].scope_spans[0].spans)

        giant = resources(1)
        giant.resource_spans[0].scope_spans[0].spans[0].attributes.append(kv("gen_ai.prompt", "y" * 5_000_000))
        export(daemon, giant)
        wait_for(lambda: metric(daemon, "otelcol_exporter_send_failed_spans") == 1, what="the giant span counted as failed")
        assert fake.span_count() == 3


@pytest.mark.slow
def test_resource_exhausted_waits_for_the_servers_retry_info(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        fake.fail(grpc.StatusCode.RESOURCE_EXHAUSTED, times=1, retry_after=2.0)
        started = time.monotonic()
        export(daemon, resources(2))
        assert fake.wait_for_spans(2, timeout=20) == 2
        waited = time.monotonic() - started
        assert waited >= 1.9, f"retried after {waited:.2f}s, before the server's 2s (backoff alone is 100ms)"
        retry_logs = [r for r in daemon.log_records() if r.get("event") == "send failed, will retry"]
        assert retry_logs and retry_logs[0]["delay_s"] == 2.0

        # Without RetryInfo, RESOURCE_EXHAUSTED is final (OTLP's rule, applied to api_v2 too).
        fake.fail(grpc.StatusCode.RESOURCE_EXHAUSTED, times=1)
        export(daemon, resources(4))
        wait_for(lambda: metric(daemon, "otelcol_exporter_send_failed_spans") == 4, what="send_failed_spans == 4")


@pytest.mark.slow
def test_retries_give_up_after_max_elapsed_time_and_count_the_loss(daemon_factory: Any) -> None:
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint, max_elapsed="1s")
        fake.fail(grpc.StatusCode.UNAVAILABLE)
        export(daemon, resources(6))
        wait_for(lambda: metric(daemon, "otelcol_exporter_send_failed_spans") == 6, what="send_failed_spans == 6")
        assert fake.failed_calls >= 2
        assert any(r.get("event") == "dropping data: retries exhausted" and r.get("exporter") == "jaeger" for r in daemon.log_records())


# --- TLS and protocol otlp ------------------------------------------------------------------------


@pytest.mark.slow
def test_tls_to_the_jaeger_collector(daemon_factory: Any, pki: dict[str, Path]) -> None:  # noqa: F811
    credentials = grpc.ssl_server_credentials([(pki["server.key"].read_bytes(), pki["server.crt"].read_bytes())])
    with FakeJaegerCollector(server_credentials=credentials) as fake:
        daemon = start(daemon_factory, fake.endpoint, tls=f'      ca_file: "{pki["ca.crt"]}"')
        export(daemon, resources(3))
        assert fake.wait_for_spans(3) == 3

        plaintext = start(daemon_factory, fake.endpoint)  # insecure against a TLS port: never delivered
        export(plaintext, resources(2))
        wait_for(lambda: metric(plaintext, "llm_collector_exporter_retried_spans") >= 2, what="retries against the TLS port")
        assert fake.span_count() == 3


SINK = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
  file:
    path: "{data}/traces.bin"
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
      exporters: [file]
"""


def proto_spans(path: Path) -> list[Any]:
    if not path.exists():
        return []
    data, pos, out = path.read_bytes(), 0, []
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if pos + 4 + size > len(data):
            break
        req = ExportTraceServiceRequest.FromString(data[pos + 4 : pos + 4 + size])
        out += [(rs.resource, s) for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        pos += 4 + size
    return out


@pytest.mark.slow
def test_protocol_otlp_delivers_to_an_otlp_receiver(daemon_factory: Any) -> None:
    """Jaeger >= 1.35 takes OTLP on 4317; a second daemon's OTLP receiver stands in for it."""
    sink = daemon_factory(SINK)
    daemon = start(daemon_factory, sink.grpc_endpoint, protocol="otlp")
    req = llm_request(25)
    export(daemon, req)
    wait_for(lambda: len(proto_spans(sink.data / "traces.bin")) == 25, what="25 spans in the sink")
    got = proto_spans(sink.data / "traces.bin")
    sent = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted(s.SerializeToString(deterministic=True) for _, s in got) == sorted(s.SerializeToString(deterministic=True) for s in sent)
    assert {a.value.string_value for resource, _ in got for a in resource.attributes if a.key == "service.name"} == {"chatbot"}
    wait_for(lambda: metric(daemon, "otelcol_exporter_sent_spans") == 25, what="sent_spans == 25")


# --- configuration --------------------------------------------------------------------------------


def validate(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP_")}
    return run_in_process(cli.main, "validate", "--config", "config.yaml", cwd=tmp_path, env=env)


def test_config_errors_name_the_file_line_and_key(tmp_path: Path) -> None:
    config = """receivers:
  otlp:
exporters:
  jaeger:
    protocol: grpc
  jaeger/thrift:
    endpoint: "jaeger:14268"
    protocol: thrift
  jaeger/scheme:
    endpoint: "udp://jaeger:6831"
  jaeger/zstd:
    endpoint: "jaeger:14250"
    protocol: grpc
    compression: zstd
  jaeger/ok:
    endpoint: "jaeger:4317"
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger, jaeger/thrift, jaeger/scheme, jaeger/zstd]
    logs:
      receivers: [otlp]
      exporters: [jaeger/ok]
"""
    result = validate(tmp_path, config)
    assert result.returncode == 1
    problems = sorted(line.strip() for line in result.stderr.splitlines()[1:])
    assert problems == sorted([
        'config.yaml:4: exporters.jaeger: missing required key "endpoint"',
        'config.yaml:8: exporters.jaeger/thrift.protocol: expected one of "otlp", "grpc", got "thrift"',
        "config.yaml:10: exporters.jaeger/scheme.endpoint: unsupported scheme in 'udp://jaeger:6831' (expected host:port, http://host:port or https://host:port)",
        "config.yaml:14: exporters.jaeger/zstd.compression: expected one of gzip, none, got 'zstd'",
        'config.yaml:24: service.pipelines.logs.exporters[0]: exporter "jaeger/ok" does not support logs (supports: traces)',
    ]), result.stderr


def test_a_valid_config_passes(tmp_path: Path) -> None:
    config = """receivers:
  otlp:
exporters:
  jaeger:
    endpoint: "http://jaeger:4317"
  jaeger/legacy:
    endpoint: "jaeger-collector:14250"
    protocol: grpc
    tls:
      insecure: true
    headers:
      x-scope-orgid: tenant-a
    timeout: 2s
    sending_queue:
      queue_size: 500
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger, jaeger/legacy]
"""
    result = validate(tmp_path, config)
    assert result.returncode == 0, result.stderr


# --- throughput -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_daemon_to_fake_throughput_is_reported(daemon_factory: Any) -> None:
    """Not a pass/fail figure on a shared machine: prints spans/s (docs/performance.md has the figure from
    benchmarks/exporters.py), and checks that everything the daemon acknowledged reached the fake."""
    with FakeJaegerCollector() as fake:
        daemon = start(daemon_factory, fake.endpoint)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--duration", "5s", "--concurrency", "4", "--batch-size", "200", "--json", "--quiet"],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        accepted = report["spans_acknowledged"] - report["spans_rejected"]
        assert accepted > 0, report
        assert fake.wait_for_spans(accepted, timeout=120) == accepted
        elapsed = time.monotonic() - started
        print(f"\njaeger grpc exporter: {accepted / elapsed:,.0f} spans/s daemon → fake ({accepted} spans in {elapsed:.1f}s;"
              f" loadgen offered {report['spans_per_second']:,.0f}/s acknowledged, {report['requests_failed']} requests refused)")
