"""The gen_ai_normalizer processor: traces only, as contrib's; each scope whose spans it changed gets the
OTel schema URL of the conventions it writes, unless the scope already names one."""

from __future__ import annotations

from typing import Any

from ...component import Capabilities, Processor, Rejected, Signal
from ...envelope import Envelope
from ...registry import register
from .config import GenAINormalizerConfig
from .normalize import normalize_span
from .plan import build_plan
from .semconv import SCHEMA_URL


@register
class GenAINormalizerProcessor(Processor):
    type_name = "gen_ai_normalizer"
    description = ("Rewrites GenAI attributes of OpenInference, OpenLLMetry, LangChain, CrewAI, PydanticAI (contrib's "
                   "genainormalizerprocessor tables), MLflow, Langtrace, Langfuse and Anthropic spans into OTel GenAI names.")
    config_class = GenAINormalizerConfig
    signals = frozenset({Signal.TRACES})
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: GenAINormalizerConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.plan = build_plan(config.sources)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        plan = self.plan
        for rs in envelope.request.resource_spans:
            for ss in rs.scope_spans:
                wrote = False
                for span in ss.spans:
                    if normalize_span(span, plan):
                        wrote = True
                if wrote and not ss.schema_url:
                    ss.schema_url = SCHEMA_URL
        return await self.next.consume(envelope)
