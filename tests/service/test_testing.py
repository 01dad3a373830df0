"""collector/testing.py builds processors the way the service does (config decoded by the loader's decoder,
chained between the service's counting edges), so tests and benchmarks measure the daemon's path."""

from __future__ import annotations

import asyncio

import pytest

from collector.component import Signal
from collector.telemetry import Telemetry
from collector.testing import BuildError, Sink, build_chain, build_processor, kv, spans_request, traces_request, wait_for, wait_for_async


def test_a_built_processor_counts_otelcol_items_like_the_service() -> None:
    telemetry = Telemetry()
    sink = Sink()

    async def run() -> None:
        chain = await build_chain([("batch", {"timeout": "0s"})], sink, telemetry=telemetry)
        await chain.consume(spans_request(3))
        await chain.shutdown()

    asyncio.run(run())
    assert sink.items == 3 and [s.name for s in sink.spans] == ["span-0", "span-1", "span-2"]
    text = telemetry.exposition().decode()
    lines = text.splitlines()
    assert 'otelcol_processor_incoming_items{processor="batch",otel_signal="traces"} 3' in lines, text
    assert 'otelcol_processor_outgoing_items{processor="batch",otel_signal="traces"} 3' in lines, text


def test_a_config_the_loader_refuses_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="batch"):
        build_processor("batch", {"send_batch_size": "many"})
    with pytest.raises(BuildError, match="no processor type 'nope'"):
        build_processor("nope")
    with pytest.raises(BuildError, match="does not support"):
        build_processor("token_count", signal=Signal.LOGS)


def test_messages_from_python_values() -> None:
    request = traces_request(*spans_request(1).resource_spans[0].scope_spans[0].spans, resource={"service.name": "shop", "n": 2})
    attrs = {a.key: a.value for a in request.resource_spans[0].resource.attributes}
    assert attrs["service.name"].string_value == "shop" and attrs["n"].int_value == 2
    assert kv("x", [1, "a", True]).value.array_value.values[2].bool_value is True
    assert not kv("unset").HasField("value")


def test_wait_for_returns_the_value_or_names_what_it_waited_for() -> None:
    assert wait_for(lambda: 5, timeout=0.1) == 5
    with pytest.raises(AssertionError, match="waiting for the moon"):
        wait_for(lambda: False, timeout=0.05, what="the moon")
    assert asyncio.run(wait_for_async(lambda: "ok", timeout=0.1)) == "ok"
