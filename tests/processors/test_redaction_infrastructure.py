"""Infrastructure addresses (`infrastructure_attributes`): the API host an LLM client calls keeps its IP in
`server.address`, `network.peer.address` and the host part of `url.full`, while `client.address`, an address in
a URL's path or query, and every other detector's findings in those attributes are still redacted. `[]`
redacts everything as before. Unit tests through `build_redactor` (serialized and received-bytes paths), and
one through the running daemon."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.component import Signal
from collector.processors.redaction import RedactionConfig, build_redactor
from collector.processors.redaction.infrastructure import DEFAULT_INFRASTRUCTURE_ATTRIBUTES, InfrastructureAttributes, authority
from tests.conftest import daemon_yaml
from tests.processors.test_redaction import as_dict, attrs, read_json, send
from tests.processors.test_redaction_unit import config

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"

SENT = {
    "server.address": "10.0.0.5",
    "server.port": 8443,
    "network.peer.address": "2001:db8::5",
    "network.local.address": "192.168.1.20",
    "url.full": "https://10.0.0.5:8443/v1/chat/completions?ip=203.0.113.7&user=maria@example.com",
    "url.original": "http://[2001:db8::5]:8080/proxy/198.51.100.4/x",
    "http.url": f"https://bot:{GITHUB}@10.0.0.5/hook",
    "client.address": "203.0.113.7",
    "net.peer.name": "198.51.100.9",  # deprecated; on a server span it named the client
    "note": "called 10.0.0.5 for 203.0.113.7",
}
EXPECTED = {
    "server.address": "10.0.0.5",
    "server.port": 8443,
    "network.peer.address": "2001:db8::5",
    "network.local.address": "192.168.1.20",
    "url.full": "https://10.0.0.5:8443/v1/chat/completions?ip=<IPV4>&user=<EMAIL>",
    "url.original": "http://[2001:db8::5]:8080/proxy/<IPV4>/x",
    "http.url": "https://bot:<GITHUB_TOKEN>@10.0.0.5/hook",
    "client.address": "<IPV4>",
    "net.peer.name": "<IPV4>",
    "note": "called <IPV4> for <IPV4>",
}


def request(values: dict[str, Any]) -> ExportTraceServiceRequest:
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat gpt-4o", attributes=attrs(values))
    resource = Resource(attributes=attrs({"service.name": "svc", "server.address": "10.0.0.5", "host.ip": "10.0.0.7"}))
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[span])])])


def redact(data: dict[str, Any], values: dict[str, Any], received: bool = False) -> tuple[dict[str, Any], dict[str, Any], Any]:
    cfg, errors = config(data)
    assert not errors
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    req = request(values)
    stats = redactor.traces(req, req.SerializeToString() if received else None)
    rs = req.resource_spans[0]
    return as_dict(rs.scope_spans[0].spans[0].attributes), as_dict(rs.resource.attributes), stats


@pytest.mark.parametrize("received", [False, True], ids=["serialized", "received-bytes"])
def test_the_default_keeps_infrastructure_hosts_and_redacts_the_rest(received: bool) -> None:
    a, resource, stats = redact({"summary": "debug"}, SENT, received)
    assert {k: a[k] for k in SENT} == EXPECTED
    # The summary counts only what was masked: an infrastructure host is no finding.
    assert a["redaction.masked.keys"] == "client.address,http.url,net.peer.name,note,url.full,url.original"
    assert a["redaction.masked.ipv4.count"] == 6 and a["redaction.masked.email.count"] == 1
    assert stats.matches == {"ipv4": 7, "email": 1, "github_token": 1}  # with the resource's host.ip
    assert resource == {"service.name": "svc", "server.address": "10.0.0.5", "host.ip": "<IPV4>",
                        "redaction.masked.keys": "host.ip", "redaction.masked.count": 1, "redaction.masked.ipv4.count": 1}


def test_an_empty_list_redacts_every_address_as_before() -> None:
    a, resource, _ = redact({"infrastructure_attributes": []}, SENT)
    assert a["server.address"] == "<IPV4>" and a["network.peer.address"] == "<IPV6>"
    assert a["url.full"] == "https://<IPV4>:8443/v1/chat/completions?ip=<IPV4>&user=<EMAIL>"
    assert a["http.url"] == "https://bot:<GITHUB_TOKEN>@<IPV4>/hook"
    assert resource["server.address"] == "<IPV4>"


def test_a_configured_list_replaces_the_default() -> None:
    a, _, _ = redact({"infrastructure_attributes": ["upstream.*", "client.address"]},
                     {"upstream.host": "10.0.0.5", "server.address": "10.0.0.6", "client.address": "10.0.0.7"})
    assert a["upstream.host"] == "10.0.0.5" and a["client.address"] == "10.0.0.7"
    assert a["server.address"] == "<IPV4>"


def test_other_detectors_and_actions_still_apply_to_listed_attributes() -> None:
    a, _, _ = redact({"detectors": {"email": {"action": "drop_attribute"}}},
                     {"server.address": "maria@example.com", "url.domain": "10.0.0.5", "url.full": "https://10.0.0.5/"})
    assert "server.address" not in a
    assert a["url.domain"] == "10.0.0.5" and a["url.full"] == "https://10.0.0.5/"


def test_without_the_ip_detectors_the_list_changes_nothing() -> None:
    cfg, _ = config({"detectors": {"ipv4": False, "ipv6": False}})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    assert redactor.infrastructure is None
    cfg, _ = config({})
    redactor, _ = build_redactor(cfg)  # type: ignore[arg-type]
    assert redactor.infrastructure is not None


def test_the_default_is_the_documented_list_and_an_empty_entry_is_an_error() -> None:
    cfg, _ = config({})
    assert cfg is not None and cfg.infrastructure_attributes == list(DEFAULT_INFRASTRUCTURE_ATTRIBUTES)
    assert "client.address" not in DEFAULT_INFRASTRUCTURE_ATTRIBUTES
    assert RedactionConfig().infrastructure_attributes is not RedactionConfig().infrastructure_attributes
    _, errors = config({"infrastructure_attributes": ["server.*", ""]})
    assert errors == ["processors.redaction.infrastructure_attributes.1: expected an attribute key (`*` for any characters), got an empty string"]


@pytest.mark.parametrize(("text", "host"), [
    ("10.0.0.5", "10.0.0.5"),
    ("10.0.0.5:8443", "10.0.0.5:8443"),
    ("[2001:db8::1]:443", "[2001:db8::1]:443"),
    ("https://api.example.com/v1?x=1", "api.example.com"),
    ("https://user:pw@10.0.0.5:8443/p", "10.0.0.5:8443"),
    ("//10.0.0.5/p", "10.0.0.5"),
    ("http://10.0.0.5?q=1", "10.0.0.5"),
    ("http://10.0.0.5#frag", "10.0.0.5"),
    ("/v1/chat?ip=10.0.0.5", ""),
    ("", ""),
])
def test_authority_is_the_host_a_value_names(text: str, host: str) -> None:
    s, e = authority(text)
    assert text[s:e] == host


def test_key_patterns_match_whole_keys() -> None:
    infra = InfrastructureAttributes(["server.*", "url.full"])
    assert infra.listed("server.address") and infra.listed("server.port") and infra.listed("url.full")
    assert not infra.listed("xserver.address") and not infra.listed("url.full.x") and not infra.listed("url_full")
    assert not InfrastructureAttributes([])


DAEMON_CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  redaction: {{detectors: {{}}, allow_all_keys: true}}
  redaction/everything: {{detectors: {{}}, allow_all_keys: true, infrastructure_attributes: []}}
exporters:
  file/default: {{path: "{data}/default.jsonl"}}
  file/everything: {{path: "{data}/everything.jsonl"}}
""", """
traces/default: {{receivers: [otlp], processors: [redaction], exporters: [file/default]}}
traces/everything: {{receivers: [otlp], processors: [redaction/everything], exporters: [file/everything]}}
""")


@pytest.mark.slow
def test_through_the_daemon(daemon_factory: Any) -> None:
    daemon = daemon_factory(DAEMON_CONFIG)
    send(daemon, Signal.TRACES, request(SENT))
    assert daemon.stop() == 0
    (default,) = read_json(daemon.data / "default.jsonl", Signal.TRACES)
    a = as_dict(default.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert {k: a[k] for k in SENT} == EXPECTED
    (everything,) = read_json(daemon.data / "everything.jsonl", Signal.TRACES)
    a = as_dict(everything.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert a["server.address"] == "<IPV4>" and a["url.full"].startswith("https://<IPV4>:8443/")
    assert b"203.0.113.7" not in (daemon.data / "default.jsonl").read_bytes()
