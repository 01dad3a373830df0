"""What one request can cost: the redaction of a value grows linearly with its matches (allowed_values
included), and a large request is redacted off the event loop."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import re2
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.envelope import Envelope
from collector.processors.redaction.edits import Allowed
from collector.testing import Sink, build_processor, kv, traces_request


def rescanning_covered(patterns: list[Any], text: str, start: int, end: int) -> bool:
    """The former check, each pattern's matches read from the start of the text for every finding."""
    for pattern in patterns:
        for m in pattern.finditer(text):
            s, e = m.span()
            if s <= start and end <= e:
                return True
            if s > start:
                break
    return False


def test_allowed_answers_as_the_rescanning_check() -> None:
    rng = random.Random(31)
    patterns = [re2.compile(p) for p in (r"a+@b\.co", r"keep[0-9]*", r"x?", r"[a-z]+@[a-z]+\.[a-z]+", r"\d{3,}")]
    alphabet = "ab@.co keep0123x9"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        chosen = rng.sample(patterns, rng.randint(1, 3))
        allowed = Allowed(chosen, text)
        queries = sorted((s, s + rng.randint(1, 8)) for s in (rng.randint(0, max(0, len(text) - 1)) for _ in range(8)))
        if rng.random() < 0.2:
            rng.shuffle(queries)  # findings come in order, but the answer must not depend on it
        for s, e in queries:
            assert allowed.covers(s, e) == rescanning_covered(chosen, text, s, e), (text, s, e)


def _request(emails: int) -> Any:
    text = " ".join(f"user{i}@example.com" for i in range(emails))
    return traces_request(Span(trace_id=b"\1" * 16, span_id=b"\2" * 8, name="s", attributes=[kv("msg", text)]))


def test_allowed_values_keep_a_value_with_many_matches_linear() -> None:
    # 8x the matches: ~8x the time if linear, ~64x if each finding reread the value. Best of 3, interleaved.
    sink = Sink()
    processor = build_processor("redaction", {"allowed_values": [r"keep\d+@example\.com"]}, sink)
    small, large = float("inf"), float("inf")
    for _ in range(3):
        for emails in (500, 4000):
            request = _request(emails)
            start = time.perf_counter()
            asyncio.run(processor.consume(Envelope.of(request)))
            elapsed = time.perf_counter() - start
            assert "@" not in sink.spans[-1].attributes[0].value.string_value
            if emails == 500:
                small = min(small, elapsed)
            else:
                large = min(large, elapsed)
    print(f"allowed_values: 500 e-mails {small * 1e3:.1f} ms, 4000 {large * 1e3:.1f} ms (x{large / small:.1f})")
    assert large < 24 * small
