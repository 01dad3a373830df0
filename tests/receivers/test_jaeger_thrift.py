"""The jaeger receiver's Thrift reader (collector/receivers/jaeger/thrift.py) on both protocols: it reads what
the Thrift specifications allow writers to send (compact bools in field headers, long-form field ids, old
non-strict binary headers, unknown and mistyped fields skipped as Apache Thrift's generated Go code skips them),
refuses a span missing a required field alone, and on hostile bytes only ever raises ThriftError, quickly,
with a reason that never quotes the input."""

from __future__ import annotations

import random
import time

import pytest

from collector.receivers.jaeger import thrift
from collector.receivers.jaeger.thrift import ThriftError, decode_batch, decode_emit_batch
from collector.receivers.jaeger.translate import from_thrift
from tests.conftest import damaged_copies
from tests.receivers import jaeger_wire as w

TRACE = 0x0102030405060708_F1F2F3F4F5F6F7F8
SECRET = "s3cr3t-value-never-echoed"


def _batch(**span_kwargs: object) -> w.Fields:
    return w.batch("svc", [w.span(TRACE, 0xAFAEADACABAAA9A8, "op", span_tags={"k": SECRET, "n": -7, "d": 2.5, "b": True, "f": False, "y": b"\x00\xff"},
                                  logs=[(1_700_000_000_000_100, {"event": "e", "x": 1})], refs=[(0, TRACE, 5)], **span_kwargs)],  # type: ignore[arg-type]
                   process_tags={"hostname": "h"})


@pytest.mark.parametrize("encoding", ["http-binary", "agent-compact", "agent-binary", "agent-binary-nonstrict"])
def test_every_encoding_reads_the_same_batch(encoding: str) -> None:
    fields = _batch()
    if encoding == "http-binary":
        got = decode_batch(w.Binary.struct(fields))
    elif encoding == "agent-compact":
        got = decode_emit_batch(w.emit_batch(fields, compact=True), compact=True)
    elif encoding == "agent-binary":
        got = decode_emit_batch(w.emit_batch(fields, compact=False), compact=False)
    else:
        got = decode_emit_batch(w.Binary.message("emitBatch", 4, [(1, w.STRUCT, fields)], strict=False), compact=False)
    assert got.process == thrift.Process("svc", [thrift.Tag("hostname", thrift.TAG_STRING, "h")])
    (span,) = got.spans
    assert (span.trace_id_high, span.trace_id_low) == (0x0102030405060708, 0xF1F2F3F4F5F6F7F8 - 2**64)
    assert span.span_id == 0xAFAEADACABAAA9A8 - 2**64 and span.operation_name == "op" and span.flags == 1
    assert span.start_time == 1_700_000_000_000_000 and span.duration == 1000 and span.problem is None
    assert [(t.key, t.v_type, t.value) for t in span.tags or ()] == [
        ("k", 0, SECRET), ("n", 3, -7), ("d", 1, 2.5), ("b", 2, True), ("f", 2, False), ("y", 4, b"\x00\xff")]
    assert span.logs == [thrift.Log(1_700_000_000_000_100, [thrift.Tag("event", 0, "e"), thrift.Tag("x", 3, 1)])]
    assert span.references == [thrift.SpanRef(0, 0xF1F2F3F4F5F6F7F8 - 2**64, 0x0102030405060708, 5)]


def test_compact_long_form_field_ids_and_long_lists() -> None:
    # A field-id jump over 15 is written in long form; a list of 15 or more elements carries its size as a varint.
    span = w.span(TRACE, 1, span_tags={f"k{i}": i for i in range(40)})
    fields = w.batch("svc", [span]) + [(20, w.I64, 7)]  # an unknown field, far away: skipped
    got = decode_emit_batch(w.emit_batch(fields), compact=True)
    assert [t.value for t in got.spans[0].tags or ()] == list(range(40))


def test_unknown_and_mistyped_fields_are_skipped_as_generated_go_code_does() -> None:
    # Go's generated reader skips a field whose type is not the declared one; the field then counts as absent.
    span = w.span(TRACE, 1) + [(13, w.STRING, "future field"), (50, w.LIST, (w.I32, [1, 2, 3]))]
    span = [f if f[0] != 5 else (5, w.STRING, "op") for f in span]
    mistyped = [(1, w.STRING, "svc"), (2, w.I32, 3)]  # Process.tags as an i32: skipped, so no tags
    fields = [(1, w.STRUCT, mistyped), (2, w.LIST, (w.STRUCT, [span])), (3, w.I64, 9)]
    for raw, compact in ((w.emit_batch(fields, True), True), (w.emit_batch(fields, False), False)):
        got = decode_emit_batch(raw, compact)
        assert got.process.tags is None and got.spans[0].problem is None


def test_a_span_missing_a_required_field_is_refused_and_the_next_one_is_intact() -> None:
    broken = [f for f in w.span(TRACE, 1) if f[0] != 5]  # no operationName
    bad_tag = w.span(TRACE, 2, span_tags={}) [:-1] + [(10, w.LIST, (w.STRUCT, [[(1, w.STRING, "no-type")], w.tag("ok", 1)]))]
    good = w.span(TRACE, 3, "kept")
    for raw, compact in ((w.emit_batch(w.batch("svc", [broken, bad_tag, good]), True), True),
                         (w.emit_batch(w.batch("svc", [broken, bad_tag, good]), False), False)):
        got = decode_emit_batch(raw, compact)
        assert got.refused == 2 and [s.operation_name for s in got.spans] == ["kept"]
        request, refused = from_thrift(got)
        assert refused == 2
        assert [s.name for s in request.resource_spans[0].scope_spans[0].spans] == ["kept"]


@pytest.mark.parametrize(("name", "raw", "compact"), [
    ("no process", w.emit_batch([(2, w.LIST, (w.STRUCT, []))]), True),
    ("no spans", w.emit_batch([(1, w.STRUCT, [(1, w.STRING, "svc")])]), True),
    ("process without serviceName", w.emit_batch([(1, w.STRUCT, [(2, w.LIST, w.tags({}))]), (2, w.LIST, (w.STRUCT, []))]), True),
    ("emitZipkinBatch", w.Compact.message("emitZipkinBatch", 4, [(1, w.LIST, (w.STRUCT, []))]), True),
    ("a reply, not a call", w.Compact.message("emitBatch", 2, [(1, w.STRUCT, w.batch("svc", []))]), True),
    ("not compact", w.emit_batch(w.batch("svc", []), compact=False), True),
    ("bad binary version", b"\x80\x02\x00\x04" + b"\x00" * 12, False),
    ("empty", b"", True),
])
def test_structural_problems_fail_the_message(name: str, raw: bytes, compact: bool) -> None:
    with pytest.raises(ThriftError):
        decode_emit_batch(raw, compact)


def _compact_span_list(count_varint: bytes) -> bytes:
    """An emitBatch whose span list claims a size given as raw varint bytes."""
    head = w.Compact.message("emitBatch", 4, [])[:-1]  # without the args' stop byte
    process = b"\x1c\x18\x03svc\x00"  # Batch field 1 (struct): Process field 1 (string) "svc", stop
    return head + b"\x1c" + process + b"\x19" + b"\xfc" + count_varint  # args field 1 (Batch), its field 2: a list of structs


@pytest.mark.parametrize(("name", "raw", "compact"), [
    ("a list of 2**31 spans in 10 bytes", _compact_span_list(b"\xff\xff\xff\xff\x07"), True),
    ("a string longer than the datagram", w.Compact.message("emitBatch", 4, [])[:-1] + b"\x1c\x18\xff\xff\xff\x7f", True),
    ("a binary string of negative length", w.Binary.message("emitBatch", 4, [])[:-1] + b"\x0c\x00\x01\x0b\x00\x01\xff\xff\xff\xfe", False),
    ("a varint that never ends", w.Compact.message("emitBatch", 4, [])[:-1] + b"\x1c\x16" + b"\xff" * 64, True),
    ("structs nested 10,000 deep", w.Compact.message("emitBatch", 4, [])[:-1] + b"\x1c" * 10_000, True),
    ("lists nested 10,000 deep", w.Compact.message("emitBatch", 4, [])[:-1] + b"\x1c\x29" + b"\x19" * 10_000, True),
])
def test_hostile_bytes_are_refused_quickly_with_a_reason(name: str, raw: bytes, compact: bool) -> None:
    started = time.monotonic()
    with pytest.raises(ThriftError) as caught:
        decode_emit_batch(raw, compact)
    assert time.monotonic() - started < 0.5, name
    assert str(caught.value)


def test_damaged_datagrams_only_ever_raise_thrift_error_and_never_quote_the_input() -> None:
    rng = random.Random(18)
    originals = {True: [w.emit_batch(_batch(), True)], False: [w.emit_batch(_batch(), False)]}
    decoded = 0
    for compact, raws in originals.items():
        for raw in damaged_copies(rng, raws, 3000, cut=True, overwrite=4, insert=True):
            try:
                batch = decode_emit_batch(raw, compact)
            except ThriftError as exc:
                assert SECRET not in str(exc) and "svc" not in str(exc)
                continue
            decoded += 1
            from_thrift(batch)  # whatever was read translates
    assert decoded > 0


def test_blank_and_broken_spans_are_not_kept() -> None:
    # jThriftSpansToInternal skips spans equal to a zero-valued span; a broken one is only counted. Neither is kept,
    # so a body of 100,000 empty structs costs no objects.
    blank = [(1, w.I64, 0), (2, w.I64, 0), (3, w.I64, 0), (4, w.I64, 0), (5, w.STRING, ""), (7, w.I32, 0), (8, w.I64, 0), (9, w.I64, 0)]
    got = decode_batch(w.Binary.struct(w.batch("svc", [blank, w.span(TRACE, 1), blank])))
    assert got.refused == 0 and [s.span_id for s in got.spans] == [1]
    empties = w.Compact.message("emitBatch", 4, [])[:-1] + b"\x1c\x1c\x18\x03svc\x00\x19\xfc" + bytes([0xC0, 0x9A, 0x0C]) + b"\x00" * 200_000 + b"\x00\x00"
    got = decode_emit_batch(empties, compact=True)
    assert got.spans == [] and got.refused == 200_000
