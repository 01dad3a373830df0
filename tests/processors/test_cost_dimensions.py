"""The cost processor's llm_* self-metrics broken down by `metrics.dimensions`, through the running daemon:
spans in over OTLP gRPC, the Prometheus self-metrics endpoint read back; caps, overflow and config errors."""

from __future__ import annotations

from typing import Any

from collector.component import Signal
from collector.genai import prices
from collector.testing import traces_request, wait_for
from tests.conftest import daemon_yaml
from tests.connectors.test_llm_metrics import MODEL, _chat
from tests.processors.test_redaction import send

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  cost:
    metrics:
      dimensions:
        - name: user.id
          max_values: 1
        - name: deployment.environment
exporters:
  file: {{path: "{data}/traces.jsonl"}}
"""
PIPELINES = """
traces: {{receivers: [otlp], processors: [cost], exporters: [file]}}
"""


def test_llm_families_take_the_dimensions_with_their_caps(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_yaml(CONFIG, PIPELINES))
    send(daemon, Signal.TRACES, traces_request(_chat(0, "alice", 1000, 100), _chat(1, "bob", 2000, 50), _chat(2, None, 10, 1),
                                               resource={"service.name": "shop", "deployment.environment": "prod"}))
    wait_for(lambda: "llm_cost_usd_total{" in daemon.metrics(), timeout=20, what="llm_cost_usd_total")
    book = prices.PriceBook(None)
    alice = book.cost_of("openai", MODEL, 1000, 100, 0, 0, 0).total_usd
    bob = book.cost_of("openai", MODEL, 2000, 50, 0, 0, 0).total_usd
    labels = {"service": "shop", "provider": "openai", "model": MODEL, "deployment_environment": "prod"}
    assert abs(daemon.metric("llm_cost_usd_total", **labels, user_id="alice") - alice) < 1e-9
    assert abs(daemon.metric("llm_cost_usd_total", **labels, user_id="other") - bob) < 1e-9  # past max_values 1
    assert daemon.metric("llm_tokens_total", **labels, user_id="", type="input") == 10  # no user.id: empty
    assert daemon.metric("llm_requests_total", **labels, user_id="alice", status="ok") == 1
    assert daemon.metric("llm_metrics_dimension_overflow_total", component="cost", dimension="user.id") == 1


def test_bad_dimensions_fail_the_config(daemon_factory: Any) -> None:
    for bad, message in (("- name: user.id\n          max_values: 0", "at least 1"), ("- name: model", "label of an existing one")):
        config = CONFIG.replace("- name: user.id\n          max_values: 1", bad)
        daemon = daemon_factory(daemon_yaml(config, PIPELINES), start=False)
        daemon.start(wait=False)
        assert daemon.proc is not None and daemon.proc.wait(30) != 0
        assert message in daemon.logs(), daemon.logs()
