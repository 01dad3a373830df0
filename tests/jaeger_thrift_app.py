"""An app traced with OpenTelemetry's Jaeger Thrift exporter (opentelemetry-exporter-jaeger-thrift, the last
release, 1.21.0), set up as its documentation tells a user, exporting to the daemon's jaeger receiver:

  --mode collector      JaegerExporter(collector_endpoint=http://.../api/traces): a Batch in TBinaryProtocol over HTTP
  --mode agent          JaegerExporter(agent_host_name, agent_port): emitBatch in TCompactProtocol over UDP (its default)
  --mode agent-binary   the same exporter with its agent client speaking TBinaryProtocol (thrift's Agent.Client over
                        TBinaryProtocol: the 6832 port's protocol, which the exporter offers no option for)

Runs with the python of its own venv (tests/libvenvs.py, tests/venvs/jaeger-thrift.txt: the exporter needs
opentelemetry-sdk 1.21, far older than the project's); nothing here imports the daemon's code. It makes one small
trace (a server span with a client child that fails, events, a link, attributes of every type), exports it, and
prints the spans as the SDK recorded them, as JSON on stdout, for the test to compare with what the daemon wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["collector", "agent", "agent-binary"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--service", default="jaeger-app")
    args = parser.parse_args(argv)

    from opentelemetry.exporter.jaeger.thrift import JaegerExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    if args.mode == "collector":
        exporter = JaegerExporter(collector_endpoint=f"http://{args.host}:{args.port}/api/traces")
    else:
        exporter = JaegerExporter(agent_host_name=args.host, agent_port=args.port)
        if args.mode == "agent-binary":
            from opentelemetry.exporter.jaeger.thrift.gen.agent import Agent
            from thrift.protocol import TBinaryProtocol

            agent = exporter._agent_client  # noqa: SLF001 - the exporter has no switch for the agent's binary port
            agent.client = Agent.Client(iprot=TBinaryProtocol.TBinaryProtocol(trans=agent.buffer))
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.checkout", "2.3.4")

    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes={
            "http.method": "GET", "http.route": "/checkout", "retries": 3, "ratio": 0.25, "cached": False, "tags.list": ["a", "b"]}) as server:
        server.add_event("cache miss", {"cache.key": "cart:42", "cache.size": 17})
        linked = server.get_span_context()
        with tracer.start_as_current_span("POST payments", kind=SpanKind.CLIENT, links=[Link(linked)]) as client:
            client.set_attribute("peer.service", "payments")
            client.add_event("sent")
            client.set_status(Status(StatusCode.ERROR, "card declined"))
        server.set_status(Status(StatusCode.OK))
    provider.shutdown()

    json.dump([_span(s) for s in recorded.get_finished_spans()], sys.stdout)
    return 0


def _span(span: Any) -> dict[str, Any]:
    ctx = span.get_span_context()
    return {
        "trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}", "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name, "kind": span.kind.name, "start": span.start_time, "end": span.end_time, "flags": int(ctx.trace_flags),
        "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()},
        "resource": dict(span.resource.attributes), "scope": [span.instrumentation_scope.name, span.instrumentation_scope.version],
        "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes)} for e in span.events],
        "links": [{"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"} for link in span.links],
        "status": [span.status.status_code.name, span.status.description],
    }


if __name__ == "__main__":
    sys.exit(main())
