"""Tests for collector.otlpjson (OTLP-JSON codec)."""

from __future__ import annotations

import base64
import collections
import math
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector import otlpjson
from collector.otlpjson import OTLPJSONError, decode, encode

REQUESTS: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
HEX_ID_BYTES = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
T = FieldDescriptor


def wire(m: Message) -> bytes:
    return m.SerializeToString(deterministic=True)


def assert_same(actual: Message, expected: Message) -> None:
    # Wire equality is bit-exact (NaN payloads, -0.0, sub-message presence);
    # fall back to a readable diff when it fails.
    if wire(actual) != wire(expected):
        assert str(actual) == str(expected)
        pytest.fail("messages differ only in their wire encoding")
    assert actual == expected


# --------------------------------------------------------------------------- generator


STRINGS = [
    "hello",
    "ünïcödé ✓ 日本語 \U0001d11e \U0001f600 \U0010ffff",
    'ctl \x00\x01\x08\x0c\x1f\x7f "quoted" back\\slash /slash \n\r\t \u2028\u2029 </script>',
    "gen_ai.prompt " + "lorem ipsum " * 40,
]
BYTES = [b"\x00\xff\xfe\x80", bytes(range(256)), b"\xfb\xff", b"a", b"ab"]
DOUBLES = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    5e-324,
    1.7976931348623157e308,
    0.1,
    -2.5,
    1e21,
    1 / 3,
    123456789.0,
]
INTS: dict[int, list[int]] = {
    T.TYPE_INT32: [-1, 2**31 - 1, -(2**31), 42],
    T.TYPE_SINT32: [-7, 2**31 - 1, -(2**31), 5],
    T.TYPE_SFIXED32: [-7, 2**31 - 1, -(2**31), 5],
    T.TYPE_UINT32: [2**32 - 1, 1, 300],
    T.TYPE_FIXED32: [2**32 - 1, 0x101, 1],
    T.TYPE_INT64: [-(2**63), 2**63 - 1, -1, 1234567890123],
    T.TYPE_SINT64: [-(2**63), 2**63 - 1, -1],
    T.TYPE_SFIXED64: [-(2**63), 2**63 - 1, -1],
    T.TYPE_UINT64: [2**64 - 1, 1, 2**53 + 1],
    T.TYPE_FIXED64: [2**64 - 1, 1_544_712_660_000_000_001, 2**53 + 1],
}
DEFAULTS: dict[int, Any] = {
    T.TYPE_DOUBLE: 0.0,
    T.TYPE_FLOAT: 0.0,
    T.TYPE_BOOL: False,
    T.TYPE_STRING: "",
    T.TYPE_BYTES: b"",
    T.TYPE_ENUM: 0,
    **{t: 0 for t in INTS},
}


class Populator:
    """Sets every field of a message tree, cycling through interesting values.

    Counters are shared across calls so consecutive instances of the same message
    pick different oneof alternatives and different scalar values.
    """

    def __init__(self, seed: int, max_recursion: int = 3) -> None:
        self.rng = random.Random(seed)
        self.max_recursion = max_recursion
        self.counters: collections.Counter[str] = collections.Counter()

    def _next(self, key: str, pool: list[Any]) -> Any:
        i = self.counters[key]
        self.counters[key] += 1
        return pool[i % len(pool)]

    def scalar(self, f: FieldDescriptor, explicit_presence: bool) -> Any:
        if f.type == T.TYPE_BYTES and f.name in HEX_ID_BYTES:
            return self.rng.randbytes(HEX_ID_BYTES[f.name])
        if f.type in (T.TYPE_DOUBLE, T.TYPE_FLOAT):
            pool: list[Any] = DOUBLES
        elif f.type == T.TYPE_STRING:
            pool = STRINGS
        elif f.type == T.TYPE_BYTES:
            pool = BYTES
        elif f.type == T.TYPE_BOOL:
            pool = [True]
        elif f.type == T.TYPE_ENUM:
            known = [v.number for v in f.enum_type.values if v.number != 0]
            pool = known + [1000, -5]  # proto3 enums are open: unknown numbers survive
        else:
            pool = INTS[f.type]
        if explicit_presence:
            # Presence-tracked fields must keep even a default value on the round trip.
            pool = [DEFAULTS[f.type]] + list(pool)
        return self._next(f.full_name, pool)

    def fill(self, msg: Message, stack: tuple[str, ...] = ()) -> Message:
        desc = msg.DESCRIPTOR
        stack = stack + (desc.full_name,)
        chosen: dict[str, str] = {}
        for oneof in desc.oneofs:
            if len(oneof.fields) > 1:
                chosen[oneof.name] = self._next(oneof.full_name, [f.name for f in oneof.fields])
        for f in desc.fields:
            oneof = f.containing_oneof
            if oneof is not None and oneof.name in chosen and chosen[oneof.name] != f.name:
                continue
            if f.type == T.TYPE_MESSAGE:
                # Only recursive types (AnyValue -> ArrayValue -> AnyValue ...) are bounded.
                expand = stack.count(f.message_type.full_name) < self.max_recursion
                if f.is_repeated:
                    if expand:
                        for _ in range(2):
                            self.fill(getattr(msg, f.name).add(), stack)
                else:
                    sub = getattr(msg, f.name)
                    # Every third instance stays present-but-empty: presence must survive too.
                    if expand and self._next(f.full_name + "/empty", [False, False, True]) is False:
                        self.fill(sub, stack)
                    sub.SetInParent()
            elif f.is_repeated:
                getattr(msg, f.name).extend(self.scalar(f, False) for _ in range(2))
            else:
                setattr(msg, f.name, self.scalar(f, f.has_presence))
        return msg


def all_fields(desc: Descriptor, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    out: set[str] = set()
    if desc.full_name in seen:
        return out
    seen.add(desc.full_name)
    for f in desc.fields:
        out.add(f.full_name)
        if f.message_type is not None:
            out |= all_fields(f.message_type, seen)
    return out


def present_fields(msg: Message) -> set[str]:
    out: set[str] = set()
    for f, value in msg.ListFields():
        out.add(f.full_name)
        if f.type == T.TYPE_MESSAGE:
            for sub in value if f.is_repeated else [value]:
                out |= present_fields(sub)
    return out


def populated(signal: str, seed: int = 0, instances: int = 3) -> Message:
    pop = Populator(seed)
    req = REQUESTS[signal]()
    # Several top-level instances so every oneof alternative (e.g. all 5 metric kinds,
    # all 8 AnyValue kinds) is reached with nested content.
    for _ in range(instances):
        part = pop.fill(REQUESTS[signal]())
        req.MergeFrom(part)
    return req


@pytest.fixture(scope="module", params=sorted(REQUESTS))
def full(request: pytest.FixtureRequest) -> tuple[str, Message]:
    return request.param, populated(request.param)


# --------------------------------------------------------------------------- helpers


def hexify_ids(obj: Any, desc: Descriptor) -> Any:
    """json_format output -> OTLP-JSON: base64 trace/span ids become hex."""
    if isinstance(obj, list):
        return [hexify_ids(o, desc) for o in obj]
    out = dict(obj)
    for f in desc.fields:
        for key in {f.json_name, f.name}:
            if key not in out:
                continue
            if f.type == T.TYPE_BYTES and f.name in HEX_ID_BYTES:
                out[key] = base64.b64decode(out[key]).hex()
            elif f.message_type is not None:
                out[key] = hexify_ids(out[key], f.message_type)
    return out


def walk_json(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_json(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk_json(v, f"{path}[{i}]")


def key_of(path: str) -> str:
    return re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]


# --------------------------------------------------------------------------- 1. full round trip


def test_generator_sets_every_field(full: tuple[str, Message]) -> None:
    signal, msg = full
    missing = all_fields(msg.DESCRIPTOR) - present_fields(msg)
    assert not missing, f"generator does not populate: {sorted(missing)}"


def test_full_message_round_trip(full: tuple[str, Message]) -> None:
    signal, msg = full
    encoded = encode(signal, msg)
    assert_same(decode(signal, encoded), msg)
    # A second cycle must be byte-identical.
    assert encode(signal, decode(signal, encoded)) == encoded


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("signal", sorted(REQUESTS))
def test_round_trip_other_seeds(signal: str, seed: int) -> None:
    msg = populated(signal, seed=seed, instances=2)
    assert_same(decode(signal, encode(signal, msg)), msg)


def test_encoding_matches_json_format(full: tuple[str, Message]) -> None:
    """Exactly the proto3 JSON mapping (integer enums) except for hex ids."""
    signal, msg = full
    expected = hexify_ids(
        json_format.MessageToDict(msg, use_integers_for_enums=True), msg.DESCRIPTOR
    )
    assert orjson.loads(encode(signal, msg)) == expected


# Every helper that produces a JSON object; the mutation test below drops each key
# they emit in turn and expects the round trip to notice.
ENCODER_HELPERS = [
    "_any", "_kv", "_attrs", "_entity_ref", "_resource", "_scope",
    "_event", "_link", "_span", "_scope_spans", "_resource_spans",
    "_log_record", "_scope_logs", "_resource_logs",
    "_exemplar", "_number_point", "_histogram_point", "_buckets",
    "_exp_histogram_point", "_quantile", "_summary_point", "_points", "_metric",
    "_scope_metrics", "_resource_metrics",
]  # fmt: skip
# The encoder's modules; each helper is bound in the module defining it and in every one importing it.
ENCODER_MODULES = (otlpjson.values, otlpjson.spans, otlpjson.logs, otlpjson.metrics, otlpjson.encoder)


def _helper(name: str) -> Callable[..., Any]:
    return next(getattr(module, name) for module in ENCODER_MODULES if hasattr(module, name))


def _replace_helper(monkeypatch: pytest.MonkeyPatch, name: str, replacement: Callable[..., Any]) -> None:
    for module in ENCODER_MODULES:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, replacement)


def _emitted_keys(signal: str, msg: Message, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = collections.defaultdict(set)
    for name in ENCODER_HELPERS:
        orig = _helper(name)

        def spy(*args: Any, __orig: Callable[..., Any] = orig, __name: str = name) -> Any:
            result = __orig(*args)
            for d in result if isinstance(result, list) else [result]:
                keys[__name].update(d)
            return result

        _replace_helper(monkeypatch, name, spy)
    encode(signal, msg)
    monkeypatch.undo()
    return keys


def test_dropping_any_emitted_key_breaks_round_trip(
    full: tuple[str, Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves the round-trip test is sensitive: every key the encoder writes matters."""
    signal, msg = full
    emitted = _emitted_keys(signal, msg, monkeypatch)
    assert emitted, "spying on the encoder helpers failed"
    checked = 0
    for name, keys in sorted(emitted.items()):
        orig = _helper(name)
        for key in sorted(keys):

            def broken(*args: Any, __orig: Callable[..., Any] = orig, __key: str = key) -> Any:
                result = __orig(*args)
                for d in result if isinstance(result, list) else [result]:
                    d.pop(__key, None)
                return result

            _replace_helper(monkeypatch, name, broken)
            assert decode(signal, encode(signal, msg)) != msg, f"{name} without {key!r} went unnoticed"
            monkeypatch.undo()
            checked += 1
    assert checked > 20


# --------------------------------------------------------------------------- 2. spec conformance


TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def sample_traces() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=PARENT_ID,
        name="chat gpt-4o",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1544712660000000000,
        end_time_unix_nano=1544712661000000000,
        flags=0x301,
        attributes=[
            _kv("str", string_value="v"),
            _kv("int", int_value=-5),
            _kv("big", int_value=2**63 - 1),
            _kv("dbl", double_value=0.7),
            _kv("nan", double_value=math.nan),
            _kv("inf", double_value=math.inf),
            _kv("ninf", double_value=-math.inf),
            _kv("bool", bool_value=False),
            _kv("bytes", bytes_value=b"\xfb\xff"),
            _kv("arr", array_value={"values": [AnyValue(int_value=1), AnyValue(string_value="x")]}),
            _kv("map", kvlist_value={"values": [_kv("k", bool_value=True)]}),
        ],
        links=[Span.Link(trace_id=TRACE_ID, span_id=PARENT_ID, trace_state="a=b", flags=0x100)],
        events=[Span.Event(time_unix_nano=1544712660500000000, name="gen_ai.choice")],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
    )
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", string_value="svc"))
    ss = rs.scope_spans.add()
    ss.scope.name = "lib"
    ss.spans.append(span)
    return req


def test_trace_json_types() -> None:
    doc = orjson.loads(encode("traces", sample_traces()))
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert span["spanId"] == "eee19b7ec3c1b174"
    assert span["parentSpanId"] == "eee19b7ec3c1b173"
    assert span["kind"] == 3 and span["status"] == {"code": 2, "message": "boom"}
    assert span["flags"] == 0x301
    assert span["startTimeUnixNano"] == "1544712660000000000"
    assert span["endTimeUnixNano"] == "1544712661000000000"
    attrs = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert attrs["str"] == {"stringValue": "v"}
    assert attrs["int"] == {"intValue": "-5"}
    assert attrs["big"] == {"intValue": "9223372036854775807"}
    assert attrs["dbl"] == {"doubleValue": 0.7}
    assert attrs["nan"] == {"doubleValue": "NaN"}
    assert attrs["inf"] == {"doubleValue": "Infinity"}
    assert attrs["ninf"] == {"doubleValue": "-Infinity"}
    assert attrs["bool"] == {"boolValue": False}
    assert attrs["bytes"] == {"bytesValue": "+/8="}  # standard alphabet, padded
    assert attrs["arr"] == {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}
    assert attrs["map"] == {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}}
    assert span["links"] == [
        {"traceId": TRACE_ID.hex(), "spanId": PARENT_ID.hex(), "traceState": "a=b", "flags": 256}
    ]
    assert span["events"] == [{"timeUnixNano": "1544712660500000000", "name": "gen_ai.choice"}]


def test_output_is_compact_single_line(full: tuple[str, Message]) -> None:
    signal, msg = full
    out = encode(signal, msg)
    assert b"\n" not in out and not out.endswith(b" ")
    assert out == orjson.dumps(orjson.loads(out))  # no insignificant whitespace
    assert b"null" not in out  # NaN/inf never degrade to null


def test_full_message_value_kinds(full: tuple[str, Message]) -> None:
    """Scan the whole encoded document: ids hex, 64-bit ints strings, enums ints."""
    signal, msg = full
    doc = orjson.loads(encode(signal, msg))
    int64_keys = {
        "timeUnixNano", "startTimeUnixNano", "endTimeUnixNano", "observedTimeUnixNano",
        "intValue", "asInt", "count", "zeroCount",
    }  # fmt: skip
    enum_keys = {"kind", "code", "severityNumber", "aggregationTemporality"}
    seen: collections.Counter[str] = collections.Counter()
    for path, value in walk_json(doc):
        key = key_of(path)
        if key == "traceId":
            assert re.fullmatch(r"[0-9a-f]{32}", value), path
        elif key in ("spanId", "parentSpanId"):
            assert re.fullmatch(r"[0-9a-f]{16}", value), path
        elif key in int64_keys or (key == "bucketCounts" and isinstance(value, list)):
            values = value if isinstance(value, list) else [value]
            assert all(isinstance(v, str) and re.fullmatch(r"-?\d+", v) for v in values), path
        elif key in enum_keys:
            assert type(value) is int, path
        elif key == "bytesValue":  # canonical: standard alphabet, padded
            assert base64.b64encode(base64.b64decode(value, validate=True)).decode() == value, path
        else:
            continue
        seen[key] += 1
    assert all(seen[k] for k in ("traceId", "spanId", "intValue", "bytesValue", "timeUnixNano")), seen


def test_nonfinite_doubles_everywhere() -> None:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint, SummaryDataPoint

    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add()
    m.histogram.data_points.append(
        HistogramDataPoint(sum=math.nan, min=-math.inf, max=math.inf, explicit_bounds=[0.0, math.inf, 1.5])
    )
    m2 = req.resource_metrics[0].scope_metrics[0].metrics.add()
    m2.summary.data_points.append(
        SummaryDataPoint(sum=-0.0, quantile_values=[{"quantile": 0.0, "value": math.nan}])
    )
    doc = orjson.loads(encode("metrics", req))
    metrics = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    hp = metrics[0]["histogram"]["dataPoints"][0]
    assert hp["sum"] == "NaN" and hp["min"] == "-Infinity" and hp["max"] == "Infinity"
    assert hp["explicitBounds"] == [0.0, "Infinity", 1.5]
    sp = metrics[1]["summary"]["dataPoints"][0]
    assert math.copysign(1.0, sp["sum"]) == -1.0  # -0.0 is a set value in proto3
    assert sp["quantileValues"] == [{"value": "NaN"}]
    assert_same(decode("metrics", encode("metrics", req)), req)


def test_optional_and_oneof_defaults_are_kept() -> None:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint

    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add()
    m.histogram.data_points.append(HistogramDataPoint(sum=0.0, min=0.0))
    m.metadata.append(KeyValue(key="empty", value=AnyValue(string_value="")))
    m.metadata.append(KeyValue(key="unset"))
    m.metadata.append(KeyValue(key="zero", value=AnyValue(int_value=0)))
    doc = orjson.loads(encode("metrics", req))
    metric = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    assert metric["histogram"]["dataPoints"] == [{"sum": 0.0, "min": 0.0}]
    assert metric["metadata"] == [
        {"key": "empty", "value": {"stringValue": ""}},
        {"key": "unset"},
        {"key": "zero", "value": {"intValue": "0"}},
    ]
    assert_same(decode("metrics", encode("metrics", req)), req)


def test_empty_requests() -> None:
    for signal, cls in REQUESTS.items():
        assert encode(signal, cls()) == b"{}"
        assert_same(decode(signal, b"{}"), cls())
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.add()
    assert encode("traces", req) == b'{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}'
    req.resource_spans[0].resource.SetInParent()
    req.resource_spans[0].scope_spans[0].spans[0].status.SetInParent()
    out = encode("traces", req)
    assert out == b'{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"status":{}}]}]}]}'
    assert_same(decode("traces", out), req)


def test_json_format_interop_camel_case_enum_names(full: tuple[str, Message]) -> None:
    """json_format output (enum names, base64 ids -> hex) decodes to the same message."""
    signal, msg = full
    text = json_format.MessageToJson(msg)  # indented, enum names, base64 ids
    assert '"SPAN_KIND_' in text or '"SEVERITY_NUMBER_' in text or '"AGGREGATION_TEMPORALITY_' in text
    doc = hexify_ids(orjson.loads(text), msg.DESCRIPTOR)
    assert_same(decode(signal, orjson.dumps(doc)), msg)


def test_json_format_interop_snake_case(full: tuple[str, Message]) -> None:
    signal, msg = full
    doc = hexify_ids(
        json_format.MessageToDict(msg, preserving_proto_field_name=True, use_integers_for_enums=True),
        msg.DESCRIPTOR,
    )
    text = orjson.dumps(doc)
    assert b'"resource_' in text
    assert_same(decode(signal, text), msg)


def test_decode_then_json_format_matches(full: tuple[str, Message]) -> None:
    signal, msg = full
    decoded = decode(signal, encode(signal, msg))
    assert json_format.MessageToJson(decoded) == json_format.MessageToJson(msg)


# The examples shipped with opentelemetry-proto (examples/*.json): upper-case hex
# ids, 64-bit ints as JSON numbers.
PROTO_EXAMPLE_TRACE = b"""{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
"scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},
"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173",
"name":"I'm a server span","startTimeUnixNano":1544712660000000000,"endTimeUnixNano":1544712661000000000,"kind":2,
"attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"""

PROTO_EXAMPLE_LOGS = b"""{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
"scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},"logRecords":[{"timeUnixNano":1544712660300000000,
"observedTimeUnixNano":1544712660300000000,"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C",
"spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},"attributes":[
{"key":"string.attribute","value":{"stringValue":"some string"}},{"key":"boolean.attribute","value":{"boolValue":true}},
{"key":"int.attribute","value":{"intValue":10}},{"key":"double.attribute","value":{"doubleValue":637.704}},
{"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},
{"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}]}]}]}]}"""

PROTO_EXAMPLE_METRICS = b"""{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
"scopeMetrics":[{"scope":{"name":"my.library","version":"1.0.0"},"metrics":[
{"name":"my.counter","unit":"1","description":"I`m a Counter","sum":{"aggregationTemporality":1,"isMonotonic":true,
"dataPoints":[{"asDouble":5,"startTimeUnixNano":1544712660300000000,"timeUnixNano":1544712660300000000,
"attributes":[{"key":"my.counter.attr","value":{"stringValue":"some value"}}]}]}},
{"name":"my.gauge","unit":"1","description":"I`m a Gauge","gauge":{"dataPoints":[{"asDouble":10,"timeUnixNano":1544712660300000000}]}},
{"name":"my.histogram","unit":"1","description":"I`m a Histogram","histogram":{"aggregationTemporality":1,"dataPoints":[
{"startTimeUnixNano":1544712660300000000,"timeUnixNano":1544712660300000000,"count":3,"sum":3,"bucketCounts":[1,1,1],
"explicitBounds":[1],"min":1,"max":1}]}}]}]}]}"""


def test_opentelemetry_proto_examples() -> None:
    traces = decode("traces", PROTO_EXAMPLE_TRACE)
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == TRACE_ID and span.span_id == SPAN_ID and span.parent_span_id == PARENT_ID
    assert span.kind == Span.SPAN_KIND_SERVER and span.start_time_unix_nano == 1544712660000000000
    assert traces.resource_spans[0].scope_spans[0].scope.attributes[0].key == "my.scope.attribute"

    logs = decode("logs", PROTO_EXAMPLE_LOGS)
    rec = logs.resource_logs[0].scope_logs[0].log_records[0]
    assert rec.trace_id == TRACE_ID and rec.body.string_value == "Example log record"
    values = {kv.key: kv.value for kv in rec.attributes}
    assert values["int.attribute"].int_value == 10
    assert values["double.attribute"].double_value == 637.704
    assert values["map.attribute"].kvlist_value.values[0].value.string_value == "some value"

    metrics = decode("metrics", PROTO_EXAMPLE_METRICS)
    ms = metrics.resource_metrics[0].scope_metrics[0].metrics
    assert ms[0].sum.is_monotonic and ms[0].sum.aggregation_temporality == 1
    assert ms[0].sum.data_points[0].as_double == 5.0
    assert ms[0].sum.data_points[0].WhichOneof("value") == "as_double"
    hp = ms[2].histogram.data_points[0]
    assert list(hp.bucket_counts) == [1, 1, 1] and hp.HasField("min") and hp.count == 3

    # Re-encoding normalises to the canonical form (lower-case hex, int64 strings).
    out = orjson.loads(encode("traces", traces))
    span_json = out["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span_json["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert span_json["startTimeUnixNano"] == "1544712660000000000"


def test_lenient_input_forms() -> None:
    doc = {
        "resource_spans": [
            {
                "resource": None,
                "scope_spans": [
                    {
                        "unknownField": {"nested": [1, 2, 3]},
                        "spans": [
                            {
                                "trace_id": TRACE_ID.hex().upper(),
                                "spanId": "",  # empty id = unset
                                "parent_span_id": None,
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": 1544712660000000000,
                                "endTimeUnixNano": "1.544712661e18",
                                "droppedEventsCount": 2.0e0,
                                "droppedLinksCount": 1.7e1,
                                "dropped_attributes_count": "3",
                                "flags": 1.0,
                                "status": {"code": "STATUS_CODE_ERROR", "whatever": True},
                                "attributes": [
                                    {"key": "d", "value": {"double_value": "NaN"}},
                                    {"key": "e", "value": {"doubleValue": "-1.5e3"}},
                                    {"key": "f", "value": {"doubleValue": 3}},
                                    {"key": "b", "value": {"bytes_value": "-_8"}},  # URL-safe, unpadded
                                    {"key": "i", "value": {"intValue": 7, "stringValue": None}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
        "someFutureField": 1,
    }
    req = decode("traces", orjson.dumps(doc))
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert not req.resource_spans[0].HasField("resource")
    assert span.trace_id == TRACE_ID and span.span_id == b"" and span.parent_span_id == b""
    assert span.kind == Span.SPAN_KIND_SERVER and span.status.code == Status.STATUS_CODE_ERROR
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.dropped_attributes_count == 3 and span.flags == 1
    assert span.dropped_events_count == 2 and span.dropped_links_count == 17
    values = [kv.value for kv in span.attributes]
    assert math.isnan(values[0].double_value)
    assert values[1].double_value == -1500.0
    assert values[2].double_value == 3.0 and values[2].WhichOneof("value") == "double_value"
    assert values[3].bytes_value == b"\xfb\xff"
    assert values[4].int_value == 7
    # str, bytearray and memoryview inputs are accepted too.
    text = encode("traces", req)
    for data in (text.decode(), bytearray(text), memoryview(text)):
        assert_same(decode("traces", data), req)


def test_signal_and_type_checks() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        encode("profiles", ExportTraceServiceRequest())
    with pytest.raises(ValueError, match="unknown signal"):
        decode("spans", b"{}")
    with pytest.raises(TypeError):
        encode("traces", ExportLogsServiceRequest())
    with pytest.raises(TypeError):
        otlpjson.encode_metrics(Span())
    assert otlpjson.encode_traces(sample_traces()) == encode("traces", sample_traces())
    assert_same(otlpjson.decode_traces(encode("traces", sample_traces())), sample_traces())
    assert isinstance(otlpjson.decode_logs(b"{}"), ExportLogsServiceRequest)
    assert isinstance(otlpjson.decode_metrics(b"{}"), ExportMetricsServiceRequest)
    assert issubclass(OTLPJSONError, ValueError)


def test_encode_response() -> None:
    from google.rpc import status_pb2

    assert otlpjson.encode_response(ExportTraceServiceResponse()) == b"{}"
    resp = ExportTraceServiceResponse()
    resp.partial_success.rejected_spans = 3
    resp.partial_success.error_message = "too big"
    assert orjson.loads(otlpjson.encode_response(resp)) == {
        "partialSuccess": {"rejectedSpans": "3", "errorMessage": "too big"}
    }
    logs = ExportLogsServiceResponse()
    logs.partial_success.rejected_log_records = 1
    assert orjson.loads(otlpjson.encode_response(logs)) == {"partialSuccess": {"rejectedLogRecords": "1"}}
    metrics = ExportMetricsServiceResponse()
    metrics.partial_success.SetInParent()
    assert otlpjson.encode_response(metrics) == b'{"partialSuccess":{}}'
    status = status_pb2.Status(code=3, message="invalid traceId")
    assert orjson.loads(otlpjson.encode_response(status)) == {"code": 3, "message": "invalid traceId"}


# --------------------------------------------------------------------------- 3. real SDK output


def test_sdk_spans_round_trip() -> None:
    from opentelemetry import trace as trace_api
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "llm-app", "deployment.environment": "test"}, "https://opentelemetry.io/schemas/1.30.0")
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my.instrumentation", "1.2.3", schema_url="https://example.com/s", attributes={"scope.attr": 1})
    every_type = {
        "str": "value ✓ \U0001f600",
        "empty": "",
        "bool": True,
        "false": False,
        "int": -(2**63),
        "maxint": 2**63 - 1,
        "float": 0.1,
        "nan": math.nan,
        "inf": -math.inf,
        "strs": ["a", "b"],
        "bools": [True, False],
        "ints": [1, -2],
        "floats": [1.5, math.inf],
    }
    remote = trace_api.SpanContext(
        trace_id=0x5B8EFFF798038103D269B633813FC60C,
        span_id=0xEEE19B7EC3C1B173,
        is_remote=True,
        trace_flags=trace_api.TraceFlags(1),
        trace_state=trace_api.TraceState([("vendor", "value")]),
    )
    parent_ctx = trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote))
    with tracer.start_as_current_span(
        "invoke_agent", context=parent_ctx, kind=trace_api.SpanKind.SERVER, attributes=every_type,
        links=[trace_api.Link(remote, {"link.attr": "x"})],
    ) as root:
        root.add_event("gen_ai.user.message", {"content": "hi", "n": 3}, timestamp=1544712660000000001)
        with tracer.start_as_current_span("chat gpt-4o", kind=trace_api.SpanKind.CLIENT) as child:
            child.set_attribute("gen_ai.usage.input_tokens", 12)
            child.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "rate limited"))
            child.record_exception(RuntimeError("429"))
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    req = encode_spans(spans)
    assert_same(decode("traces", encode("traces", req)), req)
    expected = hexify_ids(json_format.MessageToDict(req, use_integers_for_enums=True), req.DESCRIPTOR)
    assert orjson.loads(encode("traces", req)) == expected
    doc = orjson.loads(encode("traces", req))
    root_json = next(s for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"] if s["name"] == "invoke_agent")
    assert root_json["parentSpanId"] == "eee19b7ec3c1b173" and root_json["traceState"] == "vendor=value"
    assert root_json["flags"] & 0x300 == 0x300  # remote-parent bits survive


def test_sdk_logs_round_trip() -> None:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "llm-app"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("my.logger", "0.1", schema_url="https://example.com/s")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("op"):
        logger.emit(
            body={"role": "user", "content": "hi", "parts": [1, 2.5, True, b"\x00\x01"], "nested": {"x": None}},
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            attributes={"gen_ai.system": "openai", "n": 3, "ratio": 0.5, "flags": [True]},
            event_name="gen_ai.client.inference.operation.details",
        )
    logger.emit(body="plain", severity_number=SeverityNumber.INFO, timestamp=1544712660300000000)
    logger.emit(body=b"\xff\xfe")
    records = exporter.get_finished_logs()
    assert len(records) == 3
    req = encode_logs(records)
    assert_same(decode("logs", encode("logs", req)), req)
    expected = hexify_ids(json_format.MessageToDict(req, use_integers_for_enums=True), req.DESCRIPTOR)
    assert orjson.loads(encode("logs", req)) == expected
    doc = orjson.loads(encode("logs", req))
    first = doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert first["eventName"] == "gen_ai.client.inference.operation.details"
    assert first["severityNumber"] == 13 and re.fullmatch(r"[0-9a-f]{32}", first["traceId"])


def test_sdk_metrics_round_trip() -> None:
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "llm-app"}),
        views=[View(instrument_name="gen_ai.server.time_per_output_token", aggregation=ExponentialBucketHistogramAggregation())],
        exemplar_filter=AlwaysOnExemplarFilter(),
    )
    meter = provider.get_meter("my.meter", "1.0", schema_url="https://example.com/s")
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}", description="tokens")
    per_token = meter.create_histogram("gen_ai.server.time_per_output_token", unit="s")
    requests = meter.create_counter("requests")
    inflight = meter.create_up_down_counter("inflight")
    gauge = meter.create_gauge("temperature")

    def observe(_: CallbackOptions) -> list[Observation]:
        return [Observation(3.5, {"cpu": "0"}), Observation(-1.0, {"cpu": "1"})]

    meter.create_observable_gauge("load", callbacks=[observe])
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("op"):
        for v in (12, 250, 4000):
            tokens.record(v, {"gen_ai.token.type": "input"})
        for v in (0.001, 0.02, 0.0, 1e-9):
            per_token.record(v)
        per_token.record(-0.5)  # negative buckets
    requests.add(5, {"ok": True})
    inflight.add(-2)
    gauge.set(21.5)
    data = reader.get_metrics_data()
    req = encode_metrics(data)
    kinds = {m.WhichOneof("data") for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert kinds == {"histogram", "exponential_histogram", "sum", "gauge"}
    assert_same(decode("metrics", encode("metrics", req)), req)
    expected = hexify_ids(json_format.MessageToDict(req, use_integers_for_enums=True), req.DESCRIPTOR)
    assert orjson.loads(encode("metrics", req)) == expected


# --------------------------------------------------------------------------- 4. errors


def _span_doc(**span: Any) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def _attr_doc(value: Any) -> bytes:
    return _span_doc(attributes=[{"key": "k", "value": value}])


SPAN_PATH = "resourceSpans[0].scopeSpans[0].spans[0]"
ERROR_CASES: list[tuple[str, str, bytes | str, str]] = [
    ("invalid JSON", "traces", b'{"resourceSpans": [', "invalid JSON"),
    ("empty body", "traces", b"", "invalid JSON"),
    ("not UTF-8", "logs", b'{"resourceLogs": "\xff"}', "invalid JSON"),
    ("NaN literal", "traces", b'{"x": NaN}', "invalid JSON"),
    ("top-level array", "traces", b"[]", "top level"),
    ("top-level string", "metrics", b'"x"', "top level"),
    ("top-level null", "logs", b"null", "top level"),
    ("resourceSpans not array", "traces", b'{"resourceSpans": {}}', "resourceSpans: expected an array"),
    ("span not object", "traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}', "resourceSpans[0].scopeSpans[0].spans[0]: expected a JSON object"),
    ("null array item", "traces", b'{"resourceSpans": [null]}', "resourceSpans[0]: expected a JSON object"),
    ("traceId short", "traces", _span_doc(traceId="abc"), f"{SPAN_PATH}.traceId: expected 32 hex characters, got a string of 3 characters"),
    ("traceId non-hex", "traces", _span_doc(traceId="zz" * 16), f"{SPAN_PATH}.traceId: expected 32 hex characters"),
    ("traceId base64", "traces", _span_doc(traceId=base64.b64encode(TRACE_ID).decode()), f"{SPAN_PATH}.traceId: expected 32 hex"),
    ("spanId long", "traces", _span_doc(spanId="00" * 16), f"{SPAN_PATH}.spanId: expected 16 hex characters"),
    ("spanId with spaces", "traces", _span_doc(spanId="eee19b7e c3c1b17"), f"{SPAN_PATH}.spanId: expected 16 hex"),
    ("parent_span_id number", "traces", _span_doc(parent_span_id=12), f"{SPAN_PATH}.parent_span_id: expected 16 hex characters, got a number"),
    ("link traceId", "traces", _span_doc(links=[{}, {"traceId": "0g" * 16}]), f"{SPAN_PATH}.links[1].traceId: expected 32 hex"),
    ("log spanId", "logs", orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "x"}]}]}]}), "resourceLogs[0].scopeLogs[0].logRecords[0].spanId: expected 16 hex"),
    ("exemplar traceId", "metrics", orjson.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": {"dataPoints": [{"exemplars": [{"traceId": "1"}]}]}}]}]}]}), "metrics[0].gauge.dataPoints[0].exemplars[0].traceId: expected 32 hex"),
    ("bad base64", "traces", _attr_doc({"bytesValue": "!!!!"}), f"{SPAN_PATH}.attributes[0].value.bytesValue: invalid base64"),
    ("base64 bad length", "traces", _attr_doc({"bytesValue": "QUJDR"}), "attributes[0].value.bytesValue: invalid base64"),
    ("base64 number", "traces", _attr_doc({"bytesValue": 5}), "bytesValue: expected a base64 string"),
    ("string for uint32", "traces", _span_doc(droppedAttributesCount="many"), f"{SPAN_PATH}.droppedAttributesCount: expected an integer, got a string of 4 characters"),
    ("string for fixed64", "traces", _span_doc(startTimeUnixNano="12a"), f"{SPAN_PATH}.startTimeUnixNano: expected an integer"),
    ("fraction for int64", "traces", _attr_doc({"intValue": 1.5}), "intValue: expected an integer"),
    ("string fraction int64", "traces", _attr_doc({"intValue": "1.5"}), "intValue: expected an integer"),
    ("bool for int", "traces", _span_doc(flags=True), f"{SPAN_PATH}.flags: expected an integer, got true"),
    ("negative uint32", "traces", _span_doc(droppedEventsCount=-1), "droppedEventsCount: a number out of range for uint32"),
    ("uint32 overflow", "traces", _span_doc(flags=2**32), "flags: a number out of range for fixed32"),
    ("int64 overflow", "traces", _attr_doc({"intValue": str(2**63)}), "intValue: a number out of range for int64"),
    ("uint64 overflow", "traces", _span_doc(endTimeUnixNano=str(2**64)), "endTimeUnixNano: a number out of range"),
    ("imprecise big number", "traces", b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":18446744073709551616}]}]}]}', "endTimeUnixNano: a number out of range for fixed64"),
    ("float for fixed64 too big", "traces", _span_doc(endTimeUnixNano=1e20), "endTimeUnixNano: a number out of range"),
    ("string for double", "traces", _attr_doc({"doubleValue": "fast"}), "doubleValue: expected a number"),
    ("lowercase nan", "traces", _attr_doc({"doubleValue": "nan"}), "doubleValue: expected a number"),
    ("double overflow", "traces", _attr_doc({"doubleValue": "1e400"}), "doubleValue: a number out of range"),
    ("bool as string", "traces", _attr_doc({"boolValue": "true"}), "boolValue: expected true or false"),
    ("number for string", "traces", _span_doc(name=5), f"{SPAN_PATH}.name: expected a string, got a number"),
    ("unknown enum name", "traces", _span_doc(kind="SPAN_KIND_BOGUS"), f"{SPAN_PATH}.kind: unknown opentelemetry.proto.trace.v1.Span.SpanKind value (a string of 15 characters)"),
    ("unknown status code name", "traces", _span_doc(status={"code": "ERROR"}), f"{SPAN_PATH}.status.code: unknown"),
    ("enum float", "traces", _span_doc(kind=1.5), f"{SPAN_PATH}.kind: expected an enum"),
    ("enum out of int32", "traces", _span_doc(kind=2**31), f"{SPAN_PATH}.kind: a number out of range"),
    ("two oneof members", "traces", _attr_doc({"stringValue": "a", "intValue": "1"}), "attributes[0].value.intValue: oneof 'value' already set by 'stringValue'"),
    ("camel and snake duplicate", "traces", _span_doc(traceId=TRACE_ID.hex(), trace_id=TRACE_ID.hex()), f"{SPAN_PATH}.trace_id: field 'trace_id' given more than once"),
    ("metric two kinds", "metrics", orjson.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": {}, "sum": {}}]}]}]}), "metrics[0].sum: oneof 'data' already set"),
    ("attributes not array", "traces", _span_doc(attributes={"k": "v"}), f"{SPAN_PATH}.attributes: expected an array"),
    ("null in scalar array", "metrics", orjson.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"histogram": {"dataPoints": [{"bucketCounts": ["1", None]}]}}]}]}]}), "dataPoints[0].bucketCounts[1]: expected an integer, got null"),
    ("resource not object", "logs", b'{"resourceLogs": [{"resource": "svc"}]}', "resourceLogs[0].resource: expected a JSON object"),
    ("huge digit string", "traces", _attr_doc({"intValue": "9" * 100_000}), "intValue: a number out of range for int64"),
    ("huge exponent string", "traces", _attr_doc({"intValue": "1e999999999"}), "intValue: a number out of range for int64"),
    ("negative exponent", "traces", _attr_doc({"intValue": "1e-5"}), "intValue: expected an integer, got a string of 4 characters"),
    ("unicode digits", "traces", _attr_doc({"intValue": "\u0661\u0662"}), "intValue: expected an integer"),
    ("hex number string", "traces", _attr_doc({"intValue": "0x10"}), "intValue: expected an integer"),
    ("whitespace in number", "traces", _attr_doc({"intValue": " 12"}), "intValue: expected an integer"),
    ("string with spaces for double", "traces", _attr_doc({"doubleValue": " 1.5"}), "doubleValue: expected a number"),
    ("inf spelled python-style", "traces", _attr_doc({"doubleValue": "inf"}), "doubleValue: expected a number"),
]


@pytest.mark.parametrize(
    "signal,data,expected", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_decode_errors(signal: str, data: bytes, expected: str) -> None:
    with pytest.raises(OTLPJSONError) as info:
        decode(signal, data)
    assert expected in str(info.value)


@pytest.mark.parametrize("field,value", [
    ("traceId", "alice@example.com"), ("spanId", "sk-live-0123456789abcdef"), ("kind", "bob@example.com"),
    ("startTimeUnixNano", "carol@example.com"), ("droppedAttributesCount", "+55 11 98765-4321"),
    ("endTimeUnixNano", "4111111111111111111111"), ("status", {"code": "dave@example.com"}), ("name", 4111111111111111),
])
def test_decode_errors_never_echo_the_value(field: str, value: Any) -> None:
    """The reason names the field and the problem, never the value: it is logged and sent to the client, and
    the value can be anyone's e-mail, phone, card number or key."""
    with pytest.raises(OTLPJSONError) as info:
        decode("traces", _span_doc(**{field: value}))
    text = str(info.value)
    assert field in text
    shown = value["code"] if isinstance(value, dict) else value
    assert str(shown) not in text and str(shown)[:6] not in text.rsplit(":", 1)[-1], text


def _nested_doc(levels: int, kvlist: bool) -> str:
    if kvlist:
        value = '{"kvlistValue":{"values":[{"key":"a","value":' * levels + "{}" + "}]}}" * levels
    else:
        value = '{"arrayValue":{"values":[' * levels + "{}" + "]}}" * levels
    return '{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":' + value + '}]}]}]}]}'


def _nested_message(levels: int, kvlist: bool) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    kv = req.resource_spans.add().scope_spans.add().spans.add().attributes.add(key="k")
    value = kv.value
    for _ in range(levels):
        if kvlist:
            value = value.kvlist_value.values.add(key="a").value
        else:
            value = value.array_value.values.add()
    value.SetInParent()
    return req


@pytest.mark.parametrize("kvlist", [False, True])
def test_nesting_limit_matches_protobuf_parser(kvlist: bool) -> None:
    """Accept exactly what the binary protobuf parser accepts (100 message levels)."""
    outcomes = set()
    for levels in range(20, 60):
        msg = _nested_message(levels, kvlist)
        try:
            ExportTraceServiceRequest.FromString(msg.SerializeToString())
            binary_ok = True
        except Exception:
            binary_ok = False
        try:
            decoded = decode("traces", _nested_doc(levels, kvlist))
        except OTLPJSONError as exc:
            assert "nested more than 100 levels" in str(exc)
            json_ok = False
        else:
            assert_same(decoded, msg)
            assert_same(decode("traces", encode("traces", msg)), msg)
            json_ok = True
        assert json_ok == binary_ok, levels
        outcomes.add(json_ok)
    assert outcomes == {True, False}


def test_error_message_format() -> None:
    spans = [{}, {}, {}, {"traceId": "abc"}]
    doc = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    with pytest.raises(OTLPJSONError) as info:
        decode("traces", doc)
    assert str(info.value) == (
        "resourceSpans[0].scopeSpans[0].spans[3].traceId: expected 32 hex characters, got a string of 3 characters"
    )
    assert info.value.__suppress_context__  # internal exception not chained into tracebacks


@pytest.mark.parametrize("levels", [300, 5000])
def test_deep_nesting_is_an_error_not_a_crash(levels: int) -> None:
    with pytest.raises(OTLPJSONError):
        decode("traces", _nested_doc(levels, kvlist=False))


def test_encoding_absurdly_deep_message_is_an_error() -> None:
    with pytest.raises(OTLPJSONError, match="nested too deeply|Recursion"):
        encode("traces", _nested_message(400, kvlist=False))


# --------------------------------------------------------------------------- 5. otlpjsonfile format


GOLDEN_LINE = (
    b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},'
    b'"scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
    b'"spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"chat","kind":3,'
    b'"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",'
    b'"attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}],'
    b'"status":{"code":1}}]}]}]}'
)


def test_otlpjsonfile_golden_line() -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", string_value="svc"))
    ss = rs.scope_spans.add()
    ss.scope.name = "lib"
    ss.spans.append(
        Span(
            trace_id=TRACE_ID,
            span_id=SPAN_ID,
            parent_span_id=PARENT_ID,
            name="chat",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=1544712660000000000,
            end_time_unix_nano=1544712661000000000,
            attributes=[_kv("gen_ai.usage.input_tokens", int_value=12)],
            status=Status(code=Status.STATUS_CODE_OK),
        )
    )
    assert encode("traces", req) == GOLDEN_LINE
    assert_same(decode("traces", GOLDEN_LINE), req)


def test_otlpjsonfile_lines(tmp_path: Any) -> None:
    """One request per line, as the Collector's otlpjsonfile receiver reads them."""
    batches = [
        ("traces", sample_traces()),
        ("logs", decode("logs", PROTO_EXAMPLE_LOGS)),
        ("metrics", decode("metrics", PROTO_EXAMPLE_METRICS)),
        ("traces", populated("traces", seed=9, instances=1)),
    ]
    path = tmp_path / "otlp.jsonl"
    with open(path, "wb") as fh:
        for signal, msg in batches:
            fh.write(encode(signal, msg) + b"\n")
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(batches)
    for line, (signal, msg) in zip(lines, batches, strict=True):
        top = orjson.loads(line)
        assert list(top) == [{"traces": "resourceSpans", "logs": "resourceLogs", "metrics": "resourceMetrics"}[signal]]
        assert_same(decode(signal, line), msg)
