"""The pipeline engine: receivers → processors in order → fan-out to exporters, several pipelines per
signal, shared receivers and exporters, copy-on-mutate isolation, and error/partial-success mapping.

The service runs in-process (in a thread with its own event loop) so the test can register test-only
processors; clients still talk to it over real gRPC and HTTP sockets."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector import otlpjson, registry
from collector.component import Capabilities, Kind, PermanentError, Processor, Rejected, RetryableError, Signal
from collector.config import load_config, option
from collector.envelope import Envelope
from collector.service import Service
from tests.conftest import free_ports

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass
class TagConfig:
    key: str = option("tag", "attribute to add")
    value: str = option("x", "its value")
    delay: float = option(0.0, "seconds to sleep before forwarding")


class _TestProcessor(Processor):
    config_class = TagConfig
    description = "test only"
    signals = frozenset(Signal)


class TagProcessor(_TestProcessor):
    """Mutates in place: appends an attribute to every span, optionally after a delay."""

    type_name = "test_tag"
    capabilities = Capabilities(mutates_data=True)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        data = envelope.request
        if self.config.delay:
            await asyncio.sleep(self.config.delay)
        for rs in data.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.attributes.add(key=self.config.key, value=AnyValue(string_value=self.config.value))
        return await self.next.consume(envelope)


class SlowReaderProcessor(_TestProcessor):
    """Read-only, but keeps the request while it waits: if anyone mutated the shared original in the
    meantime, what it forwards would change under it."""

    type_name = "test_slow"

    async def consume(self, envelope: Envelope) -> Rejected | None:
        await asyncio.sleep(self.config.delay or 0.2)
        return await self.next.consume(envelope)


class RejectHalfProcessor(_TestProcessor):
    type_name = "test_reject_half"
    capabilities = Capabilities(mutates_data=True)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        data = envelope.request
        spans = data.resource_spans[0].scope_spans[0].spans
        dropped = len(spans) // 2
        del spans[:dropped]
        result = await self.next.consume(envelope)
        return Rejected.combine([Rejected(dropped, "test processor refuses half"), result])


class FailProcessor(_TestProcessor):
    """config.key selects the failure: retryable, permanent or crash."""

    type_name = "test_fail"

    async def consume(self, envelope: Envelope) -> Rejected | None:
        if self.config.key == "retryable":
            raise RetryableError("backend is busy", retry_after=7)
        if self.config.key == "permanent":
            raise PermanentError("data violates policy")
        raise ZeroDivisionError("bug in processor")


TEST_TYPES = [TagProcessor, SlowReaderProcessor, RejectHalfProcessor, FailProcessor]


@pytest.fixture(autouse=True)
def test_processors() -> Iterator[None]:
    for cls in TEST_TYPES:
        registry.register(cls)
    yield
    for cls in TEST_TYPES:
        registry._REGISTRY[Kind.PROCESSOR].pop(cls.type_name, None)


class InProcessService:
    def __init__(self, tmp: Path, config: str):
        self.ports = dict(zip(("grpc", "http"), free_ports(2), strict=True))
        self.data = tmp / "data"
        path = tmp / "config.yaml"
        path.write_text(config.format(data=self.data, **self.ports))
        self.service = Service(load_config([str(path)]))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> InProcessService:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(10)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.ports['grpc']}")
        self.export = self.channel.unary_unary(TRACE_EXPORT)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.service.shutdown(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def spans(self, filename: str) -> list[Span]:
        out = []
        for line in (self.data / filename).read_bytes().splitlines():
            req = otlpjson.decode(Signal.TRACES, line)
            out.extend(s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans)
        return out

    def flush(self) -> None:
        async def flush_all() -> None:
            for exporter in self.service.exporters.values():
                file = getattr(exporter, "_file", None)
                if file is not None:
                    file.flush()

        asyncio.run_coroutine_threadsafe(flush_all(), self.loop).result(5)


def make_request(n: int, name: str = "s") -> ExportTraceServiceRequest:
    spans = [Span(trace_id=bytes([1]) * 16, span_id=(i + 1).to_bytes(8, "big"), name=f"{name}{i}") for i in range(n)]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


def attrs(span: Span) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in span.attributes}


HEADER = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
service:
  telemetry: {{metrics: {{address: null}}}}
  pipelines:
"""


def test_one_receiver_feeds_two_pipelines_and_mutation_stays_in_its_branch(tmp_path: Path) -> None:
    config = HEADER + """
    traces/tagged:
      receivers: [otlp]
      processors: [test_tag/a, test_tag/b]
      exporters: [file/tagged]
    traces/raw:
      receivers: [otlp]
      processors: [test_slow]
      exporters: [file/raw]
processors:
  test_tag/a: {{key: first, value: "1"}}
  test_tag/b: {{key: second, value: "2"}}
  test_slow: {{delay: 0.2}}
exporters:
  file/tagged: {{path: "{data}/tagged.jsonl"}}
  file/raw: {{path: "{data}/raw.jsonl"}}
"""
    with InProcessService(tmp_path, config) as svc:
        svc.export(make_request(3).SerializeToString(), timeout=10)
        svc.flush()
        tagged = svc.spans("tagged.jsonl")
        raw = svc.spans("raw.jsonl")
    # Processors ran in the listed order on their own pipeline's copy...
    assert [list(attrs(s)) for s in tagged] == [["first", "second"]] * 3
    # ...and the read-only pipeline that held the original while they ran saw none of it.
    assert [attrs(s) for s in raw] == [{}] * 3


def test_exporter_shared_by_pipelines_gets_each_pipelines_data(tmp_path: Path) -> None:
    config = HEADER + """
    traces/a:
      receivers: [otlp]
      processors: [test_tag/a]
      exporters: [file/shared]
    traces/b:
      receivers: [otlp]
      processors: [test_tag/b]
      exporters: [file/shared, file/only_b]
processors:
  test_tag/a: {{key: pipeline, value: a}}
  test_tag/b: {{key: pipeline, value: b, delay: 0.05}}
exporters:
  file/shared: {{path: "{data}/shared.jsonl"}}
  file/only_b: {{path: "{data}/only_b.jsonl"}}
"""
    config = config
    with InProcessService(tmp_path, config) as svc:
        svc.export(make_request(2).SerializeToString(), timeout=10)
        svc.flush()
        shared = svc.spans("shared.jsonl")
        only_b = svc.spans("only_b.jsonl")
    assert sorted(attrs(s)["pipeline"] for s in shared) == ["a", "a", "b", "b"]
    assert [attrs(s) for s in only_b] == [{"pipeline": "b"}] * 2
    # Exactly one exporter instance serves both pipelines.
    assert len(svc.service.exporters) == 2


def test_single_readonly_path_does_not_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector import pdata

    clones: list[Any] = []
    original = pdata.clone
    monkeypatch.setattr(pdata, "clone", lambda d: clones.append(1) or original(d))
    config = HEADER + """
    traces:
      receivers: [otlp]
      exporters: [file/a]
exporters:
  file/a: {{path: "{data}/a.jsonl"}}
"""
    with InProcessService(tmp_path, config) as svc:
        svc.export(make_request(5).SerializeToString(), timeout=10)
    assert clones == []


def test_partial_rejection_from_a_pipeline_reaches_the_client(tmp_path: Path) -> None:
    config = HEADER + """
    traces:
      receivers: [otlp]
      processors: [test_reject_half]
      exporters: [file/a]
processors:
  test_reject_half: {{}}
exporters:
  file/a: {{path: "{data}/a.jsonl"}}
"""
    with InProcessService(tmp_path, config) as svc:
        response = ExportTraceServiceResponse.FromString(svc.export(make_request(10).SerializeToString(), timeout=10))
        assert response.partial_success.rejected_spans == 5
        assert "refuses half" in response.partial_success.error_message
        body = otlpjson.encode(Signal.TRACES, make_request(4))
        request = urllib.request.Request(f"http://127.0.0.1:{svc.ports['http']}/v1/traces", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            payload = json.loads(r.read())
        assert payload["partialSuccess"]["rejectedSpans"] == "2"
        svc.flush()
        assert len(svc.spans("a.jsonl")) == 5 + 2


@pytest.mark.parametrize(
    "mode,grpc_code,http_status",
    [("retryable", grpc.StatusCode.UNAVAILABLE, 503), ("permanent", grpc.StatusCode.INVALID_ARGUMENT, 400), ("crash", grpc.StatusCode.INTERNAL, 500)],
)
def test_pipeline_errors_map_to_otlp_status_codes(tmp_path: Path, mode: str, grpc_code: grpc.StatusCode, http_status: int) -> None:
    config = HEADER + f"""
    traces:
      receivers: [otlp]
      processors: [test_fail]
      exporters: [file/a]
processors:
  test_fail: {{{{key: {mode}}}}}
exporters:
  file/a: {{{{path: "{{data}}/a.jsonl"}}}}
"""
    with InProcessService(tmp_path, config) as svc:
        with pytest.raises(grpc.RpcError) as info:
            svc.export(make_request(1).SerializeToString(), timeout=10)
        assert info.value.code() == grpc_code
        if mode == "retryable":
            # RetryInfo rides in grpc-status-details-bin so OTLP exporters back off as told.
            from google.rpc import error_details_pb2, status_pb2

            trailers = dict(info.value.trailing_metadata())
            status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
            retry = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 7
        request = urllib.request.Request(
            f"http://127.0.0.1:{svc.ports['http']}/v1/traces", data=make_request(1).SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
        )
        with pytest.raises(urllib.error.HTTPError) as http_info:
            urllib.request.urlopen(request, timeout=10)
        assert http_info.value.code == http_status
        if mode == "retryable":
            assert http_info.value.headers["Retry-After"] == "7"
        # The daemon keeps serving after every failure.
        assert svc.service.ready


class HangOnShutdownProcessor(_TestProcessor):
    type_name = "test_hang"

    async def consume(self, envelope: Envelope) -> Rejected | None:
        return await self.next.consume(envelope)

    async def shutdown(self) -> None:
        await asyncio.sleep(30)


TEST_TYPES.append(HangOnShutdownProcessor)


def test_shutdown_timeout_bounds_a_component_that_never_finishes(tmp_path: Path) -> None:
    import time

    config = HEADER.replace("service:\n", "service:\n  shutdown_timeout: 500ms\n") + """
    traces:
      receivers: [otlp]
      processors: [test_hang]
      exporters: [file/a]
processors:
  test_hang: {{}}
exporters:
  file/a: {{path: "{data}/a.jsonl"}}
"""
    svc = InProcessService(tmp_path, config)
    with svc:
        svc.export(make_request(3).SerializeToString(), timeout=10)
        started = time.monotonic()
        finished = asyncio.run_coroutine_threadsafe(svc.service.shutdown(), svc.loop).result(10)
        elapsed = time.monotonic() - started
    assert finished is False
    assert elapsed < 2.0
    # The hung processor did not cost the data already acknowledged: the exporter was still flushed.
    assert len(svc.spans("a.jsonl")) == 3


def test_processor_item_counters_follow_what_goes_in_and_out(tmp_path: Path) -> None:
    config = HEADER + """
    traces:
      receivers: [otlp]
      processors: [test_tag, test_reject_half]
      exporters: [file/a]
processors:
  test_tag: {{}}
  test_reject_half: {{}}
exporters:
  file/a: {{path: "{data}/a.jsonl"}}
"""
    with InProcessService(tmp_path, config) as svc:
        svc.export(make_request(10).SerializeToString(), timeout=10)
        text = svc.service.telemetry.exposition().decode()
    assert 'otelcol_processor_incoming_items{processor="test_tag",otel_signal="traces"} 10' in text
    assert 'otelcol_processor_outgoing_items{processor="test_tag",otel_signal="traces"} 10' in text
    assert 'otelcol_processor_incoming_items{processor="test_reject_half",otel_signal="traces"} 10' in text
    assert 'otelcol_processor_outgoing_items{processor="test_reject_half",otel_signal="traces"} 5' in text


def test_encoded_attributes_merge_into_a_span_like_added_ones() -> None:
    # The cost and token_count processors append attributes as pre-encoded wire bytes; the result must
    # be exactly what the setters would have built, long keys (two-byte lengths) included.
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from collector import pdata
    from collector.wire import encode
    from collector.wire.fields import Span as SpanFields

    long_key = "k" * 200
    merged = Span(name="s")
    merged.attributes.add(key="first").value.string_value = "x"
    merged.MergeFromString(
        encode.key_value_double_prefix(SpanFields.ATTRIBUTES, "gen_ai.usage.cost") + encode.pack_double(0.00123)
        + encode.key_value_str(SpanFields.ATTRIBUTES, "gen_ai.usage.cost_source", "bundled")
        + encode.key_value_double_prefix(SpanFields.ATTRIBUTES, long_key) + encode.pack_double(-0.0)
        + encode.key_value_str(SpanFields.ATTRIBUTES, "é", "ü" * 100)
    )
    expected = Span(name="s")
    expected.attributes.add(key="first").value.string_value = "x"
    pdata.add_double(expected.attributes, "gen_ai.usage.cost", 0.00123)
    pdata.add_str(expected.attributes, "gen_ai.usage.cost_source", "bundled")
    pdata.add_double(expected.attributes, long_key, -0.0)
    pdata.add_str(expected.attributes, "é", "ü" * 100)
    assert merged == expected
    assert merged.attributes[3].value.WhichOneof("value") == "double_value"
