"""The redaction processor reads the bytes a request arrived as instead of serializing it again, and only
where they cannot be stale (collector/envelope.py): nothing in front of it in its pipeline took the request
from the envelope, validation refused nothing, and it is the very object the receiver decoded. A processor
in front that adds PII must still see it redacted, whether or not it declares that it mutates data; every
intake (gRPC, HTTP protobuf, HTTP JSON) and a sender whose protobuf layout is not the canonical one must come
out redacted."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson, registry
from collector.component import Capabilities, Kind, Signal
from collector.envelope import Envelope
from collector.wire.encode import varint as encode_varint
from tests.processors.test_redaction import CPF, EMAIL, as_dict, attrs, read_json
from tests.service.test_pipeline import TRACE_EXPORT, InProcessService, TagProcessor

LEAK = "added.later@example.com"


class UndeclaredTagProcessor(TagProcessor):
    """Adds an attribute like test_tag but says it changes nothing: a processor whose author got
    `capabilities` wrong must not make redaction behind it read bytes that no longer hold the request."""

    type_name = "test_tag_undeclared"
    capabilities = Capabilities(mutates_data=False)


@pytest.fixture
def tag_processor() -> Iterator[None]:
    registry.register(TagProcessor)
    registry.register(UndeclaredTagProcessor)
    yield
    registry._REGISTRY[Kind.PROCESSOR].pop(TagProcessor.type_name, None)
    registry._REGISTRY[Kind.PROCESSOR].pop(UndeclaredTagProcessor.type_name, None)


@pytest.fixture
def lent(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per lookup of the wire bytes (only the redaction processor asks, in these pipelines): whether it got
    them."""
    calls: list[bool] = []
    real = Envelope.wire

    def spy(self: Envelope, canonical: bool = False) -> bytes | None:
        found = real(self, canonical)
        calls.append(found is not None)
        return found

    monkeypatch.setattr(Envelope, "wire", spy)
    return calls


def pii_request() -> ExportTraceServiceRequest:
    spans = [
        Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="clean", attributes=attrs({"case": "clean", "note": "order A1234567"})),
        Span(trace_id=b"\x01" * 16, span_id=b"\x03" * 8, name="pii", attributes=attrs({
            "case": "pii", "note": f"mail {EMAIL}",
            "input.value": json.dumps({"messages": [{"role": "user", "content": f"my cpf is {CPF}"}]}, indent=1)})),
    ]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def in_process_config(processors: str) -> str:
    return """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  test_tag: {{key: contact, value: "write to """ + LEAK + """"}}
  test_tag_undeclared: {{key: contact, value: "write to """ + LEAK + """"}}
  memory_limiter: {{limit_mib: 100000}}
  redaction: {{detectors: {{}}, allow_all_keys: true, workers: 0}}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
service:
  telemetry: {{metrics: {{address: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [""" + processors + """], exporters: [file]}}
"""


def exported(svc: InProcessService) -> dict[str, dict[str, Any]]:
    spans = svc.spans("traces.jsonl")
    return {as_dict(s.attributes)["case"]: as_dict(s.attributes) for s in spans}


@pytest.mark.slow
@pytest.mark.parametrize("processors, granted", [("redaction", True), ("memory_limiter, redaction", True),
                                                   ("test_tag, redaction", False), ("redaction, test_tag", True),
                                                   ("test_tag_undeclared, redaction", False),
                                                   ("memory_limiter, test_tag_undeclared, redaction", False)])
def test_bytes_are_lent_only_where_nothing_in_front_changes_data(
    tmp_path: Path, tag_processor: None, lent: list[bool], processors: str, granted: bool
) -> None:
    with InProcessService(tmp_path, in_process_config(processors)) as svc:
        svc.export(pii_request().SerializeToString(), timeout=10)
        svc.flush()
        spans = exported(svc)
    # Redaction always asks; the envelope answers with bytes only while no one in front took the request.
    assert lent == [granted]
    raw = (tmp_path / "data" / "traces.jsonl").read_bytes()
    assert EMAIL.encode() not in raw and CPF.encode() not in raw
    if "test_tag" in processors and processors.index("test_tag") < processors.index("redaction"):
        # Added after the request arrived: the received bytes never held it, the serialized request does.
        assert LEAK.encode() not in raw
        assert spans["clean"]["contact"] == "write to <EMAIL>"
    assert spans["clean"]["note"] == "order A1234567"
    assert spans["pii"]["note"] == "mail <EMAIL>"
    assert json.loads(spans["pii"]["input.value"]) == {"messages": [{"role": "user", "content": "my cpf is <CPF>"}]}


@pytest.mark.slow
def test_a_request_validation_changed_is_not_lent(tmp_path: Path, tag_processor: None, lent: list[bool]) -> None:
    request = pii_request()
    request.resource_spans[0].scope_spans[0].spans.add(trace_id=b"\x00" * 16, span_id=b"\x04" * 8, name="invalid")
    with InProcessService(tmp_path, in_process_config("redaction")) as svc:
        svc.export(request.SerializeToString(), timeout=10)
        svc.flush()
        spans = exported(svc)
    assert lent == [False]
    assert spans["pii"]["note"] == "mail <EMAIL>" and "invalid" not in {s.name for s in svc.spans("traces.jsonl")}


def reordered(message: Any) -> bytes:
    """The message's protobuf encoding with its fields written last to first (and repeated items in
    reverse), recursively: legal protobuf that parses to the same data with repeated fields reversed, but
    whose byte layout is nothing like the canonical one a serializer writes."""
    parts: list[bytes] = []
    for field, value in message.ListFields():
        items = list(value) if field.is_repeated else [value]
        for item in items:
            if field.message_type is not None:
                body = reordered(item)
                parts.append(encode_varint(field.number << 3 | 2) + encode_varint(len(body)) + body)
            else:
                single = type(message)()
                if field.is_repeated:
                    getattr(single, field.name).append(item)
                else:
                    setattr(single, field.name, item)
                parts.append(single.SerializeToString())
    return b"".join(reversed(parts))


RECEIVE_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  redaction: {{detectors: {{}}, allow_all_keys: true}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
"""


@pytest.mark.slow
def test_every_intake_and_a_non_canonical_layout_come_out_redacted(daemon_factory: Any) -> None:
    daemon = daemon_factory(RECEIVE_CONFIG)
    request = pii_request()
    shuffled = reordered(request)
    assert ExportTraceServiceRequest.FromString(shuffled).resource_spans[0].scope_spans[0].spans[0].name == "pii"
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        export = channel.unary_unary(TRACE_EXPORT)
        export(request.SerializeToString(), timeout=30)
        export(shuffled, timeout=30)
    for body, ctype in ((request.SerializeToString(), "application/x-protobuf"), (shuffled, "application/x-protobuf"),
                        (otlpjson.encode(Signal.TRACES, request), "application/json")):
        post = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, headers={"Content-Type": ctype})
        with urllib.request.urlopen(post, timeout=30) as response:
            assert response.status == 200
    assert daemon.stop() == 0
    raw = (daemon.data / "traces.jsonl").read_bytes()
    assert EMAIL.encode() not in raw and CPF.encode() not in raw
    requests = read_json(daemon.data / "traces.jsonl", Signal.TRACES)
    assert len(requests) == 5
    for exported_request in requests:
        spans = {as_dict(s.attributes)["case"]: as_dict(s.attributes) for s in exported_request.resource_spans[0].scope_spans[0].spans}
        assert spans["clean"] == {"case": "clean", "note": "order A1234567"}  # not walked, no summary
        assert spans["pii"]["note"] == "mail <EMAIL>" and spans["pii"]["redaction.masked.count"] == 2
        # Edited in place: the sender's indentation is still there.
        assert spans["pii"]["input.value"] == json.dumps({"messages": [{"role": "user", "content": "my cpf is <CPF>"}]}, indent=1)
