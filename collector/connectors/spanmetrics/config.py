"""span_metrics' configuration (contrib connector/spanmetricsconnector config.go and factory.go
createDefaultConfig): the dimensions added to the default ones, the histogram, temporality, flush interval,
expiry, exemplars, span events, instrumentation scope and the cardinality limit, with contrib's defaults
and Validate checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...config import Duration, Invalid, option

SERVICE_NAME, SPAN_NAME, SPAN_KIND, STATUS_CODE = "service.name", "span.name", "span.kind", "status.code"
RESERVED = (SERVICE_NAME, SPAN_KIND, STATUS_CODE, SPAN_NAME)
DEFAULT_NAMESPACE = "traces.span.metrics"
DEFAULT_BUCKETS_MS = (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000)
UNIT_NANOS = {"ms": 1e6, "s": 1e9}
DELTA, CUMULATIVE = "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"


@dataclass
class Dimension:
    name: str = option("", "The attribute: the span's (or event's), else its resource's.")
    default: str | None = option(None, "The value used when neither has it; without one, the dimension is left out of that series.")


@dataclass
class ExplicitConfig:
    buckets: list[Duration] | None = option(None, "The bucket upper bounds as durations (default 2ms, 4ms, 6ms, 8ms, 10ms, 50ms, 100ms, 200ms, 400ms, 800ms, 1s, 1400ms, 2s, 5s, 10s, 15s).")


@dataclass
class ExponentialConfig:
    max_size: int = option(0, "The most buckets per sign (0: 160, go-expohisto's default).")


@dataclass
class HistogramConfig:
    disable: bool = option(False, "Emit no duration histogram.")
    unit: Literal["ms", "s"] = option("ms", "The unit durations are recorded in.")
    explicit: ExplicitConfig | None = option(None, "Explicit-bucket histogram (the default kind).")
    exponential: ExponentialConfig | None = option(None, "Base-2 exponential histogram instead (present, even empty, selects it).")
    dimensions: list[Dimension] = option(factory=list, doc="Dimensions added to the duration histogram only.")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> HistogramConfig:
        if isinstance(value, dict):  # `exponential:` written with no settings selects it (configoptional)
            value = {k: ({} if k in ("explicit", "exponential") and v is None else v) for k, v in value.items()}
        return decoder.decode_fields(cls, value, path)


@dataclass
class ExemplarsConfig:
    enabled: bool = option(False, "Attach the spans as exemplars (trace and span id, duration) to the points of each flush.")
    max_per_data_point: int = option(5, "The most exemplars per data point and flush (0: no limit).")


@dataclass
class EventsConfig:
    enabled: bool = option(False, "Count span events into `<namespace>.events`.")
    dimensions: list[Dimension] = option(factory=list, doc="Dimensions of the events metric, looked up in the span, then the event and its resource (required when enabled).")


@dataclass
class SpanMetricsConfig:
    dimensions: list[Dimension] = option(factory=list, doc="Dimensions added to service.name, span.name, span.kind, status.code and collector.instance.id (the daemon's service.instance.id) on every metric.")
    calls_dimensions: list[Dimension] = option(factory=list, doc="Dimensions added to the calls metric only.")
    exclude_dimensions: list[str] = option(factory=list, doc="Default dimensions to leave out (service.name, span.name, span.kind, status.code, collector.instance.id).")
    dimensions_cache_size: int | None = option(None, "Accepted, no effect here (contrib deprecated it for aggregation_cardinality_limit): a series' attributes are built once, when it is created.")
    resource_metrics_cache_size: int | None = option(None, "Accepted, no effect here: resources are not evicted by count; use metrics_expiration and aggregation_cardinality_limit.")
    resource_metrics_key_attributes: list[str] = option(factory=list, doc="Resource attributes that identify a resource's metrics (default: all of them), so that others changing (e.g. across restarts) do not start new series.")
    aggregation_temporality: Literal["AGGREGATION_TEMPORALITY_CUMULATIVE", "AGGREGATION_TEMPORALITY_DELTA"] = option(
        CUMULATIVE, "Cumulative: counts since a series began; delta: since the previous flush (the series restart after each flush).")
    histogram: HistogramConfig = option(factory=HistogramConfig, doc="The duration histogram.")
    metrics_flush_interval: Duration = option(Duration(60.0), "How often the metrics are emitted to the metrics pipelines.")
    metrics_expiration: Duration = option(Duration(0.0), "Drop a resource's metrics when it sent no span for this long (0: never).")
    series_expiration: Duration = option(Duration(0.0), "Drop a series when no span updated it for this long (0: never).")
    metric_timestamp_cache_size: int = option(1000, "Delta: how many series remember their last flush time (their next start time).")
    namespace: str = option(DEFAULT_NAMESPACE, "The metric name prefix: `<namespace>.calls`, `<namespace>.duration`, `<namespace>.events`.")
    exemplars: ExemplarsConfig = option(factory=ExemplarsConfig, doc="Exemplars on the data points.")
    events: EventsConfig = option(factory=EventsConfig, doc="The span events counter.")
    include_instrumentation_scope: list[str] = option(factory=list, doc="Instrumentation scope names whose spans get span.instrumentation.scope.name and .version dimensions.")
    aggregation_cardinality_limit: int = option(0, "Series per metric and resource; spans of further attribute sets go to one series with the only attribute otel.metric.overflow=true (0: no limit).")
    add_resource_attributes: bool = option(False, "Copy the resource attributes onto the metrics' resource. They are copied either way here, as in contrib while its connector.spanmetrics.excludeResourceMetrics gate is off (its default).")
    enable_metrics_sampling_method: bool = option(False, "Accepted, no effect here: no sampling.method attribute is added.")

    def validate(self) -> None:
        seen = set(RESERVED)
        for i, d in enumerate(self.dimensions):
            if d.name in seen:
                raise Invalid(f"failed validating dimensions: duplicate dimension name {d.name}", ("dimensions", i, "name"))
            seen.add(d.name)
        if self.events.enabled:
            if not self.events.dimensions:
                raise Invalid("failed validating event dimensions: no dimensions configured for events", ("events", "dimensions"))
            seen = set(RESERVED)
            for i, d in enumerate(self.events.dimensions):
                if d.name in seen:
                    raise Invalid(f"failed validating event dimensions: duplicate dimension name {d.name}", ("events", "dimensions", i, "name"))
                seen.add(d.name)
        if self.histogram.explicit is not None and self.histogram.exponential is not None:
            raise Invalid("use either `explicit` or `exponential` buckets histogram", ("histogram",))
        if self.aggregation_temporality == DELTA and self.metric_timestamp_cache_size <= 0:
            raise Invalid(f"invalid delta timestamp cache size: {self.metric_timestamp_cache_size}, the maximum number of the items in the cache should be positive",
                          ("metric_timestamp_cache_size",))
        if self.aggregation_cardinality_limit < 0:
            raise Invalid(f"invalid aggregation_cardinality_limit: {self.aggregation_cardinality_limit}, the limit should be positive",
                          ("aggregation_cardinality_limit",))
        if self.exemplars.max_per_data_point < 0:
            raise Invalid("max_per_data_point must not be negative", ("exemplars", "max_per_data_point"))
        if self.histogram.exponential is not None and self.histogram.exponential.max_size < 0:
            raise Invalid("max_size must not be negative", ("histogram", "exponential", "max_size"))
        if self.metrics_flush_interval <= 0:
            raise Invalid("metrics_flush_interval must be positive", ("metrics_flush_interval",))

    def buckets(self) -> tuple[float, ...]:
        """The explicit bounds in the histogram's unit."""
        divider = UNIT_NANOS[self.histogram.unit]
        if self.histogram.explicit is not None and self.histogram.explicit.buckets is not None:
            return tuple(round(float(b) * 1e9) / divider for b in self.histogram.explicit.buckets)
        return tuple(float(b) if self.histogram.unit == "ms" else b / 1000 for b in DEFAULT_BUCKETS_MS)
