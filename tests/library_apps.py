"""The apps for the GenAI libraries that run in their own venv (tests/libvenvs.py): each set up the way its
documentation tells a user to, driving the real client against the loopback stub (tests/llm_stub.py) and
exporting to the daemon.

Run by tests/instrumented_app.py (`--library langfuse ...`) with the venv's python; nothing here imports the
daemon's code. Each library exports the way its users point it at a collector:
  langfuse                 its own OTLP/HTTP exporter: LANGFUSE_BASE_URL = the daemon's otlp/langfuse receiver,
                           which serves Langfuse's default path /api/public/otel/v1/traces; `from langfuse.openai import openai`
  mlflow                   mlflow.openai.autolog(), OTLP/gRPC via OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  langtrace                langtrace.init(api_host=<daemon's OTLP/HTTP>), the openai client
  openlit                  openlit.init(otlp_endpoint=<daemon's OTLP/HTTP>), the openai client
  traceloop                Traceloop.init(api_endpoint=<daemon's OTLP/HTTP>), the openai client
  anthropic-sdk            the anthropic client's own tracing (on when a global TracerProvider exists), content on
  anthropic-openllmetry    opentelemetry-instrumentation-anthropic, plus the SDK's own tracing (its default)
  anthropic-openinference  openinference-instrumentation-anthropic, plus the SDK's own tracing (its default)
  pydantic-ai              Agent.instrument_all() with an OpenAIChatModel on the stub
The last four (and langtrace's, openlit's and traceloop's own providers aside) use a global OpenTelemetry
TracerProvider with an OTLP/gRPC exporter, as tests/instrumented_app.py sets one up. Every app names its run
with the resource attributes test.genai.library / test.genai.scenario, through OTEL_RESOURCE_ATTRIBUTES where
the library makes its own provider.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from typing import Any

if __package__:
    from .instrumented_app import (
        ANTHROPIC_LIBRARIES,
        LIBRARY_KEY,
        REQUEST_MODEL,
        SCENARIO_KEY,
        SCENARIOS,
        SERVICE_NAME,
        SYSTEM_PROMPT,
        Scenario,
        _drive,
        pii_prompt,
    )
else:  # run as a script: tests/ is sys.path[0]
    from instrumented_app import (  # type: ignore[no-redef]
        ANTHROPIC_LIBRARIES,
        LIBRARY_KEY,
        REQUEST_MODEL,
        SCENARIO_KEY,
        SCENARIOS,
        SERVICE_NAME,
        SYSTEM_PROMPT,
        Scenario,
        _drive,
        pii_prompt,
    )

ANTHROPIC_MODEL = "claude-haiku-4-5"


def resource_env(library: str, scenario: str) -> dict[str, str]:
    return {"OTEL_RESOURCE_ATTRIBUTES": f"service.name={SERVICE_NAME},{LIBRARY_KEY}={library},{SCENARIO_KEY}={scenario}", "OTEL_SERVICE_NAME": SERVICE_NAME}


# ----------------------------------------------------------------------------------------- set-up


def _global_provider(args: argparse.Namespace) -> Any:
    """A global TracerProvider exporting OTLP/gRPC, as an app with OpenTelemetry set up has."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({}))  # OTEL_RESOURCE_ATTRIBUTES names the run
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.otlp_endpoint, insecure=True, timeout=args.export_timeout), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    return provider


def _flush_global() -> None:
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    provider.force_flush(30_000)  # type: ignore[attr-defined]
    provider.shutdown()  # type: ignore[attr-defined]


def _openai_client(args: argparse.Namespace, module: Any = None) -> Any:
    if module is None:
        import openai as module
    return module.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key, max_retries=0, timeout=10)


def setup_langfuse(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    os.environ.update({"LANGFUSE_PUBLIC_KEY": "pk-lf-test", "LANGFUSE_SECRET_KEY": "sk-lf-test", "LANGFUSE_BASE_URL": args.langfuse_url, "LANGFUSE_TRACING_ENVIRONMENT": "test"})
    from langfuse import get_client
    from langfuse.openai import openai

    client = _openai_client(args, openai)
    return client, lambda: (get_client().flush(), get_client().shutdown())


def setup_mlflow(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://{args.otlp_endpoint}"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "grpc"
    import mlflow
    from mlflow.tracing.provider import get_bridged_tracer_provider

    mlflow.openai.autolog()

    def flush() -> None:
        provider = get_bridged_tracer_provider()  # MLflow's own provider, not the global one
        provider.force_flush(30_000)
        provider.shutdown()

    return _openai_client(args), flush


def setup_langtrace(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    os.environ["LANGTRACE_ERROR_REPORTING"] = "False"  # no Sentry
    from langtrace_python_sdk import langtrace

    langtrace.init(api_host=args.otlp_http, batch=False)
    return _openai_client(args), _flush_global


def setup_openlit(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    import openlit

    openlit.init(otlp_endpoint=args.otlp_http, disable_metrics=True, application_name=SERVICE_NAME, environment="test")
    return _openai_client(args), _flush_global


def setup_traceloop(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    os.environ.update({"TRACELOOP_TELEMETRY": "false", "TRACELOOP_TRACE_CONTENT": "true"})
    from traceloop.sdk import Traceloop

    Traceloop.init(app_name=SERVICE_NAME, api_endpoint=args.otlp_http, disable_batch=True, telemetry_enabled=False)
    return _openai_client(args), _flush_global


def setup_anthropic(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    _global_provider(args)
    if args.library == "anthropic-sdk":
        # Without content the SDK's spans cannot be counted when usage is missing.
        os.environ["ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE"] = "content"
    elif args.library == "anthropic-openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as OpenLLMetryAnthropic

        OpenLLMetryAnthropic().instrument()
    elif args.library == "anthropic-openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OpenInferenceAnthropic

        OpenInferenceAnthropic().instrument()
    import anthropic

    return anthropic.Anthropic(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=10), _flush_global


SETUP = {
    "langfuse": setup_langfuse,
    "mlflow": setup_mlflow,
    "langtrace": setup_langtrace,
    "openlit": setup_openlit,
    "traceloop": setup_traceloop,
    **dict.fromkeys(ANTHROPIC_LIBRARIES, setup_anthropic),
}


# ----------------------------------------------------------------------------------------- calls


def _check(text: str, scenario: Scenario) -> None:
    if text != scenario.stub.content:
        raise SystemExit(f"unexpected answer {text!r}")


def drive_anthropic(client: Any, scenario: Scenario) -> None:
    common: dict[str, Any] = {"model": ANTHROPIC_MODEL, "max_tokens": 256, "system": SYSTEM_PROMPT, "messages": [{"role": "user", "content": pii_prompt()}]}
    if scenario.stream:
        with client.messages.stream(**common) as stream:
            text = "".join(stream.text_stream)
    else:
        text = "".join(block.text for block in client.messages.create(**common).content if block.type == "text")
    _check(text, scenario)


def run_pydantic_ai(args: argparse.Namespace, scenario: Scenario) -> None:
    _global_provider(args)
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    Agent.instrument_all()
    model = OpenAIChatModel(REQUEST_MODEL, provider=OpenAIProvider(base_url=args.base_url + "/v1", api_key=args.api_key))
    agent = Agent(model, instructions=SYSTEM_PROMPT, model_settings={"temperature": 0.2, "max_tokens": 256})

    async def stream() -> str:
        async with agent.run_stream(pii_prompt()) as result:
            return await result.get_output()

    try:
        text = asyncio.run(stream()) if scenario.stream else agent.run_sync(pii_prompt()).output
        _check(text, scenario)
    finally:
        _flush_global()


def app_main(args: argparse.Namespace) -> int:
    scenario = SCENARIOS[args.scenario]
    os.environ.update(resource_env(args.library, scenario.name))
    if args.library == "pydantic-ai":
        run_pydantic_ai(args, scenario)
        return 0
    client, flush = SETUP[args.library](args)
    try:
        if args.library in ANTHROPIC_LIBRARIES:
            drive_anthropic(client, scenario)
        else:
            _drive(client, scenario, pii_prompt())
    finally:
        flush()
    return 0
