"""The load_balancing exporter's config errors (contrib exporter/loadbalancingexporter loadbalancer.go
newLoadBalancer, resolver_static.go newStaticResolver, resolver_dns.go newDNSResolver) and its wire split
(collector/wire/partition.py): every item reaches its key's owner with its resource and scope, nothing else moves."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.component import Kind, Signal
from collector.exporters.loadbalancing.exporter import LoadBalancingExporter, service_name
from collector.exporters.loadbalancing.ring import HashRing
from collector.testing import BuildError, decode_config, kv
from collector.wire import partition


def config(text: str) -> object:
    return decode_config("load_balancing", text, Kind.EXPORTER)[1]


@pytest.mark.parametrize(("text", "message"), [
    ("resolver: {}", "no resolvers specified for the exporter"),
    ("resolver: {static: {hostnames: [a]}, dns: {hostname: b}}", "only one resolver should be specified"),
    ("resolver: {static: {hostnames: []}}", "no endpoints specified for the static resolver"),
    ("resolver: {dns: {port: '4317'}}", "no hostname specified to resolve the backends"),
    ("resolver: {k8s: {ports: [4317]}}", "no service specified to resolve the backends"),
    ("resolver: {static: {hostnames: [a]}}\nrouting_key: spanName", "unsupported routing_key"),
])
def test_config_errors(text: str, message: str) -> None:
    with pytest.raises(BuildError, match=message) as info:
        config(text)
    assert "spanName" not in str(info.value)  # the reason never echoes the value


def test_defaults_and_the_older_spelling() -> None:
    cfg = decode_config("loadbalancing", "resolver: {dns: {hostname: gw}}", Kind.EXPORTER)[1]
    assert (cfg.resolver.dns.port, cfg.resolver.dns.interval, cfg.resolver.dns.timeout) == ("4317", 5.0, 1.0)
    assert cfg.key_for(Signal.TRACES) == "traceID" and cfg.key_for(Signal.METRICS) == "service"
    k8s = config("resolver: {k8s: {service: gw.obs}}").resolver.k8s
    assert k8s.ports == [4317] and k8s.name_and_namespace("default") == ("gw", "obs")


def test_routing_key_per_signal() -> None:
    cfg = config("resolver: {static: {hostnames: [a]}}\nrouting_key: service")
    assert LoadBalancingExporter.validate_usage(None, cfg, {Signal.TRACES, Signal.METRICS}) == []  # type: ignore[arg-type]
    problems = LoadBalancingExporter.validate_usage(None, cfg, {Signal.LOGS})  # type: ignore[arg-type]
    assert problems and "not supported for logs" in problems[0]


def _request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for r in range(3):
        rs = request.resource_spans.add(schema_url=f"https://r/{r}")
        rs.resource.attributes.append(kv("service.name", f"svc-{r}"))
        for s in range(2):
            ss = rs.scope_spans.add(schema_url=f"https://s/{s}")
            ss.scope.name = f"scope-{s}"
            for i in range(12):
                span = ss.spans.add(name=f"{r}.{s}.{i}", span_id=bytes([r, s, i]) * 2 + b"xy")
                span.trace_id = bytes([i % 5]) * 16
    return request


def _spans(request: ExportTraceServiceRequest) -> list[tuple[str, str, str, str, bytes]]:
    return sorted((rs.resource.attributes[0].value.string_value, rs.schema_url, ss.scope.name, ss.schema_url, span.SerializeToString())
                  for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans)


def test_by_trace_id_sends_each_span_to_its_owner_with_its_resource_and_scope() -> None:
    request = _request()
    ring = HashRing(["a:4317", "b:4317", "c:4317"])
    parts = partition.by_item(request.SerializeToString(), partition.span_trace_id, ring.endpoint_for)
    assert len(parts) > 1
    merged: list[tuple[str, str, str, str, bytes]] = []
    for owner, raw in parts.items():
        part = ExportTraceServiceRequest.FromString(raw)
        for rs in part.resource_spans:
            for ss in rs.scope_spans:
                assert all(ring.endpoint_for(span.trace_id) == owner for span in ss.spans)
        merged += _spans(part)
    assert sorted(merged) == _spans(request)


def test_trace_id_read_from_any_field_order() -> None:
    span_bytes = b"\x2a\x01x" + b"\x0a\x10" + b"T" * 16  # name (field 5) before trace_id
    assert partition.span_trace_id(span_bytes) == b"T" * 16
    assert partition.span_trace_id(b"\x2a\x01x") == partition.NO_TRACE_ID


def test_by_service_moves_whole_resources() -> None:
    request = _request()
    ring = HashRing(["a:4317", "b:4317"])
    parts = partition.by_resource(request.SerializeToString(), lambda resource: ring.endpoint_for(service_name(resource)))
    for owner, raw in parts.items():
        for rs in ExportTraceServiceRequest.FromString(raw).resource_spans:
            assert ring.endpoint_for(rs.resource.attributes[0].value.string_value.encode()) == owner
            assert len(rs.scope_spans) == 2 and all(len(ss.spans) == 12 for ss in rs.scope_spans)
    assert sum(len(ExportTraceServiceRequest.FromString(raw).resource_spans) for raw in parts.values()) == 3


def test_logs_by_trace_id() -> None:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for i in range(20):
        scope.log_records.add(trace_id=bytes([i % 4]) * 16 if i % 5 else b"", severity_number=i)
    ring = HashRing(["a:4317", "b:4317"])
    parts = partition.by_item(request.SerializeToString(), lambda raw: partition.log_trace_id(raw) or b"untraced", ring.endpoint_for)
    seen = []
    for owner, raw in parts.items():
        for record in ExportLogsServiceRequest.FromString(raw).resource_logs[0].scope_logs[0].log_records:
            assert ring.endpoint_for(record.trace_id or b"untraced") == owner
            seen.append(record.severity_number)
    assert sorted(seen) == list(range(20))


def test_dns_answer_parsing() -> None:
    """RFC 1035 section 4: A and AAAA answers behind a compressed name, NXDOMAIN as no addresses, other rcodes
    and truncated messages as errors (resolver_dns.go then keeps the last list)."""
    import socket
    import struct

    from collector.exporters.loadbalancing.resolvers import _question, parse_answer

    question = _question(7, "gw.test", 1)[12:]
    answers = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton("10.0.0.9")
               + b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 30, 16) + socket.inet_pton(socket.AF_INET6, "fd00::1"))
    reply = struct.pack(">HHHHHH", 7, 0x8180, 1, 2, 0, 0) + question + answers
    assert parse_answer(reply, 7) == ["10.0.0.9", "fd00::1"]
    assert parse_answer(struct.pack(">HHHHHH", 7, 0x8183, 1, 0, 0, 0) + question, 7) == []
    with pytest.raises(ValueError, match="rcode 2"):
        parse_answer(struct.pack(">HHHHHH", 7, 0x8182, 1, 0, 0, 0) + question, 7)
    with pytest.raises(ValueError, match="malformed"):
        parse_answer(reply[:-5], 7)


def test_memory_queue_hands_over_only_waiting_requests() -> None:
    import asyncio

    from collector.exporterhelper.queue import MemoryQueue
    from collector.testing import spans_request

    async def run() -> None:
        queue = MemoryQueue(10, "requests")
        for n in (1, 2, 3):
            await queue.put(Signal.TRACES, spans_request(n), block=False)
        in_flight = await queue.get()
        assert in_flight is not None and queue.size == 3
        taken = queue.take_waiting()
        assert [r.items for r in taken] == [2, 3] and queue.size == 1
        assert queue.outstanding() == [in_flight]

    asyncio.run(run())
