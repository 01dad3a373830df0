"""The llm_metrics connector: each request's LLM call spans become OTLP metrics for a metrics pipeline, handed on
before the caller is answered (so a refusal there reaches the client), as delta sums and histograms over the
time since the connector's previous emission, one resource of metrics per resource of spans, with its
attributes.

What a span is and what it used is the GenAI view's answer (collector/genai/view.py), read in C from the
request's bytes with the other keys wanted here (else from the parsed span). Wrapper spans (agents,
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
from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint, NumberDataPoint

from ... import dimensions
from ...component import Connector, Rejected, Signal
from ...envelope import Envelope
from ...genai import conventions
from ...genai.view import GenAIView
from ...pdata import REQUEST_TYPES
from ...processors import cost as cost_processor
from ...registry import register
from ...wire import fields
from ...wire import slots as wire_slots
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


_STRING, _BOOL, _INT, _DOUBLE = (fields.AnyValue.STRING_VALUE, fields.AnyValue.BOOL_VALUE, fields.AnyValue.INT_VALUE,
                                 fields.AnyValue.DOUBLE_VALUE)
_MEMBERS = {"string_value": _STRING, "bool_value": _BOOL, "int_value": _INT, "double_value": _DOUBLE}
_EXTRA = "llm_metrics:"  # prefix of the slots of the keys read beside the view's


def _member(value: AnyValue) -> tuple[int, Any]:
    """An attribute value as the C walk gives a slot's: (AnyValue member, its scalar; None for the others)."""
    s = value.string_value
    if s:
        return (_STRING, s)
    kind = value.WhichOneof("value")
    member = _MEMBERS.get(kind or "", 0)
    return (member, getattr(value, kind) if member and kind else None)


def _text(member: int, value: Any) -> str:
    """A scalar attribute value as a metric attribute string; "" for no value or not a scalar."""
    if member == _STRING:
        return value
    if member in (_INT, _DOUBLE):
        return str(value)
    if member == _BOOL:
        return "true" if value else "false"
    return ""


def _table(keys: tuple[str, ...]) -> tuple | None:
    """The C walk's table: the view's conventions (collector/genai/conventions.py), as the view builds it,
    and `keys` each in a slot of its own; None when a key is one of the view's or the walk has no room."""
    slots = {key: slot for slot, named in conventions.SLOT_KEYS for key in named}
    ranks = {key: rank for _, named in conventions.SLOT_KEYS for rank, key in enumerate(named)}
    if not slots.keys().isdisjoint(keys):
        return None
    slots.update((key, _EXTRA + key) for key in keys)
    ranks.update((key, 0) for key in keys)
    try:
        return wire_slots.slot_table(slots, ranks)
    except OverflowError:
        return None


_FINISH_REASONS: dict[Any, str] = {}  # a finish_reasons slot's value as read -> its last reason ("" for none)


def _last_finish_reason(view: GenAIView, values: dict[str, Any] | None) -> str:
    """The view's last finish reason from the span's finish-reasons attribute, remembered by its value as the C
    walk read it (`values`: the span's slots): calls repeat a handful of them."""
    if not view.has("finish_reasons"):
        return ""  # (reasons inside the completion's content are not parsed for a metric)
    entry = None if values is None else values.get("finish_reasons")
    raw = None if entry is None else entry[2]
    if raw is not None:
        known = _FINISH_REASONS.get(raw)
        if known is not None:
            return known
    reasons = view.finish_reasons
    last = reasons[-1] if reasons else ""
    if raw is not None:
        if len(_FINISH_REASONS) >= 1024:
            _FINISH_REASONS.clear()
        _FINISH_REASONS[raw] = last
    return last


class _Histogram:
    __slots__ = ("bounds", "counts", "sum", "count", "min", "max")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0
        self.min = float("inf")
        self.max = float("-inf")

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value


class _Series:
    """One set of metric attributes' sums in one request: every metric's points for those attributes, each
    under the attributes that only it has (error.type, gen_ai.token.type, modality, status...)."""

    __slots__ = ("duration", "input", "output", "usage_input", "usage_output", "cache_read", "cache_write", "reasoning",
                 "cost", "requests", "unpriced")

    def __init__(self) -> None:
        self.duration: dict[str, _Histogram] = {}  # error.type ("" for none) -> histogram
        self.input: _Histogram | None = None
        self.output: _Histogram | None = None
        self.usage_input: dict[str, int] = {}  # modality -> tokens
        self.usage_output = self.cache_read = self.cache_write = self.reasoning = -1  # -1: none reported
        self.cost = -1.0
        self.requests: dict[tuple[str, str], int] = {}  # (status, finish reason) -> calls
        self.unpriced: dict[str, int] = {}  # reason -> calls

    def points(self, attrs: tuple[tuple[str, Any], ...]) -> list[tuple[str, tuple[tuple[str, Any], ...], Any]]:
        """(metric name, attributes, sum or _Histogram) of every point this series holds."""
        out: list[tuple[str, tuple[tuple[str, Any], ...], Any]] = []
        for error_type, h in self.duration.items():
            out.append((c.DURATION, attrs + (("error.type", error_type),) if error_type else attrs, h))
        for kind, histogram in (("input", self.input), ("output", self.output)):
            if histogram is not None:
                out.append((c.TOKEN_USAGE, attrs + (("gen_ai.token.type", kind),), histogram))
        for modality, tokens in self.usage_input.items():
            out.append((c.USAGE_INPUT, attrs + (("gen_ai.token.modality", modality),), tokens))
        for name, tokens in ((c.USAGE_OUTPUT, self.usage_output), (c.USAGE_CACHE_READ, self.cache_read),
                             (c.USAGE_CACHE_WRITE, self.cache_write), (c.USAGE_REASONING, self.reasoning)):
            if tokens >= 0:
                out.append((name, attrs + _UNKNOWN, tokens))
        if self.cost >= 0:
            out.append((c.COST, attrs, self.cost))
        for (status, reason), calls in self.requests.items():
            here = attrs + (("llm.status", status),)
            out.append((c.REQUESTS, here + (("gen_ai.response.finish_reason", reason),) if reason else here, calls))
        for reason, calls in self.unpriced.items():
            out.append((c.UNPRICED, attrs + (("llm.unpriced_reason", reason),), calls))
        return out


_UNKNOWN = (("gen_ai.token.modality", "unknown"),)


class _Resource:
    """One resource's series in one request."""

    __slots__ = ("resource", "series")

    def __init__(self, resource: Any):
        self.resource = resource
        self.series: dict[tuple[tuple[str, Any], ...], _Series] = {}

    def append_to(self, metrics: Any, start: int, now: int) -> None:
        by_name: dict[str, list[tuple[tuple[tuple[str, Any], ...], Any]]] = {}
        for attrs, series in self.series.items():
            for name, attributes, value in series.points(attrs):
                by_name.setdefault(name, []).append((attributes, value))
        for name in c.METRICS:
            points = by_name.get(name)
            if not points:
                continue
            unit, description = c.METRICS[name]
            metric = metrics.add(name=name, unit=unit, description=description)
            if name in _HISTOGRAMS:
                metric.histogram.aggregation_temporality = _DELTA
                for attributes, h in points:
                    dp = metric.histogram.data_points.add(start_time_unix_nano=start, time_unix_nano=now, count=h.count, sum=h.sum, min=h.min, max=h.max)
                    dp.explicit_bounds.extend(h.bounds)
                    dp.bucket_counts.extend(h.counts)
                    dp.MergeFromString(_HISTOGRAM_ATTRIBUTES(attributes))
                continue
            metric.sum.aggregation_temporality = _DELTA
            metric.sum.is_monotonic = True
            double = name in _DOUBLE_SUMS
            for attributes, amount in points:
                if double:
                    dp = metric.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_double=amount)
                else:
                    dp = metric.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=amount)
                dp.MergeFromString(_NUMBER_ATTRIBUTES(attributes))


class _Encoded:
    """Attribute pairs -> a data point holding just those attributes, serialized (merged into each point
    in one call rather than built attribute by attribute); bounded, as the series are."""

    def __init__(self, point: Any):
        self.point = point
        self.seen: dict[tuple[tuple[str, Any], ...], bytes] = {}

    def __call__(self, attributes: tuple[tuple[str, Any], ...]) -> bytes:
        known = self.seen.get(attributes)
        if known is not None:
            return known
        point = self.point()
        out = point.attributes
        for key, value in attributes:
            if isinstance(value, int):
                out.add(key=key, value=AnyValue(int_value=value))
            else:
                out.add(key=key, value=AnyValue(string_value=value))
        known = point.SerializeToString()
        if len(self.seen) >= 8192:
            self.seen.clear()
        self.seen[attributes] = known
        return known


_NUMBER_ATTRIBUTES = _Encoded(NumberDataPoint)
_HISTOGRAM_ATTRIBUTES = _Encoded(HistogramDataPoint)


@register
class LLMMetricsConnector(Connector):
    type_name = "llm_metrics"
    description = "Makes OTel GenAI client metrics (duration, token usage), cost and call counts from LLM spans, split by capped dimensions (traces to metrics)."
    config_class = c.LLMMetricsConfig
    pairs = frozenset({(Signal.TRACES, Signal.METRICS)})

    def __init__(self, settings: Any, config: c.LLMMetricsConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        self.dimensions = tuple(d.name for d in config.dimensions)
        self.caps = dimensions.caps(self.telemetry, str(self.id), config.dimensions)
        self.wanted = frozenset((*_SPAN_KEYS, *self.dimensions))
        # The cost keys are the view's own (its reported_cost slot, best first): read from that slot.
        self.table = _table(tuple(self.wanted - set(_COST_KEYS)))
        self._last = time.time_ns()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # The GenAI facts and the other keys are read in C from the request's bytes (serialized here when no
        # component attached any: cheaper than reading the parsed spans' attributes); else from the parsed
        # spans. Nothing here changes the request, so the bytes stay attached for the consumers behind.
        payload = envelope.wire()
        canonical = payload is not None and envelope.wire(canonical=True) is not None
        data = envelope.request
        scanned = None
        if self.table is not None and wire_slots.native.genai_attributes is not None:
            if payload is None:
                payload, canonical = data.SerializeToString(), True
            scanned = wire_slots.request_slots(data, payload, self.table)
        if payload is not None:
            envelope.attach_wire(payload, canonical)
        from_slots, of = GenAIView.from_slots, GenAIView.of
        wanted = self.wanted
        extra_slots = tuple((key, _EXTRA + key) for key in wanted if key not in _COST_KEYS)
        resources: list[_Resource] = []
        index = 0
        for rs in data.resource_spans:
            acc: _Resource | None = None
            resource_dims: dict[str, str] = {}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    if scanned is not None:
                        values = scanned[index]
                        view = from_slots(span, values)
                    else:
                        values = None
                        view = of(span)
                    index += 1
                    if view is None or not (view.is_generation or view.is_embedding) or view.has("cost_duplicate"):
                        continue
                    if values is not None:
                        found = {}
                        for key, slot in extra_slots:
                            entry = values.get(slot)
                            if entry is not None:
                                found[key] = entry[1:]
                        cost = values.get("reported_cost")
                        if cost is not None:
                            found[cost[0]] = cost[1:]
                    else:
                        found = {}
                        for kv in span.attributes:
                            if kv.key in wanted and kv.key not in found:
                                found[kv.key] = _member(kv.value)
                    if acc is None:
                        acc = _Resource(rs.resource)
                        resources.append(acc)
                        resource_dims = dimensions.of_resource(self.dimensions, rs.resource)
                    self._call(span, view, values, found, resource_dims, acc)
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

    def _call(self, span: Any, view: GenAIView, values: dict[str, Any] | None, found: dict[str, tuple[int, Any]], resource_dims: dict[str, str],
              acc: _Resource) -> None:
        """One LLM call into the request's sums; `values`: its slots as the C walk read them (None: parsed);
        `found`: the wanted keys the span has -> (member, value)."""
        base: list[tuple[str, Any]] = [("gen_ai.operation.name", view.operation), ("gen_ai.provider.name", view.provider or "unknown")]
        if view.request_model:
            base.append(("gen_ai.request.model", view.request_model))
        if view.response_model:
            base.append(("gen_ai.response.model", view.response_model))
        address = found.get("server.address")
        if address is not None and address[0] == _STRING and address[1]:
            base.append(("server.address", address[1]))
            port = found.get("server.port")
            if port is not None and port[0] == _INT:
                base.append(("server.port", port[1]))
        for name, cap in zip(self.dimensions, self.caps, strict=True):
            value = found.get(name)
            text = _text(*value) if value is not None else resource_dims.get(name)
            if text:
                base.append((name, cap(text)))
        attrs = tuple(base)
        series = acc.series.get(attrs)
        if series is None:
            series = acc.series[attrs] = _Series()

        error = found.get("error.type")
        error_type = _text(*error) if error is not None else ""
        if not error_type and view.errored:
            error_type = _ERROR_OTHER
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        if end and end >= start:
            h = series.duration.get(error_type)
            if h is None:
                h = series.duration[error_type] = _Histogram(c.DURATION_BUCKETS)
            h.observe((end - start) / 1e9)
        call = ("error" if error_type else "ok", _last_finish_reason(view, values))
        series.requests[call] = series.requests.get(call, 0) + 1

        u = view.usage
        inp = u.input_tokens
        if inp is not None:
            if series.input is None:
                series.input = _Histogram(c.TOKEN_BUCKETS)
            series.input.observe(inp)
            usage = series.usage_input
            rest = inp
            for modality, field in _MODALITIES:
                part = getattr(u, field)
                if part:
                    usage[modality] = usage.get(modality, 0) + part
                    rest -= part
            if rest > 0 or rest == inp:
                usage["unknown"] = usage.get("unknown", 0) + max(rest, 0)
        out = u.output_tokens
        if out is not None:
            if series.output is None:
                series.output = _Histogram(c.TOKEN_BUCKETS)
            series.output.observe(out)
            series.usage_output = max(series.usage_output, 0) + out
        if u.cache_read_tokens is not None:
            series.cache_read = max(series.cache_read, 0) + u.cache_read_tokens
        if u.cache_write_tokens is not None:
            series.cache_write = max(series.cache_write, 0) + u.cache_write_tokens
        if u.reasoning_tokens is not None:
            series.reasoning = max(series.reasoning, 0) + u.reasoning_tokens

        for key in _COST_KEYS:
            amount = found.get(key)
            if amount is not None and amount[0] == _DOUBLE:
                series.cost = max(series.cost, 0.0) + amount[1]
                return
        reason = found.get(cost_processor.UNPRICED_REASON)
        why = reason[1] if reason is not None and reason[0] == _STRING and reason[1] else "not_priced"
        series.unpriced[why] = series.unpriced.get(why, 0) + 1
