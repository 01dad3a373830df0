"""resource processor: otelcol-contrib's (processor/resourceprocessor). Applies the actions under
`attributes` (collector/processors/attraction.py) to the resource attributes of every resource in traces,
logs and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import pdata
from ..client import client_metadata
from ..component import Capabilities, Processor, Rejected
from ..config import Invalid, option
from ..envelope import Envelope
from ..registry import register
from .attraction import ActionConfig, AttrProc
from .attributes import context_warnings


@dataclass
class ResourceConfig:
    attributes: list[ActionConfig] = option(factory=list, doc="The actions, applied in order to each resource's attributes (the attributes processor's actions).")

    def validate(self) -> None:
        if not self.attributes:
            raise Invalid('missing required field "attributes"')


@register
class ResourceProcessor(Processor):
    type_name = "resource"
    description = "Inserts, updates, upserts, deletes, hashes, extracts or converts resource attributes (otelcol's actions)."
    config_class = ResourceConfig
    capabilities = Capabilities(mutates_data=True)

    @classmethod
    def ineffective_keys(cls, config: ResourceConfig) -> list[tuple[str, str]]:
        return context_warnings(config.attributes, "attributes")

    def __init__(self, settings: Any, config: ResourceConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.actions = AttrProc(config.attributes)
        self.resources_field = pdata.FIELDS[self.signal][0]

    async def consume(self, envelope: Envelope) -> Rejected | None:
        metadata = client_metadata.get()
        for entry in getattr(envelope.request, self.resources_field):
            self.actions.process(entry.resource.attributes, metadata)
        return await self.next.consume(envelope)
