"""The `load_balancing` exporter: each request split by routing key over otelcol's hash ring, one otlp_grpc
exporter (with its own sending_queue and retry_on_failure) per backend.

Beyond otelcol (whose users report data lost on ring changes and for down hosts):
- a backend that leaves the ring hands the requests still waiting in its queue back to the balancer, which
  routes them to their new owners (`llm_collector_loadbalancer_rerouted_*`); what it is sending finishes there;
- a backend whose retries are exhausted hands its request back too: it goes to the next backend on the ring
  from each key's position (`llm_collector_loadbalancer_failover_*`, with the number of routing keys, i.e.
  traces, that thereby reached a backend that is not their owner).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ...component import ComponentID, Exporter, Host, Kind, PermanentError, Rejected, RetryableError, Settings, Signal
from ...envelope import Envelope
from ...pdata import REQUEST_TYPES, count_items
from ...registry import register
from ...telemetry import ITEM
from ...wire import partition
from ..otlp import OTLPExporter
from .config import DEFAULT_PORT, ROUTING_KEYS, LoadBalancingConfig
from .resolvers import DNSResolver, K8sResolver, Resolver, StaticResolver
from .ring import HashRing

LATENCY_BUCKETS_MS = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
# After a backend's retries were exhausted, new data for it goes to the next backend on the ring for this long;
# then it is its owner's again (and fails over again if it is still down).
SKIP_FAILED_SECONDS = 5.0


def endpoint_with_port(endpoint: str) -> str:
    """otelcol's endpointWithPort: `host` gets the default port 4317."""
    return endpoint if ":" in endpoint else f"{endpoint}:{DEFAULT_PORT}"


def service_name(resource: bytes) -> bytes:
    for attribute in Resource.FromString(resource).attributes:
        if attribute.key == "service.name":
            return attribute.value.string_value.encode()
    raise PermanentError("unable to get service name")  # otelcol's error, for the whole request


class _Backend(OTLPExporter):
    """One backend's otlp_grpc exporter. Its sends are timed and counted under otelcol's backend metrics; when
    its retries are exhausted the request goes back to the balancer for the next backend on the ring."""

    def __init__(self, settings: Settings, config: Any, endpoint: str, balancer: LoadBalancingExporter):
        super().__init__(settings, config)
        self.endpoint = endpoint
        self.balancer = balancer

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        started = time.monotonic()
        try:
            result = await super().send(signal, data)
        except BaseException:
            self.balancer.record_outcome(self.endpoint, False, time.monotonic() - started)
            raise
        self.balancer.record_outcome(self.endpoint, True, time.monotonic() - started)
        return result

    async def _attempts(self, signal: Signal, data: Any) -> Rejected | None:
        try:
            result = await super()._attempts(signal, data)
        except RetryableError:
            if await self.balancer.fail_over(self.endpoint, signal, data):
                return None
            raise
        self.balancer.healthy(self.endpoint)
        return result

    def take_waiting(self) -> list[tuple[Signal, Any]]:
        """The requests its memory queue holds and has not started sending, removed from it."""
        queue = self._queue
        take = getattr(queue, "take_waiting", None)
        return [(r.signal, r.data) for r in take()] if take is not None else []


@register
class LoadBalancingExporter(Exporter):
    type_name = "load_balancing"
    deprecated_type_names = ("loadbalancing",)
    description = "Spreads spans (by trace id or service), logs and metrics over backends found by a static list, DNS or Kubernetes EndpointSlices, on otelcol's consistent-hash ring; one otlp_grpc queue per backend, re-routing on ring changes and failover."
    config_class = LoadBalancingConfig
    config: LoadBalancingConfig

    def __init__(self, settings: Any, config: LoadBalancingConfig):
        super().__init__(settings, config)
        self.ring = HashRing([])
        self.backends: dict[str, _Backend] = {}
        self._unhealthy: dict[str, float] = {}  # endpoint -> until when new data skips it
        self._host: Host | None = None
        self._resolver: Resolver | None = None
        self._pending: list[str] | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        label = str(self.id)
        t = self.telemetry
        self._num_backends = t.gauge("otelcol_loadbalancer_num_backends", "Current number of backends in use.", ("resolver",))
        self._resolutions = t.counter("otelcol_loadbalancer_num_resolutions", "Number of times the resolver has triggered new resolutions.", ("resolver", "success"))
        self._outcome = t.counter("otelcol_loadbalancer_backend_outcome", "Number of successes and failures for each endpoint.", ("endpoint", "success"))
        self._latency = t.histogram("otelcol_loadbalancer_backend_latency", "Response latency in ms for the backends.", ("endpoint",), LATENCY_BUCKETS_MS)
        self._split = t.counter("llm_collector_loadbalancer_split_requests", "Requests whose items went to more than one backend (otelcol has no such metric).", ("exporter",)).labels(label)
        self._failover_keys = t.counter("llm_collector_loadbalancer_failover_keys", "Routing keys (traces, with traceID routing) whose data went to a backend other than their owner because the owner failed: traces split by failover.", ("exporter",)).labels(label)
        items = {s: ITEM[s] for s in (Signal.TRACES, Signal.LOGS, Signal.METRICS)}
        self._failover = {s: t.counter(f"llm_collector_loadbalancer_failover_{i}", f"{i.replace('_', ' ').capitalize()} handed to the next backend on the ring after their owner's retries were exhausted.", ("exporter",)).labels(label) for s, i in items.items()}
        self._rerouted = {s: t.counter(f"llm_collector_loadbalancer_rerouted_{i}", f"{i.replace('_', ' ').capitalize()} taken from the queue of a backend that left the ring and routed to their new owner.", ("exporter",)).labels(label) for s, i in items.items()}

    # --- config checks ---------------------------------------------------------------------------

    @classmethod
    def validate_usage(cls, id: ComponentID, config: LoadBalancingConfig, signals: set[Signal]) -> list[str]:
        problems = []
        for signal in sorted(signals):
            key = config.key_for(signal)
            if key not in ROUTING_KEYS[signal]:
                problems.append(f"routing_key {key!r} is not supported for {signal} (expected one of {', '.join(ROUTING_KEYS[signal])})")
        probe = dataclasses.replace(config.protocol.otlp, endpoint="backend:4317")
        problems += [f"protocol.otlp: {p}" for p in OTLPExporter.validate_usage(id, probe, signals)]
        return problems

    @classmethod
    def ineffective_keys(cls, config: LoadBalancingConfig) -> list[tuple[str, str]]:
        return [(f"protocol.otlp.{key}", why) for key, why in OTLPExporter.ineffective_keys(config.protocol.otlp)]

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self._host = host
        resolver = self.config.resolver
        args = (self._on_change, self._record_resolution, self._record_backends, self.log)
        if resolver.static is not None:
            self._resolver = StaticResolver(resolver.static, *args)
        elif resolver.dns is not None:
            self._resolver = DNSResolver(resolver.dns, *args)
        else:
            assert resolver.k8s is not None  # ResolverConfig.validate
            self._resolver = K8sResolver(resolver.k8s, *args)
        await self._resolver.start()
        await self._apply_pending()  # the first list is in use before data flows
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def shutdown(self) -> None:
        if self._resolver is not None:
            await self._resolver.shutdown()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        backends = list(self.backends.values())
        self.backends.clear()
        await asyncio.gather(*(b.shutdown() for b in backends), *self._stopping, return_exceptions=True)

    def _record_resolution(self, resolver: str, success: bool) -> None:
        self._resolutions.labels(resolver, str(success).lower()).inc()

    def _record_backends(self, resolver: str, n: int) -> None:
        self._num_backends.labels(resolver).set(n)

    def record_outcome(self, endpoint: str, success: bool, seconds: float) -> None:
        self._outcome.labels(endpoint, str(success).lower()).inc()
        self._latency.labels(endpoint).observe(seconds * 1000)

    def healthy(self, endpoint: str) -> None:
        self._unhealthy.pop(endpoint, None)

    def _skipped(self) -> set[str]:
        if not self._unhealthy:
            return set()
        now = time.monotonic()
        return {endpoint for endpoint, until in self._unhealthy.items() if until > now}

    # --- ring changes --------------------------------------------------------------------------

    def _on_change(self, endpoints: list[str]) -> None:
        self._pending = endpoints
        self._changed.set()

    async def _follow(self) -> None:
        while True:
            await self._changed.wait()
            try:
                await self._apply_pending()
            except Exception as exc:  # keep following the resolver whatever one change did
                self.log.exception("applying a backend change failed", exporter=str(self.id), error=repr(exc))

    async def _apply_pending(self) -> None:
        async with self._lock:
            self._changed.clear()
            endpoints, self._pending = self._pending, None
            if endpoints is None:
                return
            for endpoint in endpoints:
                if endpoint not in self.backends:
                    backend = await self._new_backend(endpoint)
                    if backend is not None:
                        self.backends[endpoint] = backend
            removed = [self.backends.pop(e) for e in list(self.backends) if e not in endpoints]
            self.ring = HashRing([e for e in endpoints if e in self.backends])
            self.log.info("backends changed", exporter=str(self.id), backends=sorted(self.backends), removed=sorted(b.endpoint for b in removed))
            for backend in removed:
                self._unhealthy.pop(backend.endpoint, None)
                for signal, data in backend.take_waiting():
                    self._rerouted[signal].inc(count_items(signal, data))
                    await self._route(signal, data.SerializeToString())
                task = asyncio.get_running_loop().create_task(backend.shutdown())
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

    async def _new_backend(self, endpoint: str) -> _Backend | None:
        assert self._host is not None
        name = f"{self.id.name}/{endpoint}" if self.id.name else endpoint
        settings = Settings(id=ComponentID(self.id.type, name), kind=Kind.EXPORTER, log=self.log, telemetry=self.telemetry)
        config = dataclasses.replace(self.config.protocol.otlp, endpoint=endpoint_with_port(endpoint))
        backend = _Backend(settings, config, endpoint, self)
        try:
            await backend.start(self._host)
        except Exception as exc:
            self.log.error("failed to start the exporter for a backend", exporter=str(self.id), endpoint=endpoint, error=str(exc))
            return None
        return backend

    # --- data path -------------------------------------------------------------------------------

    async def consume(self, envelope: Envelope) -> Rejected | None:
        payload = envelope.wire()
        if payload is None:
            payload = envelope.request.SerializeToString()
        await self._route(envelope.signal, payload)
        return None

    def _splitter(self, signal: Signal, owner_of: Any) -> Any:
        key = self.config.key_for(signal)
        if signal == Signal.TRACES and key == "traceID":
            return lambda payload: partition.by_item(payload, partition.span_trace_id, owner_of)
        if signal == Signal.LOGS:
            untraced = os.urandom(16)  # otelcol sends log records without a trace id to a random backend

            return lambda payload: partition.by_item(payload, lambda raw: partition.log_trace_id(raw) or untraced, owner_of)
        if key == "service":
            return lambda payload: partition.by_resource(payload, lambda resource: owner_of(service_name(resource)))
        return lambda payload: partition.by_resource(payload, owner_of)  # metrics by resource

    async def _route(self, signal: Signal, payload: bytes) -> None:
        ring = self.ring
        if not len(ring):
            raise RetryableError(f"exporter {self.id}: no backends yet")
        skipped = self._skipped()
        diverted = 0

        def owner_of(key: bytes) -> str:
            nonlocal diverted
            owner = ring.endpoint_for(key)
            if owner in skipped:
                diverted += 1
                return next(iter(ring.successors(key, skipped)), owner)
            return owner

        parts = self._splitter(signal, owner_of)(payload)
        if len(parts) > 1:
            self._split.inc()
        if diverted:
            self._failover_keys.inc(diverted)
        await self._hand_over(signal, parts)

    async def _hand_over(self, signal: Signal, parts: dict[str, bytes]) -> None:
        request_type = REQUEST_TYPES[signal]
        for endpoint, part in parts.items():
            backend = self.backends.get(endpoint)
            if backend is None:  # left the ring while this request was split: route its part again
                await self._route(signal, part)
                continue
            await backend.export(signal, request_type.FromString(part))

    async def fail_over(self, failed: str, signal: Signal, data: Any) -> bool:
        """`data` could not be delivered to `failed`: hand it to the next backend on the ring for each key.
        False when no other backend is left (the caller drops and counts it)."""
        self._unhealthy[failed] = time.monotonic() + SKIP_FAILED_SECONDS
        ring = self.ring
        excluded = self._skipped() | {failed}
        keys = 0

        def next_owner(key: bytes) -> str:
            nonlocal keys
            keys += 1
            return next(iter(ring.successors(key, excluded)), "")

        try:
            parts = self._splitter(signal, next_owner)(data.SerializeToString())
        except PermanentError:
            return False
        if "" in parts or not parts:
            return False
        self._failover[signal].inc(count_items(signal, data))
        self._failover_keys.inc(keys)
        self.log.warning("backend failed; its data goes to the next backends on the ring", exporter=str(self.id), endpoint=failed, to=sorted(parts), keys=keys)
        try:
            await self._hand_over(signal, parts)
        except (RetryableError, PermanentError) as exc:
            self.log.error("failover could not queue the data", exporter=str(self.id), error=str(exc))
            return False
        return True
