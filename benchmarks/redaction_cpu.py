"""CPU per span of the redaction processor alone, in process, on the loadgen's LLM profile.

    .venv/bin/python benchmarks/redaction_cpu.py [--pii-share 0.5] [--requests 32] [--rounds 3]

Less noisy than the daemon benchmark (time.process_time, best of --rounds, no loadgen on the same cores).
Rows: the processor as configured by `redaction: {detectors: {}, allow_all_keys: true}` (request-level
prefilter, then only the hit items) when it serializes the request itself, the same with the bytes the receiver decoded the request from (what the
daemon's gRPC and HTTP-protobuf intake lends it, collector/envelope.py), and the same engine forced to
walk every item (what a key-rule config such as `allowed_keys` costs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from collector.pii.scanner import Scanner  # noqa: E402
from collector.processors.redaction import Detectors, RedactionConfig, build_redactor  # noqa: E402
from collector.tools.loadgen import build_templates  # noqa: E402


def per_span(redactor, payloads: list[bytes], spans: int, rounds: int, received: bool = False) -> float:
    best = float("inf")
    for _ in range(rounds):
        requests = [(ExportTraceServiceRequest.FromString(p), p if received else None) for p in payloads]
        start = time.process_time()
        for request, payload in requests:
            redactor.traces(request, payload)
        best = min(best, time.process_time() - start)
    return best / spans * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pii-share", type=float, default=0.5)
    parser.add_argument("--requests", type=int, default=32, help="distinct 100-span requests")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    templates = build_templates(batch_size=100, count=args.requests, seed=11, pii_share=args.pii_share)
    payloads = [t.payload for t in templates]
    spans = sum(t.items for t in templates)
    gated, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    original = Scanner.scans_wire
    Scanner.scans_wire = property(lambda self: False)  # type: ignore[method-assign,assignment]
    try:
        full, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    finally:
        Scanner.scans_wire = original  # type: ignore[method-assign]
    for redactor in (gated, full):  # warm the RE2 DFA caches and the processor's memo of clean strings
        per_span(redactor, payloads, spans, 1)
    print(f"{spans} spans, pii share {args.pii_share}, best of {args.rounds}")
    print(f"request-level prefilter + hit items : {per_span(gated, payloads, spans, args.rounds):6.2f} us/span")
    print(f"  ... over the received bytes        : {per_span(gated, payloads, spans, args.rounds, True):6.2f} us/span")
    print(f"every item walked                   : {per_span(full, payloads, spans, args.rounds):6.2f} us/span")


if __name__ == "__main__":
    main()
