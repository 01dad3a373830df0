"""CPU per span of the whole tail_sampling processor, in process, on the loadgen's LLM profile.

    .venv/bin/python benchmarks/tail_sampling_cpu.py [--requests 64] [--rounds 5] [--upstream token_count,cost]
    .venv/bin/python benchmarks/tail_sampling_cpu.py --profile     # cProfile of one round, top functions

Everything tail_sampling does to a span is measured with time.process_time: intake (consume), the decision
timer's work (decide_due in the timer's chunks, with the policies of benchmarks/configs/full-pipeline.yaml),
release of the sampled traces (the request handed to the next consumer) and the drop of the rest. The
decision_wait is the config's; decisions are forced by asking for the traces due an hour from now, which is
what the timer does once their wait has run out. Each round gets a fresh processor, so every trace is new.

The spans first go through `--upstream` (token_count and cost by default, as in the full pipeline), so the
LLM policies read the attributes they read in the daemon; that part is not measured. The next consumer keeps
nothing. Rows: intake, decisions + release, and the total, in microseconds per span (best of --rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from collector.component import ComponentID, Kind, Signal  # noqa: E402
from collector.envelope import Envelope  # noqa: E402
from collector.testing import Sink, build_chain, build_processor  # noqa: E402
from collector.tools.loadgen import PayloadSource, build_templates  # noqa: E402

PIPELINE = Path(__file__).resolve().parent / "configs" / "full-pipeline.yaml"


async def upstream_payloads(payloads: list[bytes], names: list[str]) -> list[bytes]:
    """The payloads as tail_sampling sees them in the full pipeline: after the processors before it."""
    if not names:
        return payloads
    capture = Sink()
    chain = await build_chain(names, capture)
    for payload in payloads:
        await chain.consume(ExportTraceServiceRequest.FromString(payload))
    await chain.shutdown()
    return [r.SerializeToString() for r in capture.requests]


def tail_sampling_config() -> Any:
    """The pipeline's tail_sampling block as the daemon loads it (its ${env:...} defaults expanded)."""
    from collector.config import load_config

    return load_config([str(PIPELINE)]).component(Kind.PROCESSOR, ComponentID("tail_sampling")).config


async def one_round(config: Any, payloads: list[bytes]) -> tuple[float, float, int, int]:
    """(intake seconds, decision + release seconds, spans in, spans released) of one fresh processor."""
    sink = Sink(keep=False)
    processor: Any = build_processor("tail_sampling", config, sink)  # as the service builds it; not started: no timer
    requests = [ExportTraceServiceRequest.FromString(p) for p in payloads]  # the receiver's parse: not measured
    spans_in = sum(len(ss.spans) for r in requests for rs in r.resource_spans for ss in rs.scope_spans)
    start = time.process_time()
    for request in requests:
        await processor.consume(Envelope(Signal.TRACES, request))
    intake = time.process_time() - start
    start = time.process_time()
    due = time.monotonic() + float(config.decision_wait) + 3600
    more = True
    while more:  # the timer loop's work, chunk by chunk
        sampled, more = processor.decide_due(due)
        if sampled:
            await processor._send(sampled)
    decide = time.process_time() - start
    assert not processor.pending_traces
    return intake, decide, spans_in, sink.items


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64, help="100-span requests (20 five-span traces each) per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pii-share", type=float, default=0.5)
    parser.add_argument("--upstream", default="token_count,cost", help="processors run before (not measured); '' for none")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round instead")
    args = parser.parse_args()

    templates = build_templates(batch_size=100, count=32, seed=11, pii_share=args.pii_share)
    source = PayloadSource(templates, seed=11)
    payloads = [source.next()[0] for _ in range(args.requests)]  # fresh trace ids in every request
    payloads = await upstream_payloads(payloads, [n for n in args.upstream.split(",") if n])
    config = tail_sampling_config()
    await one_round(config, payloads)  # warm-up

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await one_round(config, payloads)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    best_intake = best_decide = best_total = float("inf")
    spans = released = 0
    for _ in range(args.rounds):
        intake, decide, spans, released = await one_round(config, payloads)
        best_intake, best_decide, best_total = min(best_intake, intake), min(best_decide, decide), min(best_total, intake + decide)
    print(f"tail_sampling ({', '.join(p.name for p in config.policies)}): {spans} spans in, {released} released "
          f"({released / spans:.0%}), upstream [{args.upstream}], best of {args.rounds}")
    print(f"intake (consume)            : {best_intake / spans * 1e6:6.2f} us/span")
    print(f"decisions + release + drop  : {best_decide / spans * 1e6:6.2f} us/span")
    print(f"total                       : {best_total / spans * 1e6:6.2f} us/span")


if __name__ == "__main__":
    asyncio.run(main())
