"""tail_sampling processor: otelcol's keys and semantics, plus LLM-aware policies.

Spans are buffered per trace id for `decision_wait`, then the trace is evaluated against `policies`
as a whole. Decision rule (otelcol): drop policies are evaluated first and any drop vote wins;
otherwise any sample vote samples the trace; otherwise it is not sampled. With
`sample_on_first_match` evaluation stops at the first policy that samples.

Sampled traces go downstream whole, in requests of up to ~256 KiB of held bytes (so releasing a decision
chunk adds little memory); the others are dropped and counted. The buffer holds at most `num_traces`
trace ids, pending and decided (decided ids keep only their decision, so late spans follow it while it is
held). When it is full, decided ids are forgotten first, then the oldest pending trace is evicted before
its decision and counted as `sampling_trace_dropped_too_early` (or, with `block_on_overflow`, new data is
refused with a retryable error). `max_buffered_bytes` bounds the serialized bytes of pending spans the
same way and `maximum_trace_size_bytes` drops a runaway trace on its own. `decision_cache` keeps
decisions longer than the buffer does.

The consume path only copies spans into their trace's buffer: the request is serialized once and cut
into spans by upb, and the few facts the policies need (start/end times, status codes) are read from the
spans the receiver parsed. A timer task decides the traces whose wait has expired, oldest first
(deadlines are in arrival order, so no scan over all traces), yielding to the event loop between chunks
so neither ingest nor decisions starve the other. Evaluation costs O(spans of the trace) and mostly
reads those facts or searches the held bytes, parsing only the spans an attribute policy must read. On
shutdown every pending trace is decided, so a clean stop loses nothing the policies would keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from .. import pdata
from ..component import Capabilities, Processor, Rejected, RetryableError, Signal
from ..config import ByteSize, Duration, Invalid, option
from ..envelope import Envelope
from ..genai.view import GenAIView
from ..registry import register

try:
    from ._wire_walks import attribute_values as _attribute_values_in_c
    from ._wire_walks import fnv1a64 as _fnv1a64_in_c
    from ._wire_walks import number_sum as _number_sum_in_c
except ImportError:  # built without a C compiler: the Python functions below do the same, slower
    _attribute_values_in_c = _fnv1a64_in_c = _number_sum_in_c = None

PREFIX = "otelcol_processor_tail_sampling_"
COST = "gen_ai.usage.cost"
DEFAULT_HASH_SALT = "default-hash-seed"

# Policy votes.
SAMPLED = "sampled"
NOT_SAMPLED = "not_sampled"
DROPPED = "dropped"


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------


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


_STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}


@dataclass
class StatusCodeConfig:
    status_codes: list[str] = option(factory=list, doc="Sample traces with a span whose status is one of these: OK, ERROR, UNSET.")

    def validate(self) -> None:
        if not self.status_codes:
            raise Invalid("must list at least one status code", "status_codes")
        for i, code in enumerate(self.status_codes):
            if code not in _STATUS_CODES:
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


@dataclass
class LLMRollupConfig:
    pass


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


# --------------------------------------------------------------------------------------------------
# Wire views: OTLP bytes read through message types of our own, so upb does in C what would otherwise
# be Python per span or per attribute.
# --------------------------------------------------------------------------------------------------


def _wire_views() -> tuple[Any, Any]:
    """(_RequestCut, _SpanAttributes).

    _RequestCut reads an ExportTraceServiceRequest with its resources, scopes and spans as `bytes`: the
    request cut at its field boundaries. _SpanAttributes reads a Span with only field 9, as
    map<string, bytes>: a KeyValue and a map entry are the same on the wire (key = 1, value = 2), so
    upb builds the key -> serialized AnyValue table and skips every other field. A map keeps the last
    of duplicate keys, so it is only read where the key occurs once."""
    pool = descriptor_pool.DescriptorPool()
    package = "llm_collector.tail_sampling"
    file = descriptor_pb2.FileDescriptorProto(name="llm_collector/tail_sampling_wire.proto", package=package, syntax="proto3")
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED

    def message(name: str, fields: list[tuple[str, int, int, int, str]], parent: Any = None) -> Any:
        m = (parent.nested_type if parent is not None else file.message_type).add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    message("ScopeSpansCut", [("scope", 1, field.TYPE_BYTES, optional, ""), ("spans", 2, field.TYPE_BYTES, repeated, "")])
    message("ResourceSpansCut", [("resource", 1, field.TYPE_BYTES, optional, ""), ("scope_spans", 2, field.TYPE_MESSAGE, repeated, f".{package}.ScopeSpansCut")])
    message("RequestCut", [("resource_spans", 1, field.TYPE_MESSAGE, repeated, f".{package}.ResourceSpansCut")])
    attributes = message("SpanAttributes", [("attributes", 9, field.TYPE_MESSAGE, repeated, f".{package}.SpanAttributes.AttributesEntry")])
    entry = message("AttributesEntry", [("key", 1, field.TYPE_STRING, optional, ""), ("value", 2, field.TYPE_BYTES, optional, "")], attributes)
    entry.options.map_entry = True
    pool.Add(file)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in ("RequestCut", "SpanAttributes"))  # type: ignore[return-value]


_RequestCut, _SpanAttributes = _wire_views()


# --------------------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------------------


Group = tuple[Any, Any, Any, Any]  # (resource_key, ResourceSpans shell, scope_key, ScopeSpans shell)

# Facts about a trace gathered at intake from the spans already parsed by the receiver, so that the
# policies reading them never parse the held bytes back (TraceData.facts says which were gathered).
TIMES = 1  # earliest start, latest end
STATUSES = 2  # bit per status code present
ROOTS = 4  # has_root: a span without a parent arrived
ALL_FACTS = TIMES | STATUSES | ROOTS
_STATUS_BIT = {0: 1, 1: 2, 2: 4}


class TraceData:
    """The spans of one trace, each with its resource and scope (shared message shells).

    While a trace waits for its decision its spans are held serialized: a parsed Span costs several times
    its wire size in memory, a bytes object barely more than it. Policies read the facts gathered at
    intake or search the bytes (see `span_attribute_values`); `spans` parses them back (upb, ~1.5M
    spans/s) only for the policies and the rollup that need whole spans. Released spans are parsed
    straight into the outgoing request.

    A held trace is also its own buffer entry (`deadline`, `sampled`) and its own queue item, and its
    spans' groups are one shared Group while they have the same resource and scope (nearly always): a
    trace costs the garbage collector two tracked objects (itself and `_raw`), not six. Every tracked
    object alive for decision_wait is traversed again by each full collection, which came every few
    seconds at 30k spans/s and took a tenth of the event loop."""

    __slots__ = ("_groups", "_raw", "_spans", "_views", "bytes", "deadline", "end", "facts", "has_root", "sampled", "start", "statuses", "trace_id")

    def __init__(self, trace_id: bytes, facts: int = 0):
        self.trace_id = trace_id
        self._groups: Group | list[Group] | None = None  # one Group for every held span, or one per span
        self._raw: list[bytes] = []
        self._spans: list[tuple[Any, Any, Any, Any, Span]] | None = None
        self._views: list[Any] | None = None
        self.bytes = 0
        self.has_root = False
        self.facts = facts
        self.start = 1 << 64 if facts & TIMES else None
        self.end = 0
        self.statuses = 0
        self.deadline = 0.0
        self.sampled: bool | None = None  # None while the trace awaits its decision

    @property
    def span_count(self) -> int:
        return len(self._raw) if self._spans is None else len(self._spans)

    def add_held(self, group: Group, raw: bytes) -> None:
        groups = self._groups
        if groups is None:
            self._groups = group
        elif type(groups) is list:
            groups.append(group)
        elif groups is not group:
            self._groups = [groups] * len(self._raw) + [group]
        self._raw.append(raw)

    def held_groups(self) -> Any:
        """The group of each held span, parallel to `_raw`."""
        groups = self._groups
        return groups if type(groups) is list else itertools.repeat(groups, len(self._raw))

    def release(self) -> None:
        """Lets go of the spans once the trace is decided (its id may stay in a queue until then)."""
        self._groups, self._raw, self._spans, self._views = None, [], None, None

    @property
    def spans(self) -> list[tuple[Any, Any, Any, Any, Span]]:
        if self._spans is None:
            parse = Span.FromString
            self._spans = [(*group, parse(raw)) for group, raw in zip(self.held_groups(), self._raw)]
            self._groups, self._raw = None, []
        return self._spans

    def extend(self, other: "TraceData") -> None:
        if not self.span_count:
            self.facts = other.facts
        elif other.span_count:
            self.facts &= other.facts
        if self._spans is None and other._spans is None:
            for group, raw in zip(other.held_groups(), other._raw):
                self.add_held(group, raw)
        else:
            self.spans.extend(other.spans)
        self.bytes += other.bytes
        self.has_root = self.has_root or other.has_root
        if other.start is not None and (self.start is None or other.start < self.start):
            self.start = other.start
        self.end = max(self.end, other.end)
        self.statuses |= other.statuses
        self._views = None

    def times(self) -> tuple[int, int] | None:
        """(earliest start, latest end) in unix ns; None without spans."""
        if not self.span_count:
            return None
        if self.facts & TIMES:
            return self.start, self.end  # type: ignore[return-value]
        spans = self.spans
        return min(e[4].start_time_unix_nano for e in spans), max(e[4].end_time_unix_nano for e in spans)

    def has_status(self, codes: set[int]) -> bool:
        if self.facts & STATUSES:
            return any(self.statuses & _STATUS_BIT[c] for c in codes if c in _STATUS_BIT)
        return any(e[4].status.code in codes for e in self.spans)

    def views(self) -> list[Any]:
        """GenAI views of the trace's LLM spans (computed once per evaluation)."""
        if self._views is None:
            out = []
            for entry in self.spans:
                view = GenAIView.of(entry[4])
                if view is not None:
                    out.append(view)
            self._views = out
        return self._views


_MAX_INTERNED = 4096


Cut = list[tuple[Any, bytes, list[tuple[Any, bytes, list[bytes]]]]]


def _cut(request: Any, payload: bytes | None = None) -> Cut:
    """Per ResourceSpans: (entry, resource bytes, [(ScopeSpans entry, scope bytes, [span bytes])]).

    The request is serialized once (unless `payload`, its current bytes, is given) and read back as
    `_RequestCut`, so upb cuts it into per-span bytes in C: one serialization of the whole request costs
    much less than one per span (upb's fixed cost per call dominates), and no Python runs per span."""
    cut = _RequestCut.FromString(payload if payload is not None else request.SerializeToString())
    out: Cut = []
    for rs, rs_cut in zip(request.resource_spans, cut.resource_spans):
        out.append((rs, rs_cut.resource, [(ss, ss_cut.scope, list(ss_cut.spans)) for ss, ss_cut in zip(rs.scope_spans, rs_cut.scope_spans)]))
    return out


def group_by_trace(request: Any, traces: dict[bytes, TraceData] | None = None, interned: dict[Any, Group] | None = None, facts: int = ALL_FACTS, payload: bytes | None = None) -> dict[bytes, TraceData]:
    """Copies the spans of a request (serialized) into per-trace groups (appending to `traces` when given),
    gathering the `facts` the policies need from the parsed spans.

    `interned` shares one shell per distinct resource and scope across requests: every shell is a upb
    message with its own arena, which would otherwise cost more than the spans it labels."""
    out = traces if traces is not None else {}
    if interned is None:
        interned = {}
    elif len(interned) > _MAX_INTERNED:
        interned.clear()  # shells still referenced by pending traces stay alive; only sharing restarts
    times = facts & TIMES
    statuses = facts & STATUSES
    roots = facts & ROOTS
    status_bit = _STATUS_BIT.get
    for rs, resource, scopes in _cut(request, payload):
        rkey = (resource, rs.schema_url)
        rshell = None
        for ss, scope, raws in scopes:
            skey = (scope, ss.schema_url)
            group = interned.get((rkey, skey))
            if group is None:
                if rshell is None:
                    rshell = ResourceSpans(resource=rs.resource, schema_url=rs.schema_url)
                group = interned[(rkey, skey)] = (rkey, rshell, skey, ScopeSpans(scope=ss.scope, schema_url=ss.schema_url))
            for span, raw in zip(ss.spans, raws):
                tid = span.trace_id
                trace = out.get(tid)
                if trace is None:
                    trace = out[tid] = TraceData(tid, facts)
                trace.add_held(group, raw)
                trace.bytes += len(raw)
                if roots and not span.parent_span_id:
                    trace.has_root = True
                if times:
                    start = span.start_time_unix_nano
                    if start < trace.start:  # type: ignore[operator]
                        trace.start = start
                    end = span.end_time_unix_nano
                    if end > trace.end:
                        trace.end = end
                if statuses:
                    trace.statuses |= status_bit(span.status.code, 0)
    return out


def build_request(traces: list[TraceData]) -> ExportTraceServiceRequest:
    """One request holding the given traces, merged per resource and scope. Held spans are parsed
    straight into their place in the request: no intermediate Span message to copy. (Measured faster
    than framing them all as one message for a single parse, which copies the bytes twice more.)"""
    builder = pdata.RequestBuilder(Signal.TRACES)
    targets: dict[int, Any] = {}  # id(group) -> the request's spans field for it (groups are interned)
    for trace in traces:
        if trace._spans is None:
            for group, raw in zip(trace.held_groups(), trace._raw):
                spans = targets.get(id(group))
                if spans is None:
                    rkey, rshell, skey, sshell = group
                    spans = targets[id(group)] = builder.items_for(rshell, sshell, rkey, skey)
                spans.add().MergeFromString(raw)
        else:
            for rkey, rshell, skey, sshell, span in trace._spans:
                builder.items_for(rshell, sshell, rkey, skey).append(span)
    return builder.request


# --------------------------------------------------------------------------------------------------
# Attribute lookups on held spans
# --------------------------------------------------------------------------------------------------

_NEEDLES: dict[str, bytes] = {}


def _needle(key: str) -> bytes:
    """The wire bytes of a KeyValue's key field: in a serialized span wherever an attribute has that key."""
    needle = _NEEDLES.get(key)
    if needle is None:
        encoded = key.encode()
        needle = _NEEDLES[key] = b"\x0a" + pdata.encode_varint(len(encoded)) + encoded
    return needle


def span_attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of the span attribute `key` in the trace (AnyValue messages).

    Held spans are searched as bytes first: a span whose bytes lack the key's wire form has no such
    attribute (most spans, for most keys). A span with a hit is read by the C walk of its fields
    (`_wire_walks.attribute_values`) when it is built; else one occurrence is read through the C-built
    map, and several (a duplicate key, or the bytes inside some value) take the exact walk."""
    if trace._spans is not None:
        for entry in trace._spans:
            for kv in entry[4].attributes:
                if kv.key == key:
                    yield kv.value
        return
    needle = _needle(key)
    width = len(needle)
    key_bytes = key.encode()
    for raw in trace._raw:
        at = raw.find(needle)
        if at < 0:
            continue
        if _attribute_values_in_c is not None:
            try:
                values = _attribute_values_in_c(raw, key_bytes)
            except ValueError:
                values = None  # not a well-formed span: the parser below says how
            if values is not None:
                for value in values:
                    yield AnyValue.FromString(value)
                continue
        if raw.find(needle, at + width) < 0:
            value = _SpanAttributes.FromString(raw).attributes.get(key)
            if value is not None:
                yield AnyValue.FromString(value)
        else:
            for kv in Span.FromString(raw).attributes:
                if kv.key == key:
                    yield kv.value


def resource_attribute_values(trace: TraceData, key: str) -> Any:
    """Every value of the resource attribute `key` over the trace's distinct resources."""
    needle = _needle(key)
    seen: set[int] = set()
    for group in trace.held_groups() if trace._spans is None else trace._spans:
        rshell = group[1]
        if id(rshell) in seen:
            continue
        seen.add(id(rshell))
        if needle in group[0][0]:  # the resource's wire bytes
            for kv in rshell.resource.attributes:
                if kv.key == key:
                    yield kv.value


def _attr_values(trace: TraceData, key: str) -> Any:
    """Every value of `key` on the trace's spans and their resources (AnyValue messages)."""
    yield from resource_attribute_values(trace, key)
    yield from span_attribute_values(trace, key)


# --------------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return None


class Policy:
    name: str
    type: str

    def evaluate(self, trace: TraceData) -> str:
        raise NotImplementedError

    def released(self, trace: TraceData) -> None:
        """Called when the trace this policy sampled is released (rate-limiting bookkeeping)."""


class _Match(Policy):
    def __init__(self, match: Callable[[TraceData], bool], invert: bool = False):
        self.match = match
        self.invert = invert

    def evaluate(self, trace: TraceData) -> str:
        return SAMPLED if self.match(trace) != self.invert else NOT_SAMPLED


def _latency(c: LatencyConfig) -> Callable[[TraceData], bool]:
    def match(trace: TraceData) -> bool:
        times = trace.times()
        if times is None:
            return False
        ms = (times[1] - times[0]) / 1e6
        if c.upper_threshold_ms:
            return c.threshold_ms <= ms <= c.upper_threshold_ms
        return ms >= c.threshold_ms

    return match


def _numeric(c: NumericAttributeConfig) -> Callable[[TraceData], bool]:
    lo = c.min_value if c.min_value is not None else float("-inf")
    hi = c.max_value if c.max_value is not None else float("inf")

    def match(trace: TraceData) -> bool:
        for v in _attr_values(trace, c.key):
            n = _number(v)
            if n is not None and lo <= n <= hi:
                return True
        return False

    return match


_FNV_OFFSET = 0xCBF29CE484222325


def _fnv1a64(data: bytes, h: int = _FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _probabilistic(c: ProbabilisticConfig) -> Callable[[TraceData], bool]:
    # otelcol: FNV-1a 64 of salt + trace id, sampled when at or below ratio * MaxUint64. The hash is
    # byte by byte, so the state after the salt is computed once.
    salted = _fnv1a64((c.hash_salt or DEFAULT_HASH_SALT).encode())
    threshold = min(int(c.sampling_percentage / 100 * 2**64), 2**64 - 1)
    fnv = _fnv1a64_in_c or _fnv1a64

    def match(trace: TraceData) -> bool:
        if c.sampling_percentage <= 0:
            return False
        return fnv(trace.trace_id, salted) <= threshold

    return match


def _status(c: StatusCodeConfig) -> Callable[[TraceData], bool]:
    codes = {_STATUS_CODES[s] for s in c.status_codes}
    return lambda trace: trace.has_status(codes)


def _string_matcher(values: list[str], regex: bool) -> Callable[[str], bool]:
    if regex:
        patterns = [re.compile(v) for v in values]
        return lambda s: any(p.search(s) for p in patterns)
    wanted = set(values)
    return lambda s: s in wanted


def _string(c: StringAttributeConfig) -> Callable[[TraceData], bool]:
    matches = _string_matcher(c.values, c.enabled_regex_matching)

    def match(trace: TraceData) -> bool:
        for v in _attr_values(trace, c.key):
            if v.WhichOneof("value") == "string_value" and matches(v.string_value):
                return True
        return False

    return match


def _boolean(c: BooleanAttributeConfig) -> Callable[[TraceData], bool]:
    def match(trace: TraceData) -> bool:
        return any(v.WhichOneof("value") == "bool_value" and v.bool_value == c.value for v in _attr_values(trace, c.key))

    return match


def _span_count(c: SpanCountConfig) -> Callable[[TraceData], bool]:
    return lambda trace: trace.span_count >= c.min_spans and (c.max_spans == 0 or trace.span_count <= c.max_spans)


def _trace_state(c: TraceStateConfig) -> Callable[[TraceData], bool]:
    wanted = set(c.values)

    def match(trace: TraceData) -> bool:
        for e in trace.spans:
            ts = e[4].trace_state
            if not ts:
                continue
            for member in ts.split(","):
                k, sep, v = member.strip().partition("=")
                if sep and k == c.key and v in wanted:
                    return True
        return False

    return match


_COST_KEY = COST.encode()


def trace_cost(trace: TraceData) -> float:
    if trace._spans is None and _number_sum_in_c is not None:
        try:
            return _number_sum_in_c(trace._raw, _COST_KEY)
        except ValueError:
            pass  # a damaged span: the lookups below fall back to the parser span by span
    total = 0.0
    for value in span_attribute_values(trace, COST):
        n = _number(value)
        if n is not None:
            total += n
    return total


def trace_tokens(trace: TraceData) -> tuple[int, int]:
    inp = out = 0
    for view in trace.views():
        inp += view.usage.input_tokens or 0
        out += view.usage.output_tokens or 0
    return inp, out


def _llm_model(c: LLMModelConfig) -> Callable[[TraceData], bool]:
    model_match = _string_matcher(c.models, c.enabled_regex_matching)
    provider_match = _string_matcher([p.lower() for p in c.providers] if not c.enabled_regex_matching else c.providers, c.enabled_regex_matching)

    def match(trace: TraceData) -> bool:
        for view in trace.views():
            models = [m for m in (view.response_model, view.request_model) if m]
            if c.models and any(model_match(m) for m in models):
                return True
            if c.providers and view.provider and provider_match(view.provider):
                return True
        return False

    return match


def _llm_error(c: LLMErrorConfig) -> Callable[[TraceData], bool]:
    reasons = {r.lower() for r in c.finish_reasons}

    def match(trace: TraceData) -> bool:
        for view in trace.views():
            if not view.is_generation:
                continue
            if view.errored or any(r.lower() in reasons for r in view.finish_reasons):
                return True
        return False

    return match


class RateLimiting(Policy):
    """otelcol: samples a trace while the spans sampled in the current second plus its own stay within the rate."""

    def __init__(self, spans_per_second: int, clock: Callable[[], float] = time.monotonic):
        self.limit = spans_per_second
        self.clock = clock
        self.second = -1
        self.spent = 0

    def evaluate(self, trace: TraceData) -> str:
        now = int(self.clock())
        if now != self.second:
            self.second, self.spent = now, 0
        if self.spent + trace.span_count <= self.limit:
            self.spent += trace.span_count
            return SAMPLED
        return NOT_SAMPLED


class BytesLimiting(Policy):
    """Token bucket over the serialized size of the trace's spans."""

    def __init__(self, c: BytesLimitingConfig, clock: Callable[[], float] = time.monotonic):
        self.rate = c.bytes_per_second
        self.capacity = c.burst_capacity or 2 * c.bytes_per_second
        self.tokens = float(self.capacity)
        self.clock = clock
        self.last = clock()

    def evaluate(self, trace: TraceData) -> str:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        size = trace.bytes
        if size <= self.tokens:
            self.tokens -= size
            return SAMPLED
        return NOT_SAMPLED


class And(Policy):
    def __init__(self, subs: list[Policy]):
        self.subs = subs

    def evaluate(self, trace: TraceData) -> str:
        for sub in self.subs:
            if sub.evaluate(trace) != SAMPLED:
                return NOT_SAMPLED
        return SAMPLED


class Drop(And):
    """Drops the trace when every sub-policy would sample it."""

    def evaluate(self, trace: TraceData) -> str:
        return DROPPED if super().evaluate(trace) == SAMPLED else NOT_SAMPLED


class Composite(Policy):
    """otelcol's composite: sub-policies in policy_order, each limited to its share of
    max_total_spans_per_second; the first that samples within its share samples the trace."""

    def __init__(self, c: CompositeConfig, subs: dict[str, Policy], clock: Callable[[], float] = time.monotonic):
        order = c.policy_order or list(subs)
        total = c.max_total_spans_per_second
        default = total // max(1, len(subs))
        # otelcol: a listed percentage > 0 gets that share, a listed 0 an equal share, an unlisted policy none.
        # Without any rate_allocation every sub-policy gets an equal share.
        shares = {a.policy: (total * a.percent // 100 if a.percent > 0 else default) for a in c.rate_allocation}
        self.subs = [(name, subs[name], shares.get(name, 0) if c.rate_allocation else default) for name in order]
        self.total = c.max_total_spans_per_second
        self.clock = clock
        self.second = -1
        self.spent: dict[str, int] = {}
        self.spent_total = 0

    def evaluate(self, trace: TraceData) -> str:
        now = int(self.clock())
        if now != self.second:
            self.second, self.spent, self.spent_total = now, {}, 0
        n = trace.span_count
        for name, sub, limit in self.subs:
            if sub.evaluate(trace) != SAMPLED:
                continue
            used = self.spent.get(name, 0)
            if used + n <= limit and self.spent_total + n <= self.total:
                self.spent[name] = used + n
                self.spent_total += n
                return SAMPLED
        return NOT_SAMPLED


def facts_needed(policies: list[PolicyConfig]) -> int:
    """The intake facts (TIMES, STATUSES) the policies read, sub-policies included."""
    out = 0
    for p in policies:
        if p.type == "latency":
            out |= TIMES
        elif p.type == "status_code":
            out |= STATUSES
        elif p.type == "and":
            out |= facts_needed(p.settings.and_sub_policy)
        elif p.type == "drop":
            out |= facts_needed(p.settings.drop_sub_policy)
        elif p.type == "composite":
            out |= facts_needed(p.settings.composite_sub_policy)
    return out


def build_policy(p: PolicyConfig) -> Policy:
    c = p.settings
    t = p.type
    policy: Policy
    if t == "always_sample":
        policy = _Match(lambda trace: True)
    elif t == "latency":
        policy = _Match(_latency(c))
    elif t == "numeric_attribute":
        policy = _Match(_numeric(c), c.invert_match)
    elif t == "probabilistic":
        policy = _Match(_probabilistic(c))
    elif t == "status_code":
        policy = _Match(_status(c))
    elif t == "string_attribute":
        policy = _Match(_string(c), c.invert_match)
    elif t == "boolean_attribute":
        policy = _Match(_boolean(c), c.invert_match)
    elif t == "span_count":
        policy = _Match(_span_count(c))
    elif t == "trace_state":
        policy = _Match(_trace_state(c))
    elif t == "rate_limiting":
        policy = RateLimiting(c.spans_per_second)
    elif t == "bytes_limiting":
        policy = BytesLimiting(c)
    elif t == "and":
        policy = And([build_policy(s) for s in c.and_sub_policy])
    elif t == "drop":
        policy = Drop([build_policy(s) for s in c.drop_sub_policy])
    elif t == "composite":
        policy = Composite(c, {s.name: build_policy(s) for s in c.composite_sub_policy})
    elif t == "llm_cost":
        policy = _Match(lambda trace: trace_cost(trace) >= c.min_usd)
    elif t == "llm_tokens":
        policy = _Match(lambda trace: sum(trace_tokens(trace)) >= c.min_tokens)
    elif t == "llm_model":
        policy = _Match(_llm_model(c), c.invert_match)
    elif t == "llm_error":
        policy = _Match(_llm_error(c))
    else:
        raise ValueError(f"unknown policy type {t!r}")
    policy.name = p.name
    policy.type = t
    return policy


@dataclass
class Decision:
    sampled: bool
    policy: str | None  # the first policy that sampled (or dropped)
    votes: dict[str, str]  # every evaluated policy -> vote


class Sampler:
    """The decision rule over a list of policies (pure: no buffering, no metrics)."""

    def __init__(self, policies: list[PolicyConfig], sample_on_first_match: bool = False):
        built = [build_policy(p) for p in policies]
        self.drops = [p for p in built if p.type == "drop"]
        self.others = [p for p in built if p.type != "drop"]
        self.sample_on_first_match = sample_on_first_match
        self.timings: list[tuple[str, float]] = []

    def decide(self, trace: TraceData) -> Decision:
        votes: dict[str, str] = {}
        for p in self.drops:
            vote = p.evaluate(trace)
            votes[p.name] = vote
            if vote == DROPPED:
                return Decision(False, p.name, votes)
        first = None
        for p in self.others:
            vote = p.evaluate(trace)
            votes[p.name] = vote
            if vote == SAMPLED and first is None:
                first = p.name
                if self.sample_on_first_match:
                    break
        return Decision(first is not None, first, votes)


# --------------------------------------------------------------------------------------------------
# The processor
# --------------------------------------------------------------------------------------------------


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, key: bytes) -> None:
        if self.size <= 0:
            return
        self.items[key] = None
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def __contains__(self, key: bytes) -> bool:
        return key in self.items


_CHUNK = 500  # traces decided between yields to the event loop
# Held bytes released per request. A released request costs ~4x its held bytes while parsed, and the
# exporters after it copy it again (serialized, framed, decoded and encoded by the file exporter's encoder
# process). Released one request per decision chunk, that came on top of everything held, while
# memory_limiter was already refusing: ~12 MiB in the daemon and ~19 MiB in the encoder per 500 traces.
_SEND_BYTES = 1 << 18


def rollup(trace: TraceData) -> None:
    """Writes the trace totals onto its root span (no parent; else the earliest span)."""
    if not trace.spans:
        return
    views = trace.views()
    cost = trace_cost(trace)
    if not views and not cost:
        return
    inp, out = trace_tokens(trace)
    roots = [e[4] for e in trace.spans if not e[4].parent_span_id]
    root = roots[0] if roots else min((e[4] for e in trace.spans), key=lambda s: s.start_time_unix_nano)
    keys = ("gen_ai.trace.cost", "gen_ai.trace.input_tokens", "gen_ai.trace.output_tokens")
    kept = [kv for kv in root.attributes if kv.key not in keys]
    if len(kept) != len(root.attributes):
        del root.attributes[:]
        root.attributes.extend(kept)
    pdata.add_double(root.attributes, keys[0], round(cost, 10))
    pdata.add_int(root.attributes, keys[1], inp)
    pdata.add_int(root.attributes, keys[2], out)


@register
class TailSamplingProcessor(Processor):
    type_name = "tail_sampling"
    description = "Samples whole traces after decision_wait by otelcol's policies plus LLM cost/tokens/model/error policies."
    config_class = TailSamplingConfig
    signals = frozenset({Signal.TRACES})
    # It copies the spans it keeps; the caller's request is never changed.
    capabilities = Capabilities(mutates_data=False)

    def __init__(self, settings: Any, config: TailSamplingConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.sampler = Sampler(config.policies, config.sample_on_first_match)
        self._facts = facts_needed(config.policies) | (ROOTS if config.decision_wait_after_root_received > 0 else 0)
        self._root_wait = float(config.decision_wait_after_root_received)
        self._max_trace_bytes = int(config.maximum_trace_size_bytes)
        self._decision_wait = float(config.decision_wait)
        self._policy_attributes: dict[str, bytes] = {}
        # Pending and decided trace ids, each in arrival order; together at most num_traces. A decided id
        # keeps (sampled, when) only: a tuple of plain values, which the garbage collector stops tracking.
        self.pending_traces: OrderedDict[bytes, TraceData] = OrderedDict()
        self.decided: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()
        # Pending traces by deadline: in arrival order (decision_wait is constant), and those a root span
        # moved earlier, likewise. A decided or evicted trace stays queued until it reaches the head.
        self.queue: deque[TraceData] = deque()
        self.root_queue: deque[TraceData] = deque()
        self.pending_bytes = 0
        self._interned: dict[Any, Group] = {}
        self.sampled_cache = _LRU(config.decision_cache.sampled_cache_size)
        self.non_sampled_cache = _LRU(config.decision_cache.non_sampled_cache_size)
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        t = self.telemetry
        pid = str(self.id)
        self._pid = pid
        self.m_policy = t.counter(PREFIX + "count_traces_sampled", "Count of traces that were sampled or not per sampling policy.", ("processor", "policy", "sampled"))
        self.m_global = t.counter(PREFIX + "global_count_traces_sampled", "Global count of traces that were sampled or not by at least one policy.", ("processor", "sampled"))
        self.m_on_memory = t.gauge(PREFIX + "sampling_traces_on_memory", "Tracks the number of traces current on memory.", ("processor",)).labels(pid)
        self.m_too_early = t.counter(PREFIX + "sampling_trace_dropped_too_early", "Count of traces that needed to be dropped before the configured wait time.", ("processor",)).labels(pid)
        self.m_buffered_bytes = t.gauge(
            "llm_collector_tail_sampling_buffered_bytes", "Serialized bytes of the spans awaiting a decision.", ("processor",)
        ).labels(pid)
        self.m_new = t.counter(PREFIX + "new_trace_id_received", "Counts the arrival of new traces.", ("processor",)).labels(pid)
        self.m_latency = t.histogram(
            PREFIX + "sampling_decision_latency",
            "Latency (in microseconds) of a given sampling policy.",
            ("processor", "policy"),
            (1, 2, 5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 50000),
        )
        self.m_late_age = t.histogram(
            PREFIX + "sampling_late_span_age", "Time (in seconds) from the sampling decision to the arrival of a late span.", ("processor",), (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
        ).labels(pid)
        self.m_decision_lag = t.histogram(
            "llm_collector_tail_sampling_decision_lag_seconds",
            "How long after its decision_wait ran out a trace was decided: the timer's lag behind ingest.",
            ("processor",),
            (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ).labels(pid)
        self.m_too_large = t.counter("llm_collector_tail_sampling_traces_too_large", "Traces dropped because they exceeded maximum_trace_size_bytes.", ("processor",)).labels(pid)
        self.m_dropped_spans = t.counter("llm_collector_tail_sampling_dropped_spans", "Spans dropped because their trace was not sampled.", ("processor",)).labels(pid)
        self.m_send_failed = t.counter("llm_collector_tail_sampling_send_failed_spans", "Sampled spans the next consumer refused (logged, not retried).", ("processor",)).labels(pid)
        self._policy_bound: dict[tuple[str, bool], Any] = {}
        self._global_bound = {True: self.m_global.labels(pid, "true"), False: self.m_global.labels(pid, "false")}
        self._latency_bound = {p.name: self.m_latency.labels(pid, p.name) for p in self.sampler.drops + self.sampler.others}

    async def start(self, host: Any) -> None:
        self._timer = asyncio.get_running_loop().create_task(self._decide_loop())

    @property
    def _pending_count(self) -> int:
        return len(self.pending_traces)

    # Ingest ---------------------------------------------------------------------------------------
    async def consume(self, envelope: Envelope) -> Rejected | None:
        # Intake cuts the request's bytes into spans: the envelope's, where a processor in front attached
        # them, save serializing the request again. Canonical only: _cut keys shells by the resource's and
        # scope's bytes, which must be upb's own.
        payload = envelope.wire(canonical=True)
        data = envelope.request
        groups = group_by_trace(data, interned=self._interned, facts=self._facts, payload=payload)
        if not groups:
            return None
        if self.config.block_on_overflow:
            self._check_room(groups)
        now = time.monotonic()
        late: list[TraceData] = []
        pending, decided = self.pending_traces, self.decided
        root_wait, max_trace_bytes = self._root_wait, self._max_trace_bytes
        for tid, trace in groups.items():
            held = pending.get(tid)
            if held is None:
                verdict = decided.get(tid)
                if verdict is not None:
                    self.m_late_age.observe(max(0.0, now - verdict[1]))
                    if verdict[0]:
                        late.append(trace)
                    else:
                        self.m_dropped_spans.inc(trace.span_count)
                    continue
                if tid in self.sampled_cache:
                    late.append(trace)
                    continue
                if tid in self.non_sampled_cache:
                    self.m_dropped_spans.inc(trace.span_count)
                    continue
                held = self._add(tid, trace, now)
            else:
                held.extend(trace)
            self.pending_bytes += trace.bytes
            if root_wait and trace.has_root:
                early = now + root_wait
                if early < held.deadline:
                    held.deadline = early
                    self.root_queue.append(held)
                    self._wake.set()
            if max_trace_bytes and held.bytes > max_trace_bytes:
                self._drop_oversized(tid, held)
        if self.config.max_buffered_bytes:
            while self.pending_bytes > self.config.max_buffered_bytes and self.pending_traces:
                self._evict_pending()
        self.m_on_memory.set(len(self.pending_traces))
        self.m_buffered_bytes.set(self.pending_bytes)
        if late:
            await self._send(late)
        return None

    def _check_room(self, groups: dict[bytes, TraceData]) -> None:
        """block_on_overflow: refuse the whole request (retryable) rather than evict a pending trace."""
        new = sum(1 for tid in groups if tid not in self.pending_traces and tid not in self.decided and tid not in self.sampled_cache and tid not in self.non_sampled_cache)
        if new and len(self.pending_traces) + new > self.config.num_traces:
            raise RetryableError(f"processor {self.id}: {len(self.pending_traces)} traces await a decision (num_traces {self.config.num_traces}); retry later", retry_after=1.0)
        if self.config.max_buffered_bytes:
            incoming = sum(t.bytes for t in groups.values())
            if self.pending_bytes + incoming > self.config.max_buffered_bytes:
                raise RetryableError(f"processor {self.id}: pending spans hold {self.pending_bytes} bytes (max_buffered_bytes {int(self.config.max_buffered_bytes)}); retry later", retry_after=1.0)

    def _evict_pending(self) -> None:
        _tid, old = self.pending_traces.popitem(last=False)
        self.m_dropped_spans.inc(old.span_count)
        self.pending_bytes -= old.bytes
        old.sampled = False  # its queue items are skipped
        old.release()
        self.m_too_early.inc()
        # The evicted trace was the oldest pending one, so its queue item (and any stale item before it)
        # is at the head of the queue: drop them now. Left to the timer they would pile up for a whole
        # decision_wait (one item per evicted trace), so memory would grow with the rate, not num_traces.
        self._drop_stale_heads()

    def _add(self, tid: bytes, trace: TraceData, now: float) -> TraceData:
        self.m_new.inc()
        while len(self.pending_traces) + len(self.decided) >= self.config.num_traces:
            # Decided ids go first (they only serve late spans); then, as in otelcol, the oldest
            # pending trace is evicted before its decision and counted.
            if self.decided:
                self.decided.popitem(last=False)
            else:
                self._evict_pending()
        trace.deadline = now + self._decision_wait  # the request's group becomes the held trace
        self.pending_traces[tid] = trace
        wake = not self.queue
        self.queue.append(trace)
        if wake:
            self._wake.set()
        return trace

    def _drop_oversized(self, tid: bytes, trace: TraceData) -> None:
        self.pending_traces.pop(tid, None)
        self.pending_bytes -= trace.bytes
        self.m_too_large.inc()
        self.m_dropped_spans.inc(trace.span_count)
        self._global_bound[False].inc()
        self.log.warning("trace exceeds maximum_trace_size_bytes; dropped", trace_id=tid.hex(), bytes=trace.bytes, spans=trace.span_count)
        self._remember(tid, trace, False)
        trace.release()

    def _remember(self, tid: bytes, trace: TraceData, sampled: bool) -> None:
        trace.sampled = sampled
        while self.decided and len(self.pending_traces) + len(self.decided) >= self.config.num_traces:
            self.decided.popitem(last=False)
        self.decided[tid] = (sampled, time.monotonic())
        (self.sampled_cache if sampled else self.non_sampled_cache).add(tid)

    # Decisions ------------------------------------------------------------------------------------
    def _decide(self, tid: bytes, trace: TraceData) -> TraceData | None:
        """Decides one pending trace; returns it when sampled."""
        self.pending_traces.pop(tid, None)
        self.pending_bytes -= trace.bytes
        started = time.perf_counter()
        try:
            decision = self.sampler.decide(trace)
        except Exception as exc:  # a policy bug must not stop the decision loop
            self.log.error("policy evaluation failed; trace not sampled", error=repr(exc), trace_id=tid.hex())
            decision = Decision(False, None, {})
        elapsed_us = (time.perf_counter() - started) * 1e6
        for name, vote in decision.votes.items():
            key = (name, vote == SAMPLED)
            bound = self._policy_bound.get(key)
            if bound is None:
                bound = self._policy_bound[key] = self.m_policy.labels(self._pid, name, "true" if key[1] else "false")
            bound.inc()
        if decision.policy is not None and decision.policy in self._latency_bound:
            self._latency_bound[decision.policy].observe(elapsed_us)
        self._global_bound[decision.sampled].inc()
        self._remember(tid, trace, decision.sampled)
        if decision.sampled:
            if self.config.record_policy and decision.policy:
                self._record_policy(trace, decision.policy)
            if self.config.rollup:
                rollup(trace)
            return trace
        self.m_dropped_spans.inc(trace.span_count)
        trace.release()
        return None

    def _record_policy(self, trace: TraceData, policy: str) -> None:
        if trace._spans is not None:
            for e in trace._spans:
                pdata.add_str(e[4].attributes, "tailsampling.policy", policy)
            return
        encoded = self._policy_attributes.get(policy)
        if encoded is None:
            encoded = self._policy_attributes[policy] = pdata.encoded_str(pdata.SPAN_ATTRIBUTES, "tailsampling.policy", policy)
        trace._raw = [raw + encoded for raw in trace._raw]  # appended on the wire = appended attribute

    def _drop_stale_heads(self) -> None:
        for q in (self.queue, self.root_queue):
            while q and q[0].sampled is not None:
                q.popleft()  # decided (from the other queue), evicted or dropped as oversized

    def _next_due(self, now: float) -> tuple[deque[TraceData] | None, float | None]:
        """The queue whose head is due soonest (dropping stale heads), and that head's deadline.

        A trace whose root span moved its deadline earlier is in both queues; its place in `queue` is
        later than its deadline says, but `root_queue` brings it up in time, and whichever queue reaches
        it first decides it."""
        self._drop_stale_heads()
        best: deque[TraceData] | None = None
        best_deadline: float | None = None
        for q in (self.queue, self.root_queue):
            if q and (best_deadline is None or q[0].deadline < best_deadline):
                best, best_deadline = q, q[0].deadline
        return best, best_deadline

    def decide_due(self, now: float, limit: int = _CHUNK) -> tuple[list[TraceData], bool]:
        """Decides up to `limit` traces whose wait expired; returns the sampled ones and whether more are due."""
        out: list[TraceData] = []
        for _ in range(limit):
            q, deadline = self._next_due(now)
            if q is None or deadline is None or deadline > now:
                return out, False
            trace = q.popleft()
            if now != float("inf"):  # not the shutdown sweep, which decides everything early on purpose
                self.m_decision_lag.observe(max(0.0, time.monotonic() - deadline))
            kept = self._decide(trace.trace_id, trace)
            if kept is not None:
                out.append(kept)
        q, deadline = self._next_due(now)
        return out, deadline is not None and deadline <= now

    async def _decide_loop(self) -> None:
        while not self._closing:
            now = time.monotonic()
            sampled, more = self.decide_due(now)
            self.m_on_memory.set(len(self.pending_traces))
            self.m_buffered_bytes.set(self.pending_bytes)
            if sampled:
                await self._send(sampled)
            if more:
                await asyncio.sleep(0)  # let ingest run between chunks
                continue
            if sampled:
                continue
            _, deadline = self._next_due(now)
            delay = (deadline - now) if deadline is not None else 3600.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.0))

    async def _send(self, traces: list[TraceData]) -> None:
        """Releases traces downstream in requests of at most ~_SEND_BYTES held bytes, one after the other
        (one request's memory alive at a time)."""
        start = size = 0
        for i, trace in enumerate(traces):
            size += trace.bytes
            if size >= _SEND_BYTES:
                await self._send_one(traces[start : i + 1])
                start, size = i + 1, 0
        if start < len(traces):
            await self._send_one(traces[start:])

    async def _send_one(self, traces: list[TraceData]) -> None:
        request = build_request(traces)
        count = sum(t.span_count for t in traces)
        for trace in traces:
            trace.release()  # the request holds the spans now; a trace may stay queued a while longer
        try:
            rejected = await self.next.consume(Envelope(Signal.TRACES, request))
        except Exception as exc:
            self.m_send_failed.inc(count)
            self.log.error("next consumer refused sampled traces; their spans are dropped", spans=count, error=str(exc))
            return
        if rejected is not None and rejected.count:
            self.m_send_failed.inc(rejected.count)
            self.log.warning("next consumer rejected part of the sampled traces", rejected=rejected.count, reason=rejected.message)

    async def shutdown(self) -> None:
        # Never cancel a send in progress: let the loop finish it, then decide what is left.
        self._closing = True
        self._wake.set()
        if self._timer is not None:
            await self._timer
            self._timer = None
        if not self.config.decide_on_shutdown:
            return
        while self.pending_traces:
            before = len(self.pending_traces)
            sampled, _ = self.decide_due(float("inf"))
            if sampled:
                await self._send(sampled)
            if len(self.pending_traces) == before:
                # Every pending trace is queued, so this cannot happen; never spin on shutdown if it does.
                self.log.error("traces left undecided at shutdown", traces=before)
                break
        self.m_on_memory.set(len(self.pending_traces))
