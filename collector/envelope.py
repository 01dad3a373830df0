"""The envelope: one request on its way through a pipeline, with what is known about it.

Every consumer (processor, connector, exporter, the service's fan-out) takes an `Envelope` in `consume`.
It holds the OTLP request message (`Export*ServiceRequest`) and what a component derived from it that the
next one would otherwise derive again:

- `wire`: protobuf bytes the request is encoded as. The OTLP receiver decoded the request from such bytes
  and a redaction worker answers with them; reading them saves serializing the request again (redaction's
  prefilter, tail sampling's buffer, the GenAI view's C walk). `canonical` bytes are exactly what
  `request.SerializeToString()` gives; a sender's bytes are merely *an* encoding of the request (a field
  may be split into several occurrences that a parser merges).
- `views`: the GenAI views of the request's spans, in iteration order (`genai.view.NOT_COMPUTED` where the
  producer skipped a span): token_count builds them, cost reads them.
- `items`: spans, log records or data points, counted once per change.

Derived data is worth having only while it is current: stale wire bytes would let redaction miss PII that a
processor in front of it added. So it is current by construction, whatever the components declare: taking
the request (`envelope.request`) voids everything derived before, whether or not the taker then changes it.
A component that wants derived data asks for it *before* it takes the request; one that has derived data
about the request it passes on attaches it *after* its last change. Components that only look at the
envelope (`items`, `signal`) leave what others derived in place.

The service owns the envelope: a receiver makes one per request, a fan-out gives a branch that mutates its
own copy, and a processor that emits a request of its own (batch, tail_sampling) makes a new one.
"""

from __future__ import annotations

from typing import Any

from .component import Signal

__all__ = ["Envelope"]

_SIGNAL_OF_REQUEST = {
    "ExportTraceServiceRequest": Signal.TRACES,
    "ExportLogsServiceRequest": Signal.LOGS,
    "ExportMetricsServiceRequest": Signal.METRICS,
}


class Envelope:
    __slots__ = ("signal", "_request", "_wire", "_canonical", "_views", "_items")

    def __init__(self, signal: Signal, request: Any, wire: bytes | None = None, canonical: bool = False):
        """`wire`: bytes `request` was decoded from (or serialized to) just now; `canonical`: they are its
        `SerializeToString()`."""
        self.signal = signal
        self._request = request
        self._wire = wire
        self._canonical = canonical and wire is not None
        self._views: list[Any] | None = None
        self._items = -1

    @classmethod
    def of(cls, request: Any) -> Envelope:
        """An envelope for a request message, its signal told by the message's type."""
        signal = _SIGNAL_OF_REQUEST.get(type(request).__name__)
        if signal is None:
            raise TypeError(f"not an OTLP export request: {type(request).__name__}")
        return cls(signal, request)

    @property
    def request(self) -> Any:
        """The request, to read or change. Voids the wire bytes, views and item count derived so far."""
        self._wire = None
        self._views = None
        self._items = -1
        return self._request

    def wire(self, canonical: bool = False) -> bytes | None:
        """Bytes the request is encoded as, if a component attached them and nothing took the request since
        (with `canonical`, only bytes equal to its `SerializeToString()`)."""
        if canonical and not self._canonical:
            return None
        return self._wire

    def views(self) -> list[Any] | None:
        """The GenAI views a component attached, if nothing took the request since."""
        return self._views

    @property
    def items(self) -> int:
        """Spans, log records or data points in the request (counted once, until the request is taken)."""
        if self._items < 0:
            from .pdata import count_items

            self._items = count_items(self.signal, self._request)
        return self._items

    def attach_wire(self, wire: bytes, canonical: bool = False) -> None:
        """Declares `wire` an encoding of the request as it is now (the caller's last change is behind it)."""
        self._wire = wire
        self._canonical = canonical

    def attach_views(self, views: list[Any]) -> None:
        """Declares `views` the GenAI views of the request's spans as they are now."""
        self._views = views

    def replace(self, request: Any, wire: bytes | None = None, canonical: bool = False) -> None:
        """Puts another request object in the envelope (and what is known of it), e.g. one decoded from a
        worker's answer."""
        self._request = request
        self._wire = wire
        self._canonical = canonical and wire is not None
        self._views = None
        self._items = -1

    def digest(self) -> bytes:
        """A 128-bit digest of the request as it is now, read without taking it: of the attached wire bytes,
        else of its serialization. Equal requests reaching the same point by the same path get equal digests."""
        import hashlib

        data = self._wire if self._wire is not None else self._request.SerializeToString(deterministic=True)
        return hashlib.blake2b(data, digest_size=16).digest()

    def copy(self) -> Envelope:
        """A new envelope holding a deep copy of the request, for a consumer that changes it while others
        read the original. The copy is equal to the original, so the wire bytes hold for it too."""
        from .pdata import clone

        twin = Envelope(self.signal, clone(self._request), self._wire, self._canonical)
        twin._items = self._items
        return twin

    def __repr__(self) -> str:
        known = [name for name, value in (("wire", self._wire), ("views", self._views)) if value is not None]
        return f"<Envelope {self.signal} {type(self._request).__name__} known={known}>"
