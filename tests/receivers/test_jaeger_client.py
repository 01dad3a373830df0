"""A real Jaeger client against the real daemon: OpenTelemetry's Jaeger Thrift exporter (tests/jaeger_thrift_app.py,
in its own venv: tests/venvs/jaeger-thrift.txt) in its collector mode (Thrift over HTTP to thrift_http) and its
agent mode (emitBatch over UDP, TCompactProtocol to thrift_compact, and TBinaryProtocol to thrift_binary). What
the file exporter wrote is compared with the spans the app's SDK recorded, through the exporter's own mapping to
Jaeger (it rounds times to microseconds, copies resource attributes into span tags, names events in a `message`
field) and contrib's jaegerthrift_to_traces.go back to OTLP (which reads an event's name from `event` only, and
keeps the exporter's otel.library.* / otel.scope.* tags as attributes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from collector import otlpjson
from collector.component import Signal
from collector.testing import wait_for
from tests import libvenvs
from tests.conftest import daemon_yaml

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[1] / "jaeger_thrift_app.py"
CONFIG = daemon_yaml("""
receivers:
  jaeger:
    protocols:
      thrift_http: {{endpoint: "127.0.0.1:{jhttp}"}}
      thrift_compact: {{endpoint: "127.0.0.1:{jcompact}"}}
      thrift_binary: {{endpoint: "127.0.0.1:{jbinary}"}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [jaeger], exporters: [file/traces]}}
""")
MODES = {"collector": "jhttp", "agent": "jcompact", "agent-binary": "jbinary"}
TRANSPORTS = {"collector": "collector_http", "agent": "udp_thrift_compact", "agent-binary": "udp_thrift_binary"}
KINDS = {"SERVER": 2, "CLIENT": 3, "INTERNAL": 1}
STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


@pytest.fixture(scope="module")
def app_python() -> Path:
    return libvenvs.ensure("jaeger-thrift")


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _us(ns: int) -> int:
    """The exporter's _nsec_to_usec_round, back in nanoseconds as contrib's microsecondsToUnixNano makes them."""
    return ((ns + 500) // 1000) * 1000


def _expected_attributes(sdk: dict[str, Any]) -> dict[str, Any]:
    """The exporter's tags (translate/__init__.py _extract_tags) after contrib's translator took out span.kind, the
    status tags and error: the span's attributes (a list as its str()), then the resource's, then the scope tags."""
    out: dict[str, Any] = {k: str(tuple(v)) if isinstance(v, list) else v for k, v in sdk["attributes"].items()}
    out.update(sdk["resource"])
    name, version = sdk["scope"]
    out.update({"otel.library.name": name, "otel.library.version": version, "otel.scope.name": name, "otel.scope.version": version})
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_the_jaeger_thrift_exporter_reaches_the_daemon(daemon_factory: Any, app_python: Path, mode: str) -> None:
    daemon = daemon_factory(CONFIG, extra_ports=tuple(MODES.values()))
    service = f"shop-{mode}"
    run = subprocess.run([str(app_python), str(APP), "--mode", mode, "--port", str(daemon.ports[MODES[mode]]), "--service", service],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Traces cannot be uploaded" not in run.stderr and "exceeds the max UDP packet size" not in run.stderr, run.stderr
    recorded = {s["span_id"]: s for s in json.loads(run.stdout)}
    assert len(recorded) == 2

    def written() -> list[tuple[Any, Any]] | None:
        path = daemon.data / "traces.jsonl"
        if not path.exists():
            return None
        got = [(rs, span) for line in path.read_bytes().splitlines() if line.strip()
               for rs in otlpjson.decode(Signal.TRACES, line).resource_spans for ss in rs.scope_spans for span in ss.spans]
        return got if len(got) >= 2 else None

    got = wait_for(written, 15, "the app's two spans in the file")
    assert len(got) == 2
    for rs, span in got:
        sdk = recorded[span.span_id.hex()]
        assert _attrs(rs.resource.attributes) == {"service.name": service}  # the exporter's Process carries the service name only
        assert span.trace_id.hex() == sdk["trace_id"] and (span.parent_span_id.hex() or None) == sdk["parent_span_id"]
        assert span.name == sdk["name"] and span.kind == KINDS[sdk["kind"]]
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (_us(sdk["start"]), _us(sdk["start"]) + _us(sdk["end"] - sdk["start"]))
        assert span.flags == sdk["flags"] & 1 == 1
        assert _attrs(span.attributes) == _expected_attributes(sdk)
        code, description = sdk["status"]
        assert span.status.code == STATUS[code]
        assert span.status.message == (description or "")
        # The exporter names an event in a "message" field; contrib's translator names events from "event" only.
        assert [(e.name, e.time_unix_nano, _attrs(e.attributes)) for e in span.events] == [
            ("", _us(e["time"]), {**e["attributes"], "message": e["name"]}) for e in sdk["events"]]
        # Links travel as FOLLOWS_FROM references.
        assert [(link.trace_id.hex(), link.span_id.hex(), _attrs(link.attributes)) for link in span.links] == [
            (link["trace_id"], link["span_id"], {"opentracing.ref_type": "follows_from"}) for link in sdk["links"]]
    statuses = {s["name"]: s["status"] for s in recorded.values()}
    assert statuses == {"GET /checkout": ["OK", None], "POST payments": ["ERROR", "card declined"]}
    assert daemon.metric("otelcol_receiver_accepted_spans", receiver="jaeger", transport=TRANSPORTS[mode]) == 2
