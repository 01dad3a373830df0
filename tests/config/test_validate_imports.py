"""`validate` reads configs without importing the server and client libraries their components need only
once they start (aiohttp, grpc, prometheus_client's parsers, the HTTP listener, the OTLP/JSON codec): those
imports were most of its time (docs/performance.md, "validate"). Checked by module names rather than by
timing, so load on the machine cannot make it flaky: one fresh interpreter validates every config of the
otelcol corpus and lists what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests/fixtures/otelcol").glob("*.yaml"))
# Imported by start(), never by reading a config (collector/lazyimport.py).
STARTUP_ONLY = ("aiohttp", "grpc", "prometheus_client", "collector.httpserver", "collector.otlpjson",
                "collector.receivers.bodies", "collector.receivers.grpcauth", "collector.receivers.jaeger.intake")

PROGRAM = """
import contextlib, io, json, sys
from collector import cli
codes = {}
for path in sys.argv[1:]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        codes[path] = cli.main(["validate", "--config", path])
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_validate_of_the_corpus_imports_no_server_or_client_library():
    assert len(CORPUS) >= 20
    out = subprocess.run([sys.executable, "-c", PROGRAM, *map(str, CORPUS)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    # Most corpus configs validate; the others are refused for types this daemon lacks (test_otelcol_configs.py).
    assert sum(code == 0 for code in result["codes"].values()) >= 12
    loaded = [name for name in result["modules"] if any(name == top or name.startswith(top + ".") for top in STARTUP_ONLY)]
    assert loaded == []
    # The components themselves were imported: the check is not vacuous.
    assert "collector.receivers.otlp" in result["modules"] and "collector.exporters.otlp" in result["modules"]
