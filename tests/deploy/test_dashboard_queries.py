"""The shipped dashboard and rules against real data: a real Prometheus (Debian's package) with rules.yaml
loaded scrapes a real daemon every second while the load generator feeds it (plus a few LLM calls that
read the provider's prompt cache and are traced twice, which the load generator's profile never does); then every PromQL query of
deploy/grafana/llm-collector.json, its template variables substituted, returns data through Prometheus's
HTTP API, every template variable's label_values() finds values, every recording rule records series and
every rule evaluates without error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.testing import kv, traces_request, wait_for
from tests.conftest import REPO, daemon_yaml, free_port
from tests.deploy.promtools import DASHBOARD, RULES, binary, rule_groups

pytestmark = pytest.mark.slow

# Every LLM span priced, counted and redacted as config/default.yaml does; an otlp_http exporter with a
# sending queue (so the queue gauges exist) forwards the traces to a second receiver of the same daemon.
CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
  otlp/loop:
    protocols:
      http: {{endpoint: "127.0.0.1:{loop}"}}
processors:
  memory_limiter: {{check_interval: 1s, limit_percentage: 90, spike_limit_percentage: 10}}
  token_count: {{}}
  cost: {{}}
  redaction: {{allow_all_keys: true, detectors: {{}}}}
  batch: {{timeout: 200ms}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/loop: {{path: "{data}/loop.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
  otlp_http/loop: {{endpoint: "http://127.0.0.1:{loop}", sending_queue: {{queue_size: 100}}}}
""", """
traces: {{receivers: [otlp], processors: [memory_limiter, token_count, cost, redaction, batch], exporters: [file/traces, otlp_http/loop]}}
traces/loop: {{receivers: [otlp/loop], exporters: [file/loop]}}
logs: {{receivers: [otlp], processors: [memory_limiter, redaction, batch], exporters: [file/logs]}}
metrics: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [file/metrics]}}
""")

# Grafana's values for the variables: "All" of a multi-value variable is its allValue, `.*`.
SUBSTITUTIONS = {"${datasource}": "prometheus", "$__rate_interval": "1m", "$__range": "10m", "$__interval": "5s",
                 "$service": ".*", "$model": ".*", "$instance": ".*"}


def substitute(query: str) -> str:
    for name, value in SUBSTITUTIONS.items():
        query = query.replace(name, value)
    assert "$" not in query, query
    return query


def api(port: int, path: str, **params: Any) -> Any:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def cached_calls(count: int, round_: int) -> bytes:
    """LLM chat spans whose usage includes prompt-cache reads (gen_ai.usage.cache_read.input_tokens), each call
    traced twice, as an SDK's own tracing beside an instrumentation does: a child span with the same response
    id, which the cost processor prices once (llm_duplicate_spans_total; the load generator's calls are all
    distinct)."""
    now = time.time_ns()
    spans = []
    for i in range(count):
        call = [kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "anthropic"),
                kv("gen_ai.request.model", "claude-sonnet-4-20250514"), kv("gen_ai.response.id", f"msg_{round_}_{i}"),
                kv("gen_ai.usage.input_tokens", 2000), kv("gen_ai.usage.output_tokens", 150),
                kv("gen_ai.usage.cache_read.input_tokens", 1500)]
        trace_id = (1000 * round_ + i).to_bytes(16, "big")
        parent = Span(trace_id=trace_id, span_id=(2 * i + 1).to_bytes(8, "big"), name="chat claude-sonnet-4",
                      kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=now - 900_000_000, end_time_unix_nano=now)
        child = Span(trace_id=trace_id, span_id=(2 * i + 2).to_bytes(8, "big"), parent_span_id=parent.span_id,
                     name="anthropic.messages.create", kind=Span.SPAN_KIND_CLIENT,
                     start_time_unix_nano=now - 890_000_000, end_time_unix_nano=now - 10_000_000)
        parent.attributes.extend(call)
        child.attributes.extend(call)
        spans += [parent, child]
    return traces_request(*spans, resource={"service.name": "cached-agent"}).SerializeToString()


@pytest.fixture
def prometheus(tmp_path: Path, daemon_factory: Any) -> Any:
    daemon = daemon_factory(CONFIG, extra_ports=("loop",))
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: llm-collector
    static_configs: [{{targets: ["127.0.0.1:{daemon.ports['metrics']}"]}}]
""")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, timeout=60, what="Prometheus ready", interval=0.2)
        yield daemon, port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"{panel['title']} / {target['refId']}", target["expr"]))
    return out


def test_every_dashboard_query_returns_data(prometheus: Any) -> None:
    daemon, port = prometheus
    loadgen = [sys.executable, "-m", "collector.cli", "loadgen", "--endpoint", daemon.grpc_endpoint, "--rate", "300",
               "--duration", "12s", "--usage", "mixed", "--pii-share", "0.3", "--seed", "20", "--quiet", "--json"]
    feeding = subprocess.Popen(loadgen, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for round_ in range(1, 4):
        request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=cached_calls(5, round_), headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        time.sleep(3)
    out, err = feeding.communicate(timeout=120)
    assert feeding.returncode == 0, err.decode()
    assert json.loads(out)["spans_acknowledged"] > 1000
    # Rates need two scrapes after the last change; then the data stays inside every window used.
    wait_for(lambda: api(port, "query", query="sum(otelcol_exporter_sent_spans) > 0")["result"], timeout=30, what="scraped data")
    time.sleep(4)

    empty = []
    for where, expr in dashboard_queries():
        if not api(port, "query", query=substitute(expr))["result"]:
            empty.append(f"{where}: {expr}")
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

    for variable in json.loads(DASHBOARD.read_text())["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
        assert match, variable["definition"]
        values = api(port, f"label/{match[2]}/values", **{"match[]": substitute(match[1])})
        assert values, variable["name"]

    recorded = {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}
    for name in sorted(recorded):
        assert api(port, "query", query=name)["result"], f"recording rule {name} recorded nothing"
    groups = api(port, "rules")["groups"]
    assert sum(len(g["rules"]) for g in groups) == sum(len(g["rules"]) for g in rule_groups())
    broken = [(rule["name"], rule.get("lastError")) for g in groups for rule in g["rules"] if rule["health"] != "ok"]
    assert not broken, broken
