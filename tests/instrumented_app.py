"""A small OpenAI app instrumented with one real GenAI instrumentation library, exporting OTLP/gRPC.

Each library patches the openai client process-wide (and OpenLLMetry and openai-v2 conflict in one
process), so every library x scenario runs in its own subprocess:

    .venv/bin/python tests/instrumented_app.py --library otel-genai|openinference|openllmetry \\
        --otlp-endpoint 127.0.0.1:4317 --base-url http://127.0.0.1:8000/v1 --scenario usage

Those three run from the project's venv. The other libraries (VENV_LIBRARIES: Langfuse, MLflow, Langtrace,
OpenLIT, Traceloop, pydantic-ai, the Anthropic SDK alone and with OpenLLMetry's or OpenInference's
instrumentation) clash with each other, so each runs with the python of its own venv (tests/libvenvs.py);
their apps are in tests/library_apps.py, their scenarios VENV_SCENARIOS, and run_app picks the venv.

Scenarios (the stub behind --base-url must be configured to match, see SCENARIOS / llm_stub.StubConfig):
  usage            non-streaming; usage with cached (and reasoning) token details
  no-usage         non-streaming; the response carries no usage
  stream-usage     streaming with stream_options.include_usage; the last chunk carries usage
  stream-no-usage  streaming without include_usage, so no usage chunk
  tools            a tool-call round: the model asks for get_price, the app answers, the model replies (2 calls)
  error            the stub answers HTTP 500 (the client does not retry)

It prints nothing but errors and exits non-zero if a call fails unexpectedly or the span export fails.

Regenerating the fixtures (tests/fixtures/genai/<library>-<scenario>.jsonl: one OTLP-JSON line each, as the
daemon's file exporter wrote it, holding only that run's spans):

    .venv/bin/python tests/instrumented_app.py --write-fixtures [--libraries langfuse,mlflow]

That starts the stub and a real daemon (recording_config(): OTLP in, files out), runs the whole matrix through them
exactly as tests/integration/test_llm_instrumentation.py does, and rewrites the fixture files. Regenerate after upgrading
any of the instrumentation libraries; test_fixtures_match_live_libraries tells you when they are stale.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__:
    from .llm_stub import LLMStub, RecordedRequest, StubConfig
else:  # run as a script: tests/ is sys.path[0]
    from llm_stub import LLMStub, RecordedRequest, StubConfig  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = HERE / "fixtures" / "genai"

LIBRARIES = ("otel-genai", "openinference", "openllmetry")
# The libraries that run in a venv of their own (tests/libvenvs.py, apps in tests/library_apps.py).
OPENAI_VENV_LIBRARIES = ("langfuse", "mlflow", "langtrace", "openlit", "traceloop", "pydantic-ai")
ANTHROPIC_LIBRARIES = ("anthropic-sdk", "anthropic-openllmetry", "anthropic-openinference")
VENV_LIBRARIES = OPENAI_VENV_LIBRARIES + ANTHROPIC_LIBRARIES
# The scenarios every venv library runs: usage with cache read and write, none, streamed with and without.
VENV_SCENARIOS = ("usage", "no-usage", "stream-usage", "stream-no-usage")


def venv_pairs() -> list[tuple[str, str]]:
    """Every venv library x scenario, but an Anthropic stream without usage: the API always sends it in
    message_start / message_delta, and the anthropic client's stream fails without it (accumulate_event)."""
    return [(lib, sc) for lib in VENV_LIBRARIES for sc in VENV_SCENARIOS if not (lib in ANTHROPIC_LIBRARIES and sc == "stream-no-usage")]

REQUEST_MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
SERVICE_NAME = "instrumented-app"
# Resource attributes naming the run, so one daemon can take the whole matrix and the spans still split.
LIBRARY_KEY = "test.genai.library"
SCENARIO_KEY = "test.genai.scenario"

SYSTEM_PROMPT = "Tu es un assistant de voyage concis. Réponds en français, avec les prix en monnaie locale."
USER_PROMPT = "Combien coûte un café crème à Paris, et un matcha latte à 東京 ? Sois bref 🙂"
# Planted in the venv libraries' prompts: none of them may leave a redaction processor.
PII_EMAIL = "jeanne.dupont@example.org"
PII_PHONE = "+33 6 12 34 56 78"
PII_KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0"


def pii_prompt() -> str:
    return f"{USER_PROMPT} Réponds à {PII_EMAIL} ou au {PII_PHONE}. Ma clé : {PII_KEY}"
TOOL_ARGUMENTS = '{"item": "café crème", "city": "Paris"}'
TOOL_RESULT = '{"price": 4.5, "currency": "EUR"}'
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_price",
            "description": "Prix moyen d'un article dans une ville.",
            "parameters": {
                "type": "object",
                "properties": {"item": {"type": "string"}, "city": {"type": "string"}},
                "required": ["item", "city"],
            },
        },
    }
]


@dataclass(frozen=True)
class Scenario:
    name: str
    stub: StubConfig
    stream: bool = False
    include_usage: bool = False
    tools: bool = False
    error: bool = False

    @property
    def calls(self) -> int:
        return 2 if self.tools else 1


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("usage", StubConfig(usage=True, prompt_tokens=57, completion_tokens=23, cached_tokens=32, reasoning_tokens=7, cache_write_tokens=5)),
        Scenario("no-usage", StubConfig(usage=False)),
        Scenario("stream-usage", StubConfig(usage=True, prompt_tokens=61, completion_tokens=19, cached_tokens=48, reasoning_tokens=3), stream=True, include_usage=True),
        # The stub would send usage, but the app does not ask for it, so the stream carries none.
        Scenario("stream-no-usage", StubConfig(usage=True), stream=True, include_usage=False),
        Scenario(
            "tools",
            StubConfig(usage=True, prompt_tokens=88, completion_tokens=17, cached_tokens=0, reasoning_tokens=0, tool_call={"name": "get_price", "arguments": TOOL_ARGUMENTS, "id": "call_stub_0001"}),
            tools=True,
        ),
        Scenario("error", StubConfig(error_status=500), error=True),
    )
}


def stub_config(library: str, scenario: str) -> StubConfig:
    """What the stub answers a run with. OpenAI streams carry usage only when the app asks for it
    (stream_options.include_usage, which the OpenAI apps do in stream-usage only); pydantic-ai always asks, so
    for it a stream without usage is a server that leaves it out."""
    stub = SCENARIOS[scenario].stub
    if library not in VENV_LIBRARIES:
        return stub
    # Response ids unique across the runs that share a daemon (a deduplicating processor may key on them).
    tag = f"stub{zlib.crc32(f'{library}/{scenario}'.encode()):08x}"
    return dataclasses.replace(stub, id_tag=tag, usage=stub.usage and not (library == "pydantic-ai" and scenario == "stream-no-usage"))


# ----------------------------------------------------------------------------------------- the app


def _configure_env(library: str) -> None:
    """Content capture, set before the instrumentation library is imported (some read it at import)."""
    if library == "otel-genai":
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_AND_EVENT"
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    elif library == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
    # OpenInference captures content unless OPENINFERENCE_HIDE_* say otherwise.


def _instrument(library: str, tracer_provider: Any) -> None:
    if library == "otel-genai":
        # openai>=3 moved from httpx to the httpx2 fork; openai-v2 2.4b0 still does `from httpx import URL`
        # (and does not declare httpx). httpx2's documented migration shim makes `httpx` resolve to httpx2.
        import httpx2

        httpx2.alias_httpx()
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OtelGenAI

        OtelGenAI().instrument(tracer_provider=tracer_provider)
    elif library == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference

        OpenInference().instrument(tracer_provider=tracer_provider)
    elif library == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry

        OpenLLMetry().instrument(tracer_provider=tracer_provider)
    else:
        raise SystemExit(f"unknown library {library!r}")


def _drive(client: Any, scenario: Scenario, user_prompt: str = USER_PROMPT) -> None:
    import openai

    def _messages() -> list[dict[str, Any]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_prompt}]

    common: dict[str, Any] = {"model": REQUEST_MODEL, "temperature": 0.2, "max_completion_tokens": 256}
    if scenario.error:
        try:
            client.chat.completions.create(messages=_messages(), **common)
        except openai.InternalServerError:
            return
        raise SystemExit("error scenario: the call unexpectedly succeeded")
    if scenario.tools:
        messages = _messages()
        first = client.chat.completions.create(messages=messages, tools=TOOLS, **common)
        calls = first.choices[0].message.tool_calls or []
        if not calls:
            raise SystemExit("tools scenario: no tool call in the first answer")
        messages.append(first.choices[0].message.model_dump(exclude_none=True, exclude={"annotations", "refusal"}))
        messages.extend({"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT} for call in calls)
        client.chat.completions.create(messages=messages, tools=TOOLS, **common)
        return
    if scenario.stream:
        extra = {"stream_options": {"include_usage": True}} if scenario.include_usage else {}
        stream = client.chat.completions.create(messages=_messages(), stream=True, **extra, **common)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        close = getattr(stream, "close", None)  # Langtrace's stream wrapper has none
        if close is not None:
            close()
    else:
        text = client.chat.completions.create(messages=_messages(), **common).choices[0].message.content or ""
    if text != scenario.stub.content:
        raise SystemExit(f"unexpected answer {text!r}")


def app_main(args: argparse.Namespace) -> int:
    _configure_env(args.library)
    scenario = SCENARIOS[args.scenario]

    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    exporter = OTLPSpanExporter(endpoint=args.otlp_endpoint, insecure=True, timeout=args.export_timeout)
    outcome = {"exported": 0, "failed": 0}
    original_export = exporter.export

    def export(spans: Any, *a: Any, **kw: Any) -> Any:
        result = original_export(spans, *a, **kw)
        outcome["exported" if result == SpanExportResult.SUCCESS else "failed"] += len(spans)
        return result

    exporter.export = export  # type: ignore[method-assign]
    resource = Resource.create({"service.name": SERVICE_NAME, LIBRARY_KEY: args.library, SCENARIO_KEY: scenario.name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    _instrument(args.library, provider)

    import openai

    client = openai.OpenAI(base_url=args.base_url, api_key="test", max_retries=0, timeout=10)
    try:
        _drive(client, scenario, pii_prompt() if args.pii else USER_PROMPT)
    finally:
        flushed = provider.force_flush(timeout_millis=int(args.export_timeout * 1000) + 5_000)
        provider.shutdown()
    if not flushed or outcome["failed"] or not outcome["exported"]:
        print(f"span export failed: flushed={flushed} {outcome}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------- the matrix


@dataclass
class Run:
    library: str
    scenario: str
    returncode: int = -1
    stderr: str = ""
    seconds: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list)
    # An ExportTraceServiceRequest holding only this run's resource spans, as the daemon wrote them.
    traces: Any = None

    @property
    def spans(self) -> list[Any]:
        return [s for rs in self.traces.resource_spans for ss in rs.scope_spans for s in ss.spans] if self.traces is not None else []


@dataclass(frozen=True)
class Endpoints:
    """Where the apps export: the daemon's OTLP/gRPC host:port, its OTLP/HTTP base URL (for libraries that
    export OTLP/HTTP themselves) and the base URL of the receiver that serves Langfuse's path."""

    grpc: str
    http: str = ""
    langfuse: str = ""


def run_app(library: str, scenario: str, endpoints: Endpoints | str, timeout: float = 300, pii: bool = False) -> Run:
    """One subprocess run against its own stub, configured for the scenario; a venv library runs with its venv's
    python (created on first use, tests/libvenvs.py). `pii`: the main-venv libraries' prompt carries the planted
    PII too (the venv libraries' always does)."""
    if isinstance(endpoints, str):
        endpoints = Endpoints(endpoints)
    run = Run(library, scenario)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_", "OPENINFERENCE_", "OPENAI_", "ANTHROPIC_", "LANGFUSE_", "LANGTRACE_", "MLFLOW_"))}
    python, cwd = sys.executable, REPO
    if library in VENV_LIBRARIES:
        if __package__:
            from .libvenvs import python_for, tiktoken_cache
        else:
            from libvenvs import python_for, tiktoken_cache  # type: ignore[no-redef]
        python = str(python_for(library))
        env.pop("PYTHONPATH", None)  # nothing of the daemon's in the app's process
        env["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache())
        # Some libraries write local state into the working directory (MLflow's tracking store).
        cwd = Path(tempfile.mkdtemp(prefix=f"app-{library}-"))
    started = time.monotonic()
    with LLMStub(stub_config(library, scenario)) as stub:
        base_url = stub.root_url if library in VENV_LIBRARIES else stub.base_url
        cmd = [python, str(Path(__file__).resolve()), "--library", library, "--scenario", scenario, "--otlp-endpoint", endpoints.grpc, "--base-url", base_url]
        if pii:
            cmd.append("--pii")
        if endpoints.http:
            cmd += ["--otlp-http", endpoints.http]
        if endpoints.langfuse:
            cmd += ["--langfuse-url", endpoints.langfuse]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
            run.returncode, run.stderr = proc.returncode, proc.stderr + proc.stdout
        except subprocess.TimeoutExpired as e:  # this run fails, the others go on
            run.stderr = f"timed out after {timeout} s\n{e.stderr or ''}{e.stdout or ''}"
        finally:
            if cwd != REPO:
                shutil.rmtree(cwd, ignore_errors=True)
        run.requests = list(stub.requests)
    run.seconds = time.monotonic() - started
    return run


def recording_config() -> str:
    """The daemon that records what the libraries send: conftest's BASIC_CONFIG (OTLP in, files out, no
    processors) plus the receiver Langfuse's SDK exports to, at its default path on a port of its own."""
    from tests.conftest import daemon_yaml

    return daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
  otlp/langfuse:
    protocols:
      http: {{endpoint: "127.0.0.1:{langfuse}", traces_url_path: /api/public/otel/v1/traces}}
exporters:
  file/traces: {{path: "{data}/traces.jsonl"}}
  file/logs: {{path: "{data}/logs.jsonl"}}
  file/metrics: {{path: "{data}/metrics.jsonl"}}
""", """
traces: {{receivers: [otlp, otlp/langfuse], exporters: [file/traces]}}
logs: {{receivers: [otlp], exporters: [file/logs]}}
metrics: {{receivers: [otlp], exporters: [file/metrics]}}
""")


def run_matrix(
    workdir: Path,
    pairs: list[tuple[str, str]] | None = None,
    parallel: int = 6,
    config: str | None = None,
    before_stop: Callable[[Any], None] | None = None,
    pii: bool = False,
) -> tuple[dict[tuple[str, str], Run], Any]:
    """Start one daemon (recording_config() unless `config` is given; a config may use {langfuse}, the port
    the Langfuse app exports to), run every library x scenario app against it in parallel (the three main-venv
    libraries' whole matrix unless `pairs` says), call `before_stop(daemon)` (e.g. to read its metrics), stop
    it, and attach to each Run the spans the daemon wrote for it. Returns (runs, daemon)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from collector import otlpjson
    from tests.conftest import Daemon

    pairs = pairs or [(lib, sc) for lib in LIBRARIES for sc in SCENARIOS]
    workdir.mkdir(parents=True, exist_ok=True)
    daemon = Daemon(workdir, config or recording_config(), extra_ports=("langfuse",)).start(wait=False)
    daemon.wait_healthy(60)  # the machine is busy while the apps start: a redaction pipeline may take a while
    endpoints = Endpoints(daemon.grpc_endpoint, daemon.http_url, f"http://127.0.0.1:{daemon.ports['langfuse']}")
    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(run_app, lib, sc, endpoints, pii=pii) for lib, sc in pairs]
            runs = {(r.library, r.scenario): r for r in (f.result() for f in futures)}
        if before_stop is not None:
            before_stop(daemon)
    finally:
        code = daemon.stop()
    if code != 0:
        raise RuntimeError(f"daemon exited with {code}:\n{daemon.logs()}")

    path = daemon.data / "traces.jsonl"
    lines = path.read_bytes().splitlines() if path.exists() else []
    for line in lines:
        if not line.strip():
            continue
        for rs in otlpjson.decode("traces", line).resource_spans:
            attrs = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            run = runs.get((attrs.get(LIBRARY_KEY, ""), attrs.get(SCENARIO_KEY, "")))
            if run is None:
                continue
            if run.traces is None:
                run.traces = ExportTraceServiceRequest()
            run.traces.resource_spans.append(rs)
    for run in runs.values():
        if run.traces is not None:
            run.traces = _merged(run.traces)
    return runs, daemon


def _merged(request: Any) -> Any:
    """One ResourceSpans per resource and one ScopeSpans per scope, spans in start order: a run's spans may
    arrive in several export batches (the tools round's two calls do)."""
    out = type(request)()
    resources: dict[bytes, Any] = {}
    for rs in request.resource_spans:
        key = rs.resource.SerializeToString(deterministic=True) + rs.schema_url.encode()
        if key not in resources:
            resources[key] = out.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
        target = resources[key]
        for ss in rs.scope_spans:
            for existing in target.scope_spans:
                if existing.scope == ss.scope and existing.schema_url == ss.schema_url:
                    existing.spans.extend(ss.spans)
                    break
            else:
                target.scope_spans.add().CopyFrom(ss)
    for rs in out.resource_spans:
        for ss in rs.scope_spans:
            spans = sorted(ss.spans, key=lambda s: (s.start_time_unix_nano, s.span_id))
            del ss.spans[:]
            ss.spans.extend(spans)
    return out


def fixture_path(library: str, scenario: str) -> Path:
    return FIXTURES / f"{library}-{scenario}.jsonl"


def write_fixtures(runs: dict[tuple[str, str], Run]) -> list[Path]:
    from collector import otlpjson

    FIXTURES.mkdir(parents=True, exist_ok=True)
    written = []
    for (library, scenario), run in sorted(runs.items()):
        if run.returncode != 0 or run.traces is None:
            raise RuntimeError(f"{library}/{scenario}: exit {run.returncode}, {len(run.spans)} spans\n{run.stderr}")
        path = fixture_path(library, scenario)
        path.write_bytes(otlpjson.encode("traces", run.traces) + b"\n")
        written.append(path)
    return written


def load_fixture(library: str, scenario: str) -> list[Any]:
    """The fixture's ExportTraceServiceRequests (one per line)."""
    from collector import otlpjson

    return [otlpjson.decode("traces", line) for line in fixture_path(library, scenario).read_bytes().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", choices=LIBRARIES + VENV_LIBRARIES)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--otlp-endpoint", help="host:port of an OTLP/gRPC receiver")
    parser.add_argument("--base-url", help="the stub: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (venv libraries: http://127.0.0.1:8000)")
    parser.add_argument("--otlp-http", default="", help="base URL of an OTLP/HTTP receiver (libraries that export OTLP/HTTP themselves)")
    parser.add_argument("--langfuse-url", default="", help="LANGFUSE_BASE_URL: a receiver serving /api/public/otel/v1/traces")
    parser.add_argument("--api-key", default="test", help="the API key the client sends to the stub")
    parser.add_argument("--pii", action="store_true", help="plant an e-mail, a phone number and an API key in the prompt (always so for the venv libraries)")
    parser.add_argument("--export-timeout", type=float, default=10.0, help="OTLP export timeout in seconds (retries included)")
    parser.add_argument("--write-fixtures", action="store_true", help="run the whole matrix through a daemon and rewrite tests/fixtures/genai/")
    parser.add_argument("--libraries", default="", help="with --write-fixtures: only these (comma-separated; default: every library, the venv ones included)")
    args = parser.parse_args(argv)
    if args.write_fixtures:
        wanted = set(filter(None, args.libraries.split(","))) or set(LIBRARIES + VENV_LIBRARIES)
        pairs = [(lib, sc) for lib in LIBRARIES for sc in SCENARIOS] + venv_pairs()
        with tempfile.TemporaryDirectory(prefix="genai-fixtures-") as tmp:
            runs, _ = run_matrix(Path(tmp), [(lib, sc) for lib, sc in pairs if lib in wanted])
            for path in write_fixtures(runs):
                print(path.relative_to(REPO))
        return 0
    if not (args.library and args.scenario and args.otlp_endpoint and args.base_url):
        parser.error("--library, --scenario, --otlp-endpoint and --base-url are required (or --write-fixtures)")
    if args.library in VENV_LIBRARIES:
        if __package__:
            from . import library_apps
        else:
            import library_apps  # type: ignore[no-redef]
        return library_apps.app_main(args)
    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
