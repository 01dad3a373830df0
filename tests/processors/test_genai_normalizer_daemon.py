"""gen_ai_normalizer in the running daemon, as the OTel demo's collector configures it
(`gen_ai_normalizer: {sources: [{name: openllmetry}]}` before token_count and cost): OpenLLMetry spans sent
over OTLP come out of the file exporter with OTel GenAI names, the originals kept or removed per
`remove_originals`, and the cost as computed by hand from published prices."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import otlpjson
from collector.component import Signal
from collector.processors.genai_normalizer.coerce import to_python
from collector.processors.genai_normalizer.semconv import SCHEMA_URL
from collector.testing import kv
from tests.conftest import daemon_yaml
from tests.instrumented_app import load_fixture

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  gen_ai_normalizer:
    sources: [{{name: openllmetry}}]
  gen_ai_normalizer/remove:
    sources: [{{name: openllmetry, remove_originals: true}}]
  token_count: {{}}
  cost: {{}}
exporters:
  file/keep: {{path: "{data}/keep.jsonl"}}
  file/remove: {{path: "{data}/remove.jsonl"}}
""", """
traces/keep: {{receivers: [otlp], processors: [gen_ai_normalizer, token_count, cost], exporters: [file/keep]}}
traces/remove: {{receivers: [otlp], processors: [gen_ai_normalizer/remove, token_count, cost], exporters: [file/remove]}}
""")

# OpenLLMetry before 0.5 wrote these legacy names; 0.62 (the fixture) writes OTel's already.
LEGACY = {
    "gen_ai.request.model": "llm.request.model", "gen_ai.response.model": "llm.response.model",
    "gen_ai.usage.input_tokens": "llm.usage.prompt_tokens", "gen_ai.usage.output_tokens": "llm.usage.completion_tokens",
    "gen_ai.operation.name": "llm.request.type",
}
DROPPED = {"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.total_tokens", "gen_ai.usage.reasoning_tokens", "gen_ai.response.finish_reasons"}


def request() -> ExportTraceServiceRequest:
    (current,) = load_fixture("openllmetry", "usage")
    out = copy.deepcopy(current)
    scope = out.resource_spans[0].scope_spans[0]
    scope.spans[0].attributes.append(kv("case", "current"))
    legacy_scope = out.resource_spans[0].scope_spans.add()
    legacy_scope.scope.name = "opentelemetry.instrumentation.openai"
    legacy = legacy_scope.spans.add()
    legacy.CopyFrom(scope.spans[0])
    legacy.span_id = b"\x00" * 7 + b"\x02"
    # Another call, in its own trace and with its own response id: a copy with the fixture's would be the same
    # call seen twice, which cost prices once (collector/genai/dedupe.py).
    legacy.trace_id = bytes(reversed(legacy.trace_id))
    del legacy.attributes[:]
    for a in scope.spans[0].attributes:
        if a.key == "case":
            legacy.attributes.append(kv("case", "legacy"))
        elif a.key == "gen_ai.response.id":
            legacy.attributes.append(kv(a.key, a.value.string_value + "-legacy"))
        elif a.key == "gen_ai.response.finish_reasons":
            legacy.attributes.append(kv("llm.response.finish_reason", a.value.array_value.values[0].string_value))
        elif a.key not in DROPPED:
            legacy.attributes.append(kv(LEGACY.get(a.key, a.key), a.value))
    workflow = legacy_scope.spans.add(trace_id=legacy.trace_id, span_id=b"\x00" * 7 + b"\x03", name="trip_planner.workflow")
    workflow.attributes.extend([kv("case", "workflow"), kv("traceloop.span.kind", "workflow"), kv("traceloop.entity.name", "trip_planner")])
    return out


def read(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    spans, schemas = {}, {}
    for line in path.read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {a.key: to_python(a.value) for a in s.attributes}
                    spans[attrs["case"]] = attrs
                    schemas[attrs["case"]] = ss.schema_url
    return spans, schemas


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, ExportTraceServiceRequest]:
    from tests.conftest import Daemon

    daemon = Daemon(tmp_path_factory.mktemp("normalizer"), CONFIG).start()
    sent = request()
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(sent.SerializeToString(), timeout=30)
    assert daemon.stop() == 0
    return read(daemon.data / "keep.jsonl"), read(daemon.data / "remove.jsonl"), sent


# gpt-4o-mini-2024-07-18: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
LEGACY_COST = (57 * 0.15 + 23 * 0.60) / 1e6  # the legacy names carry no cache count
CURRENT_COST = ((57 - 32) * 0.15 + 32 * 0.075 + 23 * 0.60) / 1e6


def test_legacy_openllmetry_names_become_otel_s_and_are_priced(outputs: Any) -> None:
    (keep, keep_schemas), (remove, remove_schemas), _ = outputs
    for spans in (keep, remove):
        legacy = spans["legacy"]
        assert {k: legacy[k] for k in ("gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                       "gen_ai.operation.name", "gen_ai.response.finish_reasons")} == {
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 57, "gen_ai.usage.output_tokens": 23, "gen_ai.operation.name": "chat",
            "gen_ai.response.finish_reasons": ["stop"]}
        assert legacy["gen_ai.usage.token_source"] == "reported"
        assert legacy["gen_ai.usage.cost"] == pytest.approx(LEGACY_COST, abs=1e-12)
    assert keep_schemas["legacy"] == remove_schemas["legacy"] == SCHEMA_URL


def test_originals_are_kept_or_removed_per_remove_originals(outputs: Any) -> None:
    (keep, _), (remove, _), _ = outputs
    originals = [*LEGACY.values(), "llm.response.finish_reason"]
    assert {k: keep["legacy"][k] for k in ("llm.usage.prompt_tokens", "llm.usage.completion_tokens", "llm.request.type")} == {
        "llm.usage.prompt_tokens": 57, "llm.usage.completion_tokens": 23, "llm.request.type": "chat"}
    assert [k for k in originals if k not in keep["legacy"]] == []
    assert [k for k in originals if k in remove["legacy"]] == []


def test_workflow_spans_are_named_and_never_priced(outputs: Any) -> None:
    (keep, _), (remove, _), _ = outputs
    assert {k: remove["workflow"].get(k) for k in ("gen_ai.operation.name", "gen_ai.agent.name", "traceloop.span.kind")} == {
        "gen_ai.operation.name": "invoke_workflow", "gen_ai.agent.name": "trip_planner", "traceloop.span.kind": None}
    for spans in (keep, remove):
        assert "gen_ai.usage.cost" not in spans["workflow"] and "gen_ai.usage.token_source" not in spans["workflow"]


def test_current_openllmetry_spans_pass_unchanged_and_keep_their_cost(outputs: Any) -> None:
    (keep, keep_schemas), (remove, _), sent = outputs
    original = {a.key: to_python(a.value) for a in sent.resource_spans[0].scope_spans[0].spans[0].attributes}
    for spans in (keep, remove):
        current = spans["current"]
        assert {k: current[k] for k in original} == original
        # only what token_count (the canonical name of OpenLLMetry's reasoning_tokens) and cost add
        assert set(current) - set(original) <= {"gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.token_source", "gen_ai.usage.cost",
                                                "gen_ai.usage.cost_source", "gen_ai.usage.cost.amount", "gen_ai.usage.cost.currency",
                                                "gen_ai.usage.cost.source", "llm.cost.prompt", "llm.cost.completion", "llm.cost.total"}
        assert current["gen_ai.usage.cost"] == pytest.approx(CURRENT_COST, abs=1e-12)
    assert keep_schemas["current"] == ""
