"""`otlp` exporter: OTLP over gRPC, with otelcol's keys (endpoint, tls, headers, compression, timeout)
and the OTLP specification's retry rules.

Each request is serialized once and sent as raw bytes on a unary call to the signal's Export method,
over one long-lived channel per destination; nothing here walks the spans.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2

from ..component import PermanentError, Rejected, RetryableError, Signal
from ..config import ByteSize, Duration, Invalid, option
from ..exporterhelper import DeliveryConfig, QueuedExporter
from ..grpc_options import BUFFER_SIZE_REASON, ClientKeepaliveConfig, check_balancer
from ..lazyimport import lazy
from ..pdata import GRPC_SERVICES
from ..registry import register
from .otlp_client import (
    USER_AGENT,
    ClientSettingsError,
    ClientTLSConfig,
    Collector,
    TLSSettings,
    check_headers,
    env_lookup,
    partial_success,
    problems,
    resolve_compression,
    resolve_env_insecure,
    resolve_headers,
    resolve_timeout,
    resolve_tls,
    response_type,
    with_timeout,
)

if TYPE_CHECKING:
    import grpc
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    grpc = lazy("grpc")

COMPRESSIONS = ("gzip", "none")
DEFAULT_TIMEOUT = 5.0  # otelcol exporterhelper's default
# OTLP specification, "OTLP/gRPC Response": these mean "try again later"; every other code is final,
# except RESOURCE_EXHAUSTED, which is retryable only when the server says when (RetryInfo).
# grpc.StatusCode names, so that reading a config does not import grpc.
RETRYABLE_CODES = frozenset({"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"})
_COMPRESSION = {"gzip": "Gzip", "none": "NoCompression"}  # grpc.Compression members


@dataclass(kw_only=True)
class OTLPExporterConfig(DeliveryConfig):
    endpoint: str | None = option(None, "`host:port` of the OTLP/gRPC server; `http://host:port` means plaintext, `https://host:port` TLS. Unset: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT.")
    tls: ClientTLSConfig | None = option(None, "Client TLS (otelcol's configtls keys). Without `insecure: true` or an `http://` endpoint the connection uses TLS.")
    headers: dict[str, str] | None = option(None, "gRPC metadata sent with every request, e.g. `authorization: Bearer ...` (use `${env:VAR}` for secrets). Unset: OTEL_EXPORTER_OTLP_[TRACES_]HEADERS.", secret=True)
    compression: str | None = option(None, "`gzip` or `none`; unset: OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION, else gzip. (zstd is not in Python's gRPC core; the `otlphttp` exporter has it.)")
    timeout: Duration | None = option(None, "Time limit of one export call, also sent to the server as the gRPC deadline. Unset: OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds), else 5s.")  # type: ignore[assignment]  # None until with_timeout() resolves it, before the delivery machinery reads it
    keepalive: ClientKeepaliveConfig | None = option(None, "otelcol's client keepalive (time, timeout, permit_without_stream), as gRPC core arguments.")
    balancer_name: str | None = option(None, "gRPC load-balancing policy over the endpoint's addresses: `pick_first` or `round_robin` (grpc.lb_policy_name). Unset: gRPC's pick_first.")
    read_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")
    write_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")

    def validate(self) -> None:
        if self.endpoint is not None:
            try:
                parse_endpoint(self.endpoint)
            except ClientSettingsError as exc:
                raise Invalid(str(exc), "endpoint") from None
        if self.compression is not None and self.compression not in COMPRESSIONS:
            hint = "; zstd is not in Python's gRPC core: use gzip, or the otlphttp exporter" if self.compression == "zstd" else ""
            raise Invalid(f"expected one of {', '.join(COMPRESSIONS)}, got {self.compression!r}{hint}", "compression")
        if self.tls is not None and self.tls.insecure_skip_verify:
            raise Invalid("not supported by Python's gRPC core; set ca_file to the CA (or the self-signed certificate) of the server instead", ("tls", "insecure_skip_verify"))
        if self.headers is not None:
            check_headers(self.headers)
        if self.timeout is not None and self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")
        check_balancer(self.balancer_name)


def parse_endpoint(endpoint: str) -> tuple[str, bool | None]:
    """(gRPC target, TLS as the scheme demands: True for https, False for http, None without scheme)."""
    text = endpoint.strip()
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        url = urllib.parse.urlsplit(text)
        if not url.hostname:
            raise ClientSettingsError(f"{endpoint!r} has no host (expected e.g. https://collector:4317)")
        try:
            port = url.port
        except ValueError:
            raise ClientSettingsError(f"{endpoint!r} has an invalid port") from None
        tls = url.scheme.lower() == "https"
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        return f"{host}:{port or (443 if tls else 80)}", tls
    if "://" in text:
        raise ClientSettingsError(f"unsupported scheme in {endpoint!r} (expected host:port, http://host:port or https://host:port)")
    if not text:
        raise ClientSettingsError("must not be empty (expected host:port)")
    return text, None


@dataclass(frozen=True)
class Destination:
    """Where one signal goes, after the environment filled in what the config left unset."""

    target: str
    tls: TLSSettings | None  # None: plaintext
    compression: str
    metadata: tuple[tuple[str, str], ...]


def destination(config: OTLPExporterConfig, signal: Signal) -> Destination:
    errors = Collector()
    target, scheme_tls = errors.take(_endpoint, config.endpoint, signal, default=("", None))
    # As in the spec and otelcol: the scheme decides; without one, `insecure` (or its variable) does.
    plaintext = (not scheme_tls) if scheme_tls is not None else errors.take(resolve_env_insecure, config.tls, signal, default=False)
    tls = None if plaintext else errors.take(resolve_tls, config.tls, signal)
    headers = errors.take(resolve_headers, config.headers, signal, default={})
    compression = errors.take(resolve_compression, config.compression, signal, COMPRESSIONS)
    errors.check()
    # gRPC metadata keys are lower case on the wire; grpcio refuses upper-case ones.
    metadata = tuple((key.lower(), value) for key, value in headers.items())
    return Destination(target, tls, compression, metadata)


def _endpoint(configured: str | None, signal: Signal) -> tuple[str, bool | None]:
    if configured is not None:
        return parse_endpoint(configured)
    found = env_lookup("ENDPOINT", signal)
    if found is None:
        raise ClientSettingsError(f'no endpoint for {signal}: set "endpoint" (host:port) or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT')
    try:
        return parse_endpoint(found[1])
    except ClientSettingsError as exc:
        raise ClientSettingsError(f"{found[0]}: {exc}") from None


def auth_needs_tls(tls: bool) -> None:
    """otelcol's authenticators send gRPC credentials only over TLS (their PerRPCCredentials require
    transport security, so grpc-go refuses the plaintext channel)."""
    if not tls:
        raise ClientSettingsError("auth.authenticator: gRPC sends an authenticator's credentials only over TLS, as otelcol (grpc: the credentials require transport level security); use TLS or the exporter's headers")


def grpc_metadata(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    # gRPC metadata keys are lower case on the wire; grpcio refuses upper-case ones.
    return tuple((key.lower(), value) for key, value in headers.items())


def retry_delay(trailers: Any) -> float | None:
    """The server's RetryInfo delay: in the standard grpc-status-details-bin Status details, or as a
    bare google.rpc.RetryInfo under google.rpc.retryinfo-bin."""
    for key, value in trailers or ():
        try:
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                        info = error_details_pb2.RetryInfo()
                        detail.Unpack(info)
                        return info.retry_delay.ToNanoseconds() / 1e9
            elif key == "google.rpc.retryinfo-bin":
                return error_details_pb2.RetryInfo.FromString(value).retry_delay.ToNanoseconds() / 1e9
        except (DecodeError, TypeError):
            continue  # a malformed detail is ignored: the code alone still decides
    return None


class _Route:
    __slots__ = ("call", "metadata", "response_type")

    def __init__(self, call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes], metadata: tuple[tuple[str, str], ...], response_type: type[Message]):
        self.call = call
        self.metadata = metadata
        self.response_type = response_type


@register
class OTLPExporter(QueuedExporter):
    type_name = "otlp_grpc"
    deprecated_type_names = ("otlp",)
    description = "Sends OTLP over gRPC to a collector or backend: TLS/mTLS, headers, gzip, the spec's retry rules, OTEL_EXPORTER_OTLP_* defaults."
    config_class = OTLPExporterConfig
    config: OTLPExporterConfig

    def __init__(self, settings: Any, config: OTLPExporterConfig):
        super().__init__(settings, with_timeout(config, DEFAULT_TIMEOUT))
        self._channels: dict[tuple[str, TLSSettings | None, str], grpc.aio.Channel] = {}
        self._routes: dict[Signal, _Route] = {}
        assert self.config.timeout is not None  # resolved by with_timeout
        self._deadline = float(self.config.timeout)

    @classmethod
    def ineffective_keys(cls, config: OTLPExporterConfig) -> list[tuple[str, str]]:
        return [(key, BUFFER_SIZE_REASON) for key in ("read_buffer_size", "write_buffer_size") if getattr(config, key) is not None]

    @classmethod
    def validate_usage(cls, id: Any, config: OTLPExporterConfig, signals: set[Signal]) -> list[str]:
        checks: list[Any] = [lambda: resolve_timeout(config.timeout, DEFAULT_TIMEOUT)]
        checks += [lambda s=s: destination(config, s) for s in sorted(signals)]
        if config.auth is not None:
            checks += [lambda s=s: auth_needs_tls(destination(config, s).tls is not None) for s in sorted(signals)]
        return problems(config, checks)

    async def stop_sending(self) -> None:
        channels = list(self._channels.values())
        self._channels.clear()
        self._routes.clear()
        for channel in channels:
            await channel.close()

    def _route(self, signal: Signal) -> _Route:
        dest = destination(self.config, signal)
        key = (dest.target, dest.tls, dest.compression)
        channel = self._channels.get(key)
        if channel is None:
            options = [
                ("grpc.primary_user_agent", USER_AGENT),
                # gRPC's own reconnect back-off grows to 120 s; after a long outage the channel would
                # then fail fast long after the backend is back. Our retry_on_failure paces attempts.
                ("grpc.max_reconnect_backoff_ms", 5000),
                ("grpc.max_receive_message_length", 16 * 2**20),
            ]
            if dest.tls is not None and dest.tls.server_name:
                options.append(("grpc.ssl_target_name_override", dest.tls.server_name))
            if self.config.keepalive is not None:
                options += self.config.keepalive.options()
            if self.config.balancer_name is not None:
                options.append(("grpc.lb_policy_name", self.config.balancer_name))
            compression = getattr(grpc.Compression, _COMPRESSION[dest.compression])
            if dest.tls is None:
                channel = grpc.aio.insecure_channel(dest.target, options=options, compression=compression)
            else:
                channel = grpc.aio.secure_channel(dest.target, dest.tls.grpc_credentials(), options=options, compression=compression)
            self._channels[key] = channel
        # No (de)serializers: the request goes out as the bytes we hand over, the reply comes back as bytes.
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{GRPC_SERVICES[signal]}/Export")
        route = self._routes[signal] = _Route(call, dest.metadata, response_type(signal))
        self.log.info("exporting over OTLP/gRPC", exporter=str(self.id), signal=str(signal), target=dest.target, tls=dest.tls is not None, compression=dest.compression, headers=sorted(k for k, _ in dest.metadata))
        return route

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        route = self._routes.get(signal)
        if route is None:
            try:
                route = self._route(signal)
            except ClientSettingsError as exc:  # checked at start-up; only a changed environment gets here
                raise PermanentError(f"exporter {self.id}: {exc}") from None
        try:
            metadata = route.metadata if self.authenticator is None else route.metadata + grpc_metadata(self.auth_headers())
            reply = await route.call(data.SerializeToString(), timeout=self._deadline, metadata=metadata)
        except grpc.aio.AioRpcError as err:
            raise self._error(err) from None
        try:
            response = route.response_type.FromString(reply)
        except DecodeError as exc:
            # The status was OK, so the data was taken; only the optional partial_success is unreadable.
            self.log.warning("unreadable export response ignored", exporter=str(self.id), signal=str(signal), error=str(exc))
            return None
        return partial_success(signal, response, self.id, self.log)

    def _error(self, err: grpc.aio.AioRpcError) -> Exception:
        code = err.code()
        message = f"exporter {self.id}: {code.name}: {err.details()}"
        delay = retry_delay(err.trailing_metadata())
        if code.name in RETRYABLE_CODES or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None):
            # A zero delay would mean "now": leave the pacing to the back-off instead.
            return RetryableError(message, retry_after=delay if delay else None)
        return PermanentError(message)
