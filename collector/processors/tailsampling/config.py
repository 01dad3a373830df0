"""tail_sampling's configuration: the processor's keys and every policy type's settings (otelcol's keys,
defaults and checks, plus the LLM policies).

`POLICY_TYPES` maps each policy `type` to its settings class: the decoder reads a policy's settings with
it, and policies/ has one policy class per type (the same names). Which types a policy may have depends on
where it sits, as in otelcol's config.go: any at the top of `policies`; under `composite` the shared types
and `and`; under `and`, `drop` and `not` the shared types only (`PolicyConfig`, `CompositeSubPolicyConfig`,
`SubPolicyConfig`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ...config import ByteSize, Duration, Invalid, option
from ..filter.config import Conditions

COST = "gen_ai.usage.cost"


@dataclass
class AlwaysSampleConfig:
    pass


@dataclass
class LatencyConfig:
    threshold_ms: int = option(0, "Sample traces lasting at least this long (earliest span start to latest span end, whole milliseconds).")
    upper_threshold_ms: int = option(
        0, "When set, sample traces lasting more than threshold_ms (strictly) and at most this long, checked as otelcol does after each span in arrival order."
    )

    def validate(self) -> None:
        if self.threshold_ms < 0 or self.upper_threshold_ms < 0:
            raise Invalid("thresholds must not be negative")
        if self.upper_threshold_ms and self.upper_threshold_ms < self.threshold_ms:
            raise Invalid(f"must be greater than or equal to threshold_ms ({self.threshold_ms})", "upper_threshold_ms")


@dataclass
class NumericAttributeConfig:
    key: str = option("", "Span or resource attribute to read.")
    min_value: int = option(0, "Lowest matching value (inclusive); 0 = no lower bound, as in otelcol.")
    max_value: int = option(0, "Highest matching value (inclusive); 0 = no upper bound, as in otelcol.")
    invert_match: bool = option(False, "Sample traces where no span or resource matches (otelcol's current invert_match: the plain negation, no veto).")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')
        if not self.min_value and not self.max_value:
            raise Invalid("set min_value and/or max_value (otelcol reads 0 as not set)")
        if self.min_value and self.max_value and self.max_value < self.min_value:
            raise Invalid(f"must be greater than or equal to min_value ({self.min_value})", "max_value")


@dataclass
class ProbabilisticConfig:
    sampling_percentage: float = option(0.0, "Percentage of traces sampled, deterministic on the trace id.")
    hash_salt: str = option("", "Salt of the trace id hash; use the same value on collectors that must agree.")

    def validate(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise Invalid("must be between 0 and 100", "sampling_percentage")


STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}


@dataclass
class StatusCodeConfig:
    status_codes: list[str] = option(factory=list, doc="Sample traces with a span whose status is one of these: OK, ERROR, UNSET.")

    def validate(self) -> None:
        if not self.status_codes:
            raise Invalid("must list at least one status code", "status_codes")
        for i, code in enumerate(self.status_codes):
            if code not in STATUS_CODES:
                raise Invalid(f'unknown status code "{code}" (valid: OK, ERROR, UNSET)', ("status_codes", i))


@dataclass
class StringAttributeConfig:
    key: str = option("", "Span or resource attribute to read.")
    values: list[str] = option(factory=list, doc="Matching values (regular expressions with enabled_regex_matching).")
    enabled_regex_matching: bool = option(False, "Treat values as regular expressions.")
    cache_max_size: int = option(0, "Accepted for otelcol compatibility (regex results are not cached).")
    invert_match: bool = option(False, "Sample traces where no span or resource matches (otelcol's current invert_match: the plain negation, no veto).")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')
        if self.enabled_regex_matching:
            for i, v in enumerate(self.values):
                try:
                    re.compile(v)
                except re.error as exc:
                    raise Invalid(f"invalid regular expression: {exc}", ("values", i)) from None


@dataclass
class RateLimitingConfig:
    spans_per_second: int = option(0, "Token bucket rate in spans per second of sampled traces (otelcol's current rate_limiting).")
    burst_capacity: int = option(0, "Bucket size in spans; 0 = 2 x spans_per_second. A trace with more spans than this is never sampled.")

    def validate(self) -> None:
        if self.spans_per_second <= 0:
            raise Invalid("must be greater than 0", "spans_per_second")
        if self.burst_capacity < 0:
            raise Invalid("must not be negative", "burst_capacity")


@dataclass
class BytesLimitingConfig:
    bytes_per_second: int = option(0, "Token bucket rate in bytes per second of sampled spans.")
    burst_capacity: int = option(0, "Bucket size; 0 = 2 x bytes_per_second.")

    def validate(self) -> None:
        if self.bytes_per_second <= 0:
            raise Invalid("must be greater than 0", "bytes_per_second")


@dataclass
class SpanCountConfig:
    min_spans: int = option(0, "Sample traces with at least this many spans.")
    max_spans: int = option(0, "...and at most this many; 0 = no upper bound.")

    def validate(self) -> None:
        if self.max_spans and self.max_spans < self.min_spans:
            raise Invalid(f"must be 0 or greater than or equal to min_spans ({self.min_spans})", "max_spans")


@dataclass
class TraceStateConfig:
    key: str = option("", "W3C tracestate key.")
    values: list[str] = option(factory=list, doc="Matching values.")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')


@dataclass
class BooleanAttributeConfig:
    key: str = option("", "Span or resource attribute to read.")
    value: bool = option(False, "Matching value.")
    invert_match: bool = option(False, "Sample traces where no span or resource matches (otelcol's current invert_match: the plain negation, no veto).")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')


@dataclass
class TraceFlagsConfig:
    pass


@dataclass
class OTTLConditionConfig:
    error_mode: Literal["ignore", "silent", "propagate"] = option(
        "silent",
        "What a condition that fails to evaluate does: propagate (the policy errs and casts no vote on the trace), ignore (log it, the condition is false),"
        " silent (the condition is false). Unset, otelcol's zero error mode, acts as silent.",
    )
    span: Conditions = option(factory=Conditions, doc="OTTL conditions in the span context: the trace is sampled when any holds for any of its spans.")
    spanevent: Conditions = option(factory=Conditions, doc="OTTL conditions in the spanevent context: ...or for any event of its spans.")

    def validate(self) -> None:
        if not self.span and not self.spanevent:
            raise Invalid("expected at least one OTTL condition to filter on")


@dataclass
class AndConfig:
    and_sub_policy: list[SubPolicyConfig] = option(factory=list, doc="Samples when every sub-policy samples.")

    def validate(self) -> None:
        if not self.and_sub_policy:
            raise Invalid("must list at least one policy", "and_sub_policy")


@dataclass
class DropConfig:
    drop_sub_policy: list[SubPolicyConfig] = option(factory=list, doc="Drops the trace (overriding every sample vote) when every sub-policy matches.")

    def validate(self) -> None:
        if not self.drop_sub_policy:
            raise Invalid("must list at least one policy", "drop_sub_policy")


@dataclass
class NotConfig:
    not_sub_policy: SubPolicyConfig | None = option(None, "The one policy whose vote is reversed: sampled becomes not sampled and back.")

    def validate(self) -> None:
        if self.not_sub_policy is None:
            raise Invalid('missing required key "not_sub_policy"')


@dataclass
class RateAllocationConfig:
    policy: str = option("", "Name of a composite sub-policy.")
    percent: int = option(0, "Share of max_total_spans_per_second it may use; 0 = an equal share (max_total_spans_per_second / number of sub-policies).")


@dataclass
class CompositeConfig:
    max_total_spans_per_second: int = option(0, "Cap on the spans per second any one sub-policy may sample (otelcol checks each sub-policy's own count against it).")
    policy_order: list[str] = option(factory=list, doc="Accepted as otelcol does, which ignores it: sub-policies are evaluated in composite_sub_policy order.")
    composite_sub_policy: list[CompositeSubPolicyConfig] = option(factory=list, doc="The sub-policies, evaluated in this order; the first that samples decides.")
    rate_allocation: list[RateAllocationConfig] = option(
        factory=list, doc="Spans per second per sub-policy. A sub-policy not listed here gets none, so without rate_allocation the composite samples nothing (as in otelcol)."
    )

    def validate(self) -> None:
        if self.max_total_spans_per_second <= 0:
            raise Invalid("must be greater than 0", "max_total_spans_per_second")
        names = {p.name for p in self.composite_sub_policy}
        for i, alloc in enumerate(self.rate_allocation):
            if alloc.policy not in names:
                raise Invalid(f'no composite_sub_policy named "{alloc.policy}"', ("rate_allocation", i, "policy"))
        if sum(a.percent for a in self.rate_allocation) > 100:
            raise Invalid("percentages add up to more than 100", "rate_allocation")


@dataclass
class LLMCostConfig:
    min_usd: float = option(0.0, f"Sample traces whose spans' `{COST}` add up to at least this.")


@dataclass
class LLMTokensConfig:
    min_tokens: int = option(0, "Sample traces whose LLM calls used at least this many input + output tokens.")


@dataclass
class LLMModelConfig:
    models: list[str] = option(factory=list, doc="Sample traces with an LLM call to one of these models (response model, else request model).")
    providers: list[str] = option(factory=list, doc="...or to one of these providers (normalised, e.g. openai, anthropic).")
    enabled_regex_matching: bool = option(False, "Treat models and providers as regular expressions.")
    invert_match: bool = option(False, "Sample traces where no LLM call matches (the plain negation, as otelcol's invert_match).")

    def validate(self) -> None:
        if not self.models and not self.providers:
            raise Invalid("set models and/or providers")
        if self.enabled_regex_matching:
            for field in ("models", "providers"):
                for i, v in enumerate(getattr(self, field)):
                    try:
                        re.compile(v)
                    except re.error as exc:
                        raise Invalid(f"invalid regular expression: {exc}", (field, i)) from None


@dataclass
class LLMErrorConfig:
    finish_reasons: list[str] = option(factory=lambda: ["content_filter", "length", "refusal"], doc="Finish reasons that count as a failed generation (besides an ERROR status).")


POLICY_TYPES: dict[str, type] = {
    "always_sample": AlwaysSampleConfig,
    "latency": LatencyConfig,
    "numeric_attribute": NumericAttributeConfig,
    "probabilistic": ProbabilisticConfig,
    "status_code": StatusCodeConfig,
    "string_attribute": StringAttributeConfig,
    "rate_limiting": RateLimitingConfig,
    "bytes_limiting": BytesLimitingConfig,
    "span_count": SpanCountConfig,
    "trace_state": TraceStateConfig,
    "boolean_attribute": BooleanAttributeConfig,
    "ottl_condition": OTTLConditionConfig,
    "trace_flags": TraceFlagsConfig,
    "and": AndConfig,
    "drop": DropConfig,
    "not": NotConfig,
    "composite": CompositeConfig,
    "llm_cost": LLMCostConfig,
    "llm_tokens": LLMTokensConfig,
    "llm_model": LLMModelConfig,
    "llm_error": LLMErrorConfig,
}
# The types that combine other policies, and where otelcol allows them (config.go: PolicyCfg has every
# type's block, CompositeSubPolicyCfg the shared ones and `and`, AndSubPolicyCfg (also used by drop and
# not) the shared ones only).
COMBINING = ("and", "drop", "not", "composite")
SHARED_TYPES = tuple(t for t in POLICY_TYPES if t not in COMBINING)


@dataclass
class PolicyConfig:
    name: str = option("", "Policy name (label of count_traces_sampled and value of tailsampling.policy).")
    type: str = option("", "A policy type (below, each with where it is allowed).")
    settings: Any = option(None, "The settings of the policy type, under a key named like the type (e.g. `latency: {threshold_ms: 5000}`).", key="<type>")

    # The policy types allowed at this level (a settings block is a valid key for each of them), and the
    # level's name for an error.
    TYPES: ClassVar[tuple[str, ...]] = tuple(POLICY_TYPES)
    LEVEL: ClassVar[str] = ""

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> PolicyConfig:
        if not isinstance(value, dict):
            decoder.error(path, "expected a policy mapping with name, type and the type's settings")
            return cls()
        name = value.get("name")
        type_ = value.get("type")
        if not isinstance(name, str) or not name:
            decoder.error(path, 'missing required key "name"' if name is None else "name: expected a non-empty string")
            name = ""
        if not isinstance(type_, str):
            decoder.error(path, 'missing required key "type"' if type_ is None else "type: expected a string")
            return cls(name=name)
        types = cls.TYPES
        for key in value:
            # otelcol's policy struct has a settings block per type allowed at its level: the blocks of the
            # other types are decoded (and checked) too, but only the policy's own type is used.
            if key in ("name", "type", type_):
                continue
            if key in types:
                decoder.decode(POLICY_TYPES[key], value[key], path + (key,))
            else:
                decoder.error(path + (key,), f"unknown key (valid keys: name, type and the settings of {', '.join(types)})")
        if type_ not in types:
            where = f" {cls.LEVEL}" if type_ in POLICY_TYPES else ""
            decoder.error(path + ("type",), f'unknown policy type "{type_}"{where} (valid types: {", ".join(types)})')
            return cls(name=name, type=type_)
        settings = decoder.decode(POLICY_TYPES[type_], value.get(type_), path + (type_,))
        return cls(name=name, type=type_, settings=settings)


@dataclass
class CompositeSubPolicyConfig(PolicyConfig):
    """A composite sub-policy: of a shared type or `and`."""

    TYPES: ClassVar[tuple[str, ...]] = (*SHARED_TYPES, "and")
    LEVEL: ClassVar[str] = "in a composite_sub_policy"


@dataclass
class SubPolicyConfig(PolicyConfig):
    """An and, drop or not sub-policy: of a shared type, not a combining one."""

    TYPES: ClassVar[tuple[str, ...]] = SHARED_TYPES
    LEVEL: ClassVar[str] = "in an and_sub_policy, drop_sub_policy or not_sub_policy"


@dataclass
class DecisionCacheConfig:
    sampled_cache_size: int = option(0, "Trace ids whose sample decision is remembered after they leave the buffer; 0 = off.")
    non_sampled_cache_size: int = option(0, "Trace ids whose not-sampled decision is remembered; 0 = off.")

    def validate(self) -> None:
        if self.sampled_cache_size < 0 or self.non_sampled_cache_size < 0:
            raise Invalid("cache sizes must not be negative")


@dataclass
class TailSamplingConfig:
    decision_wait: Duration = option(Duration(30.0), "Time from a trace's first span to its sampling decision.")
    num_traces: int = option(50000, "Trace ids held in memory (pending or decided); beyond it the oldest is evicted.")
    expected_new_traces_per_sec: int = option(0, "Accepted for otelcol compatibility (a sizing hint).")
    sample_on_first_match: bool = option(False, "Stop evaluating at the first policy that samples (drop policies always run first).")
    decision_cache: DecisionCacheConfig = option(factory=DecisionCacheConfig, doc="Remembers decisions so late spans follow them.")
    policies: list[PolicyConfig] = option(factory=list, doc="Sampling policies: `- {name, type, <type>: {...}}`.")
    record_policy: bool = option(False, "Add `tailsampling.policy` (the first sampling policy) to sampled spans.")
    rollup: bool = option(False, "Write the trace's total `gen_ai.trace.cost`, `gen_ai.trace.input_tokens` and `gen_ai.trace.output_tokens` onto its root span before release.")
    decide_on_shutdown: bool = option(True, "Decide every pending trace at shutdown instead of dropping it.")
    decision_wait_after_root_received: Duration = option(Duration(0.0), "When set, decide a trace this long after its root span (no parent) arrives, if that is sooner than decision_wait.")
    max_buffered_bytes: ByteSize = option(
        ByteSize(0), "Bound on the serialized bytes of pending spans; beyond it the oldest pending trace is evicted (or, with block_on_overflow, data refused). 0 = no bound."
    )
    maximum_trace_size_bytes: ByteSize = option(
        ByteSize(0),
        "A trace whose size, as otelcol counts it (the protobuf size of each ResourceSpans it arrived in, with its resource and its spans of the trace), exceeds this is dropped at once"
        " (not sampled, remembered), so one runaway trace cannot starve the rest. 0 = no limit.",
    )
    block_on_overflow: bool = option(False, "When num_traces pending traces (or max_buffered_bytes) are held, refuse new data with a retryable error instead of evicting the oldest trace.")

    def validate(self) -> None:
        if self.decision_wait <= 0:
            raise Invalid("must be greater than 0", "decision_wait")
        if self.decision_wait_after_root_received < 0:
            raise Invalid("must not be negative", "decision_wait_after_root_received")
        if self.num_traces <= 0:
            raise Invalid("must be greater than 0", "num_traces")
        names: set[str] = set()
        for i, p in enumerate(self.policies):
            if p.name in names:
                raise Invalid(f'duplicate policy name "{p.name}"', ("policies", i, "name"))
            names.add(p.name)
