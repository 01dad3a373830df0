"""The component model: what every receiver, processor, exporter and extension is.

Modelled on the OTel Collector: a component type has a name, a typed config dataclass with defaults,
the signals it supports and a class that starts, consumes and shuts down. Data travels as the OTLP
protobuf request messages (`ExportTraceServiceRequest`, ...) so nothing on the hot path builds
per-span Python objects; each request travels in an `Envelope` (collector/envelope.py) with what the
components before have derived from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import structlog

    from .admission import Admission
    from .envelope import Envelope
    from .telemetry import Telemetry


class Signal(StrEnum):
    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


ALL_SIGNALS = frozenset(Signal)


class Kind(StrEnum):
    RECEIVER = "receiver"
    PROCESSOR = "processor"
    EXPORTER = "exporter"
    EXTENSION = "extension"
    CONNECTOR = "connector"

    @property
    def section(self) -> str:
        return self.value + "s"


_TYPE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
_NAME = re.compile(r"^[^\s/]+$")


@dataclass(frozen=True, order=True)
class ComponentID:
    type: str
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> ComponentID:
        type_, sep, name = str(text).partition("/")
        if not _TYPE.match(type_) or (sep and not _NAME.match(name)):
            raise ValueError(f'invalid component id "{text}" (expected "type" or "type/name", type matching [a-zA-Z][a-zA-Z0-9_]*)')
        return cls(type_, name)

    def __str__(self) -> str:
        return f"{self.type}/{self.name}" if self.name else self.type


@dataclass(frozen=True)
class Capabilities:
    mutates_data: bool = False
    """Changes the request in place, so a fan-out must give it its own copy (otelcol's MutatesData). Only
    that: what the envelope carries stays current whatever a component declares here."""


class Rejected:
    """Part of a request was refused on purpose (the rest went through): becomes OTLP partial_success."""

    __slots__ = ("count", "message")

    def __init__(self, count: int, message: str):
        self.count = count
        self.message = message

    @staticmethod
    def combine(results: list[Rejected | None]) -> Rejected | None:
        found = [r for r in results if r is not None and r.count]
        if not found:
            return None
        return Rejected(sum(r.count for r in found), "; ".join(dict.fromkeys(r.message for r in found)))


class ConsumeError(Exception):
    """A consumer could not take the data. `retryable` tells the client whether to send it again."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RetryableError(ConsumeError):
    """Temporary refusal (memory pressure, full queue, backend down): gRPC UNAVAILABLE / HTTP 503."""


class PermanentError(ConsumeError):
    """The data itself is unacceptable and resending it will not help: INVALID_ARGUMENT / 400."""

    retryable = False


class Consumer(Protocol):
    capabilities: Capabilities

    async def consume(self, envelope: Envelope) -> Rejected | None: ...


@dataclass(frozen=True)
class PipelineView:
    """One pipeline as the service built it."""

    name: str
    signal: Signal
    receivers: tuple[ComponentID, ...]
    processors: tuple[ComponentID, ...]
    exporters: tuple[ComponentID, ...]
    mutates_data: bool  # whether anything in it changes the data (otelcol's pipeline capabilities)


@dataclass(frozen=True)
class ServiceView:
    """What the service tells a component about itself (the zpages extension's pages): when it started, the
    config's sources, every component the config defines (by kind, used or not), the pipelines as built, the
    extensions service.extensions enables, in order, and its own service.instance.id (its self-telemetry
    resource's, as otelcol gives components in their settings' resource)."""

    started_at: float  # time.time()
    sources: tuple[str, ...]
    components: dict[Kind, tuple[ComponentID, ...]]
    pipelines: tuple[PipelineView, ...]
    extensions: tuple[ComponentID, ...]
    instance_id: str = ""


class Host(Protocol):
    """What a running component may ask of the service."""

    def extension(self, id: ComponentID) -> Extension: ...

    def describe(self) -> ServiceView:
        """The service's start time, config and graph, for pages that show them."""
        ...

    @property
    def ready(self) -> bool: ...

    @property
    def draining(self) -> bool: ...

    @property
    def shutdown_grace(self) -> float:
        """Seconds a receiver may wait for in-flight requests when stopping."""
        ...

    @property
    def admission(self) -> Admission:
        """Where receivers reserve a request's memory before decoding it (collector/admission.py)."""
        ...

    async def reload(self, trigger: str) -> list[str]:
        """Re-read and swap in the config (collector/reload.py); the problems that kept the old one running."""
        ...


@dataclass
class Settings:
    """Everything a component gets at construction besides its config."""

    id: ComponentID
    kind: Kind
    log: structlog.stdlib.BoundLogger
    telemetry: Telemetry
    pipeline: str = ""
    signal: Signal | None = None
    out_signal: Signal | None = None  # a connector's: the signal of the pipelines it feeds


class Component:
    kind: ClassVar[Kind]
    type_name: ClassVar[str]
    # otelcol's older spellings of the type (a metadata.yaml's deprecated_type): a config may still use
    # them, and start-up logs one warning naming type_name.
    deprecated_type_names: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str]
    config_class: ClassVar[type]
    signals: ClassVar[frozenset[Signal]] = ALL_SIGNALS

    def __init__(self, settings: Settings, config: Any):
        self.settings = settings
        self.id = settings.id
        self.config = config
        self.log = settings.log
        self.telemetry = settings.telemetry

    async def start(self, host: Host) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @classmethod
    def validate_usage(cls, id: ComponentID, config: Any, signals: set[Signal]) -> list[str]:
        """Problems with how the pipelines use this component (e.g. one file shared by two signals)."""
        return []

    @classmethod
    def validate_references(cls, id: ComponentID, config: Any, extensions: dict[ComponentID, Any], enabled: list[ComponentID]) -> list[tuple[tuple[str, ...], str]]:
        """Problems with extensions this component's config names: [(key path under the component, message)].
        `extensions` are the configured ones (id -> ComponentConfig), `enabled` those in service.extensions."""
        return []

    @classmethod
    def ineffective_keys(cls, config: Any) -> list[tuple[str, str]]:
        """otelcol keys written in this config that have no equivalent here: [(key path under the component,
        why)]. Accepted so that otelcol configs load; start-up logs one warning for each."""
        return []

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        """Further sections of this component's part of the config reference (collector/docs.py), after its
        keys: (title, prose, a settings class to tabulate or None)."""
        return []


class Receiver(Component):
    kind = Kind.RECEIVER

    def __init__(self, settings: Settings, config: Any, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config)
        self.consumers = consumers


class Processor(Component):
    """One instance per pipeline (processors are never shared), chained to the next consumer.
    The service counts otelcol_processor_incoming/outgoing_items around it; forward data with
    `await self.next.consume(envelope)`, emit a request of its own in a new `Envelope`."""

    kind = Kind.PROCESSOR
    capabilities = Capabilities(mutates_data=False)

    def __init__(self, settings: Settings, config: Any, next_consumer: Consumer):
        super().__init__(settings, config)
        assert settings.signal is not None
        self.signal: Signal = settings.signal
        self.next = next_consumer

    async def consume(self, envelope: Envelope) -> Rejected | None:
        raise NotImplementedError


class Exporter(Component):
    """One instance per id, shared by every pipeline that lists it. Subclasses implement `export`;
    `consume` keeps otelcol's sent / send_failed counts."""

    kind = Kind.EXPORTER
    capabilities = Capabilities(mutates_data=False)

    def __init__(self, settings: Settings, config: Any):
        super().__init__(settings, config)
        self._counters: dict[Signal, Any] = {}

    async def consume(self, envelope: Envelope) -> Rejected | None:
        signal = envelope.signal
        counters = self._counters.get(signal)
        if counters is None:
            counters = self._counters[signal] = self.telemetry.exporter_counters(self.id, signal)
        items = envelope.items
        try:
            result = await self.export(signal, envelope.request)
        except Exception:
            counters.send_failed.inc(items)
            raise
        rejected = result.count if result is not None else 0
        counters.sent.inc(items - rejected)
        if rejected:
            counters.send_failed.inc(rejected)
        return result

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        raise NotImplementedError


class Connector(Component):
    """An exporter of some pipelines and a receiver of others, maybe of another signal (otelcol's connectors).
    One instance per (id, signal it takes, signal it emits) pair the pipelines use, as otelcol; `pipelines` are
    the heads of the pipelines of `out_signal` that list it as a receiver, by name, and `next` all of them as
    one (a fan-out). A connector answers its caller only once what it handed on was taken, so acknowledgement
    and refusals flow through it as through a processor. `pairs` are the (exporter pipeline signal, receiver
    pipeline signal) pairs the type supports (otelcol's XToYStability)."""

    kind = Kind.CONNECTOR
    pairs: ClassVar[frozenset[tuple[Signal, Signal]]] = frozenset()
    capabilities = Capabilities(mutates_data=False)

    def __init__(self, settings: Settings, config: Any, pipelines: dict[str, Consumer], next_consumer: Consumer):
        super().__init__(settings, config)
        assert settings.signal is not None and settings.out_signal is not None
        self.signal: Signal = settings.signal
        self.out_signal: Signal = settings.out_signal
        self.pipelines = pipelines
        self.next = next_consumer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.signals = frozenset(signal for pair in cls.pairs for signal in pair)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        raise NotImplementedError

    @classmethod
    def validate_pipelines(cls, id: ComponentID, config: Any, feeds: dict[Signal, list[str]]) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems with the pipelines this connector's config names: [(key path under the component, message)].
        `feeds` are, by signal, the pipelines that list it as a receiver."""
        return []


class Extension(Component):
    kind = Kind.EXTENSION
    signals = frozenset()
