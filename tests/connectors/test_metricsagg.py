"""collector/connectors/metricsagg.py: the series table shared by metric-deriving connectors. The timestamp,
overflow and bucket rules follow contrib's connector/spanmetricsconnector (connector.go buildMetrics,
internal/metrics/metrics.go GetOrCreate / Observe / IsCardinalityLimitReached); the exponential index
mapping follows the OTel metrics data model (MapToIndex)."""

from __future__ import annotations

import asyncio
import math

import pytest

from collector.connectors.metricsagg import (
    OVERFLOW_KEY,
    Aggregator,
    Exemplar,
    Explicit,
    Exponential,
    ExponentialState,
    Flusher,
    Temporality,
    map_to_index,
)
from collector.testing import kv


def attrs(dp):
    out = {}
    for a in dp.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind else None
    return out


def only_metric(request, name):
    found = [m for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name]
    assert len(found) == 1
    return found[0]


def make(**kw):
    agg = Aggregator(scope_name="test", **kw)
    calls = agg.sum("calls")
    duration = agg.histogram("duration", Explicit((2.0, 4.0, 10.0)), unit="ms")
    return agg, calls, duration


def test_sums_and_explicit_buckets_by_key_and_resource():
    agg, calls, duration = make()
    r1 = agg.resource("a", [kv("service.name", "a")], now=100)
    r2 = agg.resource("b", [kv("service.name", "b")], now=100)
    for value in (1.0, 2.0, 3.0, 11.0):  # 2.0 sits in the (..,2] bucket: bounds are upper-inclusive
        calls.add(r1, ("x",), [("k", "x")], now=100)
        duration.record(r1, ("x",), [("k", "x")], value, now=100)
    calls.add(r2, ("y",), lambda: [("k", "y"), ("n", 3)], 5, now=150)
    out = agg.collect(now=200)
    assert [dict((a.key, a.value.string_value) for a in rm.resource.attributes) for rm in out.resource_metrics] == [
        {"service.name": "a"}, {"service.name": "b"}]
    assert out.resource_metrics[0].scope_metrics[0].scope.name == "test"
    c = out.resource_metrics[0].scope_metrics[0].metrics[0]
    assert c.name == "calls" and c.sum.is_monotonic and c.sum.aggregation_temporality == Temporality.CUMULATIVE
    assert [(dp.as_int, dp.start_time_unix_nano, dp.time_unix_nano, attrs(dp)) for dp in c.sum.data_points] == [(4, 100, 200, {"k": "x"})]
    h = out.resource_metrics[0].scope_metrics[0].metrics[1]
    assert h.unit == "ms"
    (dp,) = h.histogram.data_points
    assert list(dp.explicit_bounds) == [2.0, 4.0, 10.0] and list(dp.bucket_counts) == [2, 1, 0, 1]
    assert dp.count == 4 and dp.sum == 17.0
    second = out.resource_metrics[1].scope_metrics[0].metrics
    assert [m.name for m in second] == ["calls"]  # no histogram recorded there: no empty metric
    assert attrs(second[0].sum.data_points[0]) == {"k": "y", "n": 3} and second[0].sum.data_points[0].as_int == 5


def test_cumulative_keeps_start_and_accumulates():
    agg, calls, _ = make()
    r = agg.resource("a", [], now=10)
    calls.add(r, 1, [], now=10)
    agg.collect(now=20)
    calls.add(r, 1, [], now=25)
    dp = only_metric(agg.collect(now=30), "calls").sum.data_points[0]
    assert (dp.as_int, dp.start_time_unix_nano, dp.time_unix_nano) == (2, 10, 30)
    dp = only_metric(agg.collect(now=40), "calls").sum.data_points[0]  # cumulative: repeated without new data
    assert (dp.as_int, dp.start_time_unix_nano) == (2, 10)


def test_delta_resets_and_starts_at_previous_flush():
    # connector.go buildMetrics: delta points go (T1, T2), (T2, T3), ...
    agg, calls, _ = make(temporality=Temporality.DELTA)
    r = agg.resource("a", [], now=10)
    calls.add(r, 1, [], now=10)
    dp = only_metric(agg.collect(now=20), "calls").sum.data_points[0]
    assert (dp.as_int, dp.start_time_unix_nano, dp.time_unix_nano) == (1, 10, 20)
    assert agg.collect(now=30) is None  # nothing new: nothing emitted
    r = agg.resource("a", [], now=35)
    calls.add(r, 1, [], now=35)
    calls.add(r, 1, [], now=36)
    m = only_metric(agg.collect(now=40), "calls")
    assert m.sum.aggregation_temporality == Temporality.DELTA
    dp = m.sum.data_points[0]
    assert (dp.as_int, dp.start_time_unix_nano, dp.time_unix_nano) == (2, 20, 40)


def test_delta_timestamp_cache_is_bounded():
    agg, calls, _ = make(temporality=Temporality.DELTA, delta_timestamp_cache_size=1)
    r = agg.resource("a", [], now=1)
    calls.add(r, "x", [], now=1)
    calls.add(r, "y", [], now=1)
    agg.collect(now=5)
    r = agg.resource("a", [], now=6)
    calls.add(r, "x", [("k", "x")], now=6)
    calls.add(r, "y", [("k", "y")], now=6)
    starts = {attrs(dp)["k"]: dp.start_time_unix_nano for dp in only_metric(agg.collect(now=9), "calls").sum.data_points}
    assert starts == {"x": 6, "y": 5}  # x's last flush was evicted: it starts at its first record again


def test_cardinality_limit_overflow_series():
    # internal/metrics/metrics.go: once a table holds `limit` series, new keys go to one series whose only
    # attribute is otel.metric.overflow=true; known keys keep their own.
    agg, calls, duration = make(cardinality_limit=2)
    r = agg.resource("a", [], now=1)
    for name in ("a", "b", "c", "d", "a"):
        calls.add(r, name, [("k", name)], now=1)
        duration.record(r, name, [("k", name)], 3.0, now=1)
    out = agg.collect(now=2)
    points = [(attrs(dp), dp.as_int) for dp in only_metric(out, "calls").sum.data_points]
    assert points == [({"k": "a"}, 2), ({"k": "b"}, 1), ({OVERFLOW_KEY: True}, 2)]
    assert [(attrs(dp), dp.count) for dp in only_metric(out, "duration").histogram.data_points] == [
        ({"k": "a"}, 2), ({"k": "b"}, 1), ({OVERFLOW_KEY: True}, 2)]
    assert agg.series_count() == 6


def test_cardinality_limit_is_per_resource():
    agg, calls, _ = make(cardinality_limit=1)
    for rkey in ("r1", "r2"):
        r = agg.resource(rkey, [], now=1)
        calls.add(r, "a", [("k", "a")], now=1)
    points = [attrs(dp) for rm in agg.collect(now=2).resource_metrics for dp in rm.scope_metrics[0].metrics[0].sum.data_points]
    assert points == [{"k": "a"}, {"k": "a"}]


def test_expiration_drops_stale_cumulative_series():
    agg, calls, _ = make(expiration_ns=100)
    r = agg.resource("a", [], now=0)
    calls.add(r, "old", [("k", "old")], now=0)
    calls.add(r, "new", [("k", "new")], now=90)
    assert len(only_metric(agg.collect(now=100), "calls").sum.data_points) == 2  # emitted, then "old" expires
    assert [attrs(dp) for dp in only_metric(agg.collect(now=150), "calls").sum.data_points] == [{"k": "new"}]
    assert len(only_metric(agg.collect(now=190), "calls").sum.data_points) == 1  # last emitted, then expires
    assert agg.collect(now=200) is None and agg.resources == {}


def test_exemplars_capped_and_cleared_each_flush():
    agg, calls, duration = make(exemplars=True, max_exemplars=2)
    r = agg.resource("a", [], now=1)
    for i in range(3):
        duration.record(r, "k", [], float(i), Exemplar(bytes([i]) * 16, bytes([i]) * 8, float(i)), now=1)
    dp = only_metric(agg.collect(now=5), "duration").histogram.data_points[0]
    assert [(e.as_double, e.trace_id, e.time_unix_nano) for e in dp.exemplars] == [(0.0, bytes(16), 5), (1.0, b"\x01" * 16, 5)]
    assert list(only_metric(agg.collect(now=6), "duration").histogram.data_points[0].exemplars) == []


def test_exemplars_off_by_default():
    agg, calls, _ = make()
    r = agg.resource("a", [], now=1)
    calls.add(r, "k", [], 1, Exemplar(bytes(16), bytes(8), 1.0), now=1)
    assert list(only_metric(agg.collect(now=2), "calls").sum.data_points[0].exemplars) == []


def test_double_sums():
    agg = Aggregator(scope_name="s")
    cost = agg.sum("cost", integer=False)
    r = agg.resource("a", [])
    cost.add(r, "k", [], 0.25)
    cost.add(r, "k", [], 0.5)
    assert only_metric(agg.collect(), "cost").sum.data_points[0].as_double == 0.75


@pytest.mark.parametrize(("value", "scale", "index"), [
    (1.0, 0, -1), (2.0, 0, 0), (3.0, 0, 1), (4.0, 0, 1), (4.5, 0, 2),  # bucket i holds (2**i, 2**(i+1)]
    (2.0, 1, 1), (1.5, 1, 1), (1.4, 1, 0), (4.0, -1, 0), (9.0, -1, 1), (1.0, 20, -1), (0.5, 0, -2),
])
def test_map_to_index(value, scale, index):
    assert map_to_index(value, scale) == index
    base = 2.0 ** (2.0 ** -scale)
    assert base ** index < value * (1 + 1e-12) and value <= base ** (index + 1) * (1 + 1e-12)


def test_exponential_downscales_to_fit_max_size():
    h = ExponentialState(max_size=4)
    for v in (1.0, 2.0, 4.0, 8.0, 16.0, 0.0):
        h.observe(v)
    assert h.count == 6 and h.sum == 31.0 and h.zero_count == 1 and (h.min, h.max) == (0.0, 16.0)
    offset, counts = ExponentialState.dense(h.positive)
    assert len(counts) <= 4 and sum(counts) == 5
    base = 2.0 ** (2.0 ** -h.scale)
    for v in (1.0, 2.0, 4.0, 8.0, 16.0):  # every value lies in the bucket its index names
        i = map_to_index(v, h.scale) - offset
        assert 0 <= i < len(counts) and counts[i] >= 1
    assert h.scale <= 0 and base >= 2


def test_exponential_single_value_keeps_max_scale_and_emits():
    agg = Aggregator(scope_name="s", temporality=Temporality.DELTA)
    d = agg.histogram("d", Exponential(160), unit="ms")
    r = agg.resource("a", [], now=1)
    d.record(r, "k", [], 3.0, now=1)
    d.record(r, "k", [], 3000.0, now=1)
    m = only_metric(agg.collect(now=2), "d")
    dp = m.exponential_histogram.data_points[0]
    assert m.exponential_histogram.aggregation_temporality == Temporality.DELTA
    assert dp.count == 2 and dp.sum == 3003.0 and (dp.min, dp.max) == (3.0, 3000.0)
    assert sum(dp.positive.bucket_counts) == 2 and len(dp.positive.bucket_counts) <= 160
    # the largest scale at which 3 and 3000 fit in 160 buckets
    assert (map_to_index(3000.0, dp.scale) - map_to_index(3.0, dp.scale)) < 160 <= (
        map_to_index(3000.0, dp.scale + 1) - map_to_index(3.0, dp.scale + 1)) + 1
    assert math.isclose(dp.sum, 3003.0)


def test_flusher_ticks_and_survives_errors():
    calls: list[int] = []
    errors: list[BaseException] = []

    async def flush() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("downstream refused")

    async def main() -> None:
        f = Flusher(0.01, flush, errors.append)
        f.start()
        await asyncio.sleep(0.08)
        await f.stop()
        n = len(calls)
        await asyncio.sleep(0.03)
        assert len(calls) == n

    asyncio.run(main())
    assert len(calls) >= 3 and len(errors) == 1
