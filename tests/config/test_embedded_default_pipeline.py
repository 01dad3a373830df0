"""The embedded default (config/default.yaml) is the product's LLM pipeline: `llm-collector run` with no
--config prices an LLM span and masks the PII and secrets in it, end to end, from a real OTel SDK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from collector.component import Signal
from tests.conftest import REPO, free_ports
from tests.processors.test_redaction import as_dict, read_json

API_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" + "T3BlbkFJ" + "K1l2M3n4O5p6Q7r8S9t0"
EMAIL = "maria.silva@example.com"


def _healthy(port: int, proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the daemon exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the daemon did not become healthy")


@pytest.mark.slow
def test_the_embedded_default_prices_a_span_and_masks_its_pii(tmp_path: Path) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    grpc, http, health, metrics = free_ports(4)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LLM_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{grpc}",
        "LLM_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{http}",
        "LLM_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "LLM_COLLECTOR_METRICS_ENDPOINT": f"127.0.0.1:{metrics}",
        "LLM_COLLECTOR_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "run"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _healthy(health, proc)
        provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{http}/v1/traces", timeout=10)))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 500,
                "gen_ai.input.messages": f'[{{"role": "user", "parts": [{{"type": "text", "content": "I am {EMAIL}, my key is {API_KEY}"}}]}}]',
                "user.contact": EMAIL,
            })
        provider.shutdown()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log.close()

    raw = (tmp_path / "data" / "traces.jsonl").read_bytes()
    assert EMAIL.encode() not in raw and API_KEY.encode() not in raw
    (request,) = read_json(tmp_path / "data" / "traces.jsonl", Signal.TRACES)
    rs = request.resource_spans[0]
    assert as_dict(rs.resource.attributes)["service.name"] == "support-bot"  # allow_all_keys: every key stays
    a = as_dict(rs.scope_spans[0].spans[0].attributes)
    assert a["user.contact"] == "<EMAIL>"
    assert "<EMAIL>" in a["gen_ai.input.messages"] and "<OPENAI_KEY>" in a["gen_ai.input.messages"]
    assert a["redaction.masked.count"] == 2
    # gpt-4o-mini: $0.15 per M input tokens, $0.60 per M output tokens.
    assert a["gen_ai.usage.input_tokens"] == 1000 and a["gen_ai.usage.output_tokens"] == 500
    assert a["gen_ai.usage.cost"] == pytest.approx(1000 * 0.15e-6 + 500 * 0.60e-6)
