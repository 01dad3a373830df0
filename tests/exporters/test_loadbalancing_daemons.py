"""The load_balancing exporter between real daemons on loopback: an agent in front of gateway daemons (file
exporters). Each trace's spans are sent in several requests; every trace must land whole on one gateway, the
one otelcol's ring names (collector/exporters/loadbalancing/ring.py, tested against consistent_hashing.go), and
nothing the agent acknowledged may be lost when a gateway is down or leaves the DNS answer."""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.exporters.loadbalancing.ring import HashRing
from collector.testing import kv, wait_for
from tests.conftest import daemon_yaml, free_port

pytestmark = pytest.mark.slow

GATEWAY = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "GRPC_ENDPOINT"}}
exporters:
  file: {{path: "{data}/traces.jsonl", flush_interval: 50ms}}
""", """
traces: {{receivers: [otlp], exporters: [file]}}
""")

AGENT = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  load_balancing:
    protocol:
      otlp:
        tls: {{insecure: true}}
        timeout: 10s
        retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 2s}}
    resolver: RESOLVER
""", """
traces: {{receivers: [otlp], exporters: [load_balancing]}}
""")


def gateway(daemon_factory: Any, endpoint: str, start: bool = True) -> Any:
    return daemon_factory(GATEWAY.replace("GRPC_ENDPOINT", endpoint), start=start)


def agent(daemon_factory: Any, resolver: str, env: dict[str, str] | None = None) -> Any:
    return daemon_factory(AGENT.replace("RESOLVER", resolver), env=env)


def send(endpoint: str, traces: dict[bytes, int], parts: int, rng: random.Random) -> None:
    """Each trace's spans in `parts` requests, the requests mixing traces."""
    with grpc.insecure_channel(endpoint) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                     request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for part in range(parts):
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add()
            rs.resource.attributes.append(kv("service.name", "agent-test"))
            ss = rs.scope_spans.add()
            ids = list(traces)
            rng.shuffle(ids)
            for tid in ids:
                for i in range(traces[tid] // parts):
                    ss.spans.add(trace_id=tid, span_id=rng.randbytes(8), name=f"p{part}.{i}")
            export(request.SerializeToString(), timeout=10)


def landed(path: Path) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    if not path.exists():
        return out
    for line in path.read_bytes().splitlines():
        if line.strip():
            for rs in orjson.loads(line).get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    for span in ss.get("spans", ()):
                        tid = bytes.fromhex(span["traceId"])
                        out[tid] = out.get(tid, 0) + 1
    return out


def test_each_trace_lands_whole_on_its_ring_owner(daemon_factory: Any) -> None:
    ports = [free_port() for _ in range(3)]
    endpoints = [f"127.0.0.1:{p}" for p in ports]
    gateways = {e: gateway(daemon_factory, e) for e in endpoints}
    hostnames = ", ".join(f'"{e}"' for e in reversed(endpoints))  # the order given does not matter (sorted)
    lb = agent(daemon_factory, f"{{{{static: {{{{hostnames: [{hostnames}]}}}}}}}}")
    rng = random.Random(1)
    traces = {rng.randbytes(16): 6 for _ in range(60)}
    send(lb.grpc_endpoint, traces, parts=3, rng=rng)
    wait_for(lambda: sum(sum(landed(g.data / "traces.jsonl").values()) for g in gateways.values()) == 360, timeout=20, what="all spans at gateways")
    ring = HashRing(sorted(endpoints))
    owners: dict[bytes, list[str]] = {}
    for endpoint, g in gateways.items():
        for tid, n in landed(g.data / "traces.jsonl").items():
            owners.setdefault(tid, []).append(endpoint)
            assert n == 6
    assert {tid: where for tid, where in owners.items()} == {tid: [ring.endpoint_for(tid)] for tid in traces}
    assert len({where[0] for where in owners.values()}) == 3  # every gateway got some traces
    assert lb.metric("otelcol_loadbalancer_num_backends", resolver="static") == 3
    assert lb.metric("otelcol_loadbalancer_backend_outcome", success="true") >= 3
    assert lb.metric("llm_collector_loadbalancer_split_requests") >= 3


def test_a_down_backend_fails_over_to_the_next_on_the_ring(daemon_factory: Any) -> None:
    up, down = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    g = gateway(daemon_factory, up)
    lb = agent(daemon_factory, f'{{{{static: {{{{hostnames: ["{up}", "{down}"]}}}}}}}}')
    rng = random.Random(2)
    traces = {rng.randbytes(16): 4 for _ in range(40)}
    owned_by_down = sum(1 for tid in traces if HashRing(sorted([up, down])).endpoint_for(tid) == down)
    assert owned_by_down
    send(lb.grpc_endpoint, traces, parts=2, rng=rng)
    wait_for(lambda: sum(landed(g.data / "traces.jsonl").values()) == 160, timeout=30, what="every span at the live gateway")
    assert landed(g.data / "traces.jsonl") == traces
    assert lb.metric("llm_collector_loadbalancer_failover_spans") == owned_by_down * 4
    assert lb.metric("llm_collector_loadbalancer_failover_keys") >= owned_by_down
    assert lb.metric("otelcol_loadbalancer_backend_outcome", endpoint=down, success="false") >= 1


class DNSServer:
    """A DNS server over UDP (RFC 1035): A records of one name, changed by the test while it runs."""

    def __init__(self, name: str):
        self.name = name.encode()
        self.addresses: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            qid, _flags, qd = struct.unpack_from(">HHH", data)
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]])
                i += 1 + data[i]
            qtype = struct.unpack_from(">H", data, i + 1)[0]
            question = data[12:i + 5]
            self.queries += 1
            found = b".".join(labels) == self.name
            answers = [a for a in self.addresses] if found and qtype == 1 else []
            rcode = 0 if found else 3
            out = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0) + question
            for address in answers:
                out += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(address)
            try:
                self.sock.sendto(out, peer)
            except OSError:
                return  # closed by the test

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns() -> Iterator[DNSServer]:
    server = DNSServer("gateways.test")
    yield server
    server.close()


def test_a_gateway_leaving_the_dns_answer_loses_nothing(daemon_factory: Any, dns: DNSServer) -> None:
    port = free_port()
    hosts = ["127.0.0.2", "127.0.0.3"]
    gateways = {h: gateway(daemon_factory, f"{h}:{port}") for h in hosts}
    dns.addresses = list(hosts)
    resolver = f'{{{{dns: {{{{hostname: gateways.test, port: "{port}", interval: 200ms, timeout: 500ms}}}}}}}}'
    lb = agent(daemon_factory, resolver, env={"LLM_COLLECTOR_DNS_SERVER": f"127.0.0.1:{dns.port}"})
    wait_for(lambda: lb.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 2, timeout=10, what="two backends")
    rng = random.Random(3)
    sent: dict[bytes, int] = {}
    batch = {rng.randbytes(16): 2 for _ in range(30)}
    send(lb.grpc_endpoint, batch, parts=2, rng=rng)
    sent.update(batch)
    # The second gateway goes away: out of the answer, then down; what was queued for it must be re-routed.
    dns.addresses = hosts[:1]
    gateways[hosts[1]].stop()
    for _ in range(3):
        batch = {rng.randbytes(16): 2 for _ in range(30)}
        send(lb.grpc_endpoint, batch, parts=2, rng=rng)
        sent.update(batch)
    wait_for(lambda: lb.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 1, timeout=10, what="one backend")

    def total() -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for g in gateways.values():
            for tid, n in landed(g.data / "traces.jsonl").items():
                out[tid] = out.get(tid, 0) + n
        return out

    wait_for(lambda: sum(total().values()) >= sum(sent.values()), timeout=30, what="every acknowledged span at a gateway")
    assert total() == sent
    assert lb.metric("otelcol_loadbalancer_num_resolutions", resolver="dns", success="true") >= 2


def endpoint_slice(name: str, endpoints: list[tuple[str, bool | None]], port: int) -> dict[str, Any]:
    """An EndpointSlice of the Service `gateways` (discovery.k8s.io/v1): `ready` None leaves the condition unset,
    which the API documents as ready."""
    return {
        "metadata": {"name": name, "namespace": "obs", "labels": {"kubernetes.io/service-name": "gateways"}},
        "addressType": "IPv4",
        "ports": [{"name": "otlp", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [address], **({"conditions": {"ready": ready}} if ready is not None else {})} for address, ready in endpoints],
    }


def test_k8s_resolver_follows_endpointslice_readiness(daemon_factory: Any, tmp_path: Path) -> None:
    """resolver_k8s.go: the Service's EndpointSlices, listed then watched; an endpoint whose conditions.ready is
    false is no backend (contrib issue #50436 reports otelcol sending to such endpoints)."""
    from tests.fakes.kube_api import KubeAPIFake
    from tests.processors.k8s_helpers import TOKEN, daemon_env, service_account

    sa_dir, tls = service_account(tmp_path / "sa")
    api = KubeAPIFake(token=TOKEN, tls=tls).start()
    try:
        port = free_port()
        hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        gateways = {h: gateway(daemon_factory, f"{h}:{port}") for h in hosts}
        api.put("endpointslices", endpoint_slice("gateways-a", [(hosts[0], True), (hosts[1], None), (hosts[2], False)], port))
        lb = agent(daemon_factory, f"{{{{k8s: {{{{service: gateways.obs, ports: [{port}]}}}}}}}}", env=daemon_env(api, sa_dir))
        wait_for(lambda: lb.metric("otelcol_loadbalancer_num_backends", resolver="k8s") == 2, timeout=10, what="two ready backends")
        rng = random.Random(4)
        traces = {rng.randbytes(16): 2 for _ in range(40)}
        send(lb.grpc_endpoint, traces, parts=2, rng=rng)
        ring = HashRing([f"{h}:{port}" for h in hosts[:2]])
        wait_for(lambda: sum(sum(landed(g.data / "traces.jsonl").values()) for g in gateways.values()) == 80, timeout=20, what="every span")
        for host, g in gateways.items():
            assert set(landed(g.data / "traces.jsonl")) == {tid for tid in traces if ring.endpoint_for(tid) == f"{host}:{port}"}
        assert not landed(gateways[hosts[2]].data / "traces.jsonl")
        # The third endpoint becomes ready (MODIFIED on the watch), the first one stops being ready.
        api.put("endpointslices", endpoint_slice("gateways-a", [(hosts[0], False), (hosts[1], True), (hosts[2], True)], port))
        ready = [f"{h}:{port}" for h in hosts[1:]]
        wait_for(lambda: [r["backends"] for r in lb.log_records() if r.get("event") == "backends changed"][-1] == ready, timeout=10, what="the new ready set")
        more = {rng.randbytes(16): 2 for _ in range(40)}
        send(lb.grpc_endpoint, more, parts=1, rng=rng)
        ring = HashRing([f"{h}:{port}" for h in hosts[1:]])
        wait_for(lambda: sum(sum(landed(g.data / "traces.jsonl").values()) for g in gateways.values()) == 160, timeout=20, what="every span")
        assert not set(more) & set(landed(gateways[hosts[0]].data / "traces.jsonl"))
        for host in hosts[1:]:
            got = set(landed(gateways[host].data / "traces.jsonl")) & set(more)
            assert got == {tid for tid in more if ring.endpoint_for(tid) == f"{host}:{port}"}
    finally:
        api.stop()


def test_requests_queued_for_a_removed_gateway_go_to_the_new_owner(daemon_factory: Any, dns: DNSServer) -> None:
    """A gateway hangs (SIGSTOP) with requests waiting in its queue, then leaves the DNS answer: the waiting
    requests are routed to their new owner at once, the one in flight fails over after its retries, and the
    hung gateway is killed without anything acknowledged being lost (contrib issues #35378, #36717)."""
    import signal as signals

    port = free_port()
    hosts = ["127.0.0.2", "127.0.0.3"]
    gateways = {h: gateway(daemon_factory, f"{h}:{port}") for h in hosts}
    dns.addresses = list(hosts)
    resolver = f'{{{{dns: {{{{hostname: gateways.test, port: "{port}", interval: 200ms, timeout: 500ms}}}}}}}}'
    config = AGENT.replace("RESOLVER", resolver).replace("timeout: 10s", "timeout: 3s\n        sending_queue: {{num_consumers: 1}}")
    lb = daemon_factory(config, env={"LLM_COLLECTOR_DNS_SERVER": f"127.0.0.1:{dns.port}"})
    wait_for(lambda: lb.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 2, timeout=10, what="two backends")
    hung = gateways[hosts[1]]
    assert hung.proc is not None
    hung.proc.send_signal(signals.SIGSTOP)
    rng = random.Random(5)
    sent: dict[bytes, int] = {}
    for _ in range(4):
        batch = {rng.randbytes(16): 2 for _ in range(20)}
        send(lb.grpc_endpoint, batch, parts=1, rng=rng)
        sent.update(batch)
    dns.addresses = hosts[:1]
    wait_for(lambda: lb.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 1, timeout=10, what="one backend")
    hung.proc.send_signal(signals.SIGKILL)
    hung.proc.wait()
    live = gateways[hosts[0]]
    wait_for(lambda: sum(landed(live.data / "traces.jsonl").values()) >= sum(sent.values()), timeout=30, what="every acknowledged span at the live gateway")
    assert landed(live.data / "traces.jsonl") == sent
    assert lb.metric("llm_collector_loadbalancer_rerouted_spans") > 0


def test_logs_by_trace_id_and_metrics_by_service(daemon_factory: Any) -> None:
    """log_exporter.go routes each log record by its trace id; metrics_exporter.go routes metrics by the
    resource's service.name by default. The same trace id lands where its spans would."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    endpoints = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    gateway_config = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "GRPC_ENDPOINT"}}
exporters:
  file/logs: {{path: "{data}/logs.jsonl", flush_interval: 50ms}}
  file/metrics: {{path: "{data}/metrics.jsonl", flush_interval: 50ms}}
""", """
logs: {{receivers: [otlp], exporters: [file/logs]}}
metrics: {{receivers: [otlp], exporters: [file/metrics]}}
""")
    gateways = {e: daemon_factory(gateway_config.replace("GRPC_ENDPOINT", e)) for e in endpoints}
    hostnames = ", ".join(f'"{e}"' for e in endpoints)
    agent_config = AGENT.replace("RESOLVER", f"{{{{static: {{{{hostnames: [{hostnames}]}}}}}}}}").replace(
        "traces: {{receivers: [otlp], exporters: [load_balancing]}}",
        "logs: {{receivers: [otlp], exporters: [load_balancing]}}\n    metrics: {{receivers: [otlp], exporters: [load_balancing]}}")
    lb = daemon_factory(agent_config)
    rng = random.Random(6)
    trace_ids = [rng.randbytes(16) for _ in range(30)]
    logs = ExportLogsServiceRequest()
    scope = logs.resource_logs.add().scope_logs.add()
    for tid in trace_ids:
        scope.log_records.add(trace_id=tid, body={"string_value": tid.hex()})
    metrics = ExportMetricsServiceRequest()
    services = [f"svc-{i}" for i in range(8)]
    for name in services:
        rm = metrics.resource_metrics.add()
        rm.resource.attributes.append(kv("service.name", name))
        rm.scope_metrics.add().metrics.add(name="requests").gauge.data_points.add(as_int=1)
    with grpc.insecure_channel(lb.grpc_endpoint) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")(logs.SerializeToString(), timeout=10)
        channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")(metrics.SerializeToString(), timeout=10)

    def read(path: Path) -> list[Any]:
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()] if path.exists() else []

    def records(g: Any) -> set[bytes]:
        return {bytes.fromhex(r["traceId"]) for doc in read(g.data / "logs.jsonl") for rl in doc["resourceLogs"] for sl in rl["scopeLogs"] for r in sl["logRecords"]}

    def service_names(g: Any) -> set[str]:
        return {a["value"]["stringValue"] for doc in read(g.data / "metrics.jsonl") for rm in doc["resourceMetrics"] for a in rm["resource"]["attributes"] if a["key"] == "service.name"}

    wait_for(lambda: sum(len(records(g)) for g in gateways.values()) == 30 and sum(len(service_names(g)) for g in gateways.values()) == 8, timeout=20, what="every log record and metric")
    ring = HashRing(sorted(endpoints))
    for endpoint, g in gateways.items():
        assert records(g) == {tid for tid in trace_ids if ring.endpoint_for(tid) == endpoint}
        assert service_names(g) == {s for s in services if ring.endpoint_for(s.encode()) == endpoint}


def test_persistent_queue_per_backend_survives_kill_9(daemon_factory: Any) -> None:
    """`protocol.otlp.sending_queue.storage`: each backend's queue is a write-ahead log of its own; spans the
    agent acknowledged while their gateway was down survive `kill -9` of the agent and reach the gateway once
    both are back."""
    import signal as signals

    endpoint = f"127.0.0.1:{free_port()}"
    g = gateway(daemon_factory, endpoint, start=False)
    config = AGENT.replace("RESOLVER", f'{{{{static: {{{{hostnames: ["{endpoint}"]}}}}}}}}').replace(
        "max_elapsed_time: 2s}}", "max_elapsed_time: 0s}}\n        sending_queue: {{storage: file_storage/q}}").replace(
        "extensions:\n", "extensions:\n  file_storage/q: {{directory: \"{data}/queue\", create_directory: true}}\n", 1).replace(
        "  extensions: [health_check]", "  extensions: [health_check, file_storage/q]")
    lb = daemon_factory(config)
    rng = random.Random(7)
    traces = {rng.randbytes(16): 2 for _ in range(20)}
    send(lb.grpc_endpoint, traces, parts=2, rng=rng)
    assert lb.proc is not None
    lb.proc.send_signal(signals.SIGKILL)
    lb.proc.wait()
    g.start()
    lb.start()
    wait_for(lambda: sum(landed(g.data / "traces.jsonl").values()) >= 40, timeout=30, what="the spans queued before kill -9")
    assert landed(g.data / "traces.jsonl") == traces
