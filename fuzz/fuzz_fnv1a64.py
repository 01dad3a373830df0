"""`fnv1a64`, the probabilistic policy's trace id hash in C, against collector.wire.spans.fnv1a64.

Input: the state to continue from (the first 8 bytes, little-endian) and the data.
"""

from __future__ import annotations

from collector.wire import native
from collector.wire import spans as wire_spans
from fuzz import _harness


def encode(state: int, data: bytes) -> bytes:
    return state.to_bytes(8, "little") + data


def test_one_input(data: bytes) -> None:
    state = int.from_bytes(data[:8].ljust(8, b"\0"), "little")
    raw = data[8:]
    assert native.fnv1a64 is not None
    assert native.fnv1a64(_harness.exact(raw), state) == wire_spans.fnv1a64(raw, state)


if __name__ == "__main__":
    _harness.main(test_one_input, [wire_spans])
