"""OTLP receiver: gRPC (TraceService/LogsService/MetricsService Export) and HTTP (/v1/traces, /v1/logs,
/v1/metrics, protobuf or JSON, optionally gzip/deflate). Behaviour follows the OTLP specification and
the OTel Collector's otlpreceiver: same status-code mapping, same partial_success reporting."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any

import grpc
import zstandard
from aiohttp import HttpVersion11, web
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2

from .. import otlpjson, pdata
from ..admission import Admission, Refused, count_items_on_wire, host_admission
from ..client import client_metadata, metadata_from_pairs
from ..component import ConsumeError, Consumer, Host, Receiver, Rejected, Settings, Signal
from ..config import ByteSize, Duration, Endpoint, Invalid, option
from ..envelope import Envelope
from ..httpserver import BodyReadTimeout, ConnectionLimits, serve
from ..registry import register
from .security import AuthConfig, BearerTokens, TLSConfig

GRPC_SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass
class GRPCConfig:
    endpoint: Endpoint = option(Endpoint("127.0.0.1:4317"), "Address to listen on; use 0.0.0.0:4317 to accept from other hosts.")
    max_recv_msg_size_mib: int = option(16, "Largest accepted request in MiB (after decompression). LLM spans with prompts can exceed 100 KB each, so the default is above gRPC's 4 MiB.")
    max_concurrent_streams: int = option(0, "Limit on concurrent RPCs per connection; 0 = gRPC's default.")
    tls: TLSConfig | None = option(None, "Serve TLS; with client_ca_file, require client certificates (mTLS).")
    auth: AuthConfig | None = option(None, "Require `authorization: Bearer <token>` metadata; others get UNAUTHENTICATED.")

    def validate(self) -> None:
        if self.max_recv_msg_size_mib <= 0:
            raise Invalid("must be a positive number of MiB", "max_recv_msg_size_mib")


@dataclass
class HTTPConfig:
    endpoint: Endpoint = option(Endpoint("127.0.0.1:4318"), "Address to listen on; use 0.0.0.0:4318 to accept from other hosts.")
    max_request_body_size: ByteSize = option(ByteSize(20 * 2**20), "Largest accepted body, checked both as sent and after decompression (so a gzip bomb gets 413).")
    traces_url_path: str = option("/v1/traces", "Path for traces.")
    logs_url_path: str = option("/v1/logs", "Path for logs.")
    metrics_url_path: str = option("/v1/metrics", "Path for metrics.")
    tls: TLSConfig | None = option(None, "Serve HTTPS; with client_ca_file, require client certificates (mTLS).")
    auth: AuthConfig | None = option(None, "Require `Authorization: Bearer <token>`; others get 401 before their body is read.")
    # otelcol's confighttp.ServerConfig timeouts, with NewDefaultServerConfig's defaults and Go's meaning.
    read_timeout: Duration = option(Duration(0.0), "otelcol: the longest a whole request (head and body) may take to arrive, from its first byte; a body still arriving then gets 408 and the connection closes. 0 = no limit.")
    read_header_timeout: Duration = option(Duration(60.0), "otelcol: the longest a request head may take to arrive, from its first byte (on a new connection, from the connect); then the connection is closed unanswered, so a client that sends half a request cannot hold it. 0 = read_timeout's value; both 0 = no limit.")
    write_timeout: Duration = option(Duration(30.0), "otelcol: the longest from a request's complete head to its response written, pipeline time included; then the connection is closed. 0 = no limit.")
    idle_timeout: Duration = option(Duration(60.0), "otelcol: how long a keep-alive connection may wait for its next request before it is closed. 0 = read_timeout's value; both 0 = no limit.")
    max_connections: int = option(0, "Open connections kept (not in otelcol). At the cap, a new connection closes those that have waited longest for a request; only when every connection has a request in progress is it closed at once (counted in llm_collector_receiver_refused_connections). 0 = a quarter of the process's open-file limit, 64 to 16,384, so stalled clients cannot exhaust file descriptors.")

    def validate(self) -> None:
        for key in ("traces_url_path", "logs_url_path", "metrics_url_path"):
            if not getattr(self, key).startswith("/"):
                raise Invalid('expected a path starting with "/"', key)
        if self.max_connections < 0:
            raise Invalid("must be 0 (derived from the open-file limit) or a positive number", "max_connections")

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            read_timeout=float(self.read_timeout),
            read_header_timeout=float(self.read_header_timeout),
            write_timeout=float(self.write_timeout),
            idle_timeout=float(self.idle_timeout),
            max_connections=self.max_connections,
        )


@dataclass
class ProtocolsConfig:
    grpc: GRPCConfig | None = option(None, "Enables the gRPC server (an empty `grpc:` uses the defaults).")
    http: HTTPConfig | None = option(None, "Enables the HTTP server (an empty `http:` uses the defaults).")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> ProtocolsConfig:
        # As in otelcol, a protocol is on when its key is present, even with no value under it.
        if value is None:
            value = {}
        if not isinstance(value, dict):
            decoder.error(path, "expected a mapping with grpc and/or http")
            return cls()
        for key in value:
            if key not in ("grpc", "http"):
                decoder.error(path + (key,), "unknown protocol (valid keys: grpc, http)")
        out = cls(
            grpc=decoder.decode(GRPCConfig, value["grpc"], path + ("grpc",)) if "grpc" in value else None,
            http=decoder.decode(HTTPConfig, value["http"], path + ("http",)) if "http" in value else None,
        )
        if out.grpc is None and out.http is None:
            decoder.error(path, "must enable at least one protocol (grpc or http)")
        return out


@dataclass
class OTLPReceiverConfig:
    protocols: ProtocolsConfig = option(factory=lambda: ProtocolsConfig(GRPCConfig(), HTTPConfig()), doc="`grpc` and/or `http`.")


def _reject_invalid_spans(req: Any) -> Rejected | None:
    """A span needs a 16-byte trace id and an 8-byte span id, not all zero (OTLP trace.proto). Such spans
    are refused individually, so the rest of the request still goes through."""
    bad = 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            spans = ss.spans
            invalid = [i for i, span in enumerate(spans) if not _valid_ids(span.trace_id, span.span_id)]
            for i in reversed(invalid):
                del spans[i]
            bad += len(invalid)
    if bad:
        _prune(req.resource_spans, "scope_spans", "spans")
        return Rejected(bad, f"{bad} span(s) with an invalid trace_id or span_id (need 16 and 8 bytes, not all zero)")
    return None


def _valid_ids(trace_id: bytes, span_id: bytes) -> bool:
    return len(trace_id) == 16 and len(span_id) == 8 and trace_id != _ZERO16 and span_id != _ZERO8


_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


def _reject_invalid_logs(req: Any) -> Rejected | None:
    """Log correlation ids are optional, but when present they must have the right length."""
    bad = 0
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            records = sl.log_records
            invalid = [i for i, r in enumerate(records) if len(r.trace_id) not in (0, 16) or len(r.span_id) not in (0, 8)]
            for i in reversed(invalid):
                del records[i]
            bad += len(invalid)
    if bad:
        _prune(req.resource_logs, "scope_logs", "log_records")
        return Rejected(bad, f"{bad} log record(s) with a trace_id or span_id of the wrong length (need 16 and 8 bytes)")
    return None


def _prune(resources: Any, scopes_field: str, items_field: str) -> None:
    """Drop the scopes and resources that validation left empty, so exporters do not write husks.
    Only called after something was removed; a scope the client sent empty is also dropped."""
    for r in reversed(range(len(resources))):
        scopes = getattr(resources[r], scopes_field)
        for s in reversed(range(len(scopes))):
            if not len(getattr(scopes[s], items_field)):
                del scopes[s]
        if not len(scopes):
            del resources[r]


_VALIDATORS = {Signal.TRACES: _reject_invalid_spans, Signal.LOGS: _reject_invalid_logs}


class _Intake:
    """Shared by both transports for one signal: validate, push into the pipeline, count the outcome."""

    def __init__(self, receiver: OTLPReceiver, signal: Signal, consumer: Consumer, transport: str):
        self.signal = signal
        self.consumer = consumer
        self.log = receiver.log
        self.counters = receiver.telemetry.receiver_counters(receiver.id, transport, signal)
        self.validate = _VALIDATORS.get(signal)

    async def push(self, data: Any, payload: bytes | None = None) -> Rejected | None:
        """`payload`: the protobuf bytes `data` was decoded from, handed on in its envelope."""
        total = pdata.count_items(self.signal, data)
        invalid = self.validate(data) if self.validate is not None else None
        if invalid is not None:
            self.counters.refused.inc(invalid.count)
            total -= invalid.count
        if total == 0:
            # Like otelcol's receiver: an empty request (or one whose every item was refused above)
            # is answered without entering the pipeline, which would otherwise write an empty record.
            return invalid
        # Validation removed nothing: the bytes are this request's (a sender's encoding, not necessarily upb's).
        envelope = Envelope(self.signal, data, payload if invalid is None else None)
        try:
            result = await self.consumer.consume(envelope)
        except ConsumeError:
            self.counters.refused.inc(total)
            raise
        except Exception:
            self.counters.failed.inc(total)
            raise
        if result is not None and result.count:
            self.counters.refused.inc(result.count)
            total -= result.count
        self.counters.accepted.inc(total)
        return Rejected.combine([invalid, result])


@register
class OTLPReceiver(Receiver):
    type_name = "otlp"
    description = "Receives OTLP over gRPC (4317) and HTTP (4318): protobuf and JSON, gzip, partial_success."
    config_class = OTLPReceiverConfig

    def __init__(self, settings: Settings, config: OTLPReceiverConfig, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config, consumers)
        self._grpc_server: grpc.aio.Server | None = None
        self._http_runner: web.AppRunner | None = None
        self._grace = 5.0
        self._admission = Admission()  # the service's, from start(): memory reserved before decoding
        self.grpc_port: int | None = None

    async def start(self, host: Host) -> None:
        self._grace = max(0.5, float(getattr(host, "shutdown_grace", 5.0)))
        self._admission = host_admission(host) or Admission()
        protocols = self.config.protocols
        if protocols.grpc is not None:
            await self._start_grpc(protocols.grpc)
        if protocols.http is not None:
            try:
                await self._start_http(protocols.http)
            except Exception:
                if self._grpc_server is not None:
                    await self._grpc_server.stop(None)
                raise

    async def shutdown(self) -> None:
        tasks = []
        if self._grpc_server is not None:
            tasks.append(self._grpc_server.stop(self._grace))
        if self._http_runner is not None:
            tasks.append(self._http_runner.cleanup())
        await asyncio.gather(*tasks)
        self._grpc_server = None
        self._http_runner = None

    # gRPC -------------------------------------------------------------------------------------
    async def _start_grpc(self, cfg: GRPCConfig) -> None:
        limit = cfg.max_recv_msg_size_mib * 2**20
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 4 * 2**20),
            # Without this, Linux lets a second daemon bind the same port and silently split traffic.
            ("grpc.so_reuseport", 0),
        ]
        if cfg.max_concurrent_streams:
            options.append(("grpc.max_concurrent_streams", cfg.max_concurrent_streams))
        interceptors = [_BearerInterceptor(BearerTokens(cfg.auth))] if cfg.auth is not None else []
        server = grpc.aio.server(options=options, interceptors=interceptors)
        for signal, consumer in self.consumers.items():
            intake = _Intake(self, signal, consumer, "grpc")
            handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(self._grpc_handler(intake))
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(GRPC_SERVICES[signal], {"Export": handler}),))
        try:
            if cfg.tls is not None:
                port = server.add_secure_port(str(cfg.endpoint), cfg.tls.grpc_credentials())
            else:
                port = server.add_insecure_port(str(cfg.endpoint))
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): {exc}") from None
        if port == 0:
            raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): address in use or not available")
        await server.start()
        self._grpc_server = server
        self.grpc_port = port
        self.log.info("OTLP gRPC server listening", endpoint=str(cfg.endpoint), signals=sorted(self.consumers), tls=_tls_mode(cfg.tls), auth=cfg.auth is not None)

    def _grpc_handler(self, intake: _Intake) -> Any:
        request_type = pdata.REQUEST_TYPES[intake.signal]
        signal = intake.signal

        # Raw bytes in (no deserializer) so a malformed message is our INVALID_ARGUMENT with a reason,
        # not gRPC's generic INTERNAL deserialization failure.
        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            admission = self._admission
            cost = 0
            if admission.gates:
                try:
                    cost = admission.reserve(len(request), signal, request)
                except Refused as exc:
                    intake.counters.refused.inc(exc.items)
                    del request  # not through the refusal's round trip
                    code = grpc.StatusCode.UNAVAILABLE
                    await context.abort(code, str(exc), _retry_trailer(code, str(exc), exc.retry_after))
            try:
                return await handle(request, context)
            finally:
                if cost:
                    admission.release(cost)

        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                message = request_type.FromString(request)
            except DecodeError as exc:
                intake.log.debug("malformed gRPC request", signal=signal, error=str(exc))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot decode {request_type.__name__}: {exc}")
            client_metadata.set(metadata_from_pairs(context.invocation_metadata() or ()))
            failure = None
            try:
                rejected = await intake.push(message, request)
            except ConsumeError as exc:
                code = grpc.StatusCode.UNAVAILABLE if exc.retryable else grpc.StatusCode.INVALID_ARGUMENT
                failure = (code, str(exc), _retry_trailer(code, str(exc), exc.retry_after))
            except Exception as exc:
                intake.log.error("pipeline failed", signal=signal, error=repr(exc), exc_info=True)
                failure = (grpc.StatusCode.INTERNAL, f"internal error: {exc!r}", ())
            if failure is not None:
                # Sending the refusal takes a round trip: the request (parsed and raw) must not live
                # through it, or under overload every refused request in flight stays in memory.
                del message, request
                await context.abort(*failure)
            return pdata.response_bytes(signal, rejected)

        return export

    # HTTP -------------------------------------------------------------------------------------
    async def _start_http(self, cfg: HTTPConfig) -> None:
        app = web.Application(client_max_size=int(cfg.max_request_body_size) + 1)
        paths = {Signal.TRACES: cfg.traces_url_path, Signal.LOGS: cfg.logs_url_path, Signal.METRICS: cfg.metrics_url_path}
        for signal, consumer in self.consumers.items():
            intake = _Intake(self, signal, consumer, "http")
            tokens = BearerTokens(cfg.auth) if cfg.auth is not None else None
            handle, expect = self._http_handler(intake, int(cfg.max_request_body_size), tokens)
            app.router.add_route("*", paths[signal], handle, expect_handler=expect)
        ssl_context = cfg.tls.ssl_context() if cfg.tls is not None else None
        # Decompression is done by hand so the size limit applies to the inflated body too.
        self._http_runner = await serve(
            app,
            cfg.endpoint,
            limits=cfg.connection_limits(),
            log=self.log,
            counters=self.telemetry.connection_counters(self.id, "http"),
            shutdown_timeout=self._grace,
            auto_decompress=False,
            ssl_context=ssl_context,
        )
        self.log.info("OTLP HTTP server listening", endpoint=str(cfg.endpoint), signals=sorted(self.consumers), tls=_tls_mode(cfg.tls), auth=cfg.auth is not None)

    def _http_handler(self, intake: _Intake, limit: int, tokens: BearerTokens | None) -> tuple[Any, Any]:
        """The route's handler, and its `Expect: 100-continue` handler: both refuse from the headers alone."""
        signal = intake.signal
        request_type = pdata.REQUEST_TYPES[signal]

        def refusal(request: web.Request) -> web.Response | None:
            """The answer the headers alone decide (auth first), before any body byte is read."""
            if tokens is not None and not tokens.allows(request.headers.get("Authorization")):
                # An unauthenticated client costs no reading and no decoding.
                return web.Response(status=401, text="401 missing or invalid bearer token", headers={"WWW-Authenticate": 'Bearer realm="otlp"'})
            if request.method != "POST":
                return web.Response(status=405, text="405 method not allowed, supported: [POST]", headers={"Allow": "POST"})
            ctype = request.content_type.lower()
            if ctype not in (PROTOBUF, JSON):
                # aiohttp reports a missing header as application/octet-stream; say what really happened.
                what = repr(ctype) if "Content-Type" in request.headers else "(no Content-Type header)"
                return web.Response(status=415, text=f"415 unsupported media type {what}, supported: [{JSON}, {PROTOBUF}]")
            if request.content_length is not None and request.content_length > limit:
                return _status_response(ctype, 413, code_pb2.RESOURCE_EXHAUSTED, f"request body of {request.content_length} bytes exceeds max_request_body_size {limit}")
            return None

        async def expect(request: web.Request) -> web.Response | None:
            # `Expect: 100-continue` invites the body; a request the headers already refuse gets its answer
            # instead of the invitation (as Go's net/http, which sends 100 only when the handler reads).
            refused = refusal(request)
            if refused is not None:
                return refused
            if request.version == HttpVersion11:
                if request.headers.get("Expect", "").lower() != "100-continue":
                    return web.Response(status=417, text="417 expectation failed: only 100-continue is supported")
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # the 100 is not part of the response proper
            return None

        async def handle(request: web.Request) -> web.StreamResponse:
            refused = refusal(request)
            if refused is not None:
                return refused
            ctype = request.content_type.lower()
            admission = self._admission
            if not admission.gates:
                return await handle_admitted(request, ctype, None)
            # Memory for the request is reserved before its body is read, from Content-Length. A refused
            # body up to _COUNTED_UNREAD is read to count its items as refused (cheap, and the accounting stays
            # exact); a larger one is refused unread, counted only in the limiter's refused bytes.
            held = [0]
            try:
                held[0] = admission.reserve(request.content_length or 0)
            except Refused as exc:
                if ctype == PROTOBUF and (request.content_length or 0) <= _COUNTED_UNREAD and "Content-Encoding" not in request.headers:
                    try:
                        body = await _read_body(request, limit)
                    except _HTTPProblem:
                        body = b""
                    refused = count_items_on_wire(signal, body)
                    intake.counters.refused.inc(refused)
                    exc.gate.refused(refused)
                return _unavailable(ctype, exc)
            try:
                return await handle_admitted(request, ctype, held)
            finally:
                admission.release(held[0])

        async def handle_admitted(request: web.Request, ctype: str, held: list[int] | None) -> web.StreamResponse:
            try:
                body = await _read_body(request, limit)
                body = _decompress(body, request.headers.get("Content-Encoding", ""), limit)
            except _HTTPProblem as problem:
                response = _status_response(ctype, problem.status, problem.code, problem.message)
                if problem.status == 408:
                    response.force_close()
                return response
            extra = len(body) - (request.content_length or 0)
            if held is not None and extra > 0:
                # A body of unknown length, or one that inflated: the rest is reserved now, before decoding.
                try:
                    held[0] += self._admission.reserve(extra, signal, body if ctype == PROTOBUF else None)
                except Refused as exc:
                    intake.counters.refused.inc(exc.items)
                    del body
                    return _unavailable(ctype, exc)
            try:
                message = otlpjson.decode(signal, body) if ctype == JSON else request_type.FromString(body)
            except (DecodeError, otlpjson.OTLPJSONError) as exc:
                intake.log.debug("malformed HTTP request", signal=signal, error=str(exc))
                what = "JSON" if ctype == JSON else "protobuf"
                return _status_response(ctype, 400, code_pb2.INVALID_ARGUMENT, f"cannot decode {what} {request_type.__name__}: {exc}")
            client_metadata.set(metadata_from_pairs(request.headers.items()))
            try:
                rejected = await intake.push(message, body if ctype == PROTOBUF else None)
            except ConsumeError as exc:
                if not exc.retryable:
                    return _status_response(ctype, 400, code_pb2.INVALID_ARGUMENT, str(exc))
                return _unavailable(ctype, exc)
            except Exception as exc:
                intake.log.error("pipeline failed", signal=signal, error=repr(exc), exc_info=True)
                return _status_response(ctype, 500, code_pb2.INTERNAL, f"internal error: {exc!r}")
            if ctype == JSON:
                return web.Response(body=otlpjson.encode_response(pdata.response_message(signal, rejected)), content_type=JSON)
            return web.Response(body=pdata.response_bytes(signal, rejected), content_type=PROTOBUF)

        return handle, expect


def _tls_mode(tls: TLSConfig | None) -> str:
    if tls is None:
        return "off"
    return "mtls" if tls.client_ca_file else "tls"


class _BearerInterceptor(grpc.aio.ServerInterceptor):
    """Checks `authorization` metadata before any handler decodes the request."""

    def __init__(self, tokens: BearerTokens):
        self.tokens = tokens

        async def deny(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
            return b""

        self.deny: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        for key, value in details.invocation_metadata or ():
            if key == "authorization" and isinstance(value, str) and self.tokens.allows(value):
                return await continuation(details)
        return self.deny


class _HTTPProblem(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, within max_request_body_size. The listener bounds the wait (read_timeout: 408); a connection
    that is gone (the client left, or write_timeout closed it) ends the request quietly: no one hears an answer."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise _HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"request body exceeds max_request_body_size {limit}")
            chunks.append(chunk)
    except BodyReadTimeout as exc:
        raise _HTTPProblem(408, code_pb2.DEADLINE_EXCEEDED, str(exc)) from None
    except ConnectionError:
        raise _HTTPProblem(400, code_pb2.CANCELLED, "connection lost while reading the request body") from None
    return b"".join(chunks)


_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15, "zlib": 15}


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "zstd":
        return _unzstd(body, limit)
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise _HTTPProblem(415, code_pb2.INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r} (supported: gzip, deflate, zstd)")
    out = bytearray()
    data = body
    try:
        while data:
            d = zlib.decompressobj(wbits)
            # max_length bounds memory: a bomb stops at limit+1 bytes instead of inflating fully.
            out += d.decompress(data, limit + 1 - len(out))
            if len(out) > limit or d.unconsumed_tail:
                raise _HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"decompressed body exceeds max_request_body_size {limit}")
            if not d.eof:
                raise _HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"truncated {encoding} body")
            data = d.unused_data  # gzip allows several concatenated members
    except zlib.error as exc:
        raise _HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid {encoding} body: {exc}") from None
    return bytes(out)


# A zstd block inflates to at most 128 KiB from a few bytes of input. Feeding the decoder no more input
# than (room left / this) bounds what one call can produce, since zstandard's decompressobj has no
# max_length; its stream_reader does, but it silently returns a truncated frame's data as complete.
_ZSTD_WORST_RATIO = 1 << 16


def _unzstd(body: bytes, limit: int) -> bytes:
    out = bytearray()
    view = memoryview(body)
    pos = 0
    try:
        decoder = zstandard.ZstdDecompressor().decompressobj()
        while pos < len(view):
            step = max(64, (limit + 1 - len(out)) // _ZSTD_WORST_RATIO)
            out += decoder.decompress(view[pos : pos + step])
            pos += step
            if len(out) > limit:
                raise _HTTPProblem(413, code_pb2.RESOURCE_EXHAUSTED, f"decompressed body exceeds max_request_body_size {limit}")
            if decoder.eof:
                # Concatenated frames are one valid stream; whatever follows a frame starts the next one.
                rest = decoder.unused_data
                view = memoryview(rest + bytes(view[pos:])) if rest else view[pos:]
                pos = 0
                if len(view):
                    decoder = zstandard.ZstdDecompressor().decompressobj()
        if not decoder.eof:
            raise _HTTPProblem(400, code_pb2.INVALID_ARGUMENT, "truncated zstd body")
    except zstandard.ZstdError as exc:
        raise _HTTPProblem(400, code_pb2.INVALID_ARGUMENT, f"invalid zstd body: {exc}") from None
    return bytes(out)


def _status_response(ctype: str, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """OTLP/HTTP: error bodies are a google.rpc.Status in the request's encoding."""
    st = status_pb2.Status(code=code, message=message)
    if ctype == JSON:
        return web.Response(status=status, body=otlpjson.encode_response(st), content_type=JSON, headers=headers)
    return web.Response(status=status, body=st.SerializeToString(), content_type=PROTOBUF, headers=headers)


_COUNTED_UNREAD = 1 << 20


def _unavailable(ctype: str, exc: ConsumeError) -> web.Response:
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
    return _status_response(ctype, 503, code_pb2.UNAVAILABLE, str(exc), headers)


def _retry_trailer(code: grpc.StatusCode, message: str, retry_after: float | None) -> tuple[tuple[str, bytes], ...]:
    """RetryInfo in grpc-status-details-bin, which OTLP exporters honour as the back-off delay."""
    if not retry_after:
        return ()
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromNanoseconds(int(retry_after * 1e9))
    st = status_pb2.Status(code=code.value[0], message=message)
    st.details.add().Pack(info)
    return (("grpc-status-details-bin", st.SerializeToString()),)

