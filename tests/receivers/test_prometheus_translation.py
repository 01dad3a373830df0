"""The prometheus receiver's translation of scraped bodies to OTLP, table by table against otelcol-contrib's
own tests and functions (receiver/prometheusreceiver/internal/*.go), and Prometheus's relabeling
(prometheus/model/relabel/relabel.go). Each case runs one body, as the target served it, through the
receiver's own steps (parse, labels, start times, staleness, report metrics) and reads the OTLP request."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.component import Kind
from collector.receivers.prometheus.adjust import DEFAULT_START_TIME_METRIC, TargetState
from collector.receivers.prometheus.relabel import RelabelConfig, expand, relabel
from collector.receivers.prometheus.scrape import ScrapeError, Target, accept_header, assemble, build_targets
from collector.receivers.prometheus.translate import SCOPE_NAME, resource_attributes, to_request, trim_suffixes, unit_to_ucum
from collector.testing import BuildError, decode_config

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK


def _targets(scrape_config: str = "", global_: str = "") -> list[Target]:
    text = f"""
config:
  {('global: ' + global_) if global_ else ''}
  scrape_configs:
    - job_name: app
      static_configs: [{{targets: ["10.0.0.7:9100"], labels: {{team: a}}}}]
      {scrape_config}
"""
    _, cfg = decode_config("prometheus", text, Kind.RECEIVER)
    targets, problems = build_targets(cfg.config)
    assert not problems
    return targets


class Run:
    """Scrapes of one target, each from a body given by the test."""

    def __init__(self, scrape_config: str = "", *, global_: str = "", start_time_metric: bool = False, trim: bool = False,
                 extra: bool = False):
        (self.target,) = _targets(scrape_config, global_)
        self.state = TargetState()
        self.start_time_metric = DEFAULT_START_TIME_METRIC if start_time_metric else None
        self.trim = trim
        self.extra = extra
        self.problem: str | None = None

    def scrape(self, body: str | ScrapeError, ts_ms: int = 1_000, content_type: str = TEXT) -> tuple[Any, str | None]:
        fetched = body if isinstance(body, ScrapeError) else (body.encode(), content_type)
        scrape, error, self.problem = assemble(self.target, self.state, fetched, ts_ms, 0.01, {}, self.start_time_metric, self.extra)
        return to_request(scrape, self.trim), error

    def metrics(self, body: str | ScrapeError, ts_ms: int = 1_000, content_type: str = TEXT) -> dict[str, Any]:
        request, _ = self.scrape(body, ts_ms, content_type)
        return {m.name: m for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def _attrs(point: Any) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in point.attributes}


# Types (metricfamily.go appendMetric, convToMetricType) --------------------------------------------------

EXPOSITION = """\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 1027
http_requests_total{code="500",method="get"} 3
# HELP temperature Temperature now.
# TYPE temperature gauge
temperature{room="a"} 21.5
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 2
latency_seconds_bucket{le="0.5"} 5
latency_seconds_bucket{le="1"} 7
latency_seconds_bucket{le="+Inf"} 8
latency_seconds_sum 3.5
latency_seconds_count 8
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.9"} 0.3
rpc_seconds{quantile="0.5"} 0.1
rpc_seconds_sum 12
rpc_seconds_count 40
untyped_thing 4
"""


def test_counter_is_a_cumulative_monotonic_sum_named_as_its_sample() -> None:
    # metadata.go metadataForMetric keeps a counter's sample name (with _total); appendMetric: Sum, cumulative, monotonic.
    m = Run().metrics(EXPOSITION)["http_requests_total"]
    assert m.WhichOneof("data") == "sum"
    assert m.sum.is_monotonic and m.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert m.description == "Requests."
    assert {kv.key: kv.value.string_value for kv in m.metadata} == {"prometheus.type": "counter"}
    points = {_attrs(p)["code"]: p for p in m.sum.data_points}
    assert points["200"].as_double == 1027 and points["500"].as_double == 3
    # populateAttributes: job and instance go to the resource, the target's static labels stay on the point.
    assert _attrs(points["200"]) == {"code": "200", "method": "get", "team": "a"}


def test_a_counter_exposed_without_total_keeps_its_name() -> None:
    # Text format 0.0.4 allows `# TYPE x counter` / `x 3`: Prometheus and contrib (metadataForMetric) keep `x`,
    # which prometheus_client's parser would rename `x_total`.
    metrics = Run().metrics("# TYPE x counter\nx 3\n# TYPE y_total counter\ny_total 4\n")
    assert metrics["x"].sum.data_points[0].as_double == 3 and metrics["x"].sum.is_monotonic
    assert metrics["y_total"].sum.data_points[0].as_double == 4


def test_gauge_and_untyped_are_gauges() -> None:
    # convToMetricType: gauge and unknown -> Gauge; toNumberDataPoint sets no start time on gauges.
    metrics = Run().metrics(EXPOSITION)
    for name, value in (("temperature", 21.5), ("untyped_thing", 4)):
        (point,) = metrics[name].gauge.data_points
        assert point.as_double == value and point.start_time_unix_nano == 0
    assert {kv.key: kv.value.string_value for kv in metrics["untyped_thing"].metadata} == {"prometheus.type": "unknown"}


def test_histogram_buckets_become_explicit_bounds_and_per_bucket_counts() -> None:
    # metricfamily.go toDistributionPoint: +Inf is dropped from the bounds, cumulative le counts become per-bucket
    # counts, the last one is count minus the largest finite bucket (TestMetricGroupData_toDistributionUnitTest).
    m = Run().metrics(EXPOSITION)["latency_seconds"]
    (p,) = m.histogram.data_points
    assert m.histogram.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert list(p.explicit_bounds) == [0.1, 0.5, 1.0]
    assert list(p.bucket_counts) == [2, 3, 2, 1]
    assert p.count == 8 and p.sum == 3.5
    assert "le" not in _attrs(p)


def test_summary_quantiles_sorted_with_sum_and_count() -> None:
    # metricfamily.go toSummaryPoint (TestMetricGroupData_toSummaryUnitTest).
    (p,) = Run().metrics(EXPOSITION)["rpc_seconds"].summary.data_points
    assert [(q.quantile, q.value) for q in p.quantile_values] == [(0.5, 0.1), (0.9, 0.3)]
    assert p.count == 40 and p.sum == 12
    assert "quantile" not in _attrs(p)


@pytest.mark.parametrize(("buckets", "count"), [
    ('h_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 5\n', 5),  # decreasing
    ('h_bucket{le="1"} NaN\nh_bucket{le="+Inf"} 5\n', 5),  # NaN bucket
    ('h_bucket{le="1"} 5\nh_bucket{le="+Inf"} 5\n', 4),  # count below the largest bucket
])
def test_invalid_histograms_are_dropped(buckets: str, count: int) -> None:
    # toDistributionPoint: "dropping histogram datapoint with NaN or decreasing bucket counts" / "count that is NaN or below".
    body = f"# TYPE h histogram\n{buckets}h_sum 1\nh_count {count}\n"
    assert "h" not in Run().metrics(body)


def test_openmetrics_created_sets_start_time_and_unit_and_exemplar() -> None:
    # metricfamily.go addSeries (`_created` -> createdSeconds), appendMetric (UnitWordToUCUM), convertExemplar.
    body = """\
# TYPE jobs_seconds counter
# UNIT jobs_seconds seconds
# HELP jobs_seconds Job time.
jobs_seconds_total{kind="x"} 17.5 # {trace_id="0102030405060708090a0b0c0d0e0f10",span_id="0102030405060708",user="u"} 2.0 123.5
jobs_seconds_created{kind="x"} 900.25
# EOF
"""
    m = Run().metrics(body, ts_ms=1_000_000, content_type=OPENMETRICS)["jobs_seconds_total"]
    assert m.unit == "s" and m.description == "Job time."
    (p,) = m.sum.data_points
    assert p.as_double == 17.5
    assert p.start_time_unix_nano == 900_250_000_000
    (ex,) = p.exemplars
    assert ex.trace_id.hex() == "0102030405060708090a0b0c0d0e0f10" and ex.span_id.hex() == "0102030405060708"
    assert ex.as_double == 2.0 and ex.time_unix_nano == 123_500_000_000
    assert [(kv.key, kv.value.string_value) for kv in ex.filtered_attributes] == [("user", "u")]


# Resource and scope (prom_to_otlp.go CreateResource, transaction.go getMetrics) -----------------------------


@pytest.mark.parametrize(("instance", "expected"), [
    # prom_to_otlp_test.go TestCreateNodeAndResourcePromToOTLP: a discernible host is server.address.
    ("10.0.0.7:9100", {"service.name": "job", "server.address": "10.0.0.7", "service.instance.id": "10.0.0.7:9100",
                       "server.port": "9100", "url.scheme": "http"}),
    ("myhost:8888", {"service.name": "job", "server.address": "myhost", "service.instance.id": "myhost:8888",
                     "server.port": "8888", "url.scheme": "http"}),
    # isDiscernibleHost: loopback, unspecified and localhost are not.
    ("127.0.0.1:8888", {"service.name": "job", "service.instance.id": "127.0.0.1:8888", "server.port": "8888", "url.scheme": "http"}),
    ("0.0.0.0:8888", {"service.name": "job", "service.instance.id": "0.0.0.0:8888", "server.port": "8888", "url.scheme": "http"}),
    ("localhost:8888", {"service.name": "job", "service.instance.id": "localhost:8888", "server.port": "8888", "url.scheme": "http"}),
    ("[::1]:8888", {"service.name": "job", "service.instance.id": "[::1]:8888", "server.port": "8888", "url.scheme": "http"}),
    # net.SplitHostPort fails: the whole instance is the host, the port is empty.
    ("myhost", {"service.name": "job", "server.address": "myhost", "service.instance.id": "myhost", "server.port": "", "url.scheme": "http"}),
])
def test_resource_attributes(instance: str, expected: dict[str, str]) -> None:
    assert resource_attributes("job", instance, "http") == expected


def test_resource_scope_and_target_info() -> None:
    # transaction.go: target_info -> resource attributes (AddTargetInfo), otel_scope_* labels -> the scope, the
    # receiver's scope otherwise (TestReceiverVersionAndNameAreAttached).
    body = """\
# TYPE target_info gauge
target_info{deployment_environment="prod"} 1
a 1
b{otel_scope_name="lib",otel_scope_version="2.0",otel_scope_tier="gold"} 1
"""
    request, error = Run().scrape(body)
    assert error is None
    (rm,) = request.resource_metrics
    attrs = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
    assert attrs["service.name"] == "app" and attrs["service.instance.id"] == "10.0.0.7:9100"
    assert attrs["deployment_environment"] == "prod"
    scopes = {sm.scope.name: sm for sm in rm.scope_metrics}
    assert scopes[SCOPE_NAME].scope.version
    assert "target_info" not in {m.name for m in scopes[SCOPE_NAME].metrics}
    assert scopes["lib"].scope.version == "2.0"
    assert {kv.key: kv.value.string_value for kv in scopes["lib"].scope.attributes} == {"tier": "gold"}
    (b,) = scopes["lib"].metrics
    assert _attrs(b.gauge.data_points[0]) == {"team": "a"}


# up and scrape_* (Prometheus's report samples, contrib's internalMetricMetadata) ----------------------------


def test_report_metrics_of_a_good_scrape() -> None:
    metrics = Run(extra=True).metrics(EXPOSITION)
    assert metrics["up"].gauge.data_points[0].as_double == 1
    assert metrics["up"].description == "The scraping was successful"
    assert metrics["scrape_duration_seconds"].unit == "s"
    # 2 counter + 1 gauge + 6 histogram (4 buckets, sum, count) + 4 summary (2 quantiles, sum, count) + 1 untyped samples.
    assert metrics["scrape_samples_scraped"].gauge.data_points[0].as_double == 14
    assert metrics["scrape_samples_post_metric_relabeling"].gauge.data_points[0].as_double == 14
    assert metrics["scrape_series_added"].gauge.data_points[0].as_double == 14
    assert {"scrape_timeout_seconds", "scrape_sample_limit", "scrape_body_size_bytes"} <= set(metrics)
    assert _attrs(metrics["up"].gauge.data_points[0]) == {"team": "a"}


def test_a_failed_scrape_has_up_zero_and_marks_every_series_stale() -> None:
    run = Run()
    run.metrics(EXPOSITION, ts_ms=1_000)
    metrics = run.metrics(ScrapeError("connection refused"), ts_ms=2_000)
    assert metrics["up"].gauge.data_points[0].as_double == 0
    assert metrics["scrape_samples_scraped"].gauge.data_points[0].as_double == 0
    # metricfamily.go: a stale sample becomes a point flagged NO_RECORDED_VALUE (a histogram keeps its bounds,
    # with zero counts; a summary its quantiles).
    for name in ("http_requests_total", "temperature", "latency_seconds", "rpc_seconds"):
        points = getattr(metrics[name], metrics[name].WhichOneof("data")).data_points
        assert points and all(p.flags == NO_RECORDED_VALUE and p.time_unix_nano == 2_000_000_000 for p in points), name
    (h,) = metrics["latency_seconds"].histogram.data_points
    assert list(h.explicit_bounds) == [0.1, 0.5, 1.0] and list(h.bucket_counts) == [0, 0, 0, 0]
    # metrics_adjuster_test.go TestHistogramFlagNoRecordedValue: the stale point keeps the series' start time.
    assert h.start_time_unix_nano == 1_000_000_000
    # Marked once: the next failed scrape has only the report metrics.
    assert set(run.metrics(ScrapeError("connection refused"), ts_ms=3_000)) == {
        "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"}


def test_a_series_that_disappears_is_marked_stale_once() -> None:
    run = Run()
    run.metrics('g{k="1"} 1\ng{k="2"} 2\n', ts_ms=1_000)
    points = {_attrs(p)["k"]: p for p in run.metrics('g{k="1"} 1\n', ts_ms=2_000)["g"].gauge.data_points}
    assert points["1"].flags == 0 and points["1"].as_double == 1
    assert points["2"].flags == NO_RECORDED_VALUE
    assert [_attrs(p)["k"] for p in run.metrics('g{k="1"} 1\n', ts_ms=3_000)["g"].gauge.data_points] == ["1"]


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    ("<html><body>Not metrics</body></html>", TEXT, "cannot parse the text exposition"),
    ("a 1\n", OPENMETRICS, "cannot parse the OpenMetrics exposition"),  # no # EOF
    ("a 1\n", "text/html", 'unsupported Content-Type "text/html"'),
    ("a 1\n", "", 'unsupported Content-Type "none"'),
])
def test_a_body_that_is_not_an_exposition_fails_the_scrape(body: str, content_type: str, reason: str) -> None:
    request, error = Run().scrape(body, content_type=content_type)
    assert error is not None and error.startswith(reason)
    assert "Not metrics" not in error
    metrics = {m.name: m for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert metrics["up"].gauge.data_points[0].as_double == 0


def test_fallback_scrape_protocol_reads_an_unlabelled_body() -> None:
    run = Run("fallback_scrape_protocol: PrometheusText0.0.4")
    assert run.metrics("a 1\n", content_type="")["a"].gauge.data_points[0].as_double == 1


# Start times (metrics_adjuster.go initialPointAdjuster) ------------------------------------------------------


@pytest.mark.parametrize(("kind", "bodies", "starts"), [
    # metrics_adjuster_test.go TestSum: established, kept, reset on a lower value, kept again (an equal value is no reset).
    ("sum", ["# TYPE c_total counter\nc_total 44\n", "# TYPE c_total counter\nc_total 66\n", "# TYPE c_total counter\nc_total 55\n",
             "# TYPE c_total counter\nc_total 72\n", "# TYPE c_total counter\nc_total 72\n"], [1, 1, 3, 3, 3]),
    # TestHistogram: reset when the count goes down.
    ("histogram", [f'# TYPE h histogram\nh_bucket{{le="1"}} {n}\nh_bucket{{le="+Inf"}} {n}\nh_sum {s}\nh_count {n}\n'
                   for n, s in ((16, 10), (21, 12), (17, 13), (25, 20))], [1, 1, 3, 3]),
    # TestSummary: reset when the count goes down; TestSummaryNoCount: or the sum.
    ("summary", [f'# TYPE s summary\ns{{quantile="0.5"}} 1\ns_sum {s}\ns_count {n}\n' for n, s in ((10, 40), (15, 70), (12, 66), (14, 96))],
     [1, 1, 3, 3]),
    ("summary", [f'# TYPE s summary\ns{{quantile="0.5"}} 1\ns_sum {s}\ns_count 0\n' for s in (40, 70, 66, 96)], [1, 1, 3, 3]),
])
def test_start_times_follow_the_initial_point_adjuster(kind: str, bodies: list[str], starts: list[int]) -> None:
    run = Run()
    got = []
    for round_, body in enumerate(bodies, 1):
        metrics = run.metrics(body, ts_ms=round_)
        (m,) = [m for name, m in metrics.items() if not name.startswith(("up", "scrape_"))]
        (p,) = getattr(m, m.WhichOneof("data")).data_points
        assert p.time_unix_nano == round_ * 1_000_000
        got.append(p.start_time_unix_nano // 1_000_000)
    assert got == starts


def test_use_start_time_metric_takes_process_start_time_seconds() -> None:
    # starttimemetricadjuster.go: every cumulative point starts at the gauge's value; gauges keep none.
    body = "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 400.5\n# TYPE c_total counter\nc_total 3\n"
    run = Run(start_time_metric=True)
    metrics = run.metrics(body, ts_ms=1_000_000)
    assert metrics["c_total"].sum.data_points[0].start_time_unix_nano == 400_500_000_000
    assert metrics["process_start_time_seconds"].gauge.data_points[0].start_time_unix_nano == 0
    assert run.problem is None
    run.metrics("# TYPE c_total counter\nc_total 4\n", ts_ms=1_001_000)
    assert run.problem is not None and run.problem.startswith("start time metric not found")


# Labels (scrape.go mutateSampleLabels, external labels) -------------------------------------------------------


def test_honor_labels_false_renames_clashing_scraped_labels() -> None:
    body = 'g{job="other",team="b",instance="x"} 1\n'
    request, _ = Run().scrape(body)
    (rm,) = request.resource_metrics
    assert {kv.key: kv.value.string_value for kv in rm.resource.attributes}["service.name"] == "app"
    (m,) = [m for sm in rm.scope_metrics for m in sm.metrics if m.name == "g"]
    assert _attrs(m.gauge.data_points[0]) == {"team": "a", "exported_team": "b", "exported_job": "other", "exported_instance": "x"}


def test_honor_labels_true_keeps_scraped_labels_and_their_resource() -> None:
    # transaction.go getJobAndInstance: the sample's own job and instance make its resource.
    request, _ = Run("honor_labels: true").scrape('g{job="other",team="b",instance="x:1"} 1\n')
    by_job = {next(kv.value.string_value for kv in rm.resource.attributes if kv.key == "service.name"): rm for rm in request.resource_metrics}
    assert set(by_job) == {"other", "app"}
    (m,) = [m for sm in by_job["other"].scope_metrics for m in sm.metrics]
    assert m.name == "g" and _attrs(m.gauge.data_points[0]) == {"team": "b"}


def test_honor_timestamps() -> None:
    body = "g 1 5000\n"
    assert Run().metrics(body, ts_ms=9_000)["g"].gauge.data_points[0].time_unix_nano == 5_000_000_000
    assert Run("honor_timestamps: false").metrics(body, ts_ms=9_000)["g"].gauge.data_points[0].time_unix_nano == 9_000_000_000


@pytest.mark.parametrize(("limit", "body", "reason"), [
    ("sample_limit: 2", "a 1\nb 1\nc 1\n", "sample limit exceeded"),
    ("label_limit: 2", 'a{x="1",y="2"} 1\n', "label_limit exceeded"),
    ("label_value_length_limit: 3", 'a{x="long"} 1\n', "label_value_length_limit exceeded"),
    ("label_name_length_limit: 3", 'a{long="1"} 1\n', "label_name_length_limit exceeded"),
])
def test_limits_fail_the_scrape(limit: str, body: str, reason: str) -> None:
    _, error = Run(limit).scrape(body)
    assert error is not None and error.startswith(reason)


@pytest.mark.parametrize(("global_", "body", "reason"), [
    ("{sample_limit: 2}", "a 1\nb 1\nc 1\n", "sample limit exceeded"),
    ("{label_limit: 2}", 'a{x="1",y="2"} 1\n', "label_limit exceeded"),
    ("{label_value_length_limit: 3}", 'a{x="long"} 1\n', "label_value_length_limit exceeded"),
    ("{label_name_length_limit: 3}", 'a{long="1"} 1\n', "label_name_length_limit exceeded"),
])
def test_global_limits_are_the_default_of_every_scrape_config(global_: str, body: str, reason: str) -> None:
    # prometheus/config/config.go ScrapeConfig.Validate(globalConfig): a job's limit left at 0 takes the global one.
    _, error = Run(global_=global_).scrape(body)
    assert error is not None and error.startswith(reason)


def test_a_scrape_config_s_own_limit_wins_over_the_global_one() -> None:
    # The same Validate: the global limit only fills a job's limit that is 0.
    run = Run("sample_limit: 5", global_="{sample_limit: 2}", extra=True)
    metrics = run.metrics("a 1\nb 1\nc 1\n")
    assert metrics["up"].gauge.data_points[0].as_double == 1
    # scrape.go reportExtraMetrics: scrape_sample_limit is the limit in force.
    assert metrics["scrape_sample_limit"].gauge.data_points[0].as_double == 5
    assert Run(global_="{sample_limit: 2}", extra=True).metrics("a 1\n")["scrape_sample_limit"].gauge.data_points[0].as_double == 2


def test_negative_global_limits_are_refused() -> None:
    # Prometheus's limits are unsigned: a negative one does not load.
    with pytest.raises(BuildError, match="must not be negative"):
        _targets(global_="{label_limit: -1}")


def test_metric_relabel_configs_keep_drop_replace() -> None:
    run = Run("""metric_relabel_configs:
        - {source_labels: [__name__], regex: "keep_.*", action: keep}
        - {source_labels: [env], regex: "dev", action: drop}
        - {source_labels: [host], regex: "(.*)\\\\.example\\\\.com", target_label: short, replacement: "$1"}
        - {regex: "host", action: labeldrop}""")
    metrics = run.metrics('keep_a{env="prod",host="web1.example.com"} 1\nkeep_a{env="dev"} 2\nother 3\n')
    assert "other" not in metrics
    (p,) = metrics["keep_a"].gauge.data_points
    assert _attrs(p) == {"env": "prod", "short": "web1", "team": "a"}
    assert metrics["scrape_samples_scraped"].gauge.data_points[0].as_double == 3
    assert metrics["scrape_samples_post_metric_relabeling"].gauge.data_points[0].as_double == 1


def test_trim_metric_suffixes() -> None:
    # translator/prometheus TrimPromSuffixes: a counter's _total, then the unit's words (README's example).
    assert trim_suffixes("singing_duration_seconds_total", "sum", "seconds") == "singing_duration"
    assert trim_suffixes("http_requests_total", "sum", "") == "http_requests"
    assert trim_suffixes("temperature_celsius", "gauge", "celsius") == "temperature"
    assert trim_suffixes("up", "gauge", "") == "up"
    assert "http_requests" in Run(trim=True).metrics(EXPOSITION)


@pytest.mark.parametrize(("unit", "ucum"), [("seconds", "s"), ("bytes", "By"), ("bytes_per_second", "By/s"), ("", ""), ("widgets", "widgets")])
def test_unit_words_to_ucum(unit: str, ucum: str) -> None:
    assert unit_to_ucum(unit) == ucum


# Relabeling (prometheus/model/relabel/relabel.go, its relabel_test.go TestRelabel cases) ----------------------


def _rc(**kw: Any) -> RelabelConfig:
    rc = RelabelConfig(**kw)
    rc.validate()
    return rc


@pytest.mark.parametrize(("labels", "configs", "expected"), [
    ({"a": "foo", "b": "bar", "c": "baz"}, [_rc(source_labels=["a"], regex="f(.*)", target_label="d", replacement="ch${1}-ch${1}")],
     {"a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"}),
    ({"a": "foo", "b": "bar"}, [_rc(source_labels=["a", "b"], regex="f(.*);(.*)r", target_label="a", replacement="b${1}${2}m")],
     {"a": "boobam", "b": "bar"}),
    # Anchored: "o" does not match "foo".
    ({"a": "foo"}, [_rc(source_labels=["a"], regex="o", target_label="b", replacement="x")], {"a": "foo"}),
    ({"a": "foo"}, [_rc(source_labels=["a"], regex=".*o.*", action="drop")], None),
    ({"a": "foo"}, [_rc(source_labels=["a"], regex="no-match", action="keep")], None),
    # An empty replacement deletes the target label.
    ({"a": "foo", "b": "x"}, [_rc(source_labels=["a"], regex="(.*)", target_label="b", replacement="")], {"a": "foo"}),
    ({"a": "foo", "b1": "1", "b2": "2"}, [_rc(regex="b.*", action="labeldrop")], {"a": "foo"}),
    ({"a": "foo", "b1": "1", "b2": "2"}, [_rc(regex="b.*", action="labelkeep")], {"b1": "1", "b2": "2"}),
    ({"__meta_x": "1", "a": "2"}, [_rc(regex="__meta_(.*)", action="labelmap", replacement="meta_$1")], {"__meta_x": "1", "meta_x": "1", "a": "2"}),
    ({"a": "FoO"}, [_rc(source_labels=["a"], target_label="b", action="lowercase")], {"a": "FoO", "b": "foo"}),
    ({"a": "x", "b": "x"}, [_rc(source_labels=["a"], target_label="b", action="keepequal")], {"a": "x", "b": "x"}),
    ({"a": "x", "b": "y"}, [_rc(source_labels=["a"], target_label="b", action="keepequal")], None),
    # TestRelabel's hashmod case: md5("baz") mod 1000 is 976.
    ({"c": "baz"}, [_rc(source_labels=["c"], target_label="d", action="hashmod", modulus=1000)], {"c": "baz", "d": "976"}),
])
def test_relabel(labels: dict[str, str], configs: list[RelabelConfig], expected: dict[str, str] | None) -> None:
    assert relabel(labels, configs) == expected


def test_replacement_expansion_is_go_regexp_expand() -> None:
    import re

    m = re.match(r"(?P<host>[a-z]+)-(\d+)", "web-12")
    assert m is not None
    assert expand("$1", m) == "web" and expand("${2}x", m) == "12x" and expand("$host", m) == "web"
    assert expand("$1x", m) == ""  # Go reads `$1x` as the (absent) group named "1x"
    assert expand("$$1", m) == "$1" and expand("$9", m) == ""


def test_targets_from_static_configs_and_relabel_configs() -> None:
    # scrape/target.go PopulateLabels: job, __scheme__, __metrics_path__, __param_* defaults; instance = __address__.
    (t,) = _targets("""metrics_path: /probe
      params: {module: [http_2xx]}
      relabel_configs:
        - {source_labels: [__address__], target_label: __param_target}
        - {target_label: __address__, replacement: "blackbox:9115"}""")
    assert t.url == "http://blackbox:9115/probe?module=http_2xx&target=10.0.0.7%3A9100"
    assert t.instance == "blackbox:9115" and t.labels == {"job": "app", "instance": "blackbox:9115", "team": "a"}
    assert _targets("relabel_configs: [{source_labels: [team], regex: a, action: drop}]") == []


def test_intervals_and_timeouts() -> None:
    # config.go: an unset job timeout is the global one, capped at the job's interval.
    (t,) = _targets("scrape_interval: 5s", global_="{scrape_timeout: 10s, scrape_interval: 1m}")
    assert (t.interval, t.timeout) == (5.0, 5.0)
    (t,) = _targets("")
    assert (t.interval, t.timeout) == (60.0, 10.0)


def test_accept_header_is_prometheus_s() -> None:
    # scrape.go acceptHeader with the default scrape_protocols.
    assert accept_header(["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"]) == (
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,"
        "text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")


def test_nan_values_pass_through() -> None:
    assert math.isnan(Run().metrics("g NaN\n")["g"].gauge.data_points[0].as_double)
