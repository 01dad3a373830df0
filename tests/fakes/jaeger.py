"""A fake Jaeger collector: `jaeger.api_v2.CollectorService/PostSpans` served by grpcio from the
exporter's own api_v2.proto stubs, so every request is decoded exactly as Jaeger's collector would
(an undecodable body fails the call with INTERNAL, as grpcio does).

It records each PostSpansRequest and its metadata, and can be told to fail the next calls with a gRPC
status (optionally with a RetryInfo delay), or be stopped and started again on the same port to play a
backend outage.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from collector.jaeger_proto import api_v2_pb2, api_v2_pb2_grpc
from tests.conftest import free_port


class _Failure:
    def __init__(self, code: grpc.StatusCode, times: int | None, details: str, retry_after: float | None):
        self.code = code
        self.remaining = times  # None: until recover()
        self.details = details
        self.retry_after = retry_after


class FakeJaegerCollector(api_v2_pb2_grpc.CollectorServiceServicer):
    def __init__(self, port: int | None = None, server_credentials: Any = None):
        self.port = port or free_port()
        self.server_credentials = server_credentials
        self.requests: list[api_v2_pb2.PostSpansRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.calls = 0
        self.failed_calls = 0
        self._failure: _Failure | None = None
        self._lock = threading.Condition()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeJaegerCollector:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        api_v2_pb2_grpc.add_CollectorServiceServicer_to_server(self, server)
        address = f"127.0.0.1:{self.port}"
        bound = server.add_secure_port(address, self.server_credentials) if self.server_credentials else server.add_insecure_port(address)
        if bound != self.port:
            raise RuntimeError(f"fake Jaeger could not bind {address}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None

    def __enter__(self) -> FakeJaegerCollector:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- behaviour -----------------------------------------------------------------------------

    def fail(self, code: grpc.StatusCode, times: int | None = None, details: str = "injected failure", retry_after: float | None = None) -> None:
        """Fail the next `times` calls (every call until recover() when None) with `code`."""
        with self._lock:
            self._failure = _Failure(code, times, details, retry_after)

    def recover(self) -> None:
        with self._lock:
            self._failure = None

    def PostSpans(self, request: api_v2_pb2.PostSpansRequest, context: grpc.ServicerContext) -> api_v2_pb2.PostSpansResponse:
        with self._lock:
            self.calls += 1
            failure = self._failure
            if failure is not None:
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failure = None
                self.failed_calls += 1
            else:
                self.requests.append(request)
                self.metadata.append({k: v for k, v in context.invocation_metadata() if isinstance(v, str)})
                self._lock.notify_all()
        if failure is not None:
            if failure.retry_after is not None:
                info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(failure.retry_after), nanos=int(failure.retry_after % 1 * 1e9)))
                status = status_pb2.Status(code=getattr(code_pb2, failure.code.name), message=failure.details)
                status.details.add().Pack(info)
                context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
            context.abort(failure.code, failure.details)
        return api_v2_pb2.PostSpansResponse()

    # --- what arrived --------------------------------------------------------------------------

    @property
    def batches(self) -> list[api_v2_pb2.Batch]:
        with self._lock:
            return [r.batch for r in self.requests]

    def spans(self) -> list[tuple[api_v2_pb2.Process, api_v2_pb2.Span]]:
        """Every received span with the Process of its Batch."""
        return [(batch.process, span) for batch in self.batches for span in batch.spans]

    def span_count(self) -> int:
        with self._lock:
            return sum(len(r.batch.spans) for r in self.requests)

    def wait_for_spans(self, count: int, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                have = sum(len(r.batch.spans) for r in self.requests)
                left = deadline - time.monotonic()
                if have >= count or left <= 0:
                    return have
                self._lock.wait(left)
