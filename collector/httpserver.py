"""Shared aiohttp listener for the OTLP/HTTP receiver, the health check and the metrics endpoint.

Every connection is bounded the way Go's net/http bounds otelcol's HTTP servers (confighttp.ServerConfig):
a request head must arrive within `read_header_timeout`, a whole request within `read_timeout`, its
response must be written within `write_timeout` of its head, and a keep-alive connection may wait
`idle_timeout` for its next request. On top of that a listener keeps at most `max_connections` open, so
clients that connect and stall cannot exhaust the process's file descriptors: at the cap a new connection
closes the longest-waiting idle ones (as nginx reuses its idle keep-alive connections), and only when every
connection is in the middle of a request is the new one closed at once and counted.

aiohttp has a keep-alive timer but no head or body read timeout, so `_Handler` (a RequestHandler subclass)
keeps the request's phase in a few floats updated where aiohttp already does work (connection_made,
data_received) and turns aiohttp's per-connection keep-alive timer into its only timer: nothing is
scheduled per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import ipaddress
import math
import os
import resource
import socket
from typing import Any

import structlog
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from .config import Endpoint
from .serverlimits import INTERNAL_LIMITS, BodyReadTimeout, ConnectionLimits
from .telemetry import ConnectionCounters

# max_connections 0: a quarter of the open-file limit, so idle clients of one listener can take at most a
# quarter of the descriptors the process has (gRPC, exporters, files and the other listeners need the rest).
AUTO_MAX_CONNECTIONS_SHARE = 4
AUTO_MAX_CONNECTIONS_FLOOR = 64
AUTO_MAX_CONNECTIONS_CEILING = 16_384
# At the cap, one scan of the open connections closes this fraction of the cap's worth of idle ones, so a
# burst of new connections does not pay a scan each.
EVICT_FRACTION = 16
# Connections the kernel queues for accept().
LISTEN_BACKLOG = 1024
# asyncio accepts up to its `backlog` sockets per wake-up before the protocol factory sees any of them (and,
# once descriptors run out, retries accept() and logs that many times), so it is given half the cap, at most
# LISTEN_BACKLOG: a burst then holds about twice the cap in descriptors while the evicted ones close. The
# kernel's queue is set back to LISTEN_BACKLOG, so a burst of connects waits there instead of being dropped.
MIN_ACCEPT_BATCH = 16
# After a scan found every connection busy, new connections are refused without scanning for this long.
REFUSE_BACKOFF = 0.1
# asyncio's TLS handshake limit when Go's rule gives none (no timeout configured).
DEFAULT_HANDSHAKE_TIMEOUT = 60.0


def auto_max_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return AUTO_MAX_CONNECTIONS_CEILING
    return max(AUTO_MAX_CONNECTIONS_FLOOR, min(AUTO_MAX_CONNECTIONS_CEILING, soft // AUTO_MAX_CONNECTIONS_SHARE))


async def serve(
    app: web.Application,
    endpoint: Endpoint,
    *,
    limits: ConnectionLimits = INTERNAL_LIMITS,
    log: Any = None,
    counters: ConnectionCounters | None = None,
    shutdown_timeout: float = 10.0,
    ssl_context: Any = None,
    unix_socket: str | None = None,
    **runner_kwargs: Any,
) -> web.AppRunner:
    """Bind and start serving; raises OSError (e.g. address in use) before anything is half-started.
    `unix_socket`: listen on that Unix socket path instead of `endpoint` (otelcol's `transport: unix`)."""
    # keepalive_timeout=0: aiohttp's keep-alive timer is the guard's own (see _Handler), so aiohttp never
    # closes an idle connection by itself; it still records when each request ended.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout, keepalive_timeout=0, **runner_kwargs)
    await runner.setup()
    assert runner.server is not None
    if log is None:
        log = structlog.get_logger().bind(component="http", endpoint=str(endpoint))
    listener = _Listener(runner.server, limits, log, counters or ConnectionCounters.unregistered(), tls=ssl_context is not None)
    where = unix_socket if unix_socket is not None else endpoint
    try:
        if unix_socket is not None:
            site = _Site(runner, listener, None, 0, ssl_context, unix_socket)
        else:
            site = _Site(runner, listener, endpoint.host or None, endpoint.port, ssl_context)  # empty host: every interface, only when asked
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(f"cannot listen on {where}: {reason}") from None
    return runner


class _Site(web.BaseSite):
    """aiohttp's TCPSite with the listener as protocol factory, its own listening sockets (_ListeningSocket,
    one per address the host resolves to, as asyncio's create_server binds them) and the TLS handshake
    bounded as Go bounds it."""

    __slots__ = ("_listener", "_host", "_port", "_path", "_servers")

    def __init__(self, runner: web.AppRunner, listener: _Listener, host: str | None, port: int, ssl_context: Any, path: str | None = None):
        super().__init__(runner, ssl_context=ssl_context, backlog=listener.accept_batch)
        self._listener, self._host, self._port, self._path = listener, host, port, path
        self._servers: list[asyncio.AbstractServer] = []

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://unix:{self._path}" if self._path is not None else f"{scheme}://{self._host or '0.0.0.0'}:{self._port}"

    async def start(self) -> None:
        await super().start()
        handshake = self._listener.handshake_timeout if self._ssl_context is not None else None
        loop = asyncio.get_running_loop()
        sockets = [_bind_unix(self._path)] if self._path is not None else await _bind(self._host, self._port)
        for sock in sockets:
            sock.on_exhausted = self._listener.out_of_descriptors
        try:
            while sockets:
                sock = sockets[0]
                self._servers.append(await loop.create_server(self._listener, sock=sock, ssl=self._ssl_context, backlog=self._backlog, ssl_handshake_timeout=handshake))
                sockets.pop(0)
                sock.listen(LISTEN_BACKLOG)  # asyncio listened with its accept batch; this resizes the kernel's queue
        finally:
            for sock in sockets:
                sock.close()
        self._server = self._servers[0]

    async def stop(self) -> None:
        for server in self._servers[1:]:
            server.close()
        await super().stop()
        if self._path is not None and self._servers:
            # As Go's UnixListener does when closed: the socket file goes with the listener.
            with contextlib.suppress(OSError):
                os.unlink(self._path)


# accept() errors that mean the process or the system is out of descriptors or memory (asyncio's own list).
_RESOURCE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class _ListeningSocket(socket.socket):
    """A listening socket that reports running out of descriptors once per asyncio wake-up. asyncio's accept
    loop (BaseSelectorEventLoop._accept_connection) logs such an error, stops watching the socket and retries
    a second later, but then goes on calling accept() up to its backlog times in the same wake-up, logging and
    scheduling another retry each time: after the first such error this raises BlockingIOError, which ends it."""

    __slots__ = ("_exhausted", "on_exhausted")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._exhausted = False
        self.on_exhausted: Any = None  # called when accept() finds no descriptor left

    def accept(self) -> tuple[socket.socket, Any]:
        if self._exhausted:
            self._exhausted = False
            raise BlockingIOError(errno.EAGAIN, "accept paused until asyncio retries")
        try:
            return super().accept()
        except OSError as exc:
            self._exhausted = exc.errno in _RESOURCE_ERRNOS
            if self._exhausted and self.on_exhausted is not None:
                self.on_exhausted()
            raise


async def _bind(host: str | None, port: int) -> list[_ListeningSocket]:
    """Bound listening sockets for every address of `host` (None: every interface), as create_server makes them.
    A literal IP address is bound without a resolver lookup (as asyncio's create_server does)."""
    try:
        literal = ipaddress.ip_address(host) if host else None
    except ValueError:
        literal = None
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        address: tuple[Any, ...] = (host, port, 0, 0) if literal.version == 6 else (host, port)
        infos: list[tuple[Any, ...]] = [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[_ListeningSocket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = _ListeningSocket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # the IPv4 address has its own socket
            sock.bind(address)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_unix(path: str) -> _ListeningSocket:
    """A Unix stream socket bound at `path`. As Go's net.Listen("unix"), an existing file there is an error
    (address in use), never removed: it may be another process's socket."""
    sock = _ListeningSocket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    return sock


class _Refused(asyncio.Protocol):
    """What a connection past max_connections gets when no idle one can make room: closed once made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class _Listener:
    """The protocol factory of one listening socket: its open connections, their cap and their timeouts."""

    def __init__(self, server: Server, limits: ConnectionLimits, log: Any, counters: ConnectionCounters, tls: bool):
        self.server = server
        self.tls = tls
        self.loop = asyncio.get_running_loop()
        # What aiohttp's own Server.__call__ passes every RequestHandler it makes.
        self.handler_kwargs = server._kwargs
        self.log = log
        self.counters = counters
        self.read_timeout = limits.read_timeout
        self.write_timeout = limits.write_timeout
        # Go's Server.readHeaderTimeout and Server.idleTimeout: 0 falls back to ReadTimeout.
        self.header_timeout = limits.read_header_timeout or limits.read_timeout
        self.idle_timeout = limits.idle_timeout or limits.read_timeout
        timeouts = [t for t in (limits.read_timeout, limits.read_header_timeout, limits.write_timeout, limits.idle_timeout) if t > 0]
        # A connection's timer fires at least this often, so a phase change that aiohttp makes without telling
        # the guard (a response finished) is never noticed later than its own, longer or equal, timeout.
        self.tick = min(timeouts, default=0.0)
        # Go's Server.tlsHandshakeTimeout: the smallest of ReadHeaderTimeout, ReadTimeout and WriteTimeout set.
        handshake = [t for t in (limits.read_header_timeout, limits.read_timeout, limits.write_timeout) if t > 0]
        self.handshake_timeout = min(handshake, default=DEFAULT_HANDSHAKE_TIMEOUT)
        self.max_connections = limits.max_connections or auto_max_connections()
        self.evict_batch = max(1, self.max_connections // EVICT_FRACTION)
        self.accept_batch = max(MIN_ACCEPT_BATCH, min(LISTEN_BACKLOG, self.max_connections // 2))
        self.open: set[_Handler] = set()
        self._scan_after = 0.0

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self.open) >= self.max_connections and not self._room_at_cap():
            self.counters.refused.inc()
            self.log.warning("max_connections reached with every connection busy: new connection refused", max_connections=self.max_connections, rate_limit=True)
            return _Refused()
        handler = _Handler(self.server, self, loop=self.loop, **self.handler_kwargs)
        self.open.add(handler)
        self.counters.open.inc()
        if self.tls:
            handler.await_handshake()
        return handler

    def lost(self, handler: _Handler) -> None:
        if handler in self.open:
            self.open.discard(handler)
            self.counters.open.dec()

    def timed_out(self, handler: _Handler, reason: str) -> None:
        self.counters.closed[reason].inc()
        self.log.debug("connection timed out", reason=reason, peer=str(handler.peername), rate_limit=True)

    def close(self, handler: _Handler, reason: str) -> None:
        if reason != "evicted":
            self.timed_out(handler, reason)
        else:
            self.counters.closed[reason].inc()
        handler.drop()
        self.lost(handler)

    def _room_at_cap(self) -> bool:
        now = self.loop.time()
        if now < self._scan_after:
            return False
        evicted = self._evict(self.evict_batch)
        if not evicted:
            self._scan_after = now + REFUSE_BACKOFF
            return False
        self.log.warning("max_connections reached: closed the connections waiting longest for a request", evicted=evicted, max_connections=self.max_connections, rate_limit=True)
        return True

    def out_of_descriptors(self) -> None:
        """accept() failed for want of descriptors (max_connections is above what the process has, or something
        else took them): a quarter of the idle connections make room; asyncio retries accepting a second later."""
        evicted = self._evict(max(1, len(self.open) // 4))
        self.log.warning("out of file descriptors: closed the connections waiting longest for a request", evicted=evicted, open=len(self.open), rate_limit=True)

    def _evict(self, count: int) -> int:
        """Close up to `count` of the connections that have waited longest for a request (none in progress)."""
        waiting = [(since, id(h), h) for h in self.open if (since := h.waiting_since()) is not None]
        oldest = heapq.nsmallest(count, waiting)
        for _, _, handler in oldest:
            self.close(handler, "evicted")
        return len(oldest)


class _Handler(RequestHandler):
    """aiohttp's RequestHandler with Go's server timeouts. The phase of the connection at any moment:

    - reading a head: `_head_t0` >= 0, when its first byte came (for a new connection: when it was made,
      as Go's conn.serve reads the first request at once);
    - idle between requests: aiohttp waits for the next message; `_next_keepalive_close_time` is when the
      last response ended (aiohttp's keep-alive bookkeeping, with keepalive_timeout 0);
    - busy otherwise: `_head_done` is when its head was complete (write_timeout counts from it, as Go resets
      the write deadline there), `_request_t0` when it began (read_timeout counts from it while `_body` is
      still arriving).

    The keep-alive timer callback (`_process_keepalive`) closes the connection whose phase's deadline has
    passed and otherwise reschedules itself, at most `tick` ahead. Pipelined requests queued behind a busy
    one are timed from when their head was parsed."""

    __slots__ = ("_listener", "_accepted", "_connected", "_dropped", "_head_t0", "_request_t0", "_head_done", "_body")

    def __init__(self, manager: Server, listener: _Listener, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._listener = listener
        self._accepted = self._loop.time()
        self._connected = False  # connection_made comes on the next loop turn (after the handshake with TLS)
        self._dropped = False
        self._head_t0 = -1.0
        self._request_t0 = 0.0
        self._head_done = 0.0
        self._body: StreamReader | None = None

    def await_handshake(self) -> None:
        """A TLS connection: asyncio tells its protocol nothing of a failed handshake, so a timer forgets it."""
        when = self._accepted + self._listener.handshake_timeout + 1.0
        self._keepalive_handle = self._loop.call_at(when, self._process_keepalive)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
            self._keepalive_handle = None
        if self._dropped:
            assert isinstance(transport, asyncio.Transport)
            transport.abort()  # evicted while accepted but not yet connected; aiohttp never sees it
            return
        super().connection_made(transport)
        now = self._loop.time()
        self._connected = True
        self._head_t0 = now
        self._next_keepalive_close_time = now
        self._schedule(now, self._deadline()[0])

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        self._body = None
        self._listener.lost(self)

    def data_received(self, data: bytes) -> None:
        if self._head_t0 < 0.0:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                self._head_t0 = self._loop.time()  # the first bytes of the next request after an idle wait
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:
            # A head is complete (or could not be parsed, which aiohttp answers with 400).
            now = self._loop.time()
            self._request_t0 = self._head_t0 if self._head_t0 >= 0.0 else now
            self._head_t0 = -1.0
            self._head_done = now
            self._body = self._messages[-1][1] if self._messages else None

    def drop(self) -> None:
        if self._connected:
            self.force_close()
        else:
            self._dropped = True

    def waiting_since(self) -> float | None:
        """When this connection began waiting for (the rest of) a request head; None if a request is in
        progress or the connection is closing. One accepted but not yet connected (a burst of accepts, a TLS
        handshake) counts from its accept, so a burst can make room among its own."""
        if not self._connected:
            return None if self._dropped else self._accepted
        if self.transport is None:
            return None
        if self._head_t0 >= 0.0:
            return self._head_t0
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            return self._next_keepalive_close_time
        return None

    def _deadline(self) -> tuple[float, str]:
        listener = self._listener
        if self._head_t0 >= 0.0:
            when, reason = math.inf, "read_header_timeout"
            if listener.header_timeout:
                when = self._head_t0 + listener.header_timeout
            if listener.read_timeout and self._head_t0 + listener.read_timeout < when:
                when, reason = self._head_t0 + listener.read_timeout, "read_timeout"
            return when, reason
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            return (self._next_keepalive_close_time + listener.idle_timeout if listener.idle_timeout else math.inf), "idle_timeout"
        when, reason = math.inf, ""
        body = self._body
        if listener.read_timeout and body is not None and not body.is_eof():
            when, reason = self._request_t0 + listener.read_timeout, "read_timeout"
        if listener.write_timeout and self._head_done + listener.write_timeout < when:
            when, reason = self._head_done + listener.write_timeout, "write_timeout"
        return when, reason

    def _schedule(self, now: float, when: float) -> None:
        tick = self._listener.tick
        if tick:
            self._keepalive_handle = self._loop.call_at(min(when, now + tick), self._process_keepalive)

    def _process_keepalive(self) -> None:
        self._keepalive_handle = None
        if not self._connected:
            self._listener.lost(self)  # its TLS handshake failed or timed out
            return
        if self._force_close or self.transport is None:
            return
        now = self._loop.time()
        when, reason = self._deadline()
        if when <= now:
            if reason == "read_timeout" and self._head_t0 < 0.0 and self._body is not None:
                # The body is late: the handler's read fails and it answers; no further byte is read, and the
                # connection closes after the answer, which write_timeout still bounds.
                self._listener.timed_out(self, reason)
                self._body.set_exception(BodyReadTimeout(f"request body not received within read_timeout ({self._listener.read_timeout:g}s)"))
                self._body = None
                self.close()
                when, reason = self._deadline()
            else:
                self._listener.close(self, reason)
                return
        self._schedule(now, when)
