"""The span_metrics connector (contrib connector/spanmetricsconnector connector.go): request, error and
duration (R.E.D.) metrics from spans — `<namespace>.calls` (a monotonic sum), `<namespace>.duration` (a
histogram in ms or s) and, with `events`, `<namespace>.events` — by service.name, span.name, span.kind,
status.code, collector.instance.id and the configured dimensions, one resource of metrics per span resource (resources without
service.name are skipped, as contrib's).

As contrib's, spans are aggregated when they arrive and the caller is answered at once; the metrics go to
the metrics pipelines every metrics_flush_interval, and a refusal there is logged (cumulative totals are
emitted again at the next flush; delta counts of a refused flush are lost, as in contrib). Calls count a
span by its adjusted count when its W3C tracestate carries an OTel sampling threshold (`ot=th:`), rounded
stochastically (internal/metrics/adjusted_count.go).

Spans are read as summaries of their wire bytes (collector/wire/span_summary.py): no Span messages are
built, and attribute values stay bytes, which key the series directly."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ...component import Connector, PermanentError, Rejected, Signal
from ...envelope import Envelope
from ...processors.probabilistic_sampler.sampling import TraceState, threshold_probability
from ...registry import register
from ...wire import span_summary
from ..metricsagg import Aggregator, Exemplar, Explicit, Exponential, Flusher, Temporality
from .config import CUMULATIVE, SERVICE_NAME, SPAN_KIND, SPAN_NAME, STATUS_CODE, UNIT_NANOS, Dimension, SpanMetricsConfig

SCOPE = "spanmetricsconnector"
COLLECTOR_INSTANCE_KEY = "collector.instance.id"
SCOPE_NAME_KEY, SCOPE_VERSION_KEY = "span.instrumentation.scope.name", "span.instrumentation.scope.version"
# traceutil.SpanKindStr / StatusCodeStr: an unknown value is "".
KINDS = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")
STATUSES = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")
_EMPTY_ID = bytes(16)


class _Dims:
    """Optional dimensions compiled: names, and each default as AnyValue bytes (None: no default)."""

    def __init__(self, dims: list[Dimension]):
        self.names = tuple(d.name for d in dims)
        self.defaults = tuple(None if d.default is None else AnyValue(string_value=d.default).SerializeToString() for d in dims)

    def values(self, *maps: Any) -> tuple[bytes | None, ...]:
        """Per dimension: the first map's value holding it, else its default, else None (left out)."""
        out = []
        for name, default in zip(self.names, self.defaults, strict=True):
            for m in maps:
                found = m.get(name)
                if found is not None:
                    out.append(found)
                    break
            else:
                out.append(default)
        return tuple(out)

    def attributes(self, values: tuple[bytes | None, ...]) -> list[tuple[str, Any]]:
        return [(name, AnyValue.FromString(v)) for name, v in zip(self.names, values, strict=True) if v is not None]


def adjusted_count(trace_state: str, rng: Callable[[], float] = random.random) -> int:
    """The spans one span stands for: 1/probability of its `ot=th:` threshold, rounded stochastically; 1
    without a threshold or with a tracestate that does not parse (contrib GetStochasticAdjustedCount)."""
    if not trace_state:
        return 1
    state, error = TraceState.parse(trace_state)
    if error is not None or not state.tvalue:
        return 1
    probability = threshold_probability(state.threshold)
    if probability <= 0:
        return 1
    weight = 1.0 / probability
    whole = int(weight)
    return whole + (1 if rng() < weight - whole else 0)


@register
class SpanMetricsConnector(Connector):
    type_name = "span_metrics"
    deprecated_type_names = ("spanmetrics",)
    description = "Request, error and duration metrics from spans by service, span name, kind, status and configured dimensions (otelcol's span_metrics connector)."
    config_class = SpanMetricsConfig
    pairs = frozenset({(Signal.TRACES, Signal.METRICS)})

    def __init__(self, settings: Any, config: SpanMetricsConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        c = config
        self.agg = Aggregator(
            scope_name=SCOPE,
            temporality=Temporality.CUMULATIVE if c.aggregation_temporality == CUMULATIVE else Temporality.DELTA,
            cardinality_limit=c.aggregation_cardinality_limit,
            expiration_ns=round(c.series_expiration * 1e9),
            resource_expiration_ns=round(c.metrics_expiration * 1e9),
            exemplars=c.exemplars.enabled,
            max_exemplars=c.exemplars.max_per_data_point or None,
            delta_timestamp_cache_size=c.metric_timestamp_cache_size,
        )
        prefix = f"{c.namespace}." if c.namespace else ""
        self.calls = self.agg.sum(prefix + "calls")
        self.duration = None
        if not c.histogram.disable:
            exp = c.histogram.exponential
            buckets = Exponential(exp.max_size or 160) if exp is not None else Explicit(c.buckets())
            self.duration = self.agg.histogram(prefix + "duration", buckets, unit=c.histogram.unit)
        self.events = self.agg.sum(prefix + "events") if c.events.enabled else None
        self.divider = UNIT_NANOS[c.histogram.unit]
        excluded = set(c.exclude_dimensions)
        self.keep = tuple(k not in excluded for k in (SERVICE_NAME, SPAN_NAME, SPAN_KIND, STATUS_CODE))
        # contrib's connector.spanmetrics.includeCollectorInstanceID gate (beta, so on): the collector's own
        # service.instance.id on every series; a random one until start gives the service's (factory.go).
        self.instance_id: str | None = None if COLLECTOR_INSTANCE_KEY in excluded else str(uuid.uuid4())
        self.dims = _Dims(c.dimensions)
        self.calls_dims = _Dims(c.calls_dimensions)
        self.histogram_dims = _Dims(c.histogram.dimensions)
        self.event_dims = _Dims(c.dimensions + c.events.dimensions)
        self.scopes = frozenset(c.include_instrumentation_scope)
        self.needs_attributes = bool(c.dimensions or c.calls_dimensions or c.histogram.dimensions or c.events.enabled)
        self.key_attributes = frozenset(c.resource_metrics_key_attributes)
        self.flusher = Flusher(float(c.metrics_flush_interval), self.flush,
                               lambda exc: self.log.error("failed ConsumeMetrics", error=str(exc)))

    @classmethod
    def ineffective_keys(cls, config: SpanMetricsConfig) -> list[tuple[str, str]]:
        out = []
        if config.dimensions_cache_size is not None:
            out.append(("dimensions_cache_size", "a series' attributes are built once, when it is created (contrib deprecated the key for aggregation_cardinality_limit)"))
        if config.resource_metrics_cache_size is not None:
            out.append(("resource_metrics_cache_size", "resources are not evicted by count here; metrics_expiration and aggregation_cardinality_limit bound them"))
        if config.enable_metrics_sampling_method:
            out.append(("enable_metrics_sampling_method", "no sampling.method attribute is added here"))
        return out

    async def start(self, host: Any) -> None:
        if self.instance_id is not None:
            self.instance_id = host.describe().instance_id or self.instance_id
        self.flusher.start()

    async def shutdown(self) -> None:
        await self.flusher.stop()

    async def flush(self) -> None:
        """Emits every series to the metrics pipelines (nothing when there is none)."""
        request = self.agg.collect()
        if request is None:
            return
        result = await self.next.consume(Envelope(Signal.METRICS, request))
        if result is not None:
            self.log.error("failed ConsumeMetrics", rejected=result.count, error=result.message)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        payload = envelope.wire()
        if payload is None:
            payload = envelope.request.SerializeToString()
            envelope.attach_wire(payload, canonical=True)
        try:
            summary = span_summary.read(payload, attributes=self.needs_attributes)
        except DecodeError:
            raise PermanentError("span_metrics: the request's spans could not be read") from None
        now = self.agg.clock()
        for rs in summary.resource_spans:
            self._resource(rs, now)
        return None

    def _resource_key(self, resource: Any) -> tuple[tuple[str, bytes], ...]:
        pairs = ((kv.key, kv.value.SerializeToString()) for kv in resource.attributes)
        if self.key_attributes:
            return tuple(sorted(p for p in pairs if p[0] in self.key_attributes))
        return tuple(sorted(pairs))

    def _resource(self, rs: Any, now: int) -> None:
        resource = Resource.FromString(rs.resource)
        rattrs = {kv.key: kv.value.SerializeToString() for kv in resource.attributes}
        service = rattrs.get(SERVICE_NAME)
        if service is None:
            return
        service_name = AnyValue.FromString(service).string_value
        res = self.agg.resource(self._resource_key(resource), resource.attributes, now)
        calls, duration, events = self.calls, self.duration, self.events
        keep_service, keep_name, keep_kind, keep_status = self.keep
        dims, calls_dims, histogram_dims = self.dims, self.calls_dims, self.histogram_dims
        exemplars = self.agg.exemplars
        divider = self.divider
        needs_attributes = self.needs_attributes
        for ss in rs.scope_spans:
            scope = (ss.scope.name, ss.scope.version) if ss.scope.name in self.scopes else None
            for span in ss.spans:
                attrs = span.attributes if needs_attributes else None
                base = (service_name if keep_service else None, span.name if keep_name else None,
                        span.kind if keep_kind else None, span.status.code if keep_status else None)
                values = dims.values(attrs, rattrs) if dims.names else ()
                key = (base, values, scope)
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                elapsed = (end - start) / divider if end > start else 0.0
                exemplar = None
                if exemplars:
                    trace_id = span.trace_id
                    if trace_id and trace_id != _EMPTY_ID:
                        exemplar = Exemplar(trace_id, span.span_id, elapsed)
                attributes = _Attributes(self, service_name, span, values, scope)
                if duration is not None:
                    if histogram_dims.names:
                        extra = histogram_dims.values(attrs, rattrs)
                        duration.record(res, (key, extra), attributes.extended(histogram_dims, extra), elapsed, exemplar, now)
                    else:
                        duration.record(res, key, attributes, elapsed, exemplar, now)
                count = adjusted_count(span.trace_state)
                if calls_dims.names:
                    extra = calls_dims.values(attrs, rattrs)
                    calls.add(res, (key, extra), attributes.extended(calls_dims, extra), count, exemplar, now)
                else:
                    calls.add(res, key, attributes, count, exemplar, now)
                if events is not None:
                    for event in span.events:
                        evalues = self.event_dims.values(attrs, event.attributes, rattrs)
                        events.add(res, (base, evalues, scope), _Attributes(self, service_name, span, evalues, scope, self.event_dims),
                                   1, exemplar, now)


class _Attributes:
    """A series' attributes, built only when the aggregator creates the series (contrib buildAttributes)."""

    __slots__ = ("connector", "service", "span", "values", "scope", "dims", "extra")

    def __init__(self, connector: SpanMetricsConnector, service: str, span: Any, values: tuple[bytes | None, ...],
                 scope: tuple[str, str] | None, dims: _Dims | None = None):
        self.connector = connector
        self.service = service
        self.span = span
        self.values = values
        self.scope = scope
        self.dims = dims or connector.dims
        self.extra: tuple[_Dims, tuple[bytes | None, ...]] | None = None

    def extended(self, dims: _Dims, values: tuple[bytes | None, ...]) -> _Attributes:
        out = _Attributes(self.connector, self.service, self.span, self.values, self.scope, self.dims)
        out.extra = (dims, values)
        return out

    def __call__(self) -> list[tuple[str, Any]]:
        keep_service, keep_name, keep_kind, keep_status = self.connector.keep
        span = self.span
        out: list[tuple[str, Any]] = []
        if keep_service:
            out.append((SERVICE_NAME, self.service))
        if keep_name:
            out.append((SPAN_NAME, span.name))
        if keep_kind:
            out.append((SPAN_KIND, KINDS[span.kind] if 0 <= span.kind < len(KINDS) else ""))
        if keep_status:
            code = span.status.code
            out.append((STATUS_CODE, STATUSES[code] if 0 <= code < len(STATUSES) else ""))
        if self.connector.instance_id is not None:
            out.append((COLLECTOR_INSTANCE_KEY, self.connector.instance_id))
        out += self.dims.attributes(self.values)
        if self.extra is not None:
            out += self.extra[0].attributes(self.extra[1])
        if self.scope is not None:
            out += [(SCOPE_NAME_KEY, self.scope[0]), (SCOPE_VERSION_KEY, self.scope[1])]
        return out
