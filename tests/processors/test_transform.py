"""The transform processor through the running daemon, spans sent by the OpenTelemetry SDK: the OTel demo's
collector statements (tests/fixtures/otelcol/demo-otelcol-config.yaml, transform/redact_sensitive_data and
transform/sanitize_logs), context inference as contrib's processor/transformprocessor README describes it,
set_semconv_span_name (internal/traces/func_set_semconv_span_name.go), error_mode, and a fan-out where only
one branch transforms."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import grpc
import pytest

from collector.component import Signal
from collector.testing import wait_for
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import as_dict, read_json, send

DEMO_STATEMENTS = r"""
      - context: span
        statements:
          - delete_key(attributes, "demo.payment.card_cvv") where attributes["demo.payment.card_cvv"] != nil
          - set(attributes["user.hash"], SHA256(attributes["user.email"])) where attributes["user.email"] != nil
          - delete_key(attributes, "user.email") where attributes["user.email"] != nil
          - replace_pattern(attributes["demo.payment.card_number"], "^\\d{{4}}-\\d{{4}}-\\d{{4}}-", "****-****-****-") where attributes["demo.payment.card_number"] != nil
"""


def _config(trace_statements: str, *, error_mode: str = "ignore", second: bool = False) -> str:
    plain = 'file/plain: {{path: "{data}/plain.jsonl"}}' if second else ""
    pipelines = "traces: {{receivers: [otlp], processors: [transform], exporters: [file/traces]}}"
    if second:
        pipelines += "\ntraces/plain: {{receivers: [otlp], exporters: [file/plain]}}"
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
processors:
  transform:
    error_mode: {error_mode}
    trace_statements:
{trace_statements}
exporters:
  file/traces: {{{{path: "{{data}}/traces.jsonl"}}}}
  {plain}
""", pipelines)


def _sdk_spans(daemon: Any, spans: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Each (name, kind, attributes) as a span of service `checkout`, exported by the OTel SDK over OTLP/HTTP."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{daemon.http_url}/v1/traces", timeout=10)))
    tracer = provider.get_tracer("shop")
    for name, kind, attributes in spans:
        with tracer.start_as_current_span(name, kind=SpanKind(kind - 1), attributes=attributes):
            pass
    provider.shutdown()


def _exported(path: Path, count: int) -> list[Any]:
    def spans() -> list[Any]:
        if not path.exists():
            return []
        return [s for r in read_json(path, Signal.TRACES) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return wait_for(lambda: (found := spans()) and len(found) >= count and found, timeout=20, what=f"{count} spans in {path.name}")


def test_the_demo_redaction_statements_on_sdk_spans(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config(DEMO_STATEMENTS))
    _sdk_spans(daemon, [("charge", 2, {"demo.payment.card_cvv": "123", "demo.payment.card_number": "4432-8015-6152-0454",
                                       "user.email": "alice@example.com", "amount": 12.5})])
    (span,) = _exported(daemon.data / "traces.jsonl", 1)
    assert as_dict(span.attributes) == {"demo.payment.card_number": "****-****-****-0454", "amount": 12.5,
                                        "user.hash": hashlib.sha256(b"alice@example.com").hexdigest()}


def test_flat_statements_infer_their_context_and_semconv_names(daemon_factory: Any) -> None:
    statements = r"""
      - set(span.attributes["service"], resource.attributes["service.name"])
      - set(resource.attributes["deployment.environment.name"], "prod")
      - context: span
        statements:
          - set_semconv_span_name("1.43.0", "original_span_name")
"""
    daemon = daemon_factory(_config(statements))
    _sdk_spans(daemon, [("GET /api/v1/users/123", 2, {"http.request.method": "GET", "http.route": "/api/v1/users/{id}"}),
                        ("SELECT * FROM product WHERE id=1", 3, {"db.system.name": "postgresql", "db.operation.name": "SELECT",
                                                                 "db.namespace": "shop", "db.collection.name": "product"}),
                        ("chat gpt-4o", 3, {"gen_ai.request.model": "gpt-4o"})])
    spans = _exported(daemon.data / "traces.jsonl", 3)
    names = {s.name: as_dict(s.attributes).get("original_span_name") for s in spans}
    assert names == {"GET /api/v1/users/{id}": "GET /api/v1/users/123", "SELECT shop.product": "SELECT * FROM product WHERE id=1", "chat gpt-4o": None}
    assert all(as_dict(s.attributes)["service"] == "checkout" for s in spans)
    (request,) = read_json(daemon.data / "traces.jsonl", Signal.TRACES)[:1]
    assert as_dict(request.resource_spans[0].resource.attributes)["deployment.environment.name"] == "prod"


def test_a_fan_out_keeps_the_other_branch_as_received(daemon_factory: Any) -> None:
    statements = """
      - delete_key(span.attributes, "user.email")
      - set(span.name, "renamed")
"""
    daemon = daemon_factory(_config(statements, second=True))
    _sdk_spans(daemon, [("checkout", 2, {"user.email": "bob@example.com"})])
    (changed,) = _exported(daemon.data / "traces.jsonl", 1)
    (kept,) = _exported(daemon.data / "plain.jsonl", 1)
    assert changed.name == "renamed" and "user.email" not in as_dict(changed.attributes)
    assert kept.name == "checkout" and as_dict(kept.attributes) == {"user.email": "bob@example.com"}


@pytest.mark.parametrize(("mode", "refused"), [("ignore", False), ("propagate", True)])
def test_error_mode(daemon_factory: Any, mode: str, refused: bool) -> None:
    """A statement failing on one span (Substring past the end of a short name): ignore logs it and goes on with the
    next statement; propagate fails the request with a permanent error."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    statements = """
      - set(span.attributes["head"], Substring(span.name, 0, 5))
      - set(span.attributes["after"], true)
"""
    daemon = daemon_factory(_config(statements, error_mode=mode))
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(name="abc", trace_id=bytes(range(16)), span_id=bytes(range(8)))
    spans.add(name="abcdefgh", trace_id=bytes(range(16)), span_id=bytes(range(1, 9)))
    if refused:
        with pytest.raises(grpc.RpcError) as info:
            send(daemon, Signal.TRACES, request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Substring" in (info.value.details() or "")
        return
    send(daemon, Signal.TRACES, request)
    got = {s.name: as_dict(s.attributes) for s in _exported(daemon.data / "traces.jsonl", 2)}
    assert got == {"abc": {"after": True}, "abcdefgh": {"head": "abcde", "after": True}}
    wait_for(lambda: any(r.get("event") == "failed to execute statement" and r.get("component") for r in daemon.log_records()), what="the warning")


def test_a_bad_statement_is_a_config_error_with_file_line_and_column(tmp_path: Path) -> None:
    from collector.cli import main
    from tests.conftest import run_in_process

    path = tmp_path / "c.yaml"
    path.write_text(_config("""
      - set(span.attributes["x"], Nope(1))
""").format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    result = run_in_process(main, "validate", "--config", str(path))
    assert result.returncode == 1
    assert f"{path}:12: processors.transform.trace_statements[0]: undefined function \"Nope\" (at column 27 of " in result.stderr
