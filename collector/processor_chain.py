"""A chain of processors built outside a running service, for the tools that measure them: the in-process
CPU benchmark (benchmarks/processors_cpu.py) and the load generator's `--processed-by`, which sends
requests as a chain would leave them.

A spec is a processor type name, with its default config (`NAME: {}`), or `NAME=<YAML>`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from . import components  # noqa: F401  (registers the component types)
from .component import ComponentID, Kind, Settings, Signal
from .config.source import Document
from .config.typed import Decoder
from .envelope import Envelope
from .registry import lookup
from .telemetry import Telemetry, component_logger


class ChainError(ValueError):
    """Why the chain cannot be built, or cannot run here."""


class Discard:
    """The end of a chain: keeps nothing."""

    async def consume(self, envelope: Envelope) -> None:
        return None


@dataclass
class Chain:
    head: Any  # what to send data to: the first processor, or `last` for an empty chain
    processors: list[Any]  # started, in pipeline order

    async def shutdown(self) -> None:
        """What the service does on stop: each processor flushes what it holds (tail_sampling's pending traces,
        batch's open batches) into the ones after it, then stops its timers. Without it an event loop that
        closes waits for timer tasks that were never told to stop."""
        for processor in self.processors:
            await processor.shutdown()


async def build_chain(specs: list[str], last: Any = None) -> Chain:
    """The started chain; data goes through the processors in the order given, then to `last`."""
    consumer: Any = last if last is not None else Discard()
    processors: list[Any] = []
    for spec in reversed(specs):
        name, _, text = spec.partition("=")
        name = name.strip()
        cls = lookup(Kind.PROCESSOR, name)
        if cls is None:
            raise ChainError(f"no processor type {name!r}")
        decoder = Decoder(Document({}, {}))
        config = decoder.decode(cls.config_class, yaml.safe_load(text) if text else {}, (name,))
        if decoder.errors:
            raise ChainError(f"{name}: {decoder.errors[0]}")
        id = ComponentID(name)
        settings = Settings(id=id, kind=Kind.PROCESSOR, log=component_logger(id, Kind.PROCESSOR), telemetry=Telemetry(), pipeline="traces", signal=Signal.TRACES)
        processor = cls(settings, config, consumer)
        await processor.start(None)
        processors.insert(0, processor)
        consumer = processor
    return Chain(consumer, processors)
