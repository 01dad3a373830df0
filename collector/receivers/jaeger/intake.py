"""What every transport of the jaeger receiver does with a translated batch: push it into the pipeline and count
the spans accepted, refused and failed under otelcol's transport names."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ...component import ConsumeError, Consumer, Rejected, Signal
from ...envelope import Envelope
from ...pdata import count_spans
from .translate import BAD_IDS


class Intake:
    def __init__(self, receiver: Any, consumer: Consumer, transport: str):
        self.consumer = consumer
        self.log = receiver.log
        self.transport = transport
        self.counters = receiver.telemetry.receiver_counters(receiver.id, transport, Signal.TRACES)

    def refuse(self, count: int) -> None:
        self.counters.refused.inc(count)

    async def push(self, request: ExportTraceServiceRequest, invalid: int) -> Rejected | None:
        """`invalid`: spans the translation refused (their ids, or a Thrift span missing a required field).
        Raises the pipeline's ConsumeError (the spans counted as refused) or any other failure (counted as failed)."""
        rejected = Rejected(invalid, f"{invalid} {BAD_IDS}") if invalid else None
        if invalid:
            self.counters.refused.inc(invalid)
            self.log.debug("spans refused", transport=self.transport, count=invalid, reason=BAD_IDS)
        total = count_spans(request)
        if total == 0:
            return rejected
        try:
            result = await self.consumer.consume(Envelope(Signal.TRACES, request))
        except ConsumeError:
            self.counters.refused.inc(total)
            raise
        except Exception:
            self.counters.failed.inc(total)
            raise
        if result is not None and result.count:
            self.counters.refused.inc(result.count)
            total -= result.count
        self.counters.accepted.inc(total)
        return Rejected.combine([rejected, result])
