"""Builds the pipeline graph from config, starts it in dependency order and drains it on shutdown.

Concurrency model: one asyncio event loop runs everything (grpc.aio, aiohttp, every component).
A receiver awaits the whole pipeline before it answers the client, so an acknowledged request has
reached every exporter; exporters that buffer flush on shutdown. Each request travels in an `Envelope`
(collector/envelope.py), handed from consumer to consumer through `consume` and nowhere else.
"""

from __future__ import annotations

import asyncio
import collections
import time
from enum import StrEnum
from typing import Any

from .admission import Admission
from .component import (
    Capabilities,
    Component,
    ComponentID,
    Connector,
    ConsumeError,
    Consumer,
    Extension,
    Kind,
    PermanentError,
    PipelineView,
    Rejected,
    RetryableError,
    ServiceView,
    Settings,
    Signal,
)
from .config import Config
from .config.graph import Instance, instances
from .envelope import Envelope
from .selfmetrics import SelfMetrics
from .telemetry import Telemetry, component_logger


class StartupError(Exception):
    pass


class FanOut:
    """Hands one request to several consumers. Consumers that mutate get their own copy, so neither
    another branch's changes nor a slow branch still holding the data can affect what others see.

    What it acknowledges: a request succeeds only when every branch took it (as otelcol's fanoutconsumer,
    which joins the branches' errors). When some branches took it and another failed retryably, the client
    is told to retry, and the retry must not be written twice by the branches that already took it: the
    fan-out remembers, by the request's digest, which branches did (up to RETRY_MEMORY requests, for
    RETRY_TTL seconds), and hands the retry only to the others. Nothing is digested while no partial failure
    is outstanding, so the common path costs nothing. A retry that differs from the first attempt (a client
    that re-batches) cannot be recognised and may still duplicate."""

    RETRY_MEMORY = 4096
    RETRY_TTL = 600.0  # beyond the OTel SDKs' retry windows (~64 s of backoff)

    def __init__(self, consumers: list[Consumer], skipped: Any = None):
        self.consumers = consumers
        self.capabilities = Capabilities(mutates_data=False)
        self._skipped = skipped  # counter of items not handed again to a branch that had taken them
        self._took: collections.OrderedDict[bytes, tuple[float, frozenset[int]]] = collections.OrderedDict()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        took: frozenset[int] = frozenset()
        digest = None
        if self._took:
            digest = envelope.digest()
            now = time.monotonic()
            entry = self._took.pop(digest, None)
            if entry is not None and now - entry[0] < self.RETRY_TTL:
                took = entry[1]
                if self._skipped is not None:
                    self._skipped.inc(envelope.items * len(took))
            while self._took and now - next(iter(self._took.values()))[0] >= self.RETRY_TTL:
                self._took.popitem(last=False)
        branches = [i for i in range(len(self.consumers)) if i not in took]
        calls = [self._consume(self.consumers[i], envelope) for i in branches]
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            error = combine_errors(errors)
            if isinstance(error, RetryableError):
                now_took = took | {i for i, r in zip(branches, results, strict=True) if not isinstance(r, BaseException)}
                if now_took:
                    self._took[digest or envelope.digest()] = (time.monotonic(), now_took)
                    while len(self._took) > self.RETRY_MEMORY:
                        self._took.popitem(last=False)
            raise error
        return Rejected.combine([r for r in results if not isinstance(r, BaseException)])

    @staticmethod
    def _consume(consumer: Consumer, envelope: Envelope) -> Any:
        return consumer.consume(envelope.copy() if consumer.capabilities.mutates_data else envelope)


def combine_errors(errors: list[BaseException]) -> BaseException:
    unexpected = [e for e in errors if not isinstance(e, ConsumeError)]
    if unexpected:
        return unexpected[0]
    message = "; ".join(dict.fromkeys(str(e) for e in errors))
    if all(isinstance(e, PermanentError) for e in errors):
        return PermanentError(message)
    delays = [e.retry_after for e in errors if isinstance(e, ConsumeError) and e.retry_after]
    return RetryableError(message, retry_after=max(delays) if delays else None)


class _PipelineEntry:
    """The head of one pipeline, advertising whether anything inside it mutates the data."""

    def __init__(self, first: Consumer, mutates: bool):
        self.first = first
        self.capabilities = Capabilities(mutates_data=mutates)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        return await self.first.consume(envelope)


class _Counted:
    """Counts items passing one edge of a pipeline: into a processor (incoming) or out of it
    (outgoing, including data a processor emits later on its own, like a batch flush)."""

    def __init__(self, consumer: Consumer, counter: Any, capabilities: Capabilities):
        self._consumer = consumer
        self.counter = counter
        self.capabilities = capabilities

    async def consume(self, envelope: Envelope) -> Rejected | None:
        self.counter.inc(envelope.items)
        return await self._consumer.consume(envelope)


def component_settings(kind: Kind, id: ComponentID, telemetry: Telemetry, pipeline: str = "", signal: Signal | None = None) -> Settings:
    log = component_logger(id, kind)
    if pipeline:
        log = log.bind(pipeline=pipeline)
    return Settings(id=id, kind=kind, log=log, telemetry=telemetry, pipeline=pipeline, signal=signal)


def chain_processors(processors: list[tuple[ComponentID, type, Any]], downstream: Consumer, *, pipeline: str, signal: Signal,
                     telemetry: Telemetry, construct: Any = None, exporters_mutate: bool | None = None) -> tuple[Consumer, list[Any]]:
    """Chains one pipeline's processors, given as (id, class, decoded config) in pipeline order, in front of
    `downstream`, each between the edges that count otelcol's processor incoming/outgoing items. Returns the
    pipeline's entry (advertising whether anything in it mutates data) and the processors in order. The
    service builds every pipeline with it, and collector/testing.py every chain built outside a daemon."""
    construct = construct or (lambda kind, id, make: make())
    head = downstream
    mutates = downstream.capabilities.mutates_data if exporters_mutate is None else exporters_mutate
    chain: list[Any] = []
    for id, cls, config in reversed(processors):
        counters = telemetry.processor_counters(id, signal)
        outgoing = _Counted(head, counters.outgoing, head.capabilities)
        settings = component_settings(Kind.PROCESSOR, id, telemetry, pipeline, signal)
        processor = construct(Kind.PROCESSOR, id, lambda cls=cls, s=settings, c=config, d=outgoing: cls(s, c, d))
        mutates = mutates or processor.capabilities.mutates_data
        chain.insert(0, processor)
        head = _Counted(processor, counters.incoming, processor.capabilities)
    return _PipelineEntry(head, mutates), chain


def fan_out(consumers: list[Consumer], telemetry: Telemetry | None = None, where: str = "") -> Consumer:
    """`consumers` as one: itself when alone, else a FanOut. `where` labels its metric: the pipeline whose
    exporters it feeds, or the receiver whose pipelines."""
    if len(consumers) == 1:
        return consumers[0]
    skipped = None
    if telemetry is not None:
        skipped = telemetry.counter(
            "llm_collector_fanout_retry_skipped_items",
            "Items of a retried request not handed again to a branch that had already taken them (see FanOut).",
            ("fanout",),
        ).labels(where)
    return FanOut(consumers, skipped)


class Switch:
    """What a receiver hands its requests to: the pipelines of its signal, replaceable while it runs, so a
    config reload (collector/reload.py) re-points a receiver whose config is unchanged at the new pipelines
    without stopping it. It counts the requests in flight per target, so the old pipelines can be drained
    before they stop."""

    def __init__(self, target: Consumer):
        self.target = target
        self._in_flight: dict[int, int] = {}

    @property
    def capabilities(self) -> Capabilities:
        return self.target.capabilities

    async def consume(self, envelope: Envelope) -> Rejected | None:
        target = self.target
        key = id(target)
        counts = self._in_flight
        counts[key] = counts.get(key, 0) + 1
        try:
            return await target.consume(envelope)
        finally:
            left = counts[key] - 1
            if left:
                counts[key] = left
            else:
                del counts[key]

    def in_flight(self, target: Consumer) -> int:
        return self._in_flight.get(id(target), 0)


class State(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


class Service:
    def __init__(self, config: Config, telemetry: Telemetry | None = None, reuse: Service | None = None):
        """`reuse`: a running service whose receivers and exporters are taken over where their config is the
        same (a reload, collector/reload.py), instead of building new ones."""
        self.config = config
        self._reuse = reuse
        self.telemetry = telemetry or Telemetry()
        self.log = component_logger("service", "service")
        self.state = State.STARTING
        self.started_at = time.time()
        self.extensions: dict[ComponentID, Extension] = {}
        self.exporters: dict[ComponentID, Component] = {}
        self.processors: dict[str, list[Component]] = {}
        self.receivers: dict[ComponentID, Component] = {}
        self.connectors: dict[Instance, Connector] = {}  # one per (id, signal taken, signal emitted)
        self.switches: dict[ComponentID, dict[Signal, Switch]] = {}  # each receiver's consumers, by signal
        self._feeds: dict[Instance, list[str]] = {}
        self._order: list[Component] = []  # processors and connectors, each after everything it hands data to
        self.pipeline_entries: dict[str, Consumer] = {}  # by pipeline name; `replay` feeds these directly
        self.admission = Admission()  # memory reserved by requests in flight; memory_limiters gate it
        self._started: list[Component] = []
        # A reload keeps service.telemetry (collector/reload.py), and with it the running self-metrics.
        self.self_metrics: SelfMetrics = reuse.self_metrics if reuse is not None else SelfMetrics(config.service.telemetry, self.telemetry)
        self.reloader: Any = None  # set by the daemon (cli.py): a collector.reload.Reloader
        self._build()

    # Host protocol ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state is State.READY

    @property
    def draining(self) -> bool:
        return self.state is State.DRAINING

    @property
    def shutdown_grace(self) -> float:
        # Receivers get half the budget for in-flight requests; the rest is for draining and flushing.
        return float(self.config.service.shutdown_timeout) / 2

    async def reload(self, trigger: str) -> list[str]:
        if self.reloader is None:
            return ["this process does not reload its configuration"]
        problems: list[str] = await self.reloader.reload(trigger)
        return problems

    def extension(self, id: ComponentID) -> Extension:
        return self.extensions[id]

    def describe(self) -> ServiceView:
        cfg = self.config
        pipelines = tuple(
            PipelineView(name, p.signal, tuple(p.receivers), tuple(p.processors), tuple(p.exporters), self.pipeline_entries[name].capabilities.mutates_data)
            for name, p in cfg.pipelines.items()
        )
        components = {kind: tuple(table) for kind, table in cfg.components.items()}
        instance_id = str(self.self_metrics.resource.get("service.instance.id") or "")
        return ServiceView(self.started_at, tuple(cfg.sources), components, pipelines, tuple(self.extensions), instance_id)

    # Graph -----------------------------------------------------------------------------------
    def _settings(self, kind: Kind, id: ComponentID, pipeline: str = "", signal: Signal | None = None) -> Settings:
        return component_settings(kind, id, self.telemetry, pipeline, signal)

    def _build(self) -> None:
        try:
            self._build_graph()
        except StartupError:
            raise
        except Exception as exc:
            raise StartupError(f"cannot build the pipelines: {exc}") from exc

    def _construct(self, kind: Kind, id: ComponentID, make: Any) -> Any:
        try:
            return make()
        except Exception as exc:
            component_logger(id, kind).error("failed to create", error=str(exc), exc_info=not isinstance(exc, OSError))
            raise StartupError(f"{kind} {id}: {exc}") from exc

    def _build_graph(self) -> None:
        cfg = self.config
        for id in cfg.extensions:
            c = cfg.component(Kind.EXTENSION, id)
            if self._reuse is not None and id in self._reuse.extensions:
                self.extensions[id] = self._reuse.extensions[id]  # a reload runs only with the extensions unchanged
                continue
            self.extensions[id] = self._construct(Kind.EXTENSION, id, lambda c=c, id=id: c.cls(self._settings(Kind.EXTENSION, id), c.config))
        self._feeds = instances(cfg.pipelines, cfg.components[Kind.CONNECTOR])
        for name in cfg.pipelines:
            self._pipeline(name)
        entries: dict[ComponentID, dict[Signal, list[Consumer]]] = {}
        for name, pipeline in cfg.pipelines.items():
            for id in pipeline.receivers:
                if id not in cfg.components[Kind.CONNECTOR]:
                    entries.setdefault(id, {}).setdefault(pipeline.signal, []).append(self.pipeline_entries[name])

        for id, by_signal in entries.items():
            c = cfg.component(Kind.RECEIVER, id)
            consumers = {signal: Switch(fan_out(list(heads), self.telemetry, f"receiver/{id}")) for signal, heads in by_signal.items()}
            self.switches[id] = consumers
            kept = self._reusable(Kind.RECEIVER, id, set(consumers))
            if kept is not None:
                self.receivers[id] = kept
                continue
            self.receivers[id] = self._construct(Kind.RECEIVER, id, lambda c=c, id=id, k=dict(consumers): c.cls(self._settings(Kind.RECEIVER, id), c.config, k))

        used = {*self.extensions, *self.exporters, *self.receivers, *(i.id for i in self.connectors),
                *(p.id for chain in self.processors.values() for p in chain)}
        for kind, table in cfg.components.items():
            for id in table:
                if id not in used:
                    self.log.warning("component is configured but not used by any pipeline", unused=str(id), unused_kind=str(kind))

    def _reusable(self, kind: Kind, id: ComponentID, signals: set[Signal] | None = None) -> Any:
        """The running `reuse` service's receiver or exporter `id` when its type and config are unchanged
        (and, for a receiver, the signals it takes), else None."""
        old = self._reuse
        if old is None:
            return None
        running = (old.receivers if kind is Kind.RECEIVER else old.exporters).get(id)
        if running is None or old.config.components[kind].get(id) != self.config.components[kind].get(id):
            return None
        if signals is not None and set(old.switches.get(id, {})) != signals:
            return None
        return running

    def _pipeline(self, name: str) -> Consumer:
        """The entry of pipeline `name`, built with what it exports to first (the connectors it feeds and the
        pipelines they feed), so components come out downstream first; `_order` records that order."""
        entry = self.pipeline_entries.get(name)
        if entry is not None:
            return entry
        cfg = self.config
        pipeline = cfg.pipelines[name]
        exporters: list[Consumer] = []
        for id in pipeline.exporters:
            if id in cfg.components[Kind.CONNECTOR]:
                exporters += [self._connector(i) for i in self._feeds if i.id == id and i.takes is pipeline.signal]
                continue
            if id not in self.exporters:
                c = cfg.component(Kind.EXPORTER, id)
                kept = self._reusable(Kind.EXPORTER, id)
                if kept is not None:
                    self.exporters[id] = kept
                    exporters.append(kept)
                    continue
                self.exporters[id] = self._construct(Kind.EXPORTER, id, lambda c=c, id=id: c.cls(self._settings(Kind.EXPORTER, id), c.config))
            exporters.append(self.exporters[id])  # type: ignore[arg-type]
        head: Consumer = fan_out(exporters, self.telemetry, f"pipeline/{name}")
        specs = [(id, cfg.component(Kind.PROCESSOR, id).cls, cfg.component(Kind.PROCESSOR, id).config) for id in pipeline.processors]
        entry, chain = chain_processors(specs, head, pipeline=name, signal=pipeline.signal, telemetry=self.telemetry, construct=self._construct,
                                        exporters_mutate=any(e.capabilities.mutates_data for e in exporters))
        self.processors[name] = chain
        self.pipeline_entries[name] = entry
        self._order.extend(reversed(chain))
        return entry

    def _connector(self, instance: Instance) -> Connector:
        """The one instance of a connector for its (signal taken, signal emitted) pair, feeding its pipelines."""
        built = self.connectors.get(instance)
        if built is not None:
            return built
        heads = {name: self._pipeline(name) for name in self._feeds[instance]}
        c = self.config.component(Kind.CONNECTOR, instance.id)
        settings = self._settings(Kind.CONNECTOR, instance.id, signal=instance.takes)
        settings.out_signal = instance.emits
        settings.log = settings.log.bind(takes=str(instance.takes), emits=str(instance.emits))
        next_consumer = fan_out(list(heads.values()), self.telemetry, f"connector/{instance.id}/{instance.takes}-{instance.emits}")
        cls: type[Connector] = c.cls  # type: ignore[assignment]
        built = self._construct(Kind.CONNECTOR, instance.id, lambda: cls(settings, c.config, heads, next_consumer))
        self.connectors[instance] = built
        self._order.append(built)
        return built

    # Lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.log.info("starting", sources=self.config.sources, pipelines=list(self.config.pipelines))
        self._warn_deprecated_types()
        for key, why in self.config.service.telemetry.ignored_keys():
            self.log.warning("config key has no effect", key=f"service.telemetry.{key}", reason=why)
        for kind, table in self.config.components.items():
            for id, spec in table.items():
                for key, why in spec.cls.ineffective_keys(spec.config):
                    self.log.warning("config key has no effect", key=f"{kind.section}.{id}.{key}", reason=why)
        await self.self_metrics.start(self)
        order: list[Component] = [*self.extensions.values(), *self.exporters.values(), *self._order, *self.receivers.values()]
        for component in order:
            try:
                await component.start(self)
            except Exception as exc:
                component.log.error("failed to start", error=str(exc), exc_info=not isinstance(exc, (OSError, StartupError)))
                await self._stop_started()
                raise StartupError(f"{component.kind} {component.id}: {exc}") from exc
            self._started.append(component)
        self.state = State.READY
        self.log.info("everything is ready; begin processing data", startup_seconds=round(time.time() - self.started_at, 3))

    def _warn_deprecated_types(self) -> None:
        """One warning per older type spelling the config uses, in otelcol's words."""
        used: dict[tuple[str, str], list[str]] = {}
        for table in self.config.components.values():
            for id, component in table.items():
                if id.type != component.cls.type_name:
                    used.setdefault((id.type, component.cls.type_name), []).append(str(id))
        for (older, current), ids in used.items():
            self.log.warning(f'"{older}" alias is deprecated; use "{current}" instead', components=ids)

    async def shutdown(self) -> bool:
        """Stop accepting, drain, flush. Returns False if it did not finish within shutdown_timeout."""
        if self.state is State.STOPPED:
            return True
        self.state = State.DRAINING
        timeout = float(self.config.service.shutdown_timeout)
        self.log.info("shutdown requested; draining", shutdown_timeout_seconds=timeout)
        try:
            await asyncio.wait_for(self._stop_started(), timeout)
        except TimeoutError:
            pending = [str(c.id) for c in self._started]
            self.log.error("shutdown did not finish within shutdown_timeout", still_running=pending)
            await self._flush_exporters_after_timeout()
            return False
        finally:
            await self.self_metrics.stop()
            self.state = State.STOPPED
        self.log.info("shutdown complete")
        return True

    async def _stop_started(self) -> None:
        # Receivers first so nothing new arrives, then processors and connectors upstream first so data
        # they flush still has running consumers downstream, then exporters, then extensions. Exporters
        # drain their queues at the same time: one dead backend must not use up the others' drain budget.
        for component in (*self.receivers.values(), *reversed(self._order)):
            await self._stop(component)
        await asyncio.gather(*(self._stop(e) for e in self.exporters.values()))
        for component in self.extensions.values():
            await self._stop(component)

    async def _stop(self, component: Component) -> None:
        if component not in self._started:
            return
        try:
            await component.shutdown()
        except Exception as exc:
            component.log.error("error during shutdown", error=str(exc), exc_info=True)
        self._started.remove(component)

    async def _flush_exporters_after_timeout(self) -> None:
        # Something upstream hung, but what exporters already accepted was acknowledged to clients:
        # give each a short, bounded chance to flush rather than lose its buffer.
        for exporter in [c for c in self._started if c.kind is Kind.EXPORTER]:
            try:
                await asyncio.wait_for(exporter.shutdown(), 1.0)
                self._started.remove(exporter)
            except Exception as exc:
                exporter.log.error("could not flush after shutdown timeout", error=repr(exc))
