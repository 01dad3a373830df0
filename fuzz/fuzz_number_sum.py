"""`number_sum`, llm_cost's trace total in C (the numeric values of one attribute over serialized spans),
against the same sum over the parsed spans.

Input (_harness.frame): the key, then up to four spans. The C walk may refuse (ValueError) what a parser
reads; where both read the bytes the sums are equal (NaN where the parser's is NaN).
"""

from __future__ import annotations

import math

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.wire import native
from collector.wire import spans as wire_spans
from fuzz import _harness

SPANS = 4


def encode(key: bytes, spans: list[bytes]) -> bytes:
    return _harness.frame(key, *(spans + [b""] * (SPANS - len(spans))))


def parsed_sum(raws: list[bytes], key: str) -> float:
    total = 0.0
    for raw in raws:
        for kv in Span.FromString(raw).attributes:
            if kv.key == key:
                value = wire_spans.number(kv.value)
                if value is not None:
                    total += value
    return total


def test_one_input(data: bytes) -> None:
    key, *raws = _harness.unframe(data, 1 + SPANS)
    assert native.number_sum is not None
    try:
        got = native.number_sum(raws, key)
    except ValueError:
        return
    assert type(got) is float
    try:
        expected = parsed_sum(raws, key.decode())
    except Exception:  # noqa: BLE001 - the parser checks fields the walk never reads
        return
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (got, expected)


if __name__ == "__main__":
    _harness.main(test_one_input)
