"""OpenTelemetry consistent probability sampling (OTEP 235) as contrib's pkg/sampling has it, plus the
legacy hash of contrib's probabilisticsamplerprocessor (fnvhasher.go, sampler_mode.go).

Thresholds and randomness are 56-bit integers: an item is sampled when threshold <= randomness; threshold 0
keeps everything, 2**56 nothing. Randomness comes from a tracestate R-value (`ot=rv:<14 hex>`), from the
trace id's last 7 bytes (W3C level 2), or in `hash_seed` mode from FNV-1a 32 of the seed and the trace id,
spread over 56 bits so that otelcol's 14-bit comparison and the threshold comparison agree. A threshold
travels as a T-value (`th:<hex>`, trailing zeros dropped).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

MAX_ADJUSTED_COUNT = 1 << 56
NUM_HEX_DIGITS = 14
ALWAYS_SAMPLE = 0
NEVER_SAMPLE = MAX_ADJUSTED_COUNT
ALL_PROBABILITIES_RANDOMNESS = MAX_ADJUSTED_COUNT - 1
MIN_SAMPLING_PROBABILITY = 1.0 / MAX_ADJUSTED_COUNT

NUM_HASH_BUCKETS_LG2 = 14
NUM_HASH_BUCKETS = 1 << NUM_HASH_BUCKETS_LG2
BIT_MASK_HASH_BUCKETS = NUM_HASH_BUCKETS - 1


class SamplingError(ValueError):
    """A tracestate or record value otelcol's pkg/sampling refuses (the message is otelcol's)."""


def float32(x: float) -> float:
    """x rounded to a Go float32 (sampling_percentage is one in otelcol)."""
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


PERCENTAGE_SCALE_FACTOR = float32(NUM_HASH_BUCKETS / 100.0)


# The legacy hash ------------------------------------------------------------------------------------------

_FNV32_OFFSET, _FNV32_PRIME = 0x811C9DC5, 0x01000193


def _fnv32a(data: bytes, h: int) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def seeded(seed: int) -> int:
    """The FNV-1a 32 state after the seed's 4 little-endian bytes (computeHash's first write), to start from."""
    return _fnv32a(seed.to_bytes(4, "little"), _FNV32_OFFSET)


def compute_hash(data: bytes, seed: int) -> int:
    """computeHash (fnvhasher.go): FNV-1a 32 over the seed's 4 little-endian bytes, then `data`."""
    return _fnv32a(data, seeded(seed))


def randomness_from_bytes(data: bytes, seed: int, state: int | None = None) -> int:
    """randomnessFromBytes (sampler_mode.go): R' = buckets-1-hash14 on top, the hash's 18 unused bits mixed in
    the middle, hash14 at the bottom. `state`: `seeded(seed)`, when the caller keeps it."""
    hashed32 = _fnv32a(data, seeded(seed) if state is None else state)
    hashed = hashed32 & BIT_MASK_HASH_BUCKETS
    rprime14 = NUM_HASH_BUCKETS - 1 - hashed
    unused18 = hashed32 >> (32 - NUM_HASH_BUCKETS_LG2)
    mixed28 = (unused18 ^ (unused18 << 10)) & ((1 << 28) - 1)
    return ((rprime14 << 42) | (mixed28 << 14) | hashed) & (MAX_ADJUSTED_COUNT - 1)


def hash_seed_threshold(percentage: float) -> int:
    """The hash_seed sampler's reject threshold: uint32(pct * 163.84) in float32, truncated (otelcol's
    original arithmetic, kept so that old and new collectors agree), as a 56-bit threshold."""
    scaled = int(float32(float32(min(percentage, 100.0)) * PERCENTAGE_SCALE_FACTOR))
    if scaled == 0:
        return NEVER_SAMPLE
    return (NUM_HASH_BUCKETS - scaled) << 42


# Randomness and thresholds -------------------------------------------------------------------------------


def trace_id_randomness(trace_id: bytes) -> int:
    """TraceIDToRandomness: the least significant 56 bits of the trace id."""
    return int.from_bytes(trace_id[8:16], "big") & (MAX_ADJUSTED_COUNT - 1)


_HEX = re.compile(r"[0-9a-fA-F]+")


def rvalue_to_randomness(text: str) -> int:
    if len(text) != NUM_HEX_DIGITS:
        raise SamplingError("r-value must have 14 hex digits")
    if not _HEX.fullmatch(text):
        raise SamplingError("invalid syntax")
    return int(text, 16)


def randomness_rvalue(rnd: int) -> str:
    return f"{rnd:014x}" if 0 <= rnd < MAX_ADJUSTED_COUNT else ""


def tvalue_to_threshold(text: str) -> int:
    if len(text) > NUM_HEX_DIGITS:
        raise SamplingError("t-value exceeds 14 hex digits")
    if not text:
        raise SamplingError("t-value is empty")
    if not _HEX.fullmatch(text):
        raise SamplingError("invalid syntax")
    return int(text, 16) << (4 * (NUM_HEX_DIGITS - len(text)))


def threshold_tvalue(threshold: int) -> str:
    if threshold == ALWAYS_SAMPLE:
        return "0"
    if threshold >= NEVER_SAMPLE:
        return ""
    return f"{threshold:014x}".rstrip("0")


def threshold_probability(threshold: int) -> float:
    return float(MAX_ADJUSTED_COUNT - threshold) / float(MAX_ADJUSTED_COUNT)


def _go_round(x: float) -> int:
    """math.Round: half away from zero (x >= 0 here)."""
    whole = math.floor(x)
    return whole + 1 if x - whole >= 0.5 else whole


def probability_to_threshold(fraction: float, precision: int) -> int:
    """ProbabilityToThresholdWithPrecision (probability.go); SamplingError when out of [2**-56, 1]."""
    if precision == 0:
        precision = NUM_HEX_DIGITS
    if not MIN_SAMPLING_PROBABILITY <= fraction <= 1:
        raise SamplingError("sampling probability out of the range [1/MaxAdjustedCount, 1]")
    if fraction == 1:
        return ALWAYS_SAMPLE
    _, exp_f = math.frexp(fraction)
    _, exp_r = math.frexp(1 - fraction)
    # Go's integer division truncates toward zero; both exponents are <= 0.
    precision = min(NUM_HEX_DIGITS, max(precision + int(-exp_f / 4), precision + int(-exp_r / 4)))
    threshold = MAX_ADJUSTED_COUNT - _go_round(fraction * float(MAX_ADJUSTED_COUNT))
    shift = 4 * (NUM_HEX_DIGITS - precision)
    if shift:
        threshold = ((threshold + (1 << (shift - 1))) >> shift) << shift
    return threshold


# W3C tracestate with the OpenTelemetry `ot` member --------------------------------------------------------

_W3C_KEY = r"(?:[a-z][a-z0-9\-*/_]{0,255}|[a-z0-9][a-z0-9\-*/_]{0,240}@[a-z][a-z0-9\-*/_]{0,13})"
_W3C_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_W3C_MEMBER = rf"(?:{_W3C_KEY}={_W3C_VALUE})|(?:[ \t]*)"
_W3C_TRACESTATE = re.compile(rf"(?:{_W3C_MEMBER})(?:[ \t]*,[ \t]*(?:{_W3C_MEMBER}))*")
_OTEL_MEMBER = re.compile(r"[a-z][a-z0-9]*:[a-zA-Z0-9._\-]*")


@dataclass
class TraceState:
    """A parsed W3C tracestate (NewW3CTraceState): the `ot` member's rv and th, its other sub-keys, and the
    other vendors' members, serialized back in otelcol's order (ot first, rv then th)."""

    rvalue: str = ""
    randomness: int = 0
    tvalue: str = ""
    threshold: int = ALWAYS_SAMPLE
    ot_extra: list[tuple[str, str]] = field(default_factory=list)
    members: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> tuple[TraceState, SamplingError | None]:
        """The state and the first error found (otelcol keeps what parsed and reports the error)."""
        state = cls()
        if len(text) > 1024:
            return state, SamplingError("invalid tracestate size")
        if not _W3C_TRACESTATE.fullmatch(text):
            return state, SamplingError("invalid syntax")
        error: SamplingError | None = None
        items = 0
        for raw in text.split(","):
            items += 1
            if items >= 32:
                return state, SamplingError("invalid tracestate item count")
            member = raw.strip(" \t")
            if not member or "=" not in member:
                continue
            key, _, value = member.partition("=")
            if key != "ot":
                state.members.append((key, value))
                continue
            problem = state._parse_ot(value)
            error = error or problem
        return state, error

    def _parse_ot(self, value: str) -> SamplingError | None:
        if len(value) > 256:
            return SamplingError("invalid tracestate size")
        parts = value.split(";")
        if not all(_OTEL_MEMBER.fullmatch(p) for p in parts):
            return SamplingError("invalid syntax")
        error: SamplingError | None = None
        for part in parts:
            key, _, sub = part.partition(":")
            try:
                if key == "rv":
                    self.rvalue, self.randomness = "", 0
                    self.randomness = rvalue_to_randomness(sub)
                    self.rvalue = sub
                elif key == "th":
                    self.tvalue, self.threshold = "", ALWAYS_SAMPLE
                    self.threshold = tvalue_to_threshold(sub)
                    self.tvalue = sub
                else:
                    self.ot_extra.append((key, sub))
            except SamplingError as exc:
                error = error or exc
        return error

    def set_randomness(self, rnd: int) -> None:
        self.randomness, self.rvalue = rnd, randomness_rvalue(rnd)

    def clear_threshold(self) -> None:
        self.tvalue, self.threshold = "", ALWAYS_SAMPLE

    def update_threshold(self, threshold: int) -> bool:
        """UpdateTValueWithSampling: False (unchanged) when it would raise an arriving probability."""
        if self.tvalue and self.threshold > threshold:
            return False
        self.threshold, self.tvalue = threshold, threshold_tvalue(threshold)
        return True

    def serialize(self) -> str:
        ot = [f"{k}:{v}" for k, v in (("rv", self.rvalue), ("th", self.tvalue)) if v] + [f"{k}:{v}" for k, v in self.ot_extra]
        members = ([f"ot={';'.join(ot)}"] if ot else []) + [f"{k}={v}" for k, v in self.members]
        return ",".join(members)
