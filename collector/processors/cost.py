"""cost processor: every priced LLM span leaves with its USD cost, and the LLM Prometheus metrics
(requests, tokens, cost, latency per service/provider/model) are made from the spans.

Cost is written where existing tools read it: `gen_ai.usage.cost` (Langfuse, OpenLIT), with `normalize`
the OTel proposal's `gen_ai.usage.cost.amount` / `.currency` / `.source` beside it, and OpenInference's
`llm.cost.prompt/completion/total` (Phoenix). A cost the span already carries is never written over. A
model that cannot be priced, or usage reported as zeros on a call with content, gets no cost,
`gen_ai.usage.cost_unpriced = true` and a count in `llm_unpriced_requests_total` — never a silent 0.

One API call seen by two stacked instrumentations is priced once: the other LLM span of the call gets
`gen_ai.usage.cost_duplicate = true` (and `gen_ai.usage.cost_duplicate_of`, the priced span's id) instead of
a cost, and counts in no LLM metric but `llm_duplicate_spans_total` (`dedupe` option; the rule is
collector/genai/dedupe.py's). Beyond that bounded memory of recent LLM spans the processor keeps nothing per
trace: trace-level totals are the tail sampler's job (its `rollup`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .. import dimensions, pdata
from ..component import Capabilities, Processor, Rejected, Signal
from ..config import Duration, Invalid, option
from ..dimensions import Dimension
from ..envelope import Envelope
from ..genai import dedupe, prices
from ..genai import view as view_module
from ..genai.view import GenAIView
from ..registry import register
from ..wire import encode
from ..wire.fields import Span

COST = "gen_ai.usage.cost"
COST_SOURCE = "gen_ai.usage.cost_source"
UNPRICED = "gen_ai.usage.cost_unpriced"
UNPRICED_REASON = "gen_ai.usage.cost_unpriced_reason"
# On a span whose usage attributes hold no valid count (negative, not finite, not a number): their keys,
# comma-separated. The span goes on unpriced (reason invalid_usage); the rest of its request is unaffected.
INVALID_USAGE = "gen_ai.usage.invalid"
# On the other LLM spans of a call already priced on one span (see collector/genai/dedupe.py): no cost, and the
# span id (hex) of the span that carries it.
DUPLICATE = "gen_ai.usage.cost_duplicate"
DUPLICATE_OF = "gen_ai.usage.cost_duplicate_of"
OI_PROMPT, OI_COMPLETION, OI_TOTAL = "llm.cost.prompt", "llm.cost.completion", "llm.cost.total"
# The open OTel GenAI proposal (semantic-conventions-genai): the amount, its currency, and `local` (computed
# here) as opposed to `provider` (reported by the API).
AMOUNT, CURRENCY, AMOUNT_SOURCE = "gen_ai.usage.cost.amount", "gen_ai.usage.cost.currency", "gen_ai.usage.cost.source"
OTHER = "other"

# The attributes written on a priced span, as wire bytes to merge into it (collector/wire/encode.py).
_COST = encode.key_value_double_prefix(Span.ATTRIBUTES, COST)
_OI_PROMPT = encode.key_value_double_prefix(Span.ATTRIBUTES, OI_PROMPT)
_OI_COMPLETION = encode.key_value_double_prefix(Span.ATTRIBUTES, OI_COMPLETION)
_OI_TOTAL = encode.key_value_double_prefix(Span.ATTRIBUTES, OI_TOTAL)
_COST_SOURCES = {source: encode.key_value_str(Span.ATTRIBUTES, COST_SOURCE, source) for source in ("bundled", "override")}
_AMOUNT = encode.key_value_double_prefix(Span.ATTRIBUTES, AMOUNT)
_AMOUNT_FACTS = encode.key_value_str(Span.ATTRIBUTES, CURRENCY, "USD") + encode.key_value_str(Span.ATTRIBUTES, AMOUNT_SOURCE, "local")
_pack = encode.pack_double


@dataclass
class LLMMetricsConfig:
    enabled: bool = option(True, "Publish llm_requests_total, llm_tokens_total, llm_cost_usd_total, llm_latency_seconds and llm_unpriced_requests_total on the self-metrics endpoint.")
    max_series: int = option(500, "Cap on distinct (service, provider, model) label sets; beyond it new models are counted as `model=\"other\"`.")
    latency_buckets: list[float] = option(factory=lambda: [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0], doc="Histogram buckets for llm_latency_seconds.")
    dimensions: list[Dimension] = option(factory=list, doc="Extra span (else resource) attributes to label llm_requests_total, llm_tokens_total, llm_cost_usd_total and llm_latency_seconds by, as the llm_metrics connector's `dimensions` (the label is the attribute with `.` as `_`: user.id -> user_id), each capped at its max_values (new values past it are `other`, counted in llm_metrics_dimension_overflow_total).")

    def validate(self) -> None:
        if self.max_series < 1:
            raise Invalid("must be at least 1", "max_series")
        for key, message in dimensions.problems(self.dimensions):
            raise Invalid(message, ("dimensions", *key))
        for i, d in enumerate(self.dimensions):
            if dimensions.label_name(d.name) in ("service", "provider", "model", "status", "type", "le"):
                raise Invalid(f'"{d.name}" would be the label of an existing one', ("dimensions", i, "name"))


@dataclass
class DedupeConfig:
    enabled: bool = option(True, "Price an API call once when stacked instrumentations give it several LLM spans (same `gen_ai.response.id`, or parent/child/sibling spans with the same provider, model and token counts, overlapping in time; across traces, only spans of one process: the same id, or one span with an id and one without with the same counts). The first span to arrive is priced; the others get `gen_ai.usage.cost_duplicate = true`, no cost, and count in no LLM metric but llm_duplicate_spans_total.")
    window: Duration = option(Duration(120.0), "How long after its arrival an LLM span is remembered, to match a span of the same call that arrives later (another batch, exporter or process).")
    max_entries: int = option(50_000, "Cap on the LLM spans remembered, about 0.8 KB each (40 MB at the default); past it the oldest are forgotten early, counted in llm_dedupe_evictions_total. Size it to at least LLM spans per second x window.")

    def validate(self) -> None:
        if self.window <= 0:
            raise Invalid("must be more than 0s", "window")
        if self.max_entries < 1:
            raise Invalid("must be at least 1", "max_entries")


@dataclass
class CostConfig:
    prices: str | None = option(None, "YAML file of price overrides and additions (self-hosted models, negotiated discounts, per-provider markups); it wins over the bundled genai-prices data. See config/prices.yaml.")
    openinference_attributes: bool = option(True, "Also write llm.cost.prompt / llm.cost.completion / llm.cost.total (read by Phoenix).")
    normalize: bool = option(True, "Also write the proposed OTel GenAI cost names beside gen_ai.usage.cost: gen_ai.usage.cost.amount, gen_ai.usage.cost.currency = USD, gen_ai.usage.cost.source = local.")
    metrics: LLMMetricsConfig = option(factory=LLMMetricsConfig, doc="LLM usage metrics made from the spans.")
    dedupe: DedupeConfig = option(factory=DedupeConfig, doc="One API call priced once, however many instrumentations traced it.")

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
        self.dimensions = tuple(d.name for d in m.dimensions)
        self.caps = dimensions.caps(self.telemetry, str(self.id), m.dimensions)
        labels = ("service", "provider", "model", *(dimensions.label_name(name) for name in self.dimensions))
        t = self.telemetry
        self.m_requests = t.counter("llm_requests_total", "LLM calls seen in spans.", (*labels, "status"))
        self.m_tokens = t.counter("llm_tokens_total", "LLM tokens by type (input includes cache; output includes reasoning).", (*labels, "type"))
        self.m_cost = t.counter("llm_cost_usd_total", "USD cost of priced LLM calls.", labels)
        self.m_latency = t.histogram("llm_latency_seconds", "Duration of LLM call spans.", labels, tuple(m.latency_buckets))
        self.m_unpriced = t.counter("llm_unpriced_requests_total", "LLM calls that could not be priced, by the reason written on their spans (gen_ai.usage.cost_unpriced_reason).", ("provider", "model", "reason"))
        self.m_invalid = t.counter("llm_invalid_usage_total", "LLM call spans with a usage attribute holding no valid token count, by attribute; left unpriced.", ("attribute",))
        self.m_duplicates = t.counter("llm_duplicate_spans_total", "LLM call spans left unpriced and uncounted as another span of a call already priced (stacked instrumentations).", ("service",))
        self.m_evictions = t.counter("llm_dedupe_evictions_total", "LLM spans forgotten by the cost processor's dedupe memory before their window ended (its max_entries); a later span of their call would be priced again.", ()).labels()
        d = config.dedupe
        self.memory = dedupe.CallMemory(float(d.window), d.max_entries) if d.enabled else None
        self._evicted = 0
        self._bound: dict[tuple[str, ...], _Series] = {}
        self._by_raw: dict[tuple[str, ...], _Series] = {}  # the same, by uncapped labels: one lookup per span

    async def start(self, host: Any) -> None:
        # genai-prices (pydantic, ~0.25 s) loads now rather than on the first span.
        await asyncio.to_thread(self.book.preload)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # The views token_count attached, else the wire bytes to read them from in C; then the request.
        handed = envelope.views()
        payload = envelope.wire() if handed is None else None
        data = envelope.request
        scanned = view_module.scan_request(data, payload) if handed is None else None
        from_slots = GenAIView.from_slots
        # Metric sums for this request, added to the series once per request rather than per span.
        sums: dict[_Series, _Sums] | None = {} if self.metrics_on else None
        memory = self.memory
        if memory is not None:
            memory.expire(time.monotonic())
        index = 0
        # The request's spans that found no price, settled after the others when dedupe is on: a span of the
        # same call that can be priced (in this request, in any order) is then its priced span, and those
        # remembered by dedupe before those it cannot tie later spans to.
        unpriced: list[tuple[Any, GenAIView, str, int, prices.Cost | None, str, dict[str, str]]] | None = [] if memory is not None else None
        for rs in data.resource_spans:
            service = ""
            for kv in rs.resource.attributes:
                if kv.key == "service.name":
                    service = kv.value.string_value
                    break
            # The process the spans come from, as far as their resource tells (dedupe ties spans of two traces
            # only within one process), read at the resource's first LLM span.
            process: int | None = None if memory is not None else 0
            resource_dims = dimensions.of_resource(self.dimensions, rs.resource) if self.dimensions and sums is not None else {}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if handed is not None:
                        view = handed[index]
                        if view is view_module.NOT_COMPUTED:
                            view = GenAIView.of(span)
                    else:
                        view = GenAIView.of(span) if scanned is None else from_slots(span, scanned[index])
                    index += 1
                    if view is not None and (view.is_generation or view.is_embedding) and not view.has("cost_duplicate"):
                        # (a span marked by a cost processor upstream, another daemon on the way, is priced elsewhere)
                        cost, reason = self._cost(span, view)
                        if process is None:
                            process = hash(rs.resource.SerializeToString())
                        if cost is None and unpriced is not None:
                            unpriced.append((span, view, service, process, cost, reason, resource_dims))
                        else:
                            self._price(span, view, service, process, cost, reason, sums, resource_dims)
        if unpriced:
            if len(unpriced) > 1:  # those later spans cannot be tied to go last
                unpriced.sort(key=lambda entry: not dedupe.remembered(entry[1]))
            for span, view, service, process, cost, reason, resource_dims in unpriced:
                self._price(span, view, service, process, cost, reason, sums, resource_dims)
        if sums:
            _add_sums(sums)
        if memory is not None and memory.evictions != self._evicted:
            self.m_evictions.inc(memory.evictions - self._evicted)
            self._evicted = memory.evictions
        return await self.next.consume(envelope)

    def _cost(self, span: Any, view: GenAIView) -> tuple[prices.Cost | None, str]:
        """The span's cost, else None and why (an unpriced reason)."""
        u = view.usage
        cost: prices.Cost | None = None
        reason = "no_usage"
        inp, out = u.input_tokens, u.output_tokens
        if u.invalid:
            # Client input: one span's bad counts flag that span, never fail its request.
            reason = "invalid_usage"
            pdata.add_str(span.attributes, INVALID_USAGE, ",".join(u.invalid))
            for key in u.invalid:
                self.m_invalid.labels(key).inc()
        elif inp == 0 and view.zero_usage_with_content:
            # 0/0 reported for a call that had content is no usage (token_count counts it when it runs first).
            reason = "zero_usage"
        elif inp is not None and (out is not None or view.is_embedding):
            out = out or 0
            cr, cw, rs = u.cache_read_tokens or 0, u.cache_write_tokens or 0, u.reasoning_tokens or 0
            reason = "unknown_model"
            # The answering model carries the exact version; the requested name is the fallback.
            if view.response_model:
                cost = self.book.cost_of(view.provider, view.response_model, inp, out, cr, cw, rs)
            if cost is None and view.request_model and view.request_model != view.response_model:
                cost = self.book.cost_of(view.provider, view.request_model, inp, out, cr, cw, rs)
        return cost, reason

    def _price(self, span: Any, view: GenAIView, service: str, process: int, cost: prices.Cost | None, reason: str,
               sums: dict[_Series, _Sums] | None, resource_dims: dict[str, str]) -> None:
        """Write the span's cost (or its unpriced or duplicate flag) and add it to the request's sums
        (`resource_dims`: the dimensions its resource holds)."""
        u = view.usage
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        memory = self.memory
        verdict = dedupe.ORIGINAL if memory is None else memory.admit(span, view, cost is not None, start, end, process)
        if verdict.duplicate_of is not None:
            attrs = span.attributes
            pdata.add_bool(attrs, DUPLICATE, True)
            pdata.add_str(attrs, DUPLICATE_OF, verdict.duplicate_of.hex())
            self.m_duplicates.labels(service or "unknown").inc()
            return
        if cost is not None:
            parts: list[bytes] = []
            if not view.has("reported_cost"):
                source = _COST_SOURCES.get(cost.source) or encode.key_value_str(Span.ATTRIBUTES, COST_SOURCE, cost.source)
                parts += (_COST, _pack(cost.total_usd), source)
                if self.config.normalize:
                    parts += (_AMOUNT, _pack(cost.total_usd), _AMOUNT_FACTS)
            if self.config.openinference_attributes and not view.has("reported_oi_cost"):
                parts += (_OI_PROMPT, _pack(cost.input_usd), _OI_COMPLETION, _pack(cost.output_usd), _OI_TOTAL, _pack(cost.total_usd))
            if parts:
                span.MergeFromString(b"".join(parts))
        else:
            attrs = span.attributes
            pdata.add_bool(attrs, UNPRICED, True)
            pdata.add_str(attrs, UNPRICED_REASON, reason)
        if sums is not None:
            dims = dimensions.values(self.dimensions, self.caps, span.attributes, resource_dims) if self.dimensions else ()
            series = self._series(service or "unknown", view.provider or "unknown", view.model or "unknown", dims)
            acc = sums.get(series)
            if acc is None:
                acc = sums[series] = _Sums()
            if verdict.count_call:
                if view.errored:
                    acc.errors += 1
                else:
                    acc.ok += 1
                if cost is None:
                    acc.unpriced[reason] = acc.unpriced.get(reason, 0) + 1
                if end and end >= start:
                    acc.latencies.append((end - start) / 1e9)
            if verdict.count_tokens:
                acc.input += u.input_tokens or 0
                acc.output += u.output_tokens or 0
                acc.cache_read += u.cache_read_tokens or 0
                acc.cache_write += u.cache_write_tokens or 0
                acc.reasoning += u.reasoning_tokens or 0
            if cost is not None:
                acc.cost = cost.total_usd + (acc.cost or 0.0)

    def _series(self, service: str, provider: str, model: str, dims: tuple[str, ...] = ()) -> _Series:
        raw = (service, provider, model, *dims)
        series = self._by_raw.get(raw)
        if series is not None:
            return series
        # Keyed by the capped labels: past max_series, new models share the "other" series
        # instead of each adding an entry here.
        labels = (*self.cap(service, provider, model), *dims)
        series = self._bound.get(labels)
        if series is None:
            series = self._bound[labels] = _Series(self, labels)
        if len(self._by_raw) >= 4 * self.cap.limit:
            self._by_raw.clear()  # a stream of one-off model names must not grow this without end
        self._by_raw[raw] = series
        return series


class _Sums:
    """One request's sums for one series, added to the metrics once per request (see CostProcessor._price).
    The counter fields are named as the _Series children they feed."""

    COUNTERS = ("ok", "errors", "input", "output", "cache_read", "cache_write", "reasoning")
    __slots__ = (*COUNTERS, "cost", "latencies", "unpriced")

    def __init__(self) -> None:
        self.ok = self.errors = self.input = self.output = 0
        self.cache_read = self.cache_write = self.reasoning = 0
        self.unpriced: dict[str, int] = {}  # reason -> calls
        self.cost: float | None = None  # None: nothing in this series was priced
        self.latencies: list[float] = []


def _add_sums(sums: dict[_Series, _Sums]) -> None:
    for series, acc in sums.items():
        # Only sums that happened touch a series, so no zero-valued child appears (e.g. a cost for a
        # model that was never priced); a priced call that cost $0 does add its 0.
        for name in _Sums.COUNTERS:
            amount = getattr(acc, name)
            if amount:
                getattr(series, name).inc(amount)
        if acc.cost is not None:
            series.cost.inc(acc.cost)
        for reason, calls in acc.unpriced.items():
            series.unpriced_for(reason).inc(calls)
        if acc.latencies:
            observe = series.latency.observe
            for seconds in acc.latencies:
                observe(seconds)


class _Series:
    """The metric children of one (service, provider, model), each bound on first use (so no
    zero-valued series appears, e.g. a cost of 0 for a model that was never priced) and then kept."""

    __slots__ = ("_p", "_labels", "ok", "errors", "input", "output", "cache_read", "cache_write", "reasoning", "cost", "_unpriced", "latency")

    def __init__(self, p: CostProcessor, labels: tuple[str, ...]):
        self._p = p
        self._labels = labels
        self._unpriced: dict[str, Any] = {}

    def unpriced_for(self, reason: str) -> Any:
        child = self._unpriced.get(reason)
        if child is None:
            child = self._unpriced[reason] = self._p.m_unpriced.labels(self._labels[1], self._labels[2], reason)
        return child

    def __getattr__(self, name: str) -> Any:
        # Only reached while the slot is still unset.
        p, labels = self._p, self._labels
        if name in ("ok", "errors"):
            child = p.m_requests.labels(*labels, "ok" if name == "ok" else "error")
        elif name in ("input", "output", "cache_read", "cache_write", "reasoning"):
            child = p.m_tokens.labels(*labels, name)
        elif name == "cost":
            child = p.m_cost.labels(*labels)
        elif name == "latency":
            child = p.m_latency.labels(*labels)
        else:
            raise AttributeError(name)
        setattr(self, name, child)
        return child
