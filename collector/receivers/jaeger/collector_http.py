"""The jaeger receiver's Thrift-over-HTTP transport: Jaeger's collector endpoint `POST /api/traces` with one
Batch in TBinaryProtocol (`application/x-thrift` or `application/vnd.apache.thrift.binary`), as Jaeger clients'
HTTP sender posts it to 14268. Answers as otelcol's receiver (trace_receiver.go, HandleThriftHTTPBatch):
202 when the batch was taken, 400 for a body or content type it cannot read. A reason never quotes the body.
Counted under otelcol's transport name `collector_http`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...admission import Admission, Hold, Refused
from ...client import client_metadata, metadata_from_pairs
from ...component import ConsumeError
from ...httpserver import serve
from ..bodies import BodyRefused, HTTPProblem, decompress, expected_size, read_body
from .config import ThriftHTTPConfig
from .intake import Intake
from .thrift import ThriftError, decode_batch
from .translate import from_thrift

PATH = "/api/traces"
ACCEPTED_TYPES = ("application/x-thrift", "application/vnd.apache.thrift.binary")


async def start(cfg: ThriftHTTPConfig, intake: Intake, admission: Admission, *, counters: Any, grace: float) -> web.AppRunner:
    app = web.Application(client_max_size=int(cfg.max_request_body_size) + 1)
    app.router.add_route("*", PATH, _handler(cfg, intake, admission))
    runner = await serve(app, cfg.endpoint, limits=cfg.connection_limits(), log=intake.log, counters=counters,
                         shutdown_timeout=grace, auto_decompress=False, ssl_context=cfg.tls.ssl_context() if cfg.tls is not None else None)
    intake.log.info("Jaeger Thrift HTTP server listening", endpoint=str(cfg.endpoint), path=PATH, tls="off" if cfg.tls is None else "on")
    return runner


def _text(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=f"{reason}\n", headers=headers)


def _handler(cfg: ThriftHTTPConfig, intake: Intake, admission: Admission) -> Any:
    limit = int(cfg.max_request_body_size)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _text(405, "405 method not allowed, supported: [POST]", {"Allow": "POST"})
        if request.content_type.lower() not in ACCEPTED_TYPES:
            what = "" if "Content-Type" in request.headers else ": no Content-Type header"
            return _text(400, f"Unsupported content type{what} (accepted: {', '.join(ACCEPTED_TYPES)})")
        if request.content_length is not None and request.content_length > limit:
            return _text(413, f"request body of {request.content_length} bytes exceeds max_request_body_size {limit}")
        # The body's memory is reserved (collector/admission.py) from Content-Length before it is read, the rest
        # as it arrives and once it is inflated; a memory_limiter that refuses gets 503 before the body is decoded.
        hold = Hold(admission)
        encoding = request.headers.get("Content-Encoding", "")
        try:
            hold.grow_to(expected_size(request.content_length or 0, encoding, limit))
            body = await read_body(request, limit, hold)
            body = decompress(body, encoding, limit)
            hold.resize(len(body))
            return await decoded(request, body)
        except HTTPProblem as problem:
            return _text(problem.status, problem.message)
        except BodyRefused as cut:
            return _unavailable(cut.refusal)
        except Refused as exc:
            return _unavailable(exc)
        finally:
            hold.release()

    async def decoded(request: web.Request, body: bytes) -> web.Response:
        try:
            batch = decode_batch(body)
        except ThriftError as exc:
            intake.log.debug("malformed Thrift batch", transport="collector_http", error=str(exc))
            return _text(400, f"Unable to process request body: {exc}")
        del body
        if cfg.include_metadata:
            client_metadata.set(metadata_from_pairs(request.headers.items()))
        try:
            translated, invalid = from_thrift(batch)
            del batch
            await intake.push(translated, invalid)
        except ConsumeError as exc:
            return _unavailable(exc) if exc.retryable else _text(400, f"Cannot submit Jaeger batch: {exc}")
        except Exception as exc:
            intake.log.error("pipeline failed", transport="collector_http", error=repr(exc), exc_info=True)
            return _text(500, f"Cannot submit Jaeger batch: internal error: {exc!r}")
        return web.Response(status=202)

    return handle


def _unavailable(exc: ConsumeError) -> web.Response:
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
    return _text(503, f"Cannot submit Jaeger batch: {exc}", headers)
