"""Shared aiohttp listener set-up for the OTLP/HTTP receiver, health check and metrics endpoints."""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from .config import Endpoint


async def serve(app: web.Application, endpoint: Endpoint, *, shutdown_timeout: float = 10.0, ssl_context: Any = None, **runner_kwargs: Any) -> web.AppRunner:
    """Bind and start serving; raises OSError (e.g. address in use) before anything is half-started."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout, **runner_kwargs)
    await runner.setup()
    host = endpoint.host or None  # empty host: every interface, only when the config says so
    try:
        site = web.TCPSite(runner, host, endpoint.port, reuse_address=True, backlog=1024, ssl_context=ssl_context)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(f"cannot listen on {endpoint}: {reason}") from None
    return runner
