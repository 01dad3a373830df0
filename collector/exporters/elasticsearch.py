"""`elasticsearch` exporter: spans (and their events) and log records as documents, sent with the `_bulk`
API into data streams (`traces-generic.otel-default`, ...) or a configured index, in the collector's
`otel` or `ecs` mapping (elasticsearch_mapping.py). Wire format: docs/wire-formats.md.

Why aiohttp and not the official `elasticsearch` client: the client is not a dependency here and would
bring `elastic-transport` with it; its bulk helpers serialize documents themselves and retry 429 items
on their own schedule, while this exporter needs to send bytes it has already encoded with orjson,
gzip them off the event loop, ask for a `filter_path`-trimmed response, and resend exactly the items
that failed, by position, under the `retry` settings. That is one POST and a loop; aiohttp (already a
dependency) does it with connection pooling and TLS.

Delivery, in two layers:
- the shared queue (`sending_queue`, `retry_on_failure`, `timeout`) holds OTLP requests; one attempt
  (`send`) turns a request into NDJSON items and POSTs them in `_bulk` bodies of at most `flush.bytes`.
  Request-level 429/5xx and connection errors are retryable: the queue tries again later. The request
  remembers which bodies and items are already indexed, so a retry resends only what is left and an
  outage does not duplicate documents (a body whose answer was lost is resent: at-least-once).
  401/403/other 4xx are permanent.
- within an attempt, items answered with a status in `retry.retry_on_status` (429) are resent alone,
  in order, after a backoff, up to `retry.max_retries` times; other item failures (400 mapping errors,
  409 conflicts) are final, logged with Elasticsearch's reason and counted in
  `otelcol_exporter_send_failed_*`.

`flush.interval`: small requests are merged into one before they enter the queue, until their
estimated NDJSON size reaches `flush.bytes` or `flush.interval` has passed since the first. They are
acknowledged when merged, as otelcol's batch processor does, so up to `flush.interval` of data lives
only in memory; with a persistent queue (`sending_queue.storage`) or no queue, merging is off so that
what is acknowledged is on disk (or sent). A full queue makes further requests wait or be refused
(retryable) once a merged batch is waiting for room.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import gzip
import random
import ssl
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..component import Host, PermanentError, Rejected, RetryableError, Signal
from ..exporterhelper import QueuedExporter
from ..lazyimport import lazy
from ..pdata import REQUEST_TYPES, count_items
from ..registry import register
from . import elasticsearch_config
from . import elasticsearch_mapping as mapping
from .elasticsearch_config import ElasticsearchExporterConfig

if TYPE_CHECKING:
    import aiohttp
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp = lazy("aiohttp")

FILTER_PATH = "items.*._index,items.*.status,items.*.error.type,items.*.error.reason"
_RETRYABLE_REQUEST_STATUS = frozenset({429, 500, 502, 503, 504})
_GZIP_IN_THREAD = 64 * 1024  # zlib releases the GIL: larger bodies compress on another core


class _Item:
    __slots__ = ("line", "primary")

    def __init__(self, line: bytes, primary: bool):
        self.line = line
        self.primary = primary


class _Job:
    """One queued request while it is being delivered: what is still to send survives a retry."""

    def __init__(self, data: Any, chunks: list[list[_Item]], primary_total: int):
        self.data = data
        self.chunks = chunks
        self.primary_total = primary_total
        self.item_retries = 0  # resends of the current chunk's refused items so far
        self.indexed = 0
        self.failed_primary = 0
        self.failed_other = 0
        self.reasons: dict[tuple[int, str], list[Any]] = {}  # (status, type) → [count, first reason]

    def fail(self, item: _Item, status: int, kind: str, reason: str) -> None:
        if item.primary:
            self.failed_primary += 1
        else:
            self.failed_other += 1
        entry = self.reasons.get((status, kind))
        if entry is None:
            self.reasons[(status, kind)] = [1, reason]
        else:
            entry[0] += 1

    def fail_rest(self, status: int, kind: str, reason: str) -> None:
        for chunk in self.chunks:
            for item in chunk:
                self.fail(item, status, kind, reason)
        self.chunks = []

    def summary(self) -> str:
        return "; ".join(f"{count} x {status} {kind}: {reason}" for (status, kind), (count, reason) in self.reasons.items())


class _Merging:
    """Requests of one signal merged before the queue."""

    __slots__ = ("request", "estimate", "since", "waiting")

    def __init__(self) -> None:
        self.request: Any = None
        self.estimate = 0.0
        self.since = 0.0
        self.waiting = 0  # merged batches waiting for room in a full queue


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@register
class ElasticsearchExporter(QueuedExporter):
    type_name = "elasticsearch"
    description = "Indexes spans (and span events) and log records into Elasticsearch with the _bulk API: data streams or an index, otel or ecs mapping."
    config_class = ElasticsearchExporterConfig
    signals = frozenset({Signal.TRACES, Signal.LOGS})
    config: ElasticsearchExporterConfig

    def __init__(self, settings: Any, config: ElasticsearchExporterConfig):
        super().__init__(settings, config)
        self._urls = [u.rstrip("/") for u in config.urls()]
        self._next_url = 0
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None
        self._headers = self._build_headers()
        self._params = {"filter_path": FILTER_PATH}
        if config.pipeline:
            self._params["pipeline"] = config.pipeline
        self._actions: dict[str, bytes] = {}
        self._traces_routing = mapping.Routing(config.traces_index, "traces")
        self._logs_routing = mapping.Routing(config.logs_index, "logs")
        self._workers_gate: asyncio.Semaphore | None = None
        self._rng = random.Random()
        # Merging before the queue (see the module docstring).
        self._merging = {Signal.TRACES: _Merging(), Signal.LOGS: _Merging()}
        self._merge_enabled = False
        self._merge_wake: asyncio.Event | None = None
        self._merge_room: asyncio.Event | None = None
        self._merge_task: asyncio.Task[None] | None = None
        self._ndjson_per_proto_byte = 3.0  # learnt from what is encoded; only sizes the merging

    @classmethod
    def ineffective_keys(cls, config: ElasticsearchExporterConfig) -> list[tuple[str, str]]:
        return elasticsearch_config.ineffective_keys(config)

    def _build_headers(self) -> dict[str, str]:
        cfg = self.config
        headers = {"Content-Type": "application/x-ndjson", "Accept": "application/json"}
        if cfg.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        headers.update(cfg.headers)
        if cfg.api_key:
            headers["Authorization"] = f"ApiKey {cfg.api_key}"
        elif cfg.user:
            token = base64.b64encode(f"{cfg.user}:{cfg.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers

    # --- lifecycle ---------------------------------------------------------------------------

    async def start_sending(self, host: Host) -> None:
        cfg = self.config
        if any(u.startswith("https:") for u in self._urls):
            try:
                self._ssl = cfg.tls.ssl_context()
            except (OSError, ssl.SSLError) as exc:
                from ..service import StartupError

                raise StartupError(f"exporter {self.id}: tls: {exc}") from None
        workers = cfg.num_workers or cfg.sending_queue.num_consumers
        self._workers_gate = asyncio.Semaphore(workers)
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=workers, ssl=self._ssl if self._ssl is not None else True)
        # Each attempt is bounded by `timeout` (wait_for around send); no second clock here.
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None), auto_decompress=True)

    async def start(self, host: Host) -> None:
        await super().start(host)
        queue_cfg = self.config.sending_queue
        persistent = bool(queue_cfg.storage)
        self._merge_enabled = queue_cfg.enabled and not persistent and self.config.flush.interval > 0
        if self._merge_enabled:
            self._merge_wake = asyncio.Event()
            self._merge_room = asyncio.Event()
            self._merge_task = asyncio.get_running_loop().create_task(self._flush_on_interval())

    async def shutdown(self) -> None:
        self._merge_enabled = False  # from now on requests go straight to the (closing) queue
        if self._merge_task is not None:
            self._merge_task.cancel()
            await asyncio.gather(self._merge_task, return_exceptions=True)
            self._merge_task = None
            for signal in self._merging:
                await self._enqueue_merged(signal)
        await super().shutdown()

    async def stop_sending(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- merging before the queue --------------------------------------------------------

    async def export(self, signal: Signal, data: Any) -> Rejected | None:
        if not self._merge_enabled:
            return await super().export(signal, data)
        merging = self._merging[signal]
        limit = float(self.config.flush.bytes)
        while merging.waiting and merging.estimate >= limit:
            if not self.config.sending_queue.block_on_overflow:
                self._enqueue_failed(signal, data)
                raise RetryableError(f"exporter {self.id}: sending queue is full")
            assert self._merge_room is not None
            self._merge_room.clear()
            await self._merge_room.wait()
        if merging.request is None:
            merging.request = REQUEST_TYPES[signal]()
            merging.since = time.monotonic()
            assert self._merge_wake is not None
            self._merge_wake.set()
        merging.request.MergeFrom(data)
        merging.estimate += data.ByteSize() * self._ndjson_per_proto_byte
        if merging.estimate >= limit:
            await self._enqueue_merged(signal)
        return None

    async def _enqueue_merged(self, signal: Signal) -> None:
        merging = self._merging[signal]
        request = merging.request
        if request is None:
            return
        merging.request, merging.estimate = None, 0.0
        merging.waiting += 1
        try:
            # Already acknowledged: wait for room rather than refuse.
            await self._queue.put(signal, request, block=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            items = count_items(signal, request)
            self.telemetry.exporter_counters(self.id, signal).send_failed.inc(items)
            self.log.error("could not queue merged requests; dropped", exporter=str(self.id), error=str(exc) or type(exc).__name__, items=items)
        finally:
            merging.waiting -= 1
            if self._merge_room is not None:
                self._merge_room.set()

    async def _flush_on_interval(self) -> None:
        assert self._merge_wake is not None
        interval = float(self.config.flush.interval)
        while True:
            started = [m.since for m in self._merging.values() if m.request is not None]
            if not started:
                self._merge_wake.clear()
                await self._merge_wake.wait()
                continue
            wait = min(started) + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            now = time.monotonic()
            for signal, merging in self._merging.items():
                if merging.request is not None and merging.since + interval <= now:
                    await self._enqueue_merged(signal)

    # --- one attempt -------------------------------------------------------------------------

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        holder = self.delivery_state()
        job = holder.get("job")
        if job is None or job.data is not data:
            job = holder["job"] = self._encode(signal, data)
        try:
            while job.chunks:
                await self._send_chunk(job)
                job.chunks.pop(0)
                job.item_retries = 0
        except PermanentError as exc:
            if not job.indexed and not job.failed_primary and not job.failed_other:
                raise
            job.fail_rest(0, "request_refused", str(exc))
        if job.failed_other:
            self.log.warning("span event documents rejected by Elasticsearch", exporter=str(self.id), documents=job.failed_other)
        if job.failed_primary or job.failed_other:
            message = f"exporter {self.id}: Elasticsearch rejected {job.failed_primary + job.failed_other} document(s): {job.summary()}"
            self.log.error("documents rejected by Elasticsearch; not retried", exporter=str(self.id), failed=job.failed_primary + job.failed_other, reasons=job.summary())
            if job.failed_primary:
                return Rejected(job.failed_primary, message)
        return None

    def _encode(self, signal: Signal, data: Any) -> _Job:
        mode = self.config.mapping.mode
        if signal is Signal.TRACES:
            docs = mapping.trace_documents(data, mode, self._traces_routing, self._logs_routing)
        else:
            docs = mapping.log_documents(data, mode, self._logs_routing)
        limit = int(self.config.flush.bytes)
        chunks: list[list[_Item]] = []
        chunk: list[_Item] = []
        size = total = primary = 0
        dumps = orjson.dumps
        for doc in docs:
            action = self._actions.get(doc.index)
            if action is None:
                action = self._actions[doc.index] = dumps({"create": {"_index": doc.index}}) + b"\n"
            line = action + dumps(doc.source) + b"\n"
            if chunk and size + len(line) > limit:
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(_Item(line, doc.primary))
            size += len(line)
            total += len(line)
            primary += doc.primary
        if chunk:
            chunks.append(chunk)
        proto_size = data.ByteSize()
        if proto_size:
            self._ndjson_per_proto_byte = 0.8 * self._ndjson_per_proto_byte + 0.2 * (total / proto_size)
        return _Job(data, chunks, primary)

    async def _send_chunk(self, job: _Job) -> None:
        """One _bulk body, then its refused-but-retryable items alone until none are left or retries end."""
        retry = self.config.retry
        retry_on = frozenset(retry.retry_on_status) if retry.enabled else frozenset()
        while True:
            items = job.chunks[0]
            results = await self._post(items)
            if len(results) != len(items):
                # Positions cannot be matched; resending could duplicate, so count them instead.
                for item in items:
                    job.fail(item, 0, "bad_response", f"{len(results)} item results for {len(items)} documents")
                return
            again: list[_Item] = []
            for item, result in zip(items, results, strict=True):
                status = result.get("status", 0)
                if 200 <= status < 300:
                    job.indexed += 1
                    continue
                error = result.get("error") or {}
                if not isinstance(error, dict):
                    error = {"reason": str(error)}
                if status in retry_on and job.item_retries < retry.max_retries:
                    again.append(item)
                else:
                    job.fail(item, status, str(error.get("type", "")), str(error.get("reason", "")))
            if not again:
                return
            job.item_retries += 1
            job.chunks[0] = again
            delay = min(float(retry.initial_interval) * 2 ** (job.item_retries - 1), float(retry.max_interval))
            self.log.debug("resending documents Elasticsearch refused", exporter=str(self.id), documents=len(again), attempt=job.item_retries, delay_s=delay)
            await asyncio.sleep(delay * (0.5 + self._rng.random()))

    async def _post(self, items: list[_Item]) -> list[dict[str, Any]]:
        body = b"".join(item.line for item in items)
        if self.config.compression == "gzip":
            if len(body) > _GZIP_IN_THREAD:
                body = await asyncio.to_thread(gzip.compress, body, 1)
            else:
                body = gzip.compress(body, 1)
        assert self._session is not None and self._workers_gate is not None
        last_error: Exception | None = None
        async with self._workers_gate:
            for _ in range(len(self._urls)):
                url = self._urls[self._next_url % len(self._urls)]
                self._next_url += 1
                try:
                    async with self._session.post(
                        f"{url}/_bulk",
                        params=self._params,
                        data=body,
                        headers=self._headers if self.authenticator is None else {**self._headers, **self.auth_headers()},
                        server_hostname=self.config.tls.server_name_override,
                    ) as response:
                        raw = await response.read()
                        return self._read_response(url, response.status, response.headers, raw)
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
                    last_error = exc  # try the next endpoint before giving the request back to the queue
        raise RetryableError(f"exporter {self.id}: cannot reach Elasticsearch: {type(last_error).__name__}: {last_error}")

    def _read_response(self, url: str, status: int, headers: Any, raw: bytes) -> list[dict[str, Any]]:
        if status == 200:
            try:
                payload = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                raise RetryableError(f"exporter {self.id}: {url}/_bulk answered 200 with a body that is not JSON") from None
            results: list[dict[str, Any]] = []
            for entry in payload.get("items", []) if isinstance(payload, dict) else []:
                result: Any = next(iter(entry.values()), {}) if isinstance(entry, dict) and entry else {}
                results.append(result if isinstance(result, dict) else {})
            return results
        reason = _error_reason(raw)
        message = f"exporter {self.id}: {url}/_bulk answered HTTP {status}: {reason}"
        if status in _RETRYABLE_REQUEST_STATUS:
            raise RetryableError(message, retry_after=_retry_after(headers.get("Retry-After")))
        if status in (401, 403):
            raise PermanentError(f"{message} (check api_key or user/password)")
        if status == 413:
            raise PermanentError(f"{message} (lower flush.bytes below the cluster's http.max_content_length)")
        raise PermanentError(message)


def _error_reason(raw: bytes) -> str:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:200].decode("utf-8", "replace") or "(empty body)"
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('reason', '')}"
    return str(error or payload)[:200]
