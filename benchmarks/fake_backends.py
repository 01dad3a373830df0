#!/usr/bin/env python3
"""The test fakes of tests/fakes as standalone servers, so a benchmark can run a backend in its own process
and keep its CPU out of the daemon's:

    .venv/bin/python benchmarks/fake_backends.py jaeger [--port N]
    .venv/bin/python benchmarks/fake_backends.py elasticsearch [--port N]

Talks over stdin/stdout, one JSON object per line: once listening it prints
`{"ready": true, "backend": ..., "port": N, "pid": ...}`; each `count` line read from stdin is answered with
what arrived so far; `quit`, end of stdin (the parent went away) or SIGTERM stops the server and exits.

The fakes keep everything they receive for a test's assertions; at benchmark rates that would be gigabytes, so
here they keep counts instead (and, for Elasticsearch, the document ids a `create` must not repeat). Each
request is still decoded and answered exactly as in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Tally(list):
    """Stands in for a fake's list of received requests: counts what is appended and keeps nothing."""

    def __init__(self, measure: Any = None) -> None:
        super().__init__()
        self.appended = 0
        self.measured = 0
        self._measure = measure

    def append(self, item: Any) -> None:
        self.appended += 1
        if self._measure is not None:
            self.measured += self._measure(item)


class _IdsOnly(dict):
    """One index of the Elasticsearch fake: remembers each document's id (a second `create` of it must still
    be a 409) but not its source."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, None)

    def setdefault(self, key: str, default: Any = None) -> Any:
        return super().setdefault(key, None)


class _Indices(dict):
    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = _IdsOnly()
        return self[key]


class JaegerBackend:
    name = "jaeger"

    def __init__(self, port: int | None) -> None:
        from tests.fakes.jaeger import FakeJaegerCollector

        self.fake = FakeJaegerCollector(port)
        self.fake.requests = _Tally(lambda request: len(request.batch.spans))
        self.fake.metadata = _Tally()

    def start(self) -> int:
        self.fake.start()
        return self.fake.port

    def stop(self) -> None:
        self.fake.stop()

    def counts(self) -> dict[str, Any]:
        with self.fake._lock:
            requests: _Tally = self.fake.requests
            return {"spans": requests.measured, "requests": requests.appended, "failed_requests": self.fake.failed_calls}


class ElasticsearchBackend:
    name = "elasticsearch"
    traces_index = "traces-generic.otel-default"

    def __init__(self, port: int | None) -> None:
        from tests.fakes.elasticsearch import ElasticsearchFake

        self.fake = ElasticsearchFake(port=port or 0)
        self.fake.indices = _Indices()
        self.failed_items = _Tally(lambda call: sum(1 for status in call.statuses if status >= 300))
        self.fake.calls = self.failed_items

    def start(self) -> int:
        self.fake.start()
        return self.fake.port

    def stop(self) -> None:
        self.fake.stop()

    def counts(self) -> dict[str, Any]:
        with self.fake.lock:
            documents = {index: len(docs) for index, docs in self.fake.indices.items()}
            return {
                "spans": documents.get(self.traces_index, 0),
                "documents": documents,
                "requests": self.failed_items.appended,
                "failed_items": self.failed_items.measured,
            }


BACKENDS = {b.name: b for b in (JaegerBackend, ElasticsearchBackend)}


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=sorted(BACKENDS))
    parser.add_argument("--port", type=int, default=None, help="listen on 127.0.0.1:PORT (default: a free port)")
    args = parser.parse_args()

    backend = BACKENDS[args.backend](args.port)
    try:
        port = backend.start()
    except (OSError, RuntimeError) as exc:
        emit({"ready": False, "backend": args.backend, "error": str(exc)})
        return 1
    emit({"ready": True, "backend": args.backend, "port": port, "pid": os.getpid()})

    stopping = threading.Event()
    # SIGTERM only sets the flag; the main thread notices it within the stdin poll below.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    reader = threading.Thread(target=serve_commands, args=(backend, stopping), daemon=True)
    reader.start()
    while not stopping.wait(0.2):
        pass
    backend.stop()
    return 0


def serve_commands(backend: Any, stopping: threading.Event) -> None:
    for line in sys.stdin:
        command = line.strip()
        if command == "count":
            emit(backend.counts())
        elif command == "quit":
            break
        elif command:
            emit({"error": f"unknown command {command!r}; expected count or quit"})
    stopping.set()


if __name__ == "__main__":
    sys.exit(main())
