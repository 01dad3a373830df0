"""The jaeger receiver's agent transports: UDP datagrams, each one `Agent.emitBatch(batch)` call, in
TCompactProtocol (`thrift_compact`, 6831) or TBinaryProtocol (`thrift_binary`, 6832), as Jaeger clients send
them to a local agent. Served as Jaeger's TBufferedServer does (otelcol's receiver runs it): datagrams wait in a
queue of `queue_size`, `workers` take them off it, one longer than `max_packet_size` or arriving at a full queue
is dropped. A datagram that is not a readable emitBatch call is dropped too; every drop is counted in
llm_collector_receiver_dropped_packets by reason, and nothing a sender writes can stop the server. Spans are
counted under otelcol's transport names `udp_thrift_compact` and `udp_thrift_binary`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from ...component import ConsumeError
from .config import UDPConfig
from .intake import Intake
from .thrift import ThriftError, decode_emit_batch
from .translate import from_thrift

DROPPED = ("llm_collector_receiver_dropped_packets",
           "Agent UDP datagrams dropped before their spans could be counted: reason too_large (over max_packet_size), "
           "queue_full (queue_size datagrams already waiting) or malformed (not a readable emitBatch call).")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: AgentServer):
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.received(data)

    def error_received(self, exc: Exception) -> None:
        self.server.intake.log.debug("UDP receive error", transport=self.server.intake.transport, error=str(exc))


class AgentServer:
    """One agent port: the socket, its queue and its workers."""

    def __init__(self, cfg: UDPConfig, intake: Intake, compact: bool, telemetry: Any, receiver_id: str):
        self.cfg = cfg
        self.intake = intake
        self.compact = compact
        dropped = telemetry.counter(*DROPPED, ("receiver", "transport", "reason"))
        self.too_large = dropped.labels(receiver_id, intake.transport, "too_large")
        self.queue_full = dropped.labels(receiver_id, intake.transport, "queue_full")
        self.malformed = dropped.labels(receiver_id, intake.transport, "malformed")
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(cfg.queue_size)
        self.transport: asyncio.DatagramTransport | None = None
        self.workers: list[asyncio.Task[None]] = []
        self.port: int | None = None

    async def start(self) -> None:
        sock = _bind(self.cfg)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self.transport = transport
        self.port = sock.getsockname()[1]
        self.workers = [asyncio.create_task(self._work(), name=f"{self.intake.transport}-{i}") for i in range(self.cfg.workers)]
        self.intake.log.info("Jaeger agent UDP server listening", endpoint=str(self.cfg.endpoint), transport=self.intake.transport,
                             queue_size=self.cfg.queue_size, workers=self.cfg.workers)

    def received(self, data: bytes) -> None:
        if len(data) > self.cfg.max_packet_size:
            self.too_large.inc()
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.queue_full.inc()

    async def _work(self) -> None:
        while True:
            data = await self.queue.get()
            try:
                await self._handle(data)
            finally:
                self.queue.task_done()

    async def _handle(self, data: bytes) -> None:
        try:
            translated, invalid = from_thrift(decode_emit_batch(data, self.compact))
        except ThriftError as exc:
            self.malformed.inc()
            self.intake.log.debug("malformed agent datagram", transport=self.intake.transport, size=len(data), error=str(exc))
            return
        try:
            await self.intake.push(translated, invalid)
        except ConsumeError as exc:  # counted as refused by the intake; UDP has no one to tell
            self.intake.log.debug("batch refused by the pipeline", transport=self.intake.transport, error=str(exc))
        except Exception as exc:
            self.intake.log.error("pipeline failed", transport=self.intake.transport, error=repr(exc), exc_info=True)

    async def shutdown(self, grace: float) -> None:
        """Stop receiving, let the workers finish what is queued (within `grace`), then stop them."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), grace)
        for task in self.workers:
            task.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        self.workers = []


def _bind(cfg: UDPConfig) -> socket.socket:
    """The bound socket, with SO_RCVBUF set first when socket_buffer_size asks (otelcol's SetSocketBufferSize)."""
    host = cfg.endpoint.host or None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, cfg.endpoint.port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {cfg.endpoint} (UDP): {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        if cfg.socket_buffer_size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.socket_buffer_size)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {cfg.endpoint} (UDP): {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock
