"""The redaction gate's C walks (collector/wire/_walks.c) against the Python ones they stand in
for: `locate` for `wire.locate.locate`/`span_marks`, `json_tokens` for `wire.json_lexer.json_tokens`. The
Python functions are the reference, and also what runs where the extension could not be built, so both must
give the same answer on every input, and the C one must survive any bytes. `unknown_fields` has the parser
itself for its reference: on any bytes upb parses, it must say "unknown fields" exactly where upb keeps some."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

from collector.processors.redaction import build_redactor
from collector.wire import json_lexer, locate, native, schema
from collector.wire.encode import varint as encode_varint
from fuzz.fuzz_unknown_fields import parser_keeps_unknown_fields
from tests.conftest import damaged_copies
from tests.processors.test_redaction import llm_config
from tests.processors.test_redaction_gate import (
    _reference_span_marks,
    corpus_requests,
    loadgen_requests,
    random_hits,
    redact,
    shuffled_span_fields,
    trap_request,
)

LAYOUTS = {ExportTraceServiceRequest: locate.TRACES, ExportLogsServiceRequest: locate.LOGS,
           ExportMetricsServiceRequest: locate.METRICS}


def test_the_c_walks_are_built() -> None:
    # `make venv` builds the extension; setup.py marks it optional so that a machine without a C compiler
    # still installs. Here, where a compiler exists, a silent build failure would leave the slow path on.
    assert native.locate is not None, "collector/wire/_walks.c was not built (see setup.py)"
    assert native.json_tokens is not None
    assert native.unknown_fields is not None


def requests() -> list[Any]:
    return [trap_request(), *corpus_requests(), *loadgen_requests()]


def locate_both(buf: bytes, layout: dict, starts: list[int], ends: list[int]) -> tuple[Any, Any]:
    """(Python's answer, C's answer), each the marks or the exception type raised."""
    answers = []
    for run in (lambda: locate.locate(buf, 0, len(buf), layout, starts, ends),
                lambda: native.locate(buf, 0, len(buf), layout, starts, ends, locate.span_marks)):
        try:
            answers.append(run())
        except (ValueError, IndexError) as exc:
            answers.append(type(exc))
    return answers[0], answers[1]


def test_locate_equals_python_on_every_request_of_the_redaction_tests() -> None:
    redactor, _ = build_redactor(llm_config())
    for request in requests():
        buf = request.SerializeToString()
        starts, ends = redactor._wire_hits(buf)
        assert starts, "every request here has a prefilter hit"
        python, c = locate_both(buf, LAYOUTS[type(request)], starts, ends)
        assert isinstance(python, dict) and c == python


def test_locate_equals_python_for_any_hits_and_field_order() -> None:
    # A span inside a ScopeSpans (field 2), so that `locate` reaches it through a layout as in a request.
    rng = random.Random(11)
    for buf_span in shuffled_span_fields(rng, rounds=300):
        buf = b"\x12" + encode_varint(len(buf_span)) + buf_span  # field 2, length-delimited: the span as sent
        assert ScopeSpans.FromString(buf).spans[0] == Span.FromString(buf_span)
        offset = len(buf) - len(buf_span)
        merged = random_hits(rng, len(buf))
        starts, ends = [s for s, _ in merged], [e for _, e in merged]
        python, c = locate_both(buf, {2: locate.span_marks}, starts, ends)
        assert c == python
        in_span = [(s - offset, e - offset) for s, e in merged if e > offset and s < offset + len(buf_span)]
        if in_span:
            want = _reference_span_marks(buf_span, in_span)
            if 9 in want:  # attributes carry their byte range, which `locate` gives in the request's offsets
                want[9] = {i: (s + offset, e + offset) for i, (s, e) in want[9].items()}
            assert c[2][0] == want


def test_locate_on_damaged_bytes_raises_where_python_does_and_never_crashes() -> None:
    # The caller walks the whole request when the gate raises, so C may refuse what Python accepts (an
    # over-long varint), but never the other way round, and an answer must be Python's. With this seed the
    # first 300 rounds already reach every line of the Python walk (gate.py) and each of its six errors
    # (traced with sys.settrace); 1000 keep a margin, 3000 only repeated them.
    rng = random.Random(3)
    redactor, _ = build_redactor(llm_config())
    originals = [r.SerializeToString() for r in requests()[:6]]
    raised = 0
    for round_, data in enumerate(damaged_copies(rng, originals, 1000, cut=True, overwrite=4, insert=True)):
        starts, ends = redactor._wire_hits(data)
        if not starts:
            starts, ends = [0], [len(data)]
        python, c = locate_both(data, locate.TRACES, starts, ends)
        if isinstance(python, type):
            assert isinstance(c, type), f"C accepted bytes Python refuses (round {round_})"
            raised += 1
        elif isinstance(c, dict):
            assert c == python
    assert raised > 100  # the damage did reach the error paths


def test_locate_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="outside the buffer"):
        native.locate(b"\x0a\x00", 0, 3, locate.TRACES, [0], [1], locate.span_marks)
    with pytest.raises(ValueError, match="differ in length"):
        native.locate(b"\x0a\x00", 0, 2, locate.TRACES, [0], [], locate.span_marks)
    with pytest.raises(TypeError):
        native.locate(b"\x0a\x00", 0, 2, locate.TRACES, (0,), (1,), locate.span_marks)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    pieces = ["a", '"', "\\", "\\\\", '\\"', ":", " ", "1234567", "-", "e", "12", "{", "}", ",", "\u00e9", "x@y.com", "\n"]
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        if rng.random() < 0.3:
            return rng.choice([12345678, -7654321, 1.5e10, 10**12, 3, True, None, -1234567890123])
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
    if roll < 0.65:
        return {"".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))): random_json(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_json_tokens_equal_python_on_documents_full_of_escapes() -> None:
    # With this seed the first 200 documents already reach every line of the Python tokenizer
    # (json_values.py, traced with sys.settrace); 1500 keep a margin, 5000 only repeated them.
    rng = random.Random(5)
    for _ in range(1500):
        raw = json.dumps(random_json(rng), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])).encode()
        hits, pos = [], 0
        while pos < len(raw):
            start = pos + rng.randint(0, 20)
            end = min(start + rng.randint(1, 6), len(raw))
            if start >= len(raw):
                break
            hits.append((start, end))
            pos = end + 1
        assert native.json_tokens(raw, hits) == json_lexer.json_tokens(raw, hits), (raw, hits)


def test_json_tokens_survive_text_that_is_not_json() -> None:
    rng = random.Random(9)
    for _ in range(2000):
        raw = bytes(rng.choice(b'"\\:{}[], 0123456789-eaz') for _ in range(rng.randint(0, 60)))
        hits = sorted({(p, p + 1) for p in rng.sample(range(len(raw) + 1), min(len(raw) + 1, 5))})
        tokens = native.json_tokens(raw, [(s, e) for s, e in hits])
        assert tokens == sorted(tokens) and all(0 <= s < e <= len(raw) for s, e, _ in tokens)


def test_the_processor_gives_the_same_bytes_with_and_without_the_c_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = requests()
    redactor, _ = build_redactor(llm_config())
    with_c = [redact(redactor, request)[0] for request in sent]
    monkeypatch.setattr(native, "locate", None)
    monkeypatch.setattr(native, "json_tokens", None)
    monkeypatch.setattr(native, "unknown_fields", None)
    redactor, _ = build_redactor(llm_config())
    assert [redact(redactor, request)[0] for request in sent] == with_c


SCHEMAS = {ExportTraceServiceRequest: schema.TRACES, ExportLogsServiceRequest: schema.LOGS, ExportMetricsServiceRequest: schema.METRICS}


def unknown_requests() -> list[Any]:
    from tests.processors.test_redaction_fields import REQUESTS

    return [build() for builders in REQUESTS.values() for build in builders]


def test_unknown_fields_agrees_with_the_parser_on_every_request_of_the_redaction_tests() -> None:
    for request in [*requests(), *unknown_requests()]:
        data = request.SerializeToString()
        table = SCHEMAS[type(request)]
        assert native.unknown_fields(data, table.table, table.stride) == parser_keeps_unknown_fields(type(request), data)
    assert schema.known_only(trap_request().SerializeToString(), schema.TRACES)


def test_unknown_fields_agrees_with_the_parser_on_damaged_bytes() -> None:
    # Overwritten and inserted bytes turn known fields into unknown ones (a changed number or wire type), cut
    # ones into bytes the parser refuses; wherever the parser reads them, the C walk must answer as it does.
    rng = random.Random(7)
    originals = [(type(r), r.SerializeToString()) for r in [trap_request(), *corpus_requests(), *unknown_requests()]]
    counts = {True: 0, False: 0, None: 0}
    for _ in range(3000):
        request_type, data = rng.choice(originals)
        (damaged,) = damaged_copies(rng, [data], 1, overwrite=3, insert=True)
        want = parser_keeps_unknown_fields(request_type, damaged)
        counts[want] += 1
        table = SCHEMAS[request_type]
        got = native.unknown_fields(damaged, table.table, table.stride)
        if want is not None:
            assert got == want, damaged
    assert min(counts.values()) > 200  # the damage reached all three answers


def test_unknown_fields_on_what_the_parser_takes_in_more_than_one_form() -> None:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint, Metric

    tag = encode_varint
    packed = HistogramDataPoint(bucket_counts=[1, 2], explicit_bounds=[0.5]).SerializeToString()
    unpacked = tag(6 << 3 | 1) + bytes(8) + tag(6 << 3 | 1) + bytes(8) + tag(7 << 3 | 1) + bytes(8)
    as_fixed32 = tag(5 << 3 | 5) + bytes(4)  # `sum` is a double: a 4-byte value is not it
    group = tag(60 << 3 | 3) + tag(60 << 3 | 4)
    for point, unknown in ((packed, False), (unpacked, False), (as_fixed32, True), (group, True)):
        metric = Metric(name="m").SerializeToString() + _wrap(_wrap(point, 1), 9)  # histogram, its data point
        request = _wrap(_wrap(_wrap(metric, 2), 2), 1)  # request > resource_metrics > scope_metrics > metric
        assert parser_keeps_unknown_fields(ExportMetricsServiceRequest, request) is unknown
        assert native.unknown_fields(request, schema.METRICS.table, schema.METRICS.stride) is unknown


def _wrap(body: bytes, field: int) -> bytes:
    return encode_varint(field << 3 | 2) + encode_varint(len(body)) + body
