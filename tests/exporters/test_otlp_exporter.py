"""The `otlp` (gRPC) and `otlphttp` exporters end to end: the OTel SDK sends to daemon A, whose
exporters forward to daemon B's OTLP receiver, and B writes what arrived. Every compression and
encoding, all three signals, TLS/mTLS with bearer auth, and the OTEL_EXPORTER_OTLP_* defaults."""

from __future__ import annotations

import email.utils
import functools
import os
import struct
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk.resources import Resource as SDKResource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from collector import cli, testing
from tests.conftest import run_in_process
from tests.receivers.test_receiver_security import pki  # noqa: F401  (module-scoped certificate fixture)

TOKEN = "exporter-test-token"
EXPORT_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
EXPORT_METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

# Daemon configs are block YAML: the only braces are the Daemon's own placeholders ({grpc}, {data}, ...);
# values from the other daemon go in through <<name>> markers.
COMMON = """
extensions:
  health_check:
    endpoint: "127.0.0.1:{health}"
"""


def fill(text: str, **values: Any) -> str:
    for key, value in values.items():
        text = text.replace(f"<<{key}>>", str(value))
    assert "<<" not in text, text
    return text


def service(pipelines: str) -> str:
    return f"""
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: "127.0.0.1:{{metrics}}"
  pipelines:
{pipelines}"""


def proto_records(path: Path) -> list[bytes]:
    """The file exporter's `format: proto`: 4-byte big-endian length, then one serialized request."""
    if not path.exists():
        return []
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


def count_spans(records: list[bytes]) -> int:
    total = 0
    for record in records:
        req = ExportTraceServiceRequest.FromString(record)
        total += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    return total


# Deliveries between daemons and backends, on a machine that may be busy: twice the shared default.
wait_for = functools.partial(testing.wait_for, timeout=20.0)


def sdk_spans(endpoint: str, count: int, service_name: str = "shop", resource: dict[str, str] | None = None, **exporter_args: Any) -> None:
    """`count` spans with attributes and an event each, sent by the real OTel SDK exporter."""
    provider = TracerProvider(resource=SDKResource.create({"service.name": service_name, "deployment.environment": "test", **(resource or {})}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True, **exporter_args), max_export_batch_size=50))
    tracer = provider.get_tracer("checkout", "1.2.3")
    for i in range(count):
        with tracer.start_as_current_span(f"chat gpt-4o #{i}", attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": i, "ratio": i / 7, "ok": i % 2 == 0, "tags": ["a", "b"]}) as span:
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": f"question {i} ünïcødé ✓"})
    assert provider.force_flush(10_000)
    provider.shutdown()


def logs_request(n: int) -> bytes:
    records = [LogRecord(time_unix_nano=1_700_000_000_000_000_000 + i, severity_number=9, severity_text="INFO", body=AnyValue(string_value=f"log line {i}"), trace_id=bytes(range(16)), span_id=bytes(range(8))) for i in range(n)]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="shop"))])
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]).SerializeToString()


def metrics_request(n: int) -> bytes:
    points = [NumberDataPoint(time_unix_nano=1_700_000_000_000_000_000 + i, as_double=i * 1.5, attributes=[KeyValue(key="i", value=AnyValue(int_value=i))]) for i in range(n)]
    metric = Metric(name="gen_ai.client.token.usage", unit="{token}", gauge=Gauge(data_points=points))
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="shop"))])
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[ScopeMetrics(metrics=[metric])])]).SerializeToString()


def grpc_call(endpoint: str, method: str, body: bytes) -> None:
    with grpc.insecure_channel(endpoint) as channel:
        channel.unary_unary(method)(body, timeout=10)


# Sink routes on daemon B: (route name, protocol). Each has its own receiver, pipeline and file, so
# what arrives through one exporter of A can be compared on its own.
ROUTES = {
    "otlp/gzip": ("grpc", """
    endpoint: "127.0.0.1:<<port>>"
    tls:
      insecure: true"""),
    "otlp/none": ("grpc", """
    endpoint: "http://127.0.0.1:<<port>>"
    compression: none"""),
    "otlphttp/proto_gzip": ("http", """
    endpoint: "http://127.0.0.1:<<port>>" """),
    "otlphttp/proto_zstd": ("http", """
    traces_endpoint: "http://127.0.0.1:<<port>>/v1/traces"
    logs_endpoint: "http://127.0.0.1:<<port>>/v1/logs"
    metrics_endpoint: "http://127.0.0.1:<<port>>/v1/metrics"
    compression: zstd"""),
    "otlphttp/json_zstd": ("http", """
    endpoint: "http://127.0.0.1:<<port>>/"
    encoding: json
    compression: zstd"""),
    "otlphttp/json_none": ("http", """
    endpoint: "http://127.0.0.1:<<port>>"
    encoding: json
    compression: none"""),
}


def port_name(route: str) -> str:
    return route.replace("/", "_")


def sink_config() -> str:
    receivers, exporters, pipelines = ["receivers:"], ["exporters:"], []
    for route, (protocol, _) in ROUTES.items():
        name = port_name(route)
        receivers += [f"  otlp/{name}:", "    protocols:", f"      {protocol}:", f'        endpoint: "127.0.0.1:{{{name}}}"']
        for signal in ("traces", "logs", "metrics"):
            exporters += [f"  file/{name}_{signal}:", f'    path: "{{data}}/{name}_{signal}.pb"', "    format: proto"]
            pipelines += [f"    {signal}/{name}:", f"      receivers: [otlp/{name}]", f"      exporters: [file/{name}_{signal}]"]
    return "\n".join(receivers + exporters) + COMMON + service("\n".join(pipelines))


def forwarder_config(sink: Any) -> str:
    exporters = ["exporters:"]
    for signal in ("traces", "logs", "metrics"):
        exporters += [f"  file/local_{signal}:", f'    path: "{{data}}/local_{signal}.pb"', "    format: proto"]
    for route, (_, body) in ROUTES.items():
        exporters.append(f"  {route}:" + fill(body, port=sink.ports[port_name(route)]))
        exporters.append("    retry_on_failure:\n      initial_interval: 100ms")
    names = ", ".join(ROUTES)
    pipelines = "\n".join(f"    {signal}:\n      receivers: [otlp]\n      exporters: [file/local_{signal}, {names}]" for signal in ("traces", "logs", "metrics"))
    receivers = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
"""
    return receivers + "\n".join(exporters) + COMMON + service(pipelines)


@pytest.mark.slow
def test_every_encoding_and_compression_delivers_identical_data_for_all_signals(daemon_factory: Any) -> None:
    sink = daemon_factory(sink_config(), extra_ports=tuple(port_name(r) for r in ROUTES))
    forwarder = daemon_factory(forwarder_config(sink))
    sdk_spans(forwarder.grpc_endpoint, 120)
    for n in (3, 5):
        grpc_call(forwarder.grpc_endpoint, EXPORT_LOGS, logs_request(n))
        grpc_call(forwarder.grpc_endpoint, EXPORT_METRICS, metrics_request(n))

    def arrived(route: str, signal: str) -> list[bytes]:
        return proto_records(sink.data / f"{port_name(route)}_{signal}.pb")

    expected_counts = {"traces": None, "logs": 2, "metrics": 2}
    wait_for(lambda: all(forwarder.metric("otelcol_exporter_sent_spans", exporter=r) == 120 for r in ROUTES), what="every exporter to send 120 spans")
    wait_for(lambda: all(len(arrived(r, s)) == (n or len(arrived(r, s))) for r in ROUTES for s, n in expected_counts.items()), what="logs and metrics at the sink")
    assert forwarder.stop() == 0
    assert sink.stop() == 0
    for signal in ("traces", "logs", "metrics"):
        local = sorted(proto_records(forwarder.data / f"local_{signal}.pb"))
        assert local, signal
        for route in ROUTES:
            # The same requests, byte for byte (order may differ: requests are sent concurrently).
            assert sorted(arrived(route, signal)) == local, f"{route} {signal}"
    assert count_spans(proto_records(forwarder.data / "local_traces.pb")) == 120
    first = ExportTraceServiceRequest.FromString(proto_records(sink.data / "otlphttp_json_zstd_traces.pb")[0])
    span = first.resource_spans[0].scope_spans[0].spans[0]
    assert span.name.startswith("chat gpt-4o #") and span.events[0].attributes[0].value.string_value.endswith("ünïcødé ✓")
    assert first.resource_spans[0].scope_spans[0].scope.version == "1.2.3"


def secure_sink() -> str:
    return """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
        tls: {{cert_file: "<<server_crt>>", key_file: "<<server_key>>", client_ca_file: "<<ca>>"}}
        auth: {{bearer_tokens: ["<<token>>"]}}
      http:
        endpoint: "127.0.0.1:{http}"
        tls: {{cert_file: "<<server_crt>>", key_file: "<<server_key>>", client_ca_file: "<<ca>>"}}
        auth: {{bearer_tokens: ["<<token>>"]}}
exporters:
  file/traces:
    path: "{data}/traces.pb"
    format: proto
""" + COMMON + service("""    traces:
      receivers: [otlp]
      exporters: [file/traces]""")


def secure_forwarder() -> str:
    mtls = 'tls:\n      ca_file: "<<ca>>"\n      cert_file: "<<client_crt>>"\n      key_file: "<<client_key>>"'
    fast_drop = "retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 200ms\n      max_elapsed_time: 1s"
    return f"""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{{grpc}}"
exporters:
  otlp/mtls:
    endpoint: "127.0.0.1:<<sink_grpc>>"
    {mtls}
    headers:
      Authorization: "Bearer <<token>>"
  otlphttp/mtls:
    endpoint: "https://127.0.0.1:<<sink_http>>"
    {mtls}
    headers:
      Authorization: "Bearer <<token>>"
  otlp/wrong_token:
    endpoint: "https://127.0.0.1:<<sink_grpc>>"
    {mtls}
    headers:
      authorization: "Bearer not-the-token"
  otlphttp/no_client_cert:
    endpoint: "https://127.0.0.1:<<sink_http>>"
    tls:
      ca_file: "<<ca>>"
    headers:
      Authorization: "Bearer <<token>>"
    {fast_drop}
  otlp/plaintext:
    endpoint: "http://127.0.0.1:<<sink_grpc>>"
    {fast_drop}
""" + COMMON + service("""    traces:
      receivers: [otlp]
      exporters: [otlp/mtls, otlphttp/mtls, otlp/wrong_token, otlphttp/no_client_cert, otlp/plaintext]""")


@pytest.mark.slow
def test_mtls_and_bearer_headers_reach_a_secured_receiver(daemon_factory: Any, pki: dict[str, Path]) -> None:  # noqa: F811
    paths = dict(ca=pki["ca.crt"], server_crt=pki["server.crt"], server_key=pki["server.key"], client_crt=pki["client.crt"], client_key=pki["client.key"], token=TOKEN)
    sink = daemon_factory(fill(secure_sink(), **paths))
    forwarder = daemon_factory(fill(secure_forwarder(), sink_grpc=sink.ports["grpc"], sink_http=sink.ports["http"], **paths))
    sdk_spans(forwarder.grpc_endpoint, 30)
    ok = ("otlp/mtls", "otlphttp/mtls")
    refused = ("otlp/wrong_token", "otlphttp/no_client_cert", "otlp/plaintext")
    wait_for(lambda: all(forwarder.metric("otelcol_exporter_sent_spans", exporter=e) == 30 for e in ok), what="mTLS exporters to send")
    # Wrong token: UNAUTHENTICATED is final, dropped at once. No client certificate or no TLS at all:
    # the handshake fails, which is retried like any connection failure, then dropped after 1s.
    wait_for(lambda: all(forwarder.metric("otelcol_exporter_send_failed_spans", exporter=e) == 30 for e in refused), what="refused exporters to count their drops")
    assert forwarder.stop() == 0
    assert sink.stop() == 0
    assert count_spans(proto_records(sink.data / "traces.pb")) == 60
    logs = forwarder.logs()
    assert "UNAUTHENTICATED" in logs and "otlp/wrong_token" in logs
    assert TOKEN not in logs and "not-the-token" not in logs


ENV_SINK = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
        auth: {{bearer_tokens: ["<<token>>"]}}
      http:
        endpoint: "127.0.0.1:{http}"
        auth: {{bearer_tokens: ["<<token>>"]}}
  otlp/second:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{second}"
exporters:
  file/traces:
    path: "{data}/traces.pb"
    format: proto
  file/second:
    path: "{data}/second.pb"
    format: proto
  file/logs:
    path: "{data}/logs.pb"
    format: proto
""" + COMMON + service("""    traces:
      receivers: [otlp]
      exporters: [file/traces]
    traces/second:
      receivers: [otlp/second]
      exporters: [file/second]
    logs:
      receivers: [otlp]
      exporters: [file/logs]""")

ENV_FORWARDER = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
  otlp:
  otlp/explicit:
    endpoint: "127.0.0.1:<<second>>"
    tls:
      insecure: true
    headers: {{}}
  otlphttp:
""" + COMMON + service("""    traces:
      receivers: [otlp]
      exporters: [otlp, otlp/explicit]
    logs:
      receivers: [otlp]
      exporters: [otlphttp]""")


@pytest.mark.slow
def test_otel_exporter_otlp_environment_fills_what_the_config_leaves_unset(daemon_factory: Any) -> None:
    sink = daemon_factory(fill(ENV_SINK, token=TOKEN), extra_ports=("second",))
    env = {
        # gRPC: generic endpoint with an http:// scheme (plaintext) and the bearer header, percent-encoded.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.ports['grpc']}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer%20{TOKEN}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "4000",
        # HTTP logs: the signal-specific endpoint is a full URL used as is, JSON and zstd for logs only.
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"http://127.0.0.1:{sink.ports['http']}/v1/logs",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "zstd",
    }
    forwarder = daemon_factory(fill(ENV_FORWARDER, second=sink.ports["second"]), env=env)
    sdk_spans(forwarder.grpc_endpoint, 25)
    grpc_call(forwarder.grpc_endpoint, EXPORT_LOGS, logs_request(4))
    for exporter in ("otlp", "otlp/explicit"):
        wait_for(lambda e=exporter: forwarder.metric("otelcol_exporter_sent_spans", exporter=e) == 25, what=f"{exporter} to send")
    wait_for(lambda: forwarder.metric("otelcol_exporter_sent_log_records", exporter="otlphttp") == 4, what="otlphttp to send logs")
    assert forwarder.stop() == 0
    assert sink.stop() == 0
    # The config's endpoint and (empty) headers won over the environment for otlp/explicit.
    assert count_spans(proto_records(sink.data / "traces.pb")) == 25
    assert count_spans(proto_records(sink.data / "second.pb")) == 25
    assert len(proto_records(sink.data / "logs.pb")) == 1
    routes = {r.get("exporter"): r for r in forwarder.log_records() if r.get("event", "").startswith("exporting over OTLP")}
    assert routes["otlp"]["target"] == f"127.0.0.1:{sink.ports['grpc']}" and routes["otlp"]["tls"] is False
    assert routes["otlp"]["headers"] == ["authorization"] and routes["otlp/explicit"]["headers"] == []
    assert routes["otlphttp"]["encoding"] == "json" and routes["otlphttp"]["compression"] == "zstd"


def validate(tmp_path: Path, config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.yaml").write_text(config)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP_")}
    return run_in_process(cli.main, "validate", "--config", "config.yaml", cwd=tmp_path, env={**clean, **(env or {})})


def pipeline(exporters: str) -> str:
    return f"""receivers:
  otlp:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [{exporters}]
"""


def test_config_errors_name_the_key_or_variable(tmp_path: Path, pki: dict[str, Path]) -> None:  # noqa: F811
    config = pipeline("otlp, otlp/zstd, otlp/scheme, otlp/skip, otlp/half, otlphttp, otlphttp/bad") + f"""exporters:
  otlp:
  otlp/zstd:
    endpoint: "collector:4317"
    compression: zstd
  otlp/scheme:
    endpoint: "ftp://collector:4317"
  otlp/skip:
    endpoint: "collector:4317"
    tls:
      insecure_skip_verify: true
  otlp/half:
    endpoint: "collector:4317"
    tls:
      cert_file: "{pki['client.crt']}"
  otlphttp:
  otlphttp/bad:
    endpoint: "collector:4318"
    headers:
      "bad header": x
"""
    result = validate(tmp_path, config)
    assert result.returncode == 1
    problems = sorted(line.strip() for line in result.stderr.splitlines()[1:])
    assert problems == sorted([
        'config.yaml:9: exporters.otlp: no endpoint for traces: set "endpoint" (host:port) or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
        "config.yaml:12: exporters.otlp/zstd.compression: expected one of gzip, none, got 'zstd'; zstd is not in Python's gRPC core: use gzip, or the otlphttp exporter",
        "config.yaml:14: exporters.otlp/scheme.endpoint: unsupported scheme in 'ftp://collector:4317' (expected host:port, http://host:port or https://host:port)",
        "config.yaml:18: exporters.otlp/skip.tls.insecure_skip_verify: not supported by Python's gRPC core; set ca_file to the CA (or the self-signed certificate) of the server instead",
        "config.yaml:21: exporters.otlp/half.tls.key_file: cert_file needs key_file (a client certificate is useless without its key)",
        'config.yaml:23: exporters.otlphttp: no endpoint for traces: set "endpoint" (base URL) or "traces_endpoint", or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
        "config.yaml:25: exporters.otlphttp/bad.endpoint: expected an http:// or https:// URL with a host, got 'collector:4318'",
    ]), result.stderr


def test_bad_environment_values_are_reported_at_startup(tmp_path: Path) -> None:
    config = pipeline("otlp, otlphttp") + "exporters:\n  otlp:\n  otlphttp:\n"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4317",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "sk-live-0123",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "10s",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(tmp_path / "missing-ca.pem"),
        "OTEL_EXPORTER_OTLP_COMPRESSION": "brotli",
    }
    result = validate(tmp_path, config, env)
    assert result.returncode == 1
    text = result.stderr
    assert "OTEL_EXPORTER_OTLP_TIMEOUT: expected whole milliseconds (e.g. 10000), got '10s'" in text
    assert f"OTEL_EXPORTER_OTLP_CERTIFICATE: file not found: {tmp_path / 'missing-ca.pem'}" in text
    assert "OTEL_EXPORTER_OTLP_TRACES_HEADERS: item 1 is not key=value" in text and "sk-live-0123" not in text  # it may be a secret
    assert "OTEL_EXPORTER_OTLP_COMPRESSION: expected one of gzip, zstd, none, got 'brotli'" in text
    assert "OTEL_EXPORTER_OTLP_COMPRESSION: expected one of gzip, none, got 'brotli'" in text
    good = validate(tmp_path, config, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
    assert good.returncode == 0, good.stderr


# ---------------------------------------------------------------------------------------------
# The rules behind the behaviour above, checked directly (no daemon)


def test_environment_precedence_per_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.component import Signal
    from collector.exporters.otlp import OTLPExporterConfig, destination
    from collector.exporters.otlphttp import OTLPHTTPExporterConfig, route

    for key in [k for k in os.environ if k.startswith("OTEL_EXPORTER_OTLP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://generic:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs-only:9999/custom/path")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret, tenant = a b ")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    grpc_traces = destination(OTLPExporterConfig(), Signal.TRACES)
    assert grpc_traces.target == "generic:4317" and grpc_traces.tls is not None  # https:// beats INSECURE
    assert dict(grpc_traces.metadata) == {"api-key": "s=cret", "tenant": "a b"}
    assert grpc_traces.compression == "gzip"
    grpc_logs = destination(OTLPExporterConfig(), Signal.LOGS)
    assert grpc_logs.target == "logs-only:9999" and grpc_logs.tls is None  # signal-specific wins; http:// is plaintext
    configured = destination(OTLPExporterConfig(endpoint="mine:4317", headers={"X-Mine": "1"}, compression="none"), Signal.TRACES)
    assert configured.target == "mine:4317" and configured.tls is None  # no scheme: OTEL_EXPORTER_OTLP_INSECURE decides
    assert configured.metadata == (("x-mine", "1"),) and configured.compression == "none"
    http = OTLPHTTPExporterConfig()
    assert route(http, Signal.TRACES).url == "https://generic:4317/v1/traces"  # generic: a base URL
    assert route(http, Signal.LOGS).url == "http://logs-only:9999/custom/path"  # signal-specific: as is
    assert route(OTLPHTTPExporterConfig(endpoint="http://base/prefix/"), Signal.METRICS).url == "http://base/prefix/v1/metrics"
    assert route(OTLPHTTPExporterConfig(endpoint="http://base", traces_endpoint="http://t/x"), Signal.TRACES).url == "http://t/x"


def test_retry_after_and_retry_info_parsing() -> None:
    from google.rpc import error_details_pb2, status_pb2

    from collector.exporters.otlp import retry_delay
    from collector.exporters.otlphttp import retry_after_seconds

    now = 1_800_000_000.0
    assert retry_after_seconds("2", now) == 2.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds(date, now) == pytest.approx(30, abs=1)
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now) is None  # past
    for useless in (None, "", "0", "soon", "-5"):
        assert retry_after_seconds(useless, now) is None, useless
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromMilliseconds(1500)
    status = status_pb2.Status(code=8)
    status.details.add().Pack(info)
    assert retry_delay((("grpc-status-details-bin", status.SerializeToString()),)) == 1.5
    assert retry_delay((("google.rpc.retryinfo-bin", info.SerializeToString()),)) == 1.5
    assert retry_delay((("grpc-status-details-bin", b"\xff\xffnot a status"),)) is None
    assert retry_delay((("other", "x"),)) is None
