"""tail_sampling's ottl_condition policy decides as otelcol-contrib's (processor/tailsamplingprocessor/internal/
sampling/ottl.go: NewOTTLConditionFilter, Evaluate; the condition lists are pkg/ottl ConditionSequences with
the Or logic, whose Eval follows error_mode): table cases citing the function each rule comes from, the
config checks, and the real daemon, with the GenAI cost the cost processor writes read by ordinary OTTL paths.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.config import ConfigErrors, load_config
from collector.processors.tailsampling import TraceData
from tests.conftest import daemon_yaml
from tests.processors.test_tail_sampling_otelcol import daemon_config, decode, exported_traces, req, sampler, send, span, trace


def with_event(s: Span, name: str = "test event", **attrs: Any) -> Span:
    from collector.testing import kv

    event = s.events.add()
    event.name = name
    event.attributes.extend(kv(k, v) for k, v in attrs.items())
    return s


def ottl(*, span: list[str] | None = None, spanevent: list[str] | None = None, error_mode: str | None = None) -> str:
    body = {"span": span, "spanevent": spanevent, "error_mode": error_mode}
    inner = ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: [{', '.join(repr(c) for c in v)}]" for k, v in body.items() if v is not None)
    return "{name: o, type: ottl_condition, ottl_condition: {" + inner + "}}"


K1 = 'attributes["attr_k_1"] == "attr_v_1"'
E1 = 'attributes["event_attr_k_1"] == "event_attr_v_1"'
FAILS = 'ParseJSON(attributes["body"])["a"] == 1'  # an error on a span whose body is not JSON
NOT_JSON = {"body": "not json"}

# (id, citation, policy yaml, trace, sampled)
CASES: list[tuple[str, str, str, TraceData, bool]] = [
    ("span-attribute", "ottl_test.go TestEvaluate_OTTL 'OTTL statement match specific span attributes'",
     "- " + ottl(span=[K1]), trace(span(1, 1, attrs={"attr_k_1": "attr_v_1"})), True),
    ("spanevent-attribute", "ottl_test.go TestEvaluate_OTTL 'OTTL statement match specific span event attributes'",
     "- " + ottl(spanevent=[E1]), trace(with_event(span(1, 1), event_attr_k_1="event_attr_v_1")), True),
    ("not-matched", "ottl_test.go TestEvaluate_OTTL 'OTTL statement not matched'",
     "- " + ottl(span=[K1], spanevent=[E1]), trace(with_event(span(1, 1, attrs={"attr_k_1": "other"}))), False),
    ("any-span", "ottl.go Evaluate: every span is tried; one match samples",
     "- " + ottl(span=[K1]), trace(span(1, 1), span(1, 2, attrs={"attr_k_1": "attr_v_1"})), True),
    ("any-condition", "ConditionSequence Eval with Or: any condition of the list",
     "- " + ottl(span=['name == "nope"', K1]), trace(span(1, 1, attrs={"attr_k_1": "attr_v_1"})), True),
    ("resource-path", "ottlspan context: resource.attributes are the span's resource",
     "- " + ottl(span=['resource.attributes["service.name"] == "checkout"']), trace(span(1, 1), resource={"service.name": "checkout"}), True),
    ("spanevent-sees-span", "ottlspanevent context: span.name is the event's span",
     "- " + ottl(spanevent=['span.name == "s2" and name == "retry"']), trace(with_event(span(1, 1), "retry"), with_event(span(1, 2), "retry")), True),
    ("spanevent-no-events", "ottl.go Evaluate: spanevent conditions only see events; a span without any is not matched",
     "- " + ottl(spanevent=["true"]), trace(span(1, 1)), False),
    ("propagate-errs", "ottl.go Evaluate: an error returns the Error decision: no vote, so nothing samples the trace",
     "- " + ottl(span=[FAILS], error_mode="propagate"), trace(span(1, 1, attrs=NOT_JSON)), False),
    ("propagate-stops-the-list", "ConditionSequence Eval, propagate: the first failing condition ends the list, the match after it is not reached",
     "- " + ottl(span=[FAILS, "true"], error_mode="propagate"), trace(span(1, 1, attrs=NOT_JSON)), False),
    ("propagate-match-first", "ottl.go Evaluate: a match on an earlier span samples before a later span's error",
     "- " + ottl(span=[K1 + " or " + FAILS], error_mode="propagate"), trace(span(1, 1, attrs={"attr_k_1": "attr_v_1"}), span(1, 2, attrs=NOT_JSON)), True),
    ("propagate-span-error-before-events", "ottl.go Evaluate: a span's error returns before its events are tried",
     "- " + ottl(span=[FAILS], spanevent=["true"], error_mode="propagate"), trace(with_event(span(1, 1, attrs=NOT_JSON))), False),
    ("ignore-goes-on", "ConditionSequence Eval, ignore: a failing condition is logged and the next is tried",
     "- " + ottl(span=[FAILS, "true"], error_mode="ignore"), trace(span(1, 1, attrs=NOT_JSON)), True),
    ("silent-goes-on", "ConditionSequence Eval, silent: as ignore without the log",
     "- " + ottl(span=[FAILS, "true"], error_mode="silent"), trace(span(1, 1, attrs=NOT_JSON)), True),
    ("unset-mode-goes-on", "ConditionSequence Eval: the zero ErrorMode is neither propagate nor ignore, so it goes on silently",
     "- " + ottl(span=[FAILS, "true"]), trace(span(1, 1, attrs=NOT_JSON)), True),
    ("error-leaves-other-votes", "processor.go makeDecision: an erring policy is skipped and the others still vote",
     "- " + ottl(span=[FAILS], error_mode="propagate") + "\n- {name: a, type: always_sample}", trace(span(1, 1, attrs=NOT_JSON)), True),
    ("in-and", "and.go Evaluate: sampled when every sub-policy samples, an ottl_condition among them",
     "- {name: a, type: and, and: {and_sub_policy: [{name: x, type: always_sample}, " + ottl(span=[K1]) + "]}}",
     trace(span(1, 1, attrs={"attr_k_1": "attr_v_1"})), True),
    ("in-and-unmatched", "and.go Evaluate: the ottl_condition's NotSampled makes the and NotSampled",
     "- {name: a, type: and, and: {and_sub_policy: [{name: x, type: always_sample}, " + ottl(span=[K1]) + "]}}", trace(span(1, 1)), False),
    ("in-not", "not.go Evaluate: NotSampled becomes Sampled",
     "- {name: n, type: not, not: {not_sub_policy: " + ottl(span=[K1]) + "}}", trace(span(1, 1)), True),
    ("in-not-error", "not.go Evaluate: the sub-policy's error is returned, not reversed: no vote",
     "- {name: n, type: not, not: {not_sub_policy: " + ottl(span=[FAILS], error_mode="propagate") + "}}", trace(span(1, 1, attrs=NOT_JSON)), False),
    ("in-drop", "drop.go Evaluate: Dropped when every sub-policy samples, overriding always_sample",
     "- {name: a, type: always_sample}\n- {name: d, type: drop, drop: {drop_sub_policy: [" + ottl(span=['attributes["url.path"] == "/health"']) + "]}}",
     trace(span(1, 1, attrs={"url.path": "/health"})), False),
    ("in-composite", "composite.go Evaluate: the first sampling sub-policy decides, within its allocation",
     "- {name: c, type: composite, composite: {max_total_spans_per_second: 100, composite_sub_policy: [" + ottl(span=[K1]) + "],"
     " rate_allocation: [{policy: o, percent: 100}]}}", trace(span(1, 1, attrs={"attr_k_1": "attr_v_1"})), True),
    ("in-composite-error", "composite.go Evaluate: a sub-policy's error is the composite's: no vote",
     "- {name: c, type: composite, composite: {max_total_spans_per_second: 100, composite_sub_policy: [" + ottl(span=[FAILS], error_mode="propagate")
     + ", {name: x, type: always_sample}], rate_allocation: [{policy: o, percent: 50}, {policy: x, percent: 50}]}}",
     trace(span(1, 1, attrs=NOT_JSON)), False),
]


@pytest.mark.parametrize("case_id,citation,policy,t,expected", CASES, ids=[c[0] for c in CASES])
def test_ottl_condition_decides_as_otelcol(case_id: str, citation: str, policy: str, t: TraceData, expected: bool) -> None:
    assert sampler(policy).decide(t).sampled is expected, citation


def test_an_erring_policy_casts_no_vote() -> None:
    # processor.go makeDecision: `continue` before the decision is counted (count_traces_sampled has no row).
    decision = sampler("- " + ottl(span=[FAILS], error_mode="propagate")).decide(trace(span(1, 1, attrs=NOT_JSON)))
    assert decision.votes == {}


CONFIG_CASES = [
    ("empty", "ottl.go NewOTTLConditionFilter: 'expected at least one OTTL condition to filter on'",
     "policies: [{name: a, type: ottl_condition, ottl_condition: {error_mode: ignore}}]", "expected at least one OTTL condition to filter on"),
    ("bad-mode", "ottl.ErrorMode UnmarshalText: ignore, silent or propagate",
     "policies: [{name: a, type: ottl_condition, ottl_condition: {error_mode: loud, span: ['true']}}]", "error_mode"),
    ("bad-condition", "filterottl.NewBoolExprForSpan: a condition that does not parse fails the policy's creation",
     "policies: [{name: a, type: ottl_condition, ottl_condition: {span: ['attributes[\"x\"] =']}}]", "policies[0].ottl_condition.span[0]"),
    ("unknown-path", "ottlspanevent: a path the context does not have",
     "policies: [{name: a, type: ottl_condition, ottl_condition: {spanevent: ['nope == 1']}}]", "policies[0].ottl_condition.spanevent[0]"),
    ("in-and-checked", "config.go AndSubPolicyCfg: the shared types, ottl_condition among them, are checked there too",
     "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: ottl_condition, ottl_condition: {span: ['name ==']}}]}}]",
     "and.and_sub_policy[0].ottl_condition.span[0]"),
]


@pytest.mark.parametrize("case_id,citation,yaml_text,message", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_as_otelcol(case_id: str, citation: str, yaml_text: str, message: str) -> None:
    _, errors = decode(yaml_text)
    assert any(message in e for e in errors), (citation, errors)


def test_a_bad_condition_is_a_config_error_with_file_line_key_and_where(tmp_path: Path) -> None:
    block = ("tail_sampling:\n  decision_wait: 1s\n  policies:\n    - name: o\n      type: ottl_condition\n      ottl_condition:\n"
             "        span:\n          - 'name == \"a\" and attributes[\"x\"] >'\n")
    path = tmp_path / "c.yaml"
    path.write_text(daemon_config(block).format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    text = str(info.value)
    line = next(i for i, text_line in enumerate(path.read_text().splitlines(), 1) if "attributes[" in text_line)
    assert f"c.yaml:{line}:" in text and "policies[0].ottl_condition.span[0]" in text and "at column" in text, text


# ------------------------------------------------------------------------------------------------
# The real daemon
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_daemon_samples_by_ottl_condition(daemon_factory: Any) -> None:
    # contrib's testdata policy shape (error_mode ignore, span and spanevent lists), over OTLP/gRPC.
    block = """
tail_sampling:
  decision_wait: 200ms
  policies:
    - name: ottl
      type: ottl_condition
      ottl_condition:
        error_mode: ignore
        span:
          - 'attributes["llm.vendor"] == "openai" and ParseJSON(attributes["body"])["retry"] == true'
          - 'resource.attributes["service.name"] == "billing"'
        spanevent:
          - 'name == "exception" and attributes["exception.type"] == "RateLimitError"'
"""
    daemon = daemon_factory(daemon_config(block))
    send(daemon, req([span(1, 1, attrs={"llm.vendor": "openai", "body": '{"retry": true}'})]))  # matches
    send(daemon, req([span(2, 1, attrs={"llm.vendor": "openai", "body": "not json"})]))  # errs (ignored): no match
    send(daemon, req([span(3, 1)], resource={"service.name": "billing"}))  # the resource matches
    send(daemon, req([with_event(span(4, 1), "exception", **{"exception.type": "RateLimitError"})]))  # an event matches
    send(daemon, req([with_event(span(5, 1), "exception", **{"exception.type": "ValueError"})]))  # nothing
    time.sleep(0.6)
    assert daemon.stop() == 0
    assert sorted(exported_traces(daemon)) == [1, 3, 4]
    assert "failed to evaluate condition" in daemon.logs()


COST_CONFIG = daemon_yaml(
    """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  cost: {{}}
  filter/cheap:
    traces:
      span: ['attributes["gen_ai.usage.cost"] == nil or attributes["gen_ai.usage.cost"] <= 0.01']
  tail_sampling:
    decision_wait: 200ms
    policies:
      - {{name: pricey, type: ottl_condition, ottl_condition: {{span: ['attributes["gen_ai.usage.cost"] > 0.01']}}}}
exporters:
  file/filtered: {{path: "{data}/filtered.jsonl", flush_interval: 10ms}}
  file/traces: {{path: "{data}/traces.jsonl", flush_interval: 10ms}}
""",
    """
traces/filtered: {{receivers: [otlp], processors: [cost, filter/cheap], exporters: [file/filtered]}}
traces/sampled: {{receivers: [otlp], processors: [cost, tail_sampling], exporters: [file/traces]}}
""",
)


@pytest.mark.slow
def test_daemon_ottl_reads_the_cost_the_cost_processor_wrote(daemon_factory: Any) -> None:
    # The cost processor prices each LLM span (gpt-4o: $2.50 / $10 per million input / output tokens); the
    # filter after it and tail_sampling's ottl_condition read that cost as an ordinary attribute.
    from collector import otlpjson
    from collector.component import Signal

    daemon = daemon_factory(COST_CONFIG)

    def chat(tid: int, sid: int, inp: int, out: int) -> Span:
        return span(tid, sid, attrs={"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                                     "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out})

    send(daemon, req([chat(1, 1, 10_000, 1_000), span(1, 2)]))  # $0.035: expensive
    send(daemon, req([chat(2, 1, 100, 10), span(2, 2)]))  # $0.00035: cheap
    send(daemon, req([chat(3, 1, 1_000, 1_000)]))  # $0.0125: expensive
    time.sleep(0.6)
    assert daemon.stop() == 0
    filtered = []
    for line in (daemon.data / "filtered.jsonl").read_bytes().splitlines():
        for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    cost = {a.key: a.value for a in s.attributes}["gen_ai.usage.cost"].double_value
                    filtered.append((int.from_bytes(s.trace_id, "big"), round(cost, 5)))
    assert sorted(filtered) == [(1, 0.035), (3, 0.0125)]
    assert exported_traces(daemon) == {1: 2, 3: 1}  # whole traces: the plain span of trace 1 goes with it
