"""`QueuedExporter`: queue → consumers → retry → one `send()` attempt."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from ..component import ConsumeError, Exporter, Host, PermanentError, Rejected, RetryableError, Signal
from ..pdata import count_items
from .config import DeliveryConfig, RetryConfig


def backoff_delays(cfg: RetryConfig, rng: random.Random | None = None):
    """otelcol's exponential backoff: initial, ×multiplier up to max_interval, each jittered by ±factor."""
    rng = rng or random.Random()
    interval = float(cfg.initial_interval)
    while True:
        delta = cfg.randomization_factor * interval
        yield interval - delta + rng.random() * (2 * delta)
        interval = min(interval * cfg.multiplier, float(cfg.max_interval))


class QueuedExporter(Exporter):
    config: DeliveryConfig

    def __init__(self, settings: Any, config: DeliveryConfig):
        super().__init__(settings, config)
        self._queue: asyncio.Queue[tuple[Signal, Any]] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._failed: dict[Signal, Any] = {}

    # --- what subclasses implement -------------------------------------------------------------

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        raise NotImplementedError

    async def start_sending(self, host: Host) -> None:
        pass

    async def stop_sending(self) -> None:
        pass

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        await self.start_sending(host)
        queue_cfg = self.config.sending_queue
        if queue_cfg.enabled:
            self._queue = asyncio.Queue(maxsize=queue_cfg.queue_size)
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work()) for _ in range(queue_cfg.num_consumers)]

    async def shutdown(self) -> None:
        if self._queue is not None:
            await self._queue.join()  # the service's shutdown_timeout bounds this wait
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        await self.stop_sending()

    # --- data path ---------------------------------------------------------------------------

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        if self._queue is None:
            return await self._deliver(signal, data)
        if self.config.sending_queue.block_on_overflow:
            await self._queue.put((signal, data))
            return None
        try:
            self._queue.put_nowait((signal, data))
        except asyncio.QueueFull:
            self.telemetry.exporter_counters(self.id, signal).enqueue_failed.inc(count_items(signal, data))
            raise RetryableError(f"exporter {self.id}: sending queue is full") from None
        return None

    async def consume(self, signal: Signal, data: Any) -> Rejected | None:
        if self._queue is None:
            return await super().consume(signal, data)
        return await self.export(signal, data)  # sent / send_failed are counted when delivery ends

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            signal, data = await self._queue.get()
            try:
                items = count_items(signal, data)
                counters = self.telemetry.exporter_counters(self.id, signal)
                try:
                    result = await self._deliver(signal, data)
                except ConsumeError:
                    counters.send_failed.inc(items)
                    continue
                rejected = result.count if result is not None else 0
                counters.sent.inc(items - rejected)
                if rejected:
                    counters.send_failed.inc(rejected)
            except Exception:
                self.log.exception("unexpected error delivering a request; dropped", exporter=str(self.id))
            finally:
                self._queue.task_done()

    async def _deliver(self, signal: Signal, data: Any) -> Rejected | None:
        """Attempts until success, a permanent error, or max_elapsed_time; raises the last error."""
        retry = self.config.retry_on_failure
        delays = backoff_delays(retry)
        started = time.monotonic()
        while True:
            try:
                return await asyncio.wait_for(self.send(signal, data), float(self.config.timeout))
            except PermanentError as err:
                self.log.error("dropping data: permanent error", exporter=str(self.id), error=str(err), items=count_items(signal, data))
                raise
            except (RetryableError, asyncio.TimeoutError, ConnectionError, OSError) as err:
                error = err if isinstance(err, RetryableError) else RetryableError(f"{type(err).__name__}: {err}")
                delay = next(delays)
                if error.retry_after is not None:
                    delay = error.retry_after
                elapsed = time.monotonic() - started
                if not retry.enabled or (retry.max_elapsed_time and elapsed + delay > retry.max_elapsed_time):
                    self.log.error("dropping data: retries exhausted", exporter=str(self.id), error=str(error), items=count_items(signal, data))
                    raise error from None
                self.log.warning("send failed, will retry", exporter=str(self.id), error=str(error), delay_s=round(delay, 3))
                await asyncio.sleep(delay)
