"""probabilistic_sampler processor: otelcol-contrib's (processor/probabilisticsamplerprocessor), deciding
span by span and log record by log record exactly as otelcol does, so agents and gateways running either
keep the same traces.

Modes (`mode`, sampler_mode.go): `hash_seed` (the default) hashes the trace id (logs: or `from_attribute`)
with `hash_seed` (FNV-1a 32) and keeps `sampling_percentage` of the 2**14 buckets; `equalizing` and
`proportional` follow OTEP 235 on the trace id's randomness or the tracestate's `rv`, writing the
resulting threshold into the tracestate (`ot=th:...`, logs: the `sampling.threshold` attribute). A span's
`sampling.priority` attribute forces the decision (0: drop, > 0: keep); a log record's `sampling_priority`
attribute gives its own percentage. Items without randomness, or with an unreadable tracestate, are dropped
(`fail_closed`, the default) or kept. The arithmetic is in sampling.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ...component import Capabilities, Processor, Rejected, Signal
from ...config import Invalid, option
from ...envelope import Envelope
from ...registry import register
from ..attraction import as_string, parse_float
from . import sampling
from .sampling import ALL_PROBABILITIES_RANDOMNESS, ALWAYS_SAMPLE, NEVER_SAMPLE, SamplingError, TraceState

_EMPTY_TRACE_ID = bytes(16)
Mode = Literal["", "hash_seed", "equalizing", "proportional"]


@dataclass
class ProbabilisticSamplerConfig:
    sampling_percentage: float = option(0.0, "Percentage of traces (or logs) kept; 100 or more keeps all, 0 none. Held as a float32, as otelcol does.")
    hash_seed: int = option(0, "Seed of the trace id hash (hash_seed mode). Collectors that must agree use the same seed; layers that sample again use different ones.")
    mode: Mode = option("", "hash_seed (default), equalizing or proportional (OTEP 235 consistent sampling through the tracestate).")
    fail_closed: bool = option(True, "Drop items whose randomness is missing or whose sampling information cannot be read; false keeps them.")
    sampling_precision: int = option(4, "Hex digits of the threshold written to the tracestate, 1 to 14.")
    attribute_source: Literal["traceID", "record"] = option("traceID", "Logs: hash the trace id (traceID) or the `from_attribute` record attribute (record).")
    from_attribute: str = option("", "Logs: record attribute hashed when the trace id is absent or attribute_source is record.")
    sampling_priority: str = option("", "Logs: record attribute holding a percentage that replaces sampling_percentage for that record.")

    def validate(self) -> None:
        """Config.Validate (config.go)."""
        pct = self.sampling_percentage
        if math.isinf(pct) or math.isnan(pct):
            raise Invalid(f"sampling rate is invalid: {pct:f}%", "sampling_percentage")
        if pct < 0:
            raise Invalid(f"sampling rate is negative: {pct:f}%", "sampling_percentage")
        if 0 < pct / 100.0 < sampling.MIN_SAMPLING_PROBABILITY:
            raise Invalid(f"sampling rate is too small: {pct:g}%", "sampling_percentage")
        if not 0 <= self.hash_seed <= 0xFFFFFFFF:
            raise Invalid("must be an unsigned 32-bit integer", "hash_seed")
        if self.sampling_precision == 0:
            raise Invalid("invalid sampling precision: 0", "sampling_precision")
        if not 0 < self.sampling_precision <= sampling.NUM_HEX_DIGITS:
            raise Invalid(f"sampling precision is too great, should be <= 14: {self.sampling_precision}", "sampling_precision")


# Samplers (makeSampler) -----------------------------------------------------------------------------------


class _Sampler:
    """The threshold a mode decides for an item, given the threshold that arrived with it."""

    hashing = False
    never = False

    def decide(self, arriving: int | None) -> int:
        raise NotImplementedError


class _Never(_Sampler):
    never = True

    def decide(self, arriving: int | None) -> int:
        return NEVER_SAMPLE


class _Hashing(_Sampler):
    hashing = True

    def __init__(self, threshold: int, seed: int):
        self.threshold, self.seed, self.state = threshold, seed, sampling.seeded(seed)

    def randomness(self, data: bytes) -> int:
        return sampling.randomness_from_bytes(data, self.seed, self.state)

    def decide(self, arriving: int | None) -> int:
        return self.threshold


class _Equalizing(_Sampler):
    def __init__(self, threshold: int):
        self.threshold = threshold

    def decide(self, arriving: int | None) -> int:
        return arriving if arriving is not None and self.threshold < arriving else self.threshold


class _Proportional(_Sampler):
    def __init__(self, ratio: float, precision: int):
        self.ratio, self.precision = ratio, precision

    def decide(self, arriving: int | None) -> int:
        incoming = sampling.threshold_probability(arriving) if arriving is not None else 1.0
        try:
            return sampling.probability_to_threshold(incoming * self.ratio, self.precision)
        except SamplingError:  # the product fell below the smallest probability: not sampled
            return NEVER_SAMPLE


def make_sampler(config: ProbabilisticSamplerConfig) -> _Sampler:
    pct = min(sampling.float32(config.sampling_percentage), 100.0)
    mode = config.mode or "hash_seed"
    if pct == 0:
        return _Never()
    ratio = max(pct / 100, sampling.MIN_SAMPLING_PROBABILITY)
    if mode == "equalizing":
        return _Equalizing(sampling.probability_to_threshold(ratio, config.sampling_precision))
    if mode == "proportional":
        return _Proportional(ratio, config.sampling_precision)
    threshold = sampling.hash_seed_threshold(pct)
    return _Never() if threshold == NEVER_SAMPLE else _Hashing(threshold, config.hash_seed)


# Carriers: where an item's sampling information lives ----------------------------------------------------


class _SpanCarrier:
    def __init__(self, span: Any, state: TraceState):
        self.span, self.state = span, state

    def arriving(self) -> int | None:
        return self.state.threshold if self.state.tvalue else None

    def randomness(self) -> int | None:
        return self.state.randomness if self.state.rvalue else None

    def set_randomness(self, rnd: int) -> None:
        self.state.set_randomness(rnd)

    def clear_threshold(self) -> None:
        self.state.clear_threshold()

    def update_threshold(self, threshold: int) -> bool:
        return self.state.update_threshold(threshold)

    def finish(self) -> None:
        self.span.trace_state = self.state.serialize()


def _attribute_bytes(attrs: Any, key: str) -> bytes:
    """getBytesFromValue (sampler_mode.go): a bytes value as it is, any other as its string."""
    for kv in attrs:
        if kv.key == key:
            return kv.value.bytes_value if kv.value.WhichOneof("value") == "bytes_value" else as_string(kv.value).encode()
    return b""


def _string_attribute(attrs: Any, key: str) -> str:
    for kv in attrs:
        if kv.key == key:
            return kv.value.string_value if kv.value.WhichOneof("value") == "string_value" else ""
    return ""


def _put_string(attrs: Any, key: str, value: str) -> None:
    for kv in attrs:
        if kv.key == key:
            kv.value.string_value = value
            return
    kv = attrs.add()
    kv.key = key
    kv.value.string_value = value


class _RecordCarrier:
    """recordCarrier (logsprocessor.go): the sampling.threshold and sampling.randomness attributes."""

    def __init__(self, record: Any):
        self.record = record
        self.tvalue = self.rvalue = ""
        self.threshold = self.rnd = 0
        self.error: SamplingError | None = None
        for key in ("sampling.threshold", "sampling.randomness"):
            text = _string_attribute(record.attributes, key)
            if not text:
                continue
            try:
                if key == "sampling.threshold":
                    self.threshold, self.tvalue = sampling.tvalue_to_threshold(text), text
                else:
                    self.rnd, self.rvalue = sampling.rvalue_to_randomness(text), text
            except SamplingError as exc:
                self.error = self.error or exc

    def arriving(self) -> int | None:
        return self.threshold if self.tvalue else None

    def randomness(self) -> int | None:
        return self.rnd if self.rvalue else None

    def set_randomness(self, rnd: int) -> None:
        self.rnd, self.rvalue = rnd, sampling.randomness_rvalue(rnd)
        _put_string(self.record.attributes, "sampling.randomness", self.rvalue)

    def clear_threshold(self) -> None:
        self.threshold, self.tvalue = NEVER_SAMPLE, ""
        attrs = self.record.attributes
        for i, kv in enumerate(attrs):
            if kv.key == "sampling.threshold":
                del attrs[i]
                return

    def update_threshold(self, threshold: int) -> bool:
        if self.tvalue and threshold < self.threshold:
            return False
        _put_string(self.record.attributes, "sampling.threshold", sampling.threshold_tvalue(threshold))
        return True

    def finish(self) -> None:
        pass


Carrier = _SpanCarrier | _RecordCarrier
# Errors otelcol logs at debug level (samplerError); others at info.
MISSING_RANDOMNESS = "missing randomness"
RANDOMNESS_IN_USE = "item has sampling randomness, equalizing or proportional mode recommended"
THRESHOLD_IN_USE = "item has sampling threshold, equalizing or proportional mode recommended"
INCONSISTENT_THRESHOLD = "inconsistent arriving threshold: item should not have been sampled"
SAMPLER_ERRORS = frozenset({MISSING_RANDOMNESS, RANDOMNESS_IN_USE, THRESHOLD_IN_USE, INCONSISTENT_THRESHOLD})


def _priority(span: Any) -> bool | None:
    """parseSpanSamplingPriority (tracesprocessor.go): sampling.priority 0 drops, > 0 keeps (int, double or a
    string holding a number); anything else defers."""
    for kv in span.attributes:
        if kv.key != "sampling.priority":
            continue
        kind = kv.value.WhichOneof("value")
        if kind == "int_value":
            value = float(kv.value.int_value)
        elif kind == "double_value":
            value = kv.value.double_value
        elif kind == "string_value":
            parsed = parse_float(kv.value.string_value)
            if parsed is None:
                return None
            value = parsed
        else:
            return None
        return None if math.isnan(value) or value < 0 else value > 0
    return None


DECISION_PROSE = """Each span or log record is decided alone, exactly as otelcol decides it, so collectors running
either agree. `hash_seed` keeps a trace when FNV-1a 32 of the seed (4 little-endian bytes) and the trace id,
masked to 14 bits, is below `sampling_percentage` x 163.84 (in float32, truncated); it writes the randomness
and threshold it used into the tracestate (`ot=rv:...;th:...`) and drops items already carrying OTEP 235
sampling information (`fail_closed`). `equalizing` and `proportional` read the randomness from the
tracestate's `rv` or the trace id's last 7 bytes and write the resulting `th`: equalizing raises an
arriving threshold to the configured one, proportional multiplies the arriving probability by it. A span
whose `sampling.priority` is 0 is dropped and one above 0 kept; a log record's `sampling_priority`
attribute is its own percentage. Logs use the `sampling.randomness` and `sampling.threshold` attributes in
place of the tracestate. Items with an all-zero trace id (and, for logs, no `from_attribute` value) have no
randomness: dropped with `fail_closed`, kept without."""


@register
class ProbabilisticSamplerProcessor(Processor):
    type_name = "probabilistic_sampler"
    description = "Keeps a percentage of spans or log records by otelcol's trace id hash (hash_seed) or OTEP 235 consistent sampling (equalizing, proportional)."
    config_class = ProbabilisticSamplerConfig
    signals = frozenset({Signal.TRACES, Signal.LOGS})
    capabilities = Capabilities(mutates_data=True)

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Decisions", DECISION_PROSE, None)]

    def __init__(self, settings: Any, config: ProbabilisticSamplerConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.sampler = make_sampler(config)
        self.fail_closed = config.fail_closed
        self.logs_trace_id = config.attribute_source == "traceID"
        self.source_attribute = config.from_attribute
        self.priority_attribute = config.sampling_priority
        self.precision = config.sampling_precision
        t, pid = self.telemetry, str(self.id)
        labels = ("processor", "policy", "sampled")
        if self.signal is Signal.TRACES:
            self._counters = [
                t.counter("otelcol_processor_probabilistic_sampler_count_traces_sampled", "[DEPRECATED] Count of spans that were sampled or not.", labels),
                t.counter("otelcol_processor_probabilistic_sampler_count_spans_processed_total", "Count of spans that were sampled or not.", labels),
            ]
        else:
            self._counters = [t.counter("otelcol_processor_probabilistic_sampler_count_logs_sampled", "Count of logs that were sampled or not.", labels)]
        self._pid = pid

    async def consume(self, envelope: Envelope) -> Rejected | None:
        request = envelope.request
        decide: Callable[[Any], tuple[str, bool]]
        if self.signal is Signal.TRACES:
            resources, scopes, items, decide = request.resource_spans, "scope_spans", "spans", self._keep_span
        else:
            resources, scopes, items, decide = request.resource_logs, "scope_logs", "log_records", self._keep_record
        counts: dict[tuple[str, bool], int] = {}
        for r_index in range(len(resources) - 1, -1, -1):
            scope_list = getattr(resources[r_index], scopes)
            for s_index in range(len(scope_list) - 1, -1, -1):
                held = getattr(scope_list[s_index], items)
                for i in range(len(held) - 1, -1, -1):
                    policy, keep = decide(held[i])
                    counts[(policy, keep)] = counts.get((policy, keep), 0) + 1
                    if not keep:
                        del held[i]
                if not held:
                    del scope_list[s_index]
            if not scope_list:
                del resources[r_index]
        for (policy, keep), n in counts.items():
            for counter in self._counters:
                counter.labels(self._pid, policy, "true" if keep else "false").inc(n)
        if not resources:
            return None  # ErrSkipProcessingData: nothing is forwarded
        return await self.next.consume(envelope)

    # commonShouldSampleLogic (sampler_mode.go) ---------------------------------------------------------

    def _decide(self, policy: str, rnd: int | None, carrier: Carrier | None, error: str | None,
                forced: int | None, forced_policy: str, kind: str) -> tuple[str, bool]:
        if error is None:
            if rnd is None:
                error = MISSING_RANDOMNESS
            elif carrier is not None:
                arriving = carrier.arriving()
                if arriving is not None and arriving > rnd:
                    carrier.clear_threshold()
                    error = INCONSISTENT_THRESHOLD
        if error is not None:
            log = self.log.debug if error in SAMPLER_ERRORS else self.log.info
            log(f"{kind} sampler", error=error)
            threshold = NEVER_SAMPLE if self.fail_closed else ALWAYS_SAMPLE
        else:
            threshold = self.sampler.decide(carrier.arriving() if carrier is not None else None)
        if forced is not None:
            threshold, policy = forced, forced_policy
        randomness = rnd if rnd is not None else ALL_PROBABILITIES_RANDOMNESS
        sampled = threshold <= randomness
        if sampled and carrier is not None:
            if not carrier.update_threshold(threshold):
                self.log.debug(f"{kind} sampler", error="cannot raise existing sampling probability")
            carrier.finish()
        return policy, sampled

    def _keep_span(self, span: Any) -> tuple[str, bool]:
        state, parse_error = TraceState.parse(span.trace_state) if span.trace_state else (TraceState(), None)
        carrier: _SpanCarrier | None = _SpanCarrier(span, state)
        error = str(parse_error) if parse_error is not None else None
        has_trace_id = len(span.trace_id) == 16 and span.trace_id != _EMPTY_TRACE_ID
        sampler = self.sampler
        rnd: int | None
        if sampler.never:
            # A fake randomness: it is never used but avoids the missing-randomness check.
            policy, rnd = "sampling_priority", ALL_PROBABILITIES_RANDOMNESS
        elif isinstance(sampler, _Hashing):
            policy, rnd = "trace_id_hash", sampler.randomness(span.trace_id) if has_trace_id else None
            if parse_error is not None:
                carrier = None
            elif state.rvalue:
                error, carrier = RANDOMNESS_IN_USE, None
            elif state.tvalue:
                error, carrier = THRESHOLD_IN_USE, None
            else:
                state.set_randomness(rnd if rnd is not None else ALL_PROBABILITIES_RANDOMNESS)
        else:
            policy, rnd = "missing_randomness", None
            if parse_error is not None:
                carrier = None
            elif state.rvalue:
                policy, rnd = "sampling_randomness", state.randomness
            elif has_trace_id:
                policy, rnd = "trace_id_w3c", sampling.trace_id_randomness(bytes(span.trace_id))
        if rnd is None:
            policy = "missing_randomness"
        priority = _priority(span)
        forced = None if priority is None else (ALWAYS_SAMPLE if priority else NEVER_SAMPLE)
        return self._decide(policy, rnd, carrier, error, forced, "sampling_priority", "traces")

    def _keep_record(self, record: Any) -> tuple[str, bool]:
        carrier: _RecordCarrier | None = _RecordCarrier(record)
        assert carrier is not None
        parse_error = carrier.error
        error = str(parse_error) if parse_error is not None else None
        has_trace_id = len(record.trace_id) == 16 and record.trace_id != _EMPTY_TRACE_ID
        sampler = self.sampler
        rnd: int | None = None
        policy = "missing_randomness"
        if sampler.never:
            policy, rnd = "sampling_priority", ALL_PROBABILITIES_RANDOMNESS
        elif isinstance(sampler, _Hashing):
            if self.logs_trace_id and has_trace_id:
                policy, rnd = "trace_id_hash", sampler.randomness(record.trace_id)
            if rnd is None and self.source_attribute:
                data = _attribute_bytes(record.attributes, self.source_attribute)
                if data:
                    policy, rnd = self.source_attribute, sampler.randomness(data)
            if parse_error is not None:
                carrier = None
            elif carrier.rvalue:
                error, carrier = RANDOMNESS_IN_USE, None
            elif carrier.tvalue:
                error, carrier = THRESHOLD_IN_USE, None
            elif rnd is not None:
                carrier.set_randomness(rnd)
        else:
            if parse_error is not None:
                carrier = None
            elif carrier.rvalue:
                policy, rnd = "sampling_randomness", carrier.rnd
            elif has_trace_id:
                policy, rnd = "trace_id_w3c", sampling.trace_id_randomness(bytes(record.trace_id))
        forced = self._record_priority(record)
        return self._decide(policy, rnd, carrier, error, forced, "sampling_priority", "logs")

    def _record_priority(self, record: Any) -> int | None:
        """logRecordToPriorityThreshold (logsprocessor.go): the record's own percentage, when it is a valid one."""
        if not self.priority_attribute:
            return None
        for kv in record.attributes:
            if kv.key != self.priority_attribute:
                continue
            kind = kv.value.WhichOneof("value")
            if kind == "double_value":
                prob = kv.value.double_value / 100.0
            elif kind == "int_value":
                prob = float(kv.value.int_value) / 100.0
            else:
                return None
            if prob == 0:
                return None
            try:
                return sampling.probability_to_threshold(prob, self.precision)
            except SamplingError:
                return None
        return None
