"""The GenAI view read from a request's bytes in C (`wire._walks.genai_attributes`, through
`genai.view.scan_request` and `GenAIView.from_slots`) against `GenAIView.of` on the parsed spans, which it
stands in for in token_count and cost: the same answers for every convention, library fixture and loadgen
span, for duplicate and competing keys, for every AnyValue kind, and no answer at all (the parsed path) on
bytes it cannot read as a parser would. Through the daemon, token_count reads its views this way."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.genai import conventions as table
from collector.genai import view as view_module
from collector.genai.view import GenAIView
from collector.testing import kv
from collector.tools.loadgen import build_templates
from tests.conftest import damaged_copies
from tests.genai import test_genai_sources as sources
from tests.genai import test_genai_view as conventions
from tests.service.test_pipeline import InProcessService

FIXTURES = Path(__file__).parents[1] / "fixtures" / "genai"
SLOTS = sorted(set(view_module._SLOTS.values()))


def answers(view: GenAIView | None) -> Any:
    """Everything token_count, cost and tail_sampling ask a view."""
    if view is None:
        return None
    return (
        view.operation, view.provider, view.request_model, view.response_model, view.usage, view.is_generation,
        view.is_embedding, view.errored, view.reported_token_source, view.finish_reasons, view.zero_usage_with_content,
        [(slot, view.has(slot), view.key_of(slot)) for slot in SLOTS],
        view.prompt_messages(), view.completion_messages(),
    )


def request_of(spans: list[Span]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans[:3]), ScopeSpans(spans=spans[3:])])])


def assert_same_views(request: ExportTraceServiceRequest, payload: bytes | None = None) -> int:
    payload = request.SerializeToString() if payload is None else payload
    scanned = view_module.scan_request(request, payload)
    assert scanned is not None
    spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert len(scanned) == len(spans)
    seen = 0
    for span, slots in zip(spans, scanned, strict=True):
        expected = answers(GenAIView.of(span))
        assert answers(GenAIView.from_slots(span, slots)) == expected, span.name
        seen += expected is not None
    return seen


def test_every_convention_reads_the_same() -> None:
    tables = [getattr(conventions, name) for name in ("OTEL_CURRENT", "OTEL_DEPRECATED", "OPENINFERENCE", "OPENLLMETRY_LEGACY_ANTHROPIC", "LANGTRACE", "MLFLOW")]
    spans = [conventions.span(table, error=i % 2 == 1) for i, table in enumerate(tables)]
    assert assert_same_views(request_of(spans)) == len(tables)


def test_every_source_and_wrapper_reads_the_same() -> None:
    shaped = [sources.MLFLOW_OPENAI, sources.MLFLOW_ANTHROPIC, sources.LANGFUSE_OPENAI, sources.LANGFUSE_OWN, sources.LANGFUSE_COST, sources.LANGTRACE_OPENAI,
              sources.LANGTRACE_ANTHROPIC, sources.ANTHROPIC_SDK, sources.OTEL_CURRENT, sources.ZEROS]
    spans = [conventions.span(attrs, sources.LANGTRACE_EVENTS if i == 5 else ()) for i, attrs in enumerate(shaped)]
    assert assert_same_views(request_of(spans)) == len(shaped)
    wrappers = [conventions.span(attrs) for attrs in sources.WRAPPERS.values()]
    assert assert_same_views(request_of(wrappers)) == 0


# A value of each kind a convention's key may hold, and JSON ones of each shape the usage JSON slots read.
VALUES: list[Any] = [
    "chat", "CHAT_MODEL", json.dumps("CHAT_MODEL"), "generation", "workflow", "agent", "openai", json.dumps("anthropic"), "gpt-4o-mini", " 12 ", "x", "", 0, 7, -3, 2.5,
    float("inf"), True, ["stop"],
    json.dumps({"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 3}), json.dumps({"prompt_tokens": 10, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 3}}),
    json.dumps({"input": 10, "output": 4, "input_cache_read": 3, "output_reasoning": 1}), json.dumps({"input": None}), json.dumps([{"role": "user", "content": "hi"}]),
]


def test_every_key_of_the_conventions_table_reads_the_same() -> None:
    """Each key of genai/conventions.py, alone and beside a model call's attributes, with every kind of value:
    a convention added to the table is held to the parsed path here without a test of its own."""
    keys = [key for _, slot_keys in table.SLOT_KEYS for key in slot_keys]
    assert len(keys) == len(set(keys)) == len(view_module._SLOTS)
    call = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
    mlflow = {"mlflow.spanType": json.dumps("CHAT_MODEL"), "mlflow.llm.model": json.dumps("gpt-4o")}
    for key in keys:
        spans = []
        for value in VALUES:
            spans += [conventions.span({key: value}), conventions.span({**call, key: value}), conventions.span({**mlflow, key: value})]
            spans.append(conventions.span({"langfuse.observation.type": "generation", "langfuse.observation.model.name": "gpt-4o", key: value}))
        assert_same_views(request_of(spans))


def test_every_library_fixture_reads_the_same() -> None:
    seen = 0
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            seen += assert_same_views(otlpjson.decode("traces", line))
    assert seen >= 15


@pytest.mark.parametrize("usage", ["reported", "missing"])
def test_the_loadgens_spans_read_the_same(usage: str) -> None:
    seen = 0
    for template in build_templates(batch_size=100, count=4, seed=7, usage=usage, pii_share=0.5):
        request = ExportTraceServiceRequest.FromString(template.payload)
        seen += assert_same_views(request, template.payload)
    assert seen > 100


def test_competing_keys_duplicates_and_every_value_kind() -> None:
    spans = [
        # The first-listed key of a slot wins wherever it stands; a duplicate key keeps its first value.
        Span(name="competing", attributes=[
            kv("llm.system", AnyValue(string_value="anthropic")), kv("gen_ai.system", AnyValue(string_value="openai")),
            kv("gen_ai.request.model", AnyValue(string_value="gpt-4o")), kv("gen_ai.request.model", AnyValue(string_value="o3")),
            kv("llm.token_count.prompt", AnyValue(string_value=" 12 ")), kv("gen_ai.usage.completion_tokens", AnyValue(double_value=7.0)),
            kv("gen_ai.usage.input_tokens", AnyValue(int_value=-5)), kv("gen_ai.response.finish_reasons", AnyValue(string_value="length")),
        ]),
        # Kinds that are not strings where strings are expected, unset values, bytes, kvlists, strindex.
        Span(name="kinds", attributes=[
            kv("gen_ai.operation.name", AnyValue(string_value="chat")), kv("gen_ai.provider.name", AnyValue(bool_value=True)),
            kv("gen_ai.request.model", AnyValue(bytes_value=b"\xff\x00model")), kv("gen_ai.response.model"),
            kv("gen_ai.usage.input_tokens", AnyValue(double_value=float("nan"))), kv("gen_ai.usage.output_tokens", AnyValue(string_value="x")),
            kv("gen_ai.response.finish_reasons", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="stop"), AnyValue(int_value=3), AnyValue()]))),
            kv("gen_ai.input.messages", AnyValue(kvlist_value=KeyValueList(values=[kv("role", AnyValue(string_value="user"))]))),
            kv("gen_ai.usage.cost", AnyValue(string_value_strindex=-2)), kv("ключ", AnyValue(string_value="значение")),
        ]),
        # Not model calls, whichever convention says so and wherever it says it.
        Span(name="agent", attributes=[kv("gen_ai.request.model", AnyValue(string_value="gpt-4o")), kv("gen_ai.operation.name", AnyValue(string_value="invoke_agent"))]),
        Span(name="chain", attributes=[kv("openinference.span.kind", AnyValue(string_value="CHAIN")), kv("gen_ai.operation.name", AnyValue(string_value="chat"))]),
        Span(name="plain", attributes=[kv("http.method", AnyValue(string_value="GET"))]),
        Span(name="bare"),
        Span(name="legacy", attributes=[kv("gen_ai.request.model", AnyValue(string_value="claude-3-5-sonnet")), kv("gen_ai.usage.input_tokens", AnyValue(int_value=3)),
                                        kv("gen_ai.usage.cache_read_input_tokens", AnyValue(int_value=100)), kv("mlflow.chat.tokenUsage", AnyValue(string_value=json.dumps({"output_tokens": 4})))]),
    ]
    assert assert_same_views(request_of(spans)) == 3


def test_a_oneof_holds_its_last_member_on_the_wire() -> None:
    model = AnyValue(string_value="gpt-4o").SerializeToString()
    number = AnyValue(int_value=9).SerializeToString()
    for value in (model + number, number + model, model + AnyValue(string_value="o3").SerializeToString()):
        pair = b"\x0a\x14gen_ai.request.model\x12" + bytes([len(value)]) + value
        provider = KeyValue(key="gen_ai.provider.name", value=AnyValue(string_value="openai")).SerializeToString()
        span = b"".join(b"\x4a" + bytes([len(a)]) + a for a in (pair, provider))
        scope = b"\x12" + bytes([len(span)]) + span
        resource = b"\x12" + bytes([len(scope)]) + scope
        payload = b"\x0a" + bytes([len(resource)]) + resource
        assert assert_same_views(ExportTraceServiceRequest.FromString(payload), payload) <= 1


def test_bytes_it_cannot_read_as_a_parser_leave_the_views_to_the_parsed_spans() -> None:
    value = AnyValue(string_value="chat").SerializeToString() + b"\x1a\x01x"  # int_value sent length-delimited
    pair = b"\x0a\x15gen_ai.operation.name\x12" + bytes([len(value)]) + value
    span = b"\x4a" + bytes([len(pair)]) + pair
    scope = b"\x12" + bytes([len(span)]) + span
    resource = b"\x12" + bytes([len(scope)]) + scope
    payload = b"\x0a" + bytes([len(resource)]) + resource
    request = ExportTraceServiceRequest.FromString(payload)
    assert view_module.scan_request(request, payload) is None
    assert view_module.scan_request(request, None) is None
    assert view_module.scan_request(ExportTraceServiceRequest(), payload) is None  # not this request's bytes


def test_damaged_bytes_raise_or_read_as_the_parser_reads() -> None:
    rng = random.Random(4)
    templates = build_templates(batch_size=10, count=6, seed=2, pii_share=0.5)
    agreed = 0
    for raw in damaged_copies(rng, [t.payload for t in templates], 1500):
        try:
            request = ExportTraceServiceRequest.FromString(raw)
        except Exception:  # noqa: BLE001 - the receiver would have refused these bytes
            continue
        scanned = view_module.scan_request(request, raw)
        if scanned is None:
            continue
        spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        for span, slots in zip(spans, scanned, strict=True):
            assert answers(GenAIView.from_slots(span, slots)) == answers(GenAIView.of(span))
        agreed += 1
    assert agreed > 300


CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  memory_limiter: {{limit_mib: 100000}}
  token_count: {{}}
  cost: {{}}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
service:
  telemetry: {{metrics: {{address: null}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [memory_limiter, token_count, cost], exporters: [file]}}
"""


def test_through_the_daemon_token_count_reads_the_views_from_the_received_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[bool] = []
    real = view_module.scan_request

    def spy(request: Any, payload: bytes | None) -> list[Any] | None:
        found = real(request, payload)
        scans.append(found is not None)
        return found

    monkeypatch.setattr(view_module, "scan_request", spy)
    template = build_templates(batch_size=50, count=1, seed=5, usage="missing", pii_share=0.0)[0]
    with InProcessService(tmp_path, CONFIG) as svc:
        svc.export(template.payload, timeout=10)
    spans = svc.spans("traces.jsonl")
    assert scans == [True]  # token_count read them; cost was handed token_count's views
    sources = [kv.value.string_value for s in spans for kv in s.attributes if kv.key == "gen_ai.usage.token_source"]
    costs = [kv.value.double_value for s in spans for kv in s.attributes if kv.key == "gen_ai.usage.cost"]
    assert len(spans) == 50 and len(sources) > 10 and set(sources) <= {"counted", "estimated"} and len(costs) == len(sources)


def test_a_table_larger_than_the_walk_holds_is_refused_when_built() -> None:
    from collector.wire import native, slots

    if native.genai_attributes is None:
        pytest.skip("built without the C walks")
    keys = {f"k{i}": "slot" for i in range(129)}
    with pytest.raises(OverflowError, match="at most 128 keys"):
        slots.slot_table(keys, dict.fromkeys(keys, 0))
    assert slots.slot_table(dict(list(keys.items())[:128]), dict.fromkeys(keys, 0))[4] == ("slot",)
