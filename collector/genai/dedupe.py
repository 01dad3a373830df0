"""One LLM call, one price: which LLM spans are the same API call seen by two stacked instrumentations.

With two instrumentations on one call (the Anthropic SDK's own tracing next to OpenLLMetry or OpenInference,
OpenLIT next to OpenLLMetry, Langfuse's OpenAI wrapper next to OTel openai-v2, ...) the call gives two LLM
spans, parent and child or siblings, and pricing both would bill it twice. The rule, for two LLM spans of the
same trace whose [start, end] intervals overlap (every span of one call covers the call's own exchange):
- both carry `gen_ai.response.id`: they are the same call exactly when the ids are equal;
- else (at least one carries no id, e.g. OpenInference writes none): they are the same call when one is the
  other's parent, child or sibling, both report the same input and output token counts, their providers
  agree (or one is unknown) and their models agree (equal, or one name a prefix of the other: a requested
  alias and the dated version that answered).
Overlap is also what keeps apart two calls that share an id (a server returning constant or short random
ids); cache token counts are not compared, since libraries differ in whether they report them.

The first span of a call to arrive is its original: it is priced and counted in the metrics. A later span of
the call is its duplicate, priced nowhere and counted nowhere, unless the call had no price yet (its first
span had no usage or an unpriced model) and this span can be priced: then this one is priced and counted,
once (see `Verdict`).

Spans of one call can arrive in different requests, so `CallMemory` keeps the spans it has seen for `window`
seconds after their arrival, at most `max_entries` of them (the oldest go first, counted in `evictions`).
What it cannot see: a duplicate arriving after its original left the memory (by age or by the cap) is priced
again, and so is one that reaches another memory (another daemon, another pipeline's cost processor).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .view import GenAIView

# The most recent spans compared under one key: a trace of many calls with the same token counts (a batch of
# short classifications) must not make each span's check linear in the trace; a call's spans arrive close.
SCAN = 32


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the cost processor does with one LLM span.

    Unless it is a duplicate, the span is priced (or marked unpriced) and its cost, if any, counted.
    count_call: count it as a call (requests, latency, unpriced). count_tokens: add its tokens to the metrics.
    duplicate_of: for a duplicate, the span id of the call's priced span (else of its first); a duplicate
    gets no cost and counts nowhere."""

    count_call: bool
    count_tokens: bool
    duplicate_of: bytes | None = None


ORIGINAL = Verdict(count_call=True, count_tokens=True)
# A later span of a call that had no price yet, and can be priced: it gives the call its cost (and tokens when
# the first span had none), not a second request.
COMPLETES = Verdict(count_call=False, count_tokens=False)
COMPLETES_WITH_TOKENS = Verdict(count_call=False, count_tokens=True)


class _Call:
    """One API call's state shared by the spans seen for it."""

    __slots__ = ("span_id", "priced", "counted")

    def __init__(self, span_id: bytes, priced: bool, counted: bool):
        self.span_id = span_id  # the priced span, else the first
        self.priced = priced
        self.counted = counted  # its tokens are in the metrics


class _Seen:
    """One LLM span kept for matching."""

    __slots__ = ("keys", "span_id", "parent_id", "start", "end", "provider", "models", "response_id", "call", "deadline")

    def __init__(self, keys: tuple[tuple, ...], span_id: bytes, parent_id: bytes, start: int, end: int, view: GenAIView,
                 response_id: str | None, call: _Call, deadline: float):
        self.keys = keys
        self.span_id = span_id
        self.parent_id = parent_id
        self.start = start
        self.end = end
        self.provider = view.provider
        self.models = (view.request_model, view.response_model)
        self.response_id = response_id
        self.call = call
        self.deadline = deadline


class CallMemory:
    """The LLM spans seen in the last `window` seconds (at most `max_entries`), indexed by (trace, response id)
    and (trace, input tokens, output tokens); `admit` says what to do with each new one."""

    def __init__(self, window: float, max_entries: int):
        self.window = window
        self.max_entries = max_entries
        self.evictions = 0  # spans dropped by the cap before their window ended
        self._index: dict[tuple, list[_Seen]] = {}
        self._order: deque[_Seen] = deque()  # arrival order, so deadline order
        self._now = 0.0

    def __len__(self) -> int:
        return len(self._order)

    def expire(self, now: float) -> None:
        """Forget the spans whose window has ended; `now` (time.monotonic()) is also the arrival time given
        to the spans admitted until the next call."""
        self._now = now
        order = self._order
        while order and order[0].deadline <= now:
            self._forget(order.popleft())

    def admit(self, span: Any, view: GenAIView, priceable: bool) -> Verdict:
        """The verdict for an LLM span (priceable: the processor found it a price), which is then remembered."""
        response_id = view.text("response_id")
        u = view.usage
        inp, out = u.input_tokens, u.output_tokens
        complete = inp is not None and out is not None
        if response_id is None and not complete:
            return ORIGINAL  # nothing to match it by, now or later
        trace, span_id = span.trace_id, span.span_id
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        index = self._index
        match: _Seen | None = None
        keys: list[tuple] = []
        key: tuple
        if response_id is not None:
            key = (trace, response_id)
            keys.append(key)
            for seen in islice(reversed(index.get(key, ())), SCAN):
                if seen.start <= end and start <= seen.end and seen.span_id != span_id:
                    match = seen
                    break
        if complete:
            key = (trace, inp, out)
            keys.append(key)
            if match is None:
                for seen in islice(reversed(index.get(key, ())), SCAN):
                    if (seen.response_id is None or response_id is None) and seen.start <= end and start <= seen.end \
                            and seen.span_id != span_id and _related(seen, span) and _agree(seen, view):
                        match = seen
                        break
        if match is None:
            call = _Call(span_id, priceable, inp is not None or out is not None)
            verdict = ORIGINAL
        else:
            call = match.call
            if priceable and not call.priced:
                verdict = COMPLETES if call.counted else COMPLETES_WITH_TOKENS
                call.priced = call.counted = True
                call.span_id = span_id
            else:
                verdict = Verdict(count_call=False, count_tokens=False, duplicate_of=call.span_id)
        seen = _Seen(tuple(keys), span_id, span.parent_span_id, start, end, view, response_id, call, self._now + self.window)
        self._remember(seen)
        return verdict

    def _remember(self, seen: _Seen) -> None:
        index = self._index
        for key in seen.keys:
            bucket = index.get(key)
            if bucket is None:
                index[key] = [seen]
            else:
                bucket.append(seen)
        order = self._order
        order.append(seen)
        if len(order) > self.max_entries:
            self._forget(order.popleft())
            self.evictions += 1

    def _forget(self, seen: _Seen) -> None:
        index = self._index
        for key in seen.keys:
            bucket = index[key]
            if len(bucket) == 1:
                del index[key]
            else:
                bucket.remove(seen)


def _related(seen: _Seen, span: Any) -> bool:
    """Parent and child, or siblings."""
    parent = span.parent_span_id
    return seen.parent_id == parent or seen.span_id == parent or seen.parent_id == span.span_id


def _agree(seen: _Seen, view: GenAIView) -> bool:
    """Same provider (or one unknown), and some model name of one equal to or a prefix of one of the other's."""
    if seen.provider is not None and view.provider is not None and seen.provider != view.provider:
        return False
    mine = [_bare(m) for m in (view.request_model, view.response_model) if m]
    theirs = [_bare(m) for m in seen.models if m]
    if not mine or not theirs:
        return True
    return any(a.startswith(b) or b.startswith(a) for a in mine for b in theirs)


def _bare(model: str) -> str:
    """A model name without its provider prefix (`openai/gpt-4o` as a gateway writes it), lower-cased."""
    return model.rpartition("/")[2].lower()
