"""A fake Docker Engine API on a Unix socket, built from the documented API (docs.docker.com/reference/api/engine/):
`GET /_ping` answers `OK` with the `API-Version` header the client negotiates with, `GET /info` and
`GET /v<version>/info` answer the system information object (`ID`, `Name`, `OSType`, `OperatingSystem`,
`KernelVersion`, `Architecture`, ...); other paths get 404 `{"message": "page not found"}`. It is a fake, not Docker:
the info object is what a test gives it."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

API_VERSION = "1.47"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class DockerAPIFake:
    def __init__(self, socket_path: Path, info: dict[str, Any]):
        self.socket_path = socket_path
        self.info = info
        self.requests: list[str] = []
        self.server: _Server | None = None

    def start(self) -> DockerAPIFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if self.path == "/_ping":
                    self._send(200, b"OK", "text/plain; charset=utf-8")
                elif self.path in ("/info", f"/v{API_VERSION}/info"):
                    self._send(200, json.dumps(fake.info).encode(), "application/json")
                else:
                    self._send(404, json.dumps({"message": "page not found"}).encode(), "application/json")

        self.server = _Server(str(self.socket_path), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
