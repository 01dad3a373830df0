"""The jaeger receiver's gRPC transport: Jaeger's api_v2 `CollectorService.PostSpans` (what Jaeger agents and
clients post to a collector on 14250), each batch translated to OTLP (translate.from_proto) and pushed into the
pipeline. Counted under otelcol's transport name `grpc`."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message import DecodeError

from ...admission import Admission, Refused
from ...client import client_metadata, metadata_from_pairs
from ...component import ConsumeError
from ...jaeger_proto.api_v2_pb2 import PostSpansRequest, PostSpansResponse
from .config import GRPCConfig
from .intake import Intake
from .translate import from_proto

SERVICE = "jaeger.api_v2.CollectorService"
_RESPONSE = PostSpansResponse().SerializeToString()


def _tls_mode(cfg: GRPCConfig) -> str:
    if cfg.tls is None:
        return "off"
    return "mtls" if cfg.tls.client_ca_file else "tls"


async def start(cfg: GRPCConfig, intake: Intake, admission: Admission) -> tuple[grpc.aio.Server, int]:
    """Bind and serve; raises OSError when the endpoint cannot be had. Returns the server and its port."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", cfg.max_recv_msg_size_mib * 2**20),
        ("grpc.max_send_message_length", 4 * 2**20),
        ("grpc.so_reuseport", 0),  # else a second daemon could bind the same port and split the traffic
    ]
    if cfg.max_concurrent_streams:
        options.append(("grpc.max_concurrent_streams", cfg.max_concurrent_streams))
    if cfg.keepalive is not None:
        options += cfg.keepalive.options()
    server = grpc.aio.server(options=options)
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_handler(intake, admission, cfg.include_metadata))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"PostSpans": handler}),))
    try:
        port = server.add_secure_port(str(cfg.endpoint), cfg.tls.grpc_credentials()) if cfg.tls is not None else server.add_insecure_port(str(cfg.endpoint))
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): {exc}") from None
    if port == 0:
        raise OSError(f"cannot listen on {cfg.endpoint} (gRPC): address in use or not available")
    await server.start()
    intake.log.info("Jaeger gRPC server listening", endpoint=str(cfg.endpoint), tls=_tls_mode(cfg))
    return server, port


def _handler(intake: Intake, admission: Admission, include_metadata: bool) -> Any:
    # Raw bytes in (no deserializer), so a malformed message is INVALID_ARGUMENT with a reason, not gRPC's INTERNAL.
    async def post_spans(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            message = PostSpansRequest.FromString(request)
        except DecodeError:
            intake.log.debug("malformed PostSpans request", size=len(request))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "cannot decode PostSpansRequest: not a valid jaeger.api_v2 message")
        if include_metadata:
            client_metadata.set(metadata_from_pairs(context.invocation_metadata() or ()))
        try:
            cost = admission.reserve(len(request))
        except Refused as exc:
            intake.refuse(len(message.batch.spans))
            exc.count(len(message.batch.spans))
            del message, request
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        failure = None
        try:
            translated, invalid = from_proto(message.batch)
            del message
            await intake.push(translated, invalid)
        except ConsumeError as exc:
            failure = (grpc.StatusCode.UNAVAILABLE if exc.retryable else grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception as exc:
            intake.log.error("pipeline failed", transport="grpc", error=repr(exc), exc_info=True)
            failure = (grpc.StatusCode.INTERNAL, f"internal error: {exc!r}")
        finally:
            admission.release(cost)
            admission.dropped(len(request))
        if failure is not None:
            await context.abort(*failure)
        return _RESPONSE

    return post_spans
