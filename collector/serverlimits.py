"""What bounds an HTTP server's connections (otelcol's confighttp.ServerConfig timeouts and max_connections),
apart from the aiohttp listener that enforces them (collector/httpserver.py), so a component's config can
name them without importing aiohttp (`validate` never starts a server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ConnectionLimits:
    """Seconds, 0 = no limit, with otelcol's meaning (confighttp.ServerConfig, i.e. Go's http.Server):
    read_header_timeout and idle_timeout fall back to read_timeout when 0. max_connections 0 = derived
    from the open-file limit (auto_max_connections)."""

    read_timeout: float = 0.0
    read_header_timeout: float = 60.0
    write_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = 0


class _ServerTimeouts(Protocol):
    @property
    def read_timeout(self) -> float: ...
    @property
    def read_header_timeout(self) -> float: ...
    @property
    def write_timeout(self) -> float: ...
    @property
    def idle_timeout(self) -> float: ...
    @property
    def max_connections(self) -> int: ...


class ServerLimits:
    """For a receiver's HTTP server config with otelcol's confighttp.ServerConfig timeouts and max_connections:
    the ConnectionLimits they give."""

    def connection_limits(self: _ServerTimeouts) -> ConnectionLimits:
        return ConnectionLimits(
            read_timeout=float(self.read_timeout),
            read_header_timeout=float(self.read_header_timeout),
            write_timeout=float(self.write_timeout),
            idle_timeout=float(self.idle_timeout),
            max_connections=self.max_connections,
        )


# The health check and the metrics endpoint: otelcol's default timeouts and a small cap of their own.
INTERNAL_LIMITS = ConnectionLimits(max_connections=32)


class BodyReadTimeout(TimeoutError):
    """Set on a request's body when it has not fully arrived within read_timeout of the request's first byte.
    The handler's read raises it (the OTLP receiver answers 408) and the connection closes after the answer;
    being a TimeoutError, aiohttp's lingering read after the response treats it as the end of the body."""
