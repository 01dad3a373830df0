"""cost through the running daemon: exact USD from published prices, cache and reasoning rates,
overrides that win, unpriced models flagged (never a silent 0), and the LLM metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

from collector import otlpjson
from collector.component import Signal
from tests.conftest import daemon_yaml
from tests.genai.test_genai_view import span

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost:
    prices: "{data}/../prices.yaml"
    metrics: {{max_series: 4}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [token_count, cost], exporters: [file/traces]}}
""")

PRICES = """
models:
  - name: acme-llama-70b
    provider: vllm
    input_mtok: 0.20
    output_mtok: 0.80
markups:
  anthropic: 0.9
"""


def call(model: str, provider: str = "openai", **usage: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model}
    names = {"input": "gen_ai.usage.input_tokens", "output": "gen_ai.usage.output_tokens", "cache_read": "gen_ai.usage.cache_read.input_tokens", "reasoning": "gen_ai.usage.reasoning.output_tokens"}
    attrs.update({names[k]: v for k, v in usage.items()})
    return attrs


CASES: dict[str, dict[str, Any]] = {
    # gpt-4o-mini: $0.15 / $0.60 per M tokens, cached input $0.075.
    "mini": call("gpt-4o-mini", input=1_000_000, output=500_000, cache_read=200_000),
    "mini-prefixed-dated": {**call("openai/gpt-4o-mini-2024-07-18", input=2_000, output=1_000), "gen_ai.response.model": "gpt-4o-mini-2024-07-18"},
    "override": call("acme-llama-70b", provider="vllm", input=1_000_000, output=1_000_000),
    "unknown": call("my-private-model", provider="vllm", input=10, output=10),
    "no-usage-no-content": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
    "openinference": {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.system": "openai", "llm.token_count.prompt": 1_000, "llm.token_count.completion": 1_000},
    "already-costed": {**call("gpt-4o-mini", input=1, output=1), "gen_ai.usage.cost": 9.99},
}


def by_case(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in path.read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs: dict[str, Any] = {}
                    for kv in s.attributes:
                        attrs.setdefault(kv.key, getattr(kv.value, kv.value.WhichOneof("value")))
                    out[attrs["case"]] = attrs
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], str]:
    from tests.conftest import Daemon

    root = tmp_path_factory.mktemp("cost")
    (root / "prices.yaml").write_text(PRICES)  # the config names {data}/../prices.yaml
    (root / "data").mkdir()
    daemon = Daemon(root, CONFIG).start()
    spans = []
    for i, (name, attrs) in enumerate(CASES.items()):
        s = span({**attrs, "case": name})
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        s.start_time_unix_nano, s.end_time_unix_nano = 1_000_000_000, 1_000_000_000 + (i + 1) * 500_000_000
        spans.append(s)
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="support-bot"))])
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])])
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(request.SerializeToString(), timeout=30)
    metrics = daemon.metrics()
    assert daemon.stop() == 0
    return by_case(daemon.data / "traces.jsonl"), metrics


def test_published_prices_with_cached_input(run: Any) -> None:
    attrs = run[0]["mini"]
    # 0.8M uncached x 0.15 + 0.2M cached x 0.075 + 0.5M output x 0.60
    assert attrs["gen_ai.usage.cost"] == pytest.approx(0.12 + 0.015 + 0.30, abs=1e-12)
    assert attrs["llm.cost.prompt"] == pytest.approx(0.135, abs=1e-12)
    assert attrs["llm.cost.completion"] == pytest.approx(0.30, abs=1e-12)
    assert attrs["llm.cost.total"] == attrs["gen_ai.usage.cost"]
    assert attrs["gen_ai.usage.cost_source"] == "bundled"


def test_model_names_are_normalised_before_lookup(run: Any) -> None:
    attrs = run[0]["mini-prefixed-dated"]
    assert attrs["gen_ai.usage.cost"] == pytest.approx(2_000 * 0.15e-6 + 1_000 * 0.60e-6, abs=1e-12)


def test_overrides_win_and_are_marked(run: Any) -> None:
    attrs = run[0]["override"]
    assert attrs["gen_ai.usage.cost"] == pytest.approx(1.00, abs=1e-12)
    assert attrs["gen_ai.usage.cost_source"] == "override"


def test_unpriced_is_flagged_never_zero(run: Any) -> None:
    unknown = run[0]["unknown"]
    assert "gen_ai.usage.cost" not in unknown and "llm.cost.total" not in unknown
    assert unknown["gen_ai.usage.cost_unpriced"] is True and unknown["gen_ai.usage.cost_unpriced_reason"] == "unknown_model"
    missing = run[0]["no-usage-no-content"]
    assert missing["gen_ai.usage.cost_unpriced"] is True and missing["gen_ai.usage.cost_unpriced_reason"] == "no_usage"


def test_openinference_spans_are_priced_too(run: Any) -> None:
    attrs = run[0]["openinference"]
    assert attrs["llm.cost.total"] == pytest.approx(1_000 * 0.15e-6 + 1_000 * 0.60e-6, abs=1e-12)


def test_a_cost_already_on_the_span_is_kept(run: Any) -> None:
    attrs = run[0]["already-costed"]
    assert attrs["gen_ai.usage.cost"] == 9.99


def test_llm_metrics_with_bounded_cardinality(run: Any) -> None:
    text = run[1]
    assert 'llm_requests_total{service="support-bot",provider="openai",model="gpt-4o-mini",status="ok"} 3' in text
    assert 'llm_tokens_total{service="support-bot",provider="openai",model="gpt-4o-mini",type="cache_read"} 200000' in text
    assert 'llm_unpriced_requests_total{provider="vllm",model="my-private-model",reason="unknown_model"} 1' in text
    assert 'llm_latency_seconds_count{service="support-bot",provider="openai",model="gpt-4o-mini"} 3' in text
    # max_series: 4 — later models are folded into model="other".
    assert 'model="other"' in text
    cost_lines = [line for line in text.splitlines() if line.startswith("llm_cost_usd_total{")]
    assert cost_lines and all(float(line.rsplit(" ", 1)[1]) > 0 for line in cost_lines)


def test_bad_price_file_is_a_startup_error_naming_file_and_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "prices.yaml"
    bad.write_text("models:\n  - name: x\n    input_mtok: -1\n    output_mtok: 1\n")
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(grpc=0, health=0, metrics=0, data=tmp_path / "data").replace(f"{tmp_path / 'data'}/../prices.yaml", str(bad)))
    result = subprocess.run([sys.executable, "-m", "collector.cli", "run", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"{bad}:3" in result.stderr and "input_mtok" in result.stderr


@pytest.mark.parametrize("between,views_per_span", [([], 1), (["test_slow"], 1), (["test_tag"], 2)],
                         ids=["adjacent", "a-processor-that-only-waits", "a-processor-that-takes-the-request"])
def test_views_are_handed_from_token_count_to_cost_unless_a_processor_between_takes_the_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, between: list[str], views_per_span: int) -> None:
    from collector.genai import view as view_module
    from tests.service.test_pipeline import HEADER, InProcessService, test_processors  # noqa: F401  (registers test_slow)

    built: list[int] = []
    # A view is built from the parsed span (`of`) or from the slots the C walk read (`from_slots`).
    original = view_module.GenAIView.of.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(view_module.GenAIView, "of", classmethod(lambda cls, span: built.append(1) or original(cls, span)))
    from_slots = view_module.GenAIView.from_slots.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(view_module.GenAIView, "from_slots", classmethod(lambda cls, span, slots: built.append(1) or from_slots(cls, span, slots)))
    chain = ", ".join(["token_count", *between, "cost"])
    config = HEADER + f"""
    traces:
      receivers: [otlp]
      processors: [{chain}]
      exporters: [file/a]
processors:
  token_count: {{{{}}}}
  test_slow: {{{{delay: 0.01}}}}
  test_tag: {{{{key: note, value: tagged}}}}
  cost: {{{{}}}}
exporters:
  file/a: {{{{path: "{{data}}/a.jsonl"}}}}
"""
    spans = [span(call("gpt-4o-mini", input=1000, output=10)) for _ in range(5)]
    for i, s in enumerate(spans):
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    from collector import registry
    from tests.service.test_pipeline import TEST_TYPES

    for cls in TEST_TYPES:
        registry.register(cls)
    try:
        with InProcessService(tmp_path, config) as svc:
            svc.export(request.SerializeToString(), timeout=10)
            svc.flush()
            out = by_case_free(svc.data / "a.jsonl")
    finally:
        for cls in TEST_TYPES:
            registry._REGISTRY[registry.Kind.PROCESSOR].pop(cls.type_name, None)
    assert len(built) == 5 * views_per_span
    assert all(a["gen_ai.usage.cost"] == pytest.approx(1000 * 0.15e-6 + 10 * 0.60e-6, abs=1e-12) for a in out)


def by_case_free(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append({kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in s.attributes})
    return out
