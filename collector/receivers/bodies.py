"""OTLP/HTTP request bodies: read within max_request_body_size (growing the request's memory reservation as
they arrive), decompressed by hand so the limit applies to the inflated body too, and, for a request
refused before it was read, drained in chunks with its items counted on the way and nothing held
(collector/admission.py)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, cast

import zstandard
from google.rpc import code_pb2

from .. import otlpjson, pdata
from ..admission import Hold, Refused
from ..component import Signal
from ..serverlimits import BodyReadTimeout
from ..wire.count import ItemCounter

if TYPE_CHECKING:
    from aiohttp import web

CHUNK = 1 << 16
# A body without Content-Length (or longer than it said) reserves its memory in steps of this much as it comes.
GROW_STEP = 1 << 20
# A compressed body reserves this many times its Content-Length (at most max_request_body_size) before it is
# read, then what it really inflated to: OTLP protobuf of LLM spans deflates 6-7x with gzip, 10x with zstd.
# Reserving only the compressed size let concurrent compressed requests each take a share and then all be
# refused when they inflated.
INFLATE_GUESS = 10
# A refused JSON body is counted by decoding it, so only one up to this size (inflated) is: a larger one is
# drained uncounted.
JSON_COUNTED = 1 << 20


class HTTPProblem(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyRefused(Exception):
    """The reservation was refused part-way through reading a body: `chunks` is what was read so far."""

    def __init__(self, refusal: Refused, chunks: list[bytes]):
        super().__init__(str(refusal))
        self.refusal, self.chunks = refusal, chunks


async def read_body(request: web.Request, limit: int, hold: Hold | None = None) -> bytes:
    """The body, within max_request_body_size. The listener bounds the wait (read_timeout: 408); a connection
    that is gone (the client left, or write_timeout closed it) ends the request quietly: no one hears an answer.
    With `hold`, the part of the body past what it reserved is reserved as it arrives (BodyRefused if refused)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"request body exceeds max_request_body_size {limit}")
            chunks.append(chunk)
            if hold is not None and size > hold.bytes:
                try:
                    hold.grow_to(min(limit, size + GROW_STEP))
                except Refused as exc:
                    raise BodyRefused(exc, chunks) from None
    except BodyReadTimeout as exc:
        raise HTTPProblem(408, code_pb2.DEADLINE_EXCEEDED, str(exc)) from None
    except ConnectionError:
        raise HTTPProblem(400, code_pb2.CANCELLED, "connection lost while reading the request body") from None
    return b"".join(chunks)


_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15, "zlib": 15}


def expected_size(content_length: int, encoding: str, limit: int) -> int:
    """The bytes a body of `content_length` is expected to decode from (reserved before it is read)."""
    if encoding.strip().lower() in ("", "identity"):
        return content_length
    return min(limit, content_length * INFLATE_GUESS)


def check_encoding(encoding: str) -> str:
    """The Content-Encoding normalised, or HTTPProblem 415 for one not supported."""
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity", "zstd") and encoding not in _WBITS:
        raise HTTPProblem(415, code_pb2.INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r} (supported: gzip, deflate, zstd)")
    return encoding


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = check_encoding(encoding)
    if encoding in ("", "identity"):
        return body
    if encoding == "zstd":
        return _unzstd(body, limit)
    wbits = _WBITS[encoding]
    out = bytearray()
    data = body
    try:
        while data:
            d = zlib.decompressobj(wbits)
            # max_length bounds memory: a bomb stops at limit+1 bytes instead of inflating fully.
            out += d.decompress(data, limit + 1 - len(out))
            if len(out) > limit or d.unconsumed_tail:
                raise _too_large(limit)
            if not d.eof:
                raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"truncated {encoding} body")
            data = d.unused_data  # gzip allows several concatenated members
    except zlib.error as exc:
        raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid {encoding} body: {exc}") from None
    return bytes(out)


def _too_large(limit: int) -> HTTPProblem:
    return HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"decompressed body exceeds max_request_body_size {limit}")


# A zstd block inflates to at most 128 KiB from a few bytes of input. Feeding the decoder no more input
# than (room left / this) bounds what one call can produce, since zstandard's decompressobj has no
# max_length; its stream_reader does, but it silently returns a truncated frame's data as complete.
_ZSTD_WORST_RATIO = 1 << 16


def _unzstd(body: bytes, limit: int) -> bytes:
    out = bytearray()
    view = memoryview(body)
    pos = 0
    try:
        decoder = zstandard.ZstdDecompressor().decompressobj()
        while pos < len(view):
            step = max(64, (limit + 1 - len(out)) // _ZSTD_WORST_RATIO)
            out += decoder.decompress(view[pos : pos + step])
            pos += step
            if len(out) > limit:
                raise _too_large(limit)
            if decoder.eof:
                # Concatenated frames are one valid stream; whatever follows a frame starts the next one.
                rest = decoder.unused_data
                view = memoryview(rest + bytes(view[pos:])) if rest else view[pos:]
                pos = 0
                if len(view):
                    decoder = zstandard.ZstdDecompressor().decompressobj()
        if not decoder.eof:
            raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, "truncated zstd body")
    except zstandard.ZstdError as exc:
        raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid zstd body: {exc}") from None
    return bytes(out)


class Drain:
    """A refused body taken in chunks as it arrives, inflated piece by piece (at most CHUNK at a time) and
    counted: protobuf items as they pass (collector/wire/count.py), a JSON body by decoding it when it stays
    within JSON_COUNTED. Nothing else is kept. HTTPProblem 413 once more than `limit` bytes have inflated,
    400 for an invalid compressed stream."""

    def __init__(self, signal: Signal, json_body: bool, encoding: str, limit: int):
        self.signal, self.limit, self.encoding = signal, limit, check_encoding(encoding)
        self.inflated = 0
        self._counter = None if json_body else ItemCounter(signal)
        self._json: bytearray | None = bytearray() if json_body else None
        self._zlib: Any = None
        self._zstd: Any = None
        if self.encoding == "zstd":
            self._zstd = zstandard.ZstdDecompressor().stream_writer(cast(IO[bytes], self), write_size=CHUNK, write_return_read=True)
        elif self.encoding in _WBITS:
            self._zlib = zlib.decompressobj(_WBITS[self.encoding])

    def feed(self, chunk: bytes) -> None:
        try:
            if self._zstd is not None:
                self._zstd.write(chunk)  # inflated pieces come back through write()
            elif self._zlib is not None:
                self._inflate(chunk)
            else:
                self.write(chunk)
        except zlib.error as exc:
            raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid {self.encoding} body: {exc}") from None
        except zstandard.ZstdError as exc:
            raise HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid zstd body: {exc}") from None

    def _inflate(self, data: bytes) -> None:
        while data:
            d = self._zlib
            self.write(d.decompress(data, CHUNK))
            if d.eof:  # the next gzip member, if any
                data = d.unused_data
                self._zlib = zlib.decompressobj(_WBITS[self.encoding])
            else:
                data = d.unconsumed_tail

    def write(self, piece: bytes) -> int:
        """One inflated piece (also zstandard's stream_writer output)."""
        self.inflated += len(piece)
        if self.inflated > self.limit:
            raise _too_large(self.limit)
        if self._counter is not None:
            self._counter.feed(piece)
        elif self._json is not None:
            if self.inflated <= JSON_COUNTED:
                self._json += piece
            else:
                self._json = None  # too large to count
        return len(piece)

    def items(self) -> int | None:
        """The items of the whole body, or None when they could not be counted (a large or invalid JSON body)."""
        if self._zlib is not None:
            self.write(self._zlib.flush())
        if self._counter is not None:
            return self._counter.items
        return None if self._json is None else _json_items(self.signal, bytes(self._json))


def _json_items(signal: Signal, body: bytes) -> int | None:
    if len(body) > JSON_COUNTED:
        return None
    try:
        return pdata.count_items(signal, otlpjson.decode(signal, body))
    except otlpjson.OTLPJSONError:
        return None


async def drain(request: web.Request, sink: Drain, chunks: Sequence[bytes] = ()) -> None:
    """Feeds `chunks` already read and then the rest of the body to `sink`. Errors as read_body's."""
    for chunk in chunks:
        sink.feed(chunk)
    size = sum(len(c) for c in chunks)
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > sink.limit:
                raise HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"request body exceeds max_request_body_size {sink.limit}")
            sink.feed(chunk)
    except BodyReadTimeout as exc:
        raise HTTPProblem(408, code_pb2.DEADLINE_EXCEEDED, str(exc)) from None
    except ConnectionError:
        raise HTTPProblem(400, code_pb2.CANCELLED, "connection lost while reading the request body") from None


def count_body(signal: Signal, json_body: bool, body: bytes) -> int | None:
    """The items of a whole body refused after it was read (None: a JSON body too large to decode for it)."""
    return _json_items(signal, body) if json_body else ItemCounter(signal).feed(body).items
