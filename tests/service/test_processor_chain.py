"""The processor chain behind `benchmarks/processors_cpu.py` and `llm-collector loadgen --processed-by`
(collector/testing.py): built from specs by the service's own chaining, started, and shut down the way the
service does it, so that what processors hold is flushed
downstream and a closing event loop is not left waiting for their timers."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.component import Signal
from collector.envelope import Envelope
from collector.testing import BuildError, Sink, build_chain
from collector.tools.loadgen import build_templates
from tests.conftest import REPO


class Collect(Sink):
    def __init__(self) -> None:
        super().__init__(keep=False)

    @property
    def spans(self) -> int:  # type: ignore[override]
        return self.items


def test_shutdown_flushes_what_tail_sampling_and_batch_hold() -> None:
    async def run() -> int:
        sink = Collect()
        chain = await build_chain(["tail_sampling={decision_wait: 60s, policies: [{name: all, type: always_sample}]}",
                                   "batch"], last=sink)
        for template in build_templates(batch_size=100, count=3, seed=1):
            await chain.head.consume(Envelope(Signal.TRACES, ExportTraceServiceRequest.FromString(template.payload)))
        assert sink.spans == 0  # still waiting for a decision
        await chain.shutdown()
        return sink.spans

    assert asyncio.run(asyncio.wait_for(run(), 30)) == 300


def test_unknown_processor_and_bad_config_are_chain_errors() -> None:
    with pytest.raises(BuildError, match="no processor type 'nope'"):
        asyncio.run(build_chain(["nope"]))
    with pytest.raises(BuildError, match="batch"):
        asyncio.run(build_chain(["batch={send_batch_size: many}"]))


@pytest.mark.slow
def test_processors_cpu_benchmark_exits_after_a_chain_with_timers() -> None:
    # It used to print its figure and then hang: asyncio.run waited on tail_sampling's and batch's timers.
    result = subprocess.run(
        [sys.executable, "benchmarks/processors_cpu.py", "token_count", "cost", "redaction",
         "tail_sampling={decision_wait: 10s}", "batch", "--requests", "2", "--rounds", "1", "--pii-share", "0.5"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "token_count -> cost -> redaction -> tail_sampling -> batch: 200 spans" in result.stdout
