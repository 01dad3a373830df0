"""The OTLP receiver's `http.cors`, as otelcol's confighttp (rs/cors with credentials), through a real
daemon: the OTel demo's own settings (allowed_origins http://* and https://*, allowed_headers
content-type, traceparent, baggage) answer a browser's preflight and its POST; a refused origin or
header gets no CORS headers."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.conftest import Daemon, daemon_yaml

CONFIG = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http:
        endpoint: "127.0.0.1:{http}"
        cors:
          allowed_origins: ["http://*", "https://*.example.com"]
          allowed_headers: [content-type, traceparent, baggage]
          exposed_headers: [x-trace]
          max_age: 600
exporters:
  file: {{path: "{data}/traces.jsonl"}}
""", "traces: {{receivers: [otlp], exporters: [file]}}")


def _request(daemon: Daemon, method: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}


def test_preflight_and_post_from_an_allowed_origin(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG).start()
    try:
        status, headers = _request(daemon, "OPTIONS", {"Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type,traceparent"})
        assert status == 204
        assert headers["access-control-allow-origin"] == "http://localhost:8080"
        assert headers["access-control-allow-methods"] == "POST"
        assert headers["access-control-allow-headers"] == "content-type,traceparent"
        assert headers["access-control-allow-credentials"] == "true"
        assert headers["access-control-max-age"] == "600"
        body = json.dumps({"resourceSpans": []}).encode()
        status, headers = _request(daemon, "POST", {"Origin": "https://app.example.com", "Content-Type": "application/json"}, body)
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://app.example.com"
        assert headers["access-control-allow-credentials"] == "true"
        assert headers["access-control-expose-headers"] == "x-trace"
        assert headers["vary"] == "Origin"
    finally:
        assert daemon.stop() == 0


def test_refused_origin_or_header_gets_no_cors_headers(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG).start()
    try:
        for origin, requested in (("https://evil.test", "content-type"), ("http://localhost", "x-api-key")):
            status, headers = _request(daemon, "OPTIONS", {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": requested})
            assert status == 204
            assert "access-control-allow-origin" not in headers, (origin, requested)
        body = json.dumps({"resourceSpans": []}).encode()
        status, headers = _request(daemon, "POST", {"Origin": "https://evil.test", "Content-Type": "application/json"}, body)
        assert status == 200 and "access-control-allow-origin" not in headers
    finally:
        assert daemon.stop() == 0
