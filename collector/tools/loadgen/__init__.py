"""`llm-collector loadgen`: a fast OTLP load generator that sends realistic LLM-application telemetry.

Speed comes from doing the expensive work once: a small pool of requests is generated and serialized up
front, and the byte offsets of every trace id in each serialized request are recorded. A send then only
copies one template and patches fresh trace ids into those offsets, so a single process can push far more
spans per second than the daemon under test can absorb.

Modules: `options` (the command line), `content` and `profile` (what the telemetry looks like),
`templates` (the pre-serialized requests), `transports` (the OTLP senders), `run` (pacing and counting),
`report` (what a run measured) and `command` (`main`). `python -m collector.tools.loadgen` runs it alone.
"""

from .command import main
from .options import Options, add_arguments, parse_duration, parse_rate
from .profile import USAGE_MODES, USAGE_PREFIXES, LlmProfile, drop_usage
from .report import format_report
from .run import run_async
from .templates import RESPONSE_ID_TAIL, PayloadSource, Template, build_templates
from .transports import GRPC_METHODS, resolve_endpoint

__all__ = [
    "GRPC_METHODS",
    "USAGE_MODES",
    "USAGE_PREFIXES",
    "LlmProfile",
    "Options",
    "RESPONSE_ID_TAIL",
    "PayloadSource",
    "Template",
    "add_arguments",
    "build_templates",
    "drop_usage",
    "format_report",
    "main",
    "parse_duration",
    "parse_rate",
    "resolve_endpoint",
    "run_async",
]
