"""Buffered-span memory: what pending traces cost in RSS against the serialized bytes they hold.

Runs in a fresh interpreter so the RSS delta is the buffer's, not the test session's. The loadgen LLM
profile provides realistic spans (prompts, GenAI attributes, events)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

_MEASURE = r"""
import asyncio, gc, json, random, sys
import structlog
from collector.envelope import Envelope
from collector.tools import loadgen
from collector.tools.loadgen.templates import build_request
from collector.component import ComponentID, Kind, Settings, Signal
from collector.config.typed import Decoder
from collector.config.source import load_text
from collector.processors.tailsampling import TailSamplingConfig, TailSamplingProcessor
from collector.telemetry import Telemetry, rss_bytes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

class Sink:
    capabilities = None
    async def consume(self, envelope: Envelope):
        return None

async def main(traces):
    doc = load_text("decision_wait: 1h\nnum_traces: 1000000\npolicies: [{name: all, type: always_sample}]\n", "t.yaml")
    cfg = Decoder(doc).decode(TailSamplingConfig, doc.data, ())
    settings = Settings(id=ComponentID("tail_sampling"), kind=Kind.PROCESSOR, log=structlog.get_logger(), telemetry=Telemetry(), pipeline="traces", signal=Signal.TRACES)
    proc = TailSamplingProcessor(settings, cfg, Sink())
    profile = loadgen.LlmProfile(random.Random(7))
    # The receiver's path: each request parsed from its wire bytes, consumed, then freed. The bytes are
    # made first so their memory is part of the baseline.
    bodies = [build_request(profile, profile.generate(20, 1_700_000_000_000_000_000 + i), "traces").SerializeToString() for i in range(traces // 20 + 1)]
    parse = ExportTraceServiceRequest.FromString
    await proc.consume(Envelope(Signal.TRACES, parse(bodies.pop())))  # warm every code path before the baseline
    gc.collect()
    before = rss_bytes()
    wire = 0
    for body in bodies:
        wire += len(body)
        await proc.consume(Envelope(Signal.TRACES, parse(body)))
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"rss_delta": after - before, "buffered": proc.pending_bytes, "wire": wire, "spans": sum(t.span_count for t in proc.pending_traces.values())}))

asyncio.run(main(int(sys.argv[1])))
"""


@pytest.mark.slow
def test_pending_spans_cost_at_most_one_and_a_half_times_their_serialized_bytes() -> None:
    out = subprocess.run([sys.executable, "-c", _MEASURE, "6000"], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = figures["rss_delta"] / figures["buffered"]
    print(f"buffered {figures['buffered'] / 2**20:.1f} MiB serialized in {figures['spans']} spans; RSS grew {figures['rss_delta'] / 2**20:.1f} MiB: {ratio:.2f}x")
    assert figures["buffered"] > 0.9 * figures["wire"]  # everything sent is still pending (decision_wait 1h)
    assert ratio <= 1.5
