"""The zipkin receiver as a user runs it: a real daemon with `zipkin` in its traces pipeline and the file
exporter, fed by the OpenTelemetry Python SDK's real Zipkin exporters (JSON from the project's venv, protobuf
from the zipkin-proto venv: it needs protobuf 3.x) and by hand-made bodies on the wire. What arrives is read
from the file exporter's OTLP JSON. Behaviour follows otelcol-contrib's receiver/zipkinreceiver
(trace_receiver.go ServeHTTP) and pkg/translator/zipkin/zipkinv2 (to_translator.go), cited per test; the
translation case by case is tests/receivers/test_zipkin_translate.py."""

from __future__ import annotations

import gzip
import http.server
import json
import random
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard

from collector import otlpjson
from collector.component import Signal
from collector.receivers.zipkin.proto import zipkin_pb2
from collector.testing import wait_for
from tests import libvenvs
from tests.conftest import daemon_yaml, damaged_copies
from tests.receivers.test_receiver_security import pki as pki  # noqa: F401 (the fixture: openssl-made CA, server and client certificates)

pytestmark = pytest.mark.slow

APP = Path(__file__).with_name("zipkin_app.py")
SECRET = "s3cr3t-value"


def config(receiver: str = 'endpoint: "127.0.0.1:{zipkin}"') -> str:
    return daemon_yaml(f"""
receivers:
  zipkin:
    {receiver}
exporters:
  file: {{{{path: "{{data}}/traces.jsonl"}}}}
""", "traces: {{receivers: [zipkin], exporters: [file]}}")


def start(daemon_factory: Any, receiver: str = 'endpoint: "127.0.0.1:{zipkin}"') -> Any:
    return daemon_factory(config(receiver), extra_ports=("zipkin",))


def url(daemon: Any, path: str = "/api/v2/spans") -> str:
    return f"http://127.0.0.1:{daemon.ports['zipkin']}{path}"


def post(target: str, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(target, data=body, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def arrived(daemon: Any, count: int) -> list[Any]:
    """The spans in the file exporter's output once `count` have arrived, as (resource, scope, span) triples."""
    path = daemon.data / "traces.jsonl"

    def spans() -> list[Any]:
        if not path.exists():
            return []
        out = []
        for line in path.read_bytes().splitlines():
            for rs in otlpjson.decode(Signal.TRACES, line).resource_spans:
                for ss in rs.scope_spans:
                    out.extend((rs.resource, ss.scope, span) for span in ss.spans)
        return out if len(out) >= count else []

    return wait_for(spans, timeout=15, what=f"{count} spans in the file")


def attrs(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def usec(nanoseconds: int) -> int:
    """The exporters' _nsec_to_usec_round."""
    return (nanoseconds + 500) // 1000


def tag(value: Any) -> str:
    """The exporters' tag text for an attribute value (Encoder._extract_tags_from_dict)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def expected_attributes(sent: dict[str, Any]) -> dict[str, Any]:
    """What otelcol makes of one exported span's tags (to_translator.go): every value a string (no
    parse_string_tags), the scope tags otel.library.* taken for the scope while otel.scope.* (not read by the
    translator) stay, an ERROR status's description kept as the `error` tag, the local endpoint's address."""
    out = {k: tag(v) for k, v in sent["attributes"].items()}
    scope_name, scope_version = sent["scope"]
    out |= {"otel.scope.name": scope_name, "otel.scope.version": scope_version}
    if sent["status"][0] == "ERROR":
        out["error"] = sent["status"][1] or ""
    return out | {"net.host.ip": "10.1.2.3", "net.host.port": 8080}


KINDS = {"SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5, "INTERNAL": 0}  # INTERNAL is sent without a kind


@pytest.mark.parametrize("protocol", ["json", "proto"])
def test_sdk_spans_exported_with_the_zipkin_exporter_arrive_as_otelcol_translates_them(daemon_factory: Any, protocol: str) -> None:
    """The SDK's ZipkinExporter (JSON or protobuf, one batch in one POST) to the receiver, out of the file
    exporter: ids, names, kinds, microsecond times, attributes, events, status, resource and scopes as
    contrib's zipkinv2 ToTranslator makes them."""
    daemon = start(daemon_factory)
    python = sys.executable if protocol == "json" else str(libvenvs.ensure("zipkin-proto"))
    run = subprocess.run([python, str(APP), "--endpoint", url(daemon), "--protocol", protocol], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[-1] == {"result": "SUCCESS"}  # the exporter saw 202 Accepted
    sent = {line["span_id"]: line for line in lines[:-1]}
    got = {span.span_id.hex(): (resource, scope, span) for resource, scope, span in arrived(daemon, len(sent))}
    assert sorted(got) == sorted(sent)
    for span_id, expected in sent.items():
        resource, scope, span = got[span_id]
        assert span.trace_id.hex() == expected["trace_id"]
        assert (span.parent_span_id.hex() or None) == expected["parent_id"]
        assert (span.name, span.kind) == (expected["name"], KINDS[expected["kind"]])
        start_us = usec(expected["start"])
        assert span.start_time_unix_nano == start_us * 1000
        assert span.end_time_unix_nano == (start_us + usec(expected["end"] - expected["start"])) * 1000
        assert attrs(span.attributes) == expected_attributes(expected)
        # Events travel as annotations whose value is json.dumps({name: attributes}): otelcol names the event so.
        assert [(e.name, e.time_unix_nano, len(e.attributes)) for e in span.events] == [
            (json.dumps({e["name"]: e["attributes"]}, sort_keys=True), usec(e["time"]) * 1000, 0) for e in expected["events"]]
        # The exporters write otel.status_code as ERROR/OK, names otelcol does not read; the `error` tag makes ERROR.
        assert (span.status.code, span.status.message) == ((2, "") if expected["status"][0] == "ERROR" else (0, ""))
        assert (scope.name, scope.version) == tuple(expected["scope"])
        resource_attrs = attrs(resource.attributes)
        assert resource_attrs["service.name"] == "chat-api"
        assert {k: resource_attrs[k] for k in ("service.version", "deployment.environment", "telemetry.sdk.language")} == {
            "service.version": "1.4.0", "deployment.environment": "test", "telemetry.sdk.language": "python"}
    transport = "http_v2_json" if protocol == "json" else "http_v2_proto"
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="zipkin", transport=transport) == len(sent)


def test_v1_json_from_the_zipkin_exporter_arrives_as_otelcol_translates_it(daemon_factory: Any) -> None:
    """The SDK's ZipkinExporter with Protocol.V1 (POST /api/v1/spans) as contrib's zipkinv1 jsonBatchToTraces
    reads it: no core annotations, so no kind; the binary annotations' endpoint names the one resource; every
    tag but the status ones is an attribute; `error` makes the status an error."""
    daemon = start(daemon_factory)
    run = subprocess.run([sys.executable, str(APP), "--endpoint", url(daemon, "/api/v1/spans"), "--protocol", "v1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    sent = {line["span_id"]: line for line in lines[:-1]}
    got = {span.span_id.hex(): (resource, scope, span) for resource, scope, span in arrived(daemon, len(sent))}
    assert sorted(got) == sorted(sent)
    for span_id, expected in sent.items():
        resource, scope, span = got[span_id]
        assert attrs(resource.attributes) == {"service.name": "chat-api"} and scope.name == ""
        assert (span.trace_id.hex(), span.name, span.kind) == (expected["trace_id"], expected["name"], 0)
        start_us = usec(expected["start"])
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (start_us * 1000, (start_us + usec(expected["end"] - expected["start"])) * 1000)
        attributes = attrs(span.attributes)
        assert {k: attributes[k] for k in expected["attributes"]} == {k: tag(v) for k, v in expected["attributes"].items()}
        assert attributes["otel.library.name"] == expected["scope"][0] and attributes["service.version"] == "1.4.0"
        assert "otel.status_code" not in attributes and "error" not in attributes
        assert (span.status.code, span.status.message) == ((2, "") if expected["status"][0] == "ERROR" else (0, ""))
        assert [(e.name, e.time_unix_nano) for e in span.events] == [
            (json.dumps({e["name"]: e["attributes"]}, sort_keys=True), usec(e["time"]) * 1000) for e in expected["events"]]
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="zipkin", transport="http_v1_json") == len(sent)


def _zipkin_json(trace: str = "5af7183fb1d4cf5f5af7183fb1d4cf5f", name: str = "get /api") -> bytes:
    return json.dumps([{"traceId": trace, "id": "6b221d5bc9e6496c", "name": name, "kind": "SERVER", "timestamp": 1472470996199000,
                        "duration": 207000, "localEndpoint": {"serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306},
                        "tags": {"http.path": "/api"}, "annotations": [{"timestamp": 1472470996238000, "value": "ws"}]}]).encode()


def _zipkin_proto() -> bytes:
    return zipkin_pb2.ListOfSpans(spans=[zipkin_pb2.Span(
        trace_id=bytes(range(1, 17)), id=bytes(range(1, 9)), name="proto span", kind=zipkin_pb2.Span.CLIENT, timestamp=1472470996199000, duration=5,
        local_endpoint=zipkin_pb2.Endpoint(service_name="backend"), tags={"k": "v"})]).SerializeToString()


def test_compressed_bodies_any_path_and_protocols_http(daemon_factory: Any) -> None:
    """trace_receiver_test.go TestReceiverContentTypes: gzip and zlib (deflate) JSON, plain, and protobuf with
    its Content-Type, all 202; otelcol's handler serves any path; the v0.128+ `protocols.http` form."""
    daemon = start(daemon_factory, 'protocols: {{http: {{endpoint: "127.0.0.1:{zipkin}"}}}}')
    body = _zipkin_json()
    cases = [
        (gzip.compress(body), {"Content-Encoding": "gzip"}, "/api/v2/spans"),
        (zlib.compress(body), {"Content-Encoding": "deflate"}, "/api/v2/spans"),
        (zlib.compress(body), {"Content-Encoding": "zlib"}, "/api/v2/spans"),
        (zstandard.ZstdCompressor().compress(body), {"Content-Encoding": "zstd"}, "/api/v2/spans"),
        (body, {}, "/anything"),
        (_zipkin_proto(), {"Content-Type": "application/x-protobuf"}, "/api/v2/spans"),
    ]
    for payload, headers, path in cases:
        assert post(url(daemon, path), payload, headers) == (202, ""), (headers, path)
    spans = arrived(daemon, len(cases))
    assert [span.name for _, _, span in spans].count("get /api") == len(cases) - 1
    (resource, _, proto_span) = next(s for s in spans if s[2].name == "proto span")
    assert attrs(resource.attributes) == {"service.name": "backend"} and proto_span.kind == 3 and attrs(proto_span.attributes) == {"k": "v"}
    json_span = next(s for _, _, s in spans if s.name == "get /api")
    assert attrs(json_span.attributes) == {"http.path": "/api", "net.host.ip": "192.168.99.1", "net.host.port": 3306}
    assert [(e.name, e.time_unix_nano) for e in json_span.events] == [("ws", 1472470996238000000)]


def test_bad_input_is_refused_with_a_reason_that_never_quotes_it(daemon_factory: Any) -> None:
    """trace_receiver_test.go TestReceiverInvalidContentType: a body that does not decode is 400 with the
    reason (otelcol's http.Error); zipkin-go fails the whole request on one bad span. Never a 500."""
    daemon = start(daemon_factory, 'endpoint: "127.0.0.1:{zipkin}"\n    max_request_body_size: 4096')
    good = json.loads(_zipkin_json())[0]
    cases: list[tuple[bytes, dict[str, str], str, int, str]] = [
        (b"{ invalid json " + SECRET.encode(), {}, "/api/v2/spans", 400, "malformed JSON"),
        (json.dumps([good, {**good, "id": SECRET}]).encode(), {}, "/api/v2/spans", 400, "span 1.id: not a hex number"),
        (json.dumps([{**good, "tags": {"k": 5}}]).encode(), {}, "/api/v2/spans", 400, "span 0.tags (a value): expected a string"),
        (json.dumps([{**good, "localEndpoint": {"ipv4": SECRET}}]).encode(), {}, "/api/v2/spans", 400, "span 0.localEndpoint.ipv4: invalid IP address"),
        (json.dumps([{**good, "annotations": [{"timestamp": 1, "value": "e|{" + SECRET + "|1"}]}]).encode(), {}, "/api/v2/spans", 400, "annotation 0"),
        (SECRET.encode() + b"\xff\x00", {"Content-Type": "application/x-protobuf"}, "/api/v2/spans", 400, "malformed protobuf ListOfSpans"),
        # otelcol compares the whole Content-Type: with parameters, protobuf is read as JSON.
        (_zipkin_proto(), {"Content-Type": "application/x-protobuf; proto=zipkin"}, "/api/v2/spans", 400, "malformed JSON"),
        (b"not gzip " + SECRET.encode(), {"Content-Encoding": "gzip"}, "/api/v2/spans", 400, "invalid gzip body"),
        (_zipkin_json(), {"Content-Encoding": "br"}, "/api/v2/spans", 415, "unsupported Content-Encoding"),
        (gzip.compress(b"[" + b" " * 10_000 + b"]"), {"Content-Encoding": "gzip"}, "/api/v2/spans", 413, "exceeds max_request_body_size 4096"),
        (b"[" + b" " * 5000 + b"]", {}, "/api/v2/spans", 413, "exceeds max_request_body_size 4096"),
        (b"[" * 4000, {}, "/api/v2/spans", 400, "malformed JSON"),
        (b"\x0c\x00\x00\x00\x01", {"Content-Type": "application/x-thrift"}, "/api/v1/spans", 400, "Zipkin v1 Thrift (application/x-thrift) is not supported"),
        (json.dumps([{"traceId": "1", "id": SECRET}]).encode(), {}, "/api/v1/spans", 400, "span 0.traceId: hex id has wrong length"),
    ]
    for body, headers, path, status, reason in cases:
        code, text = post(url(daemon, path), body, headers)
        assert (code, reason in text, SECRET in text) == (status, True, False), (headers, text)
    assert post(url(daemon), b"", method="GET")[0] == 400  # ServeHTTP serves any method: an empty body is no JSON
    assert post(url(daemon), b"null") == (202, "") and post(url(daemon), b"[]") == (202, "")
    # A span otelcol would pass on with an all-zero trace id is left out alone; the other goes through.
    no_trace_id = {k: v for k, v in good.items() if k != "traceId"}
    assert post(url(daemon), json.dumps([no_trace_id, good]).encode()) == (202, "")
    assert len(arrived(daemon, 1)) == 1
    assert daemon.metric("otelcol_receiver_refused_spans", receiver="zipkin", transport="http_v2_json") == 1
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="zipkin", transport="http_v2_json") == 1


def test_damaged_bodies_get_202_or_400_never_a_500(daemon_factory: Any) -> None:
    """Real bodies damaged at random (tests/conftest.py damaged_copies), JSON and protobuf: each is decoded or
    refused with 400, and the daemon keeps serving."""
    daemon = start(daemon_factory)
    rng = random.Random(18)
    for protobuf, originals in ((False, [_zipkin_json(), _zipkin_json(name="ñ|{\"a\": 1}|2")]), (True, [_zipkin_proto()])):
        headers = {"Content-Type": "application/x-protobuf"} if protobuf else {}
        for body in damaged_copies(rng, originals, 150, cut=True, insert=True):
            code, text = post(url(daemon), body, headers)
            assert code in (202, 400), (code, text)
    assert daemon.alive()
    assert post(url(daemon), _zipkin_json()) == (202, "")


def test_legacy_keys_beside_protocols_http_are_ignored_with_a_warning_and_cors(daemon_factory: Any) -> None:
    """config.go Unmarshal: with protocols.http set, the top-level (deprecated) server keys are ignored; here a
    start-up warning names them. confighttp's CORS answers a browser's preflight."""
    daemon = start(daemon_factory, 'endpoint: "127.0.0.1:1"\n    protocols: {{http: {{endpoint: "127.0.0.1:{zipkin}", cors: {{allowed_origins: ["https://app.example"]}}}}}}')
    warnings = [r for r in daemon.log_records() if r.get("event") == "config key has no effect"]
    assert [r["key"] for r in warnings] == ["receivers.zipkin.endpoint"]
    preflight = urllib.request.Request(url(daemon), method="OPTIONS", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert (response.status, response.headers["Access-Control-Allow-Origin"]) == (204, "https://app.example")
    assert post(url(daemon), _zipkin_json(), {"Origin": "https://app.example"}) == (202, "")


def test_tls_and_mtls(daemon_factory: Any, pki: dict[str, Path]) -> None:
    """confighttp's tls on the zipkin server (collector/receivers/security.py, as the otlp receiver's): HTTPS with
    the server certificate; with client_ca_file a client certificate is required."""
    tls = f'tls: {{{{cert_file: "{pki["server.crt"]}", key_file: "{pki["server.key"]}", client_ca_file: "{pki["ca.crt"]}"}}}}'
    daemon = start(daemon_factory, f'endpoint: "127.0.0.1:{{zipkin}}"\n    {tls}')
    target = url(daemon).replace("http://", "https://")
    context = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    context.load_cert_chain(str(pki["client.crt"]), str(pki["client.key"]))
    request = urllib.request.Request(target, data=_zipkin_json(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert response.status == 202
    without_client_cert = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        urllib.request.urlopen(urllib.request.Request(target, data=_zipkin_json(), headers={"Content-Type": "application/json"}), timeout=10, context=without_client_cert)
    assert len(arrived(daemon, 1)) == 1


class _Refusing(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP backend that refuses everything for good (400)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_pipeline_failures_answer_as_otelcol(daemon_factory: Any) -> None:
    """trace_receiver_test.go TestReceiverConsumerPermanentError and TestReceiverConsumerError: a permanent
    refusal downstream (an OTLP backend answering 400) is 400 `"Bad Request"`, any other failure (a backend
    that is down) 500 `"Internal Server Error"`; the spans are counted refused."""
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        exporter = "{{sending_queue: {{enabled: false}}, retry_on_failure: {{enabled: false}}, timeout: 2s, endpoint: "
        daemon = daemon_factory(daemon_yaml(f"""
receivers:
  zipkin/refused: {{{{endpoint: "127.0.0.1:{{zipkin}}"}}}}
  zipkin/down: {{{{endpoint: "127.0.0.1:{{zipkin2}}"}}}}
exporters:
  otlp_http/refusing: {exporter}"http://127.0.0.1:{backend.server_address[1]}"}}}}
  otlp_http/down: {exporter}"http://127.0.0.1:{{down}}"}}}}
""", """
traces/refused: {{receivers: [zipkin/refused], exporters: [otlp_http/refusing]}}
traces/down: {{receivers: [zipkin/down], exporters: [otlp_http/down]}}
"""), extra_ports=("zipkin", "zipkin2", "down"))
        assert post(url(daemon), _zipkin_json()) == (400, '"Bad Request"\n')
        down = f"http://127.0.0.1:{daemon.ports['zipkin2']}/api/v2/spans"
        assert post(down, _zipkin_json()) == (500, '"Internal Server Error"\n')
        assert daemon.metric("otelcol_receiver_refused_spans", receiver="zipkin/refused", transport="http_v2_json") == 1
        assert daemon.metric("otelcol_receiver_refused_spans", receiver="zipkin/down", transport="http_v2_json") == 1
    finally:
        backend.shutdown()
