"""Building and driving components outside a running daemon, the way the daemon builds them.

For the project's tests and benchmarks and for the tools (`loadgen --processed-by`): a processor built here
has its config decoded by the config loader's decoder and is chained by the service's own code, with the
same counting edges, so what a benchmark measures is the path the daemon takes.

- `build_processor`, `build_chain`: one processor, or a started chain of them ending in a consumer;
- `Sink`: a consumer that keeps (or only counts) what it is handed;
- `kv`, `any_value`, `traces_request`, `spans_request`: OTLP messages from Python values;
- `wait_for`, `wait_for_async`: poll a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .component import Capabilities, Component, ComponentID, Consumer, Kind, Processor, Signal
from .config.source import Document
from .config.typed import Decoder
from .envelope import Envelope
from .pdata import set_any
from .registry import lookup
from .telemetry import Telemetry

__all__ = [
    "BuildError", "Chain", "Sink", "any_value", "build_chain", "build_processor", "kv", "spans_request",
    "traces_request", "wait_for", "wait_for_async",
]


class BuildError(ValueError):
    """Why a processor cannot be built: an unknown type or a config the loader refuses."""


# Consumers ------------------------------------------------------------------------------------------


class Sink:
    """The end of a pipeline: keeps the requests it is handed (`keep=False`: only counts their items)."""

    capabilities = Capabilities(mutates_data=False)

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.requests: list[Any] = []
        self.items = 0

    async def consume(self, envelope: Envelope) -> None:
        self.items += envelope.items
        if self.keep:
            self.requests.append(envelope.request)

    @property
    def spans(self) -> list[Span]:
        return [span for request in self.requests for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


# Building ---------------------------------------------------------------------------------------------


def decode_config(type_name: str, value: Any, kind: Kind = Kind.PROCESSOR) -> tuple[type[Component], Any]:
    """The component class and its config decoded from `value` (a mapping, YAML text or None) as the
    config loader decodes a component's block; a config object of the class's own config type is taken as is."""
    cls = lookup(kind, type_name)
    if cls is None:
        raise BuildError(f"no {kind} type {type_name!r}")
    if isinstance(value, cls.config_class):  # already decoded, e.g. taken from a loaded config file
        return cls, value
    if isinstance(value, str):
        value = yaml.safe_load(value)
    decoder = Decoder(Document({}, {}))
    config = decoder.decode(cls.config_class, value or {}, (kind.section, type_name))
    if decoder.errors:
        raise BuildError(f"{type_name}: {decoder.errors[0]}")
    return cls, config


def build_processor(type_name: str, config: Any = None, next: Consumer | None = None, *, name: str = "",
                    signal: Signal = Signal.TRACES, telemetry: Telemetry | None = None) -> Processor:
    """One processor (not started) handing what it forwards to `next` (a fresh `Sink` by default), built
    and wrapped by the service's own code: the consumer it is given counts otelcol's outgoing items."""
    chain = _assemble([(type_name, config, name)], next if next is not None else Sink(), signal, telemetry)
    return chain.processors[0]


def parse_spec(spec: str) -> tuple[str, Any]:
    """`NAME` (its default config) or `NAME=<YAML config>`, as `loadgen --processed-by` takes them."""
    name, _, text = spec.partition("=")
    return name.strip(), (yaml.safe_load(text) if text else None)


@dataclass
class Chain:
    """Processors chained as one pipeline chains them; send data to `head`."""

    head: Consumer
    processors: list[Processor] = field(default_factory=list)
    last: Consumer | None = None

    async def start(self) -> None:
        for processor in reversed(self.processors):
            await processor.start(None)  # type: ignore[arg-type]

    async def consume(self, request: Any) -> Any:
        return await self.head.consume(Envelope.of(request))

    async def shutdown(self) -> None:
        """What the service does on stop: each processor flushes what it holds (tail_sampling's pending
        traces, batch's open batches) into the ones after it, then stops its timers. Without it an event
        loop that closes waits for timer tasks that were never told to stop."""
        for processor in self.processors:
            await processor.shutdown()


async def build_chain(specs: Iterable[str | tuple[str, Any]], last: Consumer | None = None, *,
                      signal: Signal = Signal.TRACES, telemetry: Telemetry | None = None) -> Chain:
    """The started chain: data goes through the processors in the order given, then to `last` (a `Sink`
    that keeps nothing by default). A spec is `NAME`, `NAME=<YAML>` or a `(name, config)` pair."""
    parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
    chain = _assemble([(n, c, "") for n, c in parsed], last if last is not None else Sink(keep=False), signal, telemetry)
    await chain.start()
    return chain


def _assemble(specs: list[tuple[str, Any, str]], last: Consumer, signal: Signal, telemetry: Telemetry | None) -> Chain:
    from .service import chain_processors

    telemetry = telemetry or Telemetry()
    built = []
    for type_name, value, name in specs:
        cls, config = decode_config(type_name, value)
        if signal not in cls.signals:
            raise BuildError(f"processor {type_name!r} does not support {signal}")
        built.append((ComponentID(type_name, name), cls, config))
    head, processors = chain_processors(built, last, pipeline=str(signal), signal=signal, telemetry=telemetry)
    return Chain(head, processors, last)


# Messages ---------------------------------------------------------------------------------------------


def any_value(value: Any) -> AnyValue:
    """An AnyValue from a Python value (bool, int, float, str, bytes, list, dict) or an AnyValue."""
    if isinstance(value, AnyValue):
        return value
    out = AnyValue()
    set_any(out, value, big_int="error", other="error")
    return out


def kv(key: str, value: Any = None) -> KeyValue:
    """A KeyValue; `None` leaves its value unset (as a sender may)."""
    return KeyValue(key=key) if value is None else KeyValue(key=key, value=any_value(value))


def traces_request(*spans: Span, resource: dict[str, Any] | None = None, scope: str = "") -> ExportTraceServiceRequest:
    """One resource (with `resource` attributes) and one scope holding `spans`."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (resource or {}).items():
        rs.resource.attributes.append(kv(key, value))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return request


def spans_request(n: int, trace: int = 1, service: str = "") -> ExportTraceServiceRequest:
    """`n` minimal valid spans of one trace."""
    spans = [Span(trace_id=trace.to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"), name=f"span-{i}") for i in range(n)]
    return traces_request(*spans, resource={"service.name": service} if service else None)


# Waiting -----------------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.02) -> Any:
    """Polls `condition` until it returns something true (which is returned) or raises AssertionError
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def wait_for_async(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.005) -> Any:
    """`wait_for` inside an event loop: sleeps without blocking it."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
