"""health_check extension: 200 once every component has started, 503 while starting or draining,
with otelcol's response body so existing probes and dashboards keep working."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..component import Extension, Host
from ..config import Endpoint, Invalid, option
from ..lazyimport import lazy
from ..receivers.security import TLSConfig
from ..registry import register

if TYPE_CHECKING:
    from aiohttp import web

    from .. import httpserver
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    web, httpserver = lazy("aiohttp.web"), lazy("collector.httpserver")


@dataclass
class ResponseBodyConfig:
    healthy: str = option("", "Body of the 200 answer.")
    unhealthy: str = option("", "Body of the 503 answer.")


@dataclass
class ReloadConfig:
    enabled: bool = option(False, "Reload the configuration on `POST <path>`, as SIGHUP does (collector/reload.py): 200 once the new pipelines run, 400 with every problem when the old config is kept. Off by default: anyone who reaches the port can trigger it. Not an otelcol key.")
    path: str = option("/reload", "Path of the reload endpoint.")

    def validate(self) -> None:
        if not self.path.startswith("/"):
            raise Invalid('expected a path starting with "/"', "path")


@dataclass
class HealthCheckConfig:
    endpoint: Endpoint = option(Endpoint("127.0.0.1:13133"), "Address to listen on; loopback by default.")
    path: str = option("/", "Path of the health endpoint.")
    tls: TLSConfig | None = option(None, "Serve HTTPS (otelcol's server TLS keys: cert_file, key_file, client_ca_file for mTLS).")
    response_body: ResponseBodyConfig | None = option(None, "otelcol's fixed bodies instead of the JSON status: `healthy` and `unhealthy` texts.")
    reload: ReloadConfig = option(factory=ReloadConfig, doc="A POST endpoint on this port that reloads the configuration; off by default.")
    check_collector_pipeline: dict[str, Any] | None = option(None, "otelcol's deprecated exporter-failure check. No effect here (nor in otelcol, which documents it as not working); a start-up warning says so.")

    def validate(self) -> None:
        if not self.path.startswith("/"):
            raise Invalid('expected a path starting with "/"', "path")
        if self.reload.enabled and self.reload.path == self.path:
            raise Invalid("must differ from the health endpoint's path", ("reload", "path"))


@register
class HealthCheckExtension(Extension):
    type_name = "health_check"
    description = "HTTP health endpoint: 200 when all components are started, 503 while starting or draining."
    config_class = HealthCheckConfig

    def __init__(self, settings: Any, config: HealthCheckConfig):
        super().__init__(settings, config)
        self._runner: web.AppRunner | None = None
        self._host: Host | None = None
        self._since = datetime.now(UTC)
        self._started = time.monotonic()

    async def start(self, host: Host) -> None:
        self._host = host
        app = web.Application()
        app.router.add_get(self.config.path, self._handle)
        if self.config.reload.enabled:
            app.router.add_post(self.config.reload.path, self._reload)
        ssl_context = self.config.tls.ssl_context() if self.config.tls is not None else None
        self._runner = await httpserver.serve(app, self.config.endpoint, shutdown_timeout=1.0, ssl_context=ssl_context)
        self.log.info("health endpoint listening", endpoint=str(self.config.endpoint), path=self.config.path)

    @classmethod
    def ineffective_keys(cls, config: HealthCheckConfig) -> list[tuple[str, str]]:
        if config.check_collector_pipeline is not None and config.check_collector_pipeline.get("enabled"):
            return [("check_collector_pipeline", "otelcol deprecated it as not working; readiness here is every component started")]
        return []

    async def _handle(self, _: web.Request) -> web.Response:
        fixed = self.config.response_body
        if fixed is not None:
            healthy = self._host is not None and self._host.ready
            return web.Response(status=200 if healthy else 503, text=fixed.healthy if healthy else fixed.unhealthy)
        if self._host is not None and self._host.ready:
            body = {
                "status": "Server available",
                "upSince": self._since.isoformat().replace("+00:00", "Z"),
                "uptime": f"{time.monotonic() - self._started:.3f}s",
            }
            return web.Response(status=200, body=orjson.dumps(body), content_type="application/json")
        state = "draining" if self._host is not None and self._host.draining else "starting"
        return web.Response(status=503, body=orjson.dumps({"status": "Server not available", "state": state}), content_type="application/json")

    async def _reload(self, _: web.Request) -> web.Response:
        assert self._host is not None
        # Shielded: a client that hangs up mid-reload must not cancel the swap half-way.
        problems = await asyncio.shield(self._host.reload(f"POST {self.config.reload.path}"))
        if problems:
            return web.Response(status=400, body=orjson.dumps({"status": "not reloaded; the running configuration is kept", "problems": problems}), content_type="application/json")
        return web.Response(status=200, body=orjson.dumps({"status": "reloaded"}), content_type="application/json")

    async def shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
