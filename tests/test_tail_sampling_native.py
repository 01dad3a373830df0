"""tail_sampling's attribute lookups in held spans in C (`_wire_walks.attribute_values`) against parsing the
span, which is what they stand in for: the same values in the same order on the loadgen's spans and on
awkward ones, an error or the parser's answer on damaged bytes, and the policies' answers unchanged."""

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
from collector.loadgen import build_templates
from collector.processor_chain import build_chain
from collector.processors import tail_sampling as ts
from collector.processors._wire_walks import attribute_values

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
            await chain.head.consume(Signal.TRACES, request)
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


def kv(key: str, value: AnyValue | None) -> KeyValue:
    return KeyValue(key=key, value=value) if value is not None else KeyValue(key=key)


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
    for _ in range(3000):
        raw = bytearray(rng.choice(spans))
        if rng.random() < 0.5:
            del raw[rng.randrange(len(raw)):]
        else:
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        key = rng.choice(KEYS)
        try:
            got = c_values(bytes(raw), key)
        except (ValueError, DecodeError):  # the walk's own check, or a damaged value read by upb
            continue
        try:
            expected = parsed_values(bytes(raw), key)
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
    monkeypatch.setattr(ts, "_attribute_values_in_c", None)
    without = {tid: ts.trace_cost(t) for tid, t in held.items()}
    assert with_c == without and sum(1 for c in with_c.values() if c > 0) > len(held) // 2
