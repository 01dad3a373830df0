"""The count connector (contrib connector/countconnector connector.go, counter.go): counts the spans, span
events, metrics, data points or log records of each request it takes into delta Sum metrics (monotonic, int
values, one data point per distinct set of attribute values), one resource of counts per resource counted
with that resource's attributes, under the connector's scope; emitted to its metrics pipelines before the
caller is answered, so a refusal there reaches the client. A condition that fails to evaluate fails the
request (contrib joins and returns the errors)."""

from __future__ import annotations

import time
from typing import Any

from ...component import Connector, PermanentError, Rejected, Signal
from ...envelope import Envelope
from ...ottl import Ctx
from ...ottl.functions import to_string
from ...ottl.groups import data_points
from ...ottl.values import AttrMap, to_any
from ...pdata import REQUEST_TYPES
from ...registry import register
from .config import CountConfig, MetricInfo

SCOPE = "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector"
_KINDS = {Signal.TRACES: ("spans", "spanevents"), Signal.METRICS: ("metrics", "datapoints"), Signal.LOGS: ("logs",)}


class _Counter:
    """One resource's counts: metric name -> attribute values -> count (counter.go)."""

    def __init__(self, defs: dict[str, MetricInfo]):
        self.defs = defs
        self.counts: dict[str, dict[tuple[tuple[str, Any], ...], int]] = {}

    def update(self, attrs: Any, scope_attrs: Any, resource_attrs: Any, ctx: Ctx) -> None:
        for name, info in self.defs.items():
            values: list[tuple[str, Any]] = []
            for attribute in info.attributes:
                value = _dimension(attribute.key, attrs, scope_attrs, resource_attrs)
                if value is not None:
                    values.append((attribute.key, to_string(value)))
                elif attribute.default_value not in (None, "", 0):
                    values.append((attribute.key, attribute.default_value))
            if len(values) != len(info.attributes):
                continue  # missing an attribute needed to be counted
            if info.tests and not any(test(ctx) for test in info.tests):
                continue
            by_values = self.counts.setdefault(name, {})
            key = tuple(values)
            by_values[key] = by_values.get(key, 0) + 1

    def append_to(self, metrics: Any, now: int) -> None:
        for name, info in self.defs.items():
            counted = self.counts.get(name)
            if not counted:
                continue
            metric = metrics.add(name=name, description=info.description)
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = 1  # AGGREGATION_TEMPORALITY_DELTA
            for values, count in counted.items():
                dp = metric.sum.data_points.add(as_int=count, time_unix_nano=now)
                for key, value in values:
                    to_any(value, dp.attributes.add(key=key).value)


def _dimension(key: str, *maps: Any) -> Any:
    """The first of the item's, its scope's and its resource's attributes holding `key`."""
    for kvs in maps:
        if kvs is not None:
            value = AttrMap(kvs).get(key)
            if value is not None:
                return value
    return None


@register
class CountConnector(Connector):
    type_name = "count"
    description = "Counts spans, span events, metrics, data points and log records into metrics, by OTTL conditions and attributes (otelcol's count connector)."
    config_class = CountConfig
    pairs = frozenset((s, Signal.METRICS) for s in Signal)

    def __init__(self, settings: Any, config: CountConfig, pipelines: Any, next_consumer: Any):
        super().__init__(settings, config, pipelines, next_consumer)
        self.defs = [getattr(config, kind).metrics() for kind in _KINDS[self.signal]]

    async def consume(self, envelope: Envelope) -> Rejected | None:
        request = envelope.request
        out: Any = REQUEST_TYPES[Signal.METRICS]()
        now = time.time_ns()
        try:
            if self.signal is Signal.TRACES:
                resources = [(rs.resource, self._traces(rs)) for rs in request.resource_spans]
            elif self.signal is Signal.LOGS:
                resources = [(rl.resource, self._logs(rl)) for rl in request.resource_logs]
            else:
                resources = [(rm.resource, self._metrics(rm)) for rm in request.resource_metrics]
        except Exception as exc:  # noqa: BLE001 (client data: a failing condition fails the request, as contrib's)
            raise PermanentError(f"failed to evaluate a count condition: {exc}") from None
        for resource, counters in resources:
            if not any(c.counts for c in counters):
                continue  # no empty resource
            rm = out.resource_metrics.add()
            rm.resource.attributes.extend(resource.attributes)
            sm = rm.scope_metrics.add()
            sm.scope.name = SCOPE
            for counter in counters:
                counter.append_to(sm.metrics, now)
        if not out.resource_metrics:
            return None
        return await self.next.consume(Envelope(Signal.METRICS, out))

    def _traces(self, rs: Any) -> list[_Counter]:
        spans, events = (_Counter(d) for d in self.defs)
        for ss in rs.scope_spans:
            for span in ss.spans:
                spans.update(span.attributes, ss.scope.attributes, rs.resource.attributes, Ctx(rs.resource, ss.scope, span))
                for i, event in enumerate(span.events):
                    ctx = Ctx(rs.resource, ss.scope, span, event)
                    ctx.event_index = i
                    events.update(event.attributes, ss.scope.attributes, rs.resource.attributes, ctx)
        return [spans, events]

    def _logs(self, rl: Any) -> list[_Counter]:
        (logs,) = (_Counter(d) for d in self.defs)
        for sl in rl.scope_logs:
            for log in sl.log_records:
                logs.update(log.attributes, sl.scope.attributes, rl.resource.attributes, Ctx(rl.resource, sl.scope, log=log))
        return [logs]

    def _metrics(self, rm: Any) -> list[_Counter]:
        metrics, points = (_Counter(d) for d in self.defs)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                metrics.update(None, sm.scope.attributes, rm.resource.attributes, Ctx(rm.resource, sm.scope, metric=metric))
                for dp in data_points(metric):
                    points.update(dp.attributes, sm.scope.attributes, rm.resource.attributes, Ctx(rm.resource, sm.scope, metric=metric, dp=dp))
        return [metrics, points]
