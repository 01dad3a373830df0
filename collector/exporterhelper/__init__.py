"""Delivery machinery every network exporter shares: otelcol's `sending_queue`, `retry_on_failure` and
`timeout`, around one `send()` attempt that each exporter implements.

The contract for an exporter (subclass `QueuedExporter`):
- its config dataclass has the fields of `DeliveryConfig` (inherit from it);
- `send(signal, data)` makes ONE attempt within `self.config.timeout` and either returns (None, or a
  `Rejected` for an OTLP partial_success: counted, never retried), raises `RetryableError` (with
  `retry_after` seconds when the server said how long to wait), or raises `PermanentError` (dropped
  and counted at once);
- `start_sending(host)` / `stop_sending()` open and close its connections;
- `self.delivery_state()` is a dict shared by the attempts of one delivery, for exporters that send a
  request in parts and must resend only the parts the backend has not taken (jaeger, elasticsearch).

`consume()` hands the request to the queue and returns as soon as it is queued, as otelcol does; a full
queue refuses it with a retryable error so the client sends it again (or waits, with
`block_on_overflow`). Anything retried past `max_elapsed_time` is dropped and counted in
`otelcol_exporter_send_failed_*`.

Modules: `queue` (in memory), `batcher` (`sending_queue.batch`), `persistent` (the write-ahead log behind `sending_queue.storage`, opened
through the `file_storage` extension), `retry` (backoff and throttle delays), `sizer` (what
`queue_size` counts), `exporter` (the consumers and the retry loop).

Metrics: otelcol's `otelcol_exporter_{sent,send_failed,enqueue_failed}_{spans,log_records,metric_points}`
and `otelcol_exporter_queue_{size,capacity}`; otelcol has no retry counter, so ours is
`llm_collector_exporter_retried_{spans,log_records,metric_points}` (items in attempts that failed
retryably and were tried again).
"""

from .config import DeliveryConfig, QueueConfig, RetryConfig
from .exporter import QueuedExporter

__all__ = ["DeliveryConfig", "QueueConfig", "QueuedExporter", "RetryConfig"]
