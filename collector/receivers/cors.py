"""CORS for the OTLP receiver's HTTP server, as otelcol's confighttp does it (rs/cors with
AllowCredentials, so that browser apps can send OTLP/HTTP): a preflight (OPTIONS with
Access-Control-Request-Method) from an allowed origin, for an allowed method and headers, is answered 204
with the Access-Control-Allow-* headers and never reaches the handler; an actual request from an allowed
origin gets Access-Control-Allow-Origin (the origin itself) and Allow-Credentials. A refused origin, method
or header gets no CORS headers, so the browser blocks the response."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Invalid, option
from ..lazyimport import lazy

if TYPE_CHECKING:
    from aiohttp import web
else:  # imported when a server starts, not by `validate` (collector/lazyimport.py)
    web = lazy("aiohttp.web")

ALLOWED_METHODS = ("GET", "POST", "HEAD")  # rs/cors's default
# Always allowed (CORS-safelisted request headers); X-Requested-With too when allowed_headers is empty.
SAFELISTED_HEADERS = ("accept", "accept-language", "content-type", "content-language")


@dataclass
class CORSConfig:
    allowed_origins: list[str] = option(factory=list, doc="Origins allowed to send, e.g. `https://app.example.com`; `*` stands for any characters (`https://*.example.com`, or `*` alone for any origin). Empty: CORS is off.")
    allowed_headers: list[str] = option(factory=list, doc="Request headers allowed besides Accept, Accept-Language, Content-Type and Content-Language (X-Requested-With too when empty); `*` allows any.")
    exposed_headers: list[str] = option(factory=list, doc="Response headers the browser may show the page (Access-Control-Expose-Headers).")
    max_age: int = option(0, "Seconds a browser may cache a preflight answer (Access-Control-Max-Age); 0 sends none.")

    def validate(self) -> None:
        if self.max_age < 0:
            raise Invalid("must be 0 or a number of seconds", "max_age")


def _origin_pattern(origin: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in origin.lower().split("*")) + "$")


class CORS:
    """One server's CORS policy, as an aiohttp middleware (`middleware`)."""

    def __init__(self, config: CORSConfig):
        self.any_origin = "*" in config.allowed_origins
        self.origins = [_origin_pattern(o) for o in config.allowed_origins if o != "*"]
        headers = [h.lower() for h in config.allowed_headers] or ["x-requested-with"]
        self.any_header = "*" in headers
        self.headers = {*SAFELISTED_HEADERS, *headers}
        self.exposed = ", ".join(config.exposed_headers)
        self.max_age = config.max_age

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or any(p.match(origin.lower()) for p in self.origins)

    def _headers_allowed(self, requested: str) -> bool:
        if self.any_header:
            return True
        return all(h.strip().lower() in self.headers for h in requested.split(",") if h.strip())

    def preflight(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        response.headers["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        origin = request.headers.get("Origin", "")
        method = request.headers.get("Access-Control-Request-Method", "").upper()
        requested = request.headers.get("Access-Control-Request-Headers", "")
        if not origin or not self.origin_allowed(origin) or method not in ALLOWED_METHODS or not self._headers_allowed(requested):
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = method
        if requested:
            response.headers["Access-Control-Allow-Headers"] = requested
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if self.max_age > 0:
            response.headers["Access-Control-Max-Age"] = str(self.max_age)
        return response

    def middleware(self) -> Any:
        """The aiohttp middleware applying this policy."""

        @web.middleware
        async def cors(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self.handle(request, handler)

        return cors

    async def handle(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self.preflight(request)
        response: web.StreamResponse = await handler(request)
        origin = request.headers.get("Origin")
        if origin is None:
            return response
        response.headers["Vary"] = "Origin"
        if self.origin_allowed(origin) and request.method in ALLOWED_METHODS:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            if self.exposed:
                response.headers["Access-Control-Expose-Headers"] = self.exposed
        return response
