"""cost processor: every priced LLM span leaves with its USD cost, and the LLM Prometheus metrics
(requests, tokens, cost, latency per service/provider/model) are made from the spans.

Cost is written where existing tools read it: `gen_ai.usage.cost` (Langfuse, OpenLIT) and
OpenInference's `llm.cost.prompt/completion/total` (Phoenix). A model that cannot be priced gets no
cost, `gen_ai.usage.cost_unpriced = true` and a count in `llm_unpriced_requests` — never a silent 0.

The processor keeps nothing per trace: trace-level totals are the tail sampler's job (its `rollup`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ..component import Capabilities, Processor, Rejected, Signal
from ..config import Invalid, option
from ..genai import prices
from ..genai.view import GenAIView
from ..registry import register

COST = "gen_ai.usage.cost"
COST_SOURCE = "gen_ai.usage.cost_source"
UNPRICED = "gen_ai.usage.cost_unpriced"
UNPRICED_REASON = "gen_ai.usage.cost_unpriced_reason"
OI_PROMPT, OI_COMPLETION, OI_TOTAL = "llm.cost.prompt", "llm.cost.completion", "llm.cost.total"
_EXISTING_COST_KEYS = frozenset({COST, OI_TOTAL})
OTHER = "other"


@dataclass
class LLMMetricsConfig:
    enabled: bool = option(True, "Publish llm_requests, llm_tokens, llm_cost_usd, llm_latency_seconds and llm_unpriced_requests on the self-metrics endpoint.")
    max_series: int = option(500, "Cap on distinct (service, provider, model) label sets; beyond it new models are counted as `model=\"other\"`.")
    latency_buckets: list[float] = option(factory=lambda: [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0], doc="Histogram buckets for llm_latency_seconds.")

    def validate(self) -> None:
        if self.max_series < 1:
            raise Invalid("must be at least 1", "max_series")


@dataclass
class CostConfig:
    prices: str | None = option(None, "YAML file of price overrides and additions (self-hosted models, negotiated discounts, per-provider markups); it wins over the bundled genai-prices data. See config/prices.yaml.")
    openinference_attributes: bool = option(True, "Also write llm.cost.prompt / llm.cost.completion / llm.cost.total (read by Phoenix).")
    metrics: LLMMetricsConfig = option(factory=LLMMetricsConfig, doc="LLM usage metrics made from the spans.")

    def validate(self) -> None:
        # The overrides file is part of the config: `validate` must catch its mistakes too.
        if self.prices is not None:
            try:
                prices.PriceBook(self.prices)
            except prices.PriceConfigError as exc:
                raise Invalid(str(exc), "prices") from None


class _LabelCap:
    """Bounded label cardinality: the first `limit` (service, provider, model) sets keep their model."""

    def __init__(self, limit: int):
        self.limit = limit
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, service: str, provider: str, model: str) -> tuple[str, str, str]:
        key = (service, provider, model)
        if key in self.seen:
            return key
        if len(self.seen) < self.limit:
            self.seen.add(key)
            return key
        return (service, provider, OTHER)


@register
class CostProcessor(Processor):
    type_name = "cost"
    description = "Prices LLM spans in USD (genai-prices snapshot + your overrides) and publishes LLM request/token/cost/latency metrics."
    config_class = CostConfig
    signals = frozenset({Signal.TRACES})
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: CostConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        # Parsing the overrides here makes a bad prices file a start-up error with file:line.
        self.book = prices.PriceBook(config.prices)
        m = config.metrics
        self.metrics_on = m.enabled
        self.cap = _LabelCap(m.max_series)
        labels = ("service", "provider", "model")
        t = self.telemetry
        self.m_requests = t.counter("llm_requests", "LLM calls seen in spans.", (*labels, "status"))
        self.m_tokens = t.counter("llm_tokens", "LLM tokens by type (input includes cache; output includes reasoning).", (*labels, "type"))
        self.m_cost = t.counter("llm_cost_usd", "USD cost of priced LLM calls.", labels)
        self.m_latency = t.histogram("llm_latency_seconds", "Duration of LLM call spans.", labels, tuple(m.latency_buckets))
        self.m_unpriced = t.counter("llm_unpriced_requests", "LLM calls that could not be priced.", ("model",))

    async def start(self, host: Any) -> None:
        # genai-prices (pydantic, ~0.25 s) loads now rather than on the first span.
        await asyncio.to_thread(self.book.preload)

    async def consume(self, signal: Signal, data: Any) -> Rejected | None:
        for rs in data.resource_spans:
            service = ""
            for kv in rs.resource.attributes:
                if kv.key == "service.name":
                    service = kv.value.string_value
                    break
            for ss in rs.scope_spans:
                for span in ss.spans:
                    view = GenAIView.of(span)
                    if view is not None and (view.is_generation or view.is_embedding):
                        self._price(span, view, service)
        return await self.next.consume(signal, data)

    def _price(self, span: Any, view: GenAIView, service: str) -> None:
        u = view.usage
        attrs = span.attributes
        cost: prices.Cost | None = None
        reason = "no_usage"
        if u.input_tokens is not None and (u.output_tokens is not None or view.is_embedding):
            usage = prices.Usage(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens or 0,
                cache_read_tokens=u.cache_read_tokens or 0,
                cache_write_tokens=u.cache_write_tokens or 0,
                reasoning_tokens=u.reasoning_tokens or 0,
            )
            reason = "unknown_model"
            # The answering model carries the exact version; the requested name is the fallback.
            for model in dict.fromkeys(m for m in (view.response_model, view.request_model) if m):
                cost = self.book.cost(view.provider, model, usage)
                if cost is not None:
                    break
        existing = {kv.key for kv in attrs if kv.key in _EXISTING_COST_KEYS}
        if cost is not None:
            if COST not in existing:
                attrs.add(key=COST, value=AnyValue(double_value=cost.total_usd))
                attrs.add(key=COST_SOURCE, value=AnyValue(string_value=cost.source))
            if self.config.openinference_attributes and OI_TOTAL not in existing:
                attrs.add(key=OI_PROMPT, value=AnyValue(double_value=cost.input_usd))
                attrs.add(key=OI_COMPLETION, value=AnyValue(double_value=cost.output_usd))
                attrs.add(key=OI_TOTAL, value=AnyValue(double_value=cost.total_usd))
        else:
            attrs.add(key=UNPRICED, value=AnyValue(bool_value=True))
            attrs.add(key=UNPRICED_REASON, value=AnyValue(string_value=reason))
        if self.metrics_on:
            self._record(span, view, service, cost)

    def _record(self, span: Any, view: GenAIView, service: str, cost: prices.Cost | None) -> None:
        model = view.model or "unknown"
        labels = self.cap(service or "unknown", view.provider or "unknown", model)
        self.m_requests.labels(*labels, "error" if view.errored else "ok").inc()
        u = view.usage
        for kind, value in (
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cache_read", u.cache_read_tokens),
            ("cache_write", u.cache_write_tokens),
            ("reasoning", u.reasoning_tokens),
        ):
            if value:
                self.m_tokens.labels(*labels, kind).inc(value)
        if cost is not None:
            self.m_cost.labels(*labels).inc(cost.total_usd)
        else:
            self.m_unpriced.labels(labels[2]).inc()
        duration = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
        if duration >= 0 and span.end_time_unix_nano:
            self.m_latency.labels(*labels).observe(duration)
