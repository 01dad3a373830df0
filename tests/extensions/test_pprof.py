"""The pprof extension as a user runs it: a real daemon with `pprof` in its config, profiles fetched over HTTP
while OTLP traffic loads it, each decoded with the protobuf library from google/pprof's profile.proto
(tests/extensions/pprof_decode.py), checking that the daemon's own functions are in the samples. otelcol's
behaviour followed: contrib's extension/pprofextension (config.go Config: the keys endpoint, via confignet.TCPAddr
with its dialer, block_profile_fraction, mutex_profile_fraction, save_to_file; factory.go createDefaultConfig:
endpoint default localhost:1777, createExtension: an empty endpoint is refused; pprofextension.go Start/Shutdown:
save_to_file is created at start and holds the CPU profile of the whole run at shutdown), and Go's net/http/pprof routes (profile's `seconds` default 30, goroutine's debug=1/2 text,
`Unknown profile` for a name it does not know)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from collector.component import ComponentID, Kind
from collector.config import ConfigErrors, load_config
from collector.extensions.pprof.extension import PprofExtension
from collector.testing import spans_request
from tests.conftest import daemon_yaml
from tests.extensions.pprof_decode import decode, sample_stacks, strings


def _config(pprof: str) -> str:
    return daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: {{timeout: 10ms}}
exporters:
  file: {{path: "{data}/traces.jsonl"}}
""", """
traces: {{receivers: [otlp], processors: [batch], exporters: [file]}}
""").replace("  extensions: [health_check]", "  extensions: [health_check, pprof]").replace("extensions:\n", f"extensions:\n  pprof: {pprof}\n", 1)


def _get(url: str, timeout: float = 10) -> tuple[int, bytes, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


class _Load:
    """OTLP/HTTP requests sent back to back from a thread while a profile is taken."""

    def __init__(self, url: str):
        self.url, self.sent = url, 0
        self._stop = threading.Event()
        self._body = spans_request(50).SerializeToString()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            request = urllib.request.Request(self.url, data=self._body, headers={"Content-Type": "application/x-protobuf"})
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
            self.sent += 1

    def __enter__(self) -> _Load:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def _functions(profile: Any) -> set[str]:
    return {name for names, _, _ in sample_stacks(profile) for name in names}


def _check_cpu_profile(profile: Any) -> None:
    assert [tuple(strings(profile, (t.type, t.unit))) for t in profile.sample_type] == [("samples", "count"), ("cpu", "nanoseconds")]
    assert strings(profile, (profile.period_type.type, profile.period_type.unit)) == ["cpu", "nanoseconds"]
    assert profile.period == 10_000_000 and profile.string_table[profile.default_sample_type] == "cpu"
    assert profile.string_table[0] == ""
    assert len(profile.mapping) == 1 and profile.mapping[0].has_functions and profile.mapping[0].has_line_numbers
    assert all(loc.mapping_id == 1 and len(loc.line) == 1 for loc in profile.location)
    samples = sample_stacks(profile)
    assert samples and all(len(values) == 2 and values[0] >= 1 and values[1] > 0 for _, values, _ in samples)
    assert all("thread" in labels for _, _, labels in samples)
    names = _functions(profile)
    # The daemon's own code under load: the event loop and the OTLP receiver's request handling.
    assert "asyncio.base_events.BaseEventLoop.run_forever" in names
    assert any(n.startswith("collector.receivers.otlp.") for n in names), sorted(names)
    files = {profile.string_table[f.filename] for f in profile.function}
    assert any(f.endswith("collector/receivers/otlp.py") for f in files)


@pytest.mark.slow
def test_a_cpu_profile_taken_under_load_shows_the_daemons_code(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config('{{endpoint: "127.0.0.1:{pprof}"}}'), extra_ports=("pprof",))
    base = f"http://127.0.0.1:{daemon.ports['pprof']}/debug/pprof/"
    with _Load(f"{daemon.http_url}/v1/traces") as load:
        started = time.monotonic()
        status, body, headers = _get(base + "profile?seconds=2")
        took = time.monotonic() - started
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="profile"'
    assert 2.0 <= took < 6.0 and load.sent > 0
    profile = decode(body)
    assert 1.9e9 <= profile.duration_nanos < 6e9 and profile.time_nanos > 0
    _check_cpu_profile(profile)
    assert "MainThread" in {labels["thread"] for _, _, labels in sample_stacks(profile)}

    # Two profiles at once share the process's one profiling timer; both get samples.
    results: list[bytes] = []
    with _Load(f"{daemon.http_url}/v1/traces"):
        others = [threading.Thread(target=lambda: results.append(_get(base + "profile?seconds=1")[1])) for _ in range(2)]
        for t in others:
            t.start()
        for t in others:
            t.join()
    assert len(results) == 2 and all(decode(r).sample for r in results)
    assert daemon.stop() == 0


def test_thread_stacks_index_and_what_python_has_not(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config('{{endpoint: "127.0.0.1:{pprof}", block_profile_fraction: 5, mutex_profile_fraction: 0}}'), extra_ports=("pprof",))
    base = f"http://127.0.0.1:{daemon.ports['pprof']}/debug/pprof/"

    status, body, _ = _get(base)
    assert status == 200 and b'href="profile?debug=1"' in body and b'href="goroutine?debug=1"' in body and b"Not available" in body
    status, body, _ = _get(base.rstrip("/"))  # Go redirects /debug/pprof to /debug/pprof/
    assert status == 200 and b"/debug/pprof/" in body

    status, body, _ = _get(base + "goroutine?debug=2")
    text = body.decode()
    assert status == 200 and 'thread ' in text and '"MainThread":' in text
    assert "collector.cli.main()" in text and "asyncio.base_events.BaseEventLoop.run_forever()" in text
    assert "collector.extensions.pprof.extension.PprofExtension._goroutine()" in text  # the request being served, innermost first
    status, body, _ = _get(base + "goroutine?debug=1")
    assert status == 200 and body.startswith(b"thread profile: total ") and b"1 @ threads: MainThread" in body
    status, body, _ = _get(base + "goroutine")
    profile = decode(body)
    assert [tuple(strings(profile, (t.type, t.unit))) for t in profile.sample_type] == [("goroutine", "count")]
    assert any("MainThread" in labels["threads"] for _, _, labels in sample_stacks(profile))
    assert "collector.cli.main" in _functions(profile)

    status, body, _ = _get(base + "cmdline")
    assert status == 200 and body.split(b"\x00")[-3:] == [b"run", b"--config", str(daemon.config_path).encode()]

    status, body, _ = _get(base + "heap")
    assert status == 404 and b"PYTHONTRACEMALLOC" in body
    for name in ("block", "mutex", "allocs", "threadcreate", "trace", "symbol"):
        status, body, _ = _get(base + name)
        assert status == 404 and body.startswith(f"profile {name} is not available in this Python process: ".encode()), name
    status, body, _ = _get(base + "nonsense")
    assert (status, body) == (404, b"Unknown profile\n")

    assert daemon.stop() == 0
    warnings = [r for r in daemon.log_records() if r.get("event") == "config key has no effect"]
    assert [r["key"] for r in warnings] == ["extensions.pprof.block_profile_fraction"]


@pytest.mark.slow
def test_heap_profile_with_tracemalloc(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config('{{endpoint: "127.0.0.1:{pprof}"}}'), extra_ports=("pprof",), env={"PYTHONTRACEMALLOC": "8"}, start=False)
    daemon.start(wait=False)
    daemon.wait_healthy(timeout=120)  # tracing every allocation slows the start-up's imports several times
    base = f"http://127.0.0.1:{daemon.ports['pprof']}/debug/pprof/"
    with _Load(f"{daemon.http_url}/v1/traces") as load:
        while load.sent < 20:
            time.sleep(0.05)
    status, body, _ = _get(base + "heap?gc=1", timeout=60)
    assert status == 200
    profile = decode(body)
    assert [tuple(strings(profile, (t.type, t.unit))) for t in profile.sample_type] == [("inuse_objects", "count"), ("inuse_space", "bytes")]
    assert profile.string_table[profile.default_sample_type] == "inuse_space"
    samples = sample_stacks(profile)
    assert sum(values[1] for _, values, _ in samples) > 1_000_000  # the daemon's live memory: modules, protobuf classes, buffers
    files = {profile.string_table[f.filename] for f in profile.function}
    assert any("/collector/" in f for f in files)
    assert not any(f.endswith("tracemalloc.py") for f in files)  # the snapshot's own allocations are left out


@pytest.mark.slow
def test_save_to_file_holds_the_whole_run(daemon_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "whole-run.pprof"
    daemon = daemon_factory(_config(f'{{{{endpoint: "127.0.0.1:{{pprof}}", save_to_file: "{path}"}}}}'), extra_ports=("pprof",))
    assert path.exists() and path.stat().st_size == 0  # created at start-up, as otelcol's os.Create in Start
    with _Load(f"{daemon.http_url}/v1/traces") as load:
        time.sleep(1.5)
    assert load.sent > 0
    assert daemon.stop() == 0
    profile = decode(path.read_bytes())
    _check_cpu_profile(profile)
    assert profile.duration_nanos > 1.5e9
    written = [r for r in daemon.log_records() if r.get("event") == "CPU profile of the whole run written"]
    assert len(written) == 1 and written[0]["path"] == str(path) and written[0]["component"] == "pprof"


def test_save_to_file_that_cannot_be_created_fails_the_start(daemon_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "cpu.pprof"
    daemon = daemon_factory(_config(f'{{{{endpoint: "127.0.0.1:{{pprof}}", save_to_file: "{path}"}}}}'), extra_ports=("pprof",), start=False)
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(20) != 0
    assert f"save_to_file: cannot create {path}: No such file or directory" in daemon.logs()


def test_a_second_pprof_instance_fails_the_start_as_in_otelcol(daemon_factory: Any) -> None:
    # contrib's pprofextension.go, pprofExtension.Start: the `running` flag lets one instance start per process.
    config = _config('{{endpoint: "127.0.0.1:{pprof}"}}').replace("extensions: [health_check, pprof]", "extensions: [health_check, pprof, pprof/second]")
    config = config.replace("extensions:\n", 'extensions:\n  pprof/second: {{endpoint: "127.0.0.1:{pprof2}"}}\n', 1)
    daemon = daemon_factory(config, extra_ports=("pprof", "pprof2"), start=False)
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(20) != 0
    assert "only a single pprof extension instance can be running per process" in daemon.logs()


def test_otelcols_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("""
receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
exporters: {debug: {}}
extensions: {pprof: {}, pprof/2: {dialer: {timeout: 5s}, mutex_profile_fraction: 1}}
service:
  extensions: [pprof]
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
""")
    cfg = load_config([str(path)])
    default = cfg.component(Kind.EXTENSION, ComponentID("pprof")).config
    assert (default.endpoint, default.block_profile_fraction, default.mutex_profile_fraction, default.save_to_file) == ("localhost:1777", 0, 0, "")
    assert PprofExtension.ineffective_keys(default) == []
    other = cfg.component(Kind.EXTENSION, ComponentID("pprof", "2")).config
    assert [key for key, _ in PprofExtension.ineffective_keys(other)] == ["mutex_profile_fraction", "dialer"]

    path.write_text(path.read_text().replace("pprof: {}", 'pprof: {endpoint: ""}'))
    with pytest.raises(ConfigErrors) as caught:  # refused, as factory.go createExtension refuses it
        load_config([str(path)])
    assert "extensions.pprof.endpoint: expected an endpoint" in str(caught.value)
