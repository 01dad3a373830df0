"""End to end: the real openai client, instrumented by each real library (openai-v2, OpenInference,
OpenLLMetry), against a loopback OpenAI-compatible stub, exported over OTLP into the daemon running
token_count and cost. Every LLM span in the output file carries tokens, their source and a USD cost
computed from published prices, with and without usage in the response, streaming and not."""

from __future__ import annotations

from typing import Any

import pytest

from collector.genai import tokens
from tests.conftest import daemon_yaml
from tests.instrumented_app import LIBRARIES, SCENARIOS, SYSTEM_PROMPT, USER_PROMPT, run_matrix
from tests.integration.test_llm_instrumentation import attrs
from tests.llm_stub import StubConfig

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost: {{}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [token_count, cost], exporters: [file/traces]}}
""")

# gpt-4o-mini's published prices, USD per token; OpenAI has no cache-write or reasoning rate.
INPUT, CACHED, OUTPUT = 0.15e-6, 0.075e-6, 0.60e-6


def expected_cost(input_tokens: int, output_tokens: int, cached: int = 0) -> float:
    return (input_tokens - cached) * INPUT + cached * CACHED + output_tokens * OUTPUT


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[dict[str, Any]]]:
    runs, _ = run_matrix(tmp_path_factory.mktemp("usage-cost"), config=CONFIG)
    out = {}
    for key, run in runs.items():
        assert run.returncode == 0, run.stderr
        assert run.traces is not None, f"{key}: no spans reached the file"
        out[key] = [attrs(s) for rs in run.traces.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return out


@pytest.mark.parametrize("library", LIBRARIES)
def test_reported_usage_is_priced_with_the_cached_share(matrix: Any, library: str) -> None:
    (a,) = matrix[(library, "usage")]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"], a["gen_ai.usage.token_source"]) == (57, 23, "reported")
    # openai-v2 does not report cached tokens, so its call is priced as if nothing was cached.
    cached = 0 if library == "otel-genai" else 32
    assert a["gen_ai.usage.cost"] == pytest.approx(expected_cost(57, 23, cached), rel=1e-9)
    assert a["llm.cost.total"] == a["gen_ai.usage.cost"]
    assert a["gen_ai.usage.cost_source"] == "bundled"


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("scenario", ["no-usage", "stream-no-usage"])
def test_missing_usage_is_counted_then_priced_identically_for_every_library(matrix: Any, library: str, scenario: str) -> None:
    (a,) = matrix[(library, scenario)]
    o200k = tokens.load_encoding("o200k_base")
    prompt = tokens.count_chat([tokens.ChatMessage("system", SYSTEM_PROMPT), tokens.ChatMessage("user", USER_PROMPT)], o200k)
    answer = tokens.count_text(StubConfig().content, o200k)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"], a["gen_ai.usage.token_source"]) == (prompt, answer, "counted")
    assert a["gen_ai.usage.cost"] == pytest.approx(expected_cost(prompt, answer), rel=1e-9)


@pytest.mark.parametrize("library", LIBRARIES)
def test_streamed_usage_is_reported_not_recounted(matrix: Any, library: str) -> None:
    (a,) = matrix[(library, "stream-usage")]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"], a["gen_ai.usage.token_source"]) == (61, 19, "reported")
    assert "gen_ai.usage.cost" in a


@pytest.mark.parametrize("library", LIBRARIES)
def test_both_calls_of_a_tool_round_are_priced(matrix: Any, library: str) -> None:
    calls = matrix[(library, "tools")]
    assert len(calls) == 2
    for a in calls:
        assert a["gen_ai.usage.token_source"] == "reported"
        assert a["gen_ai.usage.cost"] == pytest.approx(expected_cost(88, 17), rel=1e-9)


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_failed_call_is_flagged_unpriced_not_zero(matrix: Any, library: str) -> None:
    (a,) = matrix[(library, "error")]
    assert "gen_ai.usage.cost" not in a
    assert a["gen_ai.usage.cost_unpriced"] is True and a["gen_ai.usage.cost_unpriced_reason"] == "no_usage"
    assert a["gen_ai.usage.token_count_skipped"] == "no_content"


def test_every_scenario_was_exercised(matrix: Any) -> None:
    assert set(matrix) == {(lib, sc) for lib in LIBRARIES for sc in SCENARIOS}
