"""gen_ai_normalizer writes what otelcol-contrib's genainormalizerprocessor writes: its processor_test.go cases
(the current, list-shaped version and the first, map-shaped one) as table tests, each saying which contrib
test it follows. Mapping tables, value folds, coercion and messages: test_genai_normalizer_mappings.py;
config: test_genai_normalizer_config.py; sources beyond contrib: test_genai_normalizer_beyond.py."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.envelope import Envelope
from collector.processors.genai_normalizer.semconv import SCHEMA_URL
from collector.testing import Sink, build_processor, kv, traces_request
from tests.processors.genai_normalizer_helpers import attrs_of, normalized, run_span, single


def fixture(mappings: dict[str, str], *, remove_originals: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """contrib's processor_test.go newNormalizer(lookup, ...): a source with a fixture table, here a
    user-defined source with those mappings."""
    return single("fixture", mappings=mappings, remove_originals=remove_originals, overwrite=overwrite)


# (contrib test case, config, attributes in, expected attributes out; None: the key must be absent)
NORMALIZE_ATTRIBUTES = [
    # processor_test.go TestNormalizeAttributes "string rename, remove_originals=true"
    ("string rename, remove_originals", fixture({"src.model": "dst.model"}, remove_originals=True), [("src.model", "m")], {"dst.model": "m", "src.model": None}),
    # TestNormalizeAttributes "int rename"
    ("int rename", fixture({"src.count": "dst.count"}), [("src.count", 42)], {"dst.count": 42}),
    # TestNormalizeAttributes "double rename"
    ("double rename", fixture({"src.ratio": "dst.ratio"}), [("src.ratio", 0.7)], {"dst.ratio": 0.7}),
    # TestNormalizeAttributes "bool rename"
    ("bool rename", fixture({"src.flag": "dst.flag"}), [("src.flag", True)], {"dst.flag": True}),
    # TestNormalizeAttributes "slice rename snapshots source before write"
    ("slice rename", fixture({"src.list": "dst.list"}), [("src.list", ["a", "b"])], {"dst.list": ["a", "b"]}),
    # TestNormalizeAttributes "map rename snapshots source before write"
    ("map rename", fixture({"src.obj": "dst.obj"}), [("src.obj", {"k": "v"})], {"dst.obj": {"k": "v"}}),
    # TestNormalizeAttributes "bytes rename snapshots source before write"
    ("bytes rename", fixture({"src.bytes": "dst.bytes"}), [("src.bytes", b"\x01\x02")], {"dst.bytes": base64.b64encode(b"\x01\x02").decode()}),
    # TestNormalizeAttributes "remove_originals=false keeps source"
    ("remove_originals=false keeps source", fixture({"src.model": "dst.model"}), [("src.model", "m")], {"src.model": "m", "dst.model": "m"}),
    # TestNormalizeAttributes "overwrite=false skips when target exists"
    ("overwrite=false skips", fixture({"src.model": "dst.model"}, remove_originals=True), [("src.model", "new"), ("dst.model", "existing")], {"dst.model": "existing", "src.model": "new"}),
    # TestNormalizeAttributes "overwrite=true replaces when target exists"
    ("overwrite=true replaces", fixture({"src.model": "dst.model"}, remove_originals=True, overwrite=True), [("src.model", "new"), ("dst.model", "existing")], {"dst.model": "new", "src.model": None}),
    # TestNormalizeAttributes "multiple renames in one pass"
    ("multiple renames", fixture({"src.a": "dst.a", "src.b": "dst.b"}, remove_originals=True), [("src.a", "va"), ("src.b", "vb")], {"dst.a": "va", "dst.b": "vb", "src.a": None, "src.b": None}),
    # TestNormalizeAttributes "string target routed through transformValue" (openinference's transformer)
    ("string target folded", single("openinference"), [("openinference.span.kind", "LLM")], {"gen_ai.operation.name": "chat"}),
    # TestNormalizeAttributes "nil transformValue passes string through unchanged"
    ("no fold passes through", fixture({"src.op": "gen_ai.operation.name"}), [("src.op", "LLM")], {"gen_ai.operation.name": "LLM"}),
]


@pytest.mark.parametrize(("case", "config", "attributes", "expected"), NORMALIZE_ATTRIBUTES, ids=[c[0] for c in NORMALIZE_ATTRIBUTES])
def test_normalize_attributes(case: str, config: Any, attributes: list[tuple[str, Any]], expected: dict[str, Any]) -> None:
    out = normalized(config, attributes)
    for key, value in expected.items():
        if value is None:
            assert key not in out, case
        else:
            assert out[key] == value, case


def test_no_match_is_a_no_op() -> None:
    # processor_test.go TestNormalizeAttributes "no match is a no-op"
    assert normalized(fixture({"src.model": "dst.model"}, remove_originals=True), [("http.method", "GET"), ("http.status_code", 200)]) == {"http.method": "GET", "http.status_code": 200}


def test_a_rename_takes_the_original_s_place_as_pcommon_s_remove_leaves_it() -> None:
    # processor.go normalizeAttributes + pcommon Map.Remove (the last entry moves into the removed one's slot)
    _, _, span = run_span(single("openllmetry", remove_originals=True), [("a", 1), ("llm.request.model", "gpt-4o"), ("b", 2)])
    assert [a.key for a in span.attributes] == ["a", "gen_ai.request.model", "b"]


@pytest.mark.parametrize(("attributes", "stamped"), [
    # processor_test.go TestNormalizeAttributes_ReportsWrote "returns true on write" / TestProcessTraces_StampsSchemaURLWhenMappingFires
    ([("src.model", "m")], True),
    # TestNormalizeAttributes_ReportsWrote "returns false when no match" / TestProcessTraces_LeavesSchemaURLWhenNoMappingFires
    ([("http.method", "GET")], False),
    # TestNormalizeAttributes_ReportsWrote "returns false when overwrite=false and target exists"
    ([("src.model", "new"), ("dst.model", "existing")], False),
])
def test_the_scope_gets_the_schema_url_when_a_mapping_fires(attributes: list[tuple[str, Any]], stamped: bool) -> None:
    _, scope, _ = run_span(fixture({"src.model": "dst.model"}, remove_originals=True), attributes)
    assert scope.schema_url == (SCHEMA_URL if stamped else "")
    assert SCHEMA_URL == "https://opentelemetry.io/schemas/1.40.0"


def test_an_existing_scope_schema_url_and_the_resource_s_are_kept() -> None:
    # processor_test.go TestProcessTraces_PreservesExistingSchemaURL, TestProcessTraces_DoesNotModifyResourceSchemaURL
    old = "https://opentelemetry.io/schemas/1.38.0"
    out, scope, span = run_span(fixture({"src.model": "dst.model"}, remove_originals=True), [("src.model", "m")], scope_schema_url=old)
    assert scope.schema_url == old and attrs_of(span.attributes) == {"dst.model": "m"}
    out, scope, _ = run_span(fixture({"src.model": "dst.model"}, remove_originals=True), [("src.model", "m")], resource_schema_url=old)
    assert out.resource_spans[0].schema_url == old and scope.schema_url == SCHEMA_URL


def test_the_list_shape_leaves_span_events_alone() -> None:
    # processor_test.go TestProcessTraces_IgnoresSpanEvents
    _, _, span = run_span(fixture({"src.model": "dst.model"}, remove_originals=True), [], events=[[("src.model", "m")]])
    assert attrs_of(span.events[0].attributes) == {"src.model": "m"}


def test_sources_apply_in_list_order() -> None:
    # processor_test.go TestProcessTraces_AppliesSourcesInSliceOrder
    config = {"sources": [
        {"name": "a", "mappings": {"src.a": "dst.model"}, "remove_originals": True, "overwrite": True},
        {"name": "b", "mappings": {"src.b": "dst.model"}, "remove_originals": True, "overwrite": True},
    ]}
    assert normalized(config, [("src.a", "from-a"), ("src.b", "from-b")])["dst.model"] == "from-b"


def test_empty_traces() -> None:
    # processor_test.go TestProcessTraces_EmptyTraces
    sink = Sink()
    asyncio.run(build_processor("gen_ai_normalizer", fixture({"src.a": "dst.a"}), sink).consume(Envelope.of(ExportTraceServiceRequest())))
    assert len(sink.requests) == 1


def test_openinference_end_to_end() -> None:
    # processor_test.go TestNormalize_OpenInferenceEndToEnd
    out = normalized(single("openinference", remove_originals=True), [
        ("llm.token_count.prompt", 100), ("llm.token_count.completion", 200), ("llm.model_name", "claude-sonnet-4"),
        ("llm.provider", "anthropic"), ("openinference.span.kind", "LLM"), ("agent.name", "research-agent"), ("session.id", "sess-123"),
    ])
    assert out == {
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 200, "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", "gen_ai.agent.name": "research-agent",
        "gen_ai.conversation.id": "sess-123",
    }


# contrib's first, map-shaped version: processor_test.go TestNormalize_SpanAttributes (commit 028e7f6).
def one(name: str, **settings: Any) -> dict[str, Any]:
    return {"sources": {name: settings}}


BOTH = {"sources": {"openinference": {"remove_originals": True}, "openllmetry": {"remove_originals": True}}}
MAP_SHAPE = [
    ("openinference: token counts and model, remove_originals=true", one("openinference", remove_originals=True),
     [("llm.token_count.prompt", 100), ("llm.token_count.completion", 200), ("llm.model_name", "claude-sonnet-4")],
     {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 200, "gen_ai.request.model": "claude-sonnet-4", "llm.token_count.prompt": None}),
    ("openllmetry: token counts and model, remove_originals=true", one("openllmetry", remove_originals=True),
     [("llm.usage.prompt_tokens", 150), ("llm.request.model", "gpt-4o")], {"gen_ai.usage.input_tokens": 150, "gen_ai.request.model": "gpt-4o"}),
    ("openllmetry only: openinference attrs pass through", one("openllmetry", remove_originals=True),
     [("llm.token_count.prompt", 100), ("llm.model_name", "claude-sonnet-4")],
     {"llm.token_count.prompt": 100, "llm.model_name": "claude-sonnet-4", "gen_ai.usage.input_tokens": None}),
    ("openinference only: openllmetry attrs pass through", one("openinference", remove_originals=True),
     [("llm.usage.prompt_tokens", 200), ("llm.request.model", "gpt-4o")],
     {"llm.usage.prompt_tokens": 200, "llm.request.model": "gpt-4o", "gen_ai.usage.input_tokens": None}),
    ("remove_originals=false keeps source", one("openinference"), [("llm.token_count.prompt", 100)],
     {"gen_ai.usage.input_tokens": 100, "llm.token_count.prompt": 100}),
    ("overwrite=false skips existing target", one("openinference", remove_originals=True),
     [("llm.model_name", "new-model"), ("gen_ai.request.model", "existing-model")], {"gen_ai.request.model": "existing-model"}),
    ("overwrite=true replaces existing target", one("openinference", remove_originals=True, overwrite=True),
     [("llm.model_name", "new-model"), ("gen_ai.request.model", "existing-model")], {"gen_ai.request.model": "new-model"}),
    ("wrapSlice: finish_reason string to finish_reasons slice", one("openllmetry", remove_originals=True),
     [("llm.response.finish_reason", "stop")], {"gen_ai.response.finish_reasons": ["stop"]}),
    ("value mapping: openinference.span.kind=LLM to gen_ai.operation.name=chat", one("openinference", remove_originals=True),
     [("openinference.span.kind", "LLM")], {"gen_ai.operation.name": "chat"}),
    ("custom mappings on built-in source (additive)", one("openinference", remove_originals=True, custom_mappings={"my_vendor.model": "gen_ai.request.model"}),
     [("my_vendor.model", "custom-model-v1")], {"gen_ai.request.model": "custom-model-v1", "my_vendor.model": None}),
    ("custom mapping overrides built-in on conflict", one("openinference", remove_originals=True, custom_mappings={"llm.model_name": "gen_ai.response.model"}),
     [("llm.model_name", "gpt-4o")], {"gen_ai.response.model": "gpt-4o", "gen_ai.request.model": None}),
    ("custom source only (no built-in mappings applied)", one("custom", remove_originals=True, custom_mappings={"my_vendor.model": "gen_ai.request.model"}),
     [("my_vendor.model", "custom-model-v1"), ("llm.model_name", "should-not-map")], {"gen_ai.request.model": "custom-model-v1", "llm.model_name": "should-not-map"}),
    ("custom source: double value passes through", one("custom", remove_originals=True, custom_mappings={"my_vendor.temperature": "gen_ai.request.temperature"}),
     [("my_vendor.temperature", 0.7)], {"gen_ai.request.temperature": 0.7}),
    ("custom source: bool value passes through", one("custom", remove_originals=True, custom_mappings={"my_vendor.streaming": "gen_ai.request.streaming"}),
     [("my_vendor.streaming", True)], {"gen_ai.request.streaming": True}),
    ("wrapSlice fallback when source value is already a slice", one("openllmetry", remove_originals=True),
     [("llm.response.finish_reason", ["stop", "length"])], {"gen_ai.response.finish_reasons": ["stop", "length"]}),
    ("multiple sources: both applied on one span", BOTH,
     [("llm.token_count.prompt", 100), ("llm.usage.completion_tokens", 50), ("llm.model_name", "claude-sonnet-4"), ("llm.response.model", "gpt-4o-output")],
     {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 50, "gen_ai.request.model": "claude-sonnet-4", "gen_ai.response.model": "gpt-4o-output"}),
]


@pytest.mark.parametrize(("case", "config", "attributes", "expected"), MAP_SHAPE, ids=[c[0] for c in MAP_SHAPE])
def test_map_shape_span_attributes(case: str, config: Any, attributes: list[tuple[str, Any]], expected: dict[str, Any]) -> None:
    test_normalize_attributes(case, config, attributes, expected)


def test_map_shape_non_genai_attributes_untouched() -> None:
    # processor_test.go (map shape) TestNormalize_SpanAttributes "non-GenAI attrs untouched"
    assert normalized(BOTH, [("http.method", "GET"), ("http.status_code", 200)]) == {"http.method": "GET", "http.status_code": 200}


def test_map_shape_normalizes_span_events() -> None:
    # processor_test.go (map shape) TestNormalize_SpanEvents, both cases
    _, _, span = run_span(one("openinference", remove_originals=True), [("llm.model_name", "claude-sonnet-4")],
                          events=[[("tool.name", "search"), ("tool_call.function.arguments", '{"q":"test"}')]])
    assert attrs_of(span.attributes)["gen_ai.request.model"] == "claude-sonnet-4"
    assert attrs_of(span.events[0].attributes) == {"gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": '{"q":"test"}'}
    _, _, span = run_span(one("openllmetry", remove_originals=True), [("llm.request.model", "gpt-4o"), ("llm.request.type", "chat")],
                          events=[[("llm.request.functions", '[{"name":"get_weather"}]'), ("llm.response.finish_reason", "tool_calls")]])
    assert attrs_of(span.attributes) == {"gen_ai.request.model": "gpt-4o", "gen_ai.operation.name": "chat"}
    assert attrs_of(span.events[0].attributes) == {"gen_ai.tool.definitions": '[{"name":"get_weather"}]', "gen_ai.response.finish_reasons": ["tool_calls"]}


def test_map_shape_applies_sources_alphabetically() -> None:
    # README.md (map shape): "applied in alphabetical order by source name ... whichever is applied last wins"
    config = {"sources": {"openllmetry": {"overwrite": True}, "custom": {"overwrite": True, "custom_mappings": {"x.model": "gen_ai.request.model"}}}}
    assert normalized(config, [("x.model", "from-custom"), ("llm.request.model", "from-openllmetry")])["gen_ai.request.model"] == "from-openllmetry"


def test_other_spans_of_the_request_are_left_alone_and_each_scope_is_stamped_on_its_own() -> None:
    request = traces_request(Span(name="plain", attributes=[kv("http.method", "GET")]))
    ss = request.resource_spans[0].scope_spans.add()
    ss.spans.add(name="llm").attributes.append(kv("llm.request.model", "gpt-4o"))
    sink = Sink()
    asyncio.run(build_processor("gen_ai_normalizer", single("openllmetry"), sink).consume(Envelope.of(request)))
    first, second = sink.requests[0].resource_spans[0].scope_spans
    assert (first.schema_url, second.schema_url) == ("", SCHEMA_URL)
    assert attrs_of(first.spans[0].attributes) == {"http.method": "GET"}
    assert attrs_of(second.spans[0].attributes) == {"llm.request.model": "gpt-4o", "gen_ai.request.model": "gpt-4o"}


class WireSink(Sink):
    """Also keeps the wire bytes each envelope still carries when it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.wires: list[bytes | None] = []

    async def consume(self, envelope: Envelope) -> None:
        self.wires.append(envelope.wire())
        await super().consume(envelope)


def through_wire(config: Any, request: ExportTraceServiceRequest) -> tuple[ExportTraceServiceRequest, bytes | None]:
    from collector.component import Signal

    payload = request.SerializeToString()
    sink = WireSink()
    asyncio.run(build_processor("gen_ai_normalizer", config, sink).consume(Envelope(Signal.TRACES, request, payload)))
    return sink.requests[0], sink.wires[0]


def test_with_wire_bytes_a_request_nothing_matches_passes_untouched() -> None:
    request = traces_request(Span(name="a", attributes=[kv("http.method", "GET")]), Span(name="b", attributes=[kv("gen_ai.request.model", "m")]))
    payload = request.SerializeToString()
    out, wire = through_wire(single("openllmetry"), request)
    assert wire == payload and out.SerializeToString() == payload


@pytest.mark.parametrize("config", [single("openllmetry", remove_originals=True), single("openinference", remove_originals=True)])
def test_with_wire_bytes_the_spans_that_match_are_normalized_as_without(config: dict[str, Any]) -> None:
    def request() -> ExportTraceServiceRequest:
        return traces_request(
            Span(name="plain", attributes=[kv("http.method", "GET")]),
            Span(name="legacy", attributes=[kv("llm.request.model", "gpt-4o"), kv("llm.usage.prompt_tokens", 3)]),
            Span(name="oi", attributes=[kv("llm.input_messages.0.message.role", "user"), kv("llm.input_messages.0.message.content", "hi")]),
        )

    out, wire = through_wire(config, request())
    sink = Sink()
    asyncio.run(build_processor("gen_ai_normalizer", config, sink).consume(Envelope.of(request())))
    assert out == sink.requests[0] and out != request()
    assert wire == out.SerializeToString()  # passed on with its new encoding, for the C walks behind
