"""`llm-collector loadgen`'s command line: its options, their parsers, and `Options`, what a run is given."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .profile import PROFILES, USAGE_MODES

SIGNALS = ("traces", "logs")
PROTOCOLS = ("grpc", "http", "http/json")
UNITS = {"traces": "spans", "logs": "log_records"}


def parse_duration(text: str) -> float:
    """The config's durations ("500ms", "10s", "1m30s", "1.5h") or a bare number of seconds -> seconds."""
    from ...config import Duration  # imported here so the CLI starts without the config machinery

    value = text.strip()
    try:
        seconds = float(Duration.parse(value + "s" if value.replace(".", "", 1).isdecimal() else value))
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}" (examples: 500ms, 10s, 1m)') from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f'duration must be positive, got "{text}"')
    return seconds


def parse_rate(text: str) -> float | None:
    """Items per second ("20000", "150k") or "max" (closed loop) -> None."""
    value = text.strip().lower()
    if value == "max":
        return None
    scale = 1.0
    if value.endswith("k"):
        value, scale = value[:-1], 1000.0
    try:
        rate = float(value) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid rate "{text}" (a number of spans per second, or "max")') from None
    if not rate > 0:
        raise argparse.ArgumentTypeError(f'rate must be positive, got "{text}"')
    return rate


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a positive integer, got "{text}"') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected a positive integer, got "{text}"')
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def _processor_specs(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected processor type names, e.g. token_count,cost")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", help="gRPC host:port (default 127.0.0.1:4317) or HTTP base URL "
                        "(default http://127.0.0.1:4318; /v1/traces or /v1/logs is appended)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="grpc",
                        help="grpc, http (OTLP/HTTP protobuf) or http/json (default grpc)")
    parser.add_argument("--signal", choices=SIGNALS, default="traces", help="what to send (default traces)")
    parser.add_argument("--rate", type=parse_rate, default=None, metavar="N|max",
                        help="spans (or log records) per second, open-loop paced; max = closed loop (default max)")
    parser.add_argument("--duration", type=parse_duration, default=30.0, metavar="DURATION",
                        help="how long to send, e.g. 500ms, 10s, 1m (default 30s)")
    parser.add_argument("--concurrency", type=_positive_int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--batch-size", type=_positive_int, default=100, help="spans per request (default 100)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="llm", help="telemetry shape (default llm)")
    parser.add_argument("--usage", choices=USAGE_MODES, default="reported",
                        help="token usage on LLM spans: reported (as instrumentations send it), missing (no "
                             "gen_ai.usage.* / llm.token_count.* anywhere, prompt and completion kept), or mixed "
                             "(missing on half the LLM spans) (default reported)")
    parser.add_argument("--seed", type=int, default=None, help="make generated content and trace ids reproducible")
    parser.add_argument("--pii-share", type=_share, default=None, metavar="FRACTION",
                        help="share of traces whose user prompt carries PII (emails, phones, cards, CPFs), about half "
                             "of them also a secret (API keys, JWTs, Bearer tokens); default 0.05")
    parser.add_argument("--processed-by", type=_processor_specs, default=None, metavar="NAMES",
                        help="send the traces as these processors leave them: comma-separated types, each with its default "
                             "config or NAME={YAML} (e.g. token_count,cost: the LLM spans already carry usage and cost); measures what "
                             "carrying their output costs the rest of the pipeline, without their own work")
    parser.add_argument("--templates", type=_positive_int, default=32,
                        help="distinct pre-built requests cycled through (default 32)")
    parser.add_argument("--timeout", type=parse_duration, default=10.0, metavar="DURATION",
                        help="per-request timeout (default 10s)")
    parser.add_argument("--drain-timeout", type=parse_duration, default=10.0, metavar="DURATION",
                        help="how long to wait for in-flight requests after the run (default 10s)")
    parser.add_argument("--json", action="store_true", help="print the final report as one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true", help="no per-second progress line on stderr")


@dataclass(frozen=True)
class Options:
    endpoint: str | None = None
    protocol: str = "grpc"
    signal: str = "traces"
    rate: float | None = None
    duration: float = 30.0
    concurrency: int = 4
    batch_size: int = 100
    profile: str = "llm"
    usage: str = "reported"
    seed: int | None = None
    pii_share: float | None = None
    processed_by: list[str] | None = None
    templates: int = 32
    timeout: float = 10.0
    drain_timeout: float = 10.0
    json: bool = False
    quiet: bool = False

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> Options:
        names = cls.__dataclass_fields__.keys()
        return cls(**{name: getattr(ns, name) for name in names if hasattr(ns, name)})
