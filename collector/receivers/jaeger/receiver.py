"""The `jaeger` receiver, registered under otelcol's type name: starts the transports its `protocols` enable
(collector_grpc, collector_http, agent_udp) and stops them. Traces only, as in otelcol."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ...admission import Admission, host_admission
from ...component import Consumer, Host, Receiver, Settings, Signal
from ...grpc_options import BUFFER_SIZE_REASON
from ...lazyimport import lazy
from ...registry import register
from .config import REMOTE_SAMPLING_REASON, JaegerReceiverConfig

if TYPE_CHECKING:
    import grpc
    from aiohttp import web

    from . import agent_udp, collector_grpc, collector_http, intake
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    grpc, web = lazy("grpc"), lazy("aiohttp.web")
    agent_udp, collector_grpc = lazy("collector.receivers.jaeger.agent_udp"), lazy("collector.receivers.jaeger.collector_grpc")
    collector_http, intake = lazy("collector.receivers.jaeger.collector_http"), lazy("collector.receivers.jaeger.intake")

TRANSLATION = (
    "Spans are translated to OTLP as otelcol-contrib's pkg/translator/jaeger does: the process becomes the resource "
    "(`service.name`, its tags; `hostname` -> `host.name`, `jaeger.version` -> `opencensus.exporterversion`), `span.kind` "
    "gives the kind, `error`/`otel.status_code`/`http.status_code` the status, logs become events named by their `event` "
    "field, references give the parent and links (`opentracing.ref_type`). Over gRPC only, as in otelcol, "
    "`otel.scope.name`/`otel.scope.version` tags give the scope and `w3c.tracestate` the trace state. A span whose trace or "
    "span id is missing, all zero or of the wrong length (or, in Thrift, lacks a required field) is refused alone and counted "
    "in `otelcol_receiver_refused_spans`; otelcol would pass it on."
)
BAD_INPUT = (
    "gRPC answers INVALID_ARGUMENT to a message it cannot decode; thrift_http answers 400 to a body or Content-Type it cannot "
    "read (as otelcol) and 202 to a batch it took. An agent datagram over `max_packet_size`, arriving at a full queue, or not "
    "a readable `emitBatch` call is dropped and counted in `llm_collector_receiver_dropped_packets{reason=too_large|queue_full|malformed}`. "
    "No reason quotes what was sent."
)


@register
class JaegerReceiver(Receiver):
    type_name = "jaeger"
    description = "Receives Jaeger spans: gRPC api_v2 (14250), Thrift over HTTP (14268), agent UDP thrift_compact (6831) and thrift_binary (6832)."
    config_class = JaegerReceiverConfig
    signals = frozenset({Signal.TRACES})

    @classmethod
    def ineffective_keys(cls, config: JaegerReceiverConfig) -> list[tuple[str, str]]:
        out = []
        grpc_cfg = config.protocols.grpc
        if grpc_cfg is not None:
            out += [(f"protocols.grpc.{key}", BUFFER_SIZE_REASON) for key in ("read_buffer_size", "write_buffer_size") if getattr(grpc_cfg, key) is not None]
        if config.remote_sampling is not None:
            out.append(("remote_sampling", REMOTE_SAMPLING_REASON))
        return out

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Translation", TRANSLATION, None), ("Bad input", BAD_INPUT, None)]

    def __init__(self, settings: Settings, config: JaegerReceiverConfig, consumers: dict[Signal, Consumer]):
        super().__init__(settings, config, consumers)
        self._grpc_server: grpc.aio.Server | None = None
        self._http_runner: web.AppRunner | None = None
        self._agents: list[agent_udp.AgentServer] = []
        self._grace = 5.0
        self.grpc_port: int | None = None

    async def start(self, host: Host) -> None:
        self._grace = max(0.5, float(getattr(host, "shutdown_grace", 5.0)))
        admission = host_admission(host) or Admission()
        consumer = self.consumers[Signal.TRACES]
        protocols = self.config.protocols
        try:
            for key, compact, transport in (("thrift_compact", True, "udp_thrift_compact"), ("thrift_binary", False, "udp_thrift_binary")):
                cfg = getattr(protocols, key)
                if cfg is not None:
                    agent = agent_udp.AgentServer(cfg, intake.Intake(self, consumer, transport), compact, self.telemetry, str(self.id))
                    await agent.start()
                    self._agents.append(agent)
            if protocols.thrift_http is not None:
                self._http_runner = await collector_http.start(
                    protocols.thrift_http, intake.Intake(self, consumer, "collector_http"), admission,
                    counters=self.telemetry.connection_counters(self.id, "collector_http"), grace=self._grace)
            if protocols.grpc is not None:
                self._grpc_server, self.grpc_port = await collector_grpc.start(protocols.grpc, intake.Intake(self, consumer, "grpc"), admission)
        except BaseException:
            await self.shutdown()
            raise

    async def shutdown(self) -> None:
        tasks: list[Any] = [agent.shutdown(self._grace) for agent in self._agents]
        if self._grpc_server is not None:
            tasks.append(self._grpc_server.stop(self._grace))
        if self._http_runner is not None:
            tasks.append(self._http_runner.cleanup())
        await asyncio.gather(*tasks)
        self._agents = []
        self._grpc_server = None
        self._http_runner = None
