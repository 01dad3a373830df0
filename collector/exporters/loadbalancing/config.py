"""The `load_balancing` exporter's config: otelcol's keys (contrib exporter/loadbalancingexporter/config.go)
and its validation errors (loadbalancer.go newLoadBalancer, resolver_static.go, resolver_dns.go, resolver_k8s.go)."""

from __future__ import annotations

from dataclasses import dataclass

from ...component import Signal
from ...config import Duration, Invalid, option
from ..otlp import OTLPExporterConfig

DEFAULT_PORT = "4317"
# routing_key values otelcol accepts, per signal (trace_exporter.go, log_exporter.go, metrics_exporter.go).
ROUTING_KEYS: dict[Signal, tuple[str, ...]] = {
    Signal.TRACES: ("traceID", "service"),
    Signal.LOGS: ("traceID",),
    Signal.METRICS: ("service", "resource", "metric", "streamID"),
}


@dataclass
class StaticResolverConfig:
    hostnames: list[str] = option(factory=list, doc="The backends, `host` or `host:port` (port 4317 when absent); their order does not matter (sorted, as otelcol).")

    def validate(self) -> None:
        if not self.hostnames:
            raise Invalid("no endpoints specified for the static resolver", "hostnames")


@dataclass
class DNSResolverConfig:
    hostname: str = option("", "Name whose A/AAAA records are the backends.")
    port: str = option(DEFAULT_PORT, "Port appended to every resolved address.")
    interval: Duration = option(Duration(5.0), "Time between resolutions.")
    timeout: Duration = option(Duration(1.0), "Time limit of one resolution.")

    def validate(self) -> None:
        if not self.hostname:
            raise Invalid("no hostname specified to resolve the backends", "hostname")
        if self.interval <= 0:
            raise Invalid("must be greater than 0", "interval")
        if self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")


@dataclass
class K8sResolverConfig:
    service: str = option("", "`name.namespace` of the Service whose EndpointSlices are the backends (namespace: the pod's own, else `default`).")
    ports: list[int] = option(factory=lambda: [int(DEFAULT_PORT)], doc="Ports of each ready endpoint to send to; each (address, port) is one backend.")
    timeout: Duration = option(Duration(1.0), "Time limit of one request to the Kubernetes API.")
    return_hostnames: bool = option(False, "Use the endpoints' hostnames (a StatefulSet's pods behind a headless Service) instead of their addresses.")

    def validate(self) -> None:
        if not self.service:
            raise Invalid("no service specified to resolve the backends", "service")
        for i, port in enumerate(self.ports):
            if not 0 < port < 65536:
                raise Invalid("must be a port number between 1 and 65535", ("ports", i))
        if self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")

    def name_and_namespace(self, default_namespace: str) -> tuple[str, str]:
        name, _, namespace = self.service.partition(".")
        return name, namespace.split(".")[0] or default_namespace


@dataclass
class ResolverConfig:
    static: StaticResolverConfig | None = option(None, "A fixed list of backends.")
    dns: DNSResolverConfig | None = option(None, "Backends from a DNS name, resolved every `interval`.")
    k8s: K8sResolverConfig | None = option(None, "Backends from a Service's EndpointSlices (list + watch), only the endpoints whose `conditions.ready` is not false.")

    def validate(self) -> None:
        given = [name for name in ("static", "dns", "k8s") if getattr(self, name) is not None]
        if not given:
            raise Invalid("no resolvers specified for the exporter")
        if len(given) > 1:
            raise Invalid("only one resolver should be specified")


@dataclass
class ProtocolConfig:
    otlp: OTLPExporterConfig = option(factory=OTLPExporterConfig, doc="The otlp_grpc exporter's whole config (tls, headers, compression, timeout, sending_queue, retry_on_failure...), used for every backend; `endpoint` is each backend's and is ignored here.")


@dataclass
class LoadBalancingConfig:
    protocol: ProtocolConfig = option(factory=ProtocolConfig, doc="How each backend is sent to: only `otlp`, as otelcol.")
    resolver: ResolverConfig = option(factory=ResolverConfig, doc="Where the list of backends comes from: exactly one of static, dns, k8s.")
    routing_key: str = option("", "What decides the backend: traces `traceID` (default) or `service`; logs `traceID`; metrics `service` (default), `resource`, `metric` or `streamID`.")

    def validate(self) -> None:
        known = {key for keys in ROUTING_KEYS.values() for key in keys}
        if self.routing_key and self.routing_key not in known:
            raise Invalid(f"unsupported routing_key (expected one of {', '.join(sorted(known))})", "routing_key")

    def key_for(self, signal: Signal) -> str:
        """The routing key in force for `signal` (otelcol's defaults: traceID, and service for metrics)."""
        if self.routing_key:
            return self.routing_key
        return "service" if signal == Signal.METRICS else "traceID"
