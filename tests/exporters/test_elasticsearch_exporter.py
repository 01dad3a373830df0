"""The `elasticsearch` exporter driven as a user runs it: the real OTel SDK → the daemon (a subprocess) →
the exporter → the `_bulk` fake in tests/fakes/elasticsearch.py, with the documents, the bytes on the
wire and the daemon's /metrics checked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.conftest import daemon_yaml
from tests.fakes.elasticsearch import ElasticsearchFake

pytestmark = pytest.mark.slow

TRACES_STREAM = "traces-generic.otel-default"
LOGS_STREAM = "logs-generic.otel-default"

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  elasticsearch:
    endpoints: ["ES_URL"]
EXPORTER
""", """
traces: {{receivers: [otlp], exporters: [elasticsearch]}}
logs: {{receivers: [otlp], exporters: [elasticsearch]}}
""")

FAST = """
    flush: {{interval: 50ms}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms}}
"""


def config(fake: ElasticsearchFake, extra: str = FAST) -> str:
    return CONFIG.replace("ES_URL", fake.url).replace("EXPORTER\n", extra)


@pytest.fixture
def fake() -> Iterator[ElasticsearchFake]:
    with ElasticsearchFake() as es:
        yield es


def tracer_provider(daemon: Any, service: str = "shop", batch: bool = False, **resource: Any) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service, **resource}))
    exporter = OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512, schedule_delay_millis=50) if batch else SimpleSpanProcessor(exporter))
    return provider


def make_spans(provider: TracerProvider, names: list[str]) -> None:
    tracer = provider.get_tracer("checkout.lib", "2.1.0")
    for name in names:
        with tracer.start_as_current_span(name, kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}):
            pass
    provider.force_flush()


def by_name(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in docs}


def sent_names(fake: ElasticsearchFake) -> list[list[str]]:
    return [call.doc_names for call in fake.calls if call.actions]


def test_sdk_spans_become_otel_documents_in_the_traces_data_stream(daemon_factory: Any) -> None:
    with ElasticsearchFake(api_key="aWQ6c2VjcmV0") as fake:
        daemon = daemon_factory(config(fake, FAST + '    api_key: "aWQ6c2VjcmV0"\n'))
        provider = tracer_provider(daemon, **{"deployment.environment": "prod", "host.name": "web-1"})
        tracer = provider.get_tracer("checkout.lib", "2.1.0")
        with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
            parent_ctx = parent.get_span_context()
            with tracer.start_as_current_span(
                "charge",
                kind=SpanKind.CLIENT,
                attributes={"http.response.status_code": 502, "retry": True, "ratio": 0.5, "tags": ["a", "b"]},
                links=[Link(parent_ctx, {"link.kind": "follows"})],
            ) as child:
                child.add_event("exception", {"exception.message": "card declined"})
                child.set_status(Status(StatusCode.ERROR, "payment failed"))
        provider.force_flush()
        provider.shutdown()

        docs = by_name(fake.wait_for(2, TRACES_STREAM))
        events = fake.wait_for(1, LOGS_STREAM)
        charge, root = docs["charge"], docs["parent"]
        ctx = child.get_span_context()
        assert charge["trace_id"] == f"{ctx.trace_id:032x}" and charge["span_id"] == f"{ctx.span_id:016x}"
        assert charge["parent_span_id"] == f"{parent_ctx.span_id:016x}" and "parent_span_id" not in root
        assert charge["kind"] == "Client" and root["kind"] == "Server"
        assert charge["status"] == {"code": "Error", "message": "payment failed"} and root["status"] == {"code": "Unset"}
        assert charge["attributes"] == {"http.response.status_code": 502, "retry": True, "ratio": 0.5, "tags": ["a", "b"]}
        assert charge["links"] == [{"trace_id": f"{parent_ctx.trace_id:032x}", "span_id": f"{parent_ctx.span_id:016x}", "attributes": {"link.kind": "follows"}}]
        assert charge["data_stream"] == {"type": "traces", "dataset": "generic.otel", "namespace": "default"}
        start_ns = child.start_time
        assert charge["@timestamp"] == f"{start_ns // 10**6}.{start_ns % 10**6:06d}"
        assert charge["duration"] == child.end_time - child.start_time > 0
        assert charge["scope"] == {"name": "checkout.lib", "version": "2.1.0"}
        assert charge["resource"]["attributes"]["service.name"] == "shop"
        assert charge["resource"]["attributes"]["deployment.environment"] == "prod"
        (event,) = events
        assert event["event_name"] == "exception" and event["span_id"] == charge["span_id"] and event["trace_id"] == charge["trace_id"]
        assert event["attributes"] == {"exception.message": "card declined", "event.name": "exception"}
        assert event["data_stream"] == {"type": "logs", "dataset": "generic.otel", "namespace": "default"}

        bulk = [c for c in fake.calls if c.actions]
        assert all(c.headers["content-encoding"] == "gzip" and c.headers["authorization"] == "ApiKey aWQ6c2VjcmV0" for c in bulk)
        assert all(c.headers["content-type"] == "application/x-ndjson" for c in bulk)
        assert all(c.query["filter_path"] == ["items.*._index,items.*.status,items.*.error.type,items.*.error.reason"] for c in bulk)
        assert all(action == "create" for c in bulk for action, _ in c.actions)
        assert sum(c.wire_bytes for c in bulk) < sum(c.body_bytes for c in bulk)
        assert daemon.metric("otelcol_exporter_sent_spans", exporter="elasticsearch") == 2
        assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="elasticsearch") == 0


def test_ecs_mode_with_basic_auth_uncompressed_into_a_configured_index(daemon_factory: Any) -> None:
    with ElasticsearchFake(basic=("elastic", "changeme")) as fake:
        extra = FAST + """    user: elastic
    password: changeme
    compression: none
    traces_index: shop-spans
    mapping: {{mode: ecs}}
"""
        daemon = daemon_factory(config(fake, extra))
        provider = tracer_provider(daemon, **{"deployment.environment": "prod", "host.name": "web-1", "service.instance.id": "i-7"})
        tracer = provider.get_tracer("checkout.lib", "2.1.0")
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes={"http.request.method": "GET", "http.request": "raw"}) as span:
            span.set_status(Status(StatusCode.OK))
        provider.force_flush()
        provider.shutdown()

        (doc,) = fake.wait_for(1, "shop-spans")
        ctx = span.get_span_context()
        assert doc["trace"] == {"id": f"{ctx.trace_id:032x}"} and doc["span"]["id"] == f"{ctx.span_id:016x}"
        assert doc["span"]["name"] == "GET /cart" and doc["span"]["kind"] == "SERVER"
        assert doc["event"] == {"outcome": "success", "duration": span.end_time - span.start_time}
        assert doc["service"]["environment"] == "prod" and doc["service"]["node"] == {"name": "i-7"} and doc["service"]["name"] == "shop"
        assert doc["host"] == {"hostname": "web-1", "name": "web-1"}
        assert doc["agent"]["name"] == "opentelemetry/python"
        # A leaf and an object on one path: the leaf moves to `.value`.
        assert doc["http"]["request"] == {"method": "GET", "value": "raw"}
        secs, frac = divmod(span.start_time, 10**9)
        assert doc["@timestamp"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"
        assert "data_stream" not in doc  # a plain index, not a data stream
        call = next(c for c in fake.calls if c.actions)
        assert "content-encoding" not in call.headers and call.wire_bytes == call.body_bytes
        assert call.headers["authorization"].startswith("Basic ")


def test_otlp_logs_become_log_documents(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    import logging

    daemon = daemon_factory(config(fake))
    provider = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=daemon.grpc_endpoint, insecure=True)))
    from opentelemetry.sdk._logs import LoggingHandler

    logger = logging.getLogger("es-test")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=provider))
    logger.warning("payment %s declined", "p-1", extra={"order.id": 42})
    provider.force_flush()
    provider.shutdown()

    (doc,) = fake.wait_for(1, LOGS_STREAM)
    assert doc["body"] == {"text": "payment p-1 declined"}
    assert doc["severity_text"] == "WARN" and doc["severity_number"] == 13
    assert doc["attributes"]["order.id"] == 42
    assert doc["resource"]["attributes"]["service.name"] == "shop"
    assert daemon.metric("otelcol_exporter_sent_log_records", exporter="elasticsearch") == 1


def test_items_refused_with_429_are_resent_alone_by_position(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    names = [f"op-{i}" for i in range(10)]
    refused = {"op-2", "op-5", "op-8"}
    fake.fail_items(lambda index, doc: doc.get("name") in refused, 429, times=3)  # each refused once
    daemon = daemon_factory(config(fake, FAST.replace("50ms", "300ms")))
    provider = tracer_provider(daemon, batch=True)
    make_spans(provider, names)
    provider.shutdown()

    docs = fake.wait_for(10, TRACES_STREAM)
    assert sorted(d["name"] for d in docs) == sorted(names)
    calls = sent_names(fake)
    assert calls[0] == names  # one body with everything (merged within flush.interval)
    assert calls[1] == ["op-2", "op-5", "op-8"]  # then only the refused ones, in their order
    assert [s for c in fake.calls if c.actions for s in c.statuses] == [201] * 2 + [429] + [201] * 2 + [429] + [201] * 2 + [429] + [201] + [201] * 3
    _wait_metric(daemon, "otelcol_exporter_sent_spans", 10)
    assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="elasticsearch") == 0


def test_429_past_max_retries_and_400_409_are_counted_not_retried(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    fake.fail_items(lambda index, doc: doc.get("name") == "bad-mapping", 400, times=100)
    fake.fail_items(lambda index, doc: doc.get("name") == "conflict", 409, times=100)
    fake.fail_items(lambda index, doc: doc.get("name") == "overloaded", 429, times=100)
    extra = FAST.replace("50ms", "300ms") + "    retry: {{max_retries: 2, initial_interval: 10ms}}\n"
    daemon = daemon_factory(config(fake, extra))
    provider = tracer_provider(daemon, batch=True)
    make_spans(provider, ["ok-1", "bad-mapping", "conflict", "overloaded", "ok-2"])
    provider.shutdown()

    fake.wait_for(2, TRACES_STREAM)
    _wait_metric(daemon, "otelcol_exporter_send_failed_spans", 3)
    assert daemon.metric("otelcol_exporter_sent_spans", exporter="elasticsearch") == 2
    calls = sent_names(fake)
    flat = [n for c in calls for n in c]
    assert flat.count("bad-mapping") == 1 and flat.count("conflict") == 1  # final at once
    assert flat.count("overloaded") == 3  # first try + max_retries resends
    assert sorted(d["name"] for d in fake.documents(TRACES_STREAM)) == ["ok-1", "ok-2"]
    failures = [r for r in daemon.log_records() if r.get("event", "").startswith("documents rejected")]
    assert failures and "document_parsing_exception" in failures[0]["reasons"] and "version_conflict_engine_exception" in failures[0]["reasons"]
    assert failures[0]["exporter"] == "elasticsearch"


def test_request_level_503_is_retried_and_nothing_is_lost_or_duplicated(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    fake.fail_requests(503, count=4)
    daemon = daemon_factory(config(fake))
    provider = tracer_provider(daemon)
    names = [f"op-{i}" for i in range(20)]
    make_spans(provider, names)
    provider.shutdown()

    docs = fake.wait_for(20, TRACES_STREAM)
    time.sleep(0.5)
    assert sorted(d["name"] for d in fake.documents(TRACES_STREAM)) == sorted(names) and len(docs) == 20
    assert sum(1 for c in fake.calls if c.request_status == 503) == 4
    _wait_metric(daemon, "otelcol_exporter_sent_spans", 20)
    assert daemon.metric("otelcol_exporter_send_failed_spans", exporter="elasticsearch") == 0


def test_a_retry_after_a_partly_sent_request_resends_only_what_is_left(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    fake.fail_requests(503, count=2, after=1)  # the second and third _bulk bodies are refused
    daemon = daemon_factory(config(fake, FAST.replace("50ms", "300ms").replace("flush: {{", "flush: {{bytes: 3KB, ") + "    compression: none\n"))
    provider = tracer_provider(daemon, batch=True)
    names = [f"op-{i:02d}" for i in range(12)]
    make_spans(provider, names)
    provider.shutdown()

    docs = fake.wait_for(12, TRACES_STREAM)
    time.sleep(0.3)
    assert sorted(d["name"] for d in fake.documents(TRACES_STREAM)) == names and len(docs) == 12
    accepted = [c for c in fake.calls if c.request_status == 200]
    assert len(accepted) >= 3  # one request, several bodies
    assert [c.request_status for c in fake.calls[:3]] == [200, 503, 503]
    flat = [n for c in accepted for n in c.doc_names]
    assert flat == names  # each document sent once, in order: the first body was not resent
    _wait_metric(daemon, "otelcol_exporter_sent_spans", 12)


def test_request_level_429_waits_for_retry_after(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    fake.fail_requests(429, count=1, retry_after=1.5)
    daemon = daemon_factory(config(fake))
    provider = tracer_provider(daemon)
    make_spans(provider, ["throttled"])
    provider.shutdown()
    fake.wait_for(1, TRACES_STREAM)
    refused, accepted = [c for c in fake.calls if c.request_status in (429, 200)][:2]
    assert refused.request_status == 429 and accepted.request_status == 200
    assert accepted.at - refused.at >= 1.4  # not retry_on_failure's 100ms


def test_shutdown_sends_what_is_still_merging(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    daemon = daemon_factory(config(fake, "    flush: {{interval: 1m}}\n"))
    provider = tracer_provider(daemon)
    make_spans(provider, ["a", "b", "c"])
    provider.shutdown()
    time.sleep(0.3)
    assert fake.count() == 0  # still merging: neither 5 MB nor 1 minute reached
    assert daemon.stop() == 0
    assert sorted(d["name"] for d in fake.documents(TRACES_STREAM)) == ["a", "b", "c"]


def test_backend_down_then_back_loses_nothing(daemon_factory: Any) -> None:
    fake = ElasticsearchFake().start()
    port = fake.port
    try:
        daemon = daemon_factory(config(fake))
        provider = tracer_provider(daemon)
        make_spans(provider, ["before"])
        fake.wait_for(1, TRACES_STREAM)
        fake.stop()
        make_spans(provider, [f"during-{i}" for i in range(5)])
        time.sleep(1.0)  # several failed attempts against a closed port
        fake = ElasticsearchFake(port=port)
        fake.start()
        docs = fake.wait_for(5, TRACES_STREAM)
        assert sorted(d["name"] for d in docs) == [f"during-{i}" for i in range(5)]
        provider.shutdown()
        assert daemon.metric("llm_collector_exporter_retried_spans", exporter="elasticsearch") >= 5
        assert daemon.alive()
    finally:
        fake.stop()


def test_wrong_credentials_are_a_counted_permanent_failure(daemon_factory: Any) -> None:
    with ElasticsearchFake(api_key="right") as fake:
        daemon = daemon_factory(config(fake, FAST + "    api_key: wrong\n"))
        provider = tracer_provider(daemon)
        make_spans(provider, ["a", "b"])
        provider.shutdown()
        _wait_metric(daemon, "otelcol_exporter_send_failed_spans", 2)
        assert fake.count() == 0
        assert sum(1 for c in fake.calls if c.request_status == 401) == 1  # permanent: not retried
        errors = [r for r in daemon.log_records() if r.get("event", "").startswith("dropping data")]
        assert errors and "401" in errors[0]["error"] and errors[0]["exporter"] == "elasticsearch"
        assert daemon.alive()


def test_flush_bytes_splits_bodies_and_interval_merges_requests(daemon_factory: Any, fake: ElasticsearchFake) -> None:
    extra = """    flush: {{bytes: 4KB, interval: 400ms}}
    compression: none
"""
    daemon = daemon_factory(config(fake, extra))
    provider = tracer_provider(daemon)  # one export (one request) per span
    names = [f"op-{i:02d}" for i in range(30)]
    make_spans(provider, names)
    provider.shutdown()

    docs = fake.wait_for(30, TRACES_STREAM)
    assert sorted(d["name"] for d in docs) == names
    bulk = [c for c in fake.calls if c.actions]
    assert all(c.body_bytes <= 4000 for c in bulk)
    assert 2 <= len(bulk) < 30  # 30 requests were merged, then split at 4 KB


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import subprocess

    d = tmp_path_factory.mktemp("es-pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=es test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=es")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    return {name: str(d / name) for name in ("ca.crt", "server.crt", "server.key")}


@pytest.mark.parametrize("tls", ["ca_file", "insecure_skip_verify"])
def test_https_endpoint_with_a_ca_file_or_skip_verify(daemon_factory: Any, server_cert: dict[str, str], tls: str) -> None:
    with ElasticsearchFake(tls=(server_cert["server.crt"], server_cert["server.key"]), api_key="k") as fake:
        setting = f'ca_file: "{server_cert["ca.crt"]}"' if tls == "ca_file" else "insecure_skip_verify: true"
        daemon = daemon_factory(config(fake, FAST + f"    api_key: k\n    tls: {{{{{setting}}}}}\n"))
        assert fake.url.startswith("https://")
        provider = tracer_provider(daemon)
        make_spans(provider, ["secure"])
        provider.shutdown()
        (doc,) = fake.wait_for(1, TRACES_STREAM)
        assert doc["name"] == "secure"


def test_https_endpoint_with_an_untrusted_certificate_is_retried_not_sent(daemon_factory: Any, server_cert: dict[str, str]) -> None:
    with ElasticsearchFake(tls=(server_cert["server.crt"], server_cert["server.key"])) as fake:
        daemon = daemon_factory(config(fake))
        provider = tracer_provider(daemon)
        make_spans(provider, ["unverified"])
        provider.shutdown()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("certificate" in str(r.get("error", "")).lower() for r in daemon.log_records()):
            time.sleep(0.1)
        retries = [r for r in daemon.log_records() if r.get("event") == "send failed, will retry"]
        assert retries and "certificate" in retries[0]["error"].lower() and retries[0]["exporter"] == "elasticsearch"
        assert fake.count() == 0 and daemon.alive()


def _wait_metric(daemon: Any, name: str, value: float, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = daemon.metric(name, exporter="elasticsearch")
        except KeyError:
            last = None
        if last == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} is {last}, expected {value}")


def test_bad_config_names_file_line_and_key(tmp_path: Any) -> None:
    import subprocess
    import sys

    path = tmp_path / "c.yaml"
    path.write_text(
        "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: '127.0.0.1:0'}\nexporters:\n  elasticsearch:\n    endpoints: ['localhost:9200']\n    traces_index: Traces\n"
        "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [elasticsearch]}\n"
    )
    result = subprocess.run([sys.executable, "-m", "collector.cli", "validate", "--config", str(path)], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "c.yaml:7" in out and "endpoints" in out and "https://localhost:9200" in out, out
