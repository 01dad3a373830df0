"""redaction without a daemon: the paths a user cannot reach over the wire (a detector that raises, a scanner
that fails) and config validation. Fail closed means the value is `****`, the error counted, never raw."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.config.source import Document
from collector.config.typed import Decoder
from collector.pii import validators
from collector.processors.redaction import RedactionConfig, build_redactor, walk
from tests.processors.test_redaction import CPF, EMAIL, attrs, with_detectors


def config(data: dict[str, Any]) -> tuple[RedactionConfig | None, list[str]]:
    """`data` decoded as these tests were written against it: with the built-in detectors on (see
    `with_detectors`); otelcol's engine, without `detectors:`, is test_redaction_otelcol.py's."""
    decoder = Decoder(Document({}, {}))
    cfg = decoder.decode(RedactionConfig, with_detectors(data), ("processors", "redaction"))
    return cfg, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in decoder.errors]


def request(values: dict[str, Any]) -> ExportTraceServiceRequest:
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s", attributes=attrs(values))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])


def span_attrs(req: ExportTraceServiceRequest) -> dict[str, Any]:
    from tests.processors.test_redaction import as_dict

    return as_dict(req.resource_spans[0].scope_spans[0].spans[0].attributes)


def test_a_validator_that_raises_masks_the_whole_value_and_counts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> bool:
        raise RuntimeError("validator bug")

    monkeypatch.setitem(validators.VALIDATORS, "broken", broken)
    cfg, errors = config({"blocked_values": [{"pattern": "ORD-[0-9]+", "validator": "broken", "name": "order"}]})
    assert not errors
    failures: list[tuple[str, Any]] = []
    redactor, _ = build_redactor(cfg, on_error=lambda key, exc: failures.append((key, exc)))  # type: ignore[arg-type]
    req = request({"note": f"order ORD-123 for {EMAIL}", "other": "fine text", "json": json.dumps({"a": "ORD-9 x"})})
    stats = redactor.traces(req)
    a = span_attrs(req)
    assert a["note"] == "****" and a["json"] == "****"
    assert a["other"] == "fine text"
    assert stats.errors == 2 and [k for k, _ in failures] == ["note", "json"]
    assert a["redaction.masked.count"] == 2


def test_a_scanner_that_raises_fails_closed_value_by_value() -> None:
    def scan_many(texts: Any) -> Any:
        raise MemoryError("prefilter blew up")

    def scan_one(text: str) -> list[Any]:
        if "boom" in text:
            raise ValueError("exact pass bug")
        return []

    failures: list[str] = []
    redactor = walk.Redactor(scan_many, scan_one, {}, on_error=lambda key, exc: failures.append(key))
    req = request({"a": "this one goes boom", "b": "this one is fine"})
    redactor.traces(req)
    a = span_attrs(req)
    assert a["a"] == "****" and a["b"] == "this one is fine"
    assert failures == ["a"]


def test_allowed_values_keep_only_what_they_cover() -> None:
    cfg, errors = config({"allowed_values": [r".+@mycompany\.com", r"support\.mycompany\.com"], "blocked_values": ["mycompany.com"]})
    assert not errors
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"a": "bob@mycompany.com", "b": f"bob@mycompany.com and {EMAIL}", "c": "see support.mycompany.com"})
    redactor.traces(req)
    a = span_attrs(req)
    assert a["a"] == "bob@mycompany.com"
    assert a["b"] == "bob@mycompany.com and <EMAIL>"  # otelcol would keep the whole value
    assert a["c"] == "see support.mycompany.com"
    assert a["redaction.allowed.count"] == 3


def test_json_fallbacks_and_key_collisions() -> None:
    cfg, _ = config({})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    other = "ana.costa@example.net"
    req = request({
        "broken": "{not json but has " + EMAIL,  # looks like JSON, is not: masked as text
        "collide": json.dumps({EMAIL: 1, other: 2}),
        "deep": json.dumps([[[{"x": f"cpf {CPF}"}]]]),
    })
    redactor.traces(req)
    a = span_attrs(req)
    assert a["broken"] == "{not json but has <EMAIL>"
    assert json.loads(a["collide"]) == {"<EMAIL>": 1, "<EMAIL>#2": 2}  # no entry lost
    assert json.loads(a["deep"]) == [[[{"x": "cpf <CPF>"}]]]


def test_drop_inside_a_json_value_drops_the_attribute() -> None:
    cfg, _ = config({"detectors": {"cpf": {"action": "drop_attribute"}}, "summary": "debug"})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"msg": json.dumps({"content": f"cpf {CPF}"}), "keep": "hello there"})
    redactor.traces(req)
    a = span_attrs(req)
    assert "msg" not in a and a["keep"] == "hello there"
    assert a["redaction.redacted.keys"] == "msg"


def test_short_form_list_runs_only_the_named_detectors() -> None:
    cfg, errors = config({"detectors": ["cpf"]})
    assert not errors
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"a": f"{EMAIL} {CPF}"})
    redactor.traces(req)
    assert span_attrs(req)["a"] == f"{EMAIL} <CPF>"


def test_summary_merges_with_an_upstream_redaction() -> None:
    cfg, _ = config({"summary": "debug"})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"a": EMAIL, "redaction.masked.count": 2, "redaction.masked.keys": "x,z"})
    redactor.traces(req)
    a = span_attrs(req)
    assert a["redaction.masked.count"] == 3 and a["redaction.masked.keys"] == "a,x,z"


@pytest.mark.parametrize(("data", "expected"), [
    ({"detectors": {"email": {"action": "hash"}}}, "processors.redaction.hash_key: action: hash needs hash_key"),
    ({"hash_function": "hmac-sha512"}, "processors.redaction.hash_key: hash_function hmac-sha512 needs hash_key"),
    ({"detectors": {"phone": {"action": "partial"}}}, "processors.redaction.detectors.phone.action: \"partial\" keeps the last four"),
    ({"detectors": ["emial"]}, "processors.redaction.detectors.0: unknown detector 'emial'"),
    ({"blocked_values": [{"pattern": "x", "validator": "luhnn"}]}, "processors.redaction.blocked_values.0.validator: unknown validator 'luhnn'"),
    ({"blocked_values": [{"pattern": "x", "name": "email"}]}, "processors.redaction.blocked_values.0.name: 'email' is a built-in"),
    ({"allowed_values": ["(?<=x)y"]}, "processors.redaction.allowed_values.0: invalid regular expression"),
    ({"hash_key": "a", "hmac_key": "b"}, "processors.redaction.hmac_key: hash_key and hmac_key"),
])
def test_config_errors_say_what_was_expected(data: dict[str, Any], expected: str) -> None:
    _, errors = config(data)
    assert any(e.startswith(expected) for e in errors), errors


def test_engine_hyperscan_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "hyperscan", None)  # what `import hyperscan` sees when it is not installed
    _, errors = config({"engine": "hyperscan"})
    assert errors == ["processors.redaction.engine: hyperscan needs the hyperscan package, which is not installed: "
                      "pip install llm-collector[hyperscan] (or use engine: re2)"]


def test_hash_key_is_not_in_repr() -> None:
    cfg, _ = config({"hash_key": "super-secret-value-123", "detectors": {"email": {"action": "hash"}}})
    assert "super-secret-value-123" not in repr(cfg)


def test_otelcol_hash_function_gives_the_full_digest() -> None:
    import hashlib

    cfg, _ = config({"blocked_values": ["ORD-[0-9]+"], "hash_function": "md5", "detectors": []})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"a": "ref ORD-42"})
    redactor.traces(req)
    assert span_attrs(req)["a"] == "ref " + hashlib.md5(b"ORD-42").hexdigest()


def test_blocked_keys_are_hashed_only_with_hash_function() -> None:
    import hashlib
    import hmac

    key = "0123456789abcdef0123"
    cfg, _ = config({"blocked_key_patterns": ["password"], "detectors": {"email": {"action": "hash"}}, "hash_key": key})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"password": "hunter2", "user": EMAIL})
    redactor.traces(req)
    a = span_attrs(req)
    assert a["password"] == "****"
    assert a["user"] == "<EMAIL:" + hmac.new(key.encode(), EMAIL.encode(), hashlib.sha256).hexdigest()[:16] + ">"
    cfg, _ = config({"blocked_key_patterns": ["password"], "hash_function": "hmac-sha256", "hash_key": key})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({"password": "hunter2"})
    redactor.traces(req)
    assert span_attrs(req)["password"] == hmac.new(key.encode(), b"hunter2", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("received", [False, True], ids=["serialized", "received-bytes"])
def test_values_after_brackets_quotes_and_escapes_are_found_on_the_wire_path(received: bool) -> None:
    # The request-level prefilter over the protobuf bytes, then the hit items: the issue's shapes and
    # JSON text that is not valid JSON (a truncated message), where newlines are still "\n" escapes.
    cfg, _ = config({})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request({
        "br": "Maria ((11) 98765-4321)",
        "us": "John (555-123-4567)",
        "quoted": "ligue '(11) 98765-4321' ou [555-123-4567]",
        "truncated": '{"messages": [{"content": "cartão:\\n4111111111111111\\nCPF\\t529.982.247-25\\nmail\\nana@x.com.br',
        "json": json.dumps({"phone": "(11) 98765-4321", "note": "ip:10.0.0.1"}),
    })
    redactor.traces(req, req.SerializeToString() if received else None)
    a = span_attrs(req)
    assert a["br"] == "Maria (<PHONE>)"
    assert a["us"] == "John (<PHONE>)"
    assert a["quoted"] == "ligue '<PHONE>' ou [<PHONE>]"
    assert a["truncated"] == '{"messages": [{"content": "cartão:\\n<CARD>\\nCPF\\t<CPF>\\nmail\\n<EMAIL>'
    assert json.loads(a["json"]) == {"phone": "<PHONE>", "note": "ip:<IPV4>"}
