"""tail_sampling: policy tables (pure, evaluated directly on traces built from OTLP requests) mirroring
otelcol's documented semantics, plus the running daemon: errors kept, OK traces dropped, whole traces
released together, late spans follow the cached decision, shutdown decides what is pending, and an
otelcol tail_sampling block loads unchanged."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector import otlpjson
from collector.component import Signal
from collector.config import ConfigErrors, load_config
from collector.config.source import load_text
from collector.config.typed import Decoder
from collector.envelope import Envelope
from collector.processors.tailsampling import Sampler, TailSamplingConfig, TraceData, build_request, group_by_trace
from collector.testing import Sink, build_processor, kv, wait_for
from tests.conftest import daemon_yaml

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
MS = 1_000_000


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def span(tid: int, sid: int, *, parent: int = 0, start_ms: int = 0, end_ms: int = 1, status: int = 0, trace_state: str = "", **attrs: Any) -> Span:
    return Span(
        trace_id=tid.to_bytes(16, "big"),
        span_id=sid.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=f"s{sid}",
        start_time_unix_nano=1_700_000_000_000 * MS // 1000 + start_ms * MS,
        end_time_unix_nano=1_700_000_000_000 * MS // 1000 + end_ms * MS,
        status=Status(code=status),
        trace_state=trace_state,
        attributes=[kv(k.replace("__", "."), v) for k, v in attrs.items()],
    )


def req(spans: list[Span], service: str = "svc", **resource_attrs: Any) -> ExportTraceServiceRequest:
    attrs = [kv("service.name", service)] + [kv(k.replace("__", "."), v) for k, v in resource_attrs.items()]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=Resource(attributes=attrs), scope_spans=[ScopeSpans(spans=spans)])])


def trace(*spans: Span, **resource_attrs: Any) -> TraceData:
    groups = group_by_trace(req(list(spans), **resource_attrs))
    (t,) = groups.values()
    return t


def decode(yaml_text: str) -> tuple[TailSamplingConfig, list[str]]:
    doc = load_text(yaml_text, "t.yaml")
    decoder = Decoder(doc)
    cfg = decoder.decode(TailSamplingConfig, doc.data, ())
    return cfg, [str(e) for e in decoder.errors]


def sampler(policies: str, **top: Any) -> Sampler:
    extra = "".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}\n" for k, v in top.items())
    cfg, errors = decode(extra + "policies:\n" + policies)
    assert not errors, errors
    return Sampler(cfg.policies, cfg.sample_on_first_match)


def sampled(policies: str, t: TraceData, **top: Any) -> bool:
    return sampler(policies, **top).decide(t).sampled


# ------------------------------------------------------------------------------------------------
# Policy tables
# ------------------------------------------------------------------------------------------------

ERR, OK, UNSET = 2, 1, 0

CASES = [
    # (id, policy yaml, trace spans, resource attrs, expected)
    ("always", "- {name: a, type: always_sample}", [span(1, 1)], {}, True),
    ("latency-over", "- {name: l, type: latency, latency: {threshold_ms: 500}}", [span(1, 1, start_ms=0, end_ms=100), span(1, 2, start_ms=400, end_ms=600)], {}, True),
    ("latency-under", "- {name: l, type: latency, latency: {threshold_ms: 500}}", [span(1, 1, start_ms=0, end_ms=100), span(1, 2, start_ms=200, end_ms=300)], {}, False),
    ("latency-upper-in", "- {name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}", [span(1, 1, end_ms=150)], {}, True),
    ("latency-upper-out", "- {name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}", [span(1, 1, end_ms=250)], {}, False),
    ("numeric-in", "- {name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}", [span(1, 1, http__status_code=503)], {}, True),
    ("numeric-out", "- {name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}", [span(1, 1, http__status_code=200)], {}, False),
    ("numeric-min-only", "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, min_value: 10}}", [span(1, 1, x=10_000)], {}, True),
    ("numeric-invert", "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, min_value: 1, max_value: 5, invert_match: true}}", [span(1, 1, x=9)], {}, True),
    ("numeric-resource", "- {name: n, type: numeric_attribute, numeric_attribute: {key: tier, min_value: 1, max_value: 1}}", [span(1, 1)], {"tier": 1}, True),
    ("status-error", "- {name: s, type: status_code, status_code: {status_codes: [ERROR]}}", [span(1, 1, status=OK), span(1, 2, status=ERR)], {}, True),
    ("status-ok-only", "- {name: s, type: status_code, status_code: {status_codes: [ERROR]}}", [span(1, 1, status=OK), span(1, 2, status=UNSET)], {}, False),
    ("status-unset", "- {name: s, type: status_code, status_code: {status_codes: [UNSET, OK]}}", [span(1, 1, status=UNSET)], {}, True),
    ("string-exact", "- {name: s, type: string_attribute, string_attribute: {key: route, values: [/checkout, /pay]}}", [span(1, 1, route="/pay")], {}, True),
    ("string-miss", "- {name: s, type: string_attribute, string_attribute: {key: route, values: [/checkout]}}", [span(1, 1, route="/health")], {}, False),
    (
        "string-regex",
        "- {name: s, type: string_attribute, string_attribute: {key: route, values: ['^/api/v[0-9]+/'], enabled_regex_matching: true, cache_max_size: 10}}",
        [span(1, 1, route="/api/v2/x")],
        {},
        True,
    ),
    ("string-invert", "- {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}", [span(1, 1, route="/health")], {}, False),
    ("string-invert-other", "- {name: s, type: string_attribute, string_attribute: {key: route, values: [/health], invert_match: true}}", [span(1, 1, route="/pay")], {}, True),
    ("string-resource", "- {name: s, type: string_attribute, string_attribute: {key: service.name, values: [svc]}}", [span(1, 1)], {}, True),
    ("bool-match", "- {name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}", [span(1, 1, debug=True)], {}, True),
    ("bool-other", "- {name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}", [span(1, 1, debug=False)], {}, False),
    ("bool-invert", "- {name: b, type: boolean_attribute, boolean_attribute: {key: debug, value: true, invert_match: true}}", [span(1, 1, debug=False)], {}, True),
    ("span-count-in", "- {name: c, type: span_count, span_count: {min_spans: 2, max_spans: 3}}", [span(1, 1), span(1, 2)], {}, True),
    ("span-count-low", "- {name: c, type: span_count, span_count: {min_spans: 2}}", [span(1, 1)], {}, False),
    ("span-count-high", "- {name: c, type: span_count, span_count: {min_spans: 1, max_spans: 1}}", [span(1, 1), span(1, 2)], {}, False),
    ("trace-state", "- {name: t, type: trace_state, trace_state: {key: ot, values: ['th:0']}}", [span(1, 1, trace_state="rojo=00f067aa0ba902b7,ot=th:0")], {}, True),
    ("trace-state-miss", "- {name: t, type: trace_state, trace_state: {key: ot, values: ['th:0']}}", [span(1, 1, trace_state="ot=th:8")], {}, False),
    (
        "and-all",
        "- {name: a, type: and, and: {and_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}, {name: r, type: string_attribute, string_attribute: {key: route, values: [/pay]}}]}}",
        [span(1, 1, status=ERR, route="/pay")],
        {},
        True,
    ),
    (
        "and-one",
        "- {name: a, type: and, and: {and_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}, {name: r, type: string_attribute, string_attribute: {key: route, values: [/pay]}}]}}",
        [span(1, 1, status=ERR, route="/x")],
        {},
        False,
    ),
    ("prob-0", "- {name: p, type: probabilistic, probabilistic: {sampling_percentage: 0}}", [span(1, 1)], {}, False),
    ("prob-100", "- {name: p, type: probabilistic, probabilistic: {sampling_percentage: 100}}", [span(1, 1)], {}, True),
    # LLM policies
    ("llm-cost-over", "- {name: c, type: llm_cost, llm_cost: {min_usd: 0.01}}", [span(1, 1, gen_ai__usage__cost=0.006), span(1, 2, gen_ai__usage__cost=0.005)], {}, True),
    ("llm-cost-under", "- {name: c, type: llm_cost, llm_cost: {min_usd: 0.01}}", [span(1, 1, gen_ai__usage__cost=0.006)], {}, False),
    (
        "llm-tokens-over",
        "- {name: t, type: llm_tokens, llm_tokens: {min_tokens: 1000}}",
        [
            span(1, 1, gen_ai__operation__name="chat", gen_ai__usage__input_tokens=600, gen_ai__usage__output_tokens=300),
            span(1, 2, gen_ai__operation__name="chat", gen_ai__usage__input_tokens=50, gen_ai__usage__output_tokens=50),
        ],
        {},
        True,
    ),
    (
        "llm-tokens-under",
        "- {name: t, type: llm_tokens, llm_tokens: {min_tokens: 1000}}",
        [span(1, 1, gen_ai__operation__name="chat", gen_ai__usage__input_tokens=600, gen_ai__usage__output_tokens=300)],
        {},
        False,
    ),
    ("llm-model", "- {name: m, type: llm_model, llm_model: {models: [gpt-4o]}}", [span(1, 1, gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o")], {}, True),
    (
        "llm-model-regex",
        "- {name: m, type: llm_model, llm_model: {models: ['^claude-'], enabled_regex_matching: true}}",
        [span(1, 1, gen_ai__operation__name="chat", gen_ai__request__model="claude-3-5-sonnet")],
        {},
        True,
    ),
    ("llm-model-miss", "- {name: m, type: llm_model, llm_model: {models: [gpt-4o]}}", [span(1, 1, gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini")], {}, False),
    (
        "llm-provider",
        "- {name: m, type: llm_model, llm_model: {providers: [anthropic]}}",
        [span(1, 1, gen_ai__operation__name="chat", gen_ai__system="anthropic", gen_ai__request__model="x")],
        {},
        True,
    ),
    ("llm-error-status", "- {name: e, type: llm_error}", [span(1, 1, status=ERR, gen_ai__operation__name="chat")], {}, True),
    ("llm-error-finish", "- {name: e, type: llm_error}", [span(1, 1, gen_ai__operation__name="chat", gen_ai__response__finish_reasons="content_filter")], {}, True),
    ("llm-error-stop", "- {name: e, type: llm_error}", [span(1, 1, gen_ai__operation__name="chat", gen_ai__response__finish_reasons="stop")], {}, False),
    ("llm-error-not-llm", "- {name: e, type: llm_error}", [span(1, 1, status=ERR)], {}, False),
    ("no-policies", "  []", [span(1, 1)], {}, False),
]


@pytest.mark.parametrize("policy,spans,resource,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_policy_table(policy: str, spans: list[Span], resource: dict[str, Any], expected: bool) -> None:
    assert sampled(policy, trace(*spans, **resource)) is expected


def test_finish_reason_list_attribute() -> None:
    s = span(1, 1, gen_ai__operation__name="chat")
    s.attributes.add(key="gen_ai.response.finish_reasons").value.array_value.values.add(string_value="length")
    assert sampled("- {name: e, type: llm_error}", trace(s))
    assert not sampled("- {name: e, type: llm_error, llm_error: {finish_reasons: [refusal]}}", trace(s))


def test_drop_wins_over_any_sample() -> None:
    policies = """
- {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
- {name: all, type: always_sample}
- name: no-health
  type: drop
  drop:
    drop_sub_policy:
      - {name: health, type: string_attribute, string_attribute: {key: route, values: [/health]}}
"""
    s = sampler(policies)
    d = s.decide(trace(span(1, 1, status=ERR, route="/health")))
    assert d.sampled is False and d.policy == "no-health"
    assert s.decide(trace(span(2, 1, route="/pay"))).sampled is True
    # drop needs every sub-policy to match
    two = """
- {name: all, type: always_sample}
- {name: d, type: drop, drop: {drop_sub_policy: [{name: a, type: string_attribute, string_attribute: {key: route, values: [/health]}}, {name: b, type: status_code, status_code: {status_codes: [OK]}}]}}
"""
    assert sampled(two, trace(span(3, 1, route="/health", status=ERR))) is True
    assert sampled(two, trace(span(3, 1, route="/health", status=OK))) is False


def test_drop_wins_even_with_sample_on_first_match() -> None:
    policies = """
- {name: all, type: always_sample}
- {name: d, type: drop, drop: {drop_sub_policy: [{name: h, type: string_attribute, string_attribute: {key: route, values: [/health]}}]}}
"""
    assert sampled(policies, trace(span(1, 1, route="/health")), sample_on_first_match=True) is False


def test_sample_on_first_match_stops_evaluation() -> None:
    policies = """
- {name: first, type: always_sample}
- {name: second, type: status_code, status_code: {status_codes: [ERROR]}}
"""
    t = trace(span(1, 1, status=ERR))
    d = sampler(policies, sample_on_first_match=True).decide(t)
    assert d.sampled and d.policy == "first" and list(d.votes) == ["first"]
    d = sampler(policies).decide(t)
    assert d.sampled and d.policy == "first" and list(d.votes) == ["first", "second"]


def test_any_sample_vote_samples() -> None:
    policies = """
- {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
- {name: slow, type: latency, latency: {threshold_ms: 1000}}
"""
    assert sampled(policies, trace(span(1, 1, end_ms=5000)))
    assert sampled(policies, trace(span(1, 1, status=ERR)))
    assert not sampled(policies, trace(span(1, 1)))


def test_probabilistic_is_deterministic_and_close_to_rate() -> None:
    import random

    rng = random.Random(7)
    ids = [rng.getrandbits(128) | 1 for _ in range(5000)]
    s = sampler("- {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}")
    traces = [trace(span(i, 1)) for i in ids]
    hits = [s.decide(t).sampled for t in traces]
    assert 0.08 < sum(hits) / len(hits) < 0.12
    again = [s.decide(trace(span(i, 1))).sampled for i in ids]  # traces built anew: nothing kept on them
    assert hits == again
    salted = sampler("- {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10, hash_salt: other}}")
    assert [salted.decide(t).sampled for t in traces] != hits


def test_rate_limiting_is_a_token_bucket_of_spans() -> None:
    # otelcol's current rate_limiting (contrib PR #48226, rate_limiting.go): golang.org/x/time/rate, full at
    # the start, capacity 2 x spans_per_second unless burst_capacity says otherwise.
    s = sampler("- {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 5}}")
    clock = [100.0]
    pol = s.others[0]
    pol.clock = lambda: clock[0]  # type: ignore[attr-defined]
    pol.last = 100.0  # type: ignore[attr-defined]

    def spans(tid: int, n: int) -> Any:
        return trace(*(span(tid, i) for i in range(1, n + 1)))

    assert [s.decide(spans(t, 3)).sampled for t in (1, 2, 3, 4)] == [True, True, True, False]  # 10 -> 7 -> 4 -> 1
    clock[0] = 100.4  # +2 tokens: 3
    assert s.decide(spans(5, 3)).sampled is True
    clock[0] = 1000.0
    assert s.decide(spans(6, 11)).sampled is False  # more spans than the bucket holds: never
    burst = sampler("- {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 5, burst_capacity: 3}}")
    assert [burst.decide(spans(t, 3)).sampled for t in (7, 8)] == [True, False]


def test_composite_rate_allocation() -> None:
    policies = """
- name: composite
  type: composite
  composite:
    max_total_spans_per_second: 10
    policy_order: [errors, everything]
    composite_sub_policy:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: everything, type: always_sample}
    rate_allocation:
      - {policy: errors, percent: 50}
      - {policy: everything, percent: 20}
"""
    s = sampler(policies)
    s.others[0].clock = lambda: 5.0  # type: ignore[attr-defined]
    # errors may use 5 spans/s, everything 2 spans/s
    assert s.decide(trace(*(span(1, i, status=ERR) for i in range(1, 5)))).sampled  # errors: 4
    assert s.decide(trace(span(2, 1), span(2, 2))).sampled  # everything: 2
    assert not s.decide(trace(span(3, 1))).sampled  # everything exhausted
    assert s.decide(trace(span(4, 1, status=ERR))).sampled  # errors: 5
    assert not s.decide(trace(span(5, 1, status=ERR))).sampled  # both exhausted


def test_bytes_limiting() -> None:
    size = span(1, 1, blob="x" * 60).ByteSize()
    rate = size * 3 // 2
    s = sampler(f"- {{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: {rate}, burst_capacity: {rate}}}}}")
    clock = [0.0]
    pol = s.others[0]
    pol.clock = lambda: clock[0]  # type: ignore[attr-defined]
    pol.last = 0.0  # type: ignore[attr-defined]
    big = trace(span(1, 1, blob="x" * 60))
    assert s.decide(big).sampled
    assert not s.decide(trace(span(2, 1, blob="x" * 60))).sampled
    clock[0] = 1.0
    assert s.decide(trace(span(3, 1, blob="x" * 60))).sampled


def test_every_policy_type_has_its_policy_class_and_the_facts_come_from_the_policies() -> None:
    from collector.processors.tailsampling.buffer import STATUSES, TIMES
    from collector.processors.tailsampling.config import POLICY_TYPES
    from collector.processors.tailsampling.policies import POLICIES

    assert list(POLICIES) == list(POLICY_TYPES)
    assert all(POLICIES[t].config_class is c for t, c in POLICY_TYPES.items())
    assert sampler("- {name: a, type: always_sample}").facts == 0
    assert sampler("- {name: l, type: latency, latency: {threshold_ms: 1}}").facts == TIMES
    nested = """
- name: d
  type: drop
  drop: {drop_sub_policy: [{name: s, type: status_code, status_code: {status_codes: [ERROR]}}]}
- name: c
  type: composite
  composite:
    max_total_spans_per_second: 10
    composite_sub_policy:
      - {name: a, type: and, and: {and_sub_policy: [{name: l, type: latency, latency: {threshold_ms: 1}}]}}
"""
    assert sampler(nested).facts == TIMES | STATUSES


def test_group_by_trace_and_build_request_keep_resource_and_scope() -> None:
    r = req([span(1, 1), span(2, 1), span(1, 2)], service="a")
    r.resource_spans.append(req([span(1, 3)], service="b").resource_spans[0])
    groups = group_by_trace(r)
    assert sorted(t.span_count for t in groups.values()) == [1, 3]
    out = build_request([groups[(1).to_bytes(16, "big")]])
    services = sorted((rs.resource.attributes[0].value.string_value, len(rs.scope_spans[0].spans)) for rs in out.resource_spans)
    assert services == [("a", 2), ("b", 1)]
    # copies: changing the original does not change the buffered spans
    r.resource_spans[0].scope_spans[0].spans[0].name = "changed"
    assert all(e[4].name != "changed" for e in groups[(1).to_bytes(16, "big")].spans)


@pytest.mark.parametrize(
    "yaml_text,message",
    [
        ("policies: [{name: x, type: nope}]", 'unknown policy type "nope"'),
        ("policies: [{name: x, type: ottl_condition}]", "expected at least one OTTL condition to filter on"),
        ("policies: [{name: x, type: status_code, status_code: {status_codes: [BAD]}}]", 'unknown status code "BAD"'),
        ("policies: [{name: x, type: latency, latency: {treshold_ms: 5}}]", 'did you mean "threshold_ms"'),
        ("policies: [{type: always_sample}]", 'missing required key "name"'),
        ("policies: [{name: x, type: always_sample, bogus: 1}]", "unknown key"),
        ("policies: [{name: x, type: always_sample}, {name: x, type: always_sample}]", 'duplicate policy name "x"'),
        ("policies: [{name: x, type: and, and: {and_sub_policy: [{name: y, type: nope}]}}]", 'unknown policy type "nope"'),
        ("decision_wait: 0s", "must be greater than 0"),
        ("policies: [{name: x, type: numeric_attribute, numeric_attribute: {key: k}}]", "set min_value and/or max_value"),
    ],
)
def test_bad_policy_config(yaml_text: str, message: str) -> None:
    _, errors = decode(yaml_text)
    assert any(message in e for e in errors), errors


def test_unknown_policy_type_error_names_file_line_and_key(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(daemon_config(esc("{decision_wait: 1s, policies: [{name: x, type: nope}]}")).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    text = str(info.value)
    assert "c.yaml:" in text and "policies" in text and "type" in text and 'unknown policy type "nope"' in text


# ------------------------------------------------------------------------------------------------
# Engine without the daemon: eviction, late spans, rollup, record_policy
# ------------------------------------------------------------------------------------------------


def _processor(yaml_text: str) -> tuple[Any, Sink]:
    """A tail_sampling processor as the service builds it (collector.testing), not started: the tests drive
    its decisions themselves."""
    cfg, errors = decode(yaml_text)
    assert not errors, errors
    sink = Sink()
    return build_processor("tail_sampling", cfg, sink), sink


def test_eviction_counts_dropped_too_early_and_late_spans_follow_decision() -> None:
    import asyncio

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\nnum_traces: 2\npolicies: [{name: all, type: always_sample}]")
        for tid in (1, 2, 3):
            await p.consume(Envelope(Signal.TRACES, req([span(tid, 1)])))
        assert p.m_too_early.value == 1 and p._pending_count == 2
        sampled, _ = p.decide_due(float("inf"))
        assert sorted(t.trace_id[-1] for t in sampled) == [2, 3]
        # late span of a decided (still held) trace goes straight through
        await p.consume(Envelope(Signal.TRACES, req([span(3, 2)])))
        assert [s.span_id[-1] for s in sink.spans] == [2]

    asyncio.run(run())


def test_non_sampled_cache_drops_late_spans_after_eviction() -> None:
    import asyncio

    async def run() -> None:
        p, sink = _processor(
            "decision_wait: 1h\nnum_traces: 1\ndecision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 10}\npolicies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]"
        )
        await p.consume(Envelope(Signal.TRACES, req([span(1, 1, status=ERR)])))
        p.decide_due(float("inf"))
        await p.consume(Envelope(Signal.TRACES, req([span(2, 1)])))
        p.decide_due(float("inf"))
        await p.consume(Envelope(Signal.TRACES, req([span(3, 1)])))  # evicts 2 (decided) from the buffer
        await p.consume(Envelope(Signal.TRACES, req([span(4, 1)])))  # evicts 3 (pending) -> dropped too early
        # Late spans: trace 1 is only in the sampled cache, trace 2 only in the non-sampled cache.
        await p.consume(Envelope(Signal.TRACES, req([span(1, 9), span(2, 9)])))
        assert sorted((s.trace_id[-1], s.span_id[-1]) for s in sink.spans) == [(1, 9)]
        assert p.m_too_early.value == 1

    asyncio.run(run())


def test_record_policy_and_rollup_on_root_span() -> None:
    import asyncio

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\nrecord_policy: true\nrollup: true\npolicies: [{name: pricey, type: llm_cost, llm_cost: {min_usd: 0.01}}]")
        spans = [
            span(1, 1),
            span(1, 2, parent=1, gen_ai__operation__name="chat", gen_ai__usage__input_tokens=100, gen_ai__usage__output_tokens=20, gen_ai__usage__cost=0.02),
            span(1, 3, parent=1, gen_ai__operation__name="chat", gen_ai__usage__input_tokens=50, gen_ai__usage__output_tokens=5, gen_ai__usage__cost=0.005),
        ]
        await p.consume(Envelope(Signal.TRACES, req(spans)))
        sampled, _ = p.decide_due(float("inf"))
        await p._send(sampled)
        out = {s.span_id[-1]: {a.key: a.value for a in s.attributes} for s in sink.spans}
        assert all(a["tailsampling.policy"].string_value == "pricey" for a in out.values())
        root = out[1]
        assert root["gen_ai.trace.cost"].double_value == pytest.approx(0.025)
        assert root["gen_ai.trace.input_tokens"].int_value == 150
        assert root["gen_ai.trace.output_tokens"].int_value == 25
        assert "gen_ai.trace.cost" not in out[2]

    asyncio.run(run())


def test_block_on_overflow_refuses_with_retryable_error() -> None:
    import asyncio

    from collector.component import RetryableError

    async def run() -> None:
        p, _sink = _processor("decision_wait: 1h\nnum_traces: 2\nblock_on_overflow: true\npolicies: [{name: all, type: always_sample}]")
        await p.consume(Envelope(Signal.TRACES, req([span(1, 1), span(2, 1)])))
        with pytest.raises(RetryableError):
            await p.consume(Envelope(Signal.TRACES, req([span(3, 1)])))
        await p.consume(Envelope(Signal.TRACES, req([span(1, 2)])))  # spans of a pending trace still fit
        assert p.m_too_early.value == 0 and p._pending_count == 2
        sampled, _ = p.decide_due(float("inf"))
        assert sorted(t.span_count for t in sampled) == [1, 2]
        await p.consume(Envelope(Signal.TRACES, req([span(3, 1)])))  # decided ids make room

    asyncio.run(run())


def test_max_buffered_bytes_evicts_oldest_pending() -> None:
    import asyncio

    one = span(1, 1, blob="x" * 100).ByteSize()

    async def run() -> None:
        p, _sink = _processor(f"decision_wait: 1h\nmax_buffered_bytes: {one * 2 + one // 2}\npolicies: [{{name: all, type: always_sample}}]")
        for tid in (1, 2, 3):
            await p.consume(Envelope(Signal.TRACES, req([span(tid, 1, blob="x" * 100)])))
        assert p.m_too_early.value == 1 and sorted(t[-1] for t in p.pending_traces) == [2, 3]
        assert p.pending_bytes == 2 * one
        sampled, _ = p.decide_due(float("inf"))
        assert p.pending_bytes == 0 and len(sampled) == 2

    asyncio.run(run())


def test_maximum_trace_size_drops_a_runaway_trace_only() -> None:
    import asyncio

    one = span(1, 1, blob="x" * 100).ByteSize()

    async def run() -> None:
        p, sink = _processor(f"decision_wait: 1h\nmaximum_trace_size_bytes: {one * 3}\npolicies: [{{name: all, type: always_sample}}]")
        for sid in range(1, 6):
            await p.consume(Envelope(Signal.TRACES, req([span(1, sid, blob="x" * 100), span(2, sid) if sid == 1 else span(3, sid)])))
        assert p.m_too_large.value == 1
        assert 1 not in [t[-1] for t in p.pending_traces]
        await p.consume(Envelope(Signal.TRACES, req([span(1, 9)])))  # late spans of the dropped trace stay dropped
        sampled, _ = p.decide_due(float("inf"))
        await p._send(sampled)
        assert sorted({s.trace_id[-1] for s in sink.spans}) == [2, 3]

    asyncio.run(run())


def test_root_span_triggers_an_early_decision() -> None:
    import asyncio

    async def run() -> None:
        p, _sink = _processor("decision_wait: 1h\ndecision_wait_after_root_received: 1s\npolicies: [{name: all, type: always_sample}]")
        await p.consume(Envelope(Signal.TRACES, req([span(1, 2, parent=1), span(2, 2, parent=1)])))
        await p.consume(Envelope(Signal.TRACES, req([span(1, 1)])))  # root of trace 1
        now = time.monotonic()
        sampled, _ = p.decide_due(now + 2)
        assert [t.trace_id[-1] for t in sampled] == [1] and sampled[0].span_count == 2
        sampled, _ = p.decide_due(now + 4000)
        assert [t.trace_id[-1] for t in sampled] == [2]
        assert not p.queue and not p.root_queue

    asyncio.run(run())


def test_a_trace_decided_early_lets_go_of_its_spans_while_it_waits_in_the_arrival_queue() -> None:
    import asyncio

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\ndecision_wait_after_root_received: 1s\npolicies: [{name: all, type: always_sample}]")
        await p.consume(Envelope(Signal.TRACES, req([span(2, 2, parent=1)])))
        await p.consume(Envelope(Signal.TRACES, req([span(1, 2, parent=1), span(1, 1, blob="x" * 1000)])))  # trace 1 with its root
        sampled, _ = p.decide_due(time.monotonic() + 2)
        assert [t.trace_id[-1] for t in sampled] == [1]
        await p._send(sampled)
        assert len(sink.spans) == 2
        # Trace 1 is still queued behind trace 2 (arrival order), decided and without its spans.
        assert [t.trace_id[-1] for t in p.queue] == [2, 1]
        assert p.queue[1].sampled is True and not p.queue[1]._raw and p.queue[1]._groups is None

    asyncio.run(run())


def test_buffer_holds_two_gc_tracked_objects_per_pending_trace_and_none_per_decided_one() -> None:
    """Every tracked object alive for decision_wait is traversed by each full collection (every few seconds
    at 30k spans/s): the buffer's count of them is the garbage collector's share of the event loop."""
    import asyncio
    import gc

    traces, per_request = 3000, 30

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\npolicies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]")
        requests = [req([span(tid, sid, parent=0 if sid == 1 else 1) for tid in range(first, first + per_request) for sid in (1, 2, 3)])
                    for first in range(1, traces + 1, per_request)]
        await p.consume(Envelope(Signal.TRACES, requests[0]))  # interned shells, metric children: once per daemon
        gc.collect()
        before = len(gc.get_objects())
        for r in requests[1:]:
            await p.consume(Envelope(Signal.TRACES, r))
        gc.collect()
        pending = len(gc.get_objects()) - before
        held = traces - per_request
        assert p._pending_count == traces and pending <= 2 * held + 50, pending
        more = True
        while more:
            sampled, more = p.decide_due(float("inf"))
            assert not sampled
        assert not p.pending_traces and len(p.decided) == traces
        gc.collect()
        assert len(gc.get_objects()) - before <= 50
        assert not sink.requests

    asyncio.run(run())


def test_decisions_run_in_chunks_oldest_first() -> None:
    import asyncio

    async def run() -> None:
        p, _sink = _processor("decision_wait: 1s\npolicies: [{name: all, type: always_sample}]")
        for tid in range(1, 1201):
            await p.consume(Envelope(Signal.TRACES, req([span(tid, 1)])))
        first, more = p.decide_due(time.monotonic() + 5, limit=500)
        assert more and [t.trace_id for t in first] == [i.to_bytes(16, "big") for i in range(1, 501)]
        rest, more = p.decide_due(time.monotonic() + 5, limit=1000)
        assert not more and len(rest) == 700

    asyncio.run(run())


def test_released_traces_go_out_whole_in_requests_of_bounded_size() -> None:
    import asyncio

    from collector.processors.tailsampling import processor as ts

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\npolicies: [{name: all, type: always_sample}]")
        blob = "x" * 3000
        for tid in range(1, 401):  # 400 three-span traces of ~9 KB: ~3.6 MB held, one decision chunk
            await p.consume(Envelope(Signal.TRACES, req([span(tid, 1, blob=blob), span(tid, 2, parent=1, blob=blob), span(tid, 3, parent=1, blob=blob)])))
        held = p.pending_bytes
        sampled, more = p.decide_due(float("inf"))
        assert not more and len(sampled) == 400
        await p._send(sampled)
        assert len(sink.requests) >= held // ts._SEND_BYTES
        trace_one = max(t.bytes for t in sampled)
        seen: dict[bytes, int] = {}
        for r in sink.requests:
            assert r.ByteSize() <= ts._SEND_BYTES + trace_one + 4096  # the slice that crossed the bound, plus framing
            in_request = {s.trace_id for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans}
            for tid in in_request:
                assert tid not in seen, "a trace was split across requests"
                seen[tid] = 1
        assert len(seen) == 400 and len(sink.spans) == 1200

    asyncio.run(run())


def test_attribute_lookup_on_held_bytes_counts_span_attributes_only() -> None:
    """Held spans are searched as bytes before any parse: the key's bytes in an event attribute, inside a
    string value, or twice in one span must give the same answer as reading the parsed span."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage

    from collector.processors.tailsampling import span_attribute_values, trace_cost

    in_event = span(1, 1)
    event = in_event.events.add(name="usage")
    event.attributes.append(kv("gen_ai.usage.cost", 5.0))
    in_string = span(1, 2, note=kv("gen_ai.usage.cost", 7.0).SerializeToString().decode("latin-1"))
    duplicated = span(1, 3, gen_ai__usage__cost=0.25)
    duplicated.attributes.append(kv("gen_ai.usage.cost", 0.5))
    plain = span(1, 4, gen_ai__usage__cost=0.125)
    held = trace(in_event, in_string, duplicated, plain)
    assert held._spans is None  # still bytes: the fast path is what is tested
    assert trace_cost(held) == pytest.approx(0.875)
    parsed = [SpanMessage.FromString(raw) for raw in held._raw]
    expected = [kv.value for s in parsed for kv in s.attributes if kv.key == "gen_ai.usage.cost"]
    assert list(span_attribute_values(held, "gen_ai.usage.cost")) == expected
    assert not list(span_attribute_values(held, "gen_ai.usage")) and held._spans is None
    assert sampled("- {name: n, type: string_attribute, string_attribute: {key: usage, values: [x]}}", held) is False


@pytest.mark.parametrize(
    "policy",
    [
        "- {name: l, type: latency, latency: {threshold_ms: 150}}",
        "- {name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 120}}",
        "- {name: s, type: status_code, status_code: {status_codes: [ERROR]}}",
        "- {name: s, type: status_code, status_code: {status_codes: [OK, UNSET]}}",
        "- {name: a, type: and, and: {and_sub_policy: [{name: s, type: status_code, status_code: {status_codes: [ERROR]}}, {name: l, type: latency, latency: {threshold_ms: 100}}]}}",
    ],
)
def test_facts_gathered_at_intake_decide_like_the_parsed_spans(policy: str) -> None:
    from collector.processors.tailsampling import group_by_trace

    spans = [span(1, 1, start_ms=10, end_ms=60, status=OK), span(1, 2, parent=1, start_ms=40, end_ms=125, status=ERR), span(1, 3, parent=1, start_ms=5, end_ms=20)]
    other = [span(2, 1, start_ms=0, end_ms=50, status=OK)]
    for group in (spans, other):
        (with_facts,) = group_by_trace(req(group)).values()
        (without,) = group_by_trace(req(group), facts=0).values()
        assert with_facts.facts and not without.facts
        assert sampled(policy, with_facts) == sampled(policy, without)
        assert without._spans is not None  # it had to parse; the facts did not
        assert with_facts._spans is None


def test_record_policy_on_held_spans_appends_the_attribute_on_the_wire() -> None:
    import asyncio

    async def run() -> None:
        p, sink = _processor("decision_wait: 1h\nrecord_policy: true\npolicies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]")
        await p.consume(Envelope(Signal.TRACES, req([span(1, 1, route="/pay"), span(1, 2, parent=1, status=ERR)])))
        await p.consume(Envelope(Signal.TRACES, req([span(2, 1)])))
        sampled, _ = p.decide_due(float("inf"))
        await p._send(sampled)
        out = sink.spans
        assert [s.trace_id[-1] for s in out] == [1, 1]
        for s in out:
            attrs = [(a.key, a.value.string_value) for a in s.attributes]
            assert attrs[-1] == ("tailsampling.policy", "errors") and attrs.count(attrs[-1]) == 1
        assert [(a.key, a.value.string_value) for a in out[0].attributes][0] == ("route", "/pay")

    asyncio.run(run())


# ------------------------------------------------------------------------------------------------
# Through the running daemon
# ------------------------------------------------------------------------------------------------


def daemon_config(tail: str) -> str:
    return daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  tail_sampling: TAIL
exporters:
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""", """
traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file/traces]}}
""").replace("TAIL", tail)


def esc(block: str) -> str:
    return block.replace("{", "{{").replace("}", "}}")


ERRORS_ONLY = esc(
    "{decision_wait: 200ms, decision_cache: {sampled_cache_size: 1000, non_sampled_cache_size: 1000}, policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]}"
)


def send(daemon: Any, r: ExportTraceServiceRequest) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(r.SerializeToString(), timeout=10)


def exported(daemon: Any) -> list[ExportTraceServiceRequest]:
    path = daemon.data / "traces.jsonl"
    if not path.exists():
        return []
    return [otlpjson.decode(Signal.TRACES, line) for line in path.read_bytes().splitlines()]


def span_ids(reqs: list[ExportTraceServiceRequest]) -> list[tuple[int, int]]:
    return sorted((int.from_bytes(s.trace_id, "big"), int.from_bytes(s.span_id, "big")) for r in reqs for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans)


@pytest.mark.slow
def test_daemon_keeps_error_traces_whole_and_drops_ok_ones(daemon_factory: Any) -> None:
    daemon = daemon_factory(daemon_config(ERRORS_ONLY))
    # Trace 1 (error) arrives in three requests, interleaved with trace 2 (all OK).
    send(daemon, req([span(1, 1), span(2, 1, status=OK)]))
    send(daemon, req([span(1, 2, parent=1, status=ERR)], service="other"))
    send(daemon, req([span(1, 3, parent=1), span(2, 2, status=OK)]))
    wait_for(lambda: span_ids(exported(daemon)) == [(1, 1), (1, 2), (1, 3)])
    reqs = exported(daemon)
    assert len(reqs) == 1  # released together
    assert daemon.metric("otelcol_processor_tail_sampling_global_count_traces_sampled", sampled="true") == 1
    assert daemon.metric("otelcol_processor_tail_sampling_global_count_traces_sampled", sampled="false") == 1
    assert daemon.metric("otelcol_processor_tail_sampling_count_traces_sampled", policy="errors", sampled="true") == 1
    assert daemon.metric("otelcol_processor_tail_sampling_new_trace_id_received") == 2
    assert daemon.metric("otelcol_processor_tail_sampling_sampling_traces_on_memory") == 0
    # Late spans follow the decision of their trace.
    send(daemon, req([span(1, 4, parent=1), span(2, 3, status=OK)]))
    wait_for(lambda: (1, 4) in span_ids(exported(daemon)))
    time.sleep(0.4)
    assert span_ids(exported(daemon)) == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert daemon.metric("otelcol_processor_tail_sampling_new_trace_id_received") == 2
    assert daemon.stop() == 0


@pytest.mark.slow
def test_daemon_shutdown_decides_pending_traces(daemon_factory: Any) -> None:
    block = esc("{decision_wait: 1h, policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]}")
    daemon = daemon_factory(daemon_config(block))
    for tid in range(1, 11):
        send(daemon, req([span(tid, 1), span(tid, 2, status=ERR if tid % 2 else OK)]))
    time.sleep(0.3)
    assert exported(daemon) == []
    assert daemon.metric("otelcol_processor_tail_sampling_sampling_traces_on_memory") == 10
    assert daemon.stop() == 0
    assert span_ids(exported(daemon)) == sorted((tid, s) for tid in range(1, 11, 2) for s in (1, 2))


@pytest.mark.slow
def test_daemon_num_traces_evicts_oldest(daemon_factory: Any) -> None:
    block = esc("{decision_wait: 1h, num_traces: 5, policies: [{name: all, type: always_sample}]}")
    daemon = daemon_factory(daemon_config(block))
    for tid in range(1, 9):
        send(daemon, req([span(tid, 1)]))
    assert daemon.metric("otelcol_processor_tail_sampling_sampling_trace_dropped_too_early") == 3
    assert daemon.stop() == 0
    assert span_ids(exported(daemon)) == [(tid, 1) for tid in range(4, 9)]


@pytest.mark.slow
def test_daemon_block_on_overflow_answers_unavailable(daemon_factory: Any) -> None:
    block = esc("{decision_wait: 1h, num_traces: 3, block_on_overflow: true, policies: [{name: all, type: always_sample}]}")
    daemon = daemon_factory(daemon_config(block))
    send(daemon, req([span(1, 1), span(2, 1), span(3, 1)]))
    with pytest.raises(grpc.RpcError) as info:
        send(daemon, req([span(4, 1)]))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert daemon.stop() == 0
    assert span_ids(exported(daemon)) == [(1, 1), (2, 1), (3, 1)]


@pytest.mark.slow
def test_daemon_llm_policies_with_rollup(daemon_factory: Any) -> None:
    block = esc("{decision_wait: 200ms, rollup: true, record_policy: true, policies: [{name: pricey, type: llm_cost, llm_cost: {min_usd: 0.01}}, {name: failed, type: llm_error}]}")
    daemon = daemon_factory(daemon_config(block))
    chat = {"gen_ai__operation__name": "chat", "gen_ai__request__model": "gpt-4o", "gen_ai__usage__input_tokens": 10, "gen_ai__usage__output_tokens": 2}
    send(daemon, req([span(1, 1), span(1, 2, parent=1, gen_ai__usage__cost=0.02, **chat)]))  # expensive
    send(daemon, req([span(2, 1), span(2, 2, parent=1, gen_ai__usage__cost=0.001, gen_ai__response__finish_reasons="content_filter", **chat)]))  # filtered
    send(daemon, req([span(3, 1), span(3, 2, parent=1, gen_ai__usage__cost=0.001, **chat)]))  # cheap and fine
    wait_for(lambda: len(span_ids(exported(daemon))) == 4)
    time.sleep(0.3)
    spans = [s for r in exported(daemon) for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted({s.trace_id[-1] for s in spans}) == [1, 2]
    policy = {s.trace_id[-1]: {a.key: a.value for a in s.attributes}["tailsampling.policy"].string_value for s in spans}
    assert policy == {1: "pricey", 2: "failed"}
    root1 = next(s for s in spans if s.trace_id[-1] == 1 and not s.parent_span_id)
    attrs = {a.key: a.value for a in root1.attributes}
    assert attrs["gen_ai.trace.cost"].double_value == pytest.approx(0.02) and attrs["gen_ai.trace.input_tokens"].int_value == 10
    assert daemon.stop() == 0


OTELCOL_BLOCK = """
    decision_wait: 10s
    num_traces: 100
    expected_new_traces_per_sec: 10
    decision_cache:
      sampled_cache_size: 100000
      non_sampled_cache_size: 100000
    sample_on_first_match: false
    policies:
      [
          {
            name: test-policy-1,
            type: always_sample
          },
          {
            name: test-policy-2,
            type: latency,
            latency: {threshold_ms: 5000, upper_threshold_ms: 10000}
          },
          {
            name: test-policy-3,
            type: numeric_attribute,
            numeric_attribute: {key: key1, min_value: 50, max_value: 100}
          },
          {
            name: test-policy-4,
            type: probabilistic,
            probabilistic: {sampling_percentage: 10}
          },
          {
            name: test-policy-5,
            type: status_code,
            status_code: {status_codes: [ERROR, UNSET]}
          },
          {
            name: test-policy-6,
            type: string_attribute,
            string_attribute: {key: key2, values: [value1, value2]}
          },
          {
            name: test-policy-7,
            type: string_attribute,
            string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}
          },
          {
            name: test-policy-8,
            type: rate_limiting,
            rate_limiting: {spans_per_second: 35}
          },
          {
            name: test-policy-9,
            type: string_attribute,
            string_attribute: {key: http.url, values: [\\/health, \\/metrics], enabled_regex_matching: true, invert_match: true}
          },
          {
            name: test-policy-10,
            type: span_count,
            span_count: {min_spans: 2, max_spans: 20}
          },
          {
             name: test-policy-11,
             type: trace_state,
             trace_state: { key: key3, values: [value1, value2] }
          },
          {
              name: test-policy-12,
              type: boolean_attribute,
              boolean_attribute: {key: key4, value: true}
          },
          {
            name: and-policy-1,
            type: and,
            and: {
              and_sub_policy:
              [
                {
                  name: test-and-policy-1,
                  type: numeric_attribute,
                  numeric_attribute: { key: key1, min_value: 50, max_value: 100 }
                },
                {
                    name: test-and-policy-2,
                    type: string_attribute,
                    string_attribute: { key: key2, values: [ value1, value2 ] }
                },
              ]
            }
          },
          {
            name: composite-policy-1,
            type: composite,
            composite:
              {
                max_total_spans_per_second: 1000,
                policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
                composite_sub_policy:
                  [
                    {
                      name: test-composite-policy-1,
                      type: numeric_attribute,
                      numeric_attribute: {key: key1, min_value: 50, max_value: 100}
                    },
                    {
                      name: test-composite-policy-2,
                      type: string_attribute,
                      string_attribute: {key: key2, values: [value1, value2]}
                    },
                    {
                      name: test-composite-policy-3,
                      type: always_sample
                    }
                  ],
                rate_allocation:
                  [
                    {
                      policy: test-composite-policy-1,
                      percent: 50
                    },
                    {
                      policy: test-composite-policy-2,
                      percent: 25
                    }
                  ]
              }
          },
          {
            name: drop-it,
            type: drop,
            drop: {
              drop_sub_policy:
              [
                {
                  name: test-policy-9,
                  type: string_attribute,
                  string_attribute: {key: url.path, values: [\\/health, \\/metrics], enabled_regex_matching: true}
                }
              ]
            }
          },
      ]
"""


def test_otelcol_readme_block_loads_unchanged(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(daemon_config(esc(OTELCOL_BLOCK)).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    cfg = load_config([str(path)])
    from collector.component import ComponentID, Kind

    tail = cfg.component(Kind.PROCESSOR, ComponentID("tail_sampling")).config
    assert len(tail.policies) == 15 and tail.decision_cache.sampled_cache_size == 100000
    s = Sampler(tail.policies, tail.sample_on_first_match)
    assert s.decide(trace(span(1, 1, url__path="/health"))).sampled is False  # drop wins over always_sample
    assert s.decide(trace(span(1, 1, url__path="/api"))).sampled is True
