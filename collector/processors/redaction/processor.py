"""The `redaction` processor: redacts each request with the `Redactor` its config builds (build.py), on the
event loop or in worker processes (worker.py), and turns what each request cost and found into metrics.

A request above `inline_max_bytes` or `inline_max_hits` is never redacted on the event loop (offload.py):
without workers it goes to a thread; with workers, requests above `inline_max_bytes` never wait in a worker
in front of a smaller one (worker.py). So no request holds up the others, or the health endpoint, for
longer than a request within those limits costs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ...component import Capabilities, Processor, Rejected, Signal
from ...envelope import Envelope
from ...pdata import REQUEST_TYPES
from ...registry import register
from .build import build_redactor, build_scanner
from .config import RedactionConfig, available_cores
from .offload import LoopBudget, ThreadLane

if TYPE_CHECKING:
    from .worker import WorkerPool

_SHORT_KEY = 16


@register
class RedactionProcessor(Processor):
    type_name = "redaction"
    description = "otelcol's redaction processor, key for key; with `detectors:`, also masks, hashes or drops PII and secrets (built-in validated detectors) in every field that can hold text: attribute keys and values, JSON values, log bodies, names, trace_state, schema URLs, metric names and units, and drops unknown protobuf fields."
    config_class = RedactionConfig
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: RedactionConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self._last_error_log = 0.0
        scanner = build_scanner(config)
        self._budget = LoopBudget(scanner, config.inline_max_bytes, config.inline_max_hits)
        self.redactor, self.scanner = build_redactor(config, on_error=self._on_error, scanner=scanner, wire_hits=self._budget.hits)
        self._walk = {Signal.TRACES: self.redactor.traces, Signal.LOGS: self.redactor.logs, Signal.METRICS: self.redactor.metrics}[self.signal]
        processor = str(self.id)
        t = self.telemetry
        self._matches_family = t.counter("redaction_matches_total", "PII and secret matches redacted, by detector (allowed_values survivors not counted).", ("processor", "detector"))
        self._matches: dict[str, Any] = {}
        self._values = t.counter("redaction_values_scanned_total", "String values (and JSON leaves) handed to the scanner.", ("processor",)).labels(processor)
        self._characters = t.counter("redaction_scanned_characters_total", "Characters of text handed to the scanner, plus the bytes of each serialized request the request-level prefilter read.", ("processor",)).labels(processor)
        self._errors = t.counter("redaction_errors_total", "Values masked whole because scanning them failed (fail closed).", ("processor",)).labels(processor)
        self._lane: ThreadLane | None = None
        self._pool: WorkerPool | None = None
        workers = config.worker_count()
        self.log.info("redaction workers chosen", workers=workers, configured=config.workers, cores=available_cores())
        if not workers:
            self._lane = ThreadLane(config)
        else:
            # Imported here, not at the top: a worker process runs worker.py as `python -m`, which imports
            # this package first, and a worker.py already imported by then would be loaded a second time.
            from . import worker

            self._pool = worker.WorkerPool(self, config, workers)
        if not config.allow_all_keys and not config.allowed_keys:
            self.log.warning("every attribute is removed: allow_all_keys is false (otelcol's default) and allowed_keys lists no key; set allow_all_keys: true to keep them")
        key = config.key
        if key is not None and len(key) < _SHORT_KEY:
            self.log.warning("hash_key is short; tokens of low-entropy values (phone numbers, CPFs) are easier to guess with a short key", min_advised=_SHORT_KEY)

    def _on_error(self, where: str, exc: BaseException | None) -> None:
        self._errors.inc()
        self._log_error(where, type(exc).__name__ if exc is not None else "detector error")

    def _log_error(self, where: str, error: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 10.0:  # one line per 10 s is enough to notice; the counter has the rate
            self._last_error_log = now
            self.log.error("scanning a value failed; it was masked whole (fail closed)", key=where, error=error)

    def _count(self, detector: str) -> Any:
        child = self._matches.get(detector)
        if child is None:
            child = self._matches[detector] = self._matches_family.labels(str(self.id), detector)
        return child

    async def start(self, host: Any) -> None:
        if self._pool is not None:
            await self._pool.start()

    async def shutdown(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._lane is not None:
            await self._lane.close()

    def _record(self, values: int, characters: int, matches: dict[str, int]) -> None:
        if values:
            self._values.inc(values)
            self._characters.inc(characters)
        for detector, count in matches.items():
            self._count(detector).inc(count)

    def _record_errors(self, count: int, key: str | None, error: str | None) -> None:
        """Fail-closed errors counted elsewhere (a worker, the thread); those on the loop count themselves."""
        if count:
            self._errors.inc(count)
            self._log_error(key or "", error or "detector error")

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # The prefilter reads the request's wire bytes where the envelope still has them (no one took the
        # request since they were attached), save serializing the request again.
        payload = envelope.wire()
        if self._pool is not None:
            return await self._consume_in_worker(envelope, payload)
        if payload is None:
            payload = envelope.request.SerializeToString()  # what the walk's gate would do; the budget reads it first
        if self._budget.inline(payload):
            stats = self._walk(envelope.request, payload)
        else:
            assert self._lane is not None  # no workers, so there is the thread
            outcome = await self._lane.redact(envelope.signal, envelope.request, payload)
            stats = outcome.stats
            self._record_errors(outcome.errors, outcome.error_key, outcome.error_type)
        self._record(stats.values, stats.characters, stats.matches)
        return await self.next.consume(envelope)

    async def _consume_in_worker(self, envelope: Envelope, payload: bytes | None) -> Rejected | None:
        signal = envelope.signal
        canonical = payload is None or envelope.wire(canonical=True) is not None
        if payload is None:
            payload = envelope.request.SerializeToString()
        large = len(payload) > self._budget.max_bytes
        answer = await self._pool.redact(signal, payload, large)  # type: ignore[union-attr]
        if answer is None:
            # Every worker is busy with a large request: this one is redacted on the loop if it is cheap
            # enough, else it waits for a worker as a large one.
            if self._budget.inline(payload):
                stats = self._walk(envelope.request, payload)
                self._record(stats.values, stats.characters, stats.matches)
                return await self.next.consume(envelope)
            answer = await self._pool.redact(signal, payload, True)  # type: ignore[union-attr]
            assert answer is not None  # a large request always gets a worker
        self._record(answer.values, answer.characters, answer.matches)
        self._record_errors(answer.errors, answer.error_key, answer.error_type)
        if answer.payload is not None:
            # The worker's serialization of the redacted request, which is decoded from exactly these bytes.
            envelope.replace(REQUEST_TYPES[signal].FromString(answer.payload), answer.payload, canonical=True)
        else:
            # Nothing to change: the request is as it came, and so are its bytes (voided by nothing since).
            envelope.attach_wire(payload, canonical)
        return await self.next.consume(envelope)
