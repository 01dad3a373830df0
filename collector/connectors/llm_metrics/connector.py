"""The llm_metrics connector: each request's LLM call spans become OTLP metrics for a metrics pipeline, handed on
before the caller is answered (so a refusal there reaches the client), as delta sums and histograms over the
time since the connector's previous emission, one resource of metrics per resource of spans, with its
attributes.

What a span is and what it used is the GenAI view's answer (collector/genai/view.py): read from the views
token_count attached, else in C from the request's bytes, else from the parsed span. Wrapper spans (agents,
tools, chains) are no calls; a span the cost processor marked `gen_ai.usage.cost_duplicate` (another span of
the same API call carries it, collector/genai/dedupe.py) counts in nothing. The cost is what the cost
processor wrote on the span (`gen_ai.usage.cost`); a call without one counts as unpriced, under the cost
processor's reason.

Every metric is split by semconv's attributes (operation, provider, request and response model, server
address and port; error.type on the duration) and by the configured dimensions, each capped: past its
`max_values` distinct values, new values are counted under `other` and in llm_metrics_dimension_overflow_total.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ...component import Connector, Rejected, Signal
from ...envelope import Envelope
from ...genai import view as view_module
from ...genai.view import GenAIView
from ...pdata import REQUEST_TYPES
from ...processors import cost as cost_processor
from ...registry import register
from . import config as c

SCOPE = "llm-collector/connector/llm_metrics"
_DELTA = 1  # AGGREGATION_TEMPORALITY_DELTA
_ERROR_OTHER = "_OTHER"  # semconv error.type's fallback
_MODALITIES = (("text", "text_input_tokens"), ("image", "image_input_tokens"), ("audio", "audio_input_tokens"), ("video", "video_input_tokens"))
_HISTOGRAMS = {c.DURATION: c.DURATION_BUCKETS, c.TOKEN_USAGE: c.TOKEN_BUCKETS}
_DOUBLE_SUMS = frozenset({c.COST})
# Span attributes read beside the view: semconv's metric attributes and what the cost processor wrote.
_COST_KEYS = (cost_processor.COST, cost_processor.AMOUNT)
_SPAN_KEYS = ("server.address", "server.port", "error.type", cost_processor.UNPRICED_REASON, *_COST_KEYS)


def _text(value: AnyValue) -> str:
    """An attribute value as a metric attribute string (scalars only; others as their type's name)."""
    s = value.string_value
    if s:
        return s
    kind = value.WhichOneof("value")
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return "" if kind in (None, "string_value") else kind


class _Cap:
    """One dimension's bounded set of values: the first `limit` kept, later new ones counted as `other`."""

    __slots__ = ("limit", "seen", "overflow")

    def __init__(self, limit: int, overflow: Any):
        self.limit = limit
        self.seen: set[str] = set()
        self.overflow = overflow

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        self.overflow.inc()
        return c.OTHER


class _Histogram:
    __slots__ = ("counts", "sum", "count", "min", "max")

    def __init__(self, buckets: int):
        self.counts = [0] * (buckets + 1)
        self.sum = 0.0
        self.count = 0
        self.min = float("inf")
        self.max = float("-inf")


class _Resource:
    """One resource's metrics in one request: metric name -> attribute pairs -> a sum or a _Histogram."""

    __slots__ = ("resource", "points")

    def __init__(self, resource: Any):
        self.resource = resource
        self.points: dict[str, dict[tuple[tuple[str, Any], ...], Any]] = {}

    def add(self, name: str, attributes: tuple[tuple[str, Any], ...], amount: float) -> None:
        points = self.points.setdefault(name, {})
        points[attributes] = points.get(attributes, 0) + amount

    def observe(self, name: str, attributes: tuple[tuple[str, Any], ...], value: float) -> None:
        bounds = _HISTOGRAMS[name]
        points = self.points.setdefault(name, {})
        h = points.get(attributes)
        if h is None:
            h = points[attributes] = _Histogram(len(bounds))
        h.counts[bisect_left(bounds, value)] += 1
        h.sum += value
        h.count += 1
        h.min = min(h.min, value)
        h.max = max(h.max, value)

    def append_to(self, metrics: Any, start: int, now: int) -> None:
        for name, points in self.points.items():
            unit, description = c.METRICS[name]
            metric = metrics.add(name=name, unit=unit, description=description)
            if name in _HISTOGRAMS:
                metric.histogram.aggregation_temporality = _DELTA
                bounds = _HISTOGRAMS[name]
                for attributes, h in points.items():
                    dp = metric.histogram.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=h.count, sum=h.sum, min=h.min, max=h.max)
                    dp.explicit_bounds.extend(bounds)
                    dp.bucket_counts.extend(h.counts)
                    _attributes(dp.attributes, attributes)
                continue
            metric.sum.aggregation_temporality = _DELTA
            metric.sum.is_monotonic = True
            for attributes, amount in points.items():
                if name in _DOUBLE_SUMS:
                    dp = metric.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_double=amount)
                else:
                    dp = metric.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=int(amount))
                _attributes(dp.attributes, attributes)


def _attributes(out: Any, attributes: tuple[tuple[str, Any], ...]) -> None:
    for key, value in attributes:
        if isinstance(value, int):
            out.add(key=key, value=AnyValue(int_value=value))
        else:
            out.add(key=key, value=AnyValue(string_value=value))


@register
class LLMMetricsConnector(Connector):
    type_name = "llm_metrics"
    description = "Makes OTel GenAI client metrics (duration, token usage), cost and call counts from LLM spans, split by capped dimensions (traces to metrics)."
    config_class = c.LLMMetricsConfig
    pairs = frozenset({(Signal.TRACES, Signal.METRICS)})

    def __init__(self, settings: Any, config: c.LLMMetricsConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        overflow = self.telemetry.counter("llm_metrics_dimension_overflow_total", "LLM calls whose value of a dimension was counted as `other`, past its max_values.", ("connector", "dimension"))
        self.dimensions = tuple(d.name for d in config.dimensions)
        self.caps = tuple(_Cap(d.max_values, overflow.labels(str(self.id), d.name)) for d in config.dimensions)
        self.wanted = frozenset((*_SPAN_KEYS, *self.dimensions))
        self._last = time.time_ns()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # The views token_count attached, else the bytes to read them from in C; then the request (nothing
        # here changes it, so what was derived is attached again for the consumers behind).
        handed = envelope.views()
        payload = envelope.wire() if handed is None else None
        canonical = payload is not None and envelope.wire(canonical=True) is not None
        data = envelope.request
        scanned = view_module.scan_request(data, payload) if handed is None else None
        from_slots, of, not_computed = GenAIView.from_slots, GenAIView.of, view_module.NOT_COMPUTED
        resources: list[_Resource] = []
        index = 0
        for rs in data.resource_spans:
            acc: _Resource | None = None
            resource_dims: dict[str, str] | None = None
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if handed is not None:
                        view = handed[index]
                        if view is not_computed:
                            view = of(span)
                    else:
                        view = of(span) if scanned is None else from_slots(span, scanned[index])
                    index += 1
                    if view is None or not (view.is_generation or view.is_embedding) or view.has("cost_duplicate"):
                        continue
                    if acc is None:
                        acc = _Resource(rs.resource)
                        resources.append(acc)
                        resource_dims = self._resource_dimensions(rs.resource)
                    assert resource_dims is not None
                    self._call(span, view, resource_dims, acc)
        if handed is not None:
            envelope.attach_views(handed)
        elif payload is not None:
            envelope.attach_wire(payload, canonical)
        if not resources:
            return None
        out: Any = REQUEST_TYPES[Signal.METRICS]()
        start, now = self._last, time.time_ns()
        self._last = now
        for acc in resources:
            rm = out.resource_metrics.add()
            rm.resource.attributes.extend(acc.resource.attributes)
            sm = rm.scope_metrics.add()
            sm.scope.name = SCOPE
            acc.append_to(sm.metrics, start, now)
        return await self.next.consume(Envelope(Signal.METRICS, out))

    def _resource_dimensions(self, resource: Any) -> dict[str, str]:
        if not self.dimensions:
            return {}
        names = self.dimensions
        return {kv.key: _text(kv.value) for kv in resource.attributes if kv.key in names}

    def _call(self, span: Any, view: GenAIView, resource_dims: dict[str, str], acc: _Resource) -> None:
        """One LLM call into the request's sums."""
        found: dict[str, AnyValue] = {}
        wanted = self.wanted
        for kv in span.attributes:
            if kv.key in wanted:
                found.setdefault(kv.key, kv.value)
        base: list[tuple[str, Any]] = [("gen_ai.operation.name", view.operation), ("gen_ai.provider.name", view.provider or "unknown")]
        if view.request_model:
            base.append(("gen_ai.request.model", view.request_model))
        if view.response_model:
            base.append(("gen_ai.response.model", view.response_model))
        address = found.get("server.address")
        if address is not None and address.string_value:
            base.append(("server.address", address.string_value))
            port = found.get("server.port")
            if port is not None and port.WhichOneof("value") == "int_value":
                base.append(("server.port", port.int_value))
        for name, cap in zip(self.dimensions, self.caps, strict=True):
            value = found.get(name)
            text = _text(value) if value is not None else resource_dims.get(name)
            if text:
                base.append((name, cap(text)))
        attrs = tuple(base)

        error = found.get("error.type")
        error_type = _text(error) if error is not None else ""
        if not error_type and view.errored:
            error_type = _ERROR_OTHER
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        if end and end >= start:
            acc.observe(c.DURATION, attrs + (("error.type", error_type),) if error_type else attrs, (end - start) / 1e9)
        reasons = view.finish_reasons
        calls = attrs + (("llm.status", "error" if error_type else "ok"),)
        acc.add(c.REQUESTS, calls + (("gen_ai.response.finish_reason", reasons[-1]),) if reasons else calls, 1)

        u = view.usage
        unknown = (("gen_ai.token.modality", "unknown"),)
        if u.input_tokens is not None:
            acc.observe(c.TOKEN_USAGE, attrs + (("gen_ai.token.type", "input"),), u.input_tokens)
            rest = u.input_tokens
            for modality, field in _MODALITIES:
                part = getattr(u, field)
                if part:
                    acc.add(c.USAGE_INPUT, attrs + (("gen_ai.token.modality", modality),), part)
                    rest -= part
            if rest > 0 or rest == u.input_tokens:
                acc.add(c.USAGE_INPUT, attrs + unknown, max(rest, 0))
        if u.output_tokens is not None:
            acc.observe(c.TOKEN_USAGE, attrs + (("gen_ai.token.type", "output"),), u.output_tokens)
            acc.add(c.USAGE_OUTPUT, attrs + unknown, u.output_tokens)
        for name, count in ((c.USAGE_CACHE_READ, u.cache_read_tokens), (c.USAGE_CACHE_WRITE, u.cache_write_tokens), (c.USAGE_REASONING, u.reasoning_tokens)):
            if count is not None:
                acc.add(name, attrs + unknown, count)

        for key in _COST_KEYS:
            amount = found.get(key)
            if amount is not None and amount.WhichOneof("value") == "double_value":
                acc.add(c.COST, attrs, amount.double_value)
                return
        reason = found.get(cost_processor.UNPRICED_REASON)
        acc.add(c.UNPRICED, attrs + (("llm.unpriced_reason", reason.string_value if reason is not None and reason.string_value else "not_priced"),), 1)
