"""`attribute_values`, tail_sampling's lookup of one attribute in a serialized span in C, against parsing the
span (the reference named in collector.wire.native).

Input (_harness.frame): the key and the span. The C walk may refuse (ValueError) what a parser reads, as
its callers then parse; where both read the bytes, they find the same values in the same order.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.wire import native
from fuzz import _harness


def encode(key: bytes, span: bytes) -> bytes:
    return _harness.frame(key, span)


def test_one_input(data: bytes) -> None:
    key, raw = _harness.unframe(data, 2)
    assert native.attribute_values is not None
    try:
        found = native.attribute_values(_harness.exact(raw), key)
    except ValueError:
        return
    assert all(type(value) is bytes for value in found)
    try:
        text = key.decode()
        expected = [kv.value for kv in Span.FromString(raw).attributes if kv.key == text]
        got = [AnyValue.FromString(value) for value in found]
    except (UnicodeDecodeError, DecodeError):  # a key no parsed span can have, or a value a parser refuses
        return
    assert got == expected, (got, expected)


if __name__ == "__main__":
    _harness.main(test_one_input)
