"""The loadgen's OTLP senders: where a --protocol and --endpoint send to, and one transport per protocol
(gRPC, HTTP protobuf, HTTP JSON) that posts pre-built request bytes and reads back what was rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

if TYPE_CHECKING:
    from .options import Options


GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_RESPONSES: dict[str, type[trace_service_pb2.ExportTraceServiceResponse] | type[logs_service_pb2.ExportLogsServiceResponse]] = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}
_REJECTED_FIELD = {"traces": "rejected_spans", "logs": "rejected_log_records"}
_REJECTED_JSON_FIELD = {"traces": "rejectedSpans", "logs": "rejectedLogRecords"}


def resolve_endpoint(protocol: str, signal_name: str, endpoint: str | None) -> tuple[str, bool]:
    """Return (gRPC target or full HTTP URL, use TLS)."""
    if protocol == "grpc":
        target = endpoint or "127.0.0.1:4317"
        secure = target.startswith("https://")
        for scheme in ("http://", "https://", "grpc://"):
            if target.startswith(scheme):
                target = target[len(scheme):]
        return target.rstrip("/"), secure
    url = endpoint or "http://127.0.0.1:4318"
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    suffix = f"/v1/{signal_name}"
    if not path.endswith(suffix):
        path += suffix
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), parts.scheme == "https"


class Transport:
    async def start(self) -> None:
        pass

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        """-> (None, rejected items) on success, or (error label, 0)."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


class GrpcTransport(Transport):
    def __init__(self, target: str, secure: bool, signal_name: str, timeout: float) -> None:
        import grpc  # imported here so `--help` stays fast

        self._grpc = grpc
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        if secure:
            self._channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        # No (de)serializers: requests go out as the pre-built bytes, responses come back raw.
        self._call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self._channel.unary_unary(GRPC_METHODS[signal_name], request_serializer=None,
                                               response_deserializer=None)
        self._timeout = timeout
        self._response = _RESPONSES[signal_name]
        self._rejected_field = _REJECTED_FIELD[signal_name]

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        try:
            response = await self._call(payload, timeout=self._timeout)
        except self._grpc.aio.AioRpcError as exc:
            return exc.code().name, 0
        if not response:
            return None, 0
        partial = self._response.FromString(response).partial_success
        return None, getattr(partial, self._rejected_field)

    async def close(self) -> None:
        await self._channel.close()


class HttpTransport(Transport):
    def __init__(self, url: str, json_body: bool, signal_name: str, timeout: float, concurrency: int) -> None:
        self._url = url
        self._json = json_body
        content_type = "application/json" if json_body else "application/x-protobuf"
        self._headers = {"Content-Type": content_type}
        self._timeout = timeout
        self._concurrency = concurrency
        self._response = _RESPONSES[signal_name]
        self._rejected_field = _REJECTED_FIELD[signal_name]
        self._rejected_json = _REJECTED_JSON_FIELD[signal_name]
        self._session: Any = None

    async def start(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout),
                                              skip_auto_headers=("User-Agent",))

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        try:
            async with self._session.post(self._url, data=payload, headers=self._headers) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return "TIMEOUT", 0
        except self._aiohttp.ClientError as exc:
            return type(exc).__name__, 0
        if not 200 <= status < 300:
            return f"HTTP {status}", 0
        if not body:
            return None, 0
        try:
            if self._json:
                partial = orjson.loads(body).get("partialSuccess") or {}
                return None, int(partial.get(self._rejected_json, 0))
            return None, getattr(self._response.FromString(body).partial_success, self._rejected_field)
        except Exception:  # an unparsable 2xx body still means the data was accepted
            return None, 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_transport(opts: Options) -> Transport:
    target, secure = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
    if opts.protocol == "grpc":
        return GrpcTransport(target, secure, opts.signal, opts.timeout)
    return HttpTransport(target, opts.protocol == "http/json", opts.signal, opts.timeout, opts.concurrency)
