"""The attributes and resource processors do what otelcol does: otelcol-contrib's own test cases as tables,
each citing the contrib file and function it comes from (internal/coreinternal/attraction/attraction_test.go,
processor/attributesprocessor/attributes_{trace,log,metric}_test.go, processor/resourceprocessor/
resource_processor_test.go)."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.client import client_metadata
from collector.component import Signal
from collector.envelope import Envelope
from collector.processors.attraction import as_string, format_double
from collector.testing import BuildError, Sink, build_processor, kv, traces_request


def raw(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [raw(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {e.key: raw(e.value) for e in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


def attrs_of(entries: Any) -> dict[str, Any]:
    return {e.key: raw(e.value) for e in entries}


def process(cfg: dict[str, Any], request: Any, signal: Signal, type_name: str = "attributes") -> Any:
    sink = Sink()
    processor = build_processor(type_name, cfg, sink, signal=signal)
    asyncio.run(processor.consume(Envelope.of(request)))
    (out,) = sink.requests
    return out


def span_attrs(cfg: dict[str, Any], attrs: dict[str, Any], service: str = "", name: str = "span", kind: int = 0, scope: str = "") -> dict[str, Any]:
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x01" * 8, name=name, kind=kind)  # type: ignore[arg-type]
    span.attributes.extend(kv(k, v) for k, v in attrs.items())
    out = process(cfg, traces_request(span, resource={"service.name": service} if service else None, scope=scope), Signal.TRACES)
    return attrs_of(out.resource_spans[0].scope_spans[0].spans[0].attributes)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# attraction_test.go: (test function, actions, [(case, input, expected)]).
ATTRACTION = [
    ("TestAttributes_InsertValue", [{"key": "attribute1", "action": "insert", "value": 123}], [
        ("InsertEmptyAttributes", {}, {"attribute1": 123}),
        ("InsertKeyNoExists", {"anotherkey": "bob"}, {"anotherkey": "bob", "attribute1": 123}),
        ("InsertKeyExists", {"attribute1": "bob"}, {"attribute1": "bob"}),
    ]),
    ("TestAttributes_InsertFromAttribute", [{"key": "string key", "action": "insert", "from_attribute": "anotherkey"}], [
        ("InsertEmptyAttributes", {}, {}),
        ("InsertMissingFromAttribute", {"bob": 1}, {"bob": 1}),
        ("InsertAttributeExists", {"anotherkey": 8892342}, {"anotherkey": 8892342, "string key": 8892342}),
        ("InsertKeysExists", {"anotherkey": 8892342, "string key": "here"}, {"anotherkey": 8892342, "string key": "here"}),
    ]),
    ("TestAttributes_UpdateValue", [{"key": "db.secret", "action": "update", "value": "redacted"}], [
        ("UpdateNoAttributes", {}, {}),
        ("UpdateKeyNoExist", {"boo": "foo"}, {"boo": "foo"}),
        ("UpdateAttributes", {"db.secret": "password1234"}, {"db.secret": "redacted"}),
    ]),
    ("TestAttributes_UpdateFromAttribute", [{"key": "boo", "action": "update", "from_attribute": "foo"}], [
        ("UpdateNoAttributes", {}, {}),
        ("UpdateKeyNoExistFromAttribute", {"boo": "bob"}, {"boo": "bob"}),
        ("UpdateKeyNoExistMainAttributed", {"foo": "over there"}, {"foo": "over there"}),
        ("UpdateKeyFromExistingAttribute", {"foo": "there is a party over here", "boo": "not here"},
         {"foo": "there is a party over here", "boo": "there is a party over here"}),
    ]),
    ("TestAttributes_UpsertValue", [{"key": "region", "action": "upsert", "value": "planet-earth"}], [
        ("UpsertNoAttributes", {}, {"region": "planet-earth"}),
        ("UpsertAttributeNoExist", {"mission": "to mars"}, {"mission": "to mars", "region": "planet-earth"}),
        ("UpsertAttributeExists", {"mission": "to mars", "region": "solar system"}, {"mission": "to mars", "region": "planet-earth"}),
    ]),
    ("TestAttributes_Extract", [{"key": "user_key", "action": "extract",
                                 "pattern": r"^\/api\/v1\/document\/(?P<new_user_key>.*)\/update\/(?P<version>.*)$"}], [
        ("UpsertEmptyAttributes", {}, {}),
        ("No extract with no target key", {"boo": "ghosts are scary"}, {"boo": "ghosts are scary"}),
        ("No extract with non string target key", {"boo": "ghosts are scary", "user_key": 1234}, {"boo": "ghosts are scary", "user_key": 1234}),
        ("No extract with no pattern matching", {"user_key": "does not match", "boo": "ghosts are scary"}, {"user_key": "does not match", "boo": "ghosts are scary"}),
        ("No extract with no pattern matching 2", {"user_key": "/api/v1/document/12345678/update", "boo": "ghosts are scary"},
         {"user_key": "/api/v1/document/12345678/update", "boo": "ghosts are scary"}),
        ("Extract insert new values.", {"user_key": "/api/v1/document/12345678/update/v1", "foo": "casper the friendly ghost"},
         {"user_key": "/api/v1/document/12345678/update/v1", "new_user_key": "12345678", "version": "v1", "foo": "casper the friendly ghost"}),
        ("Extract updates existing values ", {"user_key": "/api/v1/document/12345678/update/v1", "new_user_key": "2321", "version": "na", "foo": "casper the friendly ghost"},
         {"user_key": "/api/v1/document/12345678/update/v1", "new_user_key": "12345678", "version": "v1", "foo": "casper the friendly ghost"}),
        ("Extract upserts values", {"user_key": "/api/v1/document/12345678/update/v1", "new_user_key": "2321", "foo": "casper the friendly ghost"},
         {"user_key": "/api/v1/document/12345678/update/v1", "new_user_key": "12345678", "version": "v1", "foo": "casper the friendly ghost"}),
    ]),
    ("TestAttributes_UpsertFromAttribute", [{"key": "new_user_key", "action": "upsert", "from_attribute": "user_key"}], [
        ("UpsertEmptyAttributes", {}, {}),
        ("UpsertFromAttributeNoExist", {"boo": "ghosts are scary"}, {"boo": "ghosts are scary"}),
        ("UpsertFromAttributeExistsInsert", {"user_key": 2245, "foo": "casper the friendly ghost"},
         {"user_key": 2245, "new_user_key": 2245, "foo": "casper the friendly ghost"}),
        ("UpsertFromAttributeExistsUpdate", {"user_key": 2245, "new_user_key": 5422, "foo": "casper the friendly ghost"},
         {"user_key": 2245, "new_user_key": 2245, "foo": "casper the friendly ghost"}),
    ]),
    ("TestAttributes_Delete", [{"key": "duplicate_key", "action": "delete", "pattern": "^duplicate_key_."}], [
        ("DeleteEmptyAttributes", {}, {}),
        ("DeleteAttributeNoExist", {"boo": "ghosts are scary"}, {"boo": "ghosts are scary"}),
        ("DeleteAttributeExists", {"duplicate_key": 3245.6, "original_key": 3245.6}, {"original_key": 3245.6}),
        ("DeleteAttributeExists by regexp", {"duplicate_key_a": 3245.6, "duplicate_key_b": 3245.6, "duplicate_key_c": 3245.6, "original_key": 3245.6,
                                             "not_duplicate_key": 3246.6}, {"original_key": 3245.6, "not_duplicate_key": 3246.6}),
    ]),
    ("TestAttributes_Delete_Regexp", [{"action": "delete", "pattern": "duplicate.*"}], [
        ("DeleteEmptyAttributes", {}, {}),
        ("DeleteAttributeNoExist", {"boo": "ghosts are scary"}, {"boo": "ghosts are scary"}),
        ("DeleteAttributeExists", {"duplicate_key": 3245.6, "original_key": 3245.6}, {"original_key": 3245.6}),
    ]),
    ("TestAttributes_HashValue", [{"key": "updateme", "action": "hash", "pattern": "^updatemeby.*"}], [
        ("HashNoAttributes", {}, {}),
        ("HashKeyNoExist", {"boo": "foo"}, {"boo": "foo"}),
        ("HashString", {"updateme": "foo"}, {"updateme": sha256(b"foo")}),
        ("HashInt", {"updateme": 24}, {"updateme": sha256(struct.pack("<q", 24))}),
        ("HashDouble", {"updateme": 2.4}, {"updateme": sha256(struct.pack("<d", 2.4))}),
        ("HashBoolTrue", {"updateme": True}, {"updateme": sha256(b"\x01")}),
        ("HashBoolFalse", {"updateme": False}, {"updateme": sha256(b"\x00")}),
        ("HashRegex", {"updatemebyregexp": False, "donotupdatemebyregexp": False}, {"updatemebyregexp": sha256(b"\x00"), "donotupdatemebyregexp": False}),
    ]),
    ("TestAttributes_FromAttributeNoChange", [{"key": "boo", "action": "insert", "from_attribute": "boo"},
                                              {"key": "boo", "action": "update", "from_attribute": "boo"},
                                              {"key": "boo", "action": "upsert", "from_attribute": "boo"}], [
        ("FromAttributeNoChange", {"boo": "ghosts are scary"}, {"boo": "ghosts are scary"}),
    ]),
    ("TestAttributes_Ordering", [{"key": "operation", "action": "insert", "value": "default"},
                                 {"key": "svc.operation", "action": "upsert", "from_attribute": "operation"},
                                 {"key": "operation", "action": "delete"}], [
        ("OrderingApplyAllSteps", {"foo": "casper the friendly ghost"}, {"foo": "casper the friendly ghost", "svc.operation": "default"}),
        ("OrderingOperationExists", {"foo": "casper the friendly ghost", "operation": "arithmetic"}, {"foo": "casper the friendly ghost", "svc.operation": "arithmetic"}),
        ("OrderingSvcOperationExists", {"foo": "casper the friendly ghost", "svc.operation": "some value"}, {"foo": "casper the friendly ghost", "svc.operation": "default"}),
        ("OrderingBothAttributesExist", {"foo": "casper the friendly ghost", "operation": "arithmetic", "svc.operation": "add"},
         {"foo": "casper the friendly ghost", "svc.operation": "arithmetic"}),
    ]),
    # attributes_trace_test.go TestAttributes_Hash: otelcol's own digests.
    ("TestAttributes_Hash", [{"key": k, "action": "hash"} for k in ("user.email", "user.id", "user.balance", "user.authenticated")], [
        ("String", {"user.email": "john.doe@example.com"}, {"user.email": "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"}),
        ("Int", {"user.id": 10}, {"user.id": "a111f275cc2e7588000001d300a31e76336d15b9d314cd1a1d8f3d3556975eed"}),
        ("Double", {"user.balance": 99.1}, {"user.balance": "05fabd78b01be9692863cb0985f600c99da82979af18db5c55173c2a30adb924"}),
        ("Bool", {"user.authenticated": True}, {"user.authenticated": "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"}),
    ]),
    # attributes_trace_test.go TestAttributes_Convert and attributes_metric_test.go TestMetricAttributes_Convert.
    ("TestAttributes_Convert", [{"key": "to.int", "action": "convert", "converted_type": "int"},
                                {"key": "to.double", "action": "convert", "converted_type": "double"},
                                {"key": "to.string", "action": "convert", "converted_type": "string"}], [
        ("int to int", {"to.int": 1}, {"to.int": 1}),
        ("true to int", {"to.int": True}, {"to.int": 1}),
        ("false to int", {"to.int": False}, {"to.int": 0}),
        ("String to int (good)", {"to.int": "123"}, {"to.int": 123}),
        ("String to int (bad)", {"to.int": "int-10"}, {"to.int": "int-10"}),
        ("String to double (int-ish)", {"to.double": "123"}, {"to.double": 123.0}),
        ("String to double (double-ish)", {"to.double": "123.6"}, {"to.double": 123.6}),
        ("String to double (bad)", {"to.double": "int-10"}, {"to.double": "int-10"}),
        ("String to double (exponent)", {"to.double": "3.141e2"}, {"to.double": 314.1}),
        ("Double to string", {"to.string": 99.1}, {"to.string": "99.1"}),
    ]),
]
ATTRACTION_CASES = [(fn, actions, case, given, want) for fn, actions, cases in ATTRACTION for case, given, want in cases]


@pytest.mark.parametrize(("function", "actions", "case", "given", "want"), ATTRACTION_CASES, ids=[f"{c[0]}-{c[2]}" for c in ATTRACTION_CASES])
@pytest.mark.parametrize("signal", [Signal.TRACES, Signal.LOGS, Signal.METRICS])
def test_actions(signal: Signal, function: str, actions: list[dict[str, Any]], case: str, given: dict[str, Any], want: dict[str, Any]) -> None:
    """Each action table on span, log record and data point attributes alike."""
    cfg = {"actions": actions}
    if signal is Signal.TRACES:
        assert span_attrs(cfg, given) == want
    elif signal is Signal.LOGS:
        request = ExportLogsServiceRequest()
        request.resource_logs.add().scope_logs.add().log_records.add().attributes.extend(kv(k, v) for k, v in given.items())
        out = process(cfg, request, signal)
        assert attrs_of(out.resource_logs[0].scope_logs[0].log_records[0].attributes) == want
    else:
        request = ExportMetricsServiceRequest()
        metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="metric1")
        point = metric.gauge.data_points.add(as_int=1)
        point.attributes.extend(kv(k, v) for k, v in given.items())
        out = process(cfg, request, signal)
        assert attrs_of(out.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].attributes) == want


# attraction_test.go TestInvalidConfig (and the per-action rules of NewAttrProc), with the key at fault.
INVALID = [
    ("missing key", [{"key": "one", "action": "delete"}, {"key": "", "value": 123, "action": "upsert"}], "actions[1].key", 'missing required field "key"'),
    ("invalid action", [{"key": "invalid", "action": "invalid"}], "actions[0].action", 'unsupported action "invalid"'),
    ("missing value or from attribute", [{"key": "MissingValueFromAttributes", "action": "insert"}], "actions[0].value",
     'either field "value", "from_attribute" or "from_context" setting must be specified'),
    ("both set value and from attribute", [{"key": "BothSet", "value": 123, "from_attribute": "aa", "action": "upsert"}], "actions[0].value", "multiple value sources"),
    ("pattern shouldn't be specified", [{"key": "key", "pattern": "(?P<operation_website>.*?)$", "from_attribute": "aa", "action": "insert"}],
     "actions[0].pattern", 'action "insert" does not use the "pattern" field'),
    ("missing rule for extract", [{"key": "aa", "action": "extract"}], "actions[0].pattern", 'missing required field "pattern" for action "extract"'),
    ("set value for extract", [{"key": "Key", "pattern": "(?P<operation_website>.*?)$", "value": "value", "action": "extract"}],
     "actions[0].value", 'action "extract" does not use a value source field'),
    ("set from attribute for extract", [{"key": "key", "pattern": "(?P<operation_website>.*?)$", "from_attribute": "aa", "action": "extract"}],
     "actions[0].from_attribute", 'action "extract" does not use a value source field'),
    ("invalid regex", [{"key": "aa", "pattern": "(?P<invalid.regex>.*?)$", "action": "extract"}], "actions[0].pattern", 'field "pattern" has an invalid pattern'),
    ("regex with unnamed capture group", [{"key": "aa", "pattern": ".*$", "action": "extract"}], "actions[0].pattern", "contains no named matcher groups"),
    ("regex with one unnamed capture groups", [{"key": "aa", "pattern": r"^\/api\/v1\/document\/(?P<new_user_key>.*)\/update\/(.*)$", "action": "extract"}],
     "actions[0].pattern", "contains at least one unnamed matcher group"),
    ("delete needs key or pattern", [{"action": "delete"}], "actions[0].key", 'at least one of "key" and "pattern" have to be used'),
    ("hash takes no value", [{"key": "a", "action": "hash", "value": 1}], "actions[0].value", 'action "hash" does not use "value" or "from_attribute"'),
    ("convert needs converted_type", [{"key": "a", "action": "convert"}], "actions[0].converted_type", 'missing required field "converted_type"'),
    ("convert type", [{"key": "a", "action": "convert", "converted_type": "bool"}], "actions[0].converted_type", 'invalid value "bool"'),
    ("converted_type only for convert", [{"key": "a", "action": "upsert", "value": 1, "converted_type": "int"}], "actions[0].converted_type",
     'does not use the "converted_type" field'),
    ("no actions", [], "", 'missing required field "actions"'),
]


@pytest.mark.parametrize(("name", "actions", "key", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_actions(name: str, actions: list[dict[str, Any]], key: str, message: str) -> None:
    with pytest.raises(BuildError) as raised:
        build_processor("attributes", {"actions": actions})
    text = str(raised.value)
    assert message in text and f"processors.attributes{'.' + key if key else ''}" in text


def test_action_names_are_case_insensitive() -> None:
    """attraction_test.go TestValidConfiguration: Delete, INSERT, upDaTE, EXTRact are accepted."""
    actions = [{"key": "one", "action": "Delete"}, {"key": "two", "value": 123, "action": "INSERT"},
               {"key": "three", "from_attribute": "two", "action": "upDaTE"}, {"key": "five", "from_attribute": "two", "action": "upsert"},
               {"key": "two", "pattern": r"^\/api\/v1\/document\/(?P<documentId>.*)\/update$", "action": "EXTRact"}]
    assert span_attrs({"actions": actions}, {"one": 1, "three": "x"}) == {"two": 123, "three": 123, "five": 123}


# attraction_test.go TestFromContext: client metadata single and multiple values, the metadata. prefix.
@pytest.mark.parametrize(("key", "want"), [
    ("source", {}), ("source_single_val", {"dest": "single_val"}), ("source_multiple_val", {"dest": "first_val;second_val"}),
    ("metadata.source_single_val", {"dest": "single_val"}), ("auth.unknown_val", {}), ("client.address", {}),
])
def test_from_context(key: str, want: dict[str, Any]) -> None:
    token = client_metadata.set({"source_single_val": ("single_val",), "source_multiple_val": ("first_val", "second_val")})
    try:
        assert span_attrs({"actions": [{"key": "dest", "from_context": key, "action": "insert"}]}, {}) == want
    finally:
        client_metadata.reset(token)


# attributes_trace_test.go: include/exclude on spans.
FILTER_SPANS = [
    ("TestAttributes_FilterSpans", {"include": {"services": ["svcA", "svcB.*"], "match_type": "regexp"},
                                    "exclude": {"attributes": [{"key": "NoModification", "value": True}], "match_type": "strict"}}, [
        ("apply processor", "svcB", "s", {}, {"attribute1": 123}),
        ("apply processor with different value for exclude property", "svcB", "s", {"NoModification": False}, {"attribute1": 123, "NoModification": False}),
        ("incorrect name for include property", "noname", "s", {}, {}),
        ("attribute match for exclude property", "svcB", "s", {"NoModification": True}, {"NoModification": True}),
    ]),
    ("TestAttributes_FilterSpansByNameStrict", {"include": {"span_names": ["apply", "dont_apply"], "match_type": "strict"},
                                                "exclude": {"span_names": ["dont_apply"], "match_type": "strict"}}, [
        ("apply", "svcB", "apply", {}, {"attribute1": 123}),
        ("apply with attr", "svcB", "apply", {"NoModification": False}, {"attribute1": 123, "NoModification": False}),
        ("incorrect_span_name", "svcB", "incorrect_span_name", {}, {}),
        ("dont_apply", "svcB", "dont_apply", {}, {}),
        ("incorrect_span_name_with_attr", "svcB", "incorrect_span_name_with_attr", {"NoModification": True}, {"NoModification": True}),
    ]),
    ("TestAttributes_FilterSpansByNameRegexp", {"include": {"span_names": ["^apply.*"], "match_type": "regexp"},
                                                "exclude": {"span_names": [".*dont_apply$"], "match_type": "regexp"}}, [
        ("apply_to_span_with_no_attrs", "svcB", "apply_to_span_with_no_attrs", {}, {"attribute1": 123}),
        ("apply_to_span_with_attr", "svcB", "apply_to_span_with_attr", {"NoModification": False}, {"attribute1": 123, "NoModification": False}),
        ("incorrect_span_name", "svcB", "incorrect_span_name", {}, {}),
        ("apply_dont_apply", "svcB", "apply_dont_apply", {}, {}),
        ("incorrect_span_name_with_attr", "svcB", "incorrect_span_name_with_attr", {"NoModification": True}, {"NoModification": True}),
    ]),
]
FILTER_SPAN_CASES = [(fn, match, *case) for fn, match, cases in FILTER_SPANS for case in cases]


@pytest.mark.parametrize(("function", "match", "case", "service", "span_name", "given", "want"), FILTER_SPAN_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in FILTER_SPAN_CASES])
def test_filter_spans(function: str, match: dict[str, Any], case: str, service: str, span_name: str, given: dict[str, Any], want: dict[str, Any]) -> None:
    cfg = {"actions": [{"key": "attribute1", "action": "insert", "value": 123}], **match}
    assert span_attrs(cfg, given, service=service, name=span_name) == want


def test_filter_by_span_kind_library_and_resource() -> None:
    """filterspan.go Eval: span_kinds as SPAN_KIND_*; libraries by scope name; resources by attribute; all must hold."""
    cfg = {"actions": [{"key": "hit", "action": "insert", "value": True}],
           "include": {"match_type": "strict", "span_kinds": ["SPAN_KIND_SERVER"], "libraries": [{"name": "lib"}]}}
    assert span_attrs(cfg, {}, kind=2, scope="lib") == {"hit": True}
    assert span_attrs(cfg, {}, kind=3, scope="lib") == {}
    assert span_attrs(cfg, {}, kind=2, scope="other") == {}
    cfg = {"actions": [{"key": "hit", "action": "insert", "value": True}], "include": {"match_type": "regexp", "resources": [{"key": "service.name", "value": "^pay"}]}}
    assert span_attrs(cfg, {}, service="payments") == {"hit": True}
    assert span_attrs(cfg, {}, service="cart") == {}


def test_filter_log_records() -> None:
    """filterlog.go Eval: log_bodies, log_severity_texts, log_severity_number (min, match_undefined)."""
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(severity_number=17, severity_text="ERROR").body.string_value = "disk full"
    records.add(severity_number=9, severity_text="INFO").body.string_value = "disk full"
    records.add(severity_text="").body.string_value = "started"
    cfg = {"actions": [{"key": "hit", "action": "insert", "value": True}],
           "include": {"match_type": "regexp", "log_bodies": ["disk"], "log_severity_number": {"min": "WARN", "match_undefined": False}}}
    out = process(cfg, request, Signal.LOGS)
    assert [attrs_of(r.attributes) for r in out.resource_logs[0].scope_logs[0].log_records] == [{"hit": True}, {}, {}]


def test_filter_metrics_by_name_only() -> None:
    """filtermetric: metric_names select metrics; otelcol does not match resources for metrics (its resource tests
    in attributes_metric_test.go are skipped), so a resources-only block selects every metric."""
    request = ExportMetricsServiceRequest()
    sm = request.resource_metrics.add().scope_metrics.add()
    for name in ("http.requests", "db.calls"):
        sm.metrics.add(name=name).sum.data_points.add(as_int=1)
    cfg = {"actions": [{"key": "hit", "action": "insert", "value": 1}], "include": {"match_type": "strict", "metric_names": ["db.calls"]}}
    out = process(cfg, request, Signal.METRICS)
    assert [attrs_of(m.sum.data_points[0].attributes) for m in out.resource_metrics[0].scope_metrics[0].metrics] == [{}, {"hit": 1}]
    cfg = {"actions": [{"key": "hit", "action": "insert", "value": 1}], "include": {"match_type": "strict", "resources": [{"key": "x", "value": "y"}]}}
    out = process(cfg, request, Signal.METRICS)
    assert [attrs_of(m.sum.data_points[0].attributes) for m in out.resource_metrics[0].scope_metrics[0].metrics] == [{"hit": 1}, {"hit": 1}]


# resource_processor_test.go TestResourceProcessorAttributesUpsert.
RESOURCE_CFG = [{"key": "cloud.availability_zone", "value": "zone-1", "action": "upsert"},
                {"key": "k8s.cluster.name", "from_attribute": "k8s-cluster", "action": "insert"},
                {"key": "redundant-attribute", "action": "delete"}]
RESOURCE_CASES = [
    ("config_with_attributes_applied_on_empty_resource", RESOURCE_CFG, {}, {"cloud.availability_zone": "zone-1"}),
    ("config_attributes_applied_on_existing_resource_attributes", RESOURCE_CFG,
     {"cloud.availability_zone": "to-be-replaced", "k8s-cluster": "test-cluster", "redundant-attribute": "to-be-removed"},
     {"cloud.availability_zone": "zone-1", "k8s-cluster": "test-cluster", "k8s.cluster.name": "test-cluster"}),
    ("config_attributes_replacement", [{"key": "k8s.cluster.name", "from_attribute": "k8s-cluster", "action": "insert"},
                                       {"key": "k8s-cluster", "action": "delete"}], {"k8s-cluster": "test-cluster"}, {"k8s.cluster.name": "test-cluster"}),
]


@pytest.mark.parametrize("signal", [Signal.TRACES, Signal.LOGS, Signal.METRICS])
@pytest.mark.parametrize(("name", "actions", "given", "want"), RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_resource_processor(signal: Signal, name: str, actions: list[dict[str, Any]], given: dict[str, Any], want: dict[str, Any]) -> None:
    if signal is Signal.TRACES:
        request: Any = traces_request(Span(trace_id=b"\x01" * 16, span_id=b"\x01" * 8, name="s"), resource=given)
    elif signal is Signal.LOGS:
        request = ExportLogsServiceRequest()
        rl = request.resource_logs.add()
        rl.resource.attributes.extend(kv(k, v) for k, v in given.items())
        rl.scope_logs.add().log_records.add()
    else:
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        rm.resource.attributes.extend(kv(k, v) for k, v in given.items())
        rm.scope_metrics.add().metrics.add(name="m").gauge.data_points.add(as_int=1)
    out = process({"attributes": actions}, request, signal, "resource")
    field = {Signal.TRACES: "resource_spans", Signal.LOGS: "resource_logs", Signal.METRICS: "resource_metrics"}[signal]
    assert attrs_of(getattr(out, field)[0].resource.attributes) == want


def test_resource_requires_attributes() -> None:
    """resourceprocessor config.go Validate: missing required field "attributes"."""
    with pytest.raises(BuildError, match='missing required field "attributes"'):
        build_processor("resource", {})


@pytest.mark.parametrize(("value", "text"), [(99.1, "99.1"), (1e21, "1e+21"), (1e-7, "1e-7"), (123456789.0, "123456789"), (-0.5, "-0.5")])
def test_double_as_string_is_pcommon_s(value: float, text: str) -> None:
    """pcommon Value.AsString of a double (what convert to string writes): ES6 number formatting."""
    assert format_double(value) == text == as_string(AnyValue(double_value=value))


# processor/resourceprocessor/testdata/config.yaml resource/with_defaults: "Use default when environment variable
# is not set / when source attribute doesn't exist / when context value is not available".
WITH_DEFAULTS = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
processors:
  resource/with_defaults:
    attributes:
    # Use default when environment variable is not set
    - key: deployment.environment
      value: "${DEPLOYMENT_ENV}"
      default_value: "development"
      action: upsert
    # Use default when source attribute doesn't exist
    - key: service.namespace
      from_attribute: namespace
      default_value: "default"
      action: insert
    # Use default when context value is not available
    - key: cloud.region
      from_context: "metadata.region"
      default_value: "us-east-1"
      action: upsert
exporters:
  debug: {}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [resource/with_defaults], exporters: [debug]}
"""


@pytest.mark.parametrize(("env", "resource", "metadata", "want"), [
    ({}, {}, {}, {"deployment.environment": "development", "service.namespace": "default", "cloud.region": "us-east-1"}),
    ({"DEPLOYMENT_ENV": "staging"}, {"namespace": "shop"}, {"region": ("eu-west-1",)},
     {"namespace": "shop", "deployment.environment": "staging", "service.namespace": "shop", "cloud.region": "eu-west-1"}),
])
def test_default_value(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], resource: dict[str, Any],
                       metadata: dict[str, tuple[str, ...]], want: dict[str, Any]) -> None:
    from collector.config import load_config

    monkeypatch.delenv("DEPLOYMENT_ENV", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    path = tmp_path / "config.yaml"
    path.write_text(WITH_DEFAULTS)
    config = load_config([str(path)])
    (spec,) = [s for kind, table in config.components.items() for i, s in table.items() if str(i) == "resource/with_defaults"]
    sink = Sink()
    processor = build_processor("resource", spec.config, sink)
    request = traces_request(Span(trace_id=b"\x01" * 16, span_id=b"\x01" * 8, name="s"), resource=resource)
    token = client_metadata.set(metadata)
    try:
        asyncio.run(processor.consume(Envelope.of(request)))
    finally:
        client_metadata.reset(token)
    assert attrs_of(sink.requests[0].resource_spans[0].resource.attributes) == want


def test_default_value_only_for_set_actions() -> None:
    with pytest.raises(BuildError, match=r'actions\[0\].default_value: action "delete" does not use the "default_value" field'):
        build_processor("attributes", {"actions": [{"key": "a", "action": "delete", "default_value": 1}]})
