"""`otlphttp` exporter: OTLP/HTTP (protobuf or JSON bodies, gzip or zstd) with otelcol's keys and the
OTLP specification's response handling: 429/502/503/504 are retried (honouring Retry-After), other
4xx/5xx are final, connection failures are retried, and partial_success is read from the body."""

from __future__ import annotations

import email.utils
import ssl
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import zstandard
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from ..component import PermanentError, Rejected, RetryableError, Signal
from ..config import ByteSize, Duration, Invalid, option
from ..exporterhelper import DeliveryConfig, QueuedExporter
from ..lazyimport import lazy
from ..registry import register
from .otlp_client import (
    USER_AGENT,
    ClientSettingsError,
    ClientTLSConfig,
    Collector,
    check_headers,
    env_lookup,
    partial_success,
    problems,
    resolve_compression,
    resolve_headers,
    resolve_timeout,
    resolve_tls,
    response_type,
    with_timeout,
)

if TYPE_CHECKING:
    import aiohttp

    from .. import otlpjson
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp, otlpjson = lazy("aiohttp"), lazy("collector.otlpjson")

COMPRESSIONS = ("gzip", "zstd", "none")
DEFAULT_TIMEOUT = 30.0  # otelcol's otlphttp client timeout
PATHS = {Signal.TRACES: "v1/traces", Signal.LOGS: "v1/logs", Signal.METRICS: "v1/metrics"}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})  # OTLP spec, "OTLP/HTTP Response"
MAX_RESPONSE_BYTES = 1 << 20  # a response is a small status message; anything larger is not read whole
GZIP_LEVEL = 1  # otelcol's confighttp compresses with gzip.BestSpeed
ZSTD_LEVEL = 3  # zstd's own default, as otelcol uses
AIOHTTP_READ_BUFSIZE = 2**16  # aiohttp's default
WRITE_BUFFER_REASON = "Go's net/http write buffer size; aiohttp writes each request to the socket as it is"


@dataclass(kw_only=True)
class OTLPHTTPExporterConfig(DeliveryConfig):
    endpoint: str | None = option(None, "Base URL, e.g. `https://collector:4318`; `/v1/traces`, `/v1/logs` and `/v1/metrics` are appended. Unset: OTEL_EXPORTER_OTLP_ENDPOINT (same rule).")
    traces_endpoint: str | None = option(None, "Full URL for traces, used as is; wins over `endpoint`. Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.")
    logs_endpoint: str | None = option(None, "Full URL for logs, used as is. Unset: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT.")
    metrics_endpoint: str | None = option(None, "Full URL for metrics, used as is. Unset: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.")
    encoding: Literal["proto", "json"] | None = option(None, "Body encoding: `proto` (application/x-protobuf) or `json` (OTLP-JSON). Unset: `json` when OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL is http/json, else proto.")
    compression: str | None = option(None, "`gzip`, `zstd` or `none`; unset: OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION, else gzip.")
    headers: dict[str, str] | None = option(None, "HTTP headers sent with every request, e.g. `Authorization: Bearer ...` (use `${env:VAR}` for secrets). Unset: OTEL_EXPORTER_OTLP_[TRACES_]HEADERS.", secret=True)
    tls: ClientTLSConfig | None = option(None, "Client TLS for `https://` URLs: ca_file, mTLS cert_file/key_file, insecure_skip_verify, server_name_override.")
    timeout: Duration | None = option(None, "Time limit of one HTTP request. Unset: OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds), else 30s.")  # type: ignore[assignment]  # None until with_timeout() resolves it, before the delivery machinery reads it
    profiles_endpoint: str | None = option(None, "otelcol's URL for profiles. No effect here: the daemon has no profiles signal (a start-up warning says so).")
    read_buffer_size: ByteSize | None = option(None, "Size of the buffer responses are read into (aiohttp's read_bufsize). Unset: aiohttp's 64 KiB.")
    write_buffer_size: ByteSize | None = option(None, f"No effect here: {WRITE_BUFFER_REASON} (a start-up warning says so).")

    def validate(self) -> None:
        for key in ("endpoint", "traces_endpoint", "logs_endpoint", "metrics_endpoint"):
            value = getattr(self, key)
            if value is not None:
                try:
                    check_url(value)
                except ClientSettingsError as exc:
                    raise Invalid(str(exc), key) from None
        if self.compression is not None and self.compression not in COMPRESSIONS:
            raise Invalid(f"expected one of {', '.join(COMPRESSIONS)}, got {self.compression!r}", "compression")
        if self.headers is not None:
            check_headers(self.headers)
        if self.timeout is not None and self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ClientSettingsError(f"expected an http:// or https:// URL with a host, got {url!r}")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise ClientSettingsError(f"invalid port in {url!r}") from None
    return url.strip()


def signal_url(base: str, signal: Signal) -> str:
    """otelcol and the spec: the signal's path is appended to the base URL's own path."""
    return base.rstrip("/") + "/" + PATHS[signal]


@dataclass(frozen=True)
class Route:
    """Where one signal goes and how, after the environment filled in what the config left unset."""

    url: str
    encoding: str
    compression: str
    headers: dict[str, str]
    ssl: Any  # an SSLContext for https, None for http


def route(config: OTLPHTTPExporterConfig, signal: Signal) -> Route:
    errors = Collector()
    url = errors.take(_url, config, signal, default="")
    encoding = config.encoding
    if encoding is None:
        found = env_lookup("PROTOCOL", signal)
        encoding = "json" if found is not None and found[1].lower() == "http/json" else "proto"
    compression = errors.take(resolve_compression, config.compression, signal, COMPRESSIONS, default="none")
    headers = {"Content-Type": JSON if encoding == "json" else PROTOBUF, "User-Agent": USER_AGENT}
    if compression != "none":
        headers["Content-Encoding"] = compression
    headers.update(errors.take(resolve_headers, config.headers, signal, default={}))
    tls = errors.take(_ssl_context, config.tls, signal) if url.lower().startswith("https://") else None
    errors.check()
    return Route(url, encoding, compression, headers, tls)


def _url(config: OTLPHTTPExporterConfig, signal: Signal) -> str:
    url = getattr(config, f"{signal}_endpoint")
    if url is None and config.endpoint is not None:
        url = signal_url(config.endpoint, signal)
    if url is not None:
        return url.strip()
    found = env_lookup("ENDPOINT", signal)
    if found is None:
        raise ClientSettingsError(f'no endpoint for {signal}: set "endpoint" (base URL) or "{signal}_endpoint", or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT')
    variable, url = found
    try:
        check_url(url)
    except ClientSettingsError as exc:
        raise ClientSettingsError(f"{variable}: {exc}") from None
    # The spec: only the generic variable is a base URL; a signal-specific one is the full URL.
    return signal_url(url, signal) if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" else url


def _ssl_context(configured: ClientTLSConfig | None, signal: Signal) -> ssl.SSLContext:
    settings = resolve_tls(configured, signal)
    try:
        return settings.ssl_context()
    except OSError as exc:  # ssl.SSLError included: unreadable or mismatched certificate and key
        raise ClientSettingsError(f"tls: cannot load the certificates: {exc}") from None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 10.2.3); None when absent, unreadable or
    already past, so the exporter's own back-off applies."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return seconds if seconds > 0 else None


def status_message(body: bytes, content_type: str) -> str:
    """The google.rpc.Status message of an OTLP/HTTP error body, else the start of the body's text."""
    if body:
        try:
            if content_type == PROTOBUF:
                status = status_pb2.Status.FromString(body)
            elif content_type == JSON:
                status = json_format.Parse(body, status_pb2.Status(), ignore_unknown_fields=True)
            else:
                status = None
            if status is not None and status.message:
                return status.message
        except (DecodeError, json_format.ParseError, UnicodeDecodeError):
            pass
    text = body[:300].decode("utf-8", "replace").strip()
    return text or "(empty body)"


class _Body:
    """Serialization and compression of one request body."""

    def __init__(self) -> None:
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    def encode(self, signal: Signal, data: Any, route: Route) -> bytes:
        body = otlpjson.encode(signal, data) if route.encoding == "json" else data.SerializeToString()
        if route.compression == "gzip":
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip member
            return compressor.compress(body) + compressor.flush()
        if route.compression == "zstd":
            return self._zstd.compress(body)  # one frame with its content size, which receivers can check
        return body


@register
class OTLPHTTPExporter(QueuedExporter):
    type_name = "otlp_http"
    deprecated_type_names = ("otlphttp",)
    description = "Sends OTLP/HTTP (protobuf or JSON, gzip or zstd) to a collector or backend: TLS/mTLS, headers, Retry-After, OTEL_EXPORTER_OTLP_* defaults."
    config_class = OTLPHTTPExporterConfig
    config: OTLPHTTPExporterConfig

    def __init__(self, settings: Any, config: OTLPHTTPExporterConfig):
        super().__init__(settings, with_timeout(config, DEFAULT_TIMEOUT))
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[Signal, Route] = {}
        self._body = _Body()

    @classmethod
    def validate_usage(cls, id: Any, config: OTLPHTTPExporterConfig, signals: set[Signal]) -> list[str]:
        checks: list[Any] = [lambda: resolve_timeout(config.timeout, DEFAULT_TIMEOUT)]
        checks += [lambda s=s: route(config, s) for s in sorted(signals)]
        return problems(config, checks)

    @classmethod
    def ineffective_keys(cls, config: OTLPHTTPExporterConfig) -> list[tuple[str, str]]:
        out = [("write_buffer_size", WRITE_BUFFER_REASON)] if config.write_buffer_size is not None else []
        if config.profiles_endpoint is not None:
            out.append(("profiles_endpoint", "the daemon has no profiles signal"))
        return out

    async def start_sending(self, host: Any) -> None:
        # One pooled, keep-alive session for every signal; the per-request timeout is the attempt's.
        assert self.config.timeout is not None  # resolved by with_timeout
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(1, self.config.sending_queue.num_consumers)),
            timeout=aiohttp.ClientTimeout(total=float(self.config.timeout)),
            auto_decompress=True,
            read_bufsize=int(self.config.read_buffer_size or AIOHTTP_READ_BUFSIZE),
        )

    async def stop_sending(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _route(self, signal: Signal) -> Route:
        found = self._routes[signal] = route(self.config, signal)
        self.log.info("exporting over OTLP/HTTP", exporter=str(self.id), signal=str(signal), url=found.url, encoding=found.encoding, compression=found.compression, headers=sorted(k for k in found.headers if k not in ("Content-Type", "User-Agent", "Content-Encoding")))
        return found

    async def send(self, signal: Signal, data: Any) -> Rejected | None:
        if self._session is None:
            raise RetryableError(f"exporter {self.id} is not running")
        dest = self._routes.get(signal)
        if dest is None:
            try:
                dest = self._route(signal)
            except ClientSettingsError as exc:  # checked at start-up; only a changed environment gets here
                raise PermanentError(f"exporter {self.id}: {exc}") from None
        body = self._body.encode(signal, data, dest)
        headers = dest.headers if self.authenticator is None else {**dest.headers, **self.auth_headers()}
        try:
            async with self._session.post(dest.url, data=body, headers=headers, ssl=dest.ssl if dest.ssl is not None else True) as response:
                payload = await _read_limited(response, MAX_RESPONSE_BYTES)
                status = response.status
                content_type = response.content_type.lower()
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientError as exc:
            # Refused, reset, TLS handshake or DNS failures: the backend may come back.
            raise RetryableError(f"exporter {self.id}: {type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return self._partial_success(signal, payload, content_type, dest)
        message = f"exporter {self.id}: HTTP {status} from {dest.url}: {status_message(payload, content_type)}"
        if status in RETRYABLE_STATUSES:
            raise RetryableError(message, retry_after=retry_after_seconds(retry_after))
        raise PermanentError(message)

    def _partial_success(self, signal: Signal, payload: bytes, content_type: str, dest: Route) -> Rejected | None:
        if not payload:
            return None
        kind = content_type if content_type in (PROTOBUF, JSON) else (JSON if dest.encoding == "json" else PROTOBUF)
        message = response_type(signal)()
        try:
            if kind == JSON:
                json_format.Parse(payload, message, ignore_unknown_fields=True)
            else:
                message.ParseFromString(payload)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
            # A 2xx means the data was taken; only the optional partial_success is unreadable.
            self.log.warning("unreadable export response ignored", exporter=str(self.id), signal=str(signal), error=str(exc))
            return None
        return partial_success(signal, message, self.id, self.log)


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break  # a larger body is cut short; the connection is then not reused
    return b"".join(chunks)[:limit]
