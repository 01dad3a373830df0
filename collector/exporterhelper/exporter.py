"""`QueuedExporter`: queue (memory or persistent) → consumers → retry → one `send()` attempt."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

from ..component import ComponentID, ConsumeError, Exporter, Host, PermanentError, Rejected, RetryableError, Signal
from ..envelope import Envelope
from ..extensions.auth import CLIENT, AuthenticatorExtension, check_reference, client_authenticator
from ..pdata import count_items
from ..telemetry import ITEM
from .batcher import Batcher
from .config import STORAGE_TYPE, DeliveryConfig
from .queue import MemoryQueue, QueueClosed, QueueFull, Request, TooLarge
from .retry import backoff_delays, next_delay

__all__ = ["QueuedExporter", "backoff_delays"]

# Retried send errors that are not ConsumeErrors: the network or the attempt's own timeout.
_TRANSIENT = (asyncio.TimeoutError, ConnectionError, OSError)


class QueuedExporter(Exporter):
    config: DeliveryConfig

    def __init__(self, settings: Any, config: DeliveryConfig):
        super().__init__(settings, config)
        self._queue: Any = None
        self._workers: list[asyncio.Task[None]] = []
        self._drain_budget = 5.0
        self._stopping: asyncio.Event | None = None  # made in start(), on the running loop
        self._shutdown_done = False
        self._retried: dict[Signal, Any] = {}
        self.authenticator: AuthenticatorExtension | None = None  # auth.authenticator's extension, from start()

    # --- what subclasses implement -------------------------------------------------------------

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        raise NotImplementedError

    async def start_sending(self, host: Host) -> None:
        pass

    async def stop_sending(self) -> None:
        pass

    def auth_headers(self) -> dict[str, str]:
        """The authenticator's credentials for one request (empty without `auth`), as they are now."""
        return self.authenticator.headers() if self.authenticator is not None else {}

    # --- config checks that span components ------------------------------------------------

    @classmethod
    def validate_references(cls, id: ComponentID, config: Any, extensions: dict[ComponentID, Any], enabled: list[ComponentID]) -> list[tuple[tuple[str, ...], str]]:
        problems = check_reference(config.auth.authenticator if config.auth is not None else None, CLIENT, ("auth", "authenticator"), extensions, enabled)
        queue = config.sending_queue
        storage = queue.storage_id if queue.enabled else None
        if storage is None or storage.type != STORAGE_TYPE:  # a wrong type is QueueConfig.validate's error
            return problems
        key = ("sending_queue", "storage")
        if storage not in extensions:
            problems.append((key, f'references extension "{storage}" which is not configured (add it under extensions: and service.extensions)'))
        elif storage not in enabled:
            problems.append((key, f'extension "{storage}" must also be listed in service.extensions'))
        return problems

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self._stopping = asyncio.Event()
        # The service gives receivers half of shutdown_timeout for in-flight requests; exporters drain
        # in the same budget, and the service cancels whatever is still running when it runs out.
        self._drain_budget = float(getattr(host, "shutdown_grace", 5.0))
        self.authenticator = client_authenticator(host, self.config.auth)
        queue_cfg = self.config.sending_queue
        if queue_cfg.enabled:
            self._queue = self._make_queue(host)
            labels = ("exporter",)
            size = self.telemetry.gauge("otelcol_exporter_queue_size", "Current size of the sending queue, in the units of its sizer.", labels)
            capacity = self.telemetry.gauge("otelcol_exporter_queue_capacity", "Fixed capacity of the sending queue, in the units of its sizer.", labels)
            self._queue.on_size_change = size.labels(str(self.id)).set
            capacity.labels(str(self.id)).set(queue_cfg.queue_size)
            await self._queue.open()
        try:
            await self.start_sending(host)
        except BaseException:
            if self._queue is not None:
                await self._queue.release()
            raise
        if self._queue is not None:
            loop = asyncio.get_running_loop()
            if queue_cfg.batch is not None:
                batcher = Batcher(self._queue, queue_cfg.batch, queue_cfg.sizer, queue_cfg.num_consumers, self._deliver_batch)
                self._workers = [loop.create_task(batcher.run())]
            else:
                self._workers = [loop.create_task(self._work()) for _ in range(queue_cfg.num_consumers)]

    def _make_queue(self, host: Host) -> Any:
        queue_cfg = self.config.sending_queue
        storage_id = queue_cfg.storage_id
        if storage_id is None:
            return MemoryQueue(queue_cfg.queue_size, queue_cfg.sizer)
        from ..service import StartupError  # the service imports exporters' modules, not the reverse

        try:
            storage = host.extension(storage_id)
        except KeyError:
            raise StartupError(f"sending_queue.storage: extension {storage_id} is not running (list it in service.extensions)") from None
        make = getattr(storage, "queue", None)
        if make is None:
            raise StartupError(f"sending_queue.storage: extension {storage_id} is not a {STORAGE_TYPE} extension")
        return make(self.id, capacity=queue_cfg.queue_size, sizer=queue_cfg.sizer, log=self.log)

    async def shutdown(self) -> None:
        if self._shutdown_done:
            return
        queue = self._queue
        if queue is None:
            await self.stop_sending()
            self._shutdown_done = True
            return
        assert self._stopping is not None
        self._stopping.set()
        # A memory queue's content is lost once the process exits: keep sending it until the budget
        # runs out. A persistent one keeps it on disk: only let requests in flight finish.
        queue.close(dispatch_rest=not queue.persistent)
        try:
            await asyncio.wait_for(queue.drained(), self._drain_budget)
        except TimeoutError:
            pass  # what is left is counted below
        finally:
            # Also reached when the service's own shutdown_timeout cancels this wait.
            await self._finish_shutdown(queue)

    async def _finish_shutdown(self, queue: Any) -> None:
        if self._shutdown_done:
            return
        self._shutdown_done = True
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        left = queue.outstanding()
        by_signal: dict[Signal, int] = {}
        for request in left:
            by_signal[request.signal] = by_signal.get(request.signal, 0) + request.items
        counts = {f"{ITEM[s]}": n for s, n in by_signal.items()}
        if left and queue.persistent:
            self.log.info("persistent queue keeps undelivered data for the next start", exporter=str(self.id), requests=len(left), **counts)
        elif left:
            for signal, items in by_signal.items():
                self.telemetry.exporter_counters(self.id, signal).send_failed.inc(items)
            self.log.error(
                "sending queue could not drain within the shutdown budget; data lost",
                exporter=str(self.id),
                budget_s=self._drain_budget,
                requests=len(left),
                **{f"lost_{k}": v for k, v in counts.items()},
            )
        try:
            await self.stop_sending()
        finally:
            await queue.release()

    # --- data path ---------------------------------------------------------------------------

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        if self._queue is None:
            return await self._deliver(signal, data)
        try:
            await self._queue.put(signal, data, block=self.config.sending_queue.block_on_overflow)
        except (QueueFull, QueueClosed, OSError) as exc:
            self._enqueue_failed(signal, data)
            if isinstance(exc, OSError):
                self.log.error("persistent queue write failed; data refused", exporter=str(self.id), error=str(exc))
            raise RetryableError(f"exporter {self.id}: {exc}") from None
        except TooLarge as exc:
            self._enqueue_failed(signal, data)
            self.log.error("request larger than the sending queue; refused", exporter=str(self.id), error=str(exc))
            raise PermanentError(f"exporter {self.id}: {exc}") from None
        return None

    def _enqueue_failed(self, signal: Signal, data: Any) -> None:
        self.telemetry.exporter_counters(self.id, signal).enqueue_failed.inc(count_items(signal, data))

    async def consume(self, envelope: Envelope) -> Rejected | None:
        if self._queue is None:
            return await super().consume(envelope)
        return await self.export(envelope.signal, envelope.request)  # sent / send_failed are counted when delivery ends

    async def _work(self) -> None:
        queue = self._queue
        while True:
            request = await queue.get()
            if request is None:
                return
            try:
                await self._deliver_queued(request)
            except asyncio.CancelledError:
                queue.abandon(request)
                raise
            except _Abandon:
                queue.abandon(request)
                continue
            queue.done(request)

    async def _deliver_batch(self, signal: Signal, data: Any, items: int) -> bool:
        """One batch of sending_queue.batch, delivered as a queued request is; False: shutdown interrupted it."""
        try:
            await self._deliver_queued(Request(signal, data, items, 0))
        except _Abandon:
            return False
        return True

    async def _deliver_queued(self, request: Request) -> None:
        counters = self.telemetry.exporter_counters(self.id, request.signal)
        try:
            result = await self._deliver(request.signal, request.data)
        except ConsumeError:
            counters.send_failed.inc(request.items)  # _deliver logged why
            return
        except _Abandon:
            raise
        except Exception as exc:
            counters.send_failed.inc(request.items)
            self.log.exception("unexpected error delivering a request; dropped", exporter=str(self.id), error=repr(exc))
            return
        rejected = min(result.count, request.items) if result is not None else 0
        counters.sent.inc(request.items - rejected)
        if rejected:
            counters.send_failed.inc(rejected)  # the exporter logged the backend's message

    def _retried_counter(self, signal: Signal) -> Any:
        counter = self._retried.get(signal)
        if counter is None:
            item = ITEM[signal]
            counter = self._retried[signal] = self.telemetry.counter(
                f"llm_collector_exporter_retried_{item}",
                f"Number of {item} in send attempts that failed retryably and were tried again (otelcol has no such metric).",
                ("exporter",),
            ).labels(str(self.id))
        return counter

    @staticmethod
    def delivery_state() -> dict[str, Any]:
        """Scratch space shared by the attempts of one delivery (e.g. which parts the backend already
        took, so a retry resends only the rest). Keyed by delivery, not by request: two pipelines may
        hand the same request object to this exporter at once. Outside a delivery: a fresh dict."""
        state = _DELIVERY_STATE.get()
        return state if state is not None else {}

    async def _deliver(self, signal: Signal, data: Any) -> Rejected | None:
        # The attempts run in tasks (wait_for) that copy this context, so they all see this one dict.
        token = _DELIVERY_STATE.set({})
        try:
            return await self._attempts(signal, data)
        finally:
            _DELIVERY_STATE.reset(token)

    async def _attempts(self, signal: Signal, data: Any) -> Rejected | None:
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
            except (RetryableError, *_TRANSIENT) as err:
                if isinstance(err, RetryableError):
                    error = err
                elif isinstance(err, asyncio.TimeoutError):
                    error = RetryableError(f"send attempt timed out after {self.config.timeout}")
                else:
                    error = RetryableError(f"{type(err).__name__}: {err}")
                delay = next_delay(retry, delays, error.retry_after, time.monotonic() - started)
                if delay is None:
                    reason = "retries exhausted" if retry.enabled else "send failed and retry_on_failure is disabled"
                    self.log.error(f"dropping data: {reason}", exporter=str(self.id), error=str(error), items=count_items(signal, data), elapsed_s=round(time.monotonic() - started, 3))
                    raise error from None
                self._retried_counter(signal).inc(count_items(signal, data))
                self.log.warning("send failed, will retry", exporter=str(self.id), error=str(error), delay_s=round(delay, 3))
                await self._backoff(delay)

    async def _backoff(self, delay: float) -> None:
        """Sleep before a retry. A persistent queue's request stops waiting at shutdown: it is on disk
        and will be sent after the next start, so there is no reason to hold the shutdown for it."""
        stopping = self._stopping
        if stopping is None or not (self._queue is not None and self._queue.persistent):
            await asyncio.sleep(delay)
            return
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except TimeoutError:
            return
        raise _Abandon


_DELIVERY_STATE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("delivery_state", default=None)


class _Abandon(Exception):
    """Internal: shutdown interrupted the retries of a request the persistent queue keeps."""
