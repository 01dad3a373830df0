"""tail_sampling decides exactly as otelcol-contrib's tailsamplingprocessor: each of otelcol's rules as a table
case citing the contrib file and function it comes from (processor/tailsamplingprocessor/..., current main:
the version with `not`, `trace_flags`, the token-bucket `rate_limiting` and the
`disableinvertdecisions` feature gate removed), then the daemon with contrib's own testdata config.

invert_match: contrib deprecated the "inverted" decisions (PR #39833, gate
processor.tailsamplingprocessor.disableinvertdecisions), turned the gate on by default (PR #44132), made it
stable and removed it (PR #48976). So the current default, and the rule here, is that invert_match is the
plain negation of the policy's match and vetoes nothing: the InvertNotSampled veto and the "InvertSampled
loses to any NotSampled" rule of processor.go makeDecision only applied to decisions no policy returns
any more."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector import otlpjson
from collector.component import Signal
from collector.config import load_config
from collector.config.source import load_text
from collector.config.typed import Decoder
from collector.processors.tailsampling import Sampler, TailSamplingConfig, TraceData, group_by_trace
from collector.testing import kv
from tests.conftest import daemon_yaml

MS = 1_000_000
T0 = 1_700_000_000_000 * MS
ERR, OK = 2, 1
FIXTURE = Path(__file__).parent.parent / "fixtures" / "otelcol" / "tail_sampling_config.yaml"


def span(tid: int, sid: int, *, start: int = 0, end: int = MS, status: int = 0, flags: int = 0, trace_state: str = "", attrs: dict[str, Any] | None = None) -> Span:
    """A span of trace `tid`; `start`/`end` in ns after T0; `attrs` values are AnyValue or plain values."""
    return Span(
        trace_id=tid.to_bytes(16, "big"),
        span_id=sid.to_bytes(8, "big"),
        name=f"s{sid}",
        start_time_unix_nano=T0 + start,
        end_time_unix_nano=T0 + end,
        status=Status(code=status),
        flags=flags,
        trace_state=trace_state,
        attributes=[KeyValue(key=k, value=v) if isinstance(v, AnyValue) else kv(k, v) for k, v in (attrs or {}).items()],
    )


def req(spans: list[Span], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    attrs = [KeyValue(key=k, value=v) if isinstance(v, AnyValue) else kv(k, v) for k, v in (resource or {}).items()]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=Resource(attributes=attrs), scope_spans=[ScopeSpans(spans=spans)])])


def trace(*spans: Span, resource: dict[str, Any] | None = None) -> TraceData:
    (t,) = group_by_trace(req(list(spans), resource)).values()
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


def double(x: float) -> AnyValue:
    return AnyValue(double_value=x)


# ------------------------------------------------------------------------------------------------
# One policy: (id, citation, policy yaml, trace, sampled)
# ------------------------------------------------------------------------------------------------

LAT_UPPER = "- {name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}"
NUM_5XX = "- {name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}"

POLICY_CASES = [
    ("latency-no-upper-inclusive", "latency.go Evaluate: without upper bound, duration >= threshold",
     "- {name: l, type: latency, latency: {threshold_ms: 100}}", trace(span(1, 1, end=100 * MS)), True),
    ("latency-whole-ms", "latency.go Evaluate: Duration.Milliseconds() truncates (99.9 ms is 99)",
     "- {name: l, type: latency, latency: {threshold_ms: 100}}", trace(span(1, 1, end=100 * MS - 1)), False),
    ("latency-lower-strict", "latency.go Evaluate: with upper bound, lower bound strict (threshold < duration)",
     LAT_UPPER, trace(span(1, 1, end=100 * MS)), False),
    ("latency-lower-strict-whole-ms", "latency.go Evaluate: 100.5 ms is 100 ms, not above 100",
     LAT_UPPER, trace(span(1, 1, end=100 * MS + MS // 2)), False),
    ("latency-upper-inclusive", "latency.go Evaluate: duration <= upper_threshold_ms",
     LAT_UPPER, trace(span(1, 1, end=200 * MS)), True),
    ("latency-upper-out", "latency.go Evaluate: past the upper bound",
     LAT_UPPER, trace(span(1, 1, end=201 * MS)), False),
    ("latency-prefix-within", "latency.go Evaluate via util.go hasSpanWithCondition: the running duration after the first span (150 ms) is within, the 1 s total is not",
     LAT_UPPER, trace(span(1, 1, end=150 * MS), span(1, 2, end=1000 * MS)), True),
    ("latency-prefix-order", "latency.go Evaluate: the same spans the other way round never pass through the bounds",
     LAT_UPPER, trace(span(1, 2, end=1000 * MS), span(1, 1, end=150 * MS)), False),
    ("numeric-int", "numeric_tag_filter.go Evaluate: Value.Int() in [min, max]", NUM_5XX, trace(span(1, 1, attrs={"http.status_code": 503})), True),
    ("numeric-double-is-0", "numeric_tag_filter.go Evaluate: Value.Int() of a double is 0, so 500.0 is not in [500, 599]",
     NUM_5XX, trace(span(1, 1, attrs={"http.status_code": double(500.0)})), False),
    ("numeric-double-is-0-in-range", "numeric_tag_filter.go Evaluate: ...and 0 is within [unset, 10]",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, max_value: 10}}", trace(span(1, 1, attrs={"x": double(500.0)})), True),
    ("numeric-string-is-0", "numeric_tag_filter.go Evaluate: Value.Int() of a string is 0",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, max_value: 10}}", trace(span(1, 1, attrs={"x": "500"})), True),
    ("numeric-min-0-is-unset", "processor.go getSharedPolicyEvaluator: only a non-zero MinValue is passed on, so min_value 0 reaches MinInt64",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, min_value: 0, max_value: 10}}", trace(span(1, 1, attrs={"x": -5})), True),
    ("numeric-absent-key", "numeric_tag_filter.go Evaluate: an absent key never matches",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: x, max_value: 10}}", trace(span(1, 1)), False),
    ("numeric-resource", "numeric_tag_filter.go Evaluate via util.go hasResourceOrSpanWithCondition: resource attributes count",
     NUM_5XX, trace(span(1, 1), resource={"http.status_code": 500}), True),
    ("numeric-invert-negates", "numeric_tag_filter.go Evaluate, invert_match: sampled when no resource or span matches",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599, invert_match: true}}",
     trace(span(1, 1, attrs={"http.status_code": 200})), True),
    ("numeric-invert-absent", "numeric_tag_filter.go Evaluate, invert_match: an absent key is sampled",
     "- {name: n, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599, invert_match: true}}",
     trace(span(1, 1)), True),
    ("string-span-empty", "string_tag_filter.go Evaluate: a span's empty Value.Str() never matches",
     "- {name: s, type: string_attribute, string_attribute: {key: k, values: ['^$'], enabled_regex_matching: true}}", trace(span(1, 1, attrs={"k": ""})), False),
    ("string-resource-non-string", "string_tag_filter.go Evaluate: a resource's non-string value is Value.Str() = \"\", matched like any other",
     "- {name: s, type: string_attribute, string_attribute: {key: k, values: ['^$'], enabled_regex_matching: true}}", trace(span(1, 1), resource={"k": 7}), True),
    ("string-span-non-string", "string_tag_filter.go Evaluate: a span's non-string value is \"\": no match",
     "- {name: s, type: string_attribute, string_attribute: {key: k, values: ['7']}}", trace(span(1, 1, attrs={"k": 7})), False),
    ("string-regex-unanchored", "string_tag_filter.go addFilters: regexp.MustCompile(entry), MatchString finds a match anywhere",
     "- {name: s, type: string_attribute, string_attribute: {key: k, values: ['health'], enabled_regex_matching: true}}", trace(span(1, 1, attrs={"k": "/v1/healthz"})), True),
    ("bool-false-matches-non-bool", "boolean_tag_filter.go Evaluate: Value.Bool() of a non-bool is false",
     "- {name: b, type: boolean_attribute, boolean_attribute: {key: k, value: false}}", trace(span(1, 1, attrs={"k": "yes"})), True),
    ("trace-state-member", "trace_state_filter.go Evaluate: ParseTraceState, Get(key) in values",
     "- {name: t, type: trace_state, trace_state: {key: ot, values: ['th:8']}}", trace(span(1, 1, trace_state="rojo=1, ot=th:8")), True),
    ("trace-state-invalid", "trace_state_filter.go Evaluate: a tracestate ParseTraceState refuses (an upper-case key) matches nothing",
     "- {name: t, type: trace_state, trace_state: {key: ot, values: ['th:8']}}", trace(span(1, 1, trace_state="Rojo=1,ot=th:8")), False),
    ("trace-state-duplicate", "trace_state_filter.go Evaluate: a duplicate key is a ParseTraceState error",
     "- {name: t, type: trace_state, trace_state: {key: ot, values: ['th:8']}}", trace(span(1, 1, trace_state="ot=th:8,ot=th:8")), False),
    ("trace-flags-sampled", "trace_flags.go Evaluate: a span with the sampled bit of its trace flags",
     "- {name: f, type: trace_flags}", trace(span(1, 1), span(1, 2, flags=0x301)), True),
    ("trace-flags-unsampled", "trace_flags.go Evaluate: only the low byte's sampled bit counts",
     "- {name: f, type: trace_flags}", trace(span(1, 1, flags=0x300)), False),
    ("span-count-range", "span_count_sampler.go Evaluate: min_spans <= count <= max_spans (max 0 = none)",
     "- {name: c, type: span_count, span_count: {min_spans: 2, max_spans: 2}}", trace(span(1, 1), span(1, 2)), True),
    ("not-reverses", "not.go Evaluate: Sampled becomes NotSampled",
     "- {name: n, type: not, not: {not_sub_policy: {name: a, type: always_sample}}}", trace(span(1, 1)), False),
    ("not-reverses-back", "not.go Evaluate: NotSampled becomes Sampled",
     "- {name: n, type: not, not: {not_sub_policy: {name: e, type: status_code, status_code: {status_codes: [ERROR]}}}}", trace(span(1, 1, status=OK)), True),
    ("and-all", "and.go Evaluate: NotSampled as soon as one sub-policy does not sample",
     "- {name: a, type: and, and: {and_sub_policy: [{name: x, type: always_sample}, {name: e, type: status_code, status_code: {status_codes: [ERROR]}}]}}",
     trace(span(1, 1, status=OK)), False),
    ("drop-all-match", "drop.go Evaluate: Dropped when every sub-policy samples",
     "- {name: a, type: always_sample}\n- {name: d, type: drop, drop: {drop_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]}}",
     trace(span(1, 1, status=ERR)), False),
]


@pytest.mark.parametrize("case_id,citation,policy,t,expected", POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_policy_decides_as_otelcol(case_id: str, citation: str, policy: str, t: TraceData, expected: bool) -> None:
    assert sampler(policy).decide(t).sampled is expected, citation


def test_probabilistic_threshold_is_gos_big_float_product() -> None:
    # probabilistic.go calculateThreshold: big.Float(MaxUint64) * ratio, rounded to its 64-bit mantissa, then
    # Uint64() (truncating, saturating); Evaluate samples when FNV-1a(salt + trace id) <= threshold.
    from collector.processors.tailsampling.policies.probabilistic import threshold

    assert threshold(0.5) == (1 << 63) - 1  # MaxUint64 / 2 = 2**63 - 0.5, truncated
    assert threshold(0.1) == 1844674407370955263
    assert threshold(0.0) == 0 and threshold(1.0) == threshold(2.0) == (1 << 64) - 1


def test_bytes_limiting_counts_the_batches_otelcol_holds() -> None:
    # bytes_limiting.go calculateTraceSize: ProtoMarshaler.TracesSize of the trace's batches, which
    # processor.go newResourceSpanFromSpanAndScopes builds per arrived ResourceSpans: its resource, one
    # ScopeSpans per scope with the trace's spans, no schema URLs.
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    from collector.processors.tailsampling.buffer import BATCH_BYTES

    res = Resource(attributes=[kv("service.name", "a")])
    lib, other = InstrumentationScope(name="lib"), InstrumentationScope(name="other", version="2")
    first = ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=res, schema_url="https://x", scope_spans=[
            ScopeSpans(scope=lib, schema_url="s", spans=[span(1, 1), span(2, 1), span(1, 2, attrs={"k": "v" * 300})]),
            ScopeSpans(scope=other, spans=[span(1, 3)]),
        ]),
    ])
    second = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=res, scope_spans=[ScopeSpans(scope=lib, spans=[span(1, 4)])])])
    held = group_by_trace(first)
    group_by_trace(second, held)
    t = held[(1).to_bytes(16, "big")]
    otelcol_holds = TracesData(resource_spans=[
        ResourceSpans(resource=res, scope_spans=[ScopeSpans(scope=lib, spans=[span(1, 1), span(1, 2, attrs={"k": "v" * 300})]), ScopeSpans(scope=other, spans=[span(1, 3)])]),
        ResourceSpans(resource=res, scope_spans=[ScopeSpans(scope=lib, spans=[span(1, 4)])]),
    ])
    assert t.batches_size() == otelcol_holds.ByteSize()
    size = otelcol_holds.ByteSize()
    policy = "- {{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: 1, burst_capacity: {0}}}}}"
    assert sampler(policy.format(size)).decide(t).sampled  # the bucket holds exactly the trace
    assert not sampler(policy.format(size - 1)).decide(t).sampled
    assert sampler(policy.format(size)).facts == BATCH_BYTES  # gathered at intake only for this policy


@pytest.mark.parametrize("slack,dropped", [(0, False), (-1, True)])
def test_maximum_trace_size_is_otelcols_size_bytes(slack: int, dropped: bool) -> None:
    # processor.go processTrace: SizeBytes += ResourceSpansSize of each arrived chunk of the trace; a trace
    # with SizeBytes > maximum_trace_size_bytes is not sampled at once.
    import asyncio

    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope

    from collector.envelope import Envelope
    from collector.testing import Sink, build_processor

    res, lib = Resource(attributes=[kv("service.name", "a")]), InstrumentationScope(name="lib")
    chunk = ResourceSpans(resource=res, scope_spans=[ScopeSpans(scope=lib, spans=[span(1, 1, attrs={"k": "v" * 50})])])
    limit = 2 * chunk.ByteSize() + slack
    cfg, errors = decode(f"decision_wait: 1h\nmaximum_trace_size_bytes: {limit}\npolicies: [{{name: all, type: always_sample}}]")
    assert not errors

    async def run() -> Any:
        p = build_processor("tail_sampling", cfg, Sink())
        for _ in range(2):
            await p.consume(Envelope(Signal.TRACES, ExportTraceServiceRequest(resource_spans=[chunk])))
        return p

    p = asyncio.run(run())
    assert p.m_too_large.value == (1 if dropped else 0)


# ------------------------------------------------------------------------------------------------
# The final decision over the policies: processor.go makeDecision
# ------------------------------------------------------------------------------------------------


def test_invert_match_vetoes_nothing() -> None:
    # processor.go makeDecision + util.go with the disableinvertdecisions gate gone (PR #48976): the inverted
    # numeric policy votes NotSampled on a 503, always_sample votes Sampled, and Sampled wins. (Before
    # PR #44132, with the gate off, InvertNotSampled vetoed the trace.)
    policies = "- {name: all, type: always_sample}\n" + NUM_5XX[:-2] + ", invert_match: true}}"
    d = sampler(policies).decide(trace(span(1, 1, attrs={"http.status_code": 503})))
    assert d.votes == {"all": "sampled", "n": "not_sampled"} and d.sampled and d.policy == "all"
    # ...and an inverted match that samples does not lose to another policy's NotSampled.
    d = sampler(NUM_5XX[:-2] + ", invert_match: true}}\n- {name: e, type: status_code, status_code: {status_codes: [ERROR]}}").decide(
        trace(span(2, 1, attrs={"http.status_code": 200}))
    )
    assert d.votes == {"n": "sampled", "e": "not_sampled"} and d.sampled and d.policy == "n"


def test_drop_policies_run_first_and_win() -> None:
    # processor.go loadSamplingPolicies puts drop policies first; makeDecision breaks at Dropped, and Dropped
    # takes precedence over any Sampled.
    s = sampler("- {name: a, type: always_sample}\n- {name: d, type: drop, drop: {drop_sub_policy: [{name: x, type: always_sample}]}}")
    d = s.decide(trace(span(1, 1)))
    assert not d.sampled and d.policy == "d" and d.votes == {"d": "dropped"}


def test_every_policy_is_evaluated_unless_sample_on_first_match() -> None:
    # processor.go makeDecision: all policies vote (a rate_limiting after always_sample still takes its
    # tokens); with sample_on_first_match the loop breaks at the first Sampled.
    policies = "- {name: a, type: always_sample}\n- {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 1, burst_capacity: 1}}"
    every, first = sampler(policies), sampler(policies, sample_on_first_match=True)
    assert every.decide(trace(span(1, 1))).votes == {"a": "sampled", "r": "sampled"}
    assert every.decide(trace(span(2, 1))).votes == {"a": "sampled", "r": "not_sampled"}  # the token is spent
    assert first.decide(trace(span(1, 1))).votes == {"a": "sampled"}


def test_no_sample_vote_is_not_sampled_and_the_first_sampler_is_recorded() -> None:
    # processor.go makeDecision: finalDecision starts NotSampled; sampledPolicy is the first Sampled.
    s = sampler("- {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n- {name: a, type: always_sample}\n- {name: b, type: always_sample}")
    assert s.decide(trace(span(1, 1))).policy == "a"
    assert not sampler("- {name: e, type: status_code, status_code: {status_codes: [ERROR]}}").decide(trace(span(1, 1))).sampled


# ------------------------------------------------------------------------------------------------
# composite: composite.go Evaluate, composite_helper.go getRateAllocationMap
# ------------------------------------------------------------------------------------------------


def composite(body: str) -> Sampler:
    s = sampler("- name: c\n  type: composite\n  composite:\n" + "".join(f"    {line}\n" for line in body.strip().splitlines()))
    s.others[0].clock = lambda: 5.0  # type: ignore[attr-defined]
    return s


def spans(tid: int, n: int, status: int = 0) -> TraceData:
    return trace(*(span(tid, i, status=status) for i in range(1, n + 1)))


def test_composite_first_sampling_sub_policy_decides() -> None:
    # composite.go Evaluate: the first sub-policy that samples decides; over its share the trace is
    # NotSampled, not offered to `everything`.
    s = composite("""
max_total_spans_per_second: 10
composite_sub_policy:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: everything, type: always_sample}
rate_allocation: [{policy: errors, percent: 10}, {policy: everything, percent: 90}]
""")
    assert not s.decide(spans(1, 2, ERR)).sampled  # errors' share is 1 span/s
    assert s.decide(spans(2, 2)).sampled  # everything's 9


def test_composite_ignores_policy_order() -> None:
    # composite_helper.go getNewCompositePolicy: sub-policies in composite_sub_policy order; PolicyOrder is
    # never read.
    s = composite("""
max_total_spans_per_second: 10
policy_order: [everything, errors]
composite_sub_policy:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: everything, type: always_sample}
rate_allocation: [{policy: errors, percent: 10}, {policy: everything, percent: 90}]
""")
    assert not s.decide(spans(1, 2, ERR)).sampled  # errors still first


def test_composite_without_rate_allocation_samples_nothing() -> None:
    # composite_helper.go getRateAllocationMap: only listed policies get spans per second; the others 0.
    s = composite("""
max_total_spans_per_second: 100
composite_sub_policy:
  - {name: everything, type: always_sample}
""")
    assert not s.decide(spans(1, 1)).sampled


def test_composite_percent_0_is_an_equal_share_and_counts_are_per_sub_policy() -> None:
    # getRateAllocationMap: percent 0 = max_total / number of sub-policies; composite.go Evaluate checks each
    # sub-policy's own count against its share and max_total_spans_per_second (no shared total).
    s = composite("""
max_total_spans_per_second: 10
composite_sub_policy:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: everything, type: always_sample}
rate_allocation: [{policy: errors, percent: 100}, {policy: everything, percent: 0}]
""")
    assert s.decide(spans(1, 10, ERR)).sampled  # errors: 10 of 10
    assert s.decide(spans(2, 5)).sampled  # everything: 5 of 5, though 15 > 10 together
    assert not s.decide(spans(3, 1)).sampled


def test_composite_counts_restart_each_second() -> None:
    # composite.go Evaluate: counters reset when the unix second changes.
    s = composite("""
max_total_spans_per_second: 2
composite_sub_policy: [{name: everything, type: always_sample}]
rate_allocation: [{policy: everything, percent: 100}]
""")
    clock = [5.0]
    s.others[0].clock = lambda: clock[0]  # type: ignore[attr-defined]
    assert s.decide(spans(1, 2)).sampled and not s.decide(spans(2, 1)).sampled
    clock[0] = 6.2
    assert s.decide(spans(3, 2)).sampled


# ------------------------------------------------------------------------------------------------
# Config: config.go (PolicyCfg / CompositeSubPolicyCfg / AndSubPolicyCfg)
# ------------------------------------------------------------------------------------------------

CONFIG_CASES = [
    ("and-in-and", "config.go AndSubPolicyCfg: no `and` block or type",
     "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: and, and: {and_sub_policy: [{name: c, type: always_sample}]}}]}}]",
     'unknown policy type "and" in an and_sub_policy'),
    ("composite-in-composite", "config.go CompositeSubPolicyCfg: shared types and `and` only",
     "policies: [{name: a, type: composite, composite: {max_total_spans_per_second: 1, composite_sub_policy: [{name: b, type: drop}]}}]",
     'unknown policy type "drop" in a composite_sub_policy'),
    ("not-in-drop", "config.go: drop_sub_policy is []AndSubPolicyCfg",
     "policies: [{name: a, type: drop, drop: {drop_sub_policy: [{name: b, type: not}]}}]", 'unknown policy type "not" in an and_sub_policy'),
    ("foreign-block-checked", "config.go PolicyCfg: another type's block is decoded (mapstructure ErrorUnused), so its keys are checked",
     "policies: [{name: a, type: always_sample, latency: {treshold_ms: 5}}]", 'did you mean "threshold_ms"'),
    ("block-not-at-level", "config.go AndSubPolicyCfg has no `composite` field: an invalid key there",
     "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: always_sample, composite: {}}]}}]", "unknown key"),
    ("numeric-both-zero", "processor.go getSharedPolicyEvaluator / testdata numeric_attribute_without_minvalue_or_maxvalue.yaml",
     "policies: [{name: a, type: numeric_attribute, numeric_attribute: {key: k, min_value: 0, max_value: 0}}]", "set min_value and/or max_value"),
]


@pytest.mark.parametrize("case_id,citation,yaml_text,message", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_as_otelcol(case_id: str, citation: str, yaml_text: str, message: str) -> None:
    _, errors = decode(yaml_text)
    assert any(message in e for e in errors), (citation, errors)


def test_config_accepts_what_otelcol_accepts() -> None:
    # config.go PolicyCfg: a block per type, so another type's settings next to the policy's own are no
    # error; `and` inside a composite sub-policy is allowed (CompositeSubPolicyCfg.AndCfg).
    _, errors = decode(
        "policies:\n"
        "- {name: a, type: always_sample, latency: {threshold_ms: 5}}\n"
        "- {name: c, type: composite, composite: {max_total_spans_per_second: 5, policy_order: [nope],"
        " composite_sub_policy: [{name: x, type: and, and: {and_sub_policy: [{name: y, type: trace_flags}]}}],"
        " rate_allocation: [{policy: x, percent: 100}]}}\n"
    )
    assert errors == []


# ------------------------------------------------------------------------------------------------
# The daemon with contrib's testdata config (tests/fixtures/otelcol/tail_sampling_config.yaml)
# ------------------------------------------------------------------------------------------------

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def daemon_config(tail_sampling_yaml: str) -> str:
    """A daemon config whose processors section is `tail_sampling_yaml` (a `tail_sampling:` mapping)."""
    processors = "".join(f"  {line}\n" for line in tail_sampling_yaml.splitlines() if not line.startswith("#"))
    return daemon_yaml(
        """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
"""
        + processors.replace("{", "{{").replace("}", "}}")
        + """
exporters:
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""",
        "traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file/traces]}}",
    )


def without_ottl(text: str) -> str:
    doc = yaml.safe_load(text)
    doc["tail_sampling"]["policies"] = [p for p in doc["tail_sampling"]["policies"] if p["type"] != "ottl_condition"]
    return yaml.safe_dump(doc, sort_keys=False)


def send(daemon: Any, r: ExportTraceServiceRequest) -> None:
    with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
        channel.unary_unary(EXPORT)(r.SerializeToString(), timeout=10)


def exported_traces(daemon: Any) -> dict[int, int]:
    """Trace id -> spans of it in the file exporter's output."""
    path = daemon.data / "traces.jsonl"
    out: dict[int, int] = {}
    for line in path.read_bytes().splitlines() if path.exists() else []:
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    tid = int.from_bytes(s.trace_id, "big")
                    out[tid] = out.get(tid, 0) + 1
    return out


def test_contrib_testdata_config_loads_whole(tmp_path: Path) -> None:
    # Every type of contrib's TestLoadConfig config is implemented, ottl_condition included
    # (test_tail_sampling_ottl.py has its behaviour).
    path = tmp_path / "c.yaml"
    path.write_text(daemon_config(FIXTURE.read_text()).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    from collector.component import ComponentID, Kind

    tail = load_config([str(path)]).component(Kind.PROCESSOR, ComponentID("tail_sampling")).config
    (ottl,) = [p.settings for p in tail.policies if p.type == "ottl_condition"]
    assert (ottl.error_mode, len(ottl.span), len(ottl.spanevent)) == ("ignore", 2, 2)


def test_contrib_testdata_config_loads_as_otelcol_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(daemon_config(without_ottl(FIXTURE.read_text())).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    from collector.component import ComponentID, Kind

    tail = load_config([str(path)]).component(Kind.PROCESSOR, ComponentID("tail_sampling")).config
    assert (tail.decision_wait, tail.num_traces, len(tail.policies)) == (10.0, 100, 12)
    comp = tail.policies[-1].settings
    assert [p.name for p in comp.composite_sub_policy] == ["test-composite-policy-1", "test-composite-policy-2", "test-composite-policy-3"]
    shares = [share for _, share in Sampler(tail.policies).others[-1].subs]  # type: ignore[attr-defined]
    assert shares == [500, 250, 0]  # getRateAllocationMap: test-composite-policy-3 is not in rate_allocation


@pytest.mark.slow
def test_daemon_with_contrib_testdata_config(daemon_factory: Any) -> None:
    # The config with ottl_condition taken out, otherwise as contrib has it: always_sample (test-policy-1)
    # samples every trace and no drop policy vetoes, so every trace reaches the file exporter whole, while
    # num_traces: 100 evicts the oldest pending ones beyond 100 before their decision (decision_wait 10s; the
    # daemon's shutdown decides the rest).
    daemon = daemon_factory(daemon_config(without_ottl(FIXTURE.read_text())))
    kinds = [
        lambda t: [span(t, 1, status=ERR), span(t, 2)],
        lambda t: [span(t, 1, attrs={"key1": 70})],
        lambda t: [span(t, 1, attrs={"key2": "value1"}, trace_state="key3=value2")],
        lambda t: [span(t, 1, end=6000 * MS)],
        lambda t: [span(t, 1, attrs={"key4": False})],
    ]
    for batch in range(0, 110, 10):
        send(daemon, req([s for t in range(batch + 1, batch + 11) for s in kinds[t % len(kinds)](t)]))
    assert daemon.metric("otelcol_processor_tail_sampling_sampling_trace_dropped_too_early") == 10
    assert daemon.stop() == 0
    got = exported_traces(daemon)
    assert sorted(got) == list(range(11, 111))
    assert all(got[t] == len(kinds[t % len(kinds)](t)) for t in got)


OTELCOL_RULES = """
tail_sampling:
  decision_wait: 1h
  policies:
    - {name: health, type: drop, drop: {drop_sub_policy: [{name: h, type: string_attribute, string_attribute: {key: url.path, values: [/health]}}]}}
    - {name: slow, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}
    - {name: not-5xx, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599, invert_match: true}}
    - name: budget
      type: composite
      composite:
        max_total_spans_per_second: 1000
        composite_sub_policy:
          - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
          - {name: free, type: string_attribute, string_attribute: {key: tier, values: [free]}}
        rate_allocation: [{policy: errors, percent: 50}, {policy: free, percent: 50}]
"""


@pytest.mark.slow
def test_daemon_decides_by_otelcols_rules(daemon_factory: Any) -> None:
    # Real traces over OTLP through the daemon; the ones reaching the file exporter are those otelcol keeps.
    # Every span is a 503 unless said otherwise, so the inverted numeric policy samples none of them.
    daemon = daemon_factory(daemon_config(OTELCOL_RULES))

    def s(tid: int, sid: int, **kw: Any) -> Span:
        attrs = {"http.status_code": 503, **kw.pop("attrs", {})}
        return span(tid, sid, attrs=attrs, **kw)

    send(daemon, req([
        s(1, 1, end=150 * MS),  # slow: 100 < 150 <= 200
        s(2, 1, end=100 * MS),  # 100 ms is not above 100: nothing samples it
        s(3, 1, end=150 * MS, attrs={"url.path": "/health"}),  # slow, but the drop policy wins
        s(4, 1, attrs={"http.status_code": double(503.0)}),  # a double reads as 0, not a 5xx: not-5xx samples it
        s(5, 1, end=150 * MS), s(5, 2, end=1000 * MS),  # 1 s in all, but 150 ms after its first span: slow
    ]))
    send(daemon, req([s(6, i, status=ERR, attrs={"tier": "free"}) for i in range(1, 600)]))  # errors decides: over its 500, not sampled
    send(daemon, req([s(7, i, status=ERR) for i in range(1, 11)]))  # errors, within its share
    send(daemon, req([s(8, 1, attrs={"tier": "free"})]))  # free
    time.sleep(0.2)
    assert daemon.stop() == 0
    assert sorted(exported_traces(daemon)) == [1, 4, 5, 7, 8]
