"""The request-level prefilter: the redaction processor serializes each request once, runs the prefilter over
the wire bytes and walks only the spans / log records / metrics (and, inside a span, the attributes, events
and links) whose bytes it hit. It must never skip what the full walk would redact: JSON escapes decode into
other characters (\\u, \\t, \\/), and next to a length prefix a value's edge is no word boundary (\\b)."""

from __future__ import annotations

import functools
import json
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector.component import Signal
from collector.pii.scanner import Scanner, available_engines
from collector.processors.redaction import build_redactor
from collector.tools.loadgen import build_templates
from tests.pii_corpus import generate
from tests.processors.test_redaction import as_dict, attrs, read_json, send
from tests.processors.test_redaction_unit import config

BEARER = "3f9a8b7c6d5e4f3a2b1c0d9e"
CNPJ = "11.222.333/0001-81"
EMAIL = "maria.silva@example.com"
CPF = "529.982.247-25"
PHONE_BARE = "0232781286"

# value -> the raw PII that must be gone from it after redaction.
TRAPS: dict[str, str] = {
    # JSON's \t between the scheme and the credential: the wire has a backslash and a "t".
    json.dumps({"headers": f"Authorization: Bearer\t{BEARER}"}): BEARER,
    # \/ is a legal JSON spelling of "/" (PHP and some loggers write it).
    '{"cnpj": "' + CNPJ.replace("/", "\\/") + '"}': CNPJ.split("/")[1],
    # Every character of the CPF and the e-mail's "@" as \u escapes: nothing of them is verbatim on the wire.
    json.dumps({"cpf": CPF}).replace(CPF, "".join(f"\\u{ord(c):04x}" for c in CPF)): "247",
    json.dumps([{"content": f"write to {EMAIL}"}]).replace("@", "\\u0040"): "maria.silva",
    # 80 characters: the length prefix before the value is the byte "P", so "\bphone" does not hold on the wire.
    f"phone {PHONE_BARE}".ljust(80, "."): PHONE_BARE,
    # Same trap for a word-boundary custom rule: length 79 is "O", right before "ORD-...".
    "ORD-4711 was refunded".ljust(79, "."): "ORD-4711",
}

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "names-debug-hash": {
        "redact_span_names": True,
        "summary": "debug",
        "hash_key": "k3y-for-tests-0123456789abcdef",
        "detectors": {"email": {"action": "hash"}, "card": {"action": "partial"}, "us_ssn": {"action": "drop_attribute"}},
    },
    "custom-rule": {"blocked_values": [{"pattern": r"\bORD-[0-9]{4}\b", "name": "order"}]},
}


def redactors(data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The processor's engine as configured, and the same engine with no prefilter over wire bytes at all:
    every item walked, every JSON value parsed and every leaf scanned."""
    cfg, errors = config(data)
    assert not errors and cfg is not None
    gated, _ = build_redactor(cfg)
    with monkeypatch.context() as patch:
        patch.setattr(Scanner, "scans_wire", property(lambda self: False))
        full, _ = build_redactor(cfg)
    return gated, full


def ungated(data: dict[str, Any]) -> Any:
    """Every item walked, but JSON values still edited in place where the prefilter over their own text hit."""
    cfg, errors = config(data)
    assert not errors and cfg is not None
    redactor, _ = build_redactor(cfg)
    redactor._wire_hits = None
    return redactor


def normalized(serialized: bytes, kind: type) -> bytes:
    """The request with every JSON-string value re-serialised compactly: the parse path writes edited JSON
    values that way, the in-place path keeps the sender's layout; what they say must be the same."""
    request = kind()
    request.ParseFromString(serialized)

    def visit(message: Any) -> None:
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            for item in (value if field.is_repeated else [value]):
                if field.message_type.name == "AnyValue" and item.WhichOneof("value") == "string_value":
                    text = item.string_value
                    if text.lstrip()[:1] in ("{", "["):
                        try:
                            item.string_value = orjson.dumps(orjson.loads(text)).decode()
                        except orjson.JSONDecodeError:
                            pass
                visit(item)

    visit(request)
    return request.SerializeToString(deterministic=True)


def span(name: str, values: dict[str, Any], **fields: Any) -> Span:
    return Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name=name, attributes=attrs(values), **fields)


def trap_request() -> ExportTraceServiceRequest:
    spans = [span(f"trap-{i}", {"case": i, "value": text}) for i, text in enumerate(TRAPS)]
    spans.append(span("clean", {"case": "clean", "note": "order A1234567 shipped on 2024-05-01 for $12.50"}))
    # A hit in a span name, a status message, an event and a link (and nothing in the attributes).
    spans.append(span(f"mail {EMAIL}", {"case": "name"}, status=Status(message=f"user {CPF} not found")))
    with_event = span("event", {"case": "event"})
    with_event.events.add(name="e", attributes=attrs({"content": f"card 4111 1111 1111 1111 via {EMAIL}"}))
    with_event.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 8, attributes=attrs({"note": f"cpf {CPF}"}))
    spans.append(with_event)
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def corpus_requests() -> tuple[ExportTraceServiceRequest, ExportLogsServiceRequest, ExportMetricsServiceRequest]:
    """Fresh copies of the corpus requests (parsed from bytes made once: generating them takes ~0.3 s)."""
    traces, logs, metrics = _corpus_bytes()
    return ExportTraceServiceRequest.FromString(traces), ExportLogsServiceRequest.FromString(logs), ExportMetricsServiceRequest.FromString(metrics)


@functools.cache
def _corpus_bytes() -> tuple[bytes, bytes, bytes]:
    from tests.processors.test_redaction_corpus import build

    traces, logs, metrics = build(generate(240, seed=99))
    return traces.SerializeToString(), logs.SerializeToString(), metrics.SerializeToString()


def loadgen_requests() -> list[ExportTraceServiceRequest]:
    """Fresh copies of the same loadgen requests on every call (their timestamps come from the clock when
    they are first built)."""
    return [ExportTraceServiceRequest.FromString(payload) for payload in _loadgen_payloads()]


@functools.cache
def _loadgen_payloads() -> tuple[bytes, ...]:
    return tuple(template.payload for template in build_templates(batch_size=100, count=4, seed=5, pii_share=0.5))


def redact(redactor: Any, request: Any) -> tuple[bytes, Any]:
    copy = type(request)()
    copy.CopyFrom(request)
    walk = {ExportTraceServiceRequest: redactor.traces, ExportLogsServiceRequest: redactor.logs,
            ExportMetricsServiceRequest: redactor.metrics}[type(request)]
    stats = walk(copy)
    return copy.SerializeToString(deterministic=True), stats


@functools.cache
def re2_redacted(name: str) -> list[tuple[tuple[bytes, Any], tuple[bytes, Any]]]:
    """For each of the trap, corpus and loadgen requests (in that order): what the re2 engine configured as
    CONFIGS[name] gives, gated and walking everything (`redactors`). Both tests below compare with these,
    so they are made once."""
    with pytest.MonkeyPatch.context() as patch:
        gated, full = redactors(CONFIGS[name], patch)
    return [(redact(gated, request), redact(full, request)) for request in [trap_request(), *corpus_requests(), *loadgen_requests()]]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_gated_walk_equals_the_full_walk(name: str) -> None:
    in_place = ungated(CONFIGS[name])
    loadgen = loadgen_requests()
    requests = [trap_request(), *corpus_requests(), *loadgen]
    for request, ((got, stats), (want, full_stats)) in zip(requests, re2_redacted(name), strict=True):
        assert got == redact(in_place, request)[0]
        assert normalized(got, type(request)) == normalized(want, type(request))
        assert got != request.SerializeToString(deterministic=True)  # every request here has something to redact
        if request in loadgen:  # half its traces hold no PII: the gate must have skipped most of their values
            assert stats.values < full_stats.values / 2


@pytest.mark.skipif("hyperscan" not in available_engines(), reason="hyperscan not installed")
@pytest.mark.parametrize("name", list(CONFIGS))
def test_engine_hyperscan_redacts_and_counts_as_re2_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`engine: hyperscan` (the `hyperscan` extra) changes only the prefilter over the strings a walk
    collects: gated or walking everything, every request comes out, and is counted, exactly as with re2."""
    hs_gated, hs_full = redactors({**CONFIGS[name], "engine": "hyperscan"}, monkeypatch)
    assert hs_gated._scan_many.__self__.engine == "hyperscan"
    requests = [trap_request(), *corpus_requests(), *loadgen_requests()]
    for request, (re2_gated, re2_full) in zip(requests, re2_redacted(name), strict=True):
        assert redact(hs_gated, request) == re2_gated
        assert redact(hs_full, request) == re2_full


@pytest.mark.parametrize("text", list(TRAPS))
def test_escaped_and_boundary_values_are_never_skipped(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gated, _ = redactors(CONFIGS["custom-rule"], monkeypatch)
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[
        span("s", {"value": text})])])])
    stats = gated.traces(request)
    out = as_dict(request.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert TRAPS[text] not in out["value"]
    assert stats.values >= 1 and out["redaction.masked.count"] == 1


def test_keyed_configs_still_walk_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    # allowed_keys removes attributes that hold nothing a detector sees: only a full walk can do that.
    gated, _ = redactors({"allowed_keys": ["keep"]}, monkeypatch)
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[
        span("s", {"keep": "fine", "drop": "also fine"})])])])
    gated.traces(request)
    out = as_dict(request.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert "drop" not in out and out["keep"] == "fine" and out["redaction.redacted.count"] == 1


GATE_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  redaction:
    detectors:
    allow_all_keys: true
    redact_span_names: true
    blocked_values: [{{pattern: '\\bORD-[0-9]{{4}}\\b', name: order}}]
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], processors: [redaction], exporters: [file/traces]}}
"""


@pytest.mark.slow
def test_through_the_daemon_traps_are_redacted_and_clean_spans_untouched(daemon_factory: Any) -> None:
    daemon = daemon_factory(GATE_CONFIG)
    request = trap_request()
    send(daemon, Signal.TRACES, request)
    assert daemon.stop() == 0
    raw = (daemon.data / "traces.jsonl").read_bytes()
    for secret in {*TRAPS.values(), EMAIL, CPF, "4111 1111 1111 1111"}:
        assert secret.encode() not in raw, secret
    (exported,) = read_json(daemon.data / "traces.jsonl", Signal.TRACES)
    by_case = {as_dict(s.attributes)["case"]: s for s in exported.resource_spans[0].scope_spans[0].spans}
    sent = {as_dict(s.attributes)["case"]: s for s in request.resource_spans[0].scope_spans[0].spans}
    assert by_case["clean"] == sent["clean"]  # not walked, not touched: no summary either
    assert by_case["name"].name == "mail <EMAIL>"
    assert CPF not in by_case["name"].status.message
    assert "<EMAIL>" in as_dict(by_case["event"].events[0].attributes)["content"]
    assert "<CPF>" in as_dict(by_case["event"].links[0].attributes)["note"]


def _reference_span_marks(buf: bytes, hits: list[tuple[int, int]]) -> dict:
    """What `span_marks` must return, the slow obvious way: every length-delimited field of the span with
    its byte range, marked where any hit overlaps it."""
    from collector.wire.locate import read_varint as _varint

    out: dict[int, dict[int, Any]] = {}
    seen: dict[int, int] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            _, pos = _varint(buf, pos)
            continue
        if wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
            continue
        size, pos = _varint(buf, pos)
        start, pos = pos, pos + size
        index = seen.get(field, 0)
        seen[field] = index + 1
        if field in (3, 5, 9, 11, 13, 15) and any(s < pos and e > start for s, e in hits):
            marks = out.setdefault(field, {})
            marks[0 if field in (3, 5, 15) else index] = (start, pos) if field == 9 else None
    return out


def shuffled_span_fields(rng: Any, rounds: int) -> Any:
    """A span with attributes of many sizes, an event, a link, a name, a trace_state and a status, serialized `rounds`
    times with its fields in the canonical order or shuffled as whole fields (attributes split by events, a
    name after them), as any sender may order them."""
    from collector.wire.locate import read_varint as _varint

    base = span("op", {f"k{i}": "v" * rng.choice([1, 5, 120, 200, 20000]) for i in range(8)},
                status=Status(message="not found"))
    base.trace_state = "rojo=00f067aa0ba902b7"
    base.events.add(name="e", attributes=attrs({"content": "x" * 30}))
    base.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 8, attributes=attrs({"note": "y"}))
    canonical = base.SerializeToString()
    fields: list[bytes] = []
    pos = 0
    while pos < len(canonical):
        start = pos
        tag, pos = _varint(canonical, pos)
        if tag & 7 == 2:
            size, pos = _varint(canonical, pos)
            pos += size
        elif tag & 7 == 0:
            _, pos = _varint(canonical, pos)
        else:
            pos += 8 if tag & 7 == 1 else 4
        fields.append(canonical[start:pos])
    for round_ in range(rounds):
        order = fields[:] if round_ % 3 == 0 else rng.sample(fields, len(fields))
        buf = b"".join(order)
        assert Span.FromString(buf).attributes[0].key  # still a valid span
        yield buf


def random_hits(rng: Any, length: int) -> list[tuple[int, int]]:
    """1 to 6 hits of up to 40 bytes in a buffer of `length`, sorted and disjoint as the prefilter gives them."""
    merged: list[tuple[int, int]] = []
    for p in sorted(rng.sample(range(length), rng.randint(1, 6))):
        s, e = p, min(p + rng.randint(1, 40), length)
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def test_span_marks_match_a_plain_walk_for_any_hits_and_field_order() -> None:
    """The gate's per-span walk has a fast path for runs of attributes; whatever the hits and however the
    sender orders the span's fields, every overlapped attribute, event, link, name and status is marked,
    with its index in the parsed span."""
    import random

    from collector.wire.locate import span_marks

    rng = random.Random(7)
    for buf in shuffled_span_fields(rng, rounds=300):
        merged = random_hits(rng, len(buf))
        starts, ends = [s for s, _ in merged], [e for _, e in merged]
        assert span_marks(buf, 0, len(buf), starts, ends) == _reference_span_marks(buf, merged)
