"""tail_sampling's attribute lookups in held spans in C (`wire._walks.attribute_values`, and `number_sum` for
llm_cost's trace total) against parsing the span, which is what they stand in for: the same values in the same
order on the loadgen's spans and on awkward ones, an error or the parser's answer on damaged bytes, and the
policies' answers unchanged. `fnv1a64` against the probabilistic policy's Python hash."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.component import Signal
from collector.envelope import Envelope
from collector.processors import tailsampling as ts
from collector.testing import build_chain, kv
from collector.tools.loadgen import build_templates
from collector.wire import native
from collector.wire import spans as wire_spans
from collector.wire._walks import attribute_values, fnv1a64, number_sum
from tests.conftest import damaged_copies

KEYS = ["gen_ai.usage.cost", "gen_ai.request.model", "openinference.span.kind", "input.value", "no.such.key", ""]


def parsed_values(raw: bytes, key: str) -> list[AnyValue]:
    return [kv.value for kv in Span.FromString(raw).attributes if kv.key == key]


def c_values(raw: bytes, key: str) -> list[AnyValue]:
    return [AnyValue.FromString(v) for v in attribute_values(raw, key.encode())]


def costed_spans() -> list[bytes]:
    async def run() -> list[Any]:
        chain = await build_chain(["token_count", "cost"])
        requests = [ExportTraceServiceRequest.FromString(t.payload) for t in build_templates(batch_size=100, count=4, seed=3, pii_share=0.5)]
        for request in requests:
            await chain.head.consume(Envelope(Signal.TRACES, request))
        await chain.shutdown()
        return requests

    held: dict[bytes, Any] = {}
    for request in asyncio.run(run()):
        ts.group_by_trace(request, held)
    return [raw for trace in held.values() for raw in trace._raw]


def test_the_c_walk_reads_what_a_parse_reads_on_the_loadgens_spans() -> None:
    spans = costed_spans()
    found = 0
    for raw in spans:
        for key in KEYS:
            expected = parsed_values(raw, key)
            assert c_values(raw, key) == expected, key
            found += len(expected)
    assert found > len(spans)  # the keys are there, not only absent


def test_duplicates_lookalikes_missing_values_and_non_ascii_keys() -> None:
    needle_in_a_value = "\x0a\x11gen_ai.usage.cost\x12\x09\x21" + "\x00" * 8
    span = Span(name="x", attributes=[
        kv("gen_ai.usage.cost", AnyValue(double_value=0.5)),
        kv("note", AnyValue(string_value=needle_in_a_value)),
        kv("gen_ai.usage.cost", AnyValue(int_value=3)),
        kv("gen_ai.usage.cost", None),
        kv("ключ", AnyValue(string_value="значение")),
        kv("", AnyValue(bool_value=True)),
        kv("list", AnyValue(array_value={"values": [AnyValue(string_value="gen_ai.usage.cost")]})),
    ])
    raw = span.SerializeToString()
    for key in ["gen_ai.usage.cost", "ключ", "", "note", "list", "gen_ai.usage"]:
        assert c_values(raw, key) == parsed_values(raw, key), key
    assert [v.WhichOneof("value") for v in c_values(raw, "gen_ai.usage.cost")] == ["double_value", "int_value", None]


def test_a_value_split_over_two_occurrences_is_left_to_the_parser() -> None:
    first = KeyValue(key="k", value=AnyValue(string_value="a")).SerializeToString()
    extra = AnyValue(int_value=7).SerializeToString()
    split = first + b"\x12" + bytes([len(extra)]) + extra  # a parser merges the two value fields
    raw = b"\x4a" + bytes([len(split)]) + split
    with pytest.raises(ValueError):
        attribute_values(raw, b"k")
    trace = ts.TraceData(b"\x01" * 16, ts.ALL_FACTS)
    trace._raw.append(raw)
    assert list(ts.span_attribute_values(trace, "k")) == parsed_values(raw, "k") == [AnyValue(int_value=7)]


def test_damaged_bytes_raise_or_agree_with_the_parser() -> None:
    rng = random.Random(5)
    spans = costed_spans()
    for raw in damaged_copies(rng, spans, 3000, cut=True, overwrite=4):
        key = rng.choice(KEYS)
        try:
            got = c_values(raw, key)
        except (ValueError, DecodeError):  # the walk's own check, or a damaged value read by upb
            continue
        try:
            expected = parsed_values(raw, key)
        except Exception:  # noqa: BLE001 - the parser checks nested fields the walk never reads
            continue
        assert got == expected


def test_policies_decide_the_same_with_and_without_the_c_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    spans = costed_spans()
    held: dict[bytes, Any] = {}
    for raw in spans:
        trace = held.setdefault(Span.FromString(raw).trace_id, ts.TraceData(b"", ts.ALL_FACTS))
        trace._raw.append(raw)
    with_c = {tid: ts.trace_cost(t) for tid, t in held.items()}
    monkeypatch.setattr(native, "attribute_values", None)
    monkeypatch.setattr(native, "number_sum", None)
    without = {tid: ts.trace_cost(t) for tid, t in held.items()}
    assert with_c == without and sum(1 for c in with_c.values() if c > 0) > len(held) // 2


def parsed_sum(raws: list[bytes], key: str) -> float:
    total = 0.0
    for raw in raws:
        for value in parsed_values(raw, key):
            n = wire_spans.number(value)
            if n is not None:
                total += n
    return total


def any_bytes(*members: bytes) -> bytes:
    return b"".join(members)


def test_number_sum_adds_what_a_parse_reads() -> None:
    spans = costed_spans()
    assert number_sum(spans, b"gen_ai.usage.cost") == parsed_sum(spans, "gen_ai.usage.cost") > 0
    assert number_sum(spans, b"no.such.key") == 0.0
    assert number_sum([], b"gen_ai.usage.cost") == 0.0

    double = AnyValue(double_value=0.25).SerializeToString()
    text = AnyValue(string_value="7").SerializeToString()
    # A oneof holds its last member on the wire: a double then a string is a string, and the reverse a double.
    double_then_text = any_bytes(double, text)
    text_then_double = any_bytes(text, double)
    attrs = [
        KeyValue(key="c", value=AnyValue(int_value=-3)).SerializeToString(),
        KeyValue(key="c", value=AnyValue(int_value=2**62)).SerializeToString(),
        KeyValue(key="c", value=AnyValue(double_value=1.5)).SerializeToString(),
        KeyValue(key="c", value=AnyValue(bool_value=True)).SerializeToString(),
        KeyValue(key="c").SerializeToString(),
        b"\x0a\x01c\x12" + bytes([len(double_then_text)]) + double_then_text,
        b"\x0a\x01c\x12" + bytes([len(text_then_double)]) + text_then_double,
        KeyValue(key="cc", value=AnyValue(double_value=100.0)).SerializeToString(),
    ]
    raw = b"".join(b"\x4a" + bytes([len(a)]) + a for a in attrs)
    assert [v.WhichOneof("value") for v in parsed_values(raw, "c")][-2:] == ["string_value", "double_value"]
    assert number_sum([raw, raw], b"c") == parsed_sum([raw, raw], "c") == 2 * (-3 + 2**62 + 1.5 + 0.25)


def test_number_sum_refuses_what_it_cannot_read_like_a_parser() -> None:
    with pytest.raises(ValueError):
        number_sum([b"\x4a\x09\x0a\x01c\x12\x04\x21\x00"], b"c")  # a double cut short
    # int_value (field 3) sent length-delimited: upb keeps it as an unknown field, so the value is a double
    # of 0.5 to a parser. The C walk refuses it and trace_cost parses that trace instead.
    odd = AnyValue(double_value=0.5).SerializeToString() + b"\x1a\x01x"
    kv_bytes = b"\x0a\x11gen_ai.usage.cost\x12" + bytes([len(odd)]) + odd
    odd_span = b"\x4a" + bytes([len(kv_bytes)]) + kv_bytes
    plain = KeyValue(key="gen_ai.usage.cost", value=AnyValue(double_value=0.25)).SerializeToString()
    plain_span = b"\x4a" + bytes([len(plain)]) + plain
    trace = ts.TraceData(b"\x01" * 16, ts.ALL_FACTS)
    trace._raw += [plain_span, odd_span]
    with pytest.raises(ValueError):
        number_sum(trace._raw, b"gen_ai.usage.cost")
    assert ts.trace_cost(trace) == parsed_sum(trace._raw, "gen_ai.usage.cost") == 0.75


def test_number_sum_on_damaged_bytes_raises_or_agrees_with_the_parser() -> None:
    rng = random.Random(9)
    spans = costed_spans()
    agreed = 0
    for raw in damaged_copies(rng, spans, 3000):
        try:
            got = number_sum([raw], b"gen_ai.usage.cost")
        except ValueError:
            continue
        try:
            expected = parsed_sum([raw], "gen_ai.usage.cost")
        except Exception:  # noqa: BLE001 - the parser checks fields the walk never reads
            continue
        assert got == expected or (got != got and expected != expected)
        agreed += 1
    assert agreed > 500


def test_fnv1a64_is_the_probabilistic_policys_hash() -> None:
    rng = random.Random(1)
    salted = wire_spans.fnv1a64(b"default-hash-seed")
    for _ in range(2000):
        data = rng.randbytes(rng.randrange(0, 40))
        assert fnv1a64(data, salted) == wire_spans.fnv1a64(data, salted)
        assert fnv1a64(data, wire_spans.FNV_OFFSET) == wire_spans.fnv1a64(data)
