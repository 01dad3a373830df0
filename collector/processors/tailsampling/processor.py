"""The tail_sampling processor: otelcol's keys and semantics, plus LLM-aware policies.

Spans are buffered per trace id for `decision_wait`, then the trace is evaluated against `policies`
as a whole (sampler.py has the decision rule, policies/ the policy types). Sampled traces go downstream
whole, in requests of up to ~256 KiB of held bytes (so releasing a decision chunk adds little memory);
the others are dropped and counted. The buffer holds at most `num_traces` trace ids, pending and decided
(decided ids keep only their decision, so late spans follow it while it is held). When it is full,
decided ids are forgotten first, then the oldest pending trace is evicted before its decision and counted
as `sampling_trace_dropped_too_early` (or, with `block_on_overflow`, new data is refused with a retryable
error). `max_buffered_bytes` bounds the serialized bytes of pending spans the same way and
`maximum_trace_size_bytes` drops a runaway trace on its own. `decision_cache` keeps decisions longer than
the buffer does.

The consume path only copies spans into their trace's buffer: the request is serialized once and cut
into spans by upb, and the few facts the policies need (start/end times, status codes) are read from the
spans the receiver parsed. A timer task decides the traces whose wait has expired, oldest first
(deadlines are in arrival order, so no scan over all traces), yielding to the event loop between chunks
so neither ingest nor decisions starve the other. Evaluation costs O(spans of the trace) and mostly
reads those facts or searches the held bytes, parsing only the spans an attribute policy must read. On
shutdown every pending trace is decided, so a clean stop loses nothing the policies would keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from typing import Any

from ... import pdata
from ...component import Capabilities, Processor, Rejected, RetryableError, Signal
from ...envelope import Envelope
from ...registry import register
from ...wire import encode
from ...wire.fields import Span
from .buffer import BATCH_BYTES, ROOTS, DecisionCache, Group, TraceData, build_request, group_by_trace
from .config import TailSamplingConfig
from .policies import SAMPLED, reference_sections
from .rollup import rollup
from .sampler import RULE, Decision, Sampler

PREFIX = "otelcol_processor_tail_sampling_"

_CHUNK = 500  # traces decided between yields to the event loop
# Held bytes released per request. A released request costs ~4x its held bytes while parsed, and the
# exporters after it copy it again (serialized, framed, decoded and encoded by the file exporter's encoder
# process). Released one request per decision chunk, that came on top of everything held, while
# memory_limiter was already refusing: ~12 MiB in the daemon and ~19 MiB in the encoder per 500 traces.
_SEND_BYTES = 1 << 18


@register
class TailSamplingProcessor(Processor):
    type_name = "tail_sampling"
    description = "Samples whole traces after decision_wait by otelcol's policies plus LLM cost/tokens/model/error policies."
    config_class = TailSamplingConfig
    signals = frozenset({Signal.TRACES})
    # It copies the spans it keeps; the caller's request is never changed.
    capabilities = Capabilities(mutates_data=False)

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Decision rule", RULE, None), *reference_sections()]

    def __init__(self, settings: Any, config: TailSamplingConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.sampler = Sampler(config.policies, config.sample_on_first_match, self.log)
        self._facts = self.sampler.facts | (ROOTS if config.decision_wait_after_root_received > 0 else 0) | (BATCH_BYTES if config.maximum_trace_size_bytes else 0)
        self._root_wait = float(config.decision_wait_after_root_received)
        self._max_trace_bytes = int(config.maximum_trace_size_bytes)
        self._decision_wait = float(config.decision_wait)
        self._policy_attributes: dict[str, bytes] = {}
        # Pending and decided trace ids, each in arrival order; together at most num_traces. A decided id
        # keeps (sampled, when) only: a tuple of plain values, which the garbage collector stops tracking.
        self.pending_traces: OrderedDict[bytes, TraceData] = OrderedDict()
        self.decided: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()
        # Pending traces by deadline: in arrival order (decision_wait is constant), and those a root span
        # moved earlier, likewise. A decided or evicted trace stays queued until it reaches the head.
        self.queue: deque[TraceData] = deque()
        self.root_queue: deque[TraceData] = deque()
        self.pending_bytes = 0
        self._interned: dict[Any, Group] = {}
        self.sampled_cache = DecisionCache(config.decision_cache.sampled_cache_size)
        self.non_sampled_cache = DecisionCache(config.decision_cache.non_sampled_cache_size)
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        t = self.telemetry
        pid = str(self.id)
        self._pid = pid
        self.m_policy = t.counter(PREFIX + "count_traces_sampled", "Count of traces that were sampled or not per sampling policy.", ("processor", "policy", "sampled"))
        self.m_global = t.counter(PREFIX + "global_count_traces_sampled", "Global count of traces that were sampled or not by at least one policy.", ("processor", "sampled"))
        self.m_on_memory = t.gauge(PREFIX + "sampling_traces_on_memory", "Tracks the number of traces current on memory.", ("processor",)).labels(pid)
        self.m_too_early = t.counter(PREFIX + "sampling_trace_dropped_too_early", "Count of traces that needed to be dropped before the configured wait time.", ("processor",)).labels(pid)
        self.m_buffered_bytes = t.gauge(
            "llm_collector_tail_sampling_buffered_bytes", "Serialized bytes of the spans awaiting a decision.", ("processor",)
        ).labels(pid)
        self.m_new = t.counter(PREFIX + "new_trace_id_received", "Counts the arrival of new traces.", ("processor",)).labels(pid)
        self.m_latency = t.histogram(
            PREFIX + "sampling_decision_latency",
            "Latency (in microseconds) of a given sampling policy.",
            ("processor", "policy"),
            (1, 2, 5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 50000),
        )
        self.m_late_age = t.histogram(
            PREFIX + "sampling_late_span_age", "Time (in seconds) from the sampling decision to the arrival of a late span.", ("processor",), (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
        ).labels(pid)
        self.m_decision_lag = t.histogram(
            "llm_collector_tail_sampling_decision_lag_seconds",
            "How long after its decision_wait ran out a trace was decided: the timer's lag behind ingest.",
            ("processor",),
            (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ).labels(pid)
        self.m_too_large = t.counter("llm_collector_tail_sampling_traces_too_large", "Traces dropped because they exceeded maximum_trace_size_bytes.", ("processor",)).labels(pid)
        self.m_dropped_spans = t.counter("llm_collector_tail_sampling_dropped_spans", "Spans dropped because their trace was not sampled.", ("processor",)).labels(pid)
        self.m_send_failed = t.counter("llm_collector_tail_sampling_send_failed_spans", "Sampled spans the next consumer refused (logged, not retried).", ("processor",)).labels(pid)
        self._policy_bound: dict[tuple[str, bool], Any] = {}
        self._global_bound = {True: self.m_global.labels(pid, "true"), False: self.m_global.labels(pid, "false")}
        self._latency_bound = {p.name: self.m_latency.labels(pid, p.name) for p in self.sampler.drops + self.sampler.others}

    async def start(self, host: Any) -> None:
        self._timer = asyncio.get_running_loop().create_task(self._decide_loop())

    @property
    def _pending_count(self) -> int:
        return len(self.pending_traces)

    # Ingest ---------------------------------------------------------------------------------------
    async def consume(self, envelope: Envelope) -> Rejected | None:
        # Intake cuts the request's bytes into spans: the envelope's, where a processor in front attached
        # them, save serializing the request again. Canonical only: _cut keys shells by the resource's and
        # scope's bytes, which must be upb's own.
        payload = envelope.wire(canonical=True)
        data = envelope.request
        groups = group_by_trace(data, interned=self._interned, facts=self._facts, payload=payload)
        if not groups:
            return None
        if self.config.block_on_overflow:
            self._check_room(groups)
        now = time.monotonic()
        late: list[TraceData] = []
        pending, decided = self.pending_traces, self.decided
        root_wait, max_trace_bytes = self._root_wait, self._max_trace_bytes
        for tid, trace in groups.items():
            held = pending.get(tid)
            if held is None:
                verdict = decided.get(tid)
                if verdict is not None:
                    self.m_late_age.observe(max(0.0, now - verdict[1]))
                    if verdict[0]:
                        late.append(trace)
                    else:
                        self.m_dropped_spans.inc(trace.span_count)
                    continue
                if tid in self.sampled_cache:
                    late.append(trace)
                    continue
                if tid in self.non_sampled_cache:
                    self.m_dropped_spans.inc(trace.span_count)
                    continue
                held = self._add(tid, trace, now)
            else:
                held.extend(trace)
            self.pending_bytes += trace.bytes
            if root_wait and trace.has_root:
                early = now + root_wait
                if early < held.deadline:
                    held.deadline = early
                    self.root_queue.append(held)
                    self._wake.set()
            if max_trace_bytes and held.size_bytes > max_trace_bytes:  # otelcol's SizeBytes (processor.go processTrace)
                self._drop_oversized(tid, held)
        if self.config.max_buffered_bytes:
            while self.pending_bytes > self.config.max_buffered_bytes and self.pending_traces:
                self._evict_pending()
        self.m_on_memory.set(len(self.pending_traces))
        self.m_buffered_bytes.set(self.pending_bytes)
        if late:
            await self._send(late)
        return None

    def _check_room(self, groups: dict[bytes, TraceData]) -> None:
        """block_on_overflow: refuse the whole request (retryable) rather than evict a pending trace."""
        new = sum(1 for tid in groups if tid not in self.pending_traces and tid not in self.decided and tid not in self.sampled_cache and tid not in self.non_sampled_cache)
        if new and len(self.pending_traces) + new > self.config.num_traces:
            raise RetryableError(f"processor {self.id}: {len(self.pending_traces)} traces await a decision (num_traces {self.config.num_traces}); retry later", retry_after=1.0)
        if self.config.max_buffered_bytes:
            incoming = sum(t.bytes for t in groups.values())
            if self.pending_bytes + incoming > self.config.max_buffered_bytes:
                raise RetryableError(f"processor {self.id}: pending spans hold {self.pending_bytes} bytes (max_buffered_bytes {int(self.config.max_buffered_bytes)}); retry later", retry_after=1.0)

    def _evict_pending(self) -> None:
        _tid, old = self.pending_traces.popitem(last=False)
        self.m_dropped_spans.inc(old.span_count)
        self.pending_bytes -= old.bytes
        old.sampled = False  # its queue items are skipped
        old.release()
        self.m_too_early.inc()
        # The evicted trace was the oldest pending one, so its queue item (and any stale item before it)
        # is at the head of the queue: drop them now. Left to the timer they would pile up for a whole
        # decision_wait (one item per evicted trace), so memory would grow with the rate, not num_traces.
        self._drop_stale_heads()

    def _add(self, tid: bytes, trace: TraceData, now: float) -> TraceData:
        self.m_new.inc()
        while len(self.pending_traces) + len(self.decided) >= self.config.num_traces:
            # Decided ids go first (they only serve late spans); then, as in otelcol, the oldest
            # pending trace is evicted before its decision and counted.
            if self.decided:
                self.decided.popitem(last=False)
            else:
                self._evict_pending()
        trace.deadline = now + self._decision_wait  # the request's group becomes the held trace
        self.pending_traces[tid] = trace
        wake = not self.queue
        self.queue.append(trace)
        if wake:
            self._wake.set()
        return trace

    def _drop_oversized(self, tid: bytes, trace: TraceData) -> None:
        self.pending_traces.pop(tid, None)
        self.pending_bytes -= trace.bytes
        self.m_too_large.inc()
        self.m_dropped_spans.inc(trace.span_count)
        self._global_bound[False].inc()
        self.log.warning("trace exceeds maximum_trace_size_bytes; dropped", trace_id=tid.hex(), bytes=trace.bytes, spans=trace.span_count)
        self._remember(tid, trace, False)
        trace.release()

    def _remember(self, tid: bytes, trace: TraceData, sampled: bool) -> None:
        trace.sampled = sampled
        while self.decided and len(self.pending_traces) + len(self.decided) >= self.config.num_traces:
            self.decided.popitem(last=False)
        self.decided[tid] = (sampled, time.monotonic())
        (self.sampled_cache if sampled else self.non_sampled_cache).add(tid)

    # Decisions ------------------------------------------------------------------------------------
    def _decide(self, tid: bytes, trace: TraceData) -> TraceData | None:
        """Decides one pending trace; returns it when sampled."""
        self.pending_traces.pop(tid, None)
        self.pending_bytes -= trace.bytes
        started = time.perf_counter()
        try:
            decision = self.sampler.decide(trace)
        except Exception as exc:  # a policy bug must not stop the decision loop
            self.log.error("policy evaluation failed; trace not sampled", error=repr(exc), trace_id=tid.hex())
            decision = Decision(False, None, {})
        elapsed_us = (time.perf_counter() - started) * 1e6
        for name, vote in decision.votes.items():
            key = (name, vote == SAMPLED)
            bound = self._policy_bound.get(key)
            if bound is None:
                bound = self._policy_bound[key] = self.m_policy.labels(self._pid, name, "true" if key[1] else "false")
            bound.inc()
        if decision.policy is not None and decision.policy in self._latency_bound:
            self._latency_bound[decision.policy].observe(elapsed_us)
        self._global_bound[decision.sampled].inc()
        self._remember(tid, trace, decision.sampled)
        if decision.sampled:
            if self.config.record_policy and decision.policy:
                self._record_policy(trace, decision.policy)
            if self.config.rollup:
                rollup(trace)
            return trace
        self.m_dropped_spans.inc(trace.span_count)
        trace.release()
        return None

    def _record_policy(self, trace: TraceData, policy: str) -> None:
        if trace._spans is not None:
            for e in trace._spans:
                pdata.add_str(e[4].attributes, "tailsampling.policy", policy)
            return
        encoded = self._policy_attributes.get(policy)
        if encoded is None:
            encoded = self._policy_attributes[policy] = encode.key_value_str(Span.ATTRIBUTES, "tailsampling.policy", policy)
        trace._raw = [raw + encoded for raw in trace._raw]  # appended on the wire = appended attribute

    def _drop_stale_heads(self) -> None:
        for q in (self.queue, self.root_queue):
            while q and q[0].sampled is not None:
                q.popleft()  # decided (from the other queue), evicted or dropped as oversized

    def _next_due(self, now: float) -> tuple[deque[TraceData] | None, float | None]:
        """The queue whose head is due soonest (dropping stale heads), and that head's deadline.

        A trace whose root span moved its deadline earlier is in both queues; its place in `queue` is
        later than its deadline says, but `root_queue` brings it up in time, and whichever queue reaches
        it first decides it."""
        self._drop_stale_heads()
        best: deque[TraceData] | None = None
        best_deadline: float | None = None
        for q in (self.queue, self.root_queue):
            if q and (best_deadline is None or q[0].deadline < best_deadline):
                best, best_deadline = q, q[0].deadline
        return best, best_deadline

    def decide_due(self, now: float, limit: int = _CHUNK) -> tuple[list[TraceData], bool]:
        """Decides up to `limit` traces whose wait expired; returns the sampled ones and whether more are due."""
        out: list[TraceData] = []
        for _ in range(limit):
            q, deadline = self._next_due(now)
            if q is None or deadline is None or deadline > now:
                return out, False
            trace = q.popleft()
            if now != float("inf"):  # not the shutdown sweep, which decides everything early on purpose
                self.m_decision_lag.observe(max(0.0, time.monotonic() - deadline))
            kept = self._decide(trace.trace_id, trace)
            if kept is not None:
                out.append(kept)
        q, deadline = self._next_due(now)
        return out, deadline is not None and deadline <= now

    async def _decide_loop(self) -> None:
        while not self._closing:
            now = time.monotonic()
            sampled, more = self.decide_due(now)
            self.m_on_memory.set(len(self.pending_traces))
            self.m_buffered_bytes.set(self.pending_bytes)
            if sampled:
                await self._send(sampled)
            if more:
                await asyncio.sleep(0)  # let ingest run between chunks
                continue
            if sampled:
                continue
            _, deadline = self._next_due(now)
            delay = (deadline - now) if deadline is not None else 3600.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))

    async def _send(self, traces: list[TraceData]) -> None:
        """Releases traces downstream in requests of at most ~_SEND_BYTES held bytes, one after the other
        (one request's memory alive at a time)."""
        start = size = 0
        for i, trace in enumerate(traces):
            size += trace.bytes
            if size >= _SEND_BYTES:
                await self._send_one(traces[start : i + 1])
                start, size = i + 1, 0
        if start < len(traces):
            await self._send_one(traces[start:])

    async def _send_one(self, traces: list[TraceData]) -> None:
        request = build_request(traces)
        count = sum(t.span_count for t in traces)
        for trace in traces:
            trace.release()  # the request holds the spans now; a trace may stay queued a while longer
        try:
            rejected = await self.next.consume(Envelope(Signal.TRACES, request))
        except Exception as exc:
            self.m_send_failed.inc(count)
            self.log.error("next consumer refused sampled traces; their spans are dropped", spans=count, error=str(exc))
            return
        if rejected is not None and rejected.count:
            self.m_send_failed.inc(rejected.count)
            self.log.warning("next consumer rejected part of the sampled traces", rejected=rejected.count, reason=rejected.message)

    async def shutdown(self) -> None:
        # Never cancel a send in progress: let the loop finish it, then decide what is left.
        self._closing = True
        self._wake.set()
        if self._timer is not None:
            await self._timer
            self._timer = None
        if not self.config.decide_on_shutdown:
            return
        while self.pending_traces:
            before = len(self.pending_traces)
            sampled, _ = self.decide_due(float("inf"))
            if sampled:
                await self._send(sampled)
            if len(self.pending_traces) == before:
                # Every pending trace is queued, so this cannot happen; never spin on shutdown if it does.
                self.log.error("traces left undecided at shutdown", traces=before)
                break
        self.m_on_memory.set(len(self.pending_traces))
