"""The rule for one call, one price (collector/genai/dedupe.py): which LLM spans are the same API call, which
one is its original, and the bounded memory that lets the spans of one call arrive in different requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector import otlpjson
from collector.component import Signal
from collector.genai import dedupe
from collector.genai.dedupe import COMPLETES_WITH_TOKENS, ORIGINAL, CallMemory
from collector.genai.view import GenAIView
from collector.testing import kv

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
SECOND = 1_000_000_000
T0 = 1_767_225_600 * SECOND


NAMES = {
    "response_id": "gen_ai.response.id",
    "provider": "gen_ai.provider.name",
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read": "gen_ai.usage.cache_read.input_tokens",
}


def llm(span_id: int, parent: int = 0, *, start: float = 0.0, end: float = 1.0, trace: bytes = TRACE, **attrs: Any) -> Span:
    """An LLM span: an OTel GenAI chat call to claude-sonnet-4-5, 1200 input and 300 output tokens, unless
    `attrs` (named as in NAMES; None drops a key) say otherwise; start/end in seconds from T0."""
    base: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
    }
    for key, value in attrs.items():
        base[NAMES[key]] = value
    return Span(
        trace_id=trace, span_id=span_id.to_bytes(8, "big"), parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name="chat", start_time_unix_nano=T0 + int(start * SECOND), end_time_unix_nano=T0 + int(end * SECOND),
        attributes=[kv(k, v) for k, v in base.items() if v is not None],
    )


def openinference(span_id: int, parent: int = 0, *, start: float = 0.0, end: float = 1.0, input_tokens: int = 1200, output_tokens: int = 300,
                  model: str = "claude-sonnet-4-5") -> Span:
    """OpenInference's span of the same call: no response id, its own names."""
    return Span(
        trace_id=TRACE, span_id=span_id.to_bytes(8, "big"), parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name="Messages", start_time_unix_nano=T0 + int(start * SECOND), end_time_unix_nano=T0 + int(end * SECOND),
        attributes=[kv("openinference.span.kind", "LLM"), kv("llm.provider", "anthropic"), kv("llm.model_name", model),
                    kv("llm.token_count.prompt", input_tokens), kv("llm.token_count.completion", output_tokens)],
    )


def admit(memory: CallMemory, span: Span, priceable: bool = True) -> dedupe.Verdict:
    view = GenAIView.of(span)
    assert view is not None
    return memory.admit(span, view, priceable, span.start_time_unix_nano, span.end_time_unix_nano)


def duplicate(verdict: dedupe.Verdict, of: int) -> bool:
    return verdict.duplicate_of == of.to_bytes(8, "big") and not verdict.count_call and not verdict.count_tokens


@pytest.fixture
def memory() -> CallMemory:
    m = CallMemory(window=300.0, max_entries=1000)
    m.expire(1000.0)
    return m


def test_parent_and_child_with_the_same_response_id_are_one_call(memory: CallMemory) -> None:
    # OpenLLMetry's span around the SDK's own span: the SDK's (inner) one ends first, so arrives first.
    sdk = llm(2, parent=1, start=0.01, end=0.99, response_id="msg_01XFDUDYJgAACzvnptvVoYEL")
    openllmetry = llm(1, parent=9, response_id="msg_01XFDUDYJgAACzvnptvVoYEL")
    assert admit(memory, sdk) is ORIGINAL
    assert duplicate(admit(memory, openllmetry), of=2)


def test_a_shared_id_is_enough_whatever_the_counts_and_the_relation(memory: CallMemory) -> None:
    # OpenLLMetry's streaming count is one output token too many; a gateway's span is not the app span's kin.
    assert admit(memory, llm(2, parent=1, response_id="msg_01XFDUDYJgAACzvnptvVoYEL")) is ORIGINAL
    assert duplicate(admit(memory, llm(7, parent=6, output_tokens=301, response_id="msg_01XFDUDYJgAACzvnptvVoYEL")), of=2)


def test_siblings_without_a_shared_id_are_one_call_by_usage(memory: CallMemory) -> None:
    # The SDK's span and OpenInference's, both children of the app's span; OpenInference writes no response id
    # and asks for the alias while the SDK's span also names the dated model that answered.
    assert admit(memory, llm(2, parent=1, response_id="msg_01XFDUDYJgAACzvnptvVoYEL")) is ORIGINAL
    assert duplicate(admit(memory, openinference(3, parent=1, start=-0.01, end=1.01)), of=2)


def test_parent_and_child_without_ids_are_one_call_by_usage(memory: CallMemory) -> None:
    assert admit(memory, openinference(2, parent=1, start=0.01, end=0.99)) is ORIGINAL
    assert duplicate(admit(memory, llm(1, parent=9)), of=2)


def test_three_stacked_spans_are_one_call(memory: CallMemory) -> None:
    # Grandparent and grandchild are only related through the middle span, which is remembered too.
    assert admit(memory, llm(3, parent=2, start=0.02, end=0.98)) is ORIGINAL
    assert duplicate(admit(memory, openinference(2, parent=1, start=0.01, end=0.99)), of=3)
    assert duplicate(admit(memory, llm(1, parent=9)), of=3)


def test_same_usage_in_the_same_trace_one_after_the_other_are_two_calls(memory: CallMemory) -> None:
    # An agent loop asking the same thing twice: same model and counts, same parent, no ids: apart in time.
    assert admit(memory, llm(2, parent=1, start=0.0, end=1.0)) is ORIGINAL
    assert admit(memory, llm(3, parent=1, start=1.2, end=2.0)) is ORIGINAL
    assert admit(memory, openinference(4, parent=1, start=2.5, end=3.0)) is ORIGINAL


def test_spans_without_times_are_tied_by_their_id_only(memory: CallMemory) -> None:
    # start = end = 0 (unset) shows no overlap: equal counts under one parent are not enough.
    spans = [llm(2, parent=1), llm(3, parent=1), llm(4, parent=1, response_id="msg_01A"), llm(5, parent=4, response_id="msg_01A")]
    for span in spans:
        span.start_time_unix_nano = span.end_time_unix_nano = 0
    assert [admit(memory, span) for span in spans[:3]] == [ORIGINAL] * 3
    assert duplicate(admit(memory, spans[3]), of=4)


def test_concurrent_calls_with_the_same_usage_but_different_ids_are_two_calls(memory: CallMemory) -> None:
    # asyncio.gather of two identical prompts: overlapping siblings with equal counts, told apart by their ids.
    assert admit(memory, llm(2, parent=1, response_id="msg_01A")) is ORIGINAL
    assert admit(memory, llm(3, parent=1, start=0.1, end=1.1, response_id="msg_01B")) is ORIGINAL


def test_a_shared_id_without_time_overlap_is_two_calls(memory: CallMemory) -> None:
    # Servers that answer with constant or short random ids (chatcmpl-123) must not merge a trace's calls.
    assert admit(memory, llm(2, parent=1, response_id="chatcmpl-123")) is ORIGINAL
    assert admit(memory, llm(3, parent=1, start=2.0, end=3.0, response_id="chatcmpl-123")) is ORIGINAL


def test_usage_match_needs_relation_provider_model_and_counts(memory: CallMemory) -> None:
    assert admit(memory, llm(2, parent=1)) is ORIGINAL
    # Overlapping, same counts, but neither parent, child nor sibling.
    assert admit(memory, llm(5, parent=4)) is ORIGINAL
    # A sibling with other counts, another provider, another model.
    assert admit(memory, llm(6, parent=1, output_tokens=301)) is ORIGINAL
    assert admit(memory, llm(7, parent=1, provider="aws.bedrock")) is ORIGINAL
    assert admit(memory, llm(8, parent=1, request_model="claude-haiku-4-5", response_model="claude-haiku-4-5-20251001")) is ORIGINAL
    # Another trace.
    assert admit(memory, llm(9, parent=1, trace=bytes(15) + b"\x01")) is ORIGINAL


def test_model_names_agree_across_prefixes_and_gateways(memory: CallMemory) -> None:
    assert admit(memory, llm(2, parent=1, request_model="anthropic/claude-sonnet-4-5", response_model=None)) is ORIGINAL
    assert duplicate(admit(memory, openinference(3, parent=1, model="Claude-Sonnet-4-5-20250929")), of=2)


def test_cache_counts_are_not_compared(memory: CallMemory) -> None:
    # One library reports the cached part, the other does not: the same call still.
    assert admit(memory, llm(2, parent=1, cache_read=1000)) is ORIGINAL
    assert duplicate(admit(memory, openinference(3, parent=1)), of=2)


def test_the_same_span_sent_again_is_treated_as_its_first_copy(memory: CallMemory) -> None:
    # An exporter's retry of a request already handled: priced (and counted) again as before, or a duplicate again.
    original, other = llm(2, parent=1, response_id="msg_01A"), llm(1, parent=9, response_id="msg_01A")
    assert admit(memory, original) is ORIGINAL
    assert duplicate(admit(memory, other), of=2)
    assert admit(memory, original) is ORIGINAL
    assert duplicate(admit(memory, other), of=2)
    assert len(memory) == 2


def test_spans_with_nothing_to_match_by_are_not_remembered(memory: CallMemory) -> None:
    assert admit(memory, llm(2, parent=1, input_tokens=None, output_tokens=None)) is ORIGINAL
    assert len(memory) == 0


def test_a_later_span_that_can_be_priced_gives_an_unpriced_call_its_cost(memory: CallMemory) -> None:
    # The first span came without usage (unpriced, no tokens); the other span of the call reports them.
    first = llm(1, parent=9, response_id="msg_01A", input_tokens=None, output_tokens=None)
    assert admit(memory, first, priceable=False) is ORIGINAL
    assert admit(memory, llm(2, parent=1, response_id="msg_01A")) is COMPLETES_WITH_TOKENS
    # A third span of the call is a duplicate of the one priced.
    assert duplicate(admit(memory, llm(3, parent=2, response_id="msg_01A")), of=2)


def test_an_unpriced_call_with_tokens_is_priced_once_without_counting_its_tokens_again(memory: CallMemory) -> None:
    assert admit(memory, llm(1, parent=9, response_id="msg_01A"), priceable=False) is ORIGINAL
    assert admit(memory, llm(2, parent=1, response_id="msg_01A")) is dedupe.COMPLETES
    assert duplicate(admit(memory, llm(3, parent=1, response_id="msg_01A"), priceable=False), of=2)


def test_the_window_ends_after_arrival(memory: CallMemory) -> None:
    assert admit(memory, llm(2, parent=1, response_id="msg_01A")) is ORIGINAL
    memory.expire(1299.0)
    assert duplicate(admit(memory, llm(1, parent=9, response_id="msg_01A")), of=2)
    memory.expire(1300.0)  # the first one's window ended; the second's (admitted at 1299) has not
    assert len(memory) == 1
    memory.expire(1599.0)
    assert len(memory) == 0 and memory.evictions == 0
    # Past the window the call's next span is priced again: the documented limit.
    assert admit(memory, llm(3, parent=2, response_id="msg_01A")) is ORIGINAL


def test_memory_is_bounded_and_evictions_are_counted() -> None:
    memory = CallMemory(window=300.0, max_entries=10)
    memory.expire(0.0)
    for n in range(25):
        assert admit(memory, llm(n + 1, parent=100, start=2.0 * n, end=2.0 * n + 1, response_id=f"msg_{n}")) is ORIGINAL
    assert len(memory) == 10 and memory.evictions == 15
    assert sum(map(len, memory._traces.values())) == 10  # nothing left behind
    # The oldest are gone: a span of the first call is priced again; one of the latest is still caught.
    assert admit(memory, llm(200, parent=1, response_id="msg_0")) is ORIGINAL
    assert duplicate(admit(memory, llm(201, parent=25, start=48.0, end=49.0, response_id="msg_24")), of=25)


def test_runs_expire_in_arrival_order_after_evictions() -> None:
    memory = CallMemory(window=10.0, max_entries=3)
    memory.expire(0.0)
    for n in range(4):  # the first is evicted
        admit(memory, llm(n + 1, parent=100, start=2.0 * n, end=2.0 * n + 1, response_id=f"msg_{n}"))
    memory.expire(5.0)
    for n in range(4, 6):  # two more evicted: one span of the first run is left
        admit(memory, llm(n + 1, parent=100, start=2.0 * n, end=2.0 * n + 1, response_id=f"msg_{n}"))
    assert len(memory) == 3 and memory.evictions == 3
    memory.expire(10.0)  # the first run's window ends: only the second run's two spans stay
    assert len(memory) == 2
    assert duplicate(admit(memory, llm(50, parent=6, start=10.0, end=11.0, response_id="msg_5")), of=6)
    memory.expire(15.0)
    assert len(memory) == 1 and memory._traces and memory.evictions == 3
    memory.expire(25.0)
    assert len(memory) == 0 and not memory._traces


def test_many_calls_in_one_trace_stay_cheap() -> None:
    # 2,000 sequential one-token classifications in one trace: each check looks at the latest few only.
    memory = CallMemory(window=300.0, max_entries=100_000)
    memory.expire(0.0)
    for n in range(2000):
        assert admit(memory, llm(n + 1, parent=100_000, start=n, end=n + 0.5, input_tokens=50, output_tokens=1)) is ORIGINAL
    assert duplicate(admit(memory, openinference(9_999, parent=2000, start=1999.1, end=1999.4, input_tokens=50, output_tokens=1)), of=2000)


# Across traces: OpenLLMetry's and OpenInference's Anthropic spans are roots of traces of their own, apart from
# the SDK's span of the call, in the same process.
OTHER = bytes.fromhex("5b8efff798038103d269b633813fc60c")
PROCESS, ANOTHER_PROCESS = 11, 12
FIXTURES = Path(__file__).parents[1] / "fixtures" / "genai"


def admit_in(memory: CallMemory, span: Span, process: int = PROCESS, priceable: bool = True) -> dedupe.Verdict:
    view = GenAIView.of(span)
    assert view is not None
    return memory.admit(span, view, priceable, span.start_time_unix_nano, span.end_time_unix_nano, process)


@pytest.mark.parametrize("reverse", [False, True], ids=["sdk-first", "sdk-last"])
@pytest.mark.parametrize("name", ["anthropic-openllmetry-usage", "anthropic-openllmetry-stream-usage",
                                  "anthropic-openinference-usage", "anthropic-openinference-stream-usage"])
def test_recorded_spans_of_one_call_are_one_call(memory: CallMemory, name: str, reverse: bool) -> None:
    # tests/fixtures/genai: the SDK's span and the instrumentation's, in one trace or two, one process.
    (rs,) = otlpjson.decode(Signal.TRACES, (FIXTURES / f"{name}.jsonl").read_bytes()).resource_spans
    first, second = [s for ss in rs.scope_spans for s in ss.spans][::-1 if reverse else 1]
    process = hash(rs.resource.SerializeToString())
    assert admit_in(memory, first, process) is ORIGINAL
    assert duplicate(admit_in(memory, second, process), of=int.from_bytes(first.span_id, "big"))


def test_a_shared_id_ties_two_traces_of_one_process(memory: CallMemory) -> None:
    assert admit_in(memory, llm(2, start=0.01, end=0.99, response_id="msg_01A")) is ORIGINAL
    assert duplicate(admit_in(memory, llm(7, trace=OTHER, response_id="msg_01A")), of=2)


def test_across_traces_a_shared_id_allows_one_output_token_more_or_less(memory: CallMemory) -> None:
    # OpenLLMetry's streamed count (20) next to the SDK's (19); no more than one apart, and the same input.
    assert admit_in(memory, llm(2, output_tokens=19, response_id="msg_01A")) is ORIGINAL
    assert duplicate(admit_in(memory, llm(7, trace=OTHER, output_tokens=20, response_id="msg_01A")), of=2)
    assert admit_in(memory, llm(3, output_tokens=19, response_id="msg_01B")) is ORIGINAL
    assert admit_in(memory, llm(8, trace=trace(1), output_tokens=21, response_id="msg_01B")) is ORIGINAL
    assert admit_in(memory, llm(9, trace=trace(2), input_tokens=1201, output_tokens=19, response_id="msg_01B")) is ORIGINAL


def test_a_span_without_counts_is_tied_across_traces_by_its_id(memory: CallMemory) -> None:
    # The SDK's span of a call without usage next to OpenLLMetry's, in either order: the priced one is the
    # call's span (the cost processor admits a request's unpriced spans last, so within a request it is the second).
    assert admit_in(memory, llm(2, response_id="msg_01A", input_tokens=None, output_tokens=None), priceable=False) is ORIGINAL
    assert admit_in(memory, llm(7, trace=OTHER, response_id="msg_01A")) is COMPLETES_WITH_TOKENS
    assert admit_in(memory, llm(8, trace=trace(1), response_id="msg_01B")) is ORIGINAL
    assert duplicate(admit_in(memory, llm(3, trace=trace(2), response_id="msg_01B", input_tokens=None, output_tokens=None), priceable=False), of=8)


def test_a_reused_id_across_traces_ties_only_overlapping_spans_of_one_process(memory: CallMemory) -> None:
    # chatcmpl-123 from a server that always answers it: calls one after the other, or in another process.
    assert admit_in(memory, llm(2, response_id="chatcmpl-123")) is ORIGINAL
    assert admit_in(memory, llm(7, trace=OTHER, start=1.5, end=2.5, response_id="chatcmpl-123")) is ORIGINAL
    assert admit_in(memory, llm(8, trace=trace(1), response_id="chatcmpl-123"), process=ANOTHER_PROCESS) is ORIGINAL
    assert admit_in(memory, llm(9, trace=trace(2), response_id="chatcmpl-123",
                                request_model="gpt-4o-mini", response_model=None)) is ORIGINAL


def test_an_id_less_span_is_tied_across_traces_to_a_span_with_an_id_by_its_counts(memory: CallMemory) -> None:
    # OpenInference's streaming span (no id, its own trace) next to the SDK's: both orders.
    assert admit_in(memory, llm(2, start=0.01, end=0.99, response_id="msg_01A")) is ORIGINAL
    assert duplicate(admit_in(memory, _span(openinference(7), OTHER)), of=2)
    assert admit_in(memory, _span(openinference(3, start=2.0, end=3.0), OTHER)) is ORIGINAL
    assert duplicate(admit_in(memory, llm(4, start=2.01, end=2.99, response_id="msg_01B")), of=3)


def test_across_traces_counts_tie_nothing_else(memory: CallMemory) -> None:
    # Two id-less spans (two parallel identical calls of one process), then spans with ids that do not meet
    # them: two ids, another process, other counts, another model, no overlap.
    assert admit_in(memory, openinference(2)) is ORIGINAL
    assert admit_in(memory, _span(openinference(3), OTHER)) is ORIGINAL
    assert admit_in(memory, llm(4, trace=trace(1), input_tokens=500, response_id="msg_01A")) is ORIGINAL
    assert admit_in(memory, llm(5, trace=trace(2), input_tokens=500, response_id="msg_01B")) is ORIGINAL
    assert admit_in(memory, llm(6, trace=trace(3), response_id="msg_01C"), process=ANOTHER_PROCESS) is ORIGINAL
    assert admit_in(memory, llm(7, trace=trace(4), output_tokens=301, response_id="msg_01D")) is ORIGINAL
    assert admit_in(memory, llm(8, trace=trace(5), request_model="claude-haiku-4-5", response_model=None, response_id="msg_01E")) is ORIGINAL
    assert admit_in(memory, llm(9, trace=trace(6), start=1.5, end=2.0, response_id="msg_01F")) is ORIGINAL


def test_the_indexes_across_traces_are_bounded_with_the_memory() -> None:
    memory = CallMemory(window=10.0, max_entries=5)
    memory.expire(0.0)
    for n in range(20):
        admit_in(memory, llm(n + 1, trace=trace(n), start=2.0 * n, end=2.0 * n + 1, input_tokens=n % 3, response_id=f"msg_{n}"))
    assert len(memory) == 5 and memory.evictions == 15
    assert sum(map(len, memory._ids.values())) == 5 and sum(len(spans) for counts in memory._counts for spans in counts.values()) == 5
    memory.expire(20.0)
    assert len(memory) == 0 and not memory._traces and not memory._ids and not any(memory._counts)


def trace(n: int) -> bytes:
    """The n-th trace id of a test's other traces."""
    return (n + 1000).to_bytes(16, "big")


def _span(span: Span, trace_id: bytes) -> Span:
    """`span` in the trace `trace_id`."""
    span.trace_id = trace_id
    return span


def test_a_span_with_neither_id_nor_counts_is_tied_to_its_parent_or_child(memory: CallMemory) -> None:
    # OpenInference's span of a call answered without usage, around the SDK's span of it (id, no counts): the
    # duplicate, and not remembered; a sibling, another model, or no overlap is not tied.
    sdk = llm(2, parent=1, start=0.01, end=0.99, response_id="msg_01A", input_tokens=None, output_tokens=None)
    assert admit(memory, sdk, priceable=False) is ORIGINAL
    bare = llm(1, parent=9, input_tokens=None, output_tokens=None)
    assert duplicate(admit(memory, bare, priceable=False), of=2)
    assert duplicate(admit(memory, bare, priceable=False), of=2)  # sent again
    assert admit(memory, llm(3, parent=1, input_tokens=None, output_tokens=None), priceable=False) is ORIGINAL
    assert admit(memory, llm(4, parent=2, request_model="gpt-4o", response_model=None, input_tokens=None, output_tokens=None),
                 priceable=False) is ORIGINAL
    assert admit(memory, llm(5, parent=2, start=1.5, end=2.0, input_tokens=None, output_tokens=None), priceable=False) is ORIGINAL
    assert len(memory) == 1
    bare_view, sdk_view = GenAIView.of(bare), GenAIView.of(sdk)
    assert bare_view is not None and sdk_view is not None
    assert not dedupe.remembered(bare_view) and dedupe.remembered(sdk_view)


@pytest.mark.parametrize("sdk_first", [True, False])
def test_a_span_without_id_and_its_parent_or_child_without_counts_are_one_call(memory: CallMemory, sdk_first: bool) -> None:
    # The SDK's span of a call answered without usage (its id, no counts) inside OpenInference's span of it, which
    # token_count counted (no id): nothing to compare, so parent and child only; a span that is neither is not tied.
    sdk = llm(2, parent=1, start=0.01, end=0.99, response_id="msg_01A", input_tokens=None, output_tokens=None)
    around = openinference(1)
    first, second = (sdk, around) if sdk_first else (around, sdk)
    assert admit(memory, first, priceable=first is around) is ORIGINAL
    verdict = admit(memory, second, priceable=second is around)
    assert verdict is COMPLETES_WITH_TOKENS if sdk_first else duplicate(verdict, of=1)
    other = llm(3, parent=9, start=0.01, end=0.99, response_id="msg_01B", input_tokens=None, output_tokens=None)
    assert admit(memory, other, priceable=False) is ORIGINAL
