"""`llm-collector report` over 1M exported spans: wall time and peak RSS (docs/performance.md, "report").

Writes the input as the file exporter does (its Framing and the OTLP-JSON encoder, or protobuf with per-record
zstd), 500 spans per record, in files of ~100 MiB named like the exporter's rotated backups; every trace is an
agent span (not a call) and four chat spans carrying what token_count and cost write (tokens, gen_ai.usage.cost
and the proposal's amount/currency/source, OpenInference's llm.cost.*), for 1,000 users and 5 models. Then runs
`report DIR --by user.id,gen_ai.request.model --trend hour --top 10 --format json` in a child process and reads
its peak RSS from getrusage(RUSAGE_CHILDREN).

    PYTHONPATH=. python benchmarks/report_1m.py [--spans 1000000] [--format json|proto]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson
from collector.exporters.file_rotation import Framing
from collector.testing import kv

MODELS = [("gpt-4o", 2.5, 10.0), ("gpt-4o-mini", 0.15, 0.6), ("claude-sonnet-4", 3.0, 15.0), ("gemini-2.0-flash", 0.1, 0.4), ("o3-mini", 1.1, 4.4)]
FILE_BYTES = 100 << 20


def _trace(rng: random.Random, start: int) -> list[Span]:
    trace_id = rng.randbytes(16)
    root_id = rng.randbytes(8)
    spans = [Span(trace_id=trace_id, span_id=root_id, name=f"agent-{rng.randrange(20)}", start_time_unix_nano=start, end_time_unix_nano=start + 9 * 10**9,
                  attributes=[kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.agent.name", "planner")])]
    user = f"user-{rng.randrange(1000)}"
    for i in range(4):
        model, price_in, price_out = rng.choice(MODELS)
        inp, out = rng.randrange(200, 8000), rng.randrange(20, 1500)
        cost = inp * price_in / 1e6 + out * price_out / 1e6
        begin = start + i * 2 * 10**9
        spans.append(Span(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=root_id, name=f"chat {model}", start_time_unix_nano=begin,
                          end_time_unix_nano=begin + rng.randrange(200, 4000) * 10**6, attributes=[
                              kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"), kv("gen_ai.request.model", model),
                              kv("gen_ai.response.model", model), kv("gen_ai.usage.input_tokens", inp), kv("gen_ai.usage.output_tokens", out),
                              kv("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(64):x}"), kv("user.id", user), kv("session.id", f"s-{rng.getrandbits(32):x}"),
                              kv("gen_ai.usage.cost", cost), kv("gen_ai.usage.cost_source", "bundled"), kv("gen_ai.usage.cost.amount", cost),
                              kv("gen_ai.usage.cost.currency", "USD"), kv("gen_ai.usage.cost.source", "local"), kv("llm.cost.total", cost)]))
    return spans


def write(where: Path, spans: int, fmt: str) -> int:
    rng = random.Random(7)
    framing = Framing(lines=fmt == "json", zstd=fmt == "proto")
    written = index = 0
    out = None
    size = 0
    start = 1_796_000_000 * 10**9
    while written < spans:
        batch: list[Span] = []
        while len(batch) < 500 and written + len(batch) < spans:
            batch += _trace(rng, start + (written + len(batch)) * 10**8)  # ~28 hours over 1M spans
        request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=batch)])])
        request.resource_spans[0].resource.attributes.append(kv("service.name", "bench-app"))
        payload = framing.frame(otlpjson.encode("traces", request) if fmt == "json" else request.SerializeToString())
        if out is None or size + len(payload) > FILE_BYTES:
            if out is not None:
                out.close()
            index += 1
            out = open(where / f"traces-2026-12-01T00-00-{index:02d}.000.{'jsonl' if fmt == 'json' else 'pb'}", "wb")
            size = 0
        out.write(payload)
        size += len(payload)
        written += len(batch)
    assert out is not None
    out.close()
    return sum(f.stat().st_size for f in where.iterdir())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["json", "proto"], default="json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        where = Path(tmp)
        began = time.perf_counter()
        total = write(where, args.spans, args.format)
        print(f"wrote {args.spans} spans, {total / 2**20:.0f} MiB in {len(os.listdir(where))} files ({args.format}) in {time.perf_counter() - began:.1f}s")
        cmd = [sys.executable, "-m", "collector.cli", "report", str(where), "--by", "user.id,gen_ai.request.model", "--trend", "hour", "--top", "10", "--format", "json"]
        began = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - began
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            print(done.stderr[-2000:])
            return 1
        cpu = usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        print(f"report: {wall:.1f}s wall, {cpu:.1f}s CPU, peak RSS {usage.ru_maxrss / 1024:.0f} MiB, {args.spans / wall:,.0f} spans/s wall, {args.spans / cpu:,.0f} spans/s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
