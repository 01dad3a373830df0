"""Moving the items a test matches out of one OTLP request into another (contrib connector/routingconnector's
internal ptraceutil, plogutil and pmetricutil: MoveResourcesIf, MoveSpansWithContextIf,
MoveRecordsWithContextIf, MoveMetricsWithContextIf, MoveDataPointsWithContextIf). The matched items keep their
resource and scope (copied into the new request once per resource and scope); what is left empty in the source
is removed. `test(ctx)` sees each item with what contains it, as OTTL does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...component import Signal
from ...ottl import Ctx
from ...ottl.groups import data_points
from ...pdata import REQUEST_TYPES

Test = Callable[[Ctx], bool]
_RESOURCES = {Signal.TRACES: "resource_spans", Signal.LOGS: "resource_logs", Signal.METRICS: "resource_metrics"}
_SCOPES = {Signal.TRACES: "scope_spans", Signal.LOGS: "scope_logs", Signal.METRICS: "scope_metrics"}
_ITEMS = {Signal.TRACES: "spans", Signal.LOGS: "log_records", Signal.METRICS: "metrics"}


def is_empty(signal: Signal, request: Any) -> bool:
    return not getattr(request, _RESOURCES[signal])


def new_request(signal: Signal) -> Any:
    return REQUEST_TYPES[signal]()


def move_all(signal: Signal, source: Any, target: Any) -> None:
    getattr(target, _RESOURCES[signal]).extend(getattr(source, _RESOURCES[signal]))
    source.ClearField(_RESOURCES[signal])


def move_resources(signal: Signal, source: Any, target: Any, test: Test) -> None:
    resources = getattr(source, _RESOURCES[signal])
    matched = [i for i in range(len(resources)) if test(Ctx(resource=resources[i].resource))]
    out = getattr(target, _RESOURCES[signal])
    for i in matched:
        out.add().CopyFrom(resources[i])
    for i in reversed(matched):
        del resources[i]


def move_items(signal: Signal, context: str, source: Any, target: Any, test: Test) -> None:
    """Spans (context span), log records (log), metrics (metric) or data points (datapoint) matching `test`."""
    rkey, skey, ikey = _RESOURCES[signal], _SCOPES[signal], _ITEMS[signal]
    for r in getattr(source, rkey):
        r_out = None
        for s in getattr(r, skey):
            s_out = None
            items = getattr(s, ikey)
            moved: list[int] = []
            for i in range(len(items)):
                item = items[i]
                if context == "datapoint":
                    points = [k for k, dp in enumerate(data_points(item)) if test(Ctx(r.resource, s.scope, metric=item, dp=dp))]
                    if not points:
                        continue
                elif not test(_ctx(context, r, s, item)):
                    continue
                if s_out is None:
                    if r_out is None:
                        r_out = getattr(target, rkey).add()
                        r_out.resource.CopyFrom(r.resource)
                        r_out.schema_url = r.schema_url
                    s_out = getattr(r_out, skey).add()
                    s_out.scope.CopyFrom(s.scope)
                    s_out.schema_url = s.schema_url
                if context == "datapoint":
                    _move_points(item, getattr(s_out, ikey).add(), points)
                    if not data_points(item):
                        moved.append(i)
                else:
                    getattr(s_out, ikey).add().CopyFrom(item)
                    moved.append(i)
            for i in reversed(moved):
                del items[i]
    _prune(signal, source)


def _ctx(context: str, r: Any, s: Any, item: Any) -> Ctx:
    if context == "span":
        return Ctx(r.resource, s.scope, item)
    if context == "log":
        return Ctx(r.resource, s.scope, log=item)
    return Ctx(r.resource, s.scope, metric=item)


def _move_points(metric: Any, out: Any, indexes: list[int]) -> None:
    kind = metric.WhichOneof("data")
    points = getattr(metric, kind).data_points
    out.CopyFrom(metric)
    target = getattr(out, kind).data_points
    del target[:]
    for i in indexes:
        target.add().CopyFrom(points[i])
    for i in reversed(indexes):
        del points[i]


def _prune(signal: Signal, request: Any) -> None:
    resources = getattr(request, _RESOURCES[signal])
    for ri in range(len(resources) - 1, -1, -1):
        scopes = getattr(resources[ri], _SCOPES[signal])
        for si in range(len(scopes) - 1, -1, -1):
            if not getattr(scopes[si], _ITEMS[signal]):
                del scopes[si]
        if not scopes:
            del resources[ri]
