"""One LLM call, one price: which LLM spans are the same API call seen by two stacked instrumentations.

With two instrumentations on one call (the Anthropic SDK's own tracing next to OpenLLMetry or OpenInference,
OpenLIT next to OpenLLMetry, Langfuse's OpenAI wrapper next to OTel openai-v2, ...) the call gives two LLM
spans, parent and child or siblings, and pricing both would bill it twice. The rule, for two LLM spans whose
[start, end] intervals overlap (every span of one call covers the call's own exchange):
- in the same trace:
  - both carry `gen_ai.response.id`: they are the same call exactly when the ids are equal;
  - else (at least one carries no id, e.g. OpenInference writes none) and both have their times set: they are
    the same call when one is the other's parent, child or sibling, both report the same input and output
    token counts, their providers agree (or one is unknown) and their models agree (equal, or one name a
    prefix of the other: a requested alias and the dated version that answered);
  - one with no id and the other with no counts (the Anthropic SDK's span of a call answered without usage,
    and OpenInference's around it, counted by token_count): nothing to compare, so only when one is the
    other's parent or child, with both times set and agreeing provider and model;
- in two traces (OpenLLMetry's and OpenInference's Anthropic spans are roots of traces of their own, apart
  from the SDK's), only from the same process (the caller's key of the resource) and with agreeing providers
  and models:
  - the same response id, and when both have counts the same input count and output counts at most one apart
    (OpenLLMetry counts one output token more than the SDK when streaming);
  - or one carries an id and the other none, and both report the same input and output counts with their
    times set;
- a span with neither an id nor both counts (OpenInference's span of a call answered without usage) is the
  call of a span of its trace seen before it that is its parent or child, with both times set and agreeing
  provider and model; it is not remembered, having nothing later spans could match.
Overlap is also what keeps apart two calls that share an id (a server returning constant or short random
ids); cache token counts are not compared, since libraries differ in whether they report them. Two spans
without ids in two traces are never tied: two identical calls running side by side in one process (parallel
requests of a web app) would be taken for one.

The first span of a call to arrive is its original: it is priced and counted in the metrics. A later span of
the call is its duplicate, priced nowhere and counted nowhere, unless the call had no price yet (its first
span had no usage or an unpriced model) and this span can be priced: then this one is priced and counted,
once (see `Verdict`). (The cost processor admits a request's unpriced spans after its priced ones, so within
one request the priced span is the original whatever the order.)

Spans of one call can arrive in different requests, so `CallMemory` keeps the spans it has seen for `window`
seconds after their arrival, at most `max_entries` of them (the oldest go first, counted in `evictions`).
What it cannot see: a duplicate arriving after its original left the memory (by age or by the cap) is priced
again, and so is one that reaches another memory (another daemon, another pipeline's cost processor).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .view import GenAIView

# The latest spans of its trace a span is compared with: a trace of many calls (a batch of short
# classifications, a long agent run) must not make each span's check linear in the trace, and the spans of
# one call arrive close together.
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
    """One API call's state, shared by its spans once a second one is seen (until then the first span's record
    holds it)."""

    __slots__ = ("span_id", "priced", "counted")

    def __init__(self, span_id: bytes, priced: bool, counted: bool):
        self.span_id = span_id  # the priced span, else the first
        self.priced = priced
        self.counted = counted  # its tokens are in the metrics


# A remembered span is a list (cheap to make, and its call's state can be set in place whichever index reached
# it), its fields at these positions: span id, parent span id, start, end (ns), response id, input and output
# tokens, provider, model (GenAIView.model), its call's state (the _Call, or None with priced and counted its
# own), its trace id and its process (the caller's key of the span's resource).
_SPAN, _PARENT, _START, _END, _ID, _IN, _OUT, _PROVIDER, _MODEL, _PRICED, _COUNTED, _CALL, _TRACE, _PROCESS = range(14)


class CallMemory:
    """The LLM spans seen in the last `window` seconds (at most `max_entries`), by trace, by response id and by
    process and input count; `admit` says what to do with each new one."""

    def __init__(self, window: float, max_entries: int):
        self.window = window
        self.max_entries = max_entries
        self.evictions = 0  # spans dropped by the cap before their window ended
        self._traces: dict[bytes, list[list]] = {}  # each trace's spans in arrival order
        self._ids: dict[str, list[list]] = {}  # the spans carrying each response id, in arrival order
        # By (process, input tokens, output tokens), the spans with both counts: those with a response id, those
        # without.
        self._counts: tuple[dict[tuple[int, int | None, int | None], list[list]], dict[tuple[int, int | None, int | None], list[list]]] = ({}, {})
        self._order: deque[list] = deque()  # every span, in arrival order
        self._forgotten = 0  # spans that have left _order, so the n-th span admitted is at n - _forgotten
        # (deadline, spans admitted by its end) for each run of spans admitted between two `expire` calls.
        self._runs: deque[tuple[float, int]] = deque()
        self._closed = 0  # spans admitted by the end of the last run in _runs
        self._deadline = 0.0  # of the current run

    def __len__(self) -> int:
        return len(self._order)

    def expire(self, now: float) -> None:
        """Forget the spans whose window has ended; `now` (time.monotonic()) is also the arrival time given
        to the spans admitted until the next call."""
        order, runs = self._order, self._runs
        admitted = self._forgotten + len(order)
        if admitted != self._closed:
            runs.append((self._deadline, admitted))
            self._closed = admitted
        self._deadline = now + self.window
        forgotten, forget = self._forgotten, self._forget
        while runs and runs[0][0] <= now:
            until = runs.popleft()[1]
            while forgotten < until:  # (those the cap evicted are already gone)
                forget(order.popleft())
                forgotten += 1
        self._forgotten = forgotten

    def admit(self, span: Any, view: GenAIView, priceable: bool, start: int, end: int, process: int = 0) -> Verdict:
        """The verdict for an LLM span (priceable: the processor found it a price; start and end: its times,
        which the caller has read; process: a key of its resource, equal for the spans of one process), which
        is then remembered."""
        response_id = view.text("response_id")
        u = view.usage
        inp, out = u.input_tokens, u.output_tokens
        complete = inp is not None and out is not None
        if response_id is None and not complete:
            return self._bare(span, view, priceable, start, end)  # nothing to match it by later
        trace, span_id = span.trace_id, span.span_id
        parent = span.parent_span_id
        seen = None
        spans = self._traces.get(trace)
        if spans is not None:
            # The latest first: the spans of one call arrive close together.
            for other in reversed(spans if len(spans) <= SCAN else spans[-SCAN:]):
                if other[_START] > end or start > other[_END]:
                    continue
                if other[_SPAN] == span_id:
                    # The same span again (an exporter's retry): treated as its first copy, not remembered twice.
                    call = other[_CALL]
                    if call is None or call.span_id == span_id:
                        return ORIGINAL
                    return Verdict(count_call=False, count_tokens=False, duplicate_of=call.span_id)
                other_id = other[_ID]
                if response_id is not None and other_id is not None:
                    if response_id != other_id:
                        continue
                elif not end or not other[_END]:  # unset times (0) show no overlap
                    continue
                elif complete and other[_IN] is not None and other[_OUT] is not None:
                    if not (other[_IN] == inp and other[_OUT] == out and _related(other, span_id, parent) and _agree(other, view)):
                        continue
                elif not ((other[_SPAN] == parent or other[_PARENT] == span_id) and _agree(other, view)):
                    continue  # (nothing to compare, one with no id and the other no counts: parent and child only)
                seen = other
                break
        # The spans of other traces it may be: by its response id, and by its counts those with an id if it has
        # none, and those without if it has one.
        same_id = None if response_id is None else self._ids.get(response_id)
        key = (process, inp, out)
        counted = self._counts[response_id is not None].get(key) if complete and end else None
        if seen is None and (same_id or counted):
            seen = _across(trace, same_id, counted, inp, out if complete else None, start, end, view, process)
        verdict = ORIGINAL
        call = None
        if seen is not None:
            call = seen[_CALL]
            if call is not None and call.span_id == span_id:
                return ORIGINAL  # the priced span again, after a duplicate of it: as its first copy
            verdict = _tie(seen, span_id, priceable)
            call = seen[_CALL]
        record = [span_id, parent, start, end, response_id, inp, out, view.provider, view.response_model or view.request_model,
                  priceable, inp is not None or out is not None, call, trace, process]
        if spans is None:
            self._traces[trace] = [record]
        else:
            spans.append(record)
        if response_id is not None:
            if same_id is None:
                self._ids[response_id] = [record]
            else:
                same_id.append(record)
        if complete:
            counts = self._counts[response_id is None]
            mine = counts.get(key)
            if mine is None:
                counts[key] = [record]
            else:
                mine.append(record)
        order = self._order
        order.append(record)
        if len(order) > self.max_entries:
            self._forget(order.popleft())
            self._forgotten += 1
            self.evictions += 1
        return verdict

    def _bare(self, span: Any, view: GenAIView, priceable: bool, start: int, end: int) -> Verdict:
        """The verdict for a span with neither a response id nor both counts (OpenInference's span of a call
        answered without usage): a duplicate of the remembered span of its trace that is its parent or child,
        overlapping it with both times set, with agreeing provider and model (a call's span around the SDK's
        span of it); not remembered, so a span of its call arriving later is not tied to it."""
        spans = self._traces.get(span.trace_id)
        if spans is None or not end:
            return ORIGINAL
        span_id, parent = span.span_id, span.parent_span_id
        for other in reversed(spans if len(spans) <= SCAN else spans[-SCAN:]):
            if (other[_END] and other[_START] <= end and start <= other[_END] and other[_SPAN] != span_id
                    and (other[_SPAN] == parent or other[_PARENT] == span_id) and _agree(other, view)):
                call = other[_CALL]
                if call is not None and call.span_id == span_id:
                    return ORIGINAL  # the call's priced span again: as its first copy
                return _tie(other, span_id, priceable)
        return ORIGINAL

    def _forget(self, record: list) -> None:
        """Forget `record`, the oldest span remembered: the first of every list it is in."""
        _drop(self._traces, record[_TRACE])
        if record[_ID] is not None:
            _drop(self._ids, record[_ID])
        if record[_IN] is not None and record[_OUT] is not None:
            _drop(self._counts[record[_ID] is None], (record[_PROCESS], record[_IN], record[_OUT]))


def _across(trace: bytes, same_id: list[list] | None, counted: list[list] | None, inp: int | None, out: int | None,
            start: int, end: int, view: GenAIView, process: int) -> list | None:
    """Of the spans with the same response id (`same_id`) or, with one of the two carrying an id and the other
    none, the same process and input and output counts (`counted`), one of another trace, in the same process
    and overlapping in time, with agreeing provider and model, that is the same call: with the same id and,
    when both have counts, output counts at most one apart (`out`: None when the span has no counts)."""
    if same_id:
        for other in reversed(same_id if len(same_id) <= SCAN else same_id[-SCAN:]):
            if (other[_TRACE] != trace and other[_PROCESS] == process and other[_START] <= end and start <= other[_END]
                    and (out is None or other[_OUT] is None or (other[_IN] == inp and _close(other[_OUT], out))) and _agree(other, view)):
                return other
    if counted:
        for other in reversed(counted if len(counted) <= SCAN else counted[-SCAN:]):
            if (other[_TRACE] != trace and other[_END] and other[_START] <= end and start <= other[_END]
                    and _agree(other, view)):
                return other
    return None


def remembered(view: GenAIView) -> bool:
    """Whether `admit` remembers a span (it has a response id or both counts), so that later spans of its call
    can be tied to it; a span that is not can still be tied to one remembered before it."""
    u = view.usage
    return view.text("response_id") is not None or (u.input_tokens is not None and u.output_tokens is not None)


def _tie(seen: list, span_id: bytes, priceable: bool) -> Verdict:
    """The verdict for a span of the call `seen` is a span of, whose state it updates."""
    call = seen[_CALL]
    if call is None:  # the call's second span: its state moves to an object both share
        call = seen[_CALL] = _Call(seen[_SPAN], seen[_PRICED], seen[_COUNTED])
    if priceable and not call.priced:
        verdict = COMPLETES if call.counted else COMPLETES_WITH_TOKENS
        call.priced = call.counted = True
        call.span_id = span_id
        return verdict
    return Verdict(count_call=False, count_tokens=False, duplicate_of=call.span_id)


def _drop(index: dict, key: Any) -> None:
    """Drop the first span of index[key] (the oldest), and the key with its last span."""
    spans = index[key]
    if len(spans) == 1:
        del index[key]
    else:
        del spans[0]


def _close(theirs: int | None, mine: int | None) -> bool:
    """Output counts of one call under one response id: equal, or one apart (OpenLLMetry's Anthropic
    instrumentation counts one output token more than the SDK when streaming)."""
    return theirs is not None and mine is not None and -1 <= theirs - mine <= 1


def _related(seen: list, span_id: bytes, parent: bytes) -> bool:
    """Parent and child, or siblings."""
    return seen[_PARENT] == parent or seen[_SPAN] == parent or seen[_PARENT] == span_id


def _agree(seen: list, view: GenAIView) -> bool:
    """Same provider (or one unknown), and the model that answered the remembered span (else the one it asked
    for) equal to, or a prefix of or prefixed by, one of the other's."""
    provider = seen[_PROVIDER]
    if provider is not None and view.provider is not None and provider != view.provider:
        return False
    theirs = seen[_MODEL]
    mine = [_bare(m) for m in (view.request_model, view.response_model) if m]
    if not mine or theirs is None:
        return True
    theirs = _bare(theirs)
    return any(a.startswith(theirs) or theirs.startswith(a) for a in mine)


def _bare(model: str) -> str:
    """A model name without its provider prefix (`openai/gpt-4o` as a gateway writes it), lower-cased."""
    return model.rpartition("/")[2].lower()
