"""The zipkin receiver: otelcol-contrib's receiver/zipkinreceiver, an HTTP server taking Zipkin spans into the
traces pipelines as OTLP: v2 (POST /api/v2/spans, JSON or, with `Content-Type: application/x-protobuf`,
protobuf; model.py decodes, translate.py translates) and v1 JSON (a path containing `api/v1/spans`; v1.py).
Content-Encoding may be gzip, deflate or zstd.

As otelcol's ServeHTTP: any path serves; success is 202 Accepted with no body; a body that does not decode is
400 with the reason (one that never quotes the body); a pipeline that refuses the spans for good answers 400
`"Bad Request"`, any other pipeline failure 500 `"Internal Server Error"`. The listener is the OTLP receiver's
(collector/httpserver.py): otelcol's confighttp timeouts, TLS and CORS, and max_request_body_size checked
before and after decompression.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...admission import Admission, Hold, Refused, host_admission
from ...client import client_metadata, metadata_from_pairs
from ...component import ConsumeError, Consumer, Host, Receiver, Settings, Signal
from ...config import ByteSize, Duration, Endpoint, Invalid, option
from ...envelope import Envelope
from ...lazyimport import lazy
from ...registry import register
from ...serverlimits import ServerLimits
from ..cors import CORS, CORSConfig
from ..security import TLSConfig
from .model import ZipkinError, spans_from_json, spans_from_proto
from .translate import Translation, to_request
from .v1 import to_request_v1

if TYPE_CHECKING:
    from aiohttp import web

    from ... import httpserver
    from .. import bodies
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    web, httpserver, bodies = lazy("aiohttp.web"), lazy("collector.httpserver"), lazy("collector.receivers.bodies")

PROTOBUF = "application/x-protobuf"
# otelcol's transport names (receiverTransportV2JSON, ...), the `transport` label of the receiver's counters.
TRANSPORTS = ("http_v2_json", "http_v2_proto", "http_v1_json")
BAD_REQUEST = '"Bad Request"'
INTERNAL_ERROR = '"Internal Server Error"'
THRIFT = "application/x-thrift"
THRIFT_REFUSED = ("Zipkin v1 Thrift (application/x-thrift) is not supported by this receiver: "
                  "send Zipkin v1 JSON, or v2 JSON or protobuf to /api/v2/spans")


@dataclass
class ZipkinHTTPConfig(ServerLimits):
    """otelcol's confighttp.ServerConfig keys this receiver serves with."""

    endpoint: Endpoint = option(Endpoint("127.0.0.1:9411"), "Address to listen on. otelcol's default is 0.0.0.0:9411; here it is 127.0.0.1:9411 (as the otlp receiver's): use 0.0.0.0:9411 to accept from other hosts.")
    max_request_body_size: ByteSize = option(ByteSize(20 * 2**20), "Largest accepted body, checked both as sent and after decompression (so a gzip bomb gets 413).")
    tls: TLSConfig | None = option(None, "Serve HTTPS; with client_ca_file, require client certificates (mTLS).")
    cors: CORSConfig | None = option(None, "otelcol's CORS for browser apps: allowed_origins, allowed_headers, exposed_headers, max_age (with credentials, as otelcol).")
    include_metadata: bool = option(True, "Carry the request's headers with its spans (for batch's metadata_keys). otelcol's default is false; here it is on unless set to false.")
    read_timeout: Duration = option(Duration(0.0), "otelcol: the longest a whole request (head and body) may take to arrive, from its first byte; then 408 and the connection closes. 0 = no limit.")
    read_header_timeout: Duration = option(Duration(60.0), "otelcol: the longest a request head may take to arrive; then the connection is closed unanswered. 0 = read_timeout's value; both 0 = no limit.")
    write_timeout: Duration = option(Duration(30.0), "otelcol: the longest from a request's complete head to its response written, pipeline time included; then the connection is closed. 0 = no limit.")
    idle_timeout: Duration = option(Duration(60.0), "otelcol: how long a keep-alive connection may wait for its next request. 0 = read_timeout's value; both 0 = no limit.")
    max_connections: int = option(0, "Open connections kept (not in otelcol), as the otlp receiver's: 0 = a quarter of the process's open-file limit, 64 to 16,384.")

    def validate(self) -> None:
        if self.max_connections < 0:
            raise Invalid("must be 0 (derived from the open-file limit) or a positive number", "max_connections")


@dataclass
class ZipkinProtocolsConfig:
    http: ZipkinHTTPConfig | None = option(None, "The HTTP server's settings (an empty `http:` uses the defaults).")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> ZipkinProtocolsConfig:
        if value is None:
            value = {}
        if isinstance(value, dict) and "http" in value and value["http"] is None:
            value = {**value, "http": {}}  # as in otelcol, `http:` with nothing under it is the defaults
        return decoder.decode_fields(cls, value, path)


@dataclass
class ZipkinReceiverConfig(ZipkinHTTPConfig):
    """otelcol's layout: the HTTP server's keys at the top (the older form) or under protocols.http (v0.128+),
    which wins when both are written."""

    protocols: ZipkinProtocolsConfig | None = option(None, "`http:` with the server's keys; when set, the top-level server keys are ignored (a start-up warning names them).")
    parse_string_tags: bool = option(False, 'Turn string tags that read as an integer, a decimal number or true/false into attributes of that type (otelcol\'s zipkin.DetermineValueType).')

    def http(self) -> ZipkinHTTPConfig:
        if self.protocols is not None and self.protocols.http is not None:
            return self.protocols.http
        return self


ANSWERS = """
As otelcol's zipkinreceiver: every path is served (POST /api/v2/spans is what reporters use), a body is JSON unless
its Content-Type is exactly application/x-protobuf, and Content-Encoding may be gzip, deflate/zlib or zstd. Success is
202 Accepted. A body that does not decode is 400 with the reason (never quoting the body); as in otelcol one bad span
(a missing or non-hex id, a tag that is not a string, an IP that does not parse, an annotation or otlp.link tag that
does not parse) fails the whole request. A span with an all-zero trace id (JSON without traceId) or span id (protobuf),
which otelcol passes on, is invalid OTLP and is left out alone, counted in otelcol_receiver_refused_spans. A pipeline
that refuses the spans for good answers 400 "Bad Request", any other failure (memory_limiter included) 500
"Internal Server Error". A path containing api/v1/spans takes Zipkin v1 JSON (contrib's zipkinv1: core annotations
give the kind, binary annotations the attributes and status, one resource per endpoint); v1 Thrift is refused with 400.
"""
TRANSLATION = """
As contrib's pkg/translator/zipkin/zipkinv2: one resource per localEndpoint.serviceName (service.name, or the key
otlp.service.name.source names), one scope per otel.library.name/otel.library.version tag; the first span of each
gives the resource its semantic-convention resource tags (service.*, host.*, k8s.*, telemetry.sdk.*, ...), which never
become span attributes. w3c.tracestate is the trace state; otel.status_code (STATUS_CODE_OK or Ok, ...) with
otel.status_description the status, and any error tag makes it an error (a value other than "true" stays an
attribute); span.kind internal marks an unkinded span internal; otlp.link.N tags are links. Other tags are string
attributes (parse_string_tags: numbers and booleans), then net.host.ip/net.host.port from localEndpoint and
peer.service/net.peer.ip/net.peer.port from remoteEndpoint. Annotations are events (name|{json attributes}|dropped
count is unpacked). Times are microseconds; a span without timestamp starts at the epoch with
otel.zipkin.absentField.startTime true. debug and shared have no OTLP field: otelcol drops them, and so does this.
"""
_SERVER_KEYS = [f.name for f in dataclasses.fields(ZipkinHTTPConfig)]
_SERVER_DEFAULTS = ZipkinHTTPConfig()


@register
class ZipkinReceiver(Receiver):
    type_name = "zipkin"
    description = "Receives Zipkin spans over HTTP (9411, POST /api/v2/spans: JSON and protobuf; /api/v1/spans: JSON), gzip, otelcol's translation to OTLP."
    config_class = ZipkinReceiverConfig
    signals = frozenset({Signal.TRACES})

    @classmethod
    def ineffective_keys(cls, config: ZipkinReceiverConfig) -> list[tuple[str, str]]:
        if config.http() is config:
            return []
        return [(key, "protocols.http is set, so the top-level server keys are ignored (as in otelcol)")
                for key in _SERVER_KEYS if getattr(config, key) != getattr(_SERVER_DEFAULTS, key)]

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Requests and answers", ANSWERS, None), ("Translation to OTLP", TRANSLATION, None)]

    def __init__(self, settings: Settings, config: ZipkinReceiverConfig, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config, consumers)
        self._runner: web.AppRunner | None = None
        self._admission = Admission()
        self._grace = 5.0

    async def start(self, host: Host) -> None:
        self._grace = max(0.5, float(getattr(host, "shutdown_grace", 5.0)))
        self._admission = host_admission(host) or Admission()
        cfg = self.config.http()
        counters = {t: self.telemetry.receiver_counters(self.id, t, Signal.TRACES) for t in TRANSPORTS}
        middlewares = [CORS(cfg.cors).middleware()] if cfg.cors is not None and cfg.cors.allowed_origins else []
        app = web.Application(client_max_size=int(cfg.max_request_body_size) + 1, middlewares=middlewares)
        app.router.add_route("*", "/{path:.*}", _Handler(self, cfg, counters, self._admission).handle)
        self._runner = await httpserver.serve(
            app,
            cfg.endpoint,
            limits=cfg.connection_limits(),
            log=self.log,
            counters=self.telemetry.connection_counters(self.id, "http"),
            shutdown_timeout=self._grace,
            auto_decompress=False,  # by hand, so max_request_body_size bounds the inflated body too
            ssl_context=cfg.tls.ssl_context() if cfg.tls is not None else None,
        )
        self.log.info("Zipkin HTTP server listening", endpoint=str(cfg.endpoint), tls=cfg.tls is not None, parse_string_tags=self.config.parse_string_tags)

    async def shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _text(status: int, message: str) -> web.Response:
    """Go's http.Error: the message as plain text with a newline."""
    return web.Response(status=status, text=message + "\n", headers={"X-Content-Type-Options": "nosniff"})


class _Handler:
    """otelcol's zipkinReceiver.ServeHTTP for one server."""

    def __init__(self, receiver: ZipkinReceiver, cfg: ZipkinHTTPConfig, counters: dict[str, Any], admission: Admission):
        self.log = receiver.log
        self.admission = admission
        self.consumer = receiver.consumers[Signal.TRACES]
        self.limit = int(cfg.max_request_body_size)
        self.include_metadata = cfg.include_metadata
        self.parse_string_tags = receiver.config.parse_string_tags
        self.counters = counters

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # otelcol compares the whole header: anything but exactly application/x-protobuf (v2) is read as JSON.
        content_type = request.headers.get("Content-Type", "").strip()
        if "api/v1/spans" in request.path:
            if content_type == THRIFT:
                return _text(400, THRIFT_REFUSED)
            transport = "http_v1_json"
        else:
            transport = "http_v2_proto" if content_type == PROTOBUF else "http_v2_json"
        hold = Hold(self.admission) if self.admission.gates else None
        try:
            try:
                if hold is not None:
                    hold.grow_to(bodies.expected_size(request.content_length or 0, request.headers.get("Content-Encoding", ""), self.limit))
                body = await bodies.read_body(request, self.limit, hold)
                body = bodies.decompress(body, request.headers.get("Content-Encoding", ""), self.limit)
                if hold is not None:
                    hold.resize(len(body))
            except (Refused, bodies.BodyRefused) as exc:
                # A memory_limiter refusal is transient: otelcol's receiver answers those 500.
                self.log.warning("request refused before decoding", reason=str(exc), rate_limit=True)
                response = _text(500, INTERNAL_ERROR)
                response.force_close()  # the body is left unread
                return response
            except bodies.HTTPProblem as problem:
                response = _text(problem.status, problem.message)
                if problem.status == 408:
                    response.force_close()
                return response
            return await self._consume(request, body, transport)
        finally:
            if hold is not None:
                hold.release()

    def _translate(self, body: bytes, transport: str) -> Translation:
        if transport == "http_v1_json":
            return to_request_v1(body, self.parse_string_tags)
        spans = spans_from_proto(body) if transport == "http_v2_proto" else spans_from_json(body)
        return to_request(spans, self.parse_string_tags)

    async def _consume(self, request: web.Request, body: bytes, transport: str) -> web.Response:
        counters = self.counters[transport]
        try:
            translation = self._translate(body, transport)
        except ZipkinError as exc:
            self.log.debug("malformed Zipkin request", transport=transport, error=str(exc))
            return _text(400, str(exc))
        del body
        if translation.invalid:
            counters.refused.inc(translation.invalid)
            self.log.warning("spans with an all-zero trace id or span id left out", spans=translation.invalid, rate_limit=True)
        total = translation.spans
        if total == 0:
            return web.Response(status=202)
        if self.include_metadata:
            client_metadata.set(metadata_from_pairs(request.headers.items()))
        try:
            result = await self.consumer.consume(Envelope(Signal.TRACES, translation.request))
        except ConsumeError as exc:
            counters.refused.inc(total)
            return _text(500, INTERNAL_ERROR) if exc.retryable else _text(400, BAD_REQUEST)
        except Exception as exc:
            counters.failed.inc(total)
            self.log.error("pipeline failed", error=repr(exc), exc_info=True)
            return _text(500, INTERNAL_ERROR)
        if result is not None and result.count:
            counters.refused.inc(result.count)
            total -= result.count
        counters.accepted.inc(total)
        return web.Response(status=202)  # https://zipkin.io/zipkin-api/#/default/post_spans
