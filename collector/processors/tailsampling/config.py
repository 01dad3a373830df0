"""tail_sampling's configuration: the processor's keys and every policy type's settings (otelcol's keys,
defaults and checks, plus the LLM policies).

`POLICY_TYPES` maps each policy `type` to its settings class: the decoder reads a policy's settings with
it, and policies/ has one policy class per type (the same names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...config import ByteSize, Duration, Invalid, option

COST = "gen_ai.usage.cost"


@dataclass
class AlwaysSampleConfig:
    pass


@dataclass
class LatencyConfig:
    threshold_ms: int = option(0, "Sample traces lasting at least this long (earliest span start to latest span end).")
    upper_threshold_ms: int = option(0, "When set, sample only traces lasting at most this long.")

    def validate(self) -> None:
        if self.threshold_ms < 0 or self.upper_threshold_ms < 0:
            raise Invalid("thresholds must not be negative")
        if self.upper_threshold_ms and self.upper_threshold_ms < self.threshold_ms:
            raise Invalid(f"must be greater than or equal to threshold_ms ({self.threshold_ms})", "upper_threshold_ms")


@dataclass
class NumericAttributeConfig:
    key: str = option("", "Span or resource attribute to read.")
    min_value: int | None = option(None, "Lowest matching value (inclusive).")
    max_value: int | None = option(None, "Highest matching value (inclusive).")
    invert_match: bool = option(False, "Sample traces where no span matches.")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')
        if self.min_value is None and self.max_value is None:
            raise Invalid("set min_value and/or max_value")
        if self.min_value is not None and self.max_value is not None and self.max_value < self.min_value:
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
    invert_match: bool = option(False, "Sample traces where no span matches.")

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
    spans_per_second: int = option(0, "Sample whole traces while fewer than this many spans were sampled in the current second.")

    def validate(self) -> None:
        if self.spans_per_second <= 0:
            raise Invalid("must be greater than 0", "spans_per_second")


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
    invert_match: bool = option(False, "Sample traces where no span matches.")

    def validate(self) -> None:
        if not self.key:
            raise Invalid('missing required key "key"')


@dataclass
class AndConfig:
    and_sub_policy: list[PolicyConfig] = option(factory=list, doc="Samples when every sub-policy samples.")

    def validate(self) -> None:
        if not self.and_sub_policy:
            raise Invalid("must list at least one policy", "and_sub_policy")


@dataclass
class DropConfig:
    drop_sub_policy: list[PolicyConfig] = option(factory=list, doc="Drops the trace (overriding every sample vote) when every sub-policy matches.")

    def validate(self) -> None:
        if not self.drop_sub_policy:
            raise Invalid("must list at least one policy", "drop_sub_policy")


@dataclass
class RateAllocationConfig:
    policy: str = option("", "Name of a composite sub-policy.")
    percent: int = option(0, "Share of max_total_spans_per_second it may use.")


@dataclass
class CompositeConfig:
    max_total_spans_per_second: int = option(0, "Spans per second sampled by all sub-policies together.")
    policy_order: list[str] = option(factory=list, doc="Sub-policy names in evaluation order.")
    composite_sub_policy: list[PolicyConfig] = option(factory=list, doc="The sub-policies.")
    rate_allocation: list[RateAllocationConfig] = option(factory=list, doc="Share of the rate per sub-policy (otelcol: percent 0 = an equal share, unlisted = none); empty = equal shares.")

    def validate(self) -> None:
        if self.max_total_spans_per_second <= 0:
            raise Invalid("must be greater than 0", "max_total_spans_per_second")
        names = {p.name for p in self.composite_sub_policy}
        for i, name in enumerate(self.policy_order):
            if name not in names:
                raise Invalid(f'no composite_sub_policy named "{name}"', ("policy_order", i))
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
    invert_match: bool = option(False, "Sample traces where no LLM call matches.")

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
    "and": AndConfig,
    "drop": DropConfig,
    "composite": CompositeConfig,
    "llm_cost": LLMCostConfig,
    "llm_tokens": LLMTokensConfig,
    "llm_model": LLMModelConfig,
    "llm_error": LLMErrorConfig,
}
# Known to otelcol but not implemented here: a config error that says so.
UNSUPPORTED_TYPES = {"ottl_condition": "ottl_condition is not supported by llm-collector"}


@dataclass
class PolicyConfig:
    name: str = option("", "Policy name (label of count_traces_sampled and value of tailsampling.policy).")
    type: str = option("", f"One of: {', '.join(POLICY_TYPES)}.")
    settings: Any = option(None, "The settings of the policy type, under a key named like the type (e.g. `latency: {threshold_ms: 5000}`).", key="<type>")

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
        for key in value:
            # otelcol's policy struct has a key per type; settings of other types are accepted and ignored.
            if key not in ("name", "type") and key not in POLICY_TYPES and key not in UNSUPPORTED_TYPES:
                decoder.error(path + (key,), f"unknown key (valid keys: name, type, {type_})")
        if type_ in UNSUPPORTED_TYPES:
            decoder.error(path + ("type",), UNSUPPORTED_TYPES[type_])
            return cls(name=name, type=type_)
        config_class = POLICY_TYPES.get(type_)
        if config_class is None:
            decoder.error(path + ("type",), f'unknown policy type "{type_}" (valid types: {", ".join(POLICY_TYPES)})')
            return cls(name=name, type=type_)
        settings = decoder.decode(config_class, value.get(type_), path + (type_,))
        return cls(name=name, type=type_, settings=settings)


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
        ByteSize(0), "A trace whose pending spans exceed this is dropped at once (not sampled, remembered), so one runaway trace cannot starve the rest. 0 = no limit."
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
