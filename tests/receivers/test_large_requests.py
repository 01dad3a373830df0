"""Overload with large requests, through the daemon (hardening item 2): memory_limiter bounds memory when the
requests are 18-25 MiB each.

Fourteen clients send such requests (allowed by `max_recv_msg_size_mib: 32` / `max_request_body_size: 32 MiB`)
to `memory_limiter (limit_mib: 300) -> file`, all at once and then again whenever they are answered, backing
off as long as a refusal's retry hint says (as OTLP exporters do). Before admission by bytes this took the
process tree to 712 MiB: the limiter measures once a second, and every request in between was received,
decoded, copied and encoded. Now a request's memory is reserved before it is read (gRPC) or before its body
is (HTTP) and before it is decoded (collector/admission.py), so:

- the tree's RSS (daemon and file encoder process, sampled every 20 ms) stays within 1.1x limit_mib;
- every refusal is retryable with a retry hint: gRPC UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After;
- every span is accounted for: what clients were told was accepted is what the receiver accepted and the
  exporter wrote; each refused request's spans are counted by the receiver and memory_limiter alike (from
  its bytes: collector/wire/count.py), except a gRPC request refused because it waited too long to be read,
  counted as a request in llm_collector_receiver_refused_uncounted_requests (its client can tell it by the
  refusal's message);
- after the burst the daemon accepts a large request again (freed memory was handed back to the system).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.tools import loadgen
from tests.service.test_overload import RssSampler, tree_rss

MIB = 1 << 20
LIMIT_MIB = 300
CLIENTS = 14
LOAD_SECONDS = 12
SIZES_MIB = range(18, 26)  # each request is this many copies of a 1,000-span request of ~1.03 MiB
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
UNREAD = "request not read in time"  # the refusal of a request refused before it could be read

CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 32}}
      http: {{endpoint: "127.0.0.1:{http}", max_request_body_size: 32MiB}}
processors:
  memory_limiter: {{limit_mib: LIMIT, check_interval: 1s}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [memory_limiter], exporters: [file/traces]}}
""".replace("LIMIT", str(LIMIT_MIB))


@dataclass
class Outcomes:
    sent: int = 0
    acked: int = 0
    refusals: int = 0
    unread: int = 0  # refusals of requests not read, and their spans
    unread_spans: int = 0
    bad: list[str] = field(default_factory=list)  # anything but an acknowledgement or a retryable refusal with a hint


def retry_delay(exc: grpc.aio.AioRpcError) -> float | None:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            info = error_details_pb2.RetryInfo()
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Unpack(info):
                    return float(info.retry_delay.ToNanoseconds() / 1e9)
    return None


async def send_grpc(target: str, payload: bytes) -> tuple[bool, float | None, str]:
    """(accepted, retry hint, refusal message) of one request on its own channel."""
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_send_message_length", -1)]) as channel:
        try:
            await channel.unary_unary(EXPORT)(payload, timeout=60)
            return True, None, ""
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                return False, None, f"{exc.code().name}: {exc.details()}"
            return False, retry_delay(exc), exc.details() or ""


async def send_http(session: aiohttp.ClientSession, url: str, payload: bytes) -> tuple[bool, float | None, str]:
    async with session.post(url, data=payload, headers={"Content-Type": "application/x-protobuf"}) as response:
        body = await response.read()
        if response.status == 200:
            return True, None, ""
        if response.status != 503:
            return False, None, f"HTTP {response.status}: {body[:200]!r}"
        hint = response.headers.get("Retry-After")
        return False, float(hint) if hint else None, status_pb2.Status.FromString(body).message


async def drive(protocol: str, daemon: Any, payloads: dict[int, bytes], spans_per_mib: int, out: Outcomes) -> None:
    stop = time.monotonic() + LOAD_SECONDS
    url = f"{daemon.http_url}/v1/traces"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS), timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def client(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < stop:
                size = rng.choice(SIZES_MIB)
                spans = size * spans_per_mib
                out.sent += spans
                if protocol == "grpc":
                    accepted, hint, message = await send_grpc(daemon.grpc_endpoint, payloads[size])
                else:
                    accepted, hint, message = await send_http(session, url, payloads[size])
                if accepted:
                    out.acked += spans
                    continue
                out.refusals += 1
                if hint is None or hint < 1:
                    out.bad.append(message or "a refusal without a retry hint")
                    return
                if UNREAD in message:
                    out.unread += 1
                    out.unread_spans += spans
                await asyncio.sleep(hint * rng.uniform(1.0, 1.5))

        await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def accepted_again(protocol: str, daemon: Any, payload: bytes, spans: int, within: float, out: Outcomes) -> float:
    """Seconds until a large request is accepted after the burst (backing off as told); its attempts are
    accounted in `out` as the burst's are."""
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        while time.monotonic() - started < within:
            out.sent += spans
            if protocol == "grpc":
                accepted, hint, message = await send_grpc(daemon.grpc_endpoint, payload)
            else:
                accepted, hint, message = await send_http(session, f"{daemon.http_url}/v1/traces", payload)
            if accepted:
                out.acked += spans
                return time.monotonic() - started
            out.refusals += 1
            if UNREAD in message:
                out.unread += 1
                out.unread_spans += spans
            await asyncio.sleep(hint or 1.0)
    raise AssertionError(f"no large request accepted within {within:.0f} s of the burst:\n{daemon.logs()}")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_large_requests_keep_rss_within_the_limit_refuse_retryably_and_account_for_every_span(daemon_factory: Any, protocol: str) -> None:
    template = loadgen.build_templates(batch_size=1000, count=1, seed=5)[0]
    # Concatenated requests are one request whose repeated fields are merged: 18 to 25 copies, 18-25 MiB.
    payloads = {size: template.payload * size for size in SIZES_MIB}
    assert all(18 * MIB <= len(p) <= 26 * MIB for p in payloads.values())
    daemon = daemon_factory(CONFIG)
    pid = daemon.proc.pid
    idle = tree_rss(pid)

    sampler = RssSampler(pid)
    sampler.start()
    out = Outcomes()
    asyncio.run(drive(protocol, daemon, payloads, template.items, out))
    again = asyncio.run(accepted_again(protocol, daemon, payloads[max(SIZES_MIB)], max(SIZES_MIB) * template.items, 30.0, out))
    sampler.done.set()
    sampler.join()
    after = tree_rss(pid)

    accepted = daemon.metric("otelcol_receiver_accepted_spans")
    refused = daemon.metric("otelcol_receiver_refused_spans")
    limiter_refused = daemon.metric("otelcol_processor_refused_spans", processor="memory_limiter")
    uncounted = daemon.metric("llm_collector_receiver_refused_uncounted_requests")
    exported = daemon.metric("otelcol_exporter_sent_spans")
    failed = daemon.metric("otelcol_receiver_failed_spans")
    assert daemon.stop() == 0
    (daemon.data / "traces.jsonl").unlink()  # hundreds of MiB of OTLP-JSON
    peak = sampler.peak()
    ts0 = sampler.samples[0][0]
    print(
        f"\n{protocol}: idle {idle / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB ({peak / (LIMIT_MIB * MIB):.2f}x limit_mib {LIMIT_MIB}), "
        f"after {after / MIB:.0f} MiB; accepted again after {again:.1f} s\n"
        f"clients: {CLIENTS} x {LOAD_SECONDS}s: sent {out.sent:,} spans, acked {out.acked:,}, {out.refusals} refusals "
        f"({out.unread} unread, {out.unread_spans:,} spans)\n"
        f"daemon: accepted {accepted:,.0f}, refused {refused:,.0f} (memory_limiter {limiter_refused:,.0f}), "
        f"uncounted requests {uncounted:.0f}, exported {exported:,.0f}\n"
        f"tree RSS MiB by 0.5 s (daemon): {[(round(t - ts0, 1), rss >> 20, main >> 20) for t, rss, main in sampler.samples[::25]]}"
    )

    assert not out.bad, out.bad
    assert out.refusals > 0 and out.acked > 0
    assert peak <= 1.1 * LIMIT_MIB * MIB, f"peak {peak / MIB:.0f} MiB, limit {LIMIT_MIB} MiB"
    assert accepted == out.acked == exported and failed == 0
    assert refused == limiter_refused == out.sent - out.acked - out.unread_spans
    assert uncounted == out.unread


UNREAD_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 128}}
processors:
  memory_limiter: {{limit_mib: 400, spike_limit_mib: 80, check_interval: 1s}}
exporters:
  otlp:
    endpoint: "127.0.0.1:{sink}"
    tls: {{insecure: true}}
    timeout: 4s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [memory_limiter], exporters: [otlp]}}
"""


@pytest.mark.slow
def test_a_grpc_request_that_cannot_be_read_in_time_is_refused_unread_with_a_retry_hint(daemon_factory: Any) -> None:
    """A read of up to 128 MiB holds 384 MiB, which does not fit beside a request in flight under a 400 MiB
    limit: while one request waits for an exporter that never answers, the next waits for its turn to be read,
    and is refused unread when half its deadline has passed."""
    import socket

    from tests.processors.test_memory_limiter import request

    sink = socket.socket()  # listens, never accepts: the exporter's connection hangs until its timeout
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    try:
        daemon = daemon_factory(UNREAD_CONFIG.replace("{sink}", str(sink.getsockname()[1])))
        with grpc.insecure_channel(daemon.grpc_endpoint) as channel:
            export = channel.unary_unary(EXPORT)
            stuck = export.future(request(3), timeout=20)
            time.sleep(0.5)  # read and admitted: now in the exporter
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as info:
                export(request(5), timeout=2)
            waited = time.monotonic() - started
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE and UNREAD in (info.value.details() or "")
            details = status_pb2.Status.FromString(dict(info.value.trailing_metadata())["grpc-status-details-bin"])
            hint = error_details_pb2.RetryInfo()
            assert details.details[0].Unpack(hint) and hint.retry_delay.seconds >= 1
            assert 0.8 <= waited <= 1.9, waited  # half of its 2 s deadline
            with pytest.raises(grpc.RpcError):
                stuck.result()  # the exporter's timeout: a retryable failure of its own
        assert daemon.metric("llm_collector_receiver_refused_uncounted_requests") == 1
        assert daemon.metric("otelcol_receiver_refused_spans") == 3  # the first, refused by the exporter
        assert daemon.stop() == 0
    finally:
        sink.close()
