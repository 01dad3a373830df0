"""Real GenAI instrumentation libraries -> OTLP/gRPC -> the daemon -> OTLP-JSON file: what each one reports.

For every library x scenario (tests/instrumented_app.py), an app instrumented with the real library makes real
openai-client calls against a loopback OpenAI-compatible stub (tests/llm_stub.py) and exports to one real
daemon (BASIC_CONFIG); the spans are read back from the daemon's traces file. The assertions pin what the
libraries actually emit for model, provider, usage, messages, finish reasons and errors -- including where they
differ from docs/genai-conventions.md (marked "differs from the reference" below).

Library versions these expectations were recorded with: opentelemetry-instrumentation-openai-v2 2.4b0 with
opentelemetry-util-genai 1.1b0 (1.2b0+ breaks its imports), openinference-instrumentation-openai 0.1.66,
opentelemetry-instrumentation-openai (OpenLLMetry) 0.62.4, openai 3.52.

The fixtures in tests/fixtures/genai/ hold the same spans for unit tests that must not run the libraries.
Regenerate them with `.venv/bin/python tests/instrumented_app.py --write-fixtures`, or from this test run with
`GENAI_WRITE_FIXTURES=1 .venv/bin/python -m pytest tests/integration/test_llm_instrumentation.py`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.instrumented_app import (
    LIBRARIES,
    LIBRARY_KEY,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SCENARIO_KEY,
    SCENARIOS,
    SYSTEM_PROMPT,
    TOOL_ARGUMENTS,
    TOOL_RESULT,
    USER_PROMPT,
    Run,
    fixture_path,
    load_fixture,
    run_matrix,
    write_fixtures,
)
from tests.llm_stub import LLMStub, StubConfig

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[1] / "instrumented_app.py"
ANSWER = StubConfig().content
PROMPT = [("system", SYSTEM_PROMPT), ("user", USER_PROMPT)]
ERROR_MESSAGE = "Error code: 500 - The server had an error while processing your request. Sorry about that!"

# SpanKind / StatusCode numbers as they are in OTLP.
INTERNAL, CLIENT = 1, 3
UNSET, OK, ERROR = 0, 1, 2

# Library noise on stderr that is not an app error. openai-v2 sets error.type to the exception *class object*;
# the SDK warns and stores str(cls).
KNOWN_STDERR = {
    ("otel-genai", "error"): re.compile(r"^Invalid type `<class 'type'>` for attribute value\. .*$", re.M),
}


# ---------------------------------------------------------------------------------------------- helpers


def value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attrs(span: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in span.attributes}


def scopes(run: Run) -> set[tuple[str, str]]:
    return {(ss.scope.name, ss.scope.version) for rs in run.traces.resource_spans for ss in rs.scope_spans}


def usage_sent(scenario: str) -> dict[str, int] | None:
    """What the stub put in `usage` for this scenario's calls (None: no usage reached the client)."""
    sc = SCENARIOS[scenario]
    if sc.error or not sc.stub.usage or (sc.stream and not sc.include_usage):
        return None
    cfg = sc.stub
    return {
        "input": cfg.prompt_tokens,
        "output": cfg.completion_tokens,
        "total": cfg.prompt_tokens + cfg.completion_tokens,
        "cache_read": cfg.cached_tokens,
        "cache_write": cfg.cache_write_tokens,
        "reasoning": cfg.reasoning_tokens,
    }


def parts_text(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], p["content"]) for m in messages for p in m["parts"] if p["type"] == "text"]


def tool_round_input() -> list[dict[str, Any]]:
    """The second tools call's prompt in the OTel GenAI message format (openai-v2 and OpenLLMetry agree)."""
    return [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM_PROMPT}]},
        {"role": "user", "parts": [{"type": "text", "content": USER_PROMPT}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_stub_0001", "name": "get_price", "arguments": json.loads(TOOL_ARGUMENTS)}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_stub_0001", "response": TOOL_RESULT}]},
    ]


def expected_output(call: int, scenario: str, finish_for_tool: str) -> list[dict[str, Any]]:
    if scenario == "tools" and call == 0:
        parts = [{"type": "tool_call", "id": "call_stub_0001", "name": "get_price", "arguments": json.loads(TOOL_ARGUMENTS)}]
        return [{"role": "assistant", "parts": parts, "finish_reason": finish_for_tool}]
    return [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]


def check_ascii_json(raw: str) -> Any:
    # openai-v2 and OpenLLMetry serialise with json.dumps' default ensure_ascii: "café" arrives as "caf\u00e9".
    # A reader must json.loads these attributes, never substring-match them.
    assert raw.isascii(), raw
    return json.loads(raw)


# ---------------------------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    started = time.monotonic()
    runs, daemon = run_matrix(tmp_path_factory.mktemp("genai-matrix"))
    elapsed = time.monotonic() - started
    print(f"\n{len(runs)} instrumented runs through one daemon in {elapsed:.1f}s (daemon start {daemon.startup_seconds:.2f}s); per run: "
          + ", ".join(f"{lib}/{sc} {r.seconds:.1f}s" for (lib, sc), r in sorted(runs.items())))
    if os.environ.get("GENAI_WRITE_FIXTURES") == "1":
        write_fixtures(runs)
    return runs


@pytest.fixture(params=[(lib, sc) for lib in LIBRARIES for sc in SCENARIOS], ids=lambda p: f"{p[0]}-{p[1]}")
def run(request: pytest.FixtureRequest, matrix: dict[tuple[str, str], Run]) -> Run:
    return matrix[request.param]


def test_app_runs_cleanly_and_calls_the_stub(run: Run) -> None:
    sc = SCENARIOS[run.scenario]
    stderr = run.stderr
    if (pattern := KNOWN_STDERR.get((run.library, run.scenario))) is not None:
        stderr = pattern.sub("", stderr)
    assert run.returncode == 0, run.stderr
    assert stderr.strip() == "", run.stderr

    assert [r.path for r in run.requests] == ["/v1/chat/completions"] * sc.calls
    for req in run.requests:
        body = req.json
        assert body["model"] == REQUEST_MODEL
        assert [(m["role"], m["content"]) for m in body["messages"][:2]] == PROMPT
        assert body.get("stream", False) is sc.stream
        assert body.get("stream_options") == ({"include_usage": True} if sc.include_usage else None)
        assert ("tools" in body) is sc.tools
        # OpenLLMetry propagates the LLM span's context to the provider (enable_trace_context_propagation=True).
        assert ("traceparent" in req.headers) is (run.library == "openllmetry"), req.headers
    if sc.tools:
        assert [m["role"] for m in run.requests[1].json["messages"]] == ["system", "user", "assistant", "tool"]

    # Exactly this run's spans, one per chat call, all under one resource naming the run.
    assert len(run.spans) == sc.calls, run.traces
    for rs in run.traces.resource_spans:
        resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
        assert resource[LIBRARY_KEY] == run.library and resource[SCENARIO_KEY] == run.scenario
        assert resource["service.name"] == "instrumented-app"


def test_openllmetry_traceparent_is_the_llm_span(matrix: dict[tuple[str, str], Run]) -> None:
    run = matrix["openllmetry", "tools"]
    sent = {tuple(r.headers["traceparent"].split("-")[1:3]) for r in run.requests}
    exported = {(s.trace_id.hex(), s.span_id.hex()) for s in run.spans}
    assert sent == exported


# ---------------------------------------------------------------------------------------------- openai-v2


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_otel_genai(matrix: dict[tuple[str, str], Run], scenario: str) -> None:
    run = matrix["otel-genai", scenario]
    sc = SCENARIOS[scenario]
    usage = usage_sent(scenario)
    # With OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental the spans come from util-genai's handler.
    assert scopes(run) == {("opentelemetry.util.genai.handler", "1.1b0")}
    assert {ss.schema_url for rs in run.traces.resource_spans for ss in rs.scope_spans} == {"https://opentelemetry.io/schemas/1.37.0"}

    for call, span in enumerate(run.spans):
        a = attrs(span)
        assert span.name == f"chat {REQUEST_MODEL}"
        assert span.kind == CLIENT
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == "openai"
        assert "gen_ai.system" not in a
        assert a["gen_ai.request.model"] == REQUEST_MODEL
        assert a["gen_ai.request.temperature"] == 0.2
        assert "gen_ai.request.max_tokens" not in a  # max_completion_tokens is not recorded
        assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)

        prompt = check_ascii_json(a["gen_ai.input.messages"])
        assert "gen_ai.system_instructions" not in a  # the system prompt stays a message
        if scenario == "tools" and call == 1:
            assert prompt == tool_round_input()
        else:
            assert parts_text(prompt) == PROMPT

        if sc.error:
            # Status ERROR with the exception message, no response attributes, and error.type holding the
            # *repr of the exception class* (a bug: str(type(exc)) instead of its qualified name).
            assert span.status.code == ERROR and span.status.message == ERROR_MESSAGE
            assert a["error.type"] == "<class 'openai.InternalServerError'>"
            assert not [k for k in a if k.startswith(("gen_ai.response.", "gen_ai.usage.", "gen_ai.output."))]
            assert [e.name for e in span.events] == []
            continue

        # Success leaves the status UNSET.
        assert span.status.code == UNSET
        assert "error.type" not in a
        assert a["gen_ai.response.model"] == RESPONSE_MODEL
        assert a["gen_ai.response.id"] == f"chatcmpl-stub{call + 1:04d}"
        assert a["openai.response.service_tier"] == "default"
        # Only input/output tokens: no cache read/write, no reasoning, no total (as the reference says).
        usage_keys = sorted(k for k in a if k.startswith("gen_ai.usage."))
        if usage is None:
            assert usage_keys == []
        else:
            assert usage_keys == ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"]
            assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (usage["input"], usage["output"])

        assert check_ascii_json(a["gen_ai.output.messages"]) == expected_output(call, scenario, finish_for_tool="tool_calls")
        if sc.stream:
            # Streaming: no gen_ai.response.finish_reasons (ChatStreamWrapper never fills it) and no
            # system_fingerprint; the finish reason survives only inside gen_ai.output.messages, i.e. only
            # when content capture is on.
            assert "gen_ai.response.finish_reasons" not in a
            assert "openai.response.system_fingerprint" not in a
        else:
            # The raw OpenAI value: "tool_calls", not the OTel enum "tool_call".
            assert a["gen_ai.response.finish_reasons"] == (["tool_calls"] if scenario == "tools" and call == 0 else ["stop"])
            assert a["openai.response.system_fingerprint"] == "fp_stub0001"
        assert "gen_ai.tool.definitions" not in a  # tools sent in the request are not recorded
        assert [e.name for e in span.events] == []


# ---------------------------------------------------------------------------------------------- OpenInference


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_openinference(matrix: dict[tuple[str, str], Run], scenario: str) -> None:
    run = matrix["openinference", scenario]
    sc = SCENARIOS[scenario]
    usage = usage_sent(scenario)
    assert scopes(run) == {("openinference.instrumentation.openai", "0.1.66")}

    for call, span in enumerate(run.spans):
        a = attrs(span)
        assert span.name == "ChatCompletion"
        assert span.kind == INTERNAL
        assert a["openinference.span.kind"] == "LLM"
        assert a["llm.system"] == "openai"
        # llm.provider is inferred from the base_url host (api.openai.com -> "openai"); a loopback host gives none.
        assert "llm.provider" not in a
        # No separate request/response model keys: llm.model_name is the *response* model, and is missing on
        # error; the requested model is then only inside llm.invocation_parameters / input.value.
        assert not [k for k in a if k.startswith(("llm.request.", "llm.response.", "gen_ai."))]
        params = json.loads(a["llm.invocation_parameters"])
        assert params["model"] == REQUEST_MODEL and params["temperature"] == 0.2 and params["max_completion_tokens"] == 256
        assert a["input.mime_type"] == "application/json"
        request_json = json.loads(a["input.value"])
        assert request_json["model"] == REQUEST_MODEL
        assert [(m["role"], m.get("content")) for m in request_json["messages"][:2]] == PROMPT
        assert "\\u00e9" not in a["input.value"] and "café" in a["input.value"]  # OpenInference keeps UTF-8

        flat_in = {k: v for k, v in a.items() if k.startswith("llm.input_messages.")}
        expected_in = {f"llm.input_messages.{i}.message.{f}": v for i, (role, content) in enumerate(PROMPT) for f, v in (("role", role), ("content", content))}
        if scenario == "tools" and call == 1:
            expected_in.update(
                {
                    "llm.input_messages.2.message.role": "assistant",
                    "llm.input_messages.2.message.tool_calls.0.tool_call.id": "call_stub_0001",
                    "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "get_price",
                    "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": TOOL_ARGUMENTS,
                    "llm.input_messages.3.message.role": "tool",
                    "llm.input_messages.3.message.tool_call_id": "call_stub_0001",
                    "llm.input_messages.3.message.content": TOOL_RESULT,
                }
            )
        assert flat_in == expected_in
        if sc.tools:
            assert json.loads(a["llm.tools.0.tool.json_schema"])["function"]["name"] == "get_price"

        if sc.error:
            # Status ERROR "<ExceptionClass>: <message>", an exception event, no error.type, no model, no output.
            assert span.status.code == ERROR and span.status.message == f"InternalServerError: {ERROR_MESSAGE}"
            assert "error.type" not in a
            assert [e.name for e in span.events] == ["exception"]
            assert {kv.key: value(kv.value) for kv in span.events[0].attributes}["exception.type"] == "openai.InternalServerError"
            assert not [k for k in a if k.startswith(("llm.model_name", "llm.token_count.", "llm.output_messages.", "output.", "llm.finish_reason"))]
            continue

        assert span.status.code == OK
        assert a["llm.model_name"] == RESPONSE_MODEL
        token_keys = {k: v for k, v in a.items() if k.startswith("llm.token_count.")}
        if usage is None:
            assert token_keys == {}
        else:
            expected_tokens = {
                "llm.token_count.prompt": usage["input"],
                "llm.token_count.completion": usage["output"],
                "llm.token_count.total": usage["total"],
                "llm.token_count.prompt_details.cache_read": usage["cache_read"],
                "llm.token_count.prompt_details.audio": 0,
                "llm.token_count.completion_details.reasoning": usage["reasoning"],
                "llm.token_count.completion_details.audio": 0,
            }
            if usage["cache_write"] is not None:  # openai>=3 prompt_tokens_details.cache_write_tokens
                expected_tokens["llm.token_count.prompt_details.cache_write"] = usage["cache_write"]
            assert token_keys == expected_tokens

        flat_out = {k: v for k, v in a.items() if k.startswith("llm.output_messages.")}
        if scenario == "tools" and call == 0:
            assert flat_out == {
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_stub_0001",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_price",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": TOOL_ARGUMENTS,
            }
            assert a["llm.finish_reason"] == "tool_calls"
        else:
            assert flat_out == {"llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": ANSWER}
            assert a["llm.finish_reason"] == "stop"
        assert a["output.mime_type"] == "application/json"
        response_json = json.loads(a["output.value"])
        assert response_json["model"] == RESPONSE_MODEL
        assert ("usage" in response_json) is (usage is not None)
        # Streaming adds one "First Token Stream Event" (time to first token).
        assert [e.name for e in span.events] == (["First Token Stream Event"] if sc.stream else [])


# ---------------------------------------------------------------------------------------------- OpenLLMetry


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_openllmetry(matrix: dict[tuple[str, str], Run], scenario: str) -> None:
    run = matrix["openllmetry", scenario]
    sc = SCENARIOS[scenario]
    usage = usage_sent(scenario)
    assert scopes(run) == {("opentelemetry.instrumentation.openai.v1", "0.62.4")}

    for call, span in enumerate(run.spans):
        a = attrs(span)
        assert span.name == "openai.chat"
        assert span.kind == CLIENT
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == "openai"
        assert not [k for k in a if k.startswith(("gen_ai.system", "llm.", "gen_ai.prompt", "gen_ai.completion"))]
        assert a["gen_ai.request.model"] == REQUEST_MODEL
        assert a["gen_ai.request.temperature"] == 0.2
        assert "gen_ai.request.max_tokens" not in a
        assert a["gen_ai.is_streaming"] is sc.stream
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1/", a["gen_ai.openai.api_base"])

        prompt = check_ascii_json(a["gen_ai.input.messages"])
        if scenario == "tools" and call == 1:
            assert prompt == tool_round_input()
        else:
            assert parts_text(prompt) == PROMPT
        if sc.tools:
            assert [t["name"] for t in json.loads(a["gen_ai.tool.definitions"])] == ["get_price"]

        if sc.error:
            assert span.status.code == ERROR and span.status.message == ERROR_MESSAGE
            assert a["error.type"] == "InternalServerError"
            assert [e.name for e in span.events] == ["exception"]
            assert not [k for k in a if k.startswith(("gen_ai.response.", "gen_ai.usage.", "gen_ai.output."))]
            continue

        # Non-streaming success leaves the status UNSET; a finished stream sets OK.
        assert span.status.code == (OK if sc.stream else UNSET)
        assert "error.type" not in a
        assert a["gen_ai.response.model"] == RESPONSE_MODEL
        assert a["gen_ai.response.id"] == f"chatcmpl-stub{call + 1:04d}"
        usage_attrs = {k: v for k, v in a.items() if k.startswith("gen_ai.usage.")}
        if usage is None:
            assert usage_attrs == {}
        else:
            expected_usage = {
                "gen_ai.usage.input_tokens": usage["input"],
                "gen_ai.usage.output_tokens": usage["output"],
                "gen_ai.usage.total_tokens": usage["total"],
                "gen_ai.usage.cache_read.input_tokens": usage["cache_read"],
            }
            # Reasoning tokens are read from non-streamed responses only, under a non-spec key; cache_write_tokens
            # is never read.
            if not sc.stream:
                expected_usage["gen_ai.usage.reasoning_tokens"] = usage["reasoning"]
            assert usage_attrs == expected_usage

        # Mapped to the OTel enum: "tool_calls" -> "tool_call".
        finish = "tool_call" if scenario == "tools" and call == 0 else "stop"
        assert a["gen_ai.response.finish_reasons"] == [finish]
        assert check_ascii_json(a["gen_ai.output.messages"]) == expected_output(call, scenario, finish_for_tool="tool_call")
        if sc.stream:
            assert "gen_ai.openai.response.system_fingerprint" not in a and "openai.response.service_tier" not in a
            # One attribute-less event per received chunk, the usage-only chunk included.
            chunks = 1 + sc.stub.stream_chunks + 1 + (usage is not None)  # role, content pieces, finish, usage
            assert [e.name for e in span.events] == ["gen_ai.content.completion.chunk"] * chunks
            assert all(len(e.attributes) == 0 for e in span.events)
        else:
            assert a["gen_ai.openai.response.system_fingerprint"] == "fp_stub0001"
            assert a["openai.response.service_tier"] == "default"
            assert [e.name for e in span.events] == []


# ---------------------------------------------------------------------------------------------- fixtures


def _shape(requests: list[Any]) -> list[tuple[str, int, int, tuple[str, ...], tuple[str, ...]]]:
    return [
        (s.name, s.kind, s.status.code, tuple(sorted(kv.key for kv in s.attributes)), tuple(e.name for e in s.events))
        for req in requests
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]


def test_fixtures_match_live_libraries(run: Run) -> None:
    """The checked-in fixtures still look like what the installed libraries emit: same spans, same attribute
    keys. Failing after a library upgrade means: regenerate (see the module docstring)."""
    path = fixture_path(run.library, run.scenario)
    assert path.exists(), f"missing {path}: run tests/instrumented_app.py --write-fixtures"
    fixture = load_fixture(run.library, run.scenario)
    assert len(fixture) == 1
    [rs] = fixture[0].resource_spans
    resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
    assert (resource[LIBRARY_KEY], resource[SCENARIO_KEY]) == (run.library, run.scenario)
    assert _shape(fixture) == _shape([run.traces]), "fixtures are stale: run tests/instrumented_app.py --write-fixtures"


def test_app_exits_non_zero_when_export_fails() -> None:
    with LLMStub(SCENARIOS["usage"].stub) as stub:
        cmd = [sys.executable, str(APP), "--library", "openinference", "--scenario", "usage", "--otlp-endpoint", f"127.0.0.1:{free_port()}", "--base-url", stub.base_url, "--export-timeout", "1"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert len(stub.requests) == 1
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert "span export failed" in proc.stderr


# ---------------------------------------------------------------------------------------------- the stub itself


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_stub_rate_limit_and_stream_usage() -> None:
    body = {"model": REQUEST_MODEL, "messages": [{"role": "user", "content": "hé"}]}
    with LLMStub(StubConfig(error_status=429)) as stub:
        status, headers, data = _post(f"{stub.base_url}/chat/completions", body)
        assert status == 429 and headers["retry-after-ms"] == "20"
        assert json.loads(data)["error"]["code"] == "rate_limit_exceeded"
        assert [r.json for r in stub.requests] == [body]
    with LLMStub(StubConfig(cached_tokens=None, reasoning_tokens=None)) as stub:
        for include_usage in (False, True):
            status, headers, data = _post(f"{stub.base_url}/chat/completions", {**body, "stream": True, "stream_options": {"include_usage": include_usage}})
            assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
            events = [line[len("data: ") :] for line in data.decode().split("\n\n") if line]
            assert events[-1] == "[DONE]"
            chunks = [json.loads(e) for e in events[:-1]]
            assert {c["model"] for c in chunks} == {RESPONSE_MODEL}
            usage_chunks = [c for c in chunks if c.get("usage")]
            if include_usage:
                assert usage_chunks == [chunks[-1]] and chunks[-1]["choices"] == []
                assert chunks[-1]["usage"] == {"prompt_tokens": 57, "completion_tokens": 23, "total_tokens": 80}
            else:
                assert usage_chunks == [] and all("usage" not in c for c in chunks)
        status, _, _ = _post(f"{stub.base_url}/embeddings", body)
        assert status == 404
