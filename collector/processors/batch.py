"""batch processor: otelcol's keys and semantics. Requests are merged per resource and scope into
batches that are sent when they reach `send_batch_size` items (a trigger, not a cap) or when
`timeout` has passed since their first item; `send_batch_max_size` splits what is sent;
`metadata_keys` keeps a separate batch per combination of client metadata values.

Like otelcol's, a batch is acknowledged to the client when it is taken, before it is sent: a
downstream failure is logged and counted, not returned. Shutdown sends everything pending.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass
from typing import Any

from .. import pdata
from ..client import client_metadata
from ..component import Capabilities, Processor, Rejected, RetryableError, Signal
from ..config import Duration, Invalid, option
from ..envelope import Envelope
from ..registry import register


@dataclass
class BatchConfig:
    send_batch_size: int = option(8192, "Items (spans, log records, metric data points) that trigger a send; not a cap on the batch size.")
    timeout: Duration = option(Duration(0.2), "Longest time a batch waits after its first item; 0 sends every request at once (still split by send_batch_max_size).")
    send_batch_max_size: int = option(0, "Upper limit of a sent batch; larger ones are split. 0 = no limit; otherwise must be >= send_batch_size.")
    metadata_keys: list[str] = option(factory=list, doc="Client metadata keys (HTTP headers / gRPC metadata, case-insensitive) whose values get their own batch, e.g. a tenant header.")
    metadata_cardinality_limit: int = option(1000, "Most distinct metadata value combinations batched at once; beyond it requests are refused (retryable).")

    def validate(self) -> None:
        if self.send_batch_size < 0:
            raise Invalid("must not be negative", "send_batch_size")
        if self.send_batch_max_size < 0:
            raise Invalid("must not be negative", "send_batch_max_size")
        if self.send_batch_max_size and self.send_batch_max_size < self.send_batch_size:
            raise Invalid(f"must be 0 or greater than or equal to send_batch_size ({self.send_batch_size})", "send_batch_max_size")
        if self.metadata_cardinality_limit < 1:
            raise Invalid("must be at least 1", "metadata_cardinality_limit")


class _Batch:
    """One pending batch, merged per (resource, schema) and (scope, schema) as items arrive."""

    def __init__(self, signal: Signal, metadata: dict[str, tuple[str, ...]], deadline: float):
        self.signal = signal
        self.metadata = metadata
        self.deadline = deadline
        self.builder = pdata.RequestBuilder(signal)
        self.request = self.builder.request
        self.items = 0

    def add(self, data: Any, items: int) -> None:
        resources_field, scopes_field, items_field = pdata.FIELDS[self.signal]
        for r in getattr(data, resources_field):
            rkey = pdata.resource_key(r)
            self.builder.resource_for(r, rkey)
            for s in getattr(r, scopes_field):
                self.builder.items_for(r, s, rkey).extend(getattr(s, items_field))
        self.items += items


def split(signal: Signal, request: Any, max_items: int) -> list[Any]:
    """Chunks of at most max_items items, keeping resource and scope. Metrics split between whole
    metrics, so one metric with more data points than max_items travels alone."""
    resources_field, scopes_field, items_field = pdata.FIELDS[signal]
    chunks: list[Any] = []
    current = None
    size = 0

    def weight(item: Any) -> int:
        if signal is not Signal.METRICS:
            return 1
        kind = item.WhichOneof("data")
        return len(getattr(item, kind).data_points) if kind else 0

    for r in getattr(request, resources_field):
        for s in getattr(r, scopes_field):
            target_scope = None
            for item in getattr(s, items_field):
                w = weight(item)
                if current is None or (size + w > max_items and size > 0):
                    current = pdata.REQUEST_TYPES[signal]()
                    chunks.append(current)
                    size = 0
                    target_scope = None
                if target_scope is None:
                    target_resource = getattr(current, resources_field).add()
                    target_resource.resource.CopyFrom(r.resource)
                    target_resource.schema_url = r.schema_url
                    target_scope = getattr(target_resource, scopes_field).add()
                    target_scope.scope.CopyFrom(s.scope)
                    target_scope.schema_url = s.schema_url
                getattr(target_scope, items_field).append(item)
                size += w
    return chunks


@register
class BatchProcessor(Processor):
    type_name = "batch"
    description = "Batches data by size and time (otelcol keys: send_batch_size, timeout, send_batch_max_size, metadata_keys)."
    config_class = BatchConfig
    # It copies what it takes into its own batches and never changes the caller's request.
    capabilities = Capabilities(mutates_data=False)

    def __init__(self, settings: Any, config: BatchConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.keys = [k.lower() for k in config.metadata_keys]
        self.batches: dict[tuple[tuple[str, ...], ...], _Batch] = {}
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        labels = ("processor",)
        t = self.telemetry
        pid = str(self.id)
        self.m_size_trigger = t.counter("otelcol_processor_batch_batch_size_trigger_send", "Batches sent because they reached send_batch_size.", labels).labels(pid)
        self.m_timeout_trigger = t.counter("otelcol_processor_batch_timeout_trigger_send", "Batches sent because timeout passed.", labels).labels(pid)
        self.m_send_size = t.histogram(
            "otelcol_processor_batch_batch_send_size", "Items per sent batch.", labels, (10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000)
        ).labels(pid)
        self.m_cardinality = t.gauge("otelcol_processor_batch_metadata_cardinality", "Distinct metadata value combinations being batched.", labels).labels(pid)
        self.m_dropped = t.counter("llm_collector_batch_send_failed_items", "Items in batches the next consumer refused (logged, not retried).", labels).labels(pid)

    async def start(self, host: Any) -> None:
        if self.config.timeout > 0:
            self._timer = asyncio.get_running_loop().create_task(self._expire_loop())

    async def consume(self, envelope: Envelope) -> Rejected | None:
        items = envelope.items
        if not items:
            return None
        signal, data = envelope.signal, envelope.request
        if self.config.timeout <= 0:
            await self._send(signal, data, client_metadata.get(), items)
            return None
        meta = client_metadata.get()
        key = tuple(meta.get(k, ()) for k in self.keys)
        batch = self.batches.get(key)
        if batch is None:
            if len(self.batches) >= self.config.metadata_cardinality_limit:
                raise RetryableError(f"processor {self.id}: more than metadata_cardinality_limit ({self.config.metadata_cardinality_limit}) metadata combinations are being batched")
            batch = self.batches[key] = _Batch(signal, {k: meta[k] for k in self.keys if k in meta}, time.monotonic() + float(self.config.timeout))
            self.m_cardinality.set(len(self.batches))
            self._wake.set()
        batch.add(data, items)
        if self.config.send_batch_size and batch.items >= self.config.send_batch_size:
            del self.batches[key]
            self.m_cardinality.set(len(self.batches))
            self.m_size_trigger.inc()
            # Awaited, so a client that fills batches faster than they can be sent is slowed down.
            await self._send(signal, batch.request, batch.metadata, batch.items)
        return None

    async def _send(self, signal: Signal, request: Any, metadata: Any, items: int) -> None:
        max_items = self.config.send_batch_max_size
        chunks = split(signal, request, max_items) if max_items and items > max_items else [request]
        for chunk in chunks:
            envelope = Envelope(signal, chunk)
            count = envelope.items
            self.m_send_size.observe(count)
            # Downstream sees the metadata of the clients whose data this batch holds.
            context = contextvars.copy_context()
            context.run(client_metadata.set, metadata)
            try:
                rejected = await asyncio.get_running_loop().create_task(self.next.consume(envelope), context=context)
            except Exception as exc:
                self.m_dropped.inc(count)
                self.log.error("next consumer refused a batch; its items are dropped", items=count, error=str(exc))
                continue
            if rejected is not None and rejected.count:
                self.m_dropped.inc(rejected.count)
                self.log.warning("next consumer rejected part of a batch", rejected=rejected.count, reason=rejected.message)

    async def _expire_loop(self) -> None:
        while not self._closing:
            now = time.monotonic()
            due = [(k, b) for k, b in self.batches.items() if b.deadline <= now]
            if not due:
                # Sleep until the next deadline, or until a new batch or shutdown wakes us.
                delay = min((b.deadline for b in self.batches.values()), default=now + 3600.0) - now
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))
                except TimeoutError:
                    pass
                continue
            for key, batch in due:
                if self.batches.get(key) is batch:
                    del self.batches[key]
                    self.m_cardinality.set(len(self.batches))
                    self.m_timeout_trigger.inc()
                    await self._send(batch.signal, batch.request, batch.metadata, batch.items)

    async def shutdown(self) -> None:
        # Never cancel a send in progress: let the loop finish it, then send what is left.
        self._closing = True
        self._wake.set()
        if self._timer is not None:
            await self._timer
            self._timer = None
        pending, self.batches = self.batches, {}
        for batch in pending.values():
            await self._send(batch.signal, batch.request, batch.metadata, batch.items)
