"""collector/wire/'s own pieces, against protobuf itself: the field names are the .proto's numbers (every
constant checked against the generated message's descriptor), the wire types and tags are what protobuf
writes, the varint encoder and the KeyValue entries are protobuf's bytes, and the import switch has every C
function of this build and is the only importer of the extensions. The walks are held to their C twins in
the *_native tests."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import UInt64Value
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from collector.jaeger_proto import api_v2_pb2
from collector.wire import encode, fields, native
from collector.wire.fields import I32, I64, LEN, VARINT, tag
from collector.wire.locate import read_varint
from collector.wire.spans import key_needle

REPO = Path(__file__).resolve().parents[2]

MESSAGES = {
    fields.ExportTraceServiceRequest: trace_service_pb2.ExportTraceServiceRequest,
    fields.ExportLogsServiceRequest: logs_service_pb2.ExportLogsServiceRequest,
    fields.ExportMetricsServiceRequest: metrics_service_pb2.ExportMetricsServiceRequest,
    fields.ResourceSpans: trace_pb2.ResourceSpans,
    fields.ScopeSpans: trace_pb2.ScopeSpans,
    fields.Span: trace_pb2.Span,
    fields.Event: trace_pb2.Span.Event,
    fields.Status: trace_pb2.Status,
    fields.ResourceLogs: logs_pb2.ResourceLogs,
    fields.ScopeLogs: logs_pb2.ScopeLogs,
    fields.LogRecord: logs_pb2.LogRecord,
    fields.ResourceMetrics: metrics_pb2.ResourceMetrics,
    fields.ScopeMetrics: metrics_pb2.ScopeMetrics,
    fields.Metric: metrics_pb2.Metric,
    fields.Gauge: metrics_pb2.Gauge,
    fields.Sum: metrics_pb2.Sum,
    fields.Histogram: metrics_pb2.Histogram,
    fields.ExponentialHistogram: metrics_pb2.ExponentialHistogram,
    fields.Summary: metrics_pb2.Summary,
    fields.InstrumentationScope: common_pb2.InstrumentationScope,
    fields.KeyValue: common_pb2.KeyValue,
    fields.AnyValue: common_pb2.AnyValue,
    fields.PostSpansRequest: api_v2_pb2.PostSpansRequest,
}


def constants(cls: type) -> dict[str, int]:
    return {name: value for name, value in vars(cls).items() if name.isupper()}


def test_every_field_constant_is_its_proto_fields_number() -> None:
    declared = {cls for _, cls in inspect.getmembers(fields, inspect.isclass) if cls.__module__ == fields.__name__}
    assert declared == set(MESSAGES), "a message class in wire/fields.py without its generated message here"
    for cls, message in MESSAGES.items():
        assert cls.__name__ == message.DESCRIPTOR.name
        assert constants(cls), cls
        for name, number in constants(cls).items():
            assert message.DESCRIPTOR.fields_by_name[name.lower()].number == number, f"{cls.__name__}.{name}"


def test_tags_and_wire_types_are_what_protobuf_writes() -> None:
    Span, AnyValue = trace_pb2.Span, common_pb2.AnyValue
    assert trace_pb2.Span(name="x").SerializeToString()[0] == tag(fields.Span.NAME, LEN)
    assert AnyValue(int_value=1).SerializeToString()[0] == tag(fields.AnyValue.INT_VALUE, VARINT)
    assert AnyValue(double_value=1.0).SerializeToString()[0] == tag(fields.AnyValue.DOUBLE_VALUE, I64)
    flags = Span.DESCRIPTOR.fields_by_name["flags"].number  # fixed32, and above 15: a two-byte tag
    assert Span(flags=1).SerializeToString()[:2] == encode.tag_bytes(flags, I32)
    attribute = Span(attributes=[common_pb2.KeyValue(key="k")]).SerializeToString()
    assert attribute[:1] == encode.tag_bytes(fields.Span.ATTRIBUTES)  # LEN by default


EDGES = [0, 1, 127, 128, 255, 300, 16383, 16384, 2**21 - 1, 2**21, 2**32 - 1, 2**32, 2**35, 2**56, 2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("n", EDGES)
def test_varint_is_protobufs_encoding(n: int) -> None:
    written = encode.tag_bytes(1, VARINT) + encode.varint(n)
    assert UInt64Value.FromString(written).value == n
    if n:  # proto3 leaves a zero out
        assert UInt64Value(value=n).SerializeToString() == written
    assert read_varint(encode.varint(n), 0) == (n, len(encode.varint(n)))


@pytest.mark.parametrize("key, value", [("k", "v"), ("gen_ai.usage.cost_source", "bundled"), ("k" * 200, "é" * 100)])
def test_key_value_entries_are_protobufs_bytes(key: str, value: str) -> None:
    Span, KeyValue, AnyValue = trace_pb2.Span, common_pb2.KeyValue, common_pb2.AnyValue
    as_string = Span(attributes=[KeyValue(key=key, value=AnyValue(string_value=value))]).SerializeToString()
    assert encode.key_value_str(fields.Span.ATTRIBUTES, key, value) == as_string
    for number in (0.0, -0.0, 1.5, float("inf")):
        as_double = Span(attributes=[KeyValue(key=key, value=AnyValue(double_value=number))]).SerializeToString()
        assert encode.key_value_double_prefix(fields.Span.ATTRIBUTES, key) + encode.pack_double(number) == as_double


@pytest.mark.parametrize("key", ["k", "gen_ai.usage.cost", "é" * 100])
def test_key_needle_is_a_key_values_key_field(key: str) -> None:
    assert key_needle(key) == common_pb2.KeyValue(key=key).SerializeToString()


def test_the_import_switch_has_every_c_function_of_this_build() -> None:
    # Where a compiler exists (here, and CI) both extensions are built: a silent build failure would leave
    # the slow paths on (setup.py marks them optional for machines without one).
    assert native._walks is not None and native._otlp_json is not None, "collector/wire/*.c were not built (see setup.py)"
    assert native._pii is not None, "collector/wire/_pii.c was not built (see setup.py)"
    in_c = {name for name in dir(native._walks) if not name.startswith("_")} | {"otlp_json_traces"}
    in_c |= {f"pii_{name}" for name in dir(native._pii) if not name.startswith("_")}
    assert set(native.built()) == in_c
    assert all(native.built().values())
    assert native.otlp_json_traces is native._otlp_json.traces


def test_the_switch_reports_a_function_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "number_sum", None)
    assert native.built()["number_sum"] is False
    assert native.built()["attribute_values"] is True


def test_no_module_but_the_switch_imports_the_extensions() -> None:
    importer = re.compile(r"\b(?:from|import)\b.*\b(?:_walks|_otlp_json|_wire_walks)\b")
    found = []
    for path in sorted((REPO / "collector").rglob("*.py")):
        if path.name == "native.py" and path.parent.name == "wire":
            continue
        for line in path.read_text().splitlines():
            if importer.search(line):
                found.append(f"{path.relative_to(REPO)}: {line.strip()}")
    assert not found
