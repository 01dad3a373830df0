"""span_metrics in process: the behaviours of contrib's connector/spanmetricsconnector tests, each test naming
the contrib function it follows (connector_test.go unless said otherwise). The sample trace is contrib's
buildSampleTrace: service-a /ping server and client (OK), service-b /ping server (ERROR), 11 ms each, plus
a resource without service.name, which is skipped. Flushes are called directly instead of waiting for
the ticker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.component import ComponentID, Kind, Rejected, Settings, Signal
from collector.config import Duration
from collector.connectors.metricsagg import OVERFLOW_KEY
from collector.connectors.spanmetrics import SpanMetricsConnector
from collector.connectors.spanmetrics.connector import adjusted_count
from collector.envelope import Envelope
from collector.telemetry import Telemetry
from collector.testing import BuildError, Sink, decode_config, kv, traces_request

MS = 1_000_000
T0 = 1_700_000_000_000_000_000
DIMENSIONS = [
    {"name": "stringAttrName"}, {"name": "intAttrName"}, {"name": "doubleAttrName"}, {"name": "boolAttrName"},
    {"name": "mapAttrName"}, {"name": "arrayAttrName"}, {"name": "nullAttrName", "default": "defaultNullValue"},
    {"name": "shouldBeInMetric", "default": "defaultNotInSpanAttrVal"}, {"name": "shouldNotBeInMetric"}, {"name": "region"},
]


def plain(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {e.key: plain(e.value) for e in value.kvlist_value.values}
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind)


def attrs(kvs: Any) -> dict[str, Any]:
    return {a.key: plain(a.value) for a in kvs}


def sample_span(name: str, kind: int, code: int, trace_id: bytes, span_id: bytes, start: int = T0, duration_ms: float = 11) -> Span:
    span = Span(name=name, kind=kind, status=Status(code=code), trace_id=trace_id, span_id=span_id,
                start_time_unix_nano=start, end_time_unix_nano=start + int(duration_ms * MS))
    span.attributes.extend([kv("stringAttrName", "stringAttrValue"), kv("intAttrName", 99), kv("doubleAttrName", 99.99),
                            kv("boolAttrName", True), kv("nullAttrName", None), kv("mapAttrName", {}), kv("arrayAttrName", [])])
    span.events.add(name="exception").attributes.append(kv("exception.type", "NullPointerException"))
    return span


def sample_trace(**span_kw: Any) -> Any:
    """contrib buildSampleTrace."""
    a = traces_request(sample_span("/ping", 2, 1, bytes(range(1, 17)), bytes(range(0x11, 0x19)), **span_kw),
                       sample_span("/ping", 3, 1, bytes(range(1, 17)), bytes(range(0x19, 0x21)), **span_kw),
                       resource={"service.name": "service-a", "region": "us-east-1"})
    b = traces_request(sample_span("/ping", 2, 2, bytes(range(0x11, 0x21)), bytes(range(0x11, 0x19)), **span_kw),
                       resource={"service.name": "service-b", "region": "us-east-1"})
    nameless = traces_request(resource={"region": "us-east-1"})
    a.resource_spans.extend(b.resource_spans)
    a.resource_spans.extend(nameless.resource_spans)
    return a


def build(config: dict[str, Any] | None = None, sink: Any = None) -> tuple[SpanMetricsConnector, Sink]:
    sink = sink if sink is not None else Sink()
    cls, decoded = decode_config("span_metrics", config or {}, Kind.CONNECTOR)
    settings = Settings(id=ComponentID("span_metrics", ""), kind=Kind.CONNECTOR, log=structlog.get_logger().bind(component="span_metrics"),
                        telemetry=Telemetry(), signal=Signal.TRACES, out_signal=Signal.METRICS)
    return cls(settings, decoded, {}, sink), sink  # type: ignore[call-arg]


def run(conn: SpanMetricsConnector, *requests: Any, flushes: int = 1) -> list[Any]:
    """Each request consumed, then a flush; the requests the sink got."""
    async def go() -> None:
        for request in requests:
            assert await conn.consume(Envelope(Signal.TRACES, request)) is None
            for _ in range(flushes):
                await conn.flush()
    asyncio.run(go())
    return conn.next.requests  # type: ignore[attr-defined, no-any-return]


def metrics_of(rm: Any) -> dict[str, Any]:
    (sm,) = rm.scope_metrics
    assert sm.scope.name == "spanmetricsconnector"
    return {m.name: m for m in sm.metrics}


def by_service(request: Any) -> dict[str, Any]:
    return {attrs(rm.resource.attributes)["service.name"]: metrics_of(rm) for rm in request.resource_metrics}


EXPLICIT = {"explicit": {"buckets": ["4s", "6s", "8s"]}}
EXPONENTIAL = {"exponential": {"max_size": 10}}


@pytest.mark.parametrize("histogram", [EXPLICIT, EXPONENTIAL], ids=["explicit", "exponential"])
@pytest.mark.parametrize("temporality", ["AGGREGATION_TEMPORALITY_CUMULATIVE", "AGGREGATION_TEMPORALITY_DELTA"])
@pytest.mark.parametrize("consumptions", [1, 2])
def test_consume_traces(histogram: dict[str, Any], temporality: str, consumptions: int) -> None:
    """TestConsumeTraces with verifyConsumeMetricsInput / verifyMultipleCumulativeConsumptions: per flush, 2
    resources (no resource without service.name), calls and duration with 2 + 1 points; cumulative values grow
    with each consumption, delta ones do not."""
    conn, _ = build({"aggregation_temporality": temporality, "histogram": histogram, "dimensions": DIMENSIONS})
    requests = run(conn, *[sample_trace() for _ in range(consumptions)])
    assert len(requests) == consumptions
    n = consumptions if temporality.endswith("CUMULATIVE") else 1
    want_temporality = 2 if temporality.endswith("CUMULATIVE") else 1
    services = by_service(requests[-1])
    assert set(services) == {"service-a", "service-b"}
    for service, metrics in services.items():
        points = 2 if service == "service-a" else 1
        assert list(metrics) == ["traces.span.metrics.calls", "traces.span.metrics.duration"]
        calls, duration = metrics.values()
        assert calls.sum.is_monotonic and calls.sum.aggregation_temporality == want_temporality
        assert [dp.as_int for dp in calls.sum.data_points] == [n] * points
        assert all(dp.start_time_unix_nano and dp.time_unix_nano for dp in calls.sum.data_points)
        assert duration.unit == "ms"
        if "explicit" in histogram:
            assert duration.histogram.aggregation_temporality == want_temporality
            dps = duration.histogram.data_points
            for dp in dps:
                assert list(dp.explicit_bounds) == [4000.0, 6000.0, 8000.0]
                assert list(dp.bucket_counts) == [n, 0, 0, 0] and dp.sum == pytest.approx(11.0 * n)
        else:
            assert duration.exponential_histogram.aggregation_temporality == want_temporality
            dps = duration.exponential_histogram.data_points
            for dp in dps:
                assert dp.count == n and dp.sum == pytest.approx(11.0 * n) and list(dp.positive.bucket_counts) == [n]
        seen = set()
        for dp in [*calls.sum.data_points, *dps]:  # verifyMetricLabels
            a = attrs(dp.attributes)
            assert "shouldNotBeInMetric" not in a
            seen.add((a.pop("service.name"), a.pop("span.name"), a.pop("span.kind"), a.pop("status.code")))
            assert a.pop("collector.instance.id") == conn.instance_id
            assert a == {"stringAttrName": "stringAttrValue", "intAttrName": 99, "doubleAttrName": 99.99, "boolAttrName": True,
                         "nullAttrName": None, "mapAttrName": {}, "arrayAttrName": [], "shouldBeInMetric": "defaultNotInSpanAttrVal",
                         "region": "us-east-1"}
        assert len(seen) == points
    statuses = {(a["span.kind"], a["status.code"]) for rm in requests[-1].resource_metrics
                for dp in metrics_of(rm)["traces.span.metrics.calls"].sum.data_points for a in [attrs(dp.attributes)]}
    assert statuses == {("SPAN_KIND_SERVER", "STATUS_CODE_OK"), ("SPAN_KIND_CLIENT", "STATUS_CODE_OK"), ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR")}


def test_histogram_disabled() -> None:
    """TestConsumeTraces "Test histogram metrics are disabled" (verifyDisabledHistogram)."""
    conn, _ = build({"histogram": {"disable": True}})
    for rm in run(conn, sample_trace())[0].resource_metrics:
        assert list(metrics_of(rm)) == ["traces.span.metrics.calls"]


def test_default_buckets_and_seconds_unit() -> None:
    """config.go defaultHistogramBucketsMs; connector.go initHistogramMetrics divides them for `s`."""
    conn, _ = build()
    dp = by_service(run(conn, sample_trace())[0])["service-b"]["traces.span.metrics.duration"].histogram.data_points[0]
    assert list(dp.explicit_bounds) == [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000]
    assert dp.bucket_counts[5] == 1  # 11 ms in (10, 50]
    conn, _ = build({"histogram": {"unit": "s"}})
    m = by_service(run(conn, sample_trace())[0])["service-b"]["traces.span.metrics.duration"]
    assert m.unit == "s" and m.histogram.data_points[0].explicit_bounds[0] == 0.002
    assert m.histogram.data_points[0].sum == pytest.approx(0.011)


def test_bad_timestamps_count_as_zero_duration() -> None:
    """TestConsumeTraces "Test bad consumptions" (buildBadSampleTrace): an end before the start is 0."""
    conn, _ = build({"histogram": EXPLICIT})
    request = sample_trace(duration_ms=-11)
    dp = by_service(run(conn, request)[0])["service-b"]["traces.span.metrics.duration"].histogram.data_points[0]
    assert dp.sum == 0 and dp.bucket_counts[0] == 1


def test_exemplars() -> None:
    """TestConsumeTraces "Test Exemplars are enabled" (verifyExemplarsExist); max_per_data_point caps them;
    connector.go resetState clears them after each flush."""
    conn, _ = build({"exemplars": {"enabled": True, "max_per_data_point": 1}})
    first, second = run(conn, sample_trace(), sample_trace())
    a = by_service(first)["service-a"]
    for dp in a["traces.span.metrics.duration"].histogram.data_points:
        (e,) = dp.exemplars
        assert e.trace_id == bytes(range(1, 17)) and e.as_double == pytest.approx(11.0)
    assert all(len(dp.exemplars) == 1 for dp in by_service(second)["service-a"]["traces.span.metrics.calls"].sum.data_points)
    conn, _ = build()
    assert all(not dp.exemplars for dp in by_service(run(conn, sample_trace())[0])["service-a"]["traces.span.metrics.calls"].sum.data_points)


@pytest.mark.parametrize(("exclude", "want"), [
    (["span.kind", "service.name", "span.name", "status.code", "collector.instance.id"], set()),  # TestBuildKeyExcludeDimensionsAll
    (["span.kind", "service.name.wrong.name", "span.name", "status.code"], {"service.name", "collector.instance.id"}),  # TestBuildKeyExcludeWrongDimensions
    ([], {"service.name", "span.name", "span.kind", "status.code", "collector.instance.id"}),
])
def test_exclude_dimensions(exclude: list[str], want: set[str]) -> None:
    conn, _ = build({"exclude_dimensions": exclude})
    for rm in run(conn, sample_trace())[0].resource_metrics:
        for dp in metrics_of(rm)["traces.span.metrics.calls"].sum.data_points:
            assert set(attrs(dp.attributes)) == want
    if not want:  # every span of a resource in one series
        assert [dp.as_int for dp in by_service(conn.next.requests[0])["service-a"]["traces.span.metrics.calls"].sum.data_points] == [2]


@pytest.mark.parametrize(("span_attrs", "resource_attrs", "default", "want"), [
    ({}, {}, "bar", "bar"),  # neither span nor resource contains key, dim provides default
    ({}, {}, None, None),  # ... no default: left out
    ({"foo": 99}, {}, None, 99),  # span attribute contains dimension
    ({}, {"foo": 99}, None, 99),  # resource attribute contains dimension
    ({"foo": 100}, {"foo": 99}, None, 100),  # both: the span's
])
def test_dimension_lookup(span_attrs: dict[str, Any], resource_attrs: dict[str, Any], default: str | None, want: Any) -> None:
    """TestBuildKeyWithDimensions."""
    dim = {"name": "foo"} if default is None else {"name": "foo", "default": default}
    conn, _ = build({"dimensions": [dim]})
    span = Span(name="c", start_time_unix_nano=T0, end_time_unix_nano=T0 + MS, attributes=[kv(k, v) for k, v in span_attrs.items()])
    (rm,) = run(conn, traces_request(span, resource={"service.name": "ab", **resource_attrs}))[0].resource_metrics
    (dp,) = metrics_of(rm)["traces.span.metrics.calls"].sum.data_points
    assert attrs(dp.attributes).get("foo", None) == want and ("foo" in attrs(dp.attributes)) == (want is not None)
    assert attrs(dp.attributes)["span.kind"] == "SPAN_KIND_UNSPECIFIED" and attrs(dp.attributes)["status.code"] == "STATUS_CODE_UNSET"


def test_same_service_name_char_sequence_gives_separate_series() -> None:
    """TestBuildKeySameServiceNameCharSequence: service "ab" span "c" and service "a" span "bc" differ."""
    conn, _ = build({"resource_metrics_key_attributes": ["x"]})  # one resource key for both
    request = traces_request(Span(name="c"), resource={"service.name": "ab"})
    request.resource_spans.extend(traces_request(Span(name="bc"), resource={"service.name": "a"}).resource_spans)
    (rm,) = run(conn, request)[0].resource_metrics
    pairs = {(attrs(dp.attributes)["service.name"], attrs(dp.attributes)["span.name"]) for dp in metrics_of(rm)["traces.span.metrics.calls"].sum.data_points}
    assert pairs == {("ab", "c"), ("a", "bc")}


def test_resource_metrics_key_attributes() -> None:
    """connector.go createResourceKey: only the listed attributes key a resource's metrics, so a changed
    other attribute (here a restarted instance) keeps the series."""
    conn, _ = build({"resource_metrics_key_attributes": ["service.name"]})
    one = traces_request(Span(name="x"), resource={"service.name": "s", "service.instance.id": "1"})
    two = traces_request(Span(name="x"), resource={"service.name": "s", "service.instance.id": "2"})
    (rm,) = run(conn, one, two)[-1].resource_metrics
    assert attrs(rm.resource.attributes) == {"service.name": "s", "service.instance.id": "1"}  # the first one seen
    assert [dp.as_int for dp in metrics_of(rm)["traces.span.metrics.calls"].sum.data_points] == [2]
    conn, _ = build()
    assert len(run(conn, one, two)[-1].resource_metrics) == 2


def test_namespace() -> None:
    """config.go Namespace; an empty one gives the bare names (contrib buildMetricName)."""
    conn, _ = build({"namespace": "span.metrics"})
    assert set(by_service(run(conn, sample_trace())[0])["service-a"]) == {"span.metrics.calls", "span.metrics.duration"}
    conn, _ = build({"namespace": ""})
    assert set(by_service(run(conn, sample_trace())[0])["service-a"]) == {"calls", "duration"}


def test_events_counter() -> None:
    """connector.go aggregateMetrics with events enabled (enabledEventsConfig: exception.type): one
    `events` point per span and event dimension values, the event's attributes looked up after the span's."""
    conn, _ = build({"events": {"enabled": True, "dimensions": [{"name": "exception.type"}]}})
    services = by_service(run(conn, sample_trace())[0])
    events = services["service-a"]["traces.span.metrics.events"]
    assert events.sum.is_monotonic and [dp.as_int for dp in events.sum.data_points] == [1, 1]
    assert {attrs(dp.attributes)["exception.type"] for dp in events.sum.data_points} == {"NullPointerException"}


def test_calls_and_histogram_dimensions() -> None:
    """config.go CallsDimensions and HistogramConfig.Dimensions: dimensions of one metric only."""
    conn, _ = build({"calls_dimensions": [{"name": "stringAttrName"}], "histogram": {"dimensions": [{"name": "intAttrName"}]}})
    a = by_service(run(conn, sample_trace())[0])["service-a"]
    assert all("stringAttrName" in attrs(dp.attributes) and "intAttrName" not in attrs(dp.attributes) for dp in a["traces.span.metrics.calls"].sum.data_points)
    assert all("intAttrName" in attrs(dp.attributes) and "stringAttrName" not in attrs(dp.attributes) for dp in a["traces.span.metrics.duration"].histogram.data_points)


def test_include_instrumentation_scope() -> None:
    """config.go IncludeInstrumentationScope: spans of a listed scope get its name and version."""
    conn, _ = build({"include_instrumentation_scope": ["lib"]})
    request = traces_request(Span(name="x"), resource={"service.name": "s"}, scope="lib")
    request.resource_spans[0].scope_spans[0].scope.version = "1.0"
    other = traces_request(Span(name="x"), resource={"service.name": "s"}, scope="other")
    request.resource_spans[0].scope_spans.extend(other.resource_spans[0].scope_spans)
    (rm,) = run(conn, request)[0].resource_metrics
    got = [attrs(dp.attributes) for dp in metrics_of(rm)["traces.span.metrics.calls"].sum.data_points]
    assert [(a.get("span.instrumentation.scope.name"), a.get("span.instrumentation.scope.version")) for a in got] == [("lib", "1.0"), (None, None)]


def test_aggregation_cardinality_limit() -> None:
    """internal/metrics/metrics.go GetOrCreate / IsCardinalityLimitReached: once a resource holds the limit,
    spans of new attribute sets go to one series whose only attribute is otel.metric.overflow=true."""
    conn, _ = build({"aggregation_cardinality_limit": 2})
    spans = [Span(name=n, start_time_unix_nano=T0, end_time_unix_nano=T0 + MS) for n in ("a", "b", "c", "d", "a")]
    (rm,) = run(conn, traces_request(*spans, resource={"service.name": "s"}))[0].resource_metrics
    m = metrics_of(rm)
    calls = [(attrs(dp.attributes).get("span.name") or attrs(dp.attributes), dp.as_int) for dp in m["traces.span.metrics.calls"].sum.data_points]
    assert calls == [("a", 2), ("b", 1), ({OVERFLOW_KEY: True}, 2)]
    assert [dp.count for dp in m["traces.span.metrics.duration"].histogram.data_points] == [2, 1, 2]


def test_delta_start_times_follow_the_previous_flush() -> None:
    """connector.go buildMetrics: delta points go (T1, T2), (T2, T3); cumulative keep T1."""
    for temporality, chained in (("AGGREGATION_TEMPORALITY_DELTA", True), ("AGGREGATION_TEMPORALITY_CUMULATIVE", False)):
        conn, _ = build({"aggregation_temporality": temporality})
        clock = iter(range(T0, T0 + 100)).__next__
        conn.agg.clock = clock
        first, second = run(conn, sample_trace(), sample_trace())
        p1 = by_service(first)["service-b"]["traces.span.metrics.calls"].sum.data_points[0]
        p2 = by_service(second)["service-b"]["traces.span.metrics.calls"].sum.data_points[0]
        assert p1.start_time_unix_nano < p1.time_unix_nano < p2.time_unix_nano
        assert (p2.start_time_unix_nano == p1.time_unix_nano) == chained
        assert (p2.start_time_unix_nano == p1.start_time_unix_nano) == (not chained)


def test_metrics_expiration() -> None:
    """connector.go resetState: with metrics_expiration, a resource not seen for that long is dropped."""
    conn, _ = build({"metrics_expiration": "10s"})
    now = [T0]
    conn.agg.clock = lambda: now[0]

    async def go() -> list[Any]:
        await conn.consume(Envelope(Signal.TRACES, sample_trace()))
        out = [conn.agg.collect()]
        now[0] += 5 * 10**9
        out.append(conn.agg.collect())
        now[0] += 6 * 10**9
        out.append(conn.agg.collect())
        out.append(conn.agg.collect())
        return out
    results = asyncio.run(go())
    assert [len(r.resource_metrics) if r else 0 for r in results] == [2, 2, 2, 0]


def test_adjusted_count() -> None:
    """internal/metrics/adjusted_count.go GetStochasticAdjustedCount: th:8 is probability 1/2, count 2;
    no threshold or a bad tracestate counts 1; a fractional weight rounds stochastically."""
    assert adjusted_count("") == 1
    assert adjusted_count("ot=th:8") == 2
    assert adjusted_count("ot=rv:abcdefabcdefab") == 1
    assert adjusted_count("not a tracestate!!") == 1
    assert adjusted_count("ot=th:c") == 4
    assert adjusted_count("ot=th:5", rng=lambda: 0.0) == 2 and adjusted_count("ot=th:5", rng=lambda: 0.99) == 1  # weight 1.6
    conn, _ = build()
    span = Span(name="x", trace_state="ot=th:8")
    (rm,) = run(conn, traces_request(span, resource={"service.name": "s"}))[0].resource_metrics
    assert metrics_of(rm)["traces.span.metrics.calls"].sum.data_points[0].as_int == 2


class _Refusing:
    capabilities = Sink.capabilities

    async def consume(self, envelope: Envelope) -> Rejected:
        return Rejected(envelope.items, "consume metrics error")


def test_a_refused_flush_is_logged_and_spans_are_still_accepted() -> None:
    """TestConsumeMetricsErrors: ConsumeTraces succeeds; the failed flush logs "failed ConsumeMetrics"."""
    conn, _ = build(sink=_Refusing())
    with structlog.testing.capture_logs() as logs:
        asyncio.run(_consume_then_flush(conn))
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["failed ConsumeMetrics"]


async def _consume_then_flush(conn: SpanMetricsConnector) -> None:
    assert await conn.consume(Envelope(Signal.TRACES, sample_trace())) is None
    await conn.flush()


def test_the_request_is_read_from_wire_bytes_and_left_as_it_was() -> None:
    """The connector reads attached wire bytes; without them it serializes once and attaches them."""
    conn, _ = build()
    request = sample_trace()
    envelope = Envelope(Signal.TRACES, request, wire=request.SerializeToString(), canonical=True)
    asyncio.run(conn.consume(envelope))
    assert envelope.wire(canonical=True) == request.SerializeToString()
    bare = Envelope(Signal.TRACES, sample_trace())
    asyncio.run(conn.consume(bare))
    assert bare.wire(canonical=True) == sample_trace().SerializeToString()
    assert conn.agg.series_count() == 6


def test_defaults() -> None:
    """factory.go createDefaultConfig."""
    _, config = decode_config("span_metrics", None, Kind.CONNECTOR)
    assert config.aggregation_temporality == "AGGREGATION_TEMPORALITY_CUMULATIVE"
    assert config.metrics_flush_interval == Duration(60.0) and config.namespace == "traces.span.metrics"
    assert config.histogram.unit == "ms" and not config.histogram.disable and config.exemplars.max_per_data_point == 5
    assert config.aggregation_cardinality_limit == 0 and config.metric_timestamp_cache_size == 1000
    assert lookup_deprecated() == "span_metrics"


def lookup_deprecated() -> str:
    from collector.registry import current_name
    return current_name(Kind.CONNECTOR, "spanmetrics") or ""


@pytest.mark.parametrize(("config", "message"), [
    ({"dimensions": [{"name": "service.name"}]}, "failed validating dimensions: duplicate dimension name service.name"),
    ({"dimensions": [{"name": "a"}, {"name": "a"}]}, "failed validating dimensions: duplicate dimension name a"),
    ({"events": {"enabled": True}}, "failed validating event dimensions: no dimensions configured for events"),
    ({"histogram": {"explicit": None, "exponential": None}}, "use either `explicit` or `exponential` buckets histogram"),
    ({"aggregation_cardinality_limit": -1}, "invalid aggregation_cardinality_limit: -1, the limit should be positive"),
    ({"aggregation_temporality": "AGGREGATION_TEMPORALITY_DELTA", "metric_timestamp_cache_size": 0},
     "invalid delta timestamp cache size: 0, the maximum number of the items in the cache should be positive"),
    ({"histogram": {"unit": "m"}}, 'expected one of "ms", "s"'),
])
def test_config_validation(config: dict[str, Any], message: str) -> None:
    """config.go Validate (config_test.go TestLoadConfig's error cases)."""
    with pytest.raises(BuildError, match=message.replace("`", ".").replace("(", ".").replace(")", ".")):
        decode_config("span_metrics", config, Kind.CONNECTOR)


def test_ineffective_keys() -> None:
    _, config = decode_config("span_metrics", {"dimensions_cache_size": 1000, "resource_metrics_cache_size": 1000,
                                               "enable_metrics_sampling_method": True, "add_resource_attributes": True}, Kind.CONNECTOR)
    assert [k for k, _ in SpanMetricsConnector.ineffective_keys(config)] == ["dimensions_cache_size", "resource_metrics_cache_size", "enable_metrics_sampling_method"]
    _, config = decode_config("span_metrics", None, Kind.CONNECTOR)
    assert SpanMetricsConnector.ineffective_keys(config) == []


class _Host:
    def describe(self) -> Any:
        return type("View", (), {"instance_id": "collector-1"})()


def test_collector_instance_id_is_the_services() -> None:
    """factory.go createTracesToMetricsConnector: collector.instance.id is the collector's service.instance.id
    (the includeCollectorInstanceID gate is beta, so on); exclude_dimensions can leave it out."""
    conn, _ = build({"metrics_flush_interval": "1h"})

    async def go() -> None:
        await conn.start(_Host())
        await conn.consume(Envelope(Signal.TRACES, sample_trace()))
        await conn.flush()
        await conn.shutdown()
    asyncio.run(go())
    points = [dp for rm in conn.next.requests[0].resource_metrics for m in metrics_of(rm).values() for dp in m.sum.data_points]
    assert points and {attrs(dp.attributes)["collector.instance.id"] for dp in points} == {"collector-1"}
