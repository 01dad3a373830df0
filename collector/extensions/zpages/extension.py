"""zpages extension: otelcol's `zpages` keys (core's extension/zpagesextension/config.go: confighttp's server
keys with `endpoint` defaulting to localhost:55679, and `expvar.enabled`) and its routes under /debug/: servicez,
pipelinez, extensionz, featurez, tracez and, with expvar enabled, expvarz (the Python runtime's figures as JSON,
where Go's expvar serves its memstats). The pages read what the service tells about itself (Host.describe) and the
daemon's own counters at the moment of the request."""

from __future__ import annotations

import gc
import os
import sys
import threading
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ...component import Extension, Host
from ...config import ByteSize, Duration, Endpoint, Invalid, option
from ...lazyimport import lazy
from ...receivers.security import TLSConfig
from ...registry import register
from ...serverlimits import INTERNAL_LIMITS, ConnectionLimits
from ...telemetry import rss_bytes
from . import pages

if TYPE_CHECKING:
    from aiohttp import web

    from ... import httpserver
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    web, httpserver = lazy("aiohttp.web"), lazy("collector.httpserver")

PREFIX = "/debug"
PAGES_ONLY = "the zpages are read-only GET pages"


@dataclass
class ExpvarConfig:
    enabled: bool = option(False, "Serve /debug/expvarz: the Python runtime's figures (memory, garbage collector, threads, command line) as JSON, where otelcol serves Go's expvar.")


@dataclass
class ZPagesConfig:
    endpoint: Endpoint = option(Endpoint("localhost:55679"), "Address to listen on (otelcol's default; `:55679` listens on every interface).")
    tls: TLSConfig | None = option(None, "Serve HTTPS (otelcol's server TLS keys: cert_file, key_file, client_ca_file for mTLS).")
    expvar: ExpvarConfig = option(factory=ExpvarConfig, doc="`enabled`: also serve /debug/expvarz.")
    read_timeout: Duration = option(Duration(0.0), "otelcol: the longest a whole request may take to arrive. 0 = no limit.")
    read_header_timeout: Duration = option(Duration(60.0), "otelcol: the longest a request head may take to arrive. 0 = read_timeout's value.")
    write_timeout: Duration = option(Duration(30.0), "otelcol: the longest from a request's head to its response written. 0 = no limit.")
    idle_timeout: Duration = option(Duration(60.0), "otelcol: how long a keep-alive connection may wait for its next request. 0 = read_timeout's value.")
    response_headers: dict[str, str] = option(factory=dict, doc="otelcol: headers added to every response.")
    cors: dict[str, Any] | None = option(None, f"otelcol's CORS settings. No effect here: {PAGES_ONLY}, served to their own origin only (a start-up warning says so).")
    max_request_body_size: ByteSize | None = option(None, f"No effect here: {PAGES_ONLY}, without a body (a start-up warning says so).")
    include_metadata: bool | None = option(None, f"No effect here: {PAGES_ONLY}, no data passes on (a start-up warning says so).")
    compression_algorithms: list[str] | None = option(None, f"No effect here: {PAGES_ONLY}, without a body (a start-up warning says so).")
    keep_alives_enabled: bool | None = option(None, "No effect here: keep-alive connections are bounded by idle_timeout (a start-up warning says so).")

    def validate(self) -> None:
        if not self.endpoint:
            raise Invalid('"endpoint" is required when using the "zpages" extension', "endpoint")


_INEFFECTIVE = {
    "cors": f"{PAGES_ONLY}, served to their own origin only",
    "max_request_body_size": f"{PAGES_ONLY}, without a body",
    "include_metadata": f"{PAGES_ONLY}, no data passes on",
    "compression_algorithms": f"{PAGES_ONLY}, without a body",
    "keep_alives_enabled": "keep-alive connections are bounded by idle_timeout",
}


@register
class ZPagesExtension(Extension):
    type_name = "zpages"
    description = "Live debugging pages under /debug/: the service, its pipelines with each component's counters, its extensions."
    config_class = ZPagesConfig

    def __init__(self, settings: Any, config: ZPagesConfig):
        super().__init__(settings, config)
        self._runner: web.AppRunner | None = None
        self._host: Host | None = None

    @classmethod
    def ineffective_keys(cls, config: ZPagesConfig) -> list[tuple[str, str]]:
        return [(key, why) for key, why in _INEFFECTIVE.items() if getattr(config, key) is not None]

    async def start(self, host: Host) -> None:
        self._host = host
        cfg = self.config
        app = web.Application(middlewares=[self._headers()] if cfg.response_headers else [])
        for name, handler in (("servicez", self._servicez), ("pipelinez", self._pipelinez), ("extensionz", self._extensionz),
                              ("featurez", self._featurez), ("tracez", self._tracez)):
            app.router.add_get(f"{PREFIX}/{name}", handler)
        if cfg.expvar.enabled:
            app.router.add_get(f"{PREFIX}/expvarz", self._expvarz)
        limits = ConnectionLimits(read_timeout=float(cfg.read_timeout), read_header_timeout=float(cfg.read_header_timeout),
                                  write_timeout=float(cfg.write_timeout), idle_timeout=float(cfg.idle_timeout),
                                  max_connections=INTERNAL_LIMITS.max_connections)
        ssl_context = cfg.tls.ssl_context() if cfg.tls is not None else None
        self._runner = await httpserver.serve(app, cfg.endpoint, limits=limits, log=self.log, shutdown_timeout=1.0, ssl_context=ssl_context)
        self.log.info("zpages listening", endpoint=str(cfg.endpoint), pages=[r.resource.canonical for r in app.router.routes() if r.resource is not None])

    def _headers(self) -> Any:
        @web.middleware
        async def headers(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            response.headers.update(self.config.response_headers)
            return response

        return headers

    def _html(self, text: str) -> web.Response:
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    def _view(self) -> Any:
        assert self._host is not None
        return self._host.describe()

    async def _servicez(self, _: web.Request) -> web.Response:
        return self._html(pages.servicez(self._view(), expvar=self.config.expvar.enabled))

    async def _pipelinez(self, request: web.Request) -> web.Response:
        counters = pages.Counters(self.telemetry.registry.families())
        return self._html(pages.pipelinez(self._view(), counters, dict(request.query), expvar=self.config.expvar.enabled))

    async def _extensionz(self, request: web.Request) -> web.Response:
        return self._html(pages.extensionz(self._view(), dict(request.query), expvar=self.config.expvar.enabled))

    async def _featurez(self, _: web.Request) -> web.Response:
        return self._html(pages.featurez(expvar=self.config.expvar.enabled))

    async def _tracez(self, _: web.Request) -> web.Response:
        return self._html(pages.tracez(expvar=self.config.expvar.enabled))

    async def _expvarz(self, _: web.Request) -> web.Response:
        memstats: dict[str, Any] = {"rss_bytes": rss_bytes(), "gc_counts": gc.get_count(), "gc_generations": gc.get_stats()}
        if tracemalloc.is_tracing():
            memstats["tracemalloc_traced_bytes"], memstats["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()
        body = {"cmdline": sys.orig_argv, "memstats": memstats, "pid": os.getpid(), "threads": [t.name for t in threading.enumerate()],
                "python": sys.version}
        return web.Response(body=orjson.dumps(body, option=orjson.OPT_INDENT_2), content_type="application/json")

    async def shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
