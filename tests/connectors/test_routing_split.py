"""How routing moves matched items out of a request, table for table as contrib's
connector/routingconnector/internal/plogutil/logs_test.go (TestMoveResourcesIf, TestMoveRecordsWithContextIf):
`logs("AB", "CD", "EF")` is resources A and B, each with scopes C and D, each with records E and F (resource
attribute resourceName=resourceX, scope name scopeX, body logX), and a shape lists what a request holds."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector.component import Signal
from collector.connectors.routing import split
from collector.testing import kv

Shape = list[tuple[str, list[tuple[str, list[str]]]]]


def logs(resources: str, scopes: str, records: str) -> ExportLogsServiceRequest:
    return build([(r, [(s, list(records)) for s in scopes]) for r in resources])


def build(shape: Shape) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for r, scopes in shape:
        rl = request.resource_logs.add()
        rl.resource.attributes.append(kv("resourceName", f"resource{r}"))
        for s, records in scopes:
            sl = rl.scope_logs.add()
            sl.scope.name = f"scope{s}"
            for body in records:
                sl.log_records.add().body.string_value = f"log{body}"
    return request


def resource(ctx: Any) -> str:
    return next(a.value.string_value for a in ctx.resource.attributes if a.key == "resourceName")


RESOURCE_CASES = [
    ("move_none", lambda ctx: False, logs("AB", "CD", "EF"), ExportLogsServiceRequest(), logs("AB", "CD", "EF"), ExportLogsServiceRequest()),
    ("move_all", lambda ctx: True, logs("AB", "CD", "EF"), ExportLogsServiceRequest(), ExportLogsServiceRequest(), logs("AB", "CD", "EF")),
    ("move_one", lambda ctx: resource(ctx) == "resourceA", logs("AB", "CD", "EF"), ExportLogsServiceRequest(), logs("B", "CD", "EF"), logs("A", "CD", "EF")),
    ("move_to_preexisting", lambda ctx: resource(ctx) == "resourceB", logs("AB", "CD", "EF"), logs("1", "2", "3"), logs("A", "CD", "EF"),
     build([("1", [("2", ["3"])]), ("B", [("C", ["E", "F"]), ("D", ["E", "F"])])])),
]

RECORD_CASES = [
    ("move_none", lambda ctx: False, ExportLogsServiceRequest(), logs("AB", "CD", "EF"), ExportLogsServiceRequest()),
    ("move_all", lambda ctx: True, ExportLogsServiceRequest(), ExportLogsServiceRequest(), logs("AB", "CD", "EF")),
    ("move_all_from_one_resource", lambda ctx: resource(ctx) == "resourceB", ExportLogsServiceRequest(), logs("A", "CD", "EF"), logs("B", "CD", "EF")),
    ("move_all_from_one_scope", lambda ctx: resource(ctx) == "resourceB" and ctx.scope.name == "scopeC", ExportLogsServiceRequest(),
     build([("A", [("C", ["E", "F"]), ("D", ["E", "F"])]), ("B", [("D", ["E", "F"])])]), logs("B", "C", "EF")),
    ("move_all_from_one_scope_in_each_resource", lambda ctx: ctx.scope.name == "scopeD", ExportLogsServiceRequest(),
     logs("AB", "C", "EF"), logs("AB", "D", "EF")),
    ("move_one", lambda ctx: resource(ctx) == "resourceA" and ctx.scope.name == "scopeD" and ctx.log.body.string_value == "logF",
     ExportLogsServiceRequest(), build([("A", [("C", ["E", "F"]), ("D", ["E"])]), ("B", [("C", ["E", "F"]), ("D", ["E", "F"])])]),
     logs("A", "D", "F")),
    ("move_one_from_each_scope", lambda ctx: ctx.log.body.string_value == "logE", ExportLogsServiceRequest(), logs("AB", "CD", "F"), logs("AB", "CD", "E")),
    ("move_one_from_each_scope_in_one_resource", lambda ctx: resource(ctx) == "resourceB" and ctx.log.body.string_value == "logE",
     ExportLogsServiceRequest(), build([("A", [("C", ["E", "F"]), ("D", ["E", "F"])]), ("B", [("C", ["F"]), ("D", ["F"])])]),
     logs("B", "CD", "E")),
    ("move_some_to_preexisting", lambda ctx: ctx.scope.name == "scopeD", logs("1", "2", "3"), logs("AB", "C", "EF"),
     build([("1", [("2", ["3"])]), ("A", [("D", ["E", "F"])]), ("B", [("D", ["E", "F"])])])),
]


@pytest.mark.parametrize(("test", "source", "target", "left", "moved"), [pytest.param(*c[1:], id=c[0]) for c in RESOURCE_CASES])
def test_move_resources_if(test: Any, source: Any, target: Any, left: Any, moved: Any) -> None:
    source, target = clone(source), clone(target)
    split.move_resources(Signal.LOGS, source, target, test)
    assert source == left
    assert target == moved


@pytest.mark.parametrize(("test", "target", "left", "moved"), [pytest.param(*c[1:], id=c[0]) for c in RECORD_CASES])
def test_move_records_with_context_if(test: Any, target: Any, left: Any, moved: Any) -> None:
    source, target = logs("AB", "CD", "EF"), clone(target)
    split.move_items(Signal.LOGS, "log", source, target, test)
    assert source == left
    assert target == moved


def clone(request: ExportLogsServiceRequest) -> ExportLogsServiceRequest:
    out = ExportLogsServiceRequest()
    out.CopyFrom(request)
    return out
