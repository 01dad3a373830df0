"""`llm-collector report` over what the real daemon wrote: spans from the OTel SDK's OTLP exporter go through
token_count and cost (with a price file, so every cost is known by hand) into two file exporters (OTLP-JSON
lines with size rotation, and zstd-compressed protobuf); the report's numbers are checked against the
arithmetic done here from the spans sent."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from collector.report.sketch import QuantileSketch
from tests.conftest import daemon_yaml

REPO = Path(__file__).resolve().parents[2]
HOUR0 = 1_796_119_200  # 2026-12-01T10:00:00Z
TRACES = 40
PRICES = {"test-large": (2.0, 10.0), "test-small": (1.0, 2.0)}  # USD per million input, output tokens
FILLER = "x" * 30_000  # makes the JSON file pass 1 MiB and rotate

PRICE_FILE = """
models:
  - {name: test-large, input_mtok: 2, output_mtok: 10}
  - {name: test-small, input_mtok: 1, output_mtok: 2}
"""

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  token_count: {{}}
  cost: {{prices: "{data}/prices.yaml"}}
exporters:
  file/json:
    path: "{data}/json/traces.jsonl"
    rotation: {{max_megabytes: 1}}
  file/proto: {{path: "{data}/proto/traces.pb", format: proto, compression: zstd}}
""", """
traces: {{receivers: [otlp], processors: [token_count, cost], exporters: [file/json, file/proto]}}
""")


def _cost(model: str, inp: int, out: int) -> float:
    price_in, price_out = PRICES[model]
    return inp * price_in / 1e6 + out * price_out / 1e6


def _calls() -> list[dict[str, Any]]:
    """The model calls sent, one dict each (the duplicate spans and the wrapper roots are not calls)."""
    calls = []
    for t in range(TRACES):
        start = (HOUR0 + (t % 3) * 3600 + t) * 10**9
        feature = "chat" if t % 2 == 0 else "search"
        calls.append({"trace": t, "user": f"u{t % 3}", "model": "test-large", "in": 1000 + t, "out": 100 + t, "start": start + 10**6,
                      "latency": (100 + 10 * t) / 1000, "feature": "override" if t == 7 else feature, "error": t % 10 == 9})
        calls.append({"trace": t, "user": f"u{t % 3}", "model": "test-small", "in": 500, "out": 50, "start": start + 2 * 10**6,
                      "latency": 0.05, "feature": feature, "error": False})
    for call in calls:
        call["cost"] = _cost(call["model"], call["in"], call["out"])
    return calls


def _send(daemon: Any) -> None:
    providers = {feature: TracerProvider(resource=Resource.create({"service.name": "report-test", "app.feature": feature})) for feature in ("chat", "search")}
    for provider in providers.values():
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True)))
    by_trace: dict[int, list[dict[str, Any]]] = {}
    for call in _calls():
        by_trace.setdefault(call["trace"], []).append(call)
    for t, calls in by_trace.items():
        tracer = providers["chat" if t % 2 == 0 else "search"].get_tracer("report-test")
        start = (HOUR0 + (t % 3) * 3600 + t) * 10**9
        # The agent span copies its child's GenAI attributes, as some instrumentations do: not a call.
        root = tracer.start_span(f"agent-run-{t % 4}", start_time=start, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "test-large", "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 99_999, "gen_ai.usage.output_tokens": 99_999})
        context = otel_trace.set_span_in_context(root)
        for i, call in enumerate(calls):
            attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": call["model"],
                                          "gen_ai.usage.input_tokens": call["in"], "gen_ai.usage.output_tokens": call["out"], "user.id": call["user"],
                                          "gen_ai.response.id": f"resp-{t}-{i}"}
            if call["feature"] == "override":
                attributes["app.feature"] = "override"  # a span attribute wins over the resource's
            if i == 0:
                attributes["app.note"] = FILLER
            span = tracer.start_span("chat " + call["model"], context=context, start_time=call["start"], attributes=attributes)
            if call["error"]:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=call["start"] + round(call["latency"] * 1e9))
            if i == 1 and t % 5 == 0:
                # A second instrumentation's span of the same API call: the cost processor prices it once.
                twin = tracer.start_span("openai.chat", context=context, start_time=call["start"], attributes=attributes)
                twin.end(end_time=call["start"] + round(call["latency"] * 1e9))
        root.end(end_time=start + 10**9)
    for provider in providers.values():
        provider.shutdown()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import Daemon

    where = tmp_path_factory.mktemp("report")
    (where / "data").mkdir()
    (where / "data" / "prices.yaml").write_text(PRICE_FILE)
    daemon = Daemon(where, CONFIG).start()
    try:
        _send(daemon)
    finally:
        assert daemon.stop() == 0, daemon.logs()
    data = where / "data"
    assert len(list((data / "json").iterdir())) >= 2, "the JSON file should have rotated"
    lines = [json.loads(line) for f in (data / "json").iterdir() for line in f.read_text().splitlines()]
    spans = [s for r in lines for rs in r["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    duplicates = [s for s in spans if any(a["key"] == "gen_ai.usage.cost_duplicate" for a in s["attributes"])]
    assert len(duplicates) == TRACES // 5, "the cost processor should have marked each twin span"
    return data


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", "report", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def _quantile_bounds(values: list[float], q: float) -> tuple[float, float]:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    return ordered[math.floor(rank)] * 0.98, ordered[math.ceil(rank)] * 1.02


@pytest.mark.slow
@pytest.mark.parametrize("source", ["json-directory", "proto-zstd-file", "gzip-copy"])
def test_report_numbers_match_the_spans_sent(exported: Path, tmp_path: Path, source: str) -> None:
    if source == "json-directory":
        paths = [str(exported / "json")]
    elif source == "proto-zstd-file":
        paths = [str(exported / "proto" / "traces.pb")]
    else:
        # Rotated files compressed whole afterwards (as logrotate does): read through gzip.
        for f in (exported / "json").iterdir():
            with open(f, "rb") as src, gzip.open(tmp_path / (f.name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        paths = [str(tmp_path)]
    done = report(*paths, "--by", "user.id,gen_ai.request.model", "--format", "json", "--trend", "hour", "--top", "3")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    calls = _calls()

    s = out["summary"]
    assert s["calls"] == len(calls) == s["priced_calls"]
    assert s["duplicate_spans"] == TRACES // 5
    assert s["spans_not_calls"] == TRACES  # the agent roots
    assert s["spans"] == len(calls) + TRACES // 5 + TRACES
    assert s["cost_usd"] == pytest.approx(sum(c["cost"] for c in calls), rel=1e-9)
    assert s["input_tokens"] == sum(c["in"] for c in calls)
    assert s["output_tokens"] == sum(c["out"] for c in calls)
    assert s["errors"] == sum(c["error"] for c in calls) == 4

    groups = {(g["user.id"], g["gen_ai.request.model"]): g for g in out["groups"]}
    expected_keys = {(c["user"], c["model"]) for c in calls}
    assert set(groups) == expected_keys
    for key in expected_keys:
        mine = [c for c in calls if (c["user"], c["model"]) == key]
        g = groups[key]
        assert g["calls"] == len(mine)
        assert g["cost_usd"] == pytest.approx(sum(c["cost"] for c in mine), rel=1e-9)
        assert g["input_tokens"] == sum(c["in"] for c in mine)
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            low, high = _quantile_bounds([c["latency"] for c in mine], q)
            assert low <= g[f"latency_{name}_s"] <= high, (key, name, g)
    assert [g["cost_usd"] for g in out["groups"]] == sorted((g["cost_usd"] for g in out["groups"]), reverse=True)

    per_trace: dict[int, float] = {}
    for c in calls:
        per_trace[c["trace"]] = per_trace.get(c["trace"], 0.0) + c["cost"]
    best = sorted(per_trace, key=lambda t: -per_trace[t])[:3]
    assert [t["root_span"] for t in out["top_traces"]] == [f"agent-run-{t % 4}" for t in best]
    assert [t["cost_usd"] for t in out["top_traces"]] == pytest.approx([per_trace[t] for t in best], rel=1e-9)
    assert all(t["cost_error_usd"] == 0 for t in out["top_traces"])

    hours = out["trend"]["buckets"]
    assert [h["start"] for h in hours] == ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z"]
    for i, h in enumerate(hours):
        mine = [c for c in calls if c["trace"] % 3 == i]
        assert h["calls"] == len(mine)
        assert h["cost_usd"] == pytest.approx(sum(c["cost"] for c in mine), rel=1e-9)

    progress = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert progress and all(r.get("component") == "report" for r in progress)


@pytest.mark.slow
def test_report_groups_by_resource_attribute_and_formats(exported: Path) -> None:
    calls = _calls()
    done = report(str(exported / "proto"), "--by", "app.feature", "--format", "csv", "--trend", "day", "--top", "0")
    assert done.returncode == 0, done.stderr
    groups_block, trend_block = done.stdout.strip().split("\n\n")
    rows = {r["app.feature"]: r for r in csv.DictReader(io.StringIO(groups_block))}
    assert set(rows) == {"chat", "search", "override"}
    for feature, row in rows.items():
        mine = [c for c in calls if c["feature"] == feature]
        assert int(row["calls"]) == len(mine)
        assert float(row["cost_usd"]) == pytest.approx(sum(c["cost"] for c in mine), rel=1e-9)
    days = list(csv.DictReader(io.StringIO(trend_block)))
    assert [(d["start"], int(d["calls"])) for d in days] == [("2026-12-01T00:00:00Z", len(calls))]

    table = report(str(exported / "proto"), "--by", "", "--format", "table")
    assert table.returncode == 0, table.stderr
    assert f"{len(calls)} calls ({len(calls)} priced)" in table.stdout
    assert "top traces by cost:" in table.stdout


@pytest.mark.slow
def test_report_damaged_file_reports_what_it_read_and_exits_1(exported: Path, tmp_path: Path) -> None:
    source = exported / "proto" / "traces.pb"
    damaged = tmp_path / "traces.pb"
    data = source.read_bytes()
    damaged.write_bytes(data[: len(data) - 10])  # a writer stopped mid-record
    done = report(str(damaged), "--format", "json")
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert 0 < out["summary"]["spans"] < len(_calls()) + TRACES // 5 + TRACES  # all but the cut record
    assert "record" in out["summary"]["damaged"][0] and "byte offset" in out["summary"]["damaged"][0]


def test_sketch_stays_within_its_relative_accuracy_and_bounded() -> None:
    sketch = QuantileSketch(0.01, max_buckets=2048)
    values = [1.0001**i * 1e-3 for i in range(200_000)]  # 1 ms to ~485 ms
    for v in values:
        sketch.add(v)
    for q in (0.5, 0.95, 0.99):
        exact = values[round(q * (len(values) - 1))]
        assert abs(sketch.quantile(q) - exact) / exact <= 0.0101  # type: ignore[operator]
    assert len(sketch.buckets) <= 2048
    tiny = QuantileSketch(0.01, max_buckets=16)
    for i in range(1000):
        tiny.add(1.5**i % 1e6 + 1e-6)
    assert len(tiny.buckets) <= 16
