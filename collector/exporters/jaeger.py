"""`jaeger` exporter: traces to Jaeger, over OTLP (the default; Jaeger >= 1.35 and v2 take OTLP on
4317) or over Jaeger's legacy native gRPC API (`/jaeger.api_v2.CollectorService/PostSpans`, port 14250).

`protocol: otlp` is the `otlp` exporter's sender, configured from this exporter's keys, so both speak
OTLP the same way. `protocol: grpc` translates each request with jaeger_translate (the OTel Collector's
mapping) and posts one Batch per resource, as otelcol's jaeger exporter did, split in parts where one
would exceed `max_request_size`. When some of those posts fail, a retry resends only the posts not yet
accepted, so a partial outage does not duplicate spans in Jaeger; a post refused for good is dropped
and counted while the others go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..component import Host, PermanentError, Rejected, RetryableError, Signal
from ..config import ByteSize, Invalid, option
from ..exporterhelper import DeliveryConfig, QueuedExporter
from ..jaeger_proto.api_v2_pb2 import Batch
from ..lazyimport import lazy
from ..pdata import count_spans
from ..registry import register
from ..wire.encode import tag_bytes, varint
from ..wire.fields import PostSpansRequest
from .jaeger_translate import batches_from_request
from .otlp import RETRYABLE_CODES, OTLPExporter, OTLPExporterConfig, auth_needs_tls, grpc_metadata, parse_endpoint, retry_delay
from .otlp_client import USER_AGENT, ClientSettingsError, ClientTLSConfig, TLSSettings, check_headers, problems

if TYPE_CHECKING:
    import grpc
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    grpc = lazy("grpc")

POST_SPANS = "/jaeger.api_v2.CollectorService/PostSpans"
COMPRESSIONS = ("gzip", "none")
# otelcol's defaults: its otlp exporter compresses, its (former) jaeger exporter did not.
DEFAULT_COMPRESSION = {"otlp": "gzip", "grpc": "none"}
_GRPC_COMPRESSION = {"gzip": "Gzip", "none": "NoCompression"}  # grpc.Compression members
_BATCH = tag_bytes(PostSpansRequest.BATCH)


@dataclass(kw_only=True)
class JaegerExporterConfig(DeliveryConfig):
    endpoint: str = option(doc="`host:port` of Jaeger's collector: its OTLP/gRPC port (4317) for `protocol: otlp`, its api_v2 gRPC port (14250) for `grpc`. `http://` means plaintext, `https://` TLS.")
    protocol: Literal["otlp", "grpc"] = option("otlp", "`otlp`: OTLP/gRPC, which Jaeger >= 1.35 and Jaeger v2 accept natively. `grpc`: Jaeger's legacy `jaeger.api_v2.CollectorService/PostSpans`, with the OTel Collector's OTLP → Jaeger mapping.")
    tls: ClientTLSConfig | None = option(None, "Client TLS (same keys as the `otlp` exporter). Without `insecure: true` or an `http://` endpoint the connection uses TLS.")
    headers: dict[str, str] = option(factory=dict, doc="gRPC metadata sent with every request, e.g. a tenant header or `authorization` (use `${env:VAR}` for secrets).", secret=True)
    compression: str | None = option(None, "`gzip` or `none`. Unset: gzip for `otlp`, none for `grpc` (otelcol's defaults).")
    max_request_size: ByteSize = option(ByteSize(4 * 2**20), "`grpc` only: a resource's spans are split over several PostSpans calls so that none is larger than this (before compression). Jaeger's collector refuses bigger messages: its `--collector.grpc-server.max-message-size` is 4 MiB by default.")

    def validate(self) -> None:
        try:
            parse_endpoint(self.endpoint)
        except ClientSettingsError as exc:
            raise Invalid(str(exc), "endpoint") from None
        if self.compression is not None and self.compression not in COMPRESSIONS:
            raise Invalid(f"expected one of {', '.join(COMPRESSIONS)}, got {self.compression!r}", "compression")
        if self.tls is not None and self.tls.insecure_skip_verify:
            raise Invalid("not supported by Python's gRPC core; set ca_file to the CA (or the self-signed certificate) of the server instead", ("tls", "insecure_skip_verify"))
        check_headers(self.headers)
        if self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")
        if self.max_request_size < 1024:
            raise Invalid("must be at least 1KiB", "max_request_size")


class _Post:
    """One PostSpansRequest, serialized once."""

    __slots__ = ("payload", "spans")

    def __init__(self, body: bytes, spans: int):
        # PostSpansRequest{batch} is the batch field's tag, the length and the Batch: framing it here avoids
        # copying the translated Batch into a request message.
        self.payload = _BATCH + varint(len(body)) + body
        self.spans = spans


def _posts(batch: Any, limit: int) -> list[_Post]:
    """The Batch as one post, or halved (each half with the Process) until every part fits `limit`.
    A single span over the limit still goes alone: the server's refusal then names the problem."""
    body = batch.SerializeToString()
    count = len(batch.spans)
    if len(body) + 16 <= limit or count <= 1:
        return [_Post(body, count)]
    middle = count // 2
    halves = []
    for part in (batch.spans[:middle], batch.spans[middle:]):
        half = Batch(process=batch.process)
        half.spans.extend(part)
        halves += _posts(half, limit)
    return halves


class _Delivery:
    """What one request's delivery has left to do, kept across its attempts."""

    __slots__ = ("pending", "rejected", "reasons")

    def __init__(self) -> None:
        self.pending: list[_Post] | None = None
        self.rejected = 0
        self.reasons: list[str] = []


@register
class JaegerExporter(QueuedExporter):
    type_name = "jaeger"
    description = "Sends traces to Jaeger: OTLP/gRPC (default) or the legacy api_v2 gRPC PostSpans with the OTel Collector's mapping."
    config_class = JaegerExporterConfig
    signals = frozenset({Signal.TRACES})
    config: JaegerExporterConfig

    def __init__(self, settings: Any, config: JaegerExporterConfig):
        super().__init__(settings, config)
        self._otlp: OTLPExporter | None = None
        self._channel: grpc.aio.Channel | None = None
        self._post_spans: Any = None
        self._metadata: tuple[tuple[str, str], ...] = tuple((k.lower(), v) for k, v in config.headers.items())
        if config.protocol == "otlp":
            self._otlp = OTLPExporter(settings, otlp_config(config))

    @classmethod
    def validate_usage(cls, id: Any, config: JaegerExporterConfig, signals: set[Signal]) -> list[str]:
        if config.protocol == "otlp":
            return OTLPExporter.validate_usage(id, otlp_config(config), signals)
        if config.auth is not None:
            return problems(config, [lambda: auth_needs_tls(not _plaintext(config))])
        return []

    # --- connection ----------------------------------------------------------------------------

    async def start_sending(self, host: Host) -> None:
        cfg = self.config
        target, _ = parse_endpoint(cfg.endpoint)
        if self._otlp is not None:
            self._otlp.authenticator = self.authenticator
            await self._otlp.start_sending(host)
            self.log.info("exporting to Jaeger over OTLP/gRPC", exporter=str(self.id), target=target)
            return
        tls_cfg = cfg.tls or ClientTLSConfig()
        plaintext = _plaintext(cfg)
        options = [
            ("grpc.primary_user_agent", USER_AGENT),
            # Our retry_on_failure paces attempts; gRPC's own reconnect back-off (up to 120 s) would
            # otherwise keep the channel failing fast long after Jaeger is back.
            ("grpc.max_reconnect_backoff_ms", 5000),
        ]
        compression = getattr(grpc.Compression, _GRPC_COMPRESSION[cfg.compression or DEFAULT_COMPRESSION["grpc"]])
        if plaintext:
            self._channel = grpc.aio.insecure_channel(target, options=options, compression=compression)
        else:
            tls = TLSSettings(tls_cfg.ca_file, tls_cfg.cert_file, tls_cfg.key_file, False, tls_cfg.server_name_override)
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override", tls.server_name))
            self._channel = grpc.aio.secure_channel(target, tls.grpc_credentials(), options=options, compression=compression)
        # No (de)serializers: the payload is already PostSpansRequest bytes and the reply is empty.
        self._post_spans = self._channel.unary_unary(POST_SPANS)
        self.log.info("exporting to Jaeger over api_v2 gRPC", exporter=str(self.id), target=target, tls=not plaintext, headers=sorted(k for k, _ in self._metadata))

    async def stop_sending(self) -> None:
        if self._otlp is not None:
            await self._otlp.stop_sending()
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    # --- sending -------------------------------------------------------------------------------

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        if self._otlp is not None:
            return await self._otlp.send(signal, data)
        delivery = self.delivery_state().setdefault("jaeger", _Delivery())
        if delivery.pending is None:
            # Upstream keeps a resource with attributes but no spans as an empty Batch: nothing to post.
            limit = int(self.config.max_request_size)
            delivery.pending = [post for batch in batches_from_request(data) if batch.spans for post in _posts(batch, limit)]
        if delivery.pending:
            errors = await asyncio.gather(*(self._post(delivery, post) for post in list(delivery.pending)))
            retryable = [e for e in errors if e is not None]
            if retryable:
                delays = [e.retry_after for e in retryable if e.retry_after is not None]
                left = sum(p.spans for p in delivery.pending)
                raise RetryableError(f"{retryable[0]} ({len(retryable)} of the request's batches, {left} span(s), still to send)", retry_after=max(delays) if delays else None)
        if not delivery.rejected:
            return None
        message = f"exporter {self.id}: Jaeger refused {delivery.rejected} span(s): {'; '.join(dict.fromkeys(delivery.reasons))}"
        if delivery.rejected >= count_spans(data):
            raise PermanentError(message)
        self.log.error("dropping data: permanent error", exporter=str(self.id), error=message, items=delivery.rejected)
        return Rejected(delivery.rejected, message)

    async def _post(self, delivery: _Delivery, post: _Post) -> RetryableError | None:
        """Posts one Batch; takes it off `pending` once it is settled. Returns the error to retry on."""
        try:
            metadata = self._metadata if self.authenticator is None else self._metadata + grpc_metadata(self.auth_headers())
            await self._post_spans(post.payload, timeout=float(self.config.timeout), metadata=metadata)
        except grpc.aio.AioRpcError as err:
            code = err.code()
            message = f"exporter {self.id}: PostSpans: {code.name}: {err.details()}"
            delay = retry_delay(err.trailing_metadata())
            if code.name in RETRYABLE_CODES or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None):
                return RetryableError(message, retry_after=delay if delay else None)
            delivery.rejected += post.spans
            delivery.reasons.append(f"{code.name}: {err.details()}")
        delivery.pending.remove(post)  # type: ignore[union-attr]
        return None


def _plaintext(cfg: JaegerExporterConfig) -> bool:
    """api_v2: the endpoint's scheme decides; without one, tls.insecure."""
    _, scheme_tls = parse_endpoint(cfg.endpoint)
    return (not scheme_tls) if scheme_tls is not None else bool((cfg.tls or ClientTLSConfig()).insecure)


def otlp_config(cfg: JaegerExporterConfig) -> OTLPExporterConfig:
    """The `otlp` exporter's config for `protocol: otlp`. Every key is set, so the OTEL_EXPORTER_OTLP_*
    variables meant for the otlp exporter do not change where or how this one sends (the TLS file
    variables still fill tls files left unset, as that exporter documents)."""
    tls = cfg.tls or ClientTLSConfig()
    if tls.insecure is None:
        tls = dataclasses.replace(tls, insecure=False)
    return OTLPExporterConfig(
        endpoint=cfg.endpoint,
        tls=tls,
        headers=dict(cfg.headers),
        compression=cfg.compression or DEFAULT_COMPRESSION["otlp"],
        timeout=cfg.timeout,
        sending_queue=cfg.sending_queue,
        retry_on_failure=cfg.retry_on_failure,
        auth=cfg.auth,
    )
