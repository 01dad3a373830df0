"""The filter processor: drops the spans, span events, log records, metrics and data points an OTTL condition
matches (otelcol-contrib processor/filterprocessor traces.go, logs.go, metrics.go).

Scopes and resources left empty are removed; a request left with nothing is not passed on (otelcol's
ErrSkipProcessingData: the client is answered with success). A condition that fails to evaluate follows
error_mode: propagate fails the request, ignore logs it and keeps the item, silent keeps it. A request in whose
wire bytes no condition can hold (collector/ottl/prefilter.py) is passed on without being parsed into items."""

from __future__ import annotations

from typing import Any

from ...component import Capabilities, PermanentError, Processor, Rejected, Signal
from ...envelope import Envelope
from ...ottl import Ctx, prefilter
from ...ottl.groups import data_points
from ...registry import register
from .config import PROFILES_REASON, Conditions, FilterConfig


class _Failed(Exception):
    pass


@register
class FilterProcessor(Processor):
    type_name = "filter"
    description = "Drops spans, span events, log records, metrics and data points matching OTTL conditions (otelcol's filter processor)."
    config_class = FilterConfig
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: FilterConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        unit = {Signal.TRACES: "spans", Signal.LOGS: "logs", Signal.METRICS: "datapoints"}[self.signal]
        self.m_filtered = self.telemetry.counter(
            f"otelcol_processor_filter_{unit}_filtered", f"{unit.capitalize()} dropped by the filter processor's conditions.", ("filter",),
        ).labels(str(self.id))
        c = config
        lists = {Signal.TRACES: (c.traces.span, c.traces.spanevent), Signal.LOGS: (c.logs.log_record,),
                 Signal.METRICS: (c.metrics.metric, c.metrics.datapoint)}[self.signal]
        texts = [t for conditions in lists for t in conditions.texts]
        self.may_match = prefilter.any_of(prefilter.condition(t) for t in texts) if texts else None

    @classmethod
    def ineffective_keys(cls, config: FilterConfig) -> list[tuple[str, str]]:
        return [("profiles", PROFILES_REASON)] if config.profiles else []

    async def consume(self, envelope: Envelope) -> Rejected | None:
        c = self.config
        if self.signal is Signal.TRACES:
            active = bool(c.traces.span or c.traces.spanevent)
        elif self.signal is Signal.LOGS:
            active = bool(c.logs.log_record)
        else:
            active = bool(c.metrics.metric or c.metrics.datapoint)
        if not active:
            return await self.next.consume(envelope)
        if self.may_match is not None:
            wire = envelope.wire()
            if wire is not None and not self.may_match(wire):
                return await self.next.consume(envelope)  # no condition can hold in these bytes: nothing to drop
        request = envelope.request
        try:
            if self.signal is Signal.TRACES:
                dropped, left = self._traces(request)
            elif self.signal is Signal.LOGS:
                dropped, left = self._logs(request)
            else:
                dropped, left = self._metrics(request)
        except _Failed as exc:
            raise PermanentError(str(exc)) from None
        if dropped:
            self.m_filtered.inc(dropped)
        if not left:
            return None
        return await self.next.consume(envelope)

    def _matches(self, conditions: Conditions, ctx: Ctx) -> bool:
        # pkg/ottl ConditionSequence.Eval: under ignore and silent a failing condition is false and the next
        # one is still tried.
        for test in conditions:
            try:
                if test(ctx):
                    return True
            except Exception as exc:  # noqa: BLE001 (client data: a failing condition follows error_mode)
                mode = self.config.error_mode
                if mode == "propagate":
                    raise _Failed(f"failed to evaluate a {conditions.context} condition: {exc}") from None
                if mode == "ignore":
                    self.log.warning("failed to evaluate condition", context=conditions.context, error=str(exc))
        return False

    def _traces(self, request: Any) -> tuple[int, int]:
        spans, events = self.config.traces.span, self.config.traces.spanevent
        dropped = left = 0
        for ri in range(len(request.resource_spans) - 1, -1, -1):
            rs = request.resource_spans[ri]
            for si in range(len(rs.scope_spans) - 1, -1, -1):
                ss = rs.scope_spans[si]
                for i in range(len(ss.spans) - 1, -1, -1):
                    span = ss.spans[i]
                    ctx = Ctx(rs.resource, ss.scope, span)
                    if spans and self._matches(spans, ctx):
                        del ss.spans[i]
                        dropped += 1
                        continue
                    if events:
                        for ei in range(len(span.events) - 1, -1, -1):
                            ectx = Ctx(rs.resource, ss.scope, span, span.events[ei])
                            ectx.event_index = ei
                            if self._matches(events, ectx):
                                del span.events[ei]
                if not ss.spans:
                    del rs.scope_spans[si]
                else:
                    left += len(ss.spans)
            if not rs.scope_spans:
                del request.resource_spans[ri]
        return dropped, left

    def _logs(self, request: Any) -> tuple[int, int]:
        records = self.config.logs.log_record
        dropped = left = 0
        for ri in range(len(request.resource_logs) - 1, -1, -1):
            rl = request.resource_logs[ri]
            for si in range(len(rl.scope_logs) - 1, -1, -1):
                sl = rl.scope_logs[si]
                for i in range(len(sl.log_records) - 1, -1, -1):
                    if self._matches(records, Ctx(rl.resource, sl.scope, log=sl.log_records[i])):
                        del sl.log_records[i]
                        dropped += 1
                if not sl.log_records:
                    del rl.scope_logs[si]
                else:
                    left += len(sl.log_records)
            if not rl.scope_logs:
                del request.resource_logs[ri]
        return dropped, left

    def _metrics(self, request: Any) -> tuple[int, int]:
        metrics, points = self.config.metrics.metric, self.config.metrics.datapoint
        dropped = left = 0
        for ri in range(len(request.resource_metrics) - 1, -1, -1):
            rm = request.resource_metrics[ri]
            for si in range(len(rm.scope_metrics) - 1, -1, -1):
                sm = rm.scope_metrics[si]
                for i in range(len(sm.metrics) - 1, -1, -1):
                    metric = sm.metrics[i]
                    dps = data_points(metric)
                    if metrics and self._matches(metrics, Ctx(rm.resource, sm.scope, metric=metric)):
                        dropped += len(dps)
                        del sm.metrics[i]
                        continue
                    if points:
                        for di in range(len(dps) - 1, -1, -1):
                            if self._matches(points, Ctx(rm.resource, sm.scope, metric=metric, dp=dps[di])):
                                del dps[di]
                                dropped += 1
                        if not dps:
                            del sm.metrics[i]
                            continue
                    left += len(dps)
                if not sm.metrics:
                    del rm.scope_metrics[si]
            if not rm.scope_metrics:
                del request.resource_metrics[ri]
        return dropped, left
