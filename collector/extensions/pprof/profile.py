"""A pprof profile (google/pprof's proto/profile.proto, message `Profile`) built from Python stacks and encoded
by hand, gzip-compressed as `go tool pprof` and Go's runtime/pprof write it.

A stack is a tuple of frames, innermost first; a frame is (function name, file name, first line of the
function, current line). Each distinct function becomes one `Function`, each distinct (function, line) one
`Location` with one `Line`, and all locations belong to one `Mapping` marked as already symbolized
(has_functions, has_filenames, has_line_numbers), so pprof never tries to symbolize addresses. Field numbers
are profile.proto's: Profile 1 sample_type, 2 sample, 3 mapping, 4 location, 5 function, 6 string_table,
9 time_nanos, 10 duration_nanos, 11 period_type, 12 period, 13 comment, 14 default_sample_type."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence

Frame = tuple[str, str, int, int]  # (function, file, first line of the function, line)
Stack = tuple[Frame, ...]


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 on the wire: two's complement in ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int(field: int, value: int) -> bytes:
    """A varint field, left out at 0 (proto3's default)."""
    return _key(field, 0) + _varint(value) if value else b""


def _bytes(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _packed(field: int, values: Iterable[int]) -> bytes:
    payload = b"".join(_varint(v) for v in values)
    return _bytes(field, payload) if payload else b""


class ProfileBuilder:
    """Samples of one kind of profile: `sample_types` are (type, unit) pairs, e.g. ("cpu", "nanoseconds");
    each sample has one value per sample type and optional string labels (e.g. the thread's name)."""

    def __init__(self, sample_types: Sequence[tuple[str, str]], *, period_type: tuple[str, str] | None = None, period: int = 0,
                 default_sample_type: str = ""):
        self._strings: dict[str, int] = {"": 0}
        self._functions: dict[tuple[str, str, int], int] = {}
        self._locations: dict[tuple[int, int], int] = {}
        self._samples: list[bytes] = []
        self._sample_types = [(self._string(t), self._string(u)) for t, u in sample_types]
        self._period_type = (self._string(period_type[0]), self._string(period_type[1])) if period_type else None
        self._period = period
        self._default = self._string(default_sample_type) if default_sample_type else 0
        self._comments: list[int] = []

    def _string(self, text: str) -> int:
        index = self._strings.get(text)
        if index is None:
            index = self._strings[text] = len(self._strings)
        return index

    def _location(self, frame: Frame) -> int:
        name, filename, first_line, line = frame
        function = self._functions.get((name, filename, first_line))
        if function is None:
            function = self._functions[(name, filename, first_line)] = len(self._functions) + 1
            self._string(name)
            self._string(filename)
        location = self._locations.get((function, line))
        if location is None:
            location = self._locations[(function, line)] = len(self._locations) + 1
        return location

    def comment(self, text: str) -> None:
        self._comments.append(self._string(text))

    def add(self, stack: Stack, values: Sequence[int], labels: dict[str, str] | None = None) -> None:
        body = _packed(1, (self._location(f) for f in stack)) + _packed(2, values)
        for key, value in (labels or {}).items():
            body += _bytes(3, _int(1, self._string(key)) + _int(2, self._string(value)))
        self._samples.append(body)

    def encode(self, *, time_nanos: int = 0, duration_nanos: int = 0, mapping_file: str = "") -> bytes:
        """The Profile message, uncompressed."""
        out = bytearray()
        for t, u in self._sample_types:
            out += _bytes(1, _int(1, t) + _int(2, u))
        for sample in self._samples:
            out += _bytes(2, sample)
        # One mapping holding every location, already symbolized (has_functions, has_filenames, has_line_numbers).
        out += _bytes(3, _int(1, 1) + _int(5, self._string(mapping_file)) + _int(7, 1) + _int(8, 1) + _int(9, 1))
        for (function, line), location in self._locations.items():
            out += _bytes(4, _int(1, location) + _int(2, 1) + _bytes(4, _int(1, function) + _int(2, line)))
        for (name, filename, first_line), function in self._functions.items():
            n = self._strings[name]
            out += _bytes(5, _int(1, function) + _int(2, n) + _int(3, n) + _int(4, self._strings[filename]) + _int(5, first_line))
        for text in self._strings:
            out += _bytes(6, text.encode("utf-8", "surrogateescape"))
        out += _int(9, time_nanos) + _int(10, duration_nanos)
        if self._period_type is not None:
            out += _bytes(11, _int(1, self._period_type[0]) + _int(2, self._period_type[1]))
        out += _int(12, self._period)
        out += _packed(13, self._comments)
        out += _int(14, self._default)
        return bytes(out)

    def gzipped(self, *, time_nanos: int = 0, duration_nanos: int = 0, mapping_file: str = "") -> bytes:
        return gzip.compress(self.encode(time_nanos=time_nanos, duration_nanos=duration_nanos, mapping_file=mapping_file), compresslevel=6)
