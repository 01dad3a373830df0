"""CPU per span of the redaction processor alone, in process, on the loadgen's LLM profile or on dense PII.

    .venv/bin/python benchmarks/redaction_cpu.py [--profile loadgen|dense|clean] [--pii-share 0.5] [--requests 32] [--rounds 3]

Less noisy than the daemon benchmark (time.process_time, best of --rounds, no loadgen on the same cores).
Profiles: `loadgen` is the load generator's LLM traces with PII in --pii-share of the prompts (~1.1 KB a
span); `dense` puts PII in every span's prompt (~1.1 KB a span, 12 findings: three each of an e-mail, a CPF,
a phone number and a card number, distinct in every span, half in a JSON messages value and half in plain
text); `clean` is the loadgen's profile without PII.
Rows: the processor as configured by `redaction: {detectors: {}, allow_all_keys: true}` (request-level
prefilter, then only the hit items) when it serializes the request itself, the same with the bytes the receiver decoded the request from (what the
daemon's gRPC and HTTP-protobuf intake lends it, collector/envelope.py), and the same engine forced to
walk every item (what a key-rule config such as `allowed_keys` costs).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1 import common_pb2  # noqa: E402
from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402

from collector.pii.scanner import Scanner  # noqa: E402
from collector.processors.redaction import Detectors, RedactionConfig, build_redactor  # noqa: E402
from collector.tools.loadgen import LlmProfile, build_templates  # noqa: E402

_SYSTEM = ("You are Acme's customer support assistant. Answer using only the provided help-center articles and "
           "tool results; never invent order details.")
_DENSE = (" Contact {email} or call {phone}; my CPF is {cpf} and the card is {card}.",
          " Again, e-mail {email}, phone {phone}, CPF {cpf}, card {card} on file.",
          " Finally: {email} / {phone} / CPF {cpf} / charge {card} please.")


def _kv(key: str, value: object) -> common_pb2.KeyValue:
    kv = common_pb2.KeyValue(key=key)
    if isinstance(value, str):
        kv.value.string_value = value
    else:
        kv.value.int_value = int(value)  # type: ignore[call-overload]
    return kv


def dense_payloads(requests: int, seed: int = 11) -> list[bytes]:
    """Requests of 100 chat spans, each with 12 distinct findings in its prompt (see the module doc)."""
    rng = random.Random(seed)
    profile = LlmProfile(random.Random(seed))
    payloads = []
    for _ in range(requests):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.CopyFrom(profile.resources[rng.randrange(len(profile.resources))])
        ss = rs.scope_spans.add()
        ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.openai_v2", "2.1b0"
        for i in range(100):
            prompt = "How do I change the shipping address on my order?"
            for sentence in _DENSE:
                prompt += sentence.format_map(profile._pii())  # noqa: SLF001 - the loadgen's valid PII
            span = ss.spans.add(trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name="chat gpt-4o",
                                kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=1, end_time_unix_nano=2)
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                          "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                          "gen_ai.response.id": f"chatcmpl-{rng.randbytes(12).hex()}",
                          "gen_ai.usage.input_tokens": rng.randint(200, 900), "gen_ai.usage.output_tokens": rng.randint(20, 200),
                          "server.address": "api.openai.com", "server.port": 443}
            if i % 2:
                attributes["gen_ai.input.messages"] = json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": _SYSTEM}]},
                    {"role": "user", "parts": [{"type": "text", "content": prompt}]}])
            else:
                attributes["gen_ai.system_instructions"] = _SYSTEM
                attributes["gen_ai.prompt"] = prompt
            span.attributes.extend(_kv(k, v) for k, v in attributes.items())
        payloads.append(request.SerializeToString())
    return payloads


def per_span(redactor, payloads: list[bytes], spans: int, rounds: int, received: bool = False) -> float:
    best = float("inf")
    for _ in range(rounds):
        requests = [(ExportTraceServiceRequest.FromString(p), p if received else None) for p in payloads]
        start = time.process_time()
        for request, payload in requests:
            redactor.traces(request, payload)
        best = min(best, time.process_time() - start)
    return best / spans * 1e6


def findings(redactor, payloads: list[bytes]) -> int:
    count = 0
    for p in payloads:
        count += sum(redactor.traces(ExportTraceServiceRequest.FromString(p), p).matches.values())
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("loadgen", "dense", "clean"), default="loadgen")
    parser.add_argument("--pii-share", type=float, default=0.5, help="loadgen profile: the share of prompts with PII")
    parser.add_argument("--requests", type=int, default=32, help="distinct 100-span requests")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.profile == "dense":
        payloads = dense_payloads(args.requests)
        share = "every prompt"
    else:
        share = str(0.0 if args.profile == "clean" else args.pii_share)
        templates = build_templates(batch_size=100, count=args.requests, seed=11, pii_share=float(share))
        payloads = [t.payload for t in templates]
    spans = sum(len(ss.spans) for p in payloads for rs in ExportTraceServiceRequest.FromString(p).resource_spans for ss in rs.scope_spans)
    gated, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    original = Scanner.scans_wire
    Scanner.scans_wire = property(lambda self: False)  # type: ignore[method-assign,assignment]
    try:
        full, _ = build_redactor(RedactionConfig(detectors=Detectors(), allow_all_keys=True))
    finally:
        Scanner.scans_wire = original  # type: ignore[method-assign]
    for redactor in (gated, full):  # warm the RE2 DFA caches and the processor's memo of clean strings
        per_span(redactor, payloads, spans, 1)
    size = sum(map(len, payloads)) / spans
    print(f"{args.profile}: {spans} spans of {size:.0f} bytes, PII in {share}, "
          f"{findings(gated, payloads) / spans:.2f} findings a span, best of {args.rounds}")
    print(f"request-level prefilter + hit items : {per_span(gated, payloads, spans, args.rounds):6.2f} us/span")
    print(f"  ... over the received bytes        : {per_span(gated, payloads, spans, args.rounds, True):6.2f} us/span")
    print(f"every item walked                   : {per_span(full, payloads, spans, args.rounds):6.2f} us/span")


if __name__ == "__main__":
    main()
