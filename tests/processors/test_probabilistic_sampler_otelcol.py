"""probabilistic_sampler decides as otelcol does: otelcol-contrib's own test cases, as tables, each citing the
contrib file and function it comes from (processor/probabilisticsamplerprocessor/*_test.go)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import Any

import pytest
import structlog
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.component import Signal
from collector.envelope import Envelope
from collector.processors.probabilistic_sampler import ProbabilisticSamplerConfig, sampling
from collector.testing import Sink, build_processor, kv, traces_request

DEFAULT_HASH_SEED = 4312  # tracesprocessor_test.go: defaultHashSeed
DEFAULT_TID = bytes.fromhex("fefefefefefefefefe80000000000000")
IMPROBABLE_TID = bytes.fromhex("111111111111111111ffffffffffffff")
SPAN_ID = (0xFEFEFEFE).to_bytes(8, "big")
ALL_MODES = ("hash_seed", "equalizing", "proportional")  # sampler_mode.go AllModes


def config(**kwargs: Any) -> ProbabilisticSamplerConfig:
    """A config as otelcol's tests build one (`&Config{...}`): Go zero values, not the factory defaults."""
    base = {"sampling_percentage": 0.0, "hash_seed": 0, "mode": "", "fail_closed": False, "sampling_precision": 0,
            "attribute_source": "", "from_attribute": "", "sampling_priority": ""}
    return ProbabilisticSamplerConfig(**{**base, **kwargs})


def run(cfg: ProbabilisticSamplerConfig, request: Any, signal: Signal = Signal.TRACES) -> tuple[Sink, list[dict[str, Any]]]:
    sink = Sink()
    # The sampler logs its per-item errors at debug; an earlier test may have configured a level filter,
    # and a component's logger is bound (its level fixed) when the component is built.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        processor = build_processor("probabilistic_sampler", cfg, sink, signal=signal)
        with structlog.testing.capture_logs() as logs:
            asyncio.run(processor.consume(Envelope.of(request)))
    finally:
        structlog.configure(**saved)
    return sink, logs


def one_span(tid: bytes, tracestate: str = "", key: str = "", value: Any = None) -> Any:
    span = Span(trace_id=tid, span_id=SPAN_ID, name="span", trace_state=tracestate)
    if key:
        span.attributes.append(kv(key, value))
    return traces_request(span)


def test_empty_hash_function() -> None:
    """tracesprocessor_test.go TestEmptyHashFunction."""
    assert sampling.compute_hash(b"", 0) & sampling.BIT_MASK_HASH_BUCKETS == 0x3515
    assert sampling.compute_hash(bytes(16), 0) & sampling.BIT_MASK_HASH_BUCKETS == 0x2455


@pytest.mark.parametrize(("pct", "tvout"), [(100, "0"), (75, "4"), (50, "8"), (25, "c"), (10, "e668"), (100.0 / 3, "aaac")])
def test_hash_seed_trace_state(pct: float, tvout: str) -> None:
    """tracesprocessor_test.go Test_tracesamplerprocessor_HashSeedTraceState: hash_seed writes rv and th."""
    rng = random.Random(7)
    found = 0
    cfg = config(sampling_percentage=pct, mode="hash_seed", hash_seed=DEFAULT_HASH_SEED, sampling_precision=4)
    while found < 10:
        sink, _ = run(cfg, one_span(rng.randbytes(16)))
        if not sink.spans:
            continue
        state, error = sampling.TraceState.parse(sink.spans[0].trace_state)
        assert error is None and state.tvalue == tvout and state.rvalue
        assert state.threshold <= state.randomness
        found += 1


# tracesprocessor_test.go Test_tracesamplerprocessor_TraceState: (name, tid, cfg, tracestate, attribute, value,
# {mode: (sampled, tracestate)} or one answer for both modes; None: not sampled).
TRACE_STATE_CASES: list[tuple[str, bytes | None, dict[str, Any], str, str, Any, Any]] = [
    ("100 percent", None, {"sampling_percentage": 100}, "", "", None, "ot=th:0"),
    ("50 percent sampled", None, {"sampling_percentage": 50}, "", "", None, "ot=th:8"),
    ("25 percent sampled", bytes.fromhex("ddddddddddddddddddc0000000000000"), {"sampling_percentage": 25}, "", "", None, "ot=th:c"),
    ("25 percent unsampled", bytes.fromhex("ddddddddddddddddddb0000000000000"), {"sampling_percentage": 25}, "", "", None, None),
    ("1 percent sampled", None, {"sampling_percentage": 1}, "ot=rv:FD70A3D70A3D71", "", None, "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
    ("1 percent sampled with rvalue and precision 4", None, {"sampling_percentage": 1, "sampling_precision": 4}, "ot=rv:FD70A3D70A3D71", "", None,
     "ot=rv:FD70A3D70A3D71;th:fd70a"),
    ("1 percent sampled with rvalue and precision 3", None, {"sampling_percentage": 1, "sampling_precision": 3}, "ot=rv:FD70A3D70A3D71", "", None, None),
    ("1 percent not sampled with rvalue", None, {"sampling_percentage": 1}, "ot=rv:FD70A3D70A3D70", "", None, None),
    ("49 percent not sampled with default tid", None, {"sampling_percentage": 49}, "", "", None, None),
    ("1 percent sampled with rvalue", None, {"sampling_percentage": 1}, "ot=rv:fd70B000000000", "", None, "ot=rv:fd70B000000000;th:fd70a3d70a3d71"),
    ("1 percent sampled with tid", bytes.fromhex("a0a0a0a0a0a0a0a0a0fe000000000000"), {"sampling_percentage": 1, "sampling_precision": 4}, "", "", None, "ot=th:fd70a"),
    ("sampled by priority", None, {"sampling_percentage": 1}, "", "sampling.priority", 2, "ot=th:0"),
    ("not sampled by priority", None, {"sampling_percentage": 99}, "", "sampling.priority", 0, None),
    ("incoming 50 percent with rvalue", None, {"sampling_percentage": 50}, "ot=rv:90000000000000;th:80000000000000", "", None,
     {"equalizing": "ot=rv:90000000000000;th:8", "proportional": None}),
    ("incoming 50 percent at 25 percent not sampled", None, {"sampling_percentage": 25}, "ot=th:8", "", None, None),
    ("incoming 50 percent at 25 percent sampled", bytes.fromhex("ff" * 16), {"sampling_percentage": 25}, "ot=th:8", "", None,
     {"equalizing": "ot=th:c", "proportional": "ot=th:e"}),
    ("equalizing vs proportional", None, {"sampling_percentage": 50}, "ot=rv:c0000000000000;th:8", "", None,
     {"equalizing": "ot=rv:c0000000000000;th:8", "proportional": "ot=rv:c0000000000000;th:c"}),
    ("inconsistent arriving threshold", None, {"sampling_percentage": 100}, "ot=rv:40000000000000;th:8", "", None, "ot=rv:40000000000000;th:0"),
    ("inconsistent arriving threshold not sampled", None, {"sampling_percentage": 1, "fail_closed": True}, "ot=rv:40000000000000;th:8", "", None, None),
    ("40 percent precision 3 with rvalue", None, {"sampling_percentage": 40, "sampling_precision": 3}, "ot=rv:a0000000000000", "", None,
     "ot=rv:a0000000000000;th:99a"),
    ("arriving 50 percent sampled at 40 percent precision 6 with tid", bytes.fromhex("a0a0a0a0a0a0a0a0a0d0000000000000"),
     {"sampling_percentage": 40, "sampling_precision": 6}, "ot=th:8", "", None, {"proportional": "ot=th:cccccd", "equalizing": "ot=th:99999a"}),
    ("arriving 50 percent sampled at 40 percent partly sampled", bytes.fromhex("a0a0a0a0a0a0a0a0a0b0000000000000"),
     {"sampling_percentage": 40, "sampling_precision": 3}, "ot=th:8", "", None, {"proportional": None, "equalizing": "ot=th:99a"}),
    ("arriving 50 percent sampled at 40 percent not sampled", bytes.fromhex("a0a0a0a0a0a0a0a0a080000000000000"),
     {"sampling_percentage": 40, "sampling_precision": 3}, "ot=th:8", "", None, None),
    ("200 percent equals 100 percent", None, {"sampling_percentage": 200}, "", "", None, "ot=th:0"),
    ("tiny probability rounding", IMPROBABLE_TID, {"sampling_percentage": 100 * 2.0**-14}, "ot=th:fffc", "", None,
     {"equalizing": "ot=th:fffc", "proportional": "ot=th:fffffff"}),
    ("almost 100pct sampling", IMPROBABLE_TID, {"sampling_percentage": (1 - 8e-7) * 100, "sampling_precision": 10}, "", "", None, "ot=th:00000cccccccd"),
    ("probability underflow", IMPROBABLE_TID, {"sampling_percentage": 2.0**-4}, "ot=th:fffffffffffff8", "", None,
     {"equalizing": "ot=th:fffffffffffff8", "proportional": None}),
]


@pytest.mark.parametrize("mode", ["equalizing", "proportional"])
@pytest.mark.parametrize(("name", "tid", "cfg", "tracestate", "key", "value", "expect"), TRACE_STATE_CASES, ids=[c[0] for c in TRACE_STATE_CASES])
def test_trace_state(mode: str, name: str, tid: bytes | None, cfg: dict[str, Any], tracestate: str, key: str, value: Any, expect: Any) -> None:
    want = expect.get(mode) if isinstance(expect, dict) else expect
    sink, _ = run(config(**cfg, mode=mode, hash_seed=DEFAULT_HASH_SEED), one_span(tid or DEFAULT_TID, tracestate, key, value))
    if want is None:
        assert sink.spans == []
    else:
        assert [s.trace_state for s in sink.spans] == [want]


@pytest.mark.parametrize("mode", ["equalizing", "proportional"])
@pytest.mark.parametrize(("tid", "tracestate", "message"), [
    (bytes(16), "", "missing randomness"),
    (DEFAULT_TID, "ot=rv:abababababababab", "r-value must have 14 hex digits"),
    (DEFAULT_TID, "ot=th:abababababababab", "t-value exceeds 14 hex digits"),
    (DEFAULT_TID, "ot=th:-1", "invalid syntax"),
    (bytes.fromhex("ffffffffffffffffff70000000000000"), "ot=th:8", "inconsistent arriving threshold"),
    (DEFAULT_TID, "ot=th:8;rv:70000000000000", "inconsistent arriving threshold"),
])
def test_trace_state_errors(mode: str, tid: bytes, tracestate: str, message: str) -> None:
    """tracesprocessor_test.go Test_tracesamplerprocessor_TraceStateErrors: with fail_closed, dropped and logged."""
    sink, logs = run(config(sampling_percentage=100, mode=mode, fail_closed=True), one_span(tid, tracestate))
    assert sink.spans == []
    assert [(entry["event"], message in entry["error"]) for entry in logs] == [("traces sampler", True)]


@pytest.mark.parametrize(("pct", "fail_closed", "sampled"), [(0, True, False), (62, True, False), (100, True, False),
                                                              (0, False, False), (62, False, True), (100, False, True)])
def test_missing_randomness(pct: float, fail_closed: bool, sampled: bool) -> None:
    """tracesprocessor_test.go Test_tracessamplerprocessor_MissingRandomness: an empty trace id."""
    sink, logs = run(config(sampling_percentage=pct, hash_seed=DEFAULT_HASH_SEED, fail_closed=fail_closed), one_span(bytes(16)))
    assert len(sink.spans) == (1 if sampled else 0)
    assert [entry["error"] for entry in logs] == (["missing randomness"] if pct else [])


PRIORITY_CASES = [
    ("must_sample", 0.0, "sampling.priority", 2, True),
    ("must_sample_double", 0.0, "sampling.priority", 1.0, True),
    ("must_sample_string", 0.0, "sampling.priority", "1", True),
    ("must_not_sample", 100.0, "sampling.priority", 0, False),
    ("must_not_sample_double", 100.0, "sampling.priority", 0.0, False),
    ("must_not_sample_string", 100.0, "sampling.priority", "0", False),
    ("defer_sample_expect_not_sampled", 0.0, "no.sampling.priority", 2, False),
    ("defer_sample_expect_sampled", 100.0, "no.sampling.priority", 2, True),
]


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize(("name", "pct", "key", "value", "sampled"), PRIORITY_CASES, ids=[c[0] for c in PRIORITY_CASES])
def test_span_sampling_priority(mode: str, name: str, pct: float, key: str, value: Any, sampled: bool) -> None:
    """tracesprocessor_test.go Test_tracesamplerprocessor_SpanSamplingPriority (initSpanWithAttribute's trace id:
    randomness 0, sampled only at 100% without a priority)."""
    tid = bytes([1] + [0] * 15)
    sink, _ = run(config(sampling_percentage=pct, mode=mode, hash_seed=DEFAULT_HASH_SEED), one_span(tid, "", key, value))
    assert len(sink.spans) == (1 if sampled else 0)


def log_records_100() -> ExportLogsServiceRequest:
    """logsprocessor_test.go TestLogsSampling's 100 records: trace id 8 zero bytes then i repeated 8 times,
    `rando` = computeHash(trace id, 123), `foo` (bytes) and `bar` (TraceID().String()) on even records, `priority` 100.0
    on every fourth."""
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for i in range(100):
        tid = bytes(8) + bytes([i]) * 8
        record = records.add(time_unix_nano=1649400860, severity_number=5, trace_id=tid)
        record.attributes.append(kv("rando", sampling.compute_hash(tid, 123)))
        if i % 2 == 0:
            record.attributes.append(kv("foo", tid))
            record.attributes.append(kv("bar", tid.hex() if any(tid) else ""))  # pcommon TraceID.String(): "" when empty
        if i % 4 == 0:
            record.attributes.append(kv("priority", 100.0))
    return request


LOGS_SAMPLING_CASES = [
    ("happy_path", {"sampling_percentage": 100}, 100),
    ("nothing", {"sampling_percentage": 0, "fail_closed": True}, 0),
    ("roughly half", {"sampling_percentage": 50, "attribute_source": "traceID", "mode": "hash_seed", "fail_closed": True}, 45),
    ("sampling_source no sampling", {"sampling_percentage": 0, "attribute_source": "record", "from_attribute": "foo"}, 0),
    ("sampling_source all sampling", {"sampling_percentage": 100, "attribute_source": "record", "from_attribute": "foo"}, 100),
    ("sampling_source sampling", {"sampling_percentage": 50, "attribute_source": "record", "from_attribute": "foo", "fail_closed": True}, 23),
    ("sampling_source sampling as string", {"sampling_percentage": 50, "attribute_source": "record", "from_attribute": "bar", "fail_closed": True}, 29),
    ("sampling_priority_0_record", {"sampling_percentage": 0, "sampling_priority": "priority", "attribute_source": "record", "from_attribute": "rando"}, 25),
    ("sampling_priority_50_record", {"sampling_percentage": 50, "sampling_priority": "priority", "attribute_source": "record", "from_attribute": "rando"}, 64),
    ("sampling_priority_100_record", {"sampling_percentage": 100, "sampling_priority": "priority", "attribute_source": "record", "from_attribute": "rando"}, 100),
    ("sampling_priority_0_traceid", {"sampling_percentage": 0, "sampling_priority": "priority", "attribute_source": "traceID"}, 25),
    ("sampling_priority_50_traceid", {"sampling_percentage": 50, "sampling_priority": "priority", "attribute_source": "traceID"}, 57),
    ("sampling_priority_100_traceid", {"sampling_percentage": 100, "sampling_priority": "priority", "attribute_source": "traceID"}, 100),
    ("sampling_priority with sampling field", {"sampling_percentage": 0, "attribute_source": "record", "from_attribute": "foo", "sampling_priority": "priority"}, 25),
]


@pytest.mark.parametrize(("name", "cfg", "received"), LOGS_SAMPLING_CASES, ids=[c[0] for c in LOGS_SAMPLING_CASES])
def test_logs_sampling(name: str, cfg: dict[str, Any], received: int) -> None:
    """logsprocessor_test.go TestLogsSampling: otelcol's exact counts over its 100 records."""
    sink, _ = run(config(**cfg), log_records_100(), Signal.LOGS)
    assert sum(len(sl.log_records) for r in sink.requests for rl in r.resource_logs for sl in rl.scope_logs) == received


LOGS_STATE_CASES: list[tuple[str, dict[str, Any], bytes, dict[str, Any], str, dict[str, Any] | None]] = [
    ("100 percent traceID", {"sampling_percentage": 100, "attribute_source": "traceID", "mode": "proportional"}, DEFAULT_TID,
     {"ignored": "value"}, "", {"sampling.threshold": "0", "ignored": "value"}),
    ("100 percent traceID hash_seed", {"sampling_percentage": 100, "attribute_source": "traceID", "mode": "hash_seed", "hash_seed": 22}, DEFAULT_TID,
     {"K": "V"}, "", {"K": "V", "sampling.threshold": "0", "sampling.randomness": sampling.randomness_rvalue(sampling.randomness_from_bytes(DEFAULT_TID, 22))}),
    ("100 percent attribute", {"sampling_percentage": 100, "attribute_source": "record", "from_attribute": "veryrandom", "hash_seed": 49}, b"",
     {"veryrandom": "1234"}, "", {"sampling.threshold": "0", "sampling.randomness": sampling.randomness_rvalue(sampling.randomness_from_bytes(b"1234", 49)),
                                  "veryrandom": "1234"}),
    ("0 percent traceID", {"sampling_percentage": 0, "attribute_source": "traceID"}, DEFAULT_TID, {}, "", None),
    ("10 percent priority sampled incoming randomness", {"sampling_percentage": 0, "attribute_source": "traceID", "sampling_priority": "veryrandom",
                                                         "sampling_precision": 6}, DEFAULT_TID,
     {"sampling.randomness": "e6147c00000000", "veryrandom": 10.125}, "",
     {"sampling.randomness": "e6147c00000000", "sampling.threshold": "e6147b", "veryrandom": 10.125}),
    ("25 percent incoming", {"sampling_percentage": 50, "attribute_source": "traceID", "mode": "proportional"},
     bytes.fromhex("fefefefefefefefefef0000000000000"), {"sampling.threshold": "c"}, "", {"sampling.threshold": "e"}),
    ("25 percent arriving inconsistent", {"sampling_percentage": 50, "attribute_source": "traceID", "mode": "equalizing", "fail_closed": True},
     bytes.fromhex("fefefefefefefefefeb0000000000000"), {"sampling.threshold": "c"}, "inconsistent arriving threshold", None),
    ("25 percent arriving equalizing", {"sampling_percentage": 50, "attribute_source": "traceID", "mode": "equalizing", "sampling_priority": "prio"},
     bytes.fromhex("fe" * 16), {"sampling.threshold": "c", "prio": 37}, "cannot raise existing sampling probability", {"sampling.threshold": "c", "prio": 37}),
    ("hash_seed with spec randomness", {"sampling_percentage": 100, "attribute_source": "traceID", "mode": "hash_seed"}, DEFAULT_TID,
     {"sampling.randomness": "f2341234123412"}, "item has sampling randomness", {"sampling.randomness": "f2341234123412"}),
]


@pytest.mark.parametrize(("name", "cfg", "tid", "attrs", "log", "expect"), LOGS_STATE_CASES, ids=[c[0] for c in LOGS_STATE_CASES])
def test_logs_sampling_state(name: str, cfg: dict[str, Any], tid: bytes, attrs: dict[str, Any], log: str, expect: dict[str, Any] | None) -> None:
    """logsprocessor_test.go TestLogsSamplingState: the record's sampling.threshold / sampling.randomness."""
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=1649400860, severity_number=5, trace_id=tid)
    record.attributes.extend(kv(k, v) for k, v in attrs.items())
    sink, logs = run(config(**cfg), request, Signal.LOGS)
    assert [log in entry["error"] for entry in logs] == ([True] if log else [])
    got = [{a.key: getattr(a.value, a.value.WhichOneof("value")) for a in rec.attributes}
           for r in sink.requests for rl in r.resource_logs for sl in rl.scope_logs for rec in sl.log_records]
    assert got == ([expect] if expect is not None else [])


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize(("pct", "source", "fail_closed", "sampled"), [
    (0, "record", True, False), (50, "record", True, False), (100, "record", True, False),
    (0, "record", False, False), (50, "record", False, True), (100, "record", False, True),
    (0, "traceID", True, False), (50, "traceID", True, False), (100, "traceID", True, False),
    (0, "traceID", False, False), (50, "traceID", False, True), (100, "traceID", False, True),
])
def test_logs_missing_randomness(mode: str, pct: float, source: str, fail_closed: bool, sampled: bool) -> None:
    """logsprocessor_test.go TestLogsMissingRandomness: an empty trace id and an empty `unused` attribute."""
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(trace_id=bytes(16))
    record.attributes.append(kv("unused", ""))
    cfg = config(sampling_percentage=pct, mode=mode, hash_seed=DEFAULT_HASH_SEED, fail_closed=fail_closed, attribute_source=source, from_attribute="unused")
    sink, logs = run(cfg, request, Signal.LOGS)
    assert sink.items == (1 if sampled else 0)
    assert [entry["error"] for entry in logs] == (["missing randomness"] if pct else [])


def test_hash_seed_keeps_what_the_original_formula_keeps() -> None:
    """The kept set in hash_seed mode is the one of otelcol's original rule (logsprocessor.go before OTEP 235:
    `computeHash(traceID, seed) & 0x3fff < uint32(pct * 163.84)`), which agents and gateways of every otelcol
    version share: 5000 trace ids at several percentages and seeds."""
    rng = random.Random(2024)
    tids = [rng.randbytes(16) for _ in range(5000)]
    for pct, seed in ((15.3, 0), (50, 22), (1, 4312), (99.9, 1)):
        spans = [Span(trace_id=t, span_id=SPAN_ID, name=str(i)) for i, t in enumerate(tids)]
        sink, _ = run(config(sampling_percentage=pct, hash_seed=seed, fail_closed=True), traces_request(*spans))
        scaled = int(sampling.float32(sampling.float32(pct) * sampling.float32(163.84)))
        expected = {t for t in tids if sampling.compute_hash(t, seed) & 0x3FFF < scaled}
        assert {s.trace_id for s in sink.spans} == expected
        assert 0 < len(expected) < len(tids)


def test_defaults_are_otelcol_s() -> None:
    """factory.go createDefaultConfig: fail_closed true, precision 4, attribute_source traceID, mode unset."""
    defaults = ProbabilisticSamplerConfig()
    assert (defaults.fail_closed, defaults.sampling_precision, defaults.attribute_source, defaults.mode) == (True, 4, "traceID", "")
    assert dataclasses.fields(defaults)

