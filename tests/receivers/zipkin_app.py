"""An app traced with the OpenTelemetry Python SDK that exports with the real Zipkin exporter: the JSON one
(opentelemetry-exporter-zipkin-json, in the project's venv) or the protobuf one
(opentelemetry-exporter-zipkin-proto-http, in the zipkin-proto venv of tests/libvenvs.py). It makes one batch
of spans (server, client with an error, internal, a producer from a second library, an event),
exports it in one request, and prints what it exported as one JSON line per span, then the export result.

    python tests/receivers/zipkin_app.py --endpoint http://127.0.0.1:9411/api/v2/spans --protocol json|proto|v1
"""

from __future__ import annotations

import argparse
import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


def make_spans() -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "chat-api", "service.version": "1.4.0", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("app.http", "3.1")
    with tracer.start_as_current_span("GET /chat", kind=SpanKind.SERVER, attributes={"http.method": "GET", "http.status_code": 200, "ok": True, "ratio": 0.5}) as root:
        root.add_event("cache miss", {"key": "k1", "n": 3})
        with tracer.start_as_current_span("POST /v1/chat/completions", kind=SpanKind.CLIENT, attributes={"gen_ai.system": "openai"}) as client:
            client.set_status(Status(StatusCode.ERROR, "upstream 500"))
        with tracer.start_as_current_span("tokenize", kind=SpanKind.INTERNAL):
            pass
        root.set_status(Status(StatusCode.OK))
    with provider.get_tracer("app.worker", "2.0").start_as_current_span("enqueue", kind=SpanKind.PRODUCER, attributes={"queue": "jobs"}):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def exporter(protocol: str, endpoint: str):
    # max_tag_value_length is the encoders' own default, given since the v1 encoder fails without it (1.45.1).
    common = {"endpoint": endpoint, "local_node_ipv4": "10.1.2.3", "local_node_port": 8080, "max_tag_value_length": 128}
    if protocol == "proto":
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter as ProtoExporter

        return ProtoExporter(**common)
    from opentelemetry.exporter.zipkin.json import Protocol, ZipkinExporter

    return ZipkinExporter(version=Protocol.V1 if protocol == "v1" else Protocol.V2, **common)


def describe(span) -> dict:
    context = span.get_span_context()
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "attributes": dict(span.attributes),
        "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes)} for e in span.events],
        "status": [span.status.status_code.name, span.status.description],
        "scope": [span.instrumentation_scope.name, span.instrumentation_scope.version],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--protocol", choices=("json", "proto", "v1"), default="json")
    args = parser.parse_args()
    spans = make_spans()
    result = exporter(args.protocol, args.endpoint).export(spans)
    for span in spans:
        print(json.dumps(describe(span)))
    print(json.dumps({"result": result.name}))
    return 0 if result.name == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
