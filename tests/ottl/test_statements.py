"""OTTL statements and conditions on real OTLP spans and logs, compiled as `transform` and `filter` will compile
them. Cases follow otelcol-contrib's pkg/ottl/ottlfuncs/README.md examples and func_*_test.go rules (each test
names its function), pkg/ottl/contexts/ottlspan and ottllog paths, and grammar.go / parser_test.go errors."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

from collector import ottl
from collector.ottl.values import AttrMap, from_any


def _span(**attributes: Any) -> tuple[ottl.Ctx, Any]:
    rs = ResourceSpans()
    rs.resource.attributes.add(key="service.name").value.string_value = "checkout"
    rs.resource.attributes.add(key="process.command_line").value.string_value = "app --password=hunter2 --port 80"
    ss = rs.scope_spans.add()
    ss.scope.name = "opentelemetry.instrumentation.openai_v2"
    span = ss.spans.add(name="chat gpt-4o", kind=3, trace_id=bytes(range(16)), span_id=bytes(range(8)),
                        start_time_unix_nano=1_000_000_000, end_time_unix_nano=3_500_000_000)
    for k, v in attributes.items():
        AttrMap(span.attributes).set(k.replace("__", "."), v)
    return ottl.Ctx(resource=rs.resource, scope=ss.scope, span=span), rs


def _attrs(obj: Any) -> dict[str, Any]:
    return {kv.key: _plain(from_any(kv.value)) for kv in obj.attributes}


def _plain(v: Any) -> Any:
    from collector.ottl.values import plain

    return plain(v)


def run(ctx: ottl.Ctx, *statements: str, context: str = "span") -> None:
    for s in statements:
        ottl.statement(s, context)(ctx)


def test_set_and_where_on_span_paths() -> None:
    ctx, rs = _span(gen_ai__usage__cost=0.02)
    run(ctx, 'set(attributes["expensive"], true) where attributes["gen_ai.usage.cost"] > 0.01',
        'set(attributes["service"], resource.attributes["service.name"])',
        'set(attributes["scope"], instrumentation_scope.name)',
        'set(attributes["trace"], trace_id.string)',
        'set(attributes["ms"], (end_time_unix_nano - start_time_unix_nano) / 1000000)',
        'set(status.code, STATUS_CODE_ERROR) where kind == SPAN_KIND_CLIENT and IsMatch(name, "^chat ")',
        'set(attributes["never"], 1) where name == "other" or not IsMatch(name, "gpt")')
    a = _attrs(ctx.span)
    assert a == {"gen_ai.usage.cost": 0.02, "expensive": True, "service": "checkout", "scope": "opentelemetry.instrumentation.openai_v2",
                 "trace": "000102030405060708090a0b0c0d0e0f", "ms": 2500}
    assert ctx.span.status.code == 2


def test_set_with_a_nil_value_leaves_the_target() -> None:
    """func_set.go: a nil value does nothing."""
    ctx, _ = _span(keep="x")
    run(ctx, 'set(attributes["keep"], attributes["missing"])', 'set(attributes["keep"], nil)')
    assert _attrs(ctx.span) == {"keep": "x"}


def test_delete_and_keep_keys() -> None:
    """func_delete_key.go, func_delete_matching_keys.go, func_keep_keys.go, func_keep_matching_keys.go."""
    ctx, _ = _span(**{"http__method": "GET", "http__path": "/", "gen_ai__prompt__0__content": "secret", "gen_ai__prompt__1__content": "s2", "other": 1})
    run(ctx, 'delete_key(attributes, "other")', 'delete_matching_keys(attributes, "^gen_ai\\\\.prompt\\\\.")')
    assert _attrs(ctx.span) == {"http.method": "GET", "http.path": "/"}
    run(ctx, 'keep_keys(attributes, ["http.method"])')
    assert _attrs(ctx.span) == {"http.method": "GET"}
    run(ctx, 'keep_matching_keys(attributes, "^nothing")')
    assert _attrs(ctx.span) == {}


def test_replace_pattern_readme_example_and_go_expansion() -> None:
    """func_replace_pattern.go and the README's `password\\=[^\\s]*(\\s?)` example; Go's $1 / ${name} / $$ expansion."""
    ctx, rs = _span(greeting="hello world")
    run(ctx, 'replace_pattern(resource.attributes["process.command_line"], "password\\\\=[^\\\\s]*(\\\\s?)", "password=***")',
        'replace_pattern(attributes["greeting"], "^(?P<first>\\\\w+) (?P<second>\\\\w+)$", "$$${second} $1")')
    assert _attrs(rs.resource)["process.command_line"] == "app --password=***--port 80"
    assert _attrs(ctx.span)["greeting"] == "$world hello"


def test_replace_pattern_with_a_hash_function() -> None:
    """replace_pattern's optional `function` (SHA256) and `replacementFormat`."""
    import hashlib

    ctx, _ = _span(email="mail alice@example.com now")
    run(ctx, 'replace_pattern(attributes["email"], "[a-z]+@example\\\\.com", "$0", SHA256, "<%s>")')
    # Go's $0 is the whole match
    assert _attrs(ctx.span)["email"] == f"mail <{hashlib.sha256(b'alice@example.com').hexdigest()}> now"


def test_replace_all_patterns_values_and_keys() -> None:
    """func_replace_all_patterns.go: mode value rewrites string values, mode key renames keys."""
    ctx, _ = _span(a="gpt-4o", b="gpt-4o-mini", c=3, **{"llm__model": "x"})
    run(ctx, 'replace_all_patterns(attributes, "value", "^gpt", "GPT")', 'replace_all_patterns(attributes, "key", "^llm\\\\.", "gen_ai.")')
    assert _attrs(ctx.span) == {"a": "GPT-4o", "b": "GPT-4o-mini", "c": 3, "gen_ai.model": "x"}


def test_replace_match_glob() -> None:
    """func_replace_match.go: the whole value matched against a glob."""
    ctx, _ = _span(route="/api/v1/users/42")
    run(ctx, 'replace_match(attributes["route"], "/api/v1/users/*", "/api/v1/users/{id}")', 'replace_match(name, "chat *", "chat")')
    assert _attrs(ctx.span)["route"] == "/api/v1/users/{id}" and ctx.span.name == "chat"


def test_truncate_all_and_limit() -> None:
    """func_truncate_all.go (strings only, counted in bytes) and func_limit.go (priority keys kept first)."""
    ctx, _ = _span(prompt="abcdefgh", n=12345, short="ab", k1=1, k2=2)
    run(ctx, 'truncate_all(attributes, 4)')
    assert _attrs(ctx.span) == {"prompt": "abcd", "n": 12345, "short": "ab", "k1": 1, "k2": 2}
    run(ctx, 'limit(attributes, 2, ["k2"])')
    assert _attrs(ctx.span) == {"prompt": "abcd", "k2": 2}
    with pytest.raises(ottl.OTTLError, match="cannot be less than number of priority attributes"):
        ottl.statement('limit(attributes, 1, ["a", "b"])', "span")


def test_merge_maps_flatten_and_parse_json() -> None:
    """func_merge_maps.go strategies, func_flatten.go, func_parse_json.go."""
    ctx, _ = _span(body='{"user": {"id": 7, "tags": ["a", "b"]}, "keep": "new"}', keep="old")
    run(ctx, 'merge_maps(attributes, ParseJSON(attributes["body"]), "insert")', 'delete_key(attributes, "body")')
    assert _attrs(ctx.span) == {"keep": "old", "user": {"id": 7, "tags": ["a", "b"]}}
    run(ctx, 'flatten(attributes)')
    assert _attrs(ctx.span) == {"keep": "old", "user.id": 7, "user.tags.0": "a", "user.tags.1": "b"}
    run(ctx, 'merge_maps(attributes, {"keep": "upserted", "x": 1}, "update")')
    assert _attrs(ctx.span)["keep"] == "upserted" and "x" not in _attrs(ctx.span)


@pytest.mark.parametrize(("expr", "want"), [
    ('Concat(["HTTP method is: ", attributes["m"]], "")', "HTTP method is: GET"),
    ('Concat(["a", 1, 2.5, true, nil], "-")', "a-1-2.5-true-<nil>"),
    ('Split("A|B|C", "|")', ["A", "B", "C"]),
    ('Substring("abcdef", 1, 3)', "bcd"),
    ('ConvertCase("HelloWorld", "snake")', "hello_world"),
    ('ConvertCase("hello_world", "camel")', "HelloWorld"),
    ('ConvertCase("Hello", "upper")', "HELLO"),
    ('Int("2")', 2), ('Int(2.9)', 2), ('Int(true)', 1), ('Int("2.5")', None),
    ('Double("2.5")', 2.5), ('Double(3)', 3.0), ('Double("x")', None),
    ('String(1.5)', "1.5"), ('String(true)', "true"), ('String(0x0102)', "0102"),
    ('IsString(attributes["m"])', True), ('IsString(1)', False),
    ('SHA256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    ('Len("héllo")', 6), ('Len(["a", "b"])', 2),
    ('Hex(0x0a0b)', "0a0b"),
    ('ExtractPatterns("user=alice id=7", "user=(?P<user>\\\\w+) id=(?P<id>\\\\d+)")', {"user": "alice", "id": "7"}),
    ('Format("%s has %d calls", ["svc", 3])', "svc has 3 calls"),
    ('ParseJSON("{\\"a\\": [1, 2]}")["a"][1]', 2),
    ('TraceID(0x000102030405060708090a0b0c0d0e0f)', bytes(range(16))),
])
def test_converters(expr: str, want: Any) -> None:
    ctx, _ = _span(m="GET")
    run(ctx, f'set(cache["out"], {expr})')
    assert ctx.cache.get("out") == want


def test_log_context_paths() -> None:
    rl = ResourceLogs()
    sl = rl.scope_logs.add()
    log = sl.log_records.add(severity_number=9, severity_text="INFO", trace_id=bytes(16))
    log.body.string_value = "user alice logged in"
    ctx = ottl.Ctx(resource=rl.resource, scope=sl.scope, log=log)
    run(ctx, 'set(severity_text, "WARN") where severity_number >= SEVERITY_NUMBER_INFO',
        'replace_pattern(body, "alice", "***")', 'set(attributes["len"], Len(body))', context="log")
    assert log.severity_text == "WARN" and log.body.string_value == "user *** logged in" and _attrs(log) == {"len": 18}


@pytest.mark.parametrize(("statement", "problem", "column"), [
    ('Set(attributes["x"], 1)', "editor names must start with a lowercase letter but got 'Set'", 1),
    ('set(attributes["x"], concat(["a"], ""))', "converter names must start with an uppercase letter but got 'concat'", 22),
    ('set(attributes["x"], Nope(1))', 'undefined function "Nope"', 22),
    ('set(nme, 1)', 'invalid path "nme" for the span context', 5),
    ('set(attributes["x"] 1)', 'expected ")" or ","', 21),
    ('delete_key(attributes)', 'delete_key is missing its required argument "key"', 1),
    ('set(target=name, "x")', "unnamed argument used after named argument", 18),
    ('set(name, "a") where', "expected a comparison", 21),
    ('keep_keys(attributes, name)', "keep_keys: expected a literal list of strings", 23),
    ('set(attributes["x"], 1) where kind == SPAN_KIND_NOPE', "enum symbol SPAN_KIND_NOPE not found", 39),
    ('delete_matching_keys(attributes, "(")', "the regex pattern does not compile", 1),
    ('set(body, "x")', 'invalid path "body" for the span context', 5),
])
def test_bad_statements_name_the_problem_and_where(statement: str, problem: str, column: int) -> None:
    with pytest.raises(ottl.OTTLError) as info:
        ottl.statement(statement, "span")
    assert problem in info.value.reason
    if column != 1 or "regex" not in problem:
        assert info.value.position + 1 == column, (info.value.reason, info.value.position)
