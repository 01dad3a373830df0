"""The gen_ai_normalizer processor: traces only, as contrib's; each scope whose spans it changed gets the
OTel schema URL of the conventions it writes, unless the scope already names one.

With the request's wire bytes (from the receiver), the C walk of the GenAI view (collector/wire/slots.py)
finds the spans carrying a key some source acts on without building a Python object per attribute; a
request where none does passes on untouched, its wire bytes and views kept for the processors behind, and
a changed one is passed on with its new encoding, which they read in C too."""

from __future__ import annotations

from typing import Any

from ...component import Capabilities, Processor, Rejected, Signal
from ...envelope import Envelope
from ...registry import register
from ...wire import native
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
        self._prefixes = tuple(prefix.encode() for prefix in self.plan.prefixes)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        plan = self.plan
        payload, canonical = envelope.wire(), envelope.wire(canonical=True) is not None
        found = self._spans_with_keys(envelope)
        if found is not None and not any(found):
            return await self.next.consume(envelope)
        index = -1
        request = envelope.request
        changed = False
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                wrote = False
                for span in ss.spans:
                    index += 1
                    if found is not None and found[index] is None:
                        continue
                    if normalize_span(span, plan):
                        wrote = True
                if wrote:
                    changed = True
                    if not ss.schema_url:
                        ss.schema_url = SCHEMA_URL
        if changed:
            if payload is not None:
                # It came with bytes, so the processors behind read it in C (token_count, cost): encoding it
                # again costs less than their reading the parsed spans instead.
                envelope.attach_wire(request.SerializeToString(), canonical=True)
        elif payload is not None:
            envelope.attach_wire(payload, canonical)  # nothing changed: the bytes still encode it
        return await self.next.consume(envelope)

    def _spans_with_keys(self, envelope: Envelope) -> list[Any] | None:
        """Per span, in iteration order, None where it has no key the plan acts on (read in C from the wire
        bytes); None when that cannot be told so (no bytes or no C walk, flattened-message keys in the bytes,
        a plan the table cannot hold)."""
        payload, table, walk = envelope.wire(), self.plan.wire_table, native.genai_attributes
        if payload is None or table is None or walk is None:
            return None
        if any(prefix in payload for prefix in self._prefixes):
            return None
        try:
            found = walk(payload, table)
        except ValueError:
            return None
        return found if len(found) == envelope.items else None
