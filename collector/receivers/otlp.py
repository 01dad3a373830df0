"""OTLP receiver: gRPC (TraceService/LogsService/MetricsService Export) and HTTP (/v1/traces, /v1/logs,
/v1/metrics, protobuf or JSON, optionally gzip/deflate). Behaviour follows the OTLP specification and
the OTel Collector's otlpreceiver: same status-code mapping, same partial_success reporting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2

from .. import pdata
from ..admission import READ_WAIT_SECONDS, Admission, Hold, Refused, host_admission
from ..client import client_address, client_metadata, metadata_from_pairs, peer_ip
from ..component import ComponentID, ConsumeError, Consumer, Host, Receiver, Rejected, Settings, Signal
from ..config import ByteSize, Duration, Endpoint, Invalid, option
from ..envelope import Envelope
from ..extensions.auth import SERVER, check_reference
from ..grpc_options import BUFFER_SIZE_REASON, ServerKeepaliveConfig
from ..lazyimport import lazy
from ..registry import register
from ..serverlimits import ServerLimits
from ..wire.count import count_items
from .cors import CORS, CORSConfig
from .otlp_validate import VALIDATORS
from .security import AuthConfig, RequestAuth, TLSConfig

if TYPE_CHECKING:
    import aiohttp
    import grpc
    from aiohttp import web

    from .. import httpserver, otlpjson
    from . import bodies, grpcauth
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp, grpc, web = lazy("aiohttp"), lazy("grpc"), lazy("aiohttp.web")
    httpserver, otlpjson = lazy("collector.httpserver"), lazy("collector.otlpjson")
    bodies, grpcauth = lazy("collector.receivers.bodies"), lazy("collector.receivers.grpcauth")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# Bytes of a gRPC request its client may send before the receiver reads it (HTTP/2 stream window) when a
# memory_limiter gates reading: a request up to this size arrives in one flight.
GRPC_LOOKAHEAD = 1 << 20


@dataclass
class GRPCConfig:
    endpoint: Endpoint = option(Endpoint("127.0.0.1:4317"), "Address to listen on; use 0.0.0.0:4317 to accept from other hosts. With `transport: unix`, the socket's path.")
    transport: Literal["tcp", "unix"] = option("tcp", "otelcol's confignet transport: `unix` serves on the Unix socket `endpoint` names (removed again at shutdown).")
    max_recv_msg_size_mib: int = option(16, "Largest accepted request in MiB (after decompression). LLM spans with prompts can exceed 100 KB each, so the default is above gRPC's 4 MiB.")
    max_concurrent_streams: int = option(0, "Limit on concurrent RPCs per connection; 0 = gRPC's default.")
    tls: TLSConfig | None = option(None, "Serve TLS; with client_ca_file, require client certificates (mTLS).")
    auth: AuthConfig | None = option(None, "Authenticate each call's metadata with an `authenticator` extension (otelcol's) or this receiver's own `bearer_tokens`; others get UNAUTHENTICATED before their request is read.")
    keepalive: ServerKeepaliveConfig | None = option(None, "otelcol's keepalive: server_parameters and enforcement_policy, as gRPC core arguments.")
    include_metadata: bool = option(True, "Carry the request's metadata with its data (for batch's metadata_keys). otelcol's default is false; here it is on unless set to false.")
    read_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")
    write_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")

    def validate(self) -> None:
        if self.max_recv_msg_size_mib <= 0:
            raise Invalid("must be a positive number of MiB", "max_recv_msg_size_mib")


@dataclass
class HTTPConfig(ServerLimits):
    endpoint: Endpoint = option(Endpoint("127.0.0.1:4318"), "Address to listen on; use 0.0.0.0:4318 to accept from other hosts. With `transport: unix`, the socket's path.")
    transport: Literal["tcp", "unix"] = option("tcp", "otelcol's confignet transport: `unix` serves on the Unix socket `endpoint` names (removed again at shutdown).")
    max_request_body_size: ByteSize = option(ByteSize(20 * 2**20), "Largest accepted body, checked both as sent and after decompression (so a gzip bomb gets 413).")
    traces_url_path: str = option("/v1/traces", "Path for traces.")
    logs_url_path: str = option("/v1/logs", "Path for logs.")
    metrics_url_path: str = option("/v1/metrics", "Path for metrics.")
    tls: TLSConfig | None = option(None, "Serve HTTPS; with client_ca_file, require client certificates (mTLS).")
    auth: AuthConfig | None = option(None, "Authenticate each request's headers with an `authenticator` extension (otelcol's) or this receiver's own `bearer_tokens`; others get 401 before their body is read.")
    # otelcol's confighttp.ServerConfig timeouts, with NewDefaultServerConfig's defaults and Go's meaning.
    read_timeout: Duration = option(Duration(0.0), "otelcol: the longest a whole request (head and body) may take to arrive, from its first byte; a body still arriving then gets 408 and the connection closes. 0 = no limit.")
    read_header_timeout: Duration = option(Duration(60.0), "otelcol: the longest a request head may take to arrive, from its first byte (on a new connection, from the connect); then the connection is closed unanswered, so a client that sends half a request cannot hold it. 0 = read_timeout's value; both 0 = no limit.")
    write_timeout: Duration = option(Duration(30.0), "otelcol: the longest from a request's complete head to its response written, pipeline time included; then the connection is closed. 0 = no limit.")
    idle_timeout: Duration = option(Duration(60.0), "otelcol: how long a keep-alive connection may wait for its next request before it is closed. 0 = read_timeout's value; both 0 = no limit.")
    include_metadata: bool = option(True, "Carry the request's headers with its data (for batch's metadata_keys). otelcol's default is false; here it is on unless set to false.")
    cors: CORSConfig | None = option(None, "otelcol's CORS for browser apps: allowed_origins, allowed_headers, exposed_headers, max_age (with credentials, as otelcol).")
    max_connections: int = option(0, "Open connections kept (not in otelcol). At the cap, a new connection closes those that have waited longest for a request; only when every connection has a request in progress is it closed at once (counted in llm_collector_receiver_refused_connections). 0 = a quarter of the process's open-file limit, 64 to 16,384, so stalled clients cannot exhaust file descriptors.")

    def validate(self) -> None:
        for key in ("traces_url_path", "logs_url_path", "metrics_url_path"):
            if not getattr(self, key).startswith("/"):
                raise Invalid('expected a path starting with "/"', key)
        if self.max_connections < 0:
            raise Invalid("must be 0 (derived from the open-file limit) or a positive number", "max_connections")


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
            grpc=_decode_protocol(decoder, GRPCConfig, value["grpc"], path + ("grpc",)) if "grpc" in value else None,
            http=_decode_protocol(decoder, HTTPConfig, value["http"], path + ("http",)) if "http" in value else None,
        )
        if out.grpc is None and out.http is None:
            decoder.error(path, "must enable at least one protocol (grpc or http)")
        return out


def _decode_protocol(decoder: Any, cls: type, value: Any, path: tuple) -> Any:
    """One protocol's keys. With `transport: unix` the endpoint is a socket path, not host:port: it is taken
    aside before the keys are decoded and put back as it is."""
    if not isinstance(value, dict) or value.get("transport") != "unix":
        return decoder.decode(cls, value, path)
    value = dict(value)
    socket_path = value.pop("endpoint", None)
    out = decoder.decode(cls, value, path)
    if not isinstance(socket_path, str) or not socket_path.strip():
        decoder.error(path + ("endpoint",), "transport unix needs endpoint: the path of the Unix socket to serve on")
    else:
        out.endpoint = Endpoint(socket_path)
    return out


@dataclass
class OTLPReceiverConfig:
    protocols: ProtocolsConfig = option(factory=lambda: ProtocolsConfig(GRPCConfig(), HTTPConfig()), doc="`grpc` and/or `http`.")


class _Intake:
    """Shared by both transports for one signal: validate, push into the pipeline, count the outcome."""

    def __init__(self, receiver: OTLPReceiver, signal: Signal, consumer: Consumer, transport: str):
        self.signal = signal
        self.consumer = consumer
        self.log = receiver.log
        self.counters = receiver.telemetry.receiver_counters(receiver.id, transport, signal)
        self.refused_uncounted = receiver.telemetry.counter(
            "llm_collector_receiver_refused_uncounted_requests",
            "Requests refused before their items could be counted (collector/admission.py): gRPC requests that waited too long "
            "for their turn to be read, HTTP JSON bodies too large to decode for a count.", ("receiver", "transport"),
        ).labels(str(receiver.id), transport)
        self.validate = VALIDATORS.get(signal)

    def refuse(self, refusal: Refused, items: int | None) -> None:
        """Counts a request refused before it was decoded, in the receiver and in the gate that refused it."""
        if items is None:
            self.refused_uncounted.inc()
            return
        self.counters.refused.inc(items)
        refusal.count(items)

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

    @classmethod
    def ineffective_keys(cls, config: OTLPReceiverConfig) -> list[tuple[str, str]]:
        grpc_cfg = config.protocols.grpc
        if grpc_cfg is None:
            return []
        return [(f"protocols.grpc.{key}", BUFFER_SIZE_REASON) for key in ("read_buffer_size", "write_buffer_size") if getattr(grpc_cfg, key) is not None]

    @classmethod
    def validate_references(cls, id: ComponentID, config: OTLPReceiverConfig, extensions: dict[ComponentID, Any], enabled: list[ComponentID]) -> list[tuple[tuple[str, ...], str]]:
        problems = []
        for name, protocol in (("grpc", config.protocols.grpc), ("http", config.protocols.http)):
            if protocol is not None and protocol.auth is not None:
                problems += check_reference(protocol.auth.authenticator, SERVER, ("protocols", name, "auth", "authenticator"), extensions, enabled)
        return problems

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
            await self._start_grpc(protocols.grpc, host)
        if protocols.http is not None:
            try:
                await self._start_http(protocols.http, host)
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
    async def _start_grpc(self, cfg: GRPCConfig, host: Host) -> None:
        limit = cfg.max_recv_msg_size_mib * 2**20
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 4 * 2**20),
            # Without this, Linux lets a second daemon bind the same port and silently split traffic.
            ("grpc.so_reuseport", 0),
        ]
        if self._admission.gates:
            # With a memory_limiter a message is read only when the handler asks for it (_grpc_gated_handler), so
            # until admission lets it be read an unread request holds only what HTTP/2 flow control lets the
            # client send ahead. gRPC's BDP probing would raise that window towards the link's bandwidth-delay
            # product (MiBs per stream); fixed, it is the lookahead.
            options += [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", GRPC_LOOKAHEAD)]
        if cfg.max_concurrent_streams:
            options.append(("grpc.max_concurrent_streams", cfg.max_concurrent_streams))
        if cfg.keepalive is not None:
            options += cfg.keepalive.options()
        interceptors = [grpcauth.AuthInterceptor(RequestAuth(cfg.auth, host))] if cfg.auth is not None else []
        server = grpc.aio.server(options=options, interceptors=interceptors)
        for signal, consumer in self.consumers.items():
            intake = _Intake(self, signal, consumer, "grpc")
            handler: grpc.RpcMethodHandler[bytes, bytes] = (
                grpc.stream_unary_rpc_method_handler(self._grpc_gated_handler(intake, limit, cfg.include_metadata)) if self._admission.gates
                else grpc.unary_unary_rpc_method_handler(self._grpc_handler(intake, cfg.include_metadata))
            )
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(pdata.GRPC_SERVICES[signal], {"Export": handler}),))
        address = f"unix:{cfg.endpoint}" if cfg.transport == "unix" else str(cfg.endpoint)
        try:
            if cfg.tls is not None:
                port = server.add_secure_port(address, cfg.tls.grpc_credentials())
            else:
                port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): {exc}") from None
        if port == 0:
            raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): address in use or not available")
        await server.start()
        self._grpc_server = server
        self.grpc_port = port
        self.log.info("OTLP gRPC server listening", endpoint=str(cfg.endpoint), signals=sorted(self.consumers), tls=_tls_mode(cfg.tls), auth=cfg.auth is not None)

    def _grpc_handler(self, intake: _Intake, include_metadata: bool) -> Any:
        """Export with the message in hand (read by gRPC before the handler runs): decode, push, answer."""
        request_type = pdata.REQUEST_TYPES[intake.signal]
        signal = intake.signal

        # Raw bytes in (no deserializer) so a malformed message is our INVALID_ARGUMENT with a reason,
        # not gRPC's generic INTERNAL deserialization failure.
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                message = request_type.FromString(request)
            except DecodeError as exc:
                intake.log.debug("malformed gRPC request", signal=signal, error=str(exc))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot decode {request_type.__name__}: {exc}")
            if include_metadata:
                client_metadata.set(metadata_from_pairs(context.invocation_metadata() or ()))
            client_address.set(peer_ip(context.peer() or ""))
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

        return handle

    def _grpc_gated_handler(self, intake: _Intake, limit: int, include_metadata: bool) -> Any:
        """Export served as a client stream of one message, read only once admission lets it be
        (collector/admission.py): the read holds the largest message it may be until its real size is known."""
        request_type = pdata.REQUEST_TYPES[intake.signal]
        signal = intake.signal
        handle = self._grpc_handler(intake, include_metadata)
        admission = self._admission

        async def export(messages: Any, context: grpc.aio.ServicerContext) -> bytes:
            remaining = context.time_remaining()
            wait = READ_WAIT_SECONDS if remaining is None else max(0.0, min(READ_WAIT_SECONDS, remaining / 2))
            try:
                held = await admission.start_read(limit, wait)
            except Refused as exc:
                intake.refuse(exc, None)
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc), _retry_trailer(grpc.StatusCode.UNAVAILABLE, str(exc), exc.retry_after))
            request = b""
            try:
                request = await context.read()
                if not isinstance(request, bytes):  # the client closed its side without a message
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no {request_type.__name__} message in the request")
            finally:
                admission.end_read(held, len(request) if isinstance(request, bytes) else 0)
            size = len(request)
            try:
                cost = admission.reserve(size)
            except Refused as exc:
                intake.refuse(exc, count_items(signal, request))
                del request  # not through the refusal's round trip
                admission.dropped(size)
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc), _retry_trailer(grpc.StatusCode.UNAVAILABLE, str(exc), exc.retry_after))
            try:
                return await handle(request, context)
            finally:
                del request
                admission.release(cost)
                admission.dropped(size)

        return export

    # HTTP -------------------------------------------------------------------------------------
    async def _start_http(self, cfg: HTTPConfig, host: Host) -> None:
        middlewares = [CORS(cfg.cors).middleware()] if cfg.cors is not None and cfg.cors.allowed_origins else []
        app = web.Application(client_max_size=int(cfg.max_request_body_size) + 1, middlewares=middlewares)
        paths = {Signal.TRACES: cfg.traces_url_path, Signal.LOGS: cfg.logs_url_path, Signal.METRICS: cfg.metrics_url_path}
        auth = RequestAuth(cfg.auth, host) if cfg.auth is not None else None
        for signal, consumer in self.consumers.items():
            intake = _Intake(self, signal, consumer, "http")
            handle, expect = self._http_handler(intake, int(cfg.max_request_body_size), auth, cfg.include_metadata)
            app.router.add_route("*", paths[signal], handle, expect_handler=expect)
        ssl_context = cfg.tls.ssl_context() if cfg.tls is not None else None
        # Decompression is done by hand so the size limit applies to the inflated body too.
        self._http_runner = await httpserver.serve(
            app,
            cfg.endpoint,
            limits=cfg.connection_limits(),
            log=self.log,
            counters=self.telemetry.connection_counters(self.id, "http"),
            shutdown_timeout=self._grace,
            auto_decompress=False,
            ssl_context=ssl_context,
            unix_socket=str(cfg.endpoint) if cfg.transport == "unix" else None,
        )
        self.log.info("OTLP HTTP server listening", endpoint=str(cfg.endpoint), signals=sorted(self.consumers), tls=_tls_mode(cfg.tls), auth=cfg.auth is not None)

    def _http_handler(self, intake: _Intake, limit: int, auth: RequestAuth | None, include_metadata: bool) -> tuple[Any, Any]:
        """The route's handler, and its `Expect: 100-continue` handler: both refuse from the headers alone."""
        signal = intake.signal
        request_type = pdata.REQUEST_TYPES[signal]

        async def refusal(request: web.Request) -> web.Response | None:
            """The answer the headers alone decide (auth first), before any body byte is read."""
            if auth is not None and not await auth.allows(request.headers.items()):
                # An unauthenticated client costs no reading and no decoding.
                return _unauthenticated(auth)
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
            refused = await refusal(request)
            if refused is not None:
                return refused
            if request.version == aiohttp.HttpVersion11:
                if request.headers.get("Expect", "").lower() != "100-continue":
                    return web.Response(status=417, text="417 expectation failed: only 100-continue is supported")
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # the 100 is not part of the response proper
            return None

        async def handle(request: web.Request) -> web.StreamResponse:
            refused = await refusal(request)
            if refused is not None:
                return refused
            ctype = request.content_type.lower()
            if not self._admission.gates:
                return await handle_body(request, ctype, None)
            # The request's memory is reserved from Content-Length before its body is read (the rest, if it is
            # longer or inflates, as it comes): a refused body is drained and counted, never held.
            hold = Hold(self._admission)
            encoding = request.headers.get("Content-Encoding", "")
            try:
                try:
                    hold.grow_to(bodies.expected_size(request.content_length or 0, encoding, limit))
                except Refused as exc:
                    return await refuse(request, ctype, exc, bodies.Drain(signal, ctype == JSON, encoding, limit))
                return await handle_body(request, ctype, hold)
            except bodies.HTTPProblem as problem:
                return _problem_response(ctype, problem)
            finally:
                hold.release()

        async def refuse(request: web.Request, ctype: str, exc: Refused, sink: bodies.Drain, chunks: tuple[bytes, ...] = ()) -> web.Response:
            await bodies.drain(request, sink, chunks)
            intake.refuse(exc, sink.items())
            self._admission.dropped(sink.inflated)
            return _unavailable(ctype, exc)

        async def handle_body(request: web.Request, ctype: str, hold: Hold | None) -> web.StreamResponse:
            encoding = request.headers.get("Content-Encoding", "")
            try:
                bodies.check_encoding(encoding)
                try:
                    body = await bodies.read_body(request, limit, hold)
                except bodies.BodyRefused as cut:
                    return await refuse(request, ctype, cut.refusal, bodies.Drain(signal, ctype == JSON, encoding, limit), tuple(cut.chunks))
                body = bodies.decompress(body, encoding, limit)
            except bodies.HTTPProblem as problem:
                return _problem_response(ctype, problem)
            if hold is not None and len(body) != hold.bytes:
                # What was reserved for a compressed body was a guess: now the rest, if it inflated more, is
                # reserved before decoding (or the excess let go).
                try:
                    hold.resize(len(body))
                except Refused as exc:
                    intake.refuse(exc, bodies.count_body(signal, ctype == JSON, body))
                    size = len(body)
                    del body
                    self._admission.dropped(size)
                    return _unavailable(ctype, exc)
            try:
                message = otlpjson.decode(signal, body) if ctype == JSON else request_type.FromString(body)
            except (DecodeError, otlpjson.OTLPJSONError) as exc:
                intake.log.debug("malformed HTTP request", signal=signal, error=str(exc))
                what = "JSON" if ctype == JSON else "protobuf"
                return _status_response(ctype, 400, code_pb2.INVALID_ARGUMENT, f"cannot decode {what} {request_type.__name__}: {exc}")
            if include_metadata:
                client_metadata.set(metadata_from_pairs(request.headers.items()))
            client_address.set(request.remote or "")
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


def _unauthenticated(auth: RequestAuth) -> web.Response:
    """401 as otelcol's confighttp answers a failed authentication, without what the client sent."""
    return web.Response(status=401, text=f"401 {auth.reason}", headers={"WWW-Authenticate": 'Bearer realm="otlp"'} if auth.bearer else None)


def _status_response(ctype: str, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """OTLP/HTTP: error bodies are a google.rpc.Status in the request's encoding."""
    st = status_pb2.Status(code=code, message=message)
    if ctype == JSON:
        return web.Response(status=status, body=otlpjson.encode_response(st), content_type=JSON, headers=headers)
    return web.Response(status=status, body=st.SerializeToString(), content_type=PROTOBUF, headers=headers)


def _problem_response(ctype: str, problem: bodies.HTTPProblem) -> web.Response:
    response = _status_response(ctype, problem.status, problem.code, problem.message)
    if problem.status == 408:
        response.force_close()
    return response


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

