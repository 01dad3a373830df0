"""What one request can cost: the redaction of a value grows linearly with its matches (allowed_values
included), and a large request is redacted off the event loop."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import re2
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.envelope import Envelope
from collector.processors.redaction.edits import Allowed
from collector.testing import Sink, build_processor, kv, traces_request, wait_for
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import with_detectors


def rescanning_covered(patterns: list[Any], text: str, start: int, end: int) -> bool:
    """The former check, each pattern's matches read from the start of the text for every finding."""
    for pattern in patterns:
        for m in pattern.finditer(text):
            s, e = m.span()
            if s <= start and end <= e:
                return True
            if s > start:
                break
    return False


def test_allowed_answers_as_the_rescanning_check() -> None:
    rng = random.Random(31)
    patterns = [re2.compile(p) for p in (r"a+@b\.co", r"keep[0-9]*", r"x?", r"[a-z]+@[a-z]+\.[a-z]+", r"\d{3,}")]
    alphabet = "ab@.co keep0123x9"
    for _ in range(800):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        chosen = rng.sample(patterns, rng.randint(1, 3))
        allowed = Allowed(chosen, text)
        queries = sorted((s, s + rng.randint(1, 8)) for s in (rng.randint(0, max(0, len(text) - 1)) for _ in range(8)))
        if rng.random() < 0.2:
            rng.shuffle(queries)  # findings come in order, but the answer must not depend on it
        for s, e in queries:
            assert allowed.covers(s, e) == rescanning_covered(chosen, text, s, e), (text, s, e)


def _request(emails: int) -> Any:
    text = " ".join(f"user{i}@example.com" for i in range(emails))
    return traces_request(Span(trace_id=b"\1" * 16, span_id=b"\2" * 8, name="s", attributes=[kv("msg", text)]))


def test_allowed_values_keep_a_value_with_many_matches_linear() -> None:
    # 8x the matches: ~8x the time if linear, ~64x if each finding reread the value. Best of 3, interleaved.
    sink = Sink()
    processor = build_processor("redaction", with_detectors({"allowed_values": [r"keep\d+@example\.com"], "workers": 0}), sink)
    small, large = float("inf"), float("inf")
    for _ in range(3):
        for emails in (500, 4000):
            request = _request(emails)
            start = time.perf_counter()
            asyncio.run(processor.consume(Envelope.of(request)))
            elapsed = time.perf_counter() - start
            assert "@" not in sink.spans[-1].attributes[0].value.string_value
            if emails == 500:
                small = min(small, elapsed)
            else:
                large = min(large, elapsed)
    print(f"allowed_values: 500 e-mails {small * 1e3:.1f} ms, 4000 {large * 1e3:.1f} ms (x{large / small:.1f})")
    assert large < 24 * small



def _metrics(processor: Any) -> dict[str, float]:
    out = {}
    for line in processor.telemetry.exposition().decode().splitlines():
        if line.startswith("redaction_"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def _mixed_requests() -> list[Any]:
    texts = ["no pii here", "mail ana@example.org, card 4111 1111 1111 1111", "order ORD-77 for bob@example.com",
             " ".join(f"user{i}@example.com tel +55 11 98765-{i % 9000 + 1000}" for i in range(300)),
             json.dumps([{"role": "user", "content": f"cpf 529.982.247-25 mail u{i}@ex.com"} for i in range(100)])]
    return [traces_request(Span(trace_id=bytes([i + 1]) * 16, span_id=b"\2" * 8, name=f"s{i}", attributes=[kv("msg", t), kv("gen_ai.input.messages", t)]))
            for i, t in enumerate(texts)]


def test_the_thread_redacts_and_counts_as_the_loop_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.pii import validators

    def broken(text: str) -> bool:
        raise RuntimeError("validator bug")

    monkeypatch.setitem(validators.VALIDATORS, "broken", broken)
    config = {"blocked_values": [{"pattern": "ORD-[0-9]+", "validator": "broken", "name": "order"}]}
    runs = []
    for limits in ({"inline_max_bytes": 1 << 30, "inline_max_hits": 1 << 30}, {"inline_max_bytes": 0}, {}):
        sink = Sink()
        processor = build_processor("redaction", with_detectors({**config, **limits, "workers": 0}), sink)

        async def run(processor: Any = processor) -> None:
            for request in _mixed_requests():
                await processor.consume(Envelope.of(request))
            await processor.shutdown()

        asyncio.run(run())
        assert processor._lane is not None
        runs.append(([s.SerializeToString() for s in sink.spans], _metrics(processor), processor._lane.walks is not None))
    (on_loop, loop_metrics, loop_used_thread), (in_thread, thread_metrics, thread_used_thread), (default, default_metrics, _) = runs
    assert not loop_used_thread and thread_used_thread
    assert on_loop == in_thread == default
    assert loop_metrics == thread_metrics == default_metrics
    assert loop_metrics['redaction_errors_total{processor="redaction"}'] == 2  # msg and gen_ai.input.messages of one span
    assert loop_metrics['redaction_matches_total{processor="redaction",detector="email"}'] > 600


def test_a_request_within_the_budget_is_prefiltered_once_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    processor = build_processor("redaction", with_detectors({"workers": 0}), Sink())
    scanner = processor.scanner
    calls: list[int] = []
    monkeypatch.setattr(scanner, "wire_hits", lambda buf: calls.append(len(buf)) or type(scanner).wire_hits(scanner, buf))
    request = _mixed_requests()[1]
    asyncio.run(processor.consume(Envelope.of(request)))
    assert calls == []  # the walk's gate got the hits the budget counted
    assert processor._lane is not None and processor._lane.walks is None
    assert "<EMAIL>" in request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.string_value


def test_a_request_past_the_hit_limit_is_redacted_in_the_thread() -> None:
    processor = build_processor("redaction", with_detectors({"inline_max_hits": 50, "workers": 0}), Sink())
    request = _mixed_requests()[3]  # 600 hits in 14 KB
    asyncio.run(processor.consume(Envelope.of(request)))
    assert processor._lane is not None and processor._lane.walks is not None
    assert "@" not in request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.string_value
    asyncio.run(processor.shutdown())


LOOP_BOUND = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  redaction: {redaction}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [redaction], exporters: [file]}}
""")

BIG_EMAILS = 32000


def _timed(request: urllib.request.Request | str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        response.read()
    return time.perf_counter() - start


def _export(daemon: Any, request: Any) -> urllib.request.Request:
    body = request.SerializeToString()
    return urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})


@pytest.mark.slow
@pytest.mark.parametrize("redaction", ["{{detectors: {{}}, allow_all_keys: true, workers: 0}}", "{{detectors: {{}}, allow_all_keys: true, workers: 1}}"], ids=["in-daemon", "workers"])
def test_requests_of_many_matches_hold_up_no_other_client(daemon_factory: Any, redaction: str) -> None:
    # While a few requests of 32k e-mails in one attribute (676 KiB, ~1 s of redaction each) are in flight,
    # a second client's small export and the health endpoint still answer at once.
    daemon = daemon_factory(LOOP_BOUND.replace("{redaction}", redaction))
    health = f"http://127.0.0.1:{daemon.ports['health']}/"
    small = traces_request(Span(trace_id=b"\3" * 16, span_id=b"\4" * 8, name="small", attributes=[kv("msg", "write to ana@example.org")]))
    for _ in range(3):  # warm up: connections, the thread's own Redactor, the worker
        _timed(_export(daemon, small))
        _timed(health)
    _timed(_export(daemon, _request(BIG_EMAILS)))
    big = [_request(BIG_EMAILS) for _ in range(3)]
    for i, request in enumerate(big):
        request.resource_spans[0].scope_spans[0].spans[0].name = f"big{i}"
    big_seconds: list[float] = []
    with ThreadPoolExecutor(len(big)) as pool:
        start = time.perf_counter()
        futures = [pool.submit(_timed, _export(daemon, request)) for request in big]
        exports: list[float] = []
        checks: list[float] = []
        while not all(f.done() for f in futures):
            exports.append(_timed(_export(daemon, small)))
            checks.append(_timed(health))
            time.sleep(0.01)
        big_seconds = [f.result() for f in futures]
        elapsed = time.perf_counter() - start
    where = "workers: 1" if "workers: 1" in redaction else "in the daemon"
    print(f"{where}: {len(big)} requests of {BIG_EMAILS} e-mails in {elapsed:.2f} s (each {min(big_seconds):.2f}-{max(big_seconds):.2f} s); "
          f"meanwhile {len(exports)} small exports, worst {max(exports) * 1e3:.0f} ms (median {statistics.median(exports) * 1e3:.0f}), "
          f"health worst {max(checks) * 1e3:.0f} ms (median {statistics.median(checks) * 1e3:.0f})")
    assert len(exports) >= 10  # the probes did overlap the large requests
    assert max(exports) <= 0.25 and max(checks) <= 0.25

    def exported() -> dict[str, str]:
        out = {}
        for line in (daemon.data / "traces.jsonl").read_text().splitlines():
            for rs in json.loads(line)["resourceSpans"]:
                for span in rs["scopeSpans"][0]["spans"]:
                    out[span["name"]] = span["attributes"][0]["value"]["stringValue"]
        return out

    values = wait_for(lambda: (found := exported()) and all(f"big{i}" in found for i in range(len(big))) and found)
    for i in range(len(big)):
        assert "@" not in values[f"big{i}"] and values[f"big{i}"].count("<EMAIL>") == BIG_EMAILS
    assert values["small"] == "write to <EMAIL>"
