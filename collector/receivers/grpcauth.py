"""The gRPC side of a receiver's `auth`: an interceptor checking each call's metadata. Its own module
because it derives from grpc's classes, so only a receiver's start() imports grpc (collector/lazyimport.py)."""

from __future__ import annotations

from typing import Any

import grpc

from .security import RequestAuth


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks a call's metadata before any handler reads or decodes its request (otelcol's configgrpc
    authUnaryServerInterceptor): refused calls get UNAUTHENTICATED."""

    def __init__(self, auth: RequestAuth):
        self.auth = auth
        reason = auth.reason

        async def deny(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)
            return b""

        self.deny: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        if await self.auth.allows(details.invocation_metadata or ()):
            return await continuation(details)
        return self.deny
