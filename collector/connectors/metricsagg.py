"""Signal-independent metric aggregation for connectors that derive metrics from what passes through them
(span_metrics, llm_metrics): a table of series keyed by (resource key, attribute key) per instrument, sums
and explicit-bucket or base-2 exponential histograms, cumulative or delta temporality with the start times
otelcol gives, a cardinality cap per instrument and resource with one overflow series
(`otel.metric.overflow: true`), exemplars, expiry of series not updated for a while, and `collect()` which
builds one OTLP ExportMetricsServiceRequest. `Flusher` calls a coroutine every interval.

It knows nothing of spans or conventions: the caller computes keys and attribute values. Attribute values
are Python values (str, int, float, bool, bytes, lists, dicts) or OTLP AnyValue messages; resource
attributes are OTLP KeyValue messages (copied when a resource is first seen).

The timestamps follow contrib's connector/spanmetricsconnector (connector.go buildMetrics): a cumulative
point's start is when its series was first recorded, a delta point's start the previous flush that emitted
the series (else its first record), so successive points form an uninterrupted stream."""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ..ottl.values import to_any

OVERFLOW_KEY = "otel.metric.overflow"
_OVERFLOW = object()  # the series key of the overflow series
DEFAULT_EXPONENTIAL_MAX_SIZE = 160  # go-expohisto's DefaultMaxSize, as contrib
_MAX_SCALE = 20  # go-expohisto's DefaultMaxScale: where an empty exponential histogram starts

Attributes = Sequence[tuple[str, Any]]


class Temporality(IntEnum):
    """OTLP AggregationTemporality values."""

    DELTA = 1
    CUMULATIVE = 2


@dataclass(frozen=True)
class Explicit:
    """Explicit-bucket histogram: `bounds` are the ascending upper bounds (a value equal to a bound falls in
    that bound's bucket, as Go's sort.SearchFloat64s), with one more bucket above the last."""

    bounds: tuple[float, ...]


@dataclass(frozen=True)
class Exponential:
    """Base-2 exponential histogram holding at most `max_size` buckets per sign (go-expohisto's rules:
    start at scale 20, halve the resolution as often as needed to fit)."""

    max_size: int = DEFAULT_EXPONENTIAL_MAX_SIZE


@dataclass(frozen=True)
class Exemplar:
    trace_id: bytes
    span_id: bytes
    value: float


# Series states -------------------------------------------------------------------------------------------


class _Series:
    __slots__ = ("attributes", "start", "last_seen", "exemplars")

    def __init__(self, attributes: Attributes, now: int):
        self.attributes = attributes
        self.start = now
        self.last_seen = now
        self.exemplars: list[Exemplar] = []


class _SumState(_Series):
    __slots__ = ("value",)

    def __init__(self, attributes: Attributes, now: int):
        super().__init__(attributes, now)
        self.value: float = 0


class _ExplicitState(_Series):
    __slots__ = ("counts", "count", "sum")

    def __init__(self, attributes: Attributes, now: int, buckets: int):
        super().__init__(attributes, now)
        self.counts = [0] * buckets
        self.count = 0
        self.sum = 0.0


class ExponentialState:
    """One base-2 exponential histogram (OTel's exponential histogram data model; go-expohisto's behaviour
    for scale changes). `positive`/`negative` map bucket index -> count at the current `scale`."""

    __slots__ = ("max_size", "scale", "positive", "negative", "zero_count", "count", "sum", "min", "max")

    def __init__(self, max_size: int = DEFAULT_EXPONENTIAL_MAX_SIZE):
        self.max_size = max_size
        self.scale = _MAX_SCALE
        self.positive: dict[int, int] = {}
        self.negative: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if value == 0 or not math.isfinite(value):
            self.zero_count += value == 0
            return
        buckets = self.positive if value > 0 else self.negative
        index = map_to_index(abs(value), self.scale)
        if index not in buckets and buckets:
            low, high = min(min(buckets), index), max(max(buckets), index)
            change = 0
            while (high >> change) - (low >> change) + 1 > self.max_size:
                change += 1
            if change:
                self._downscale(change)
                index >>= change
                buckets = self.positive if value > 0 else self.negative
        buckets[index] = buckets.get(index, 0) + 1

    def _downscale(self, change: int) -> None:
        self.scale -= change
        for name in ("positive", "negative"):
            merged: dict[int, int] = {}
            for index, n in getattr(self, name).items():
                merged[index >> change] = merged.get(index >> change, 0) + n
            setattr(self, name, merged)

    @staticmethod
    def dense(buckets: dict[int, int]) -> tuple[int, list[int]]:
        """(offset, counts) of one sign's buckets, contiguous from the lowest index."""
        if not buckets:
            return 0, []
        low, high = min(buckets), max(buckets)
        return low, [buckets.get(i, 0) for i in range(low, high + 1)]


def map_to_index(value: float, scale: int) -> int:
    """The bucket index of a positive finite `value` at `scale` (the OTel data model's MapToIndex: bucket
    `i` holds (base**i, base**(i+1)], base = 2**(2**-scale); exact powers of two handled exactly)."""
    mantissa, exp = math.frexp(value)  # value = mantissa * 2**exp, mantissa in [0.5, 1)
    if scale <= 0:
        return ((exp - 1) - (1 if mantissa == 0.5 else 0)) >> -scale
    if mantissa == 0.5:
        return ((exp - 1) << scale) - 1
    return math.ceil(math.log2(value) * (1 << scale)) - 1


class _ExponentialSeries(_Series):
    __slots__ = ("histogram",)

    def __init__(self, attributes: Attributes, now: int, max_size: int):
        super().__init__(attributes, now)
        self.histogram = ExponentialState(max_size)


# Instruments ----------------------------------------------------------------------------------------------


class Instrument:
    """One metric the aggregator emits: its series per resource key, by attribute key."""

    def __init__(self, agg: Aggregator, name: str, description: str, unit: str):
        self.agg = agg
        self.name = name
        self.description = description
        self.unit = unit

    def _series(self, resource: Resource, key: Hashable, attributes: Attributes | Callable[[], Attributes], now: int) -> Any:
        table = resource.series.get(self)
        if table is None:
            table = resource.series[self] = {}
        series = table.get(key)
        if series is None:
            limit = self.agg.cardinality_limit
            if limit and len(table) >= limit:
                key = _OVERFLOW
                series = table.get(key)
                if series is None:
                    series = table[key] = self._new(((OVERFLOW_KEY, True),), now)
                    resource.overflowed = True
            else:
                series = table[key] = self._new(attributes() if callable(attributes) else attributes, now)
        series.last_seen = now
        resource.last_seen = now
        return series

    def _new(self, attributes: Attributes, now: int) -> Any:
        raise NotImplementedError

    def _exemplar(self, series: _Series, exemplar: Exemplar | None) -> None:
        if exemplar is not None and self.agg.exemplars:
            cap = self.agg.max_exemplars
            if cap is None or len(series.exemplars) < cap:
                series.exemplars.append(exemplar)

    def fill(self, metric: Any, table: dict[Hashable, Any], now: int, start_of: Callable[[Hashable, Any], int]) -> None:
        raise NotImplementedError


class Sum(Instrument):
    """A monotonic sum; `integer` picks as_int or as_double points."""

    def __init__(self, agg: Aggregator, name: str, description: str, unit: str, integer: bool):
        super().__init__(agg, name, description, unit)
        self.integer = integer

    def _new(self, attributes: Attributes, now: int) -> _SumState:
        return _SumState(attributes, now)

    def add(self, resource: Resource, key: Hashable, attributes: Attributes | Callable[[], Attributes], value: float = 1,
            exemplar: Exemplar | None = None, now: int | None = None) -> None:
        """Adds `value` to the series `key` of `resource` (attributes: its attributes, or a function giving
        them, called only when the series is new)."""
        series = self._series(resource, key, attributes, self.agg.clock() if now is None else now)
        series.value += value
        self._exemplar(series, exemplar)

    def fill(self, metric: Any, table: dict[Hashable, Any], now: int, start_of: Callable[[Hashable, Any], int]) -> None:
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = self.agg.temporality
        for key, series in table.items():
            dp = metric.sum.data_points.add(start_time_unix_nano=start_of(key, series), time_unix_nano=now)
            if self.integer:
                dp.as_int = int(series.value)
            else:
                dp.as_double = float(series.value)
            _put_attributes(dp.attributes, series.attributes)
            _put_exemplars(dp.exemplars, series.exemplars, now)


class Histogram(Instrument):
    """A histogram of recorded values: explicit buckets or exponential."""

    def __init__(self, agg: Aggregator, name: str, description: str, unit: str, buckets: Explicit | Exponential):
        super().__init__(agg, name, description, unit)
        self.buckets = buckets
        self.bounds = list(buckets.bounds) if isinstance(buckets, Explicit) else []

    def _new(self, attributes: Attributes, now: int) -> _Series:
        if isinstance(self.buckets, Explicit):
            return _ExplicitState(attributes, now, len(self.bounds) + 1)
        return _ExponentialSeries(attributes, now, self.buckets.max_size)

    def record(self, resource: Resource, key: Hashable, attributes: Attributes | Callable[[], Attributes], value: float,
               exemplar: Exemplar | None = None, now: int | None = None) -> None:
        series = self._series(resource, key, attributes, self.agg.clock() if now is None else now)
        if isinstance(series, _ExplicitState):
            series.count += 1
            series.sum += value
            series.counts[bisect_left(self.bounds, value)] += 1
        else:
            series.histogram.observe(value)
        self._exemplar(series, exemplar)

    def fill(self, metric: Any, table: dict[Hashable, Any], now: int, start_of: Callable[[Hashable, Any], int]) -> None:
        if isinstance(self.buckets, Explicit):
            metric.histogram.aggregation_temporality = self.agg.temporality
            for key, series in table.items():
                dp = metric.histogram.data_points.add(start_time_unix_nano=start_of(key, series), time_unix_nano=now,
                                                      count=series.count, sum=series.sum)
                dp.explicit_bounds.extend(self.bounds)
                dp.bucket_counts.extend(series.counts)
                _put_attributes(dp.attributes, series.attributes)
                _put_exemplars(dp.exemplars, series.exemplars, now)
            return
        metric.exponential_histogram.aggregation_temporality = self.agg.temporality
        for key, series in table.items():
            h = series.histogram
            edp = metric.exponential_histogram.data_points.add(start_time_unix_nano=start_of(key, series), time_unix_nano=now,
                                                               count=h.count, sum=h.sum, scale=h.scale, zero_count=h.zero_count)
            if h.count:
                edp.min, edp.max = h.min, h.max
            for half, buckets in ((edp.positive, h.positive), (edp.negative, h.negative)):
                offset, counts = ExponentialState.dense(buckets)
                half.offset = offset
                half.bucket_counts.extend(counts)
            _put_attributes(edp.attributes, series.attributes)
            _put_exemplars(edp.exemplars, series.exemplars, now)


def _put_attributes(out: Any, attributes: Attributes) -> None:
    for key, value in attributes:
        kv = out.add(key=key)
        if isinstance(value, AnyValue):
            kv.value.CopyFrom(value)
        else:
            to_any(value, kv.value)


def _put_exemplars(out: Any, exemplars: list[Exemplar], now: int) -> None:
    for e in exemplars:
        out.add(time_unix_nano=now, as_double=e.value, trace_id=e.trace_id, span_id=e.span_id)


# The aggregator -------------------------------------------------------------------------------------------


class Resource:
    """The series of one resource key: its attributes (the first seen with that key) and, per instrument,
    attribute key -> series."""

    __slots__ = ("attributes", "series", "last_seen", "overflowed")

    def __init__(self, attributes: Iterable[KeyValue], now: int):
        self.attributes = [KeyValue(key=kv.key, value=kv.value) for kv in attributes]
        self.series: dict[Instrument, dict[Hashable, Any]] = {}
        self.last_seen = now
        self.overflowed = False


class Aggregator:
    """The series table of one connector instance.

    temporality: what `collect` emits; delta clears every series after each collect.
    cardinality_limit: series per instrument and resource before new attribute sets go to the overflow
      series (0: unlimited).
    expiration_ns: cumulative series not recorded for that long are dropped at collect (0: never).
    resource_expiration_ns: likewise whole resources, by their last record in any series (0: never).
    exemplars / max_exemplars: keep exemplars (at most that many per point and flush; None: no cap).
    delta_timestamp_cache_size: how many series' last delta flush times are remembered (an LRU, as
      contrib's metric_timestamp_cache_size)."""

    def __init__(self, *, scope_name: str, scope_version: str = "", temporality: Temporality = Temporality.CUMULATIVE,
                 cardinality_limit: int = 0, expiration_ns: int = 0, resource_expiration_ns: int = 0, exemplars: bool = False, max_exemplars: int | None = None,
                 delta_timestamp_cache_size: int = 1000, clock: Callable[[], int] = time.time_ns):
        self.scope_name = scope_name
        self.scope_version = scope_version
        self.temporality = Temporality(temporality)
        self.cardinality_limit = cardinality_limit
        self.expiration_ns = expiration_ns
        self.resource_expiration_ns = resource_expiration_ns
        self.exemplars = exemplars
        self.max_exemplars = max_exemplars
        self.delta_cache_size = delta_timestamp_cache_size
        self.clock = clock
        self.instruments: list[Instrument] = []
        self.resources: dict[Hashable, Resource] = {}
        self._last_delta: OrderedDict[tuple[Hashable, str, Hashable], int] = OrderedDict()

    def sum(self, name: str, description: str = "", unit: str = "", integer: bool = True) -> Sum:
        instrument = Sum(self, name, description, unit, integer)
        self.instruments.append(instrument)
        return instrument

    def histogram(self, name: str, buckets: Explicit | Exponential, description: str = "", unit: str = "") -> Histogram:
        instrument = Histogram(self, name, description, unit, buckets)
        self.instruments.append(instrument)
        return instrument

    def resource(self, key: Hashable, attributes: Iterable[KeyValue] | Callable[[], Iterable[KeyValue]], now: int | None = None) -> Resource:
        """The resource of `key`, made with `attributes` (or what the function gives) when new."""
        found = self.resources.get(key)
        if found is None:
            found = self.resources[key] = Resource(attributes() if callable(attributes) else attributes,
                                                   self.clock() if now is None else now)
        return found

    def series_count(self) -> int:
        return sum(len(t) for r in self.resources.values() for t in r.series.values())

    def collect(self, now: int | None = None) -> ExportMetricsServiceRequest | None:
        """Every series as one request (None when there is none), then: delta clears the table; cumulative
        drops expired series and clears exemplars."""
        now = self.clock() if now is None else now
        out = ExportMetricsServiceRequest()
        delta = self.temporality is Temporality.DELTA
        emitted: list[tuple[Hashable, str, Hashable]] = []
        for rkey, resource in self.resources.items():
            if not any(resource.series.values()):
                continue
            rm = out.resource_metrics.add()
            rm.resource.attributes.extend(resource.attributes)
            sm = rm.scope_metrics.add()
            sm.scope.name = self.scope_name
            sm.scope.version = self.scope_version
            for instrument in self.instruments:
                table = resource.series.get(instrument)
                if not table:
                    continue
                metric = sm.metrics.add(name=instrument.name, description=instrument.description, unit=instrument.unit)

                def start_of(key: Hashable, series: Any, rkey: Hashable = rkey, name: str = instrument.name) -> int:
                    if not delta:
                        return series.start
                    ident = (rkey, name, key)
                    emitted.append(ident)
                    return self._last_delta.get(ident, series.start)

                instrument.fill(metric, table, now, start_of)
        for ident in emitted:
            self._last_delta[ident] = now
            self._last_delta.move_to_end(ident)
        while len(self._last_delta) > self.delta_cache_size:
            self._last_delta.popitem(last=False)
        self._reset(now)
        return out if out.resource_metrics else None

    def _reset(self, now: int) -> None:
        if self.temporality is Temporality.DELTA:
            self.resources.clear()
            return
        for rkey, resource in list(self.resources.items()):
            if self.resource_expiration_ns and now - resource.last_seen >= self.resource_expiration_ns:
                del self.resources[rkey]
                continue
            for table in resource.series.values():
                for key, series in list(table.items()):
                    if self.expiration_ns and now - series.last_seen >= self.expiration_ns:
                        del table[key]
                    else:
                        series.exemplars.clear()
            if self.expiration_ns and not any(resource.series.values()):
                del self.resources[rkey]


class Flusher:
    """Calls `flush` every `interval` seconds from `start` until `stop`; a failing flush is logged by
    `on_error` and the next tick comes as usual."""

    def __init__(self, interval: float, flush: Callable[[], Awaitable[None]], on_error: Callable[[BaseException], None]):
        self.interval = interval
        self.flush = flush
        self.on_error = on_error
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.interval
        while True:
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick += self.interval
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (a downstream failure must not stop the ticker)
                self.on_error(exc)
