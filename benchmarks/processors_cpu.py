"""CPU per span of a processor chain alone, in process, on the loadgen's LLM profile.

    .venv/bin/python benchmarks/processors_cpu.py token_count cost            # the llm-reported chain
    .venv/bin/python benchmarks/processors_cpu.py token_count cost --usage missing
    .venv/bin/python benchmarks/processors_cpu.py 'redaction={detectors: {}, allow_all_keys: true, workers: 0}' --pii-share 0.5
    .venv/bin/python benchmarks/processors_cpu.py 'memory_limiter={limit_mib: 4000}' batch
    .venv/bin/python benchmarks/processors_cpu.py 'gen_ai_normalizer={sources: [{name: openllmetry}]}' token_count cost --wire
    .venv/bin/python benchmarks/processors_cpu.py - vs 'filter={traces: {span: ["name == \"x\""]}}' vs 'transform=...'
    .venv/bin/python benchmarks/processors_cpu.py - --llm-metrics '{dimensions: [{name: user.id}, {name: gen_ai.agent.name}, {name: deployment.environment}]}' --wire

Chains separated by `vs` are measured in one run, their rounds alternating (chain 1, chain 2, ..., chain 1,
...), so that load from other processes falls on all of them alike: on a shared machine compare them within
one run (each line gives its difference from the first), not figures across runs. `-` alone is the empty chain (pass-through: the sink only).

Each processor gets its default config (`NAME: {}`) unless given as `NAME=<YAML>` (collector/testing.py),
and the chain ends in a sink that keeps nothing. `--llm-metrics <YAML>` puts an llm_metrics connector (that config)
between the chain and the sink, its metrics going to a sink too, and measures the chain with and without it in
alternating rounds of one run, so that both see the same load; the difference is the connector's. `--wire` hands each request with its bytes, as the OTLP
receiver does, so the processors that read them in C (token_count, cost, gen_ai_normalizer) do.
`redaction` with `detectors:` defaults to `workers: auto`, which redacts in child processes whose CPU this does
not count: `workers: 0` measures it in process.
Less noisy than the daemon benchmark (time.process_time, best of --rounds, no load generator on the
same cores), so it is the tool for comparing two versions of a processor; `make bench` stays the
measure of what a user sees.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from collector.component import ComponentID, Kind, Settings, Signal  # noqa: E402
from collector.envelope import Envelope  # noqa: E402
from collector.telemetry import Telemetry, component_logger  # noqa: E402
from collector.testing import Sink, build_chain, decode_config  # noqa: E402
from collector.tools.loadgen import build_templates  # noqa: E402


def fresh_calls(payload: bytes, round_: int) -> tuple[ExportTraceServiceRequest, bytes]:
    """The request with its trace, span and response ids made new for this round: each round's spans are
    calls never seen before, as a live service sends them (a replayed span is an exporter's retry to the cost
    processor's dedupe, a cheaper path)."""
    request = ExportTraceServiceRequest.FromString(payload)
    mark = round_.to_bytes(4, "big")
    suffix = f"-{round_}"
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.trace_id = mark + span.trace_id[4:]
                span.span_id = mark + span.span_id[4:]
                if span.parent_span_id:
                    span.parent_span_id = mark + span.parent_span_id[4:]
                for kv in span.attributes:
                    if kv.key == "gen_ai.response.id":
                        kv.value.string_value += suffix
    payload = request.SerializeToString()
    return ExportTraceServiceRequest.FromString(payload), payload  # parsed afresh, as a receiver hands it


ROUNDS = iter(range(1, 1 << 30))


async def per_span(head: Any, payloads: list[bytes], spans: int, rounds: int, wire: bool = False) -> float:
    best = float("inf")
    for _ in range(rounds):
        round_ = next(ROUNDS)
        requests = [(request, payload if wire else None) for request, payload in (fresh_calls(p, round_) for p in payloads)]
        gc.collect()  # the previous round's garbage is not this round's cost
        start = time.process_time()
        for request, payload in requests:
            await head.consume(Envelope(Signal.TRACES, request, payload))
        best = min(best, time.process_time() - start)
    return best / spans * 1e6


def llm_metrics(config: str) -> Any:
    """An llm_metrics connector (traces -> metrics) with `config`, its metrics going to a sink."""
    cls, decoded = decode_config("llm_metrics", config, Kind.CONNECTOR)
    settings = Settings(id=ComponentID("llm_metrics"), kind=Kind.CONNECTOR, log=component_logger("llm_metrics", Kind.CONNECTOR),
                        telemetry=Telemetry(), signal=Signal.TRACES, out_signal=Signal.METRICS)
    sink = Sink(keep=False)
    return cls(settings, decoded, {"metrics": sink}, sink)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("processors", nargs="+", help="processor type names, in pipeline order; `vs` between chains to compare; `-` for none")
    parser.add_argument("--usage", choices=["reported", "missing", "mixed"], default="reported")
    parser.add_argument("--pii-share", type=float, default=None)
    parser.add_argument("--requests", type=int, default=32, help="distinct 100-span requests")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--llm-metrics", metavar="YAML", default=None, help="an llm_metrics connector config: measure the chain with and without it")
    parser.add_argument("--wire", action="store_true", help="hand each request with the bytes it was decoded from, as the OTLP receiver does (the C walks read them)")
    args = parser.parse_args()
    templates = build_templates(batch_size=100, count=args.requests, seed=11, usage=args.usage, pii_share=args.pii_share)
    payloads = [t.payload for t in templates]
    spans = sum(t.items for t in templates)
    specs: list[list[str]] = [[]]
    for word in args.processors:
        if word == "vs":
            specs.append([])
        elif word != "-":
            specs[-1].append(word)
    chains = []
    try:
        # (label, chain, index of the chain it is compared with): with --llm-metrics each chain also runs with
        # the connector behind it, and that line gives the connector's cost over the chain alone.
        runs: list[tuple[str, Any, int]] = []
        for spec in specs:
            names = " -> ".join(p.partition("=")[0] for p in spec) or "pass-through"
            try:
                chains.append(await build_chain(spec))
                runs.append((names, chains[-1], 0))
                if args.llm_metrics is not None:
                    chains.append(await build_chain(spec, llm_metrics(args.llm_metrics)))
                    runs.append((f"{names} + llm_metrics", chains[-1], len(runs) - 1))
            except ValueError as exc:
                raise SystemExit(str(exc)) from None
        for chain in chains:
            await per_span(chain.head, payloads, spans, 1, args.wire)  # warm caches (tokenizer, price lookups, RE2 DFAs)
        best = [float("inf")] * len(runs)
        for _ in range(args.rounds):
            for i, (_, chain, _) in enumerate(runs):
                best[i] = min(best[i], await per_span(chain.head, payloads, spans, 1, args.wire))
        for i, (label, _, base) in enumerate(runs):
            ratio = f" ({best[i] - best[base]:+.2f} us/span beside {runs[base][0]})" if i != base else ""
            print(f"{label}: {spans} spans, usage {args.usage}{', wire bytes' if args.wire else ''}, best of {args.rounds}: {best[i]:.2f} us/span{ratio}")
    finally:
        for chain in chains:
            await chain.shutdown()

if __name__ == "__main__":
    asyncio.run(main())
