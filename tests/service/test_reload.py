"""Config reload through the real daemon: SIGHUP and POST /reload on the health_check port swap the pipelines
while clients send continuously (no request refused, every acknowledged span exported exactly once, the
receiver's port never closed), and an invalid config leaves the running one in place with every error logged
with its file, line and key."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Daemon

HEAD = """
extensions:
  health_check:
    endpoint: "127.0.0.1:{health}"
    reload: {{enabled: true}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
"""
PLAIN = HEAD + """
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"""
WITH_ATTRIBUTES = HEAD + """
processors:
  attributes:
    actions: [{{key: reloaded, value: "yes", action: insert}}]
  batch: {{timeout: 50ms}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [attributes, batch], exporters: [file]}}
"""
INVALID = HEAD + """
processors:
  attributes:
    actions: [{{key: reloaded, value: "again", action: insert}}]
    no_such_key: 1
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [attributes, missing], exporters: [file]}}
"""


class Senders:
    """Threads posting OTLP/JSON requests of 5 spans each, without pause, recording every span id acknowledged
    (with the time of the answer) and every request not acknowledged."""

    def __init__(self, daemon: Daemon, threads: int = 4):
        self.url = f"{daemon.http_url}/v1/traces"
        self.acked: dict[str, float] = {}
        self.refused: list[str] = []
        self.stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]
        self._lock = threading.Lock()

    def _run(self, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            ids = [f"1{n:01x}{i:06x}{k:08x}" for k in range(5)]  # never all zeros (an invalid span id)
            i += 1
            body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
                {"traceId": f"{n + 1:032x}", "spanId": sid, "name": "op", "startTimeUnixNano": "1", "endTimeUnixNano": "2"} for sid in ids]}]}]}).encode()
            request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    ok = response.status == 200
            except (urllib.error.URLError, OSError) as exc:
                with self._lock:
                    self.refused.append(repr(exc))
                continue
            with self._lock:
                if ok:
                    now = time.monotonic()
                    self.acked.update(dict.fromkeys(ids, now))
                else:
                    self.refused.append("status")

    def __enter__(self) -> Senders:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(15)


def _wait_log(daemon: Daemon, message: str, after: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in daemon.log_records()[after:] if r.get("event") == message]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {message!r} logged:\n{daemon.logs()[-4000:]}")


def _exported(path: Path) -> list[dict[str, Any]]:
    spans = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans.extend(ss["spans"])
    return spans


def _post_reload(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{daemon.ports['health']}/reload", b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_reload_under_load_swaps_pipelines_without_refusing_or_losing(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, PLAIN).start()
    try:
        with Senders(daemon) as senders:
            time.sleep(1.0)
            # SIGHUP: the same --config file, now with an attributes processor and a batch processor.
            daemon.config_path.write_text(WITH_ATTRIBUTES.format(data=daemon.data, **daemon.ports))
            mark = len(daemon.log_records())
            daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            swapped = _wait_log(daemon, "pipelines swapped", mark)
            assert swapped["kept_receivers"] == ["otlp"] and swapped["kept_exporters"] == ["file"]
            _wait_log(daemon, "configuration reloaded", mark)
            reloaded_at = time.monotonic()
            time.sleep(1.0)

            # An invalid config over POST /reload: 400 with every problem, the running pipelines untouched.
            daemon.config_path.write_text(INVALID.format(data=daemon.data, **daemon.ports))
            mark = len(daemon.log_records())
            status, body = _post_reload(daemon)
            assert status == 400, body
            problems = body["problems"]
            assert any(f"{daemon.config_path}:" in p and "processors.attributes" in p and "no_such_key" in p for p in problems), problems
            assert any("missing" in p for p in problems), problems
            logged = [r for r in daemon.log_records()[mark:] if r.get("event") == "invalid configuration; the running one is kept"]
            assert sorted(r["problem"] for r in logged) == sorted(problems)
            assert all(r["component"] == "service" for r in logged)
            time.sleep(0.5)

            # POST /reload back to the plain pipeline works too.
            daemon.config_path.write_text(PLAIN.format(data=daemon.data, **daemon.ports))
            status, body = _post_reload(daemon)
            assert (status, body) == (200, {"status": "reloaded"})
            time.sleep(0.5)
        assert daemon.stop() == 0, daemon.logs()[-4000:]
    finally:
        if daemon.alive():
            daemon.stop()

    assert senders.refused == []
    assert len(senders.acked) > 500, "the senders should have kept the daemon busy"
    spans = _exported(daemon.data / "traces.jsonl")
    ids = [s["spanId"] for s in spans]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    assert set(ids) == set(senders.acked), "an acknowledged span was not exported (or an unacknowledged one was)"
    marked = {s["spanId"] for s in spans if any(a["key"] == "reloaded" for a in s.get("attributes", []))}
    assert marked, "no span went through the reloaded pipeline"
    assert not any(a["value"].get("stringValue") == "again" for s in spans for a in s.get("attributes", []) if a["key"] == "reloaded")
    # Every span acknowledged between the reload's completion and the invalid attempt took the new pipeline.
    between = {sid for sid, at in senders.acked.items() if reloaded_at + 0.2 < at < reloaded_at + 0.9}
    assert between and between <= marked
    assert len(marked) < len(ids)  # the first and the last second went through the plain pipeline
