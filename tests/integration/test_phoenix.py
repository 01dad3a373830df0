"""A real third-party OTLP server: Arize Phoenix. The daemon forwards what the OTel SDK sent it through
the `otlp` (gRPC) and `otlphttp` exporters, and Phoenix's REST API must return the same spans: ids,
names, times, kinds, status, attributes and events.

Phoenix is large (~850 MB installed), so it lives in its own venv and this test skips without it:
    make phoenix      (installs it into .phoenix-venv; CI does this)
or point PHOENIX_BIN at a `phoenix` executable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import REPO, free_ports
from tests.exporters.test_otlp_exporter import COMMON, fill, proto_records, sdk_spans, service, wait_for

pytestmark = pytest.mark.slow

CANDIDATES = (
    os.environ.get("PHOENIX_BIN", ""),
    "/work/phoenix-venv/bin/phoenix",
    str(REPO / ".phoenix-venv" / "bin" / "phoenix"),
    shutil.which("phoenix") or "",
)


def phoenix_bin() -> str | None:
    for candidate in CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    binary = phoenix_bin()
    if binary is None:
        pytest.skip("Arize Phoenix not installed: run `make phoenix` (CI does) or set PHOENIX_BIN")
    workdir = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = free_ports(2)
    env = {
        **os.environ,
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_WORKING_DIR": str(workdir),  # its own SQLite database, gone with the temp dir
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log_path = workdir / "phoenix.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "serve"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 180  # a cold start imports a lot; ~20 s on a busy 2-core machine
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"phoenix exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"phoenix not healthy after 180 s:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield {"base": base, "grpc": f"127.0.0.1:{grpc_port}", "http": base}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: this ends only the server we started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def phoenix_spans(phoenix: dict[str, Any], project: str) -> list[dict[str, Any]]:
    """Every span of a project in Phoenix's OTLP-shaped REST view, following its cursor."""
    spans: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"{phoenix['base']}/v1/projects/{project}/spans/otlpv1?limit=100" + (f"&cursor={cursor}" if cursor else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                page = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # the project appears with its first span
                return []
            raise
        spans.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return spans


def plain(value: Any) -> Any:
    """An OTLP AnyValue as Python, from either the protobuf message or Phoenix's JSON."""
    if isinstance(value, dict):
        for key in ("string_value", "bool_value", "int_value", "double_value"):
            if value.get(key) is not None:
                return value[key]
        if value.get("array_value") is not None:
            return [plain(v) for v in value["array_value"]["values"]]
        return None
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind)


KINDS = {0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT", 4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}


def assert_intact(sent: list[Any], stored: list[dict[str, Any]]) -> None:
    by_id = {s["span_id"]: s for s in stored}
    assert len(by_id) == len(sent), f"{len(sent)} spans sent, {len(by_id)} in Phoenix"
    for span in sent:
        got = by_id[span.span_id.hex()]
        assert got["trace_id"] == span.trace_id.hex()
        assert got["name"] == span.name
        # Phoenix stores times as microsecond timestamps and returns them through a float: equal to 1 µs.
        assert abs(int(got["start_time_unix_nano"]) - span.start_time_unix_nano) < 1000
        assert abs(int(got["end_time_unix_nano"]) - span.end_time_unix_nano) < 1000
        assert got["kind"] == KINDS[span.kind]
        assert (got["status"]["code"] or 0) == span.status.code
        attributes = {a["key"]: plain(a["value"]) for a in got["attributes"]}
        # Phoenix adds its own OpenInference attributes (llm.model_name, ...); ours must all be there.
        for kv in span.attributes:
            expected = plain(kv.value)
            if kv.value.HasField("double_value"):
                assert attributes[kv.key] == pytest.approx(expected), kv.key
            else:
                assert attributes[kv.key] == expected, kv.key
        assert [e["name"] for e in got["events"] or ()] == [e.name for e in span.events]
        for event, stored_event in zip(span.events, got["events"] or (), strict=True):
            assert abs(int(stored_event["time_unix_nano"]) - event.time_unix_nano) < 1000
            assert {a["key"]: plain(a["value"]) for a in stored_event["attributes"]} == {kv.key: plain(kv.value) for kv in event.attributes}


FORWARDER = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
  otlp/http_route:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{second}"
exporters:
  file/grpc_route:
    path: "{data}/grpc_route.pb"
    format: proto
  file/http_route:
    path: "{data}/http_route.pb"
    format: proto
  otlp/phoenix:
    endpoint: "http://<<grpc>>"
    retry_on_failure:
      initial_interval: 200ms
  otlphttp/phoenix:
    endpoint: "<<http>>"
    retry_on_failure:
      initial_interval: 200ms
""" + COMMON + service("""    traces/grpc:
      receivers: [otlp]
      exporters: [file/grpc_route, otlp/phoenix]
    traces/http:
      receivers: [otlp/http_route]
      exporters: [file/http_route, otlphttp/phoenix]""")


def test_spans_arrive_intact_in_phoenix_over_grpc_and_http(daemon_factory: Any, phoenix: dict[str, Any]) -> None:
    forwarder = daemon_factory(fill(FORWARDER, grpc=phoenix["grpc"], http=phoenix["http"]), extra_ports=("second",))
    # Phoenix files spans under the project named by this resource attribute; one project per route.
    projects = {"grpc_route": f"llm-collector-grpc-{os.getpid()}", "http_route": f"llm-collector-http-{os.getpid()}"}
    sdk_spans(forwarder.grpc_endpoint, 40, service_name="shop", resource={"openinference.project.name": projects["grpc_route"]})
    sdk_spans(f"127.0.0.1:{forwarder.ports['second']}", 40, service_name="shop", resource={"openinference.project.name": projects["http_route"]})
    for project in projects.values():
        wait_for(lambda p=project: len(phoenix_spans(phoenix, p)) >= 40, timeout=60, what=f"40 spans in Phoenix project {project}")
    assert forwarder.metric("otelcol_exporter_sent_spans", exporter="otlp/phoenix") == 40
    assert forwarder.metric("otelcol_exporter_sent_spans", exporter="otlphttp/phoenix") == 40
    assert forwarder.stop() == 0
    for route, project in projects.items():
        sent = [span for record in proto_records(forwarder.data / f"{route}.pb") for rs in ExportTraceServiceRequest.FromString(record).resource_spans for ss in rs.scope_spans for span in ss.spans]
        assert len(sent) == 40
        assert_intact(sent, phoenix_spans(phoenix, project))
