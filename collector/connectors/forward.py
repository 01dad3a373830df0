"""The forward connector (otelcol's connector/forwardconnector): hands what one pipeline exports, unchanged, to
the pipelines of the same signal that list it as a receiver — to join pipelines, or to fan one out to several
that process it differently."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..component import Capabilities, Connector, Rejected, Signal
from ..envelope import Envelope
from ..registry import register


@dataclass
class ForwardConfig:
    pass


@register
class ForwardConnector(Connector):
    type_name = "forward"
    description = "Passes data from the pipelines exporting to it to the pipelines of the same signal receiving from it (otelcol's forward connector)."
    config_class = ForwardConfig
    pairs = frozenset((s, s) for s in Signal)

    def __init__(self, settings: Any, config: ForwardConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        # What it hands on is the caller's data: it mutates exactly when what it feeds does.
        self.capabilities = Capabilities(mutates_data=next_consumer.capabilities.mutates_data)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        return await self.next.consume(envelope)
