"""Through the running daemon over OTLP/HTTP: an MLflow-shaped span on /v1/traces and a Langfuse-shaped one
on the path the Langfuse SDK posts to (/api/public/otel/v1/traces, the receiver's traces_url_path), each
priced by hand from the bundled prices (see tests/genai/test_genai_sources.py), read back from the file
exporter, with the cost metric counting each once."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

from collector import otlpjson
from collector.component import Signal
from collector.testing import wait_for
from tests.conftest import daemon_yaml
from tests.genai.test_genai_sources import LANGFUSE_OPENAI, MINI, MINI_COST, MLFLOW_ANTHROPIC, SONNET, SONNET_COST, attrs_of
from tests.genai.test_genai_view import span

pytestmark = pytest.mark.slow

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
  otlp/langfuse:
    protocols:
      http: {{endpoint: "127.0.0.1:{langfuse}", traces_url_path: /api/public/otel/v1/traces}}
processors:
  token_count: {{}}
  cost: {{}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp, otlp/langfuse], processors: [token_count, cost], exporters: [file/traces]}}
""")


def post(url: str, attrs: dict[str, Any], service: str, n: int) -> None:
    s = span(attrs)
    s.trace_id, s.span_id = n.to_bytes(16, "big"), n.to_bytes(8, "big")
    s.start_time_unix_nano, s.end_time_unix_nano = 1_000_000_000, 2_000_000_000
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[s])])]).SerializeToString()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_mlflow_and_langfuse_spans_are_priced_through_the_daemon(daemon_factory: Any) -> None:
    daemon = daemon_factory(CONFIG, extra_ports=("langfuse",))
    post(f"{daemon.http_url}/v1/traces", MLFLOW_ANTHROPIC, "mlflow-app", 1)
    post(f"http://127.0.0.1:{daemon.ports['langfuse']}/api/public/otel/v1/traces", LANGFUSE_OPENAI, "langfuse-app", 2)
    wait_for(lambda: daemon.metric("llm_requests_total") >= 2, what="both calls counted")
    assert daemon.metric("llm_cost_usd_total", service="mlflow-app", model=SONNET) == pytest.approx(SONNET_COST, rel=1e-9)
    assert daemon.metric("llm_cost_usd_total", service="langfuse-app", model=MINI) == pytest.approx(MINI_COST, rel=1e-9)
    assert daemon.stop() == 0
    spans = {}
    for line in (daemon.data / "traces.jsonl").read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans[rs.resource.attributes[0].value.string_value] = attrs_of(s)
    mlflow, langfuse = spans["mlflow-app"], spans["langfuse-app"]
    # Anthropic through MLflow: 100 uncached + 3000 cache reads + 500 cache writes, 20 out.
    assert (mlflow["gen_ai.usage.input_tokens"], mlflow["gen_ai.usage.cache_read.input_tokens"], mlflow["gen_ai.usage.cache_creation.input_tokens"]) == (3600, 3000, 500)
    assert mlflow["gen_ai.usage.token_source"] == "reported" and mlflow["gen_ai.usage.cost"] == pytest.approx(SONNET_COST, rel=1e-9)
    assert (langfuse["gen_ai.usage.input_tokens"], langfuse["gen_ai.usage.output_tokens"], langfuse["gen_ai.usage.cache_read.input_tokens"]) == (1200, 300, 1000)
    assert langfuse["gen_ai.usage.token_source"] == "reported" and langfuse["gen_ai.usage.cost"] == pytest.approx(MINI_COST, rel=1e-9)
    assert langfuse["gen_ai.usage.cost.amount"] == langfuse["gen_ai.usage.cost"] and langfuse["gen_ai.usage.cost.currency"] == "USD"
