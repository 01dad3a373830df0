"""wire.count: the items of a serialized request counted without decoding it (what a receiver counts for a
request refused before it is decoded), against protobuf's own count on real requests, fed whole and in
chunks of every size, truncated anywhere, with protobuf's oneof and unknown-group rules, and on corrupted
bytes; the C walk (`native.count_walk`) gives the Python walk's answers on all of them."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector import pdata
from collector.component import Signal
from collector.tools import loadgen
from collector.wire import native
from collector.wire.count import ItemCounter, count_items
from collector.wire.encode import length_delimited, tag_bytes, varint
from collector.wire.fields import I32, I64, VARINT

START_GROUP, END_GROUP = 3, 4


@pytest.fixture(params=["c", "python"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the C walk and with the Python reference."""
    if request.param == "c":
        if native.count_walk is None:
            pytest.skip("C walks not built")
    else:
        monkeypatch.setattr(native, "count_walk", None)
    return str(request.param)


def trace_request(spans: int = 300, seed: int = 7) -> bytes:
    return loadgen.build_templates(batch_size=spans, count=1, seed=seed)[0].payload


def log_request(records: int = 120) -> bytes:
    return loadgen.build_templates(signal_name="logs", batch_size=records, count=1, seed=3)[0].payload


def metrics_request() -> bytes:
    req = ExportMetricsServiceRequest()
    for r in range(3):
        rm = req.resource_metrics.add()
        rm.resource.attributes.add(key="service.name", value={"string_value": f"svc{r}"})
        for s in range(2):
            sm = rm.scope_metrics.add()
            sm.scope.name = f"scope{s}"
            gauge = sm.metrics.add(name="g")
            gauge.gauge.data_points.add(as_double=1.0)
            gauge.gauge.data_points.add(as_int=2)
            total = sm.metrics.add(name="s")
            for i in range(3):
                total.sum.data_points.add(as_int=i)
            sm.metrics.add(name="h").histogram.data_points.add(count=4, bucket_counts=[1, 3], explicit_bounds=[1.0])
            sm.metrics.add(name="e").exponential_histogram.data_points.add(count=1, scale=2)
            sm.metrics.add(name="q").summary.data_points.add(count=1, sum=2.0)
            sm.metrics.add(name="empty")  # no data: no points
    return req.SerializeToString()


REQUESTS = {Signal.TRACES: ExportTraceServiceRequest, Signal.LOGS: ExportLogsServiceRequest, Signal.METRICS: ExportMetricsServiceRequest}


def protobuf_count(signal: Signal, data: bytes) -> int:
    return pdata.count_items(signal, REQUESTS[signal].FromString(data))


def chunks(data: bytes, rng: random.Random) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 2, 3, 5, 11, 64, 1000, 1 << 16))
        yield data[pos:pos + step]
        pos += step


@pytest.mark.parametrize("signal", list(Signal))
def test_the_count_is_protobufs_fed_whole_or_in_chunks_of_any_size(walk: str, signal: Signal) -> None:
    data = {Signal.TRACES: trace_request, Signal.LOGS: log_request, Signal.METRICS: metrics_request}[signal]()
    expected = protobuf_count(signal, data)
    assert expected > 0
    assert count_items(signal, data) == expected
    assert count_items(signal, memoryview(data)) == expected
    rng = random.Random(signal)
    for _ in range(20):
        counter = ItemCounter(signal)
        for piece in chunks(data, rng):
            counter.feed(piece)
        assert (counter.items, counter.bad) == (expected, False)


def test_concatenated_requests_count_as_one_merged_request(walk: str) -> None:
    one = trace_request(100)
    assert count_items(Signal.TRACES, one * 20) == 20 * 100 == protobuf_count(Signal.TRACES, one * 20)
    assert count_items(Signal.TRACES, b"") == 0


def field_size(message: object) -> int:
    size = message.ByteSize()  # type: ignore[attr-defined]
    return 1 + len(varint(size)) + int(size)  # tags of fields below 16 take one byte


def span_ends(data: bytes) -> list[int]:
    """Where each span's field ends in a trace request as protobuf serialises it (fields in number order:
    resource or scope, then the repeated field, then schema_url), from the messages' sizes: the reference for
    a truncated request."""
    req = ExportTraceServiceRequest.FromString(data)
    assert req.SerializeToString() == data
    ends: list[int] = []
    pos = 0
    for rs in req.resource_spans:
        rs_end = pos + field_size(rs)
        pos = rs_end - rs.ByteSize() + (field_size(rs.resource) if rs.HasField("resource") else 0)
        for ss in rs.scope_spans:
            ss_end = pos + field_size(ss)
            pos = ss_end - ss.ByteSize() + (field_size(ss.scope) if ss.HasField("scope") else 0)
            for span in ss.spans:
                pos += field_size(span)
                ends.append(pos)
            pos = ss_end
        pos = rs_end
    assert pos == len(data)
    return ends


def test_a_truncated_request_counts_the_items_complete_before_the_cut(walk: str) -> None:
    data = trace_request(60)
    ends = span_ends(data)
    rng = random.Random(1)
    cuts = sorted({*rng.sample(range(len(data)), 200), *ends, *(e - 1 for e in ends), *(e + 1 for e in ends), 0, 1, len(data)})
    for cut in cuts:
        expected = sum(1 for end in ends if end <= cut)
        assert count_items(Signal.TRACES, data[:cut]) == expected, cut
        counter = ItemCounter(Signal.TRACES)
        for piece in chunks(data[:cut], rng):
            counter.feed(piece)
        assert counter.items == expected and not counter.bad, cut


def metric_with(*kinds: tuple[str, int]) -> bytes:
    """One Metric's bytes with a data field per kind, in order (protobuf merges them on parse)."""
    out = b""
    for kind, points in kinds:
        metric = metrics_pb2.Metric(name="m")
        data = getattr(metric, kind)
        for i in range(points):
            data.data_points.add(as_int=i) if kind in ("gauge", "sum") else data.data_points.add(count=i)
        out += metric.SerializeToString()
    return out


def metrics_bytes(metric: bytes) -> bytes:
    scope = length_delimited(2, metric)  # ScopeMetrics.metrics
    resource = length_delimited(2, scope)  # ResourceMetrics.scope_metrics
    return length_delimited(1, resource)  # ExportMetricsServiceRequest.resource_metrics


@pytest.mark.parametrize("kinds, expected", [
    ((("gauge", 2), ("sum", 3)), 3),  # the oneof keeps the last field
    ((("sum", 3), ("gauge", 2)), 2),
    ((("gauge", 2), ("gauge", 3)), 5),  # the same field merges
    ((("gauge", 2), ("sum", 3), ("gauge", 4)), 4),  # the first gauge was cleared by the sum
    ((("histogram", 1), ("summary", 2), ("summary", 1)), 3),
])
def test_a_metrics_points_are_those_of_the_last_field_of_its_oneof(walk: str, kinds: tuple[tuple[str, int], ...], expected: int) -> None:
    data = metrics_bytes(metric_with(*kinds)) + metrics_bytes(metric_with(("gauge", 1)))
    assert protobuf_count(Signal.METRICS, data) == expected + 1
    assert count_items(Signal.METRICS, data) == expected + 1
    counter = ItemCounter(Signal.METRICS)
    for byte in range(len(data)):
        counter.feed(data[byte:byte + 1])
    assert counter.items == expected + 1


def unknown_fields() -> bytes:
    """Unknown fields of every wire type protobuf keeps, a nested group among them."""
    group = tag_bytes(90, START_GROUP) + tag_bytes(1, VARINT) + varint(5) + tag_bytes(91, START_GROUP) + length_delimited(2, b"xy")
    group += tag_bytes(91, END_GROUP) + tag_bytes(3, I32) + b"\0" * 4 + tag_bytes(90, END_GROUP)
    return group + tag_bytes(70, VARINT) + varint(1 << 40) + tag_bytes(71, I64) + b"\1" * 8 + length_delimited(72, b"zz" * 200)


def test_unknown_fields_and_groups_are_stepped_over(walk: str) -> None:
    data = trace_request(30)
    req = ExportTraceServiceRequest.FromString(data)
    # Inside a span, a scope and at the top: protobuf parses them as unknown fields.
    span = req.resource_spans[0].scope_spans[0].spans[0]
    span.MergeFromString(unknown_fields())
    req.resource_spans[0].scope_spans[0].MergeFromString(unknown_fields())
    mixed = req.SerializeToString() + unknown_fields() + data
    assert protobuf_count(Signal.TRACES, mixed) == 60
    assert count_items(Signal.TRACES, mixed) == 60
    counter = ItemCounter(Signal.TRACES)
    for piece in chunks(mixed, random.Random(5)):
        counter.feed(piece)
    assert (counter.items, counter.bad) == (60, False)


@pytest.mark.parametrize("tail", [
    tag_bytes(0, VARINT) + b"\0",  # field 0
    bytes([0x0E]),  # field 1, wire type 6
    bytes([0x0A]) + b"\xff" * 11,  # a length of more than 10 bytes
    tag_bytes(5, END_GROUP),  # an end with no group
    tag_bytes(5, START_GROUP) + tag_bytes(6, END_GROUP),  # the wrong end
    length_delimited(1, length_delimited(2, b"\x12\x7f")),  # a span longer than its scope
    length_delimited(1, tag_bytes(9, I64) + b"\0\0"),  # a fixed field past its message's end
])
def test_malformed_bytes_end_the_count_where_they_start(walk: str, tail: bytes) -> None:
    data = trace_request(20)
    with pytest.raises(DecodeError):
        ExportTraceServiceRequest.FromString(data + tail + data)
    counter = ItemCounter(Signal.TRACES).feed(data + tail + data)
    assert (counter.items, counter.bad) == (20, True)
    assert counter.feed(data).items == 20  # nothing more once bad


def mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(buf))
            what = rng.random()
            if what < 0.6:
                buf[at] = rng.randrange(256)
            elif what < 0.8:
                del buf[at:at + rng.randint(1, 40)]
            else:
                buf[at:at] = rng.randbytes(rng.randint(1, 12))
        yield bytes(buf)


@pytest.mark.parametrize("signal", list(Signal))
def test_on_corrupted_bytes_c_and_python_agree_and_match_protobuf_when_it_parses(signal: Signal, monkeypatch: pytest.MonkeyPatch) -> None:
    if native.count_walk is None:
        pytest.skip("C walks not built")
    data = {Signal.TRACES: lambda: trace_request(40), Signal.LOGS: lambda: log_request(40), Signal.METRICS: metrics_request}[signal]()
    rng = random.Random(42)
    c_walk = native.count_walk
    for bad in mutations(data, rng, 1500):
        cut = rng.randrange(len(bad) + 1)
        with monkeypatch.context() as m:
            m.setattr(native, "count_walk", None)
            python = ItemCounter(signal).feed(bad[:cut]).feed(bad[cut:])
        assert native.count_walk is c_walk
        c = ItemCounter(signal).feed(bad[:cut]).feed(bad[cut:])
        assert (c.items, c.bad) == (python.items, python.bad)
        try:
            expected = protobuf_count(signal, bad)
        except DecodeError:
            continue
        assert (c.items, c.bad) == (expected, False)
