"""`llm-collector loadgen`: a fast OTLP load generator that sends realistic LLM-application telemetry.

Speed comes from doing the expensive work once: a small pool of requests is generated and serialized up
front, and the byte offsets of every trace id in each serialized request are recorded. A send then only
copies one template and patches fresh trace ids into those offsets, so a single process can push far more
spans per second than the daemon under test can absorb.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import math
import random
import re
import signal
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, TextIO
from urllib.parse import urlsplit, urlunsplit

import orjson
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

SIGNALS = ("traces", "logs")
# Whether LLM spans carry their token usage: as instrumentations report it, never (token_count has to count
# every call from its prompt and completion), or on about half of them.
USAGE_MODES = ("reported", "missing", "mixed")
PROTOCOLS = ("grpc", "http", "http/json")
UNITS = {"traces": "spans", "logs": "log_records"}
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_RESPONSES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}
_REJECTED_FIELD = {"traces": "rejected_spans", "logs": "rejected_log_records"}
_REJECTED_JSON_FIELD = {"traces": "rejectedSpans", "logs": "rejectedLogRecords"}


# ---------------------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """"500ms", "10s", "1m", "1.5h" or a bare number of seconds -> seconds."""
    match = _DURATION_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}" (examples: 500ms, 10s, 1m)')
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
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


def resolve_endpoint(protocol: str, signal_name: str, endpoint: str | None) -> tuple[str, bool]:
    """Return (gRPC target or full HTTP URL, use TLS)."""
    if protocol == "grpc":
        target = endpoint or "127.0.0.1:4317"
        secure = target.startswith("https://")
        for scheme in ("http://", "https://", "grpc://"):
            if target.startswith(scheme):
                target = target[len(scheme):]
        return target.rstrip("/"), secure
    url = endpoint or "http://127.0.0.1:4318"
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    suffix = f"/v1/{signal_name}"
    if not path.endswith(suffix):
        path += suffix
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), parts.scheme == "https"


# ---------------------------------------------------------------------------------------------------------
# Profiles: what the generated telemetry looks like
# ---------------------------------------------------------------------------------------------------------

Scope = tuple[str, str]  # instrumentation scope (name, version)


@dataclass
class GeneratedTrace:
    trace_id: bytes
    resource: int  # index into Profile.resources
    # Root first, then children in start order, so truncating the list keeps every parent reference valid.
    spans: list[tuple[Scope, trace_pb2.Span]]


class Profile:
    """A source of traces. Subclasses set `name`, `spans_per_trace`, `resources` and implement `generate`.

    `usage` is one of USAGE_MODES; profiles without LLM calls may ignore it."""

    name: ClassVar[str]
    spans_per_trace: ClassVar[int]

    def __init__(self, rng: random.Random, usage: str = "reported") -> None:
        if usage not in USAGE_MODES:
            raise ValueError(f"usage must be one of {', '.join(USAGE_MODES)}, got {usage!r}")
        self.rng = rng
        self.usage = usage
        self.resources: list[resource_pb2.Resource] = []

    def generate(self, count: int, now_ns: int) -> list[GeneratedTrace]:
        raise NotImplementedError

    def logs_for(self, trace: GeneratedTrace) -> list[tuple[Scope, logs_pb2.LogRecord]]:
        """One log record per span, correlated by trace/span id; profiles may override."""
        return [(scope, _span_log(span)) for scope, span in trace.spans]


def _any(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[_any(v) for v in value]))
    return common_pb2.AnyValue(string_value=str(value))


def _attrs(pairs: dict[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=_any(v)) for k, v in pairs.items() if v is not None]


# Attribute prefixes that carry token usage in the conventions the profile emits (OTel GenAI, OpenInference).
USAGE_PREFIXES = ("gen_ai.usage.", "llm.token_count.")


def drop_usage(span: trace_pb2.Span) -> int:
    """Remove every token-usage attribute from a span, in place; returns how many were removed."""
    attributes = span.attributes
    doomed = [i for i, kv in enumerate(attributes) if kv.key.startswith(USAGE_PREFIXES)]
    for i in reversed(doomed):
        del attributes[i]
    return len(doomed)


def _span_log(span: trace_pb2.Span) -> logs_pb2.LogRecord:
    failed = span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    body = f"{span.name} {'failed' if failed else 'completed'} in {ms:.0f} ms"
    if failed:
        body += f": {span.status.message}"
    record = logs_pb2.LogRecord(
        time_unix_nano=span.end_time_unix_nano,
        observed_time_unix_nano=span.end_time_unix_nano + 350_000,
        severity_number=logs_pb2.SEVERITY_NUMBER_ERROR if failed else logs_pb2.SEVERITY_NUMBER_INFO,
        severity_text="ERROR" if failed else "INFO",
        body=common_pb2.AnyValue(string_value=body),
        attributes=span.attributes,
        flags=1,
        trace_id=span.trace_id,
        span_id=span.span_id,
    )
    if span.name.startswith("chat ") or span.name == "ChatCompletion":
        record.event_name = "gen_ai.client.inference.operation.details"
    return record


# --- content for the llm profile -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Model:
    request: str
    response: str
    provider: str
    server: str
    weight: int
    scope: Scope
    tool_stop: str
    end_stop: str
    length_stop: str


_MODELS = (
    _Model("gpt-4o", "gpt-4o-2024-08-06", "openai", "api.openai.com", 35,
           ("opentelemetry.instrumentation.openai_v2", "2.1b0"), "tool_calls", "stop", "length"),
    _Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "api.openai.com", 30,
           ("opentelemetry.instrumentation.openai_v2", "2.1b0"), "tool_calls", "stop", "length"),
    _Model("claude-sonnet-4", "claude-sonnet-4-20250514", "anthropic", "api.anthropic.com", 20,
           ("opentelemetry.instrumentation.anthropic", "0.40.7"), "tool_use", "end_turn", "max_tokens"),
    _Model("gemini-2.5-pro", "gemini-2.5-pro", "gcp.gemini", "generativelanguage.googleapis.com", 15,
           ("opentelemetry.instrumentation.google_genai", "0.3b0"), "STOP", "STOP", "MAX_TOKENS"),
)
_OPENINFERENCE_LLM_SCOPE: Scope = ("openinference.instrumentation.openai", "0.1.30")
_RETRIEVER_SCOPE: Scope = ("openinference.instrumentation.llama_index", "4.3.1")


@dataclass(frozen=True)
class _Tool:
    name: str
    description: str
    arguments: str  # JSON, str.format_map'd with the trace's slots
    result: str


@dataclass(frozen=True)
class _Agent:
    service: str
    agent: str
    route: str
    datastore: str
    collection: str
    system: str
    questions: tuple[str, ...]
    docs: tuple[str, ...]
    tools: tuple[_Tool, ...]
    answers: tuple[str, ...]


_AGENTS = (
    _Agent(
        service="support-agent", agent="Support Agent", route="/v1/support/chat", datastore="qdrant",
        collection="help-center",
        system=("You are Acme's customer support assistant. Answer using only the provided help-center articles "
                "and tool results. Be concise and friendly, never invent order details, and escalate to a human "
                "agent when the customer asks for a refund above $500 or mentions legal action."),
        questions=(
            "Hi, my order {order_id} still hasn't arrived and the tracking page hasn't updated since {date}. "
            "Can you check what's going on?",
            "I was charged twice for order {order_id} ({amount}). Can you refund the duplicate charge?",
            "How do I change the shipping address on order {order_id}? I'm moving to {city} next week.",
            "The blender from order {order_id} stopped working after two days. Can I get a replacement "
            "instead of a refund?",
            "What's the return policy for things bought in the holiday sale? I'd like to return order {order_id}.",
        ),
        docs=(
            "Shipping delays: orders normally ship within 2 business days. If tracking has not updated for more "
            "than 5 business days, open a carrier trace and offer a reshipment or a full refund.",
            "Duplicate charges: a pending authorization may appear twice for up to 72 hours. If both charges "
            "settled, refund the duplicate through the payments tool and send confirmation template R-12.",
            "Address changes are possible until the order is handed to the carrier. After that the customer "
            "must use the carrier's redirect service; we cannot modify the label.",
            "Defective items: within 30 days of delivery customers may choose a replacement or a refund. Ask "
            "for a photo of the defect only if the item value exceeds $200.",
            "Holiday returns: items bought between Nov 15 and Dec 31 can be returned until Jan 31 of the "
            "following year, in original packaging, with free return shipping.",
        ),
        tools=(
            _Tool("get_order_status", "Look up the fulfilment and shipping status of an order.",
                  '{{"order_id": "{order_id}"}}',
                  '{{"order_id": "{order_id}", "status": "in_transit", "carrier": "UPS", "tracking_number": '
                  '"{tracking}", "last_scan": "{date}T14:32:00Z", "last_location": "{city} distribution '
                  'center", "estimated_delivery": "{date2}"}}'),
            _Tool("refund_payment", "Refund all or part of a captured payment.",
                  '{{"order_id": "{order_id}", "amount": {amount_num}, "reason": "duplicate_charge"}}',
                  '{{"refund_id": "re_{ref}", "status": "succeeded", "amount": {amount_num}, '
                  '"currency": "USD"}}'),
            _Tool("create_replacement", "Create a free replacement shipment for a defective item.",
                  '{{"order_id": "{order_id}", "sku": "{sku}", "ship_to": "default"}}',
                  '{{"replacement_order_id": "{order_id}-R", "status": "created", "estimated_delivery": '
                  '"{date2}"}}'),
        ),
        answers=(
            "Thanks for your patience! I checked order {order_id}: it's in transit with UPS (tracking {tracking}) "
            "and was last scanned at the {city} distribution center. The new estimated delivery date is {date2}. "
            "If it hasn't arrived by then, reply here and I'll send a replacement right away.",
            "I've refunded the duplicate charge of {amount} for order {order_id} (refund reference re_{ref}). It "
            "can take 5-10 business days to show on your statement depending on your bank. Anything else?",
            "Sorry about that! I've created a free replacement for the item in order {order_id}; it should "
            "arrive by {date2}. You don't need to send the broken one back.",
        ),
    ),
    _Agent(
        service="research-assistant", agent="Research Assistant", route="/v1/research/ask", datastore="pgvector",
        collection="papers",
        system=("You are a research assistant for an analytics team. Use the search tools to find recent, "
                "reputable sources, cite every claim with the source title and year, and clearly separate "
                "established findings from speculation."),
        questions=(
            "Summarize the latest research on retrieval-augmented generation for long documents, with citations.",
            "What are the main trade-offs between speculative decoding and quantization for LLM inference latency?",
            "Find recent statistics on {topic} adoption in {city} and compare them with the national average.",
            "Explain how mixture-of-experts models reduce training cost, and list three papers I should read first.",
        ),
        docs=(
            "Lewis et al. (2020), Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks: combines a "
            "parametric seq2seq model with a dense passage index and improves open-domain QA exact match.",
            "Leviathan et al. (2023), Fast Inference from Transformers via Speculative Decoding: a small draft "
            "model proposes tokens that the large model verifies in parallel, giving 2-3x speedups.",
            "Fedus et al. (2022), Switch Transformers: sparse expert routing scales parameters without a "
            "proportional increase in FLOPs per token; training is up to 7x faster at equal quality.",
            "Dettmers et al. (2022), LLM.int8(): 8-bit matrix multiplication with outlier decomposition keeps "
            "perplexity within 0.1 of fp16 while halving memory.",
        ),
        tools=(
            _Tool("web_search", "Search the web and return the top results with snippets.",
                  '{{"query": "{topic} statistics {city} 2025", "max_results": 5}}',
                  '{{"results": [{{"title": "{topic} in {city}: 2025 survey", "url": "https://stats.example.org/'
                  '{ref}", "snippet": "Adoption reached 41% of mid-size firms, up from 29% a year earlier."}}, '
                  '{{"title": "National {topic} report", "url": "https://gov.example/report", "snippet": '
                  '"Nationally, 34% of firms report regular use."}}]}}'),
            _Tool("fetch_url", "Download a web page and return its readable text.",
                  '{{"url": "https://arxiv.org/abs/2305.{pr}"}}',
                  '{{"status": 200, "title": "A Survey on {topic}", "text": "We review 112 papers published '
                  'between 2021 and 2025 and find that most gains come from better data, not architecture..."}}'),
        ),
        answers=(
            "Here is a short summary with sources. Established: dense retrieval plus generation improves factual "
            "accuracy on knowledge-intensive tasks (Lewis et al., 2020). Emerging: long-context models reduce but "
            "do not remove the need for retrieval on documents above ~100k tokens. Speculative: ...",
            "In {city}, {topic} adoption reached about 41% of mid-size firms in 2025 (regional survey), compared "
            "with 34% nationally (national report). The gap is driven mostly by the technology sector.",
            "Speculative decoding keeps output quality identical and cuts latency 2-3x when a good draft model "
            "exists; quantization cuts memory and cost but can cost accuracy below 8 bits (Dettmers et al., 2022).",
        ),
    ),
    _Agent(
        service="code-review-bot", agent="Code Reviewer", route="/v1/review", datastore="weaviate",
        collection="repo-docs",
        system=("You are a senior engineer reviewing pull requests for the payments-service repository. Point "
                "out bugs, missing tests, security issues and performance problems. Quote the relevant lines, "
                "suggest concrete fixes and keep praise short."),
        questions=(
            "Please review PR #{pr} in acme/payments-service: it adds retry logic to the webhook dispatcher.",
            "Can you check whether the migration in PR #{pr} is safe to run on a table with 40M rows?",
            "Review the changes to the currency conversion module in PR #{pr}, especially the rounding.",
        ),
        docs=(
            "Style guide: money amounts are Decimal, never float; round half-even only at the presentation layer; "
            "every public function needs type hints and a docstring.",
            "Migrations: adding a column with a default on PostgreSQL 11+ is instant, but backfills must run in "
            "batches of at most 10k rows with a sleep between batches.",
            "Webhooks: retries use exponential backoff with jitter, at most 8 attempts, and must be idempotent "
            "using the event id as the deduplication key.",
        ),
        tools=(
            _Tool("get_pull_request_diff", "Fetch the unified diff of a pull request.",
                  '{{"repo": "acme/payments-service", "number": {pr}}}',
                  '{{"files_changed": 3, "diff": "--- a/payments/webhooks.py\\n+++ b/payments/webhooks.py\\n@@ -41,'
                  '7 +41,15 @@\\n-    resp = client.post(url, json=event)\\n+    for attempt in range(10):\\n+      '
                  '  resp = client.post(url, json=event)\\n+        if resp.ok:\\n+            break\\n+        time.'
                  'sleep(2 ** attempt)"}}'),
            _Tool("run_static_analysis", "Run ruff and mypy on the changed files.",
                  '{{"repo": "acme/payments-service", "ref": "pull/{pr}/head"}}',
                  '{{"ruff": ["payments/webhooks.py:44: B008 do not call time.sleep in request handlers"], "mypy": '
                  '["payments/fx.py:88: error: Argument 1 has incompatible type float; expected Decimal"]}}'),
        ),
        answers=(
            "Two issues in PR #{pr}: (1) the retry loop makes up to 10 attempts with no jitter and blocks the "
            "worker with time.sleep; the guide says at most 8 attempts with jittered backoff. (2) retries are not "
            "idempotent: pass the event id as Idempotency-Key. Please also add a test for the give-up path.",
            "The migration in PR #{pr} backfills 40M rows in one UPDATE, which will hold locks for minutes. Split "
            "it into batches of 10k rows and move the backfill out of the schema migration.",
            "fx.py line 88 converts through float, which loses precision; keep Decimal end to end and round "
            "half-even only when formatting. Otherwise the change looks good.",
        ),
    ),
    _Agent(
        service="sales-copilot", agent="Sales Copilot", route="/v1/copilot/complete", datastore="pinecone",
        collection="product-catalog",
        system=("You help account executives prepare quotes and follow-up emails. Use CRM data for account "
                "context, use list prices from the product catalog only, apply discounts within the approval "
                "matrix (max 15% without VP approval) and write in a professional but warm tone."),
        questions=(
            "Draft a follow-up email for {company} after yesterday's demo and propose the Growth plan for 120 seats.",
            "What discount can I offer {company} if they sign a 3-year contract for 250 seats?",
            "Prepare a quote for {company}: 80 Enterprise seats plus premium support, starting {date2}.",
        ),
        docs=(
            "Growth plan: $39 per seat per month billed annually, includes SSO and 99.9% SLA. Volume tiers: "
            "100+ seats 5% off, 250+ seats 10% off.",
            "Enterprise plan: $65 per seat per month, includes audit logs, data residency and premium support "
            "option at 18% of license value.",
            "Approval matrix: AE up to 15%, regional VP up to 25%, anything above needs CFO approval. Multi-year "
            "prepay adds up to 5% extra.",
        ),
        tools=(
            _Tool("crm_lookup", "Fetch account details, open opportunities and contacts from the CRM.",
                  '{{"account": "{company}"}}',
                  '{{"account": "{company}", "industry": "Logistics", "employees": 1800, "stage": "Evaluation", '
                  '"champion": "Head of Operations", "competitors": ["Globex"], "last_activity": "{date}"}}'),
            _Tool("create_quote", "Create a draft quote in the CPQ system.",
                  '{{"account": "{company}", "plan": "enterprise", "seats": 80, "start": "{date2}", '
                  '"addons": ["premium_support"]}}',
                  '{{"quote_id": "Q-{pr}", "total_annual": 73632.0, "currency": "USD", "status": "draft"}}'),
        ),
        answers=(
            "Subject: Great connecting yesterday\n\nHi team at {company}, thanks for the time yesterday! Based on "
            "what you shared, the Growth plan for 120 seats comes to $44,460 per year after the 5% volume "
            "discount. Happy to set up a pilot next week.",
            "For 250 seats on a 3-year prepaid contract you can offer 15% (10% volume + 5% multi-year) without "
            "extra approval. Going above that needs your regional VP.",
            "Draft quote Q-{pr} is ready: 80 Enterprise seats plus premium support starting {date2}, $73,632 per "
            "year. Review it in CPQ before sending.",
        ),
    ),
)

_CITIES = ("Austin", "Denver", "Lisbon", "Sao Paulo", "Toronto", "Berlin", "Seattle", "Manchester", "Recife")
_TOPICS = ("generative AI", "cloud data warehouse", "edge computing", "robotic process automation", "MLOps")
_COMPANIES = ("Initech", "Globex Logistics", "Umbrella Health", "Stark Freight", "Wayne Foods", "Soylent Labs")
_FIRST = ("maria", "joao", "emily", "james", "ana", "lucas", "olivia", "noah", "fatima", "wei", "carlos", "sofia")
_LAST = ("silva", "santos", "smith", "johnson", "oliveira", "garcia", "chen", "muller", "costa", "brown")
_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com.br", "protonmail.com", "acme-corp.com", "uol.com.br")
_PII_SENTENCES = (
    " You can reach me at {email} or call {phone}.",
    " Please charge the card {card} (exp {exp}, CVV {cvv}) instead.",
    " For the invoice, my CPF is {cpf} and my email is {email}.",
    " My name is {name}, phone {phone}, and the card on file is {card}.",
    " Meu CPF e {cpf}, pode atualizar o cadastro? Telefone {phone}.",
)
_SECRET_SENTENCES = (
    " I pasted our OpenAI key by mistake earlier: {openai_key}",
    " The deploy script still uses the AWS access key {aws_key}, is that a problem?",
    " curl -H 'Authorization: Bearer {jwt}' https://api.acme.example/v1/me returns 401.",
    " CI uses the token {github_token} and the maps widget the key {google_key}.",
    " Our Anthropic key {anthropic_key} stopped working yesterday.",
)
_USER_AGENTS = ("acme-web/4.12.0 (+https://acme.example)", "acme-ios/7.3.1 CFNetwork/1494.0.7 Darwin/23.4.0",
                "python-httpx/0.27.0", "Slack-Bot/2.0 (acme-slack-connector)")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_STACK = """Traceback (most recent call last):
  File "/app/agent/runtime.py", line 214, in run_step
    result = await self._invoke(step, context)
  File "/app/agent/runtime.py", line 187, in _invoke
    return await handler(**step.arguments)
  File "/app/.venv/lib/python3.12/site-packages/{module}/_base_client.py", line 1631, in request
    raise self._make_status_error_from_response(err.response) from None
{etype}: {emessage}
"""


def _luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [c for c in number if c.isdigit()]
    return len(digits) > 1 and _luhn_check_digit("".join(digits[:-1])) == digits[-1]


def _cpf_check_digits(base: str) -> str:
    d1 = sum(int(c) * (10 - i) for i, c in enumerate(base)) * 10 % 11 % 10
    d2 = sum(int(c) * (11 - i) for i, c in enumerate(base + str(d1))) * 10 % 11 % 10
    return f"{d1}{d2}"


def cpf_valid(cpf: str) -> bool:
    digits = "".join(c for c in cpf if c.isdigit())
    return len(digits) == 11 and len(set(digits)) > 1 and _cpf_check_digits(digits[:9]) == digits[9:]


class LlmProfile(Profile):
    """Agent traces: invoke_agent (SERVER) -> retrieve -> chat (tool call) -> execute_tool -> chat (answer)."""

    name = "llm"
    spans_per_trace = 5
    ERROR_SHARE = 0.02
    SLOW_SHARE = 0.03
    EXPENSIVE_SHARE = 0.05
    PII_SHARE = 0.05
    SECRET_SHARE = 0.5  # of the traces with PII, those whose prompt also leaks a credential
    OPENINFERENCE_SHARE = 0.3  # second chat span recorded by an OpenInference instrumentation instead

    # Positions of the LLM-call spans in GeneratedTrace.spans: the two chat spans.
    LLM_SPANS = (2, 4)
    MIXED_MISSING_SHARE = 0.5

    def __init__(self, rng: random.Random, usage: str = "reported", pii_share: float | None = None) -> None:
        super().__init__(rng, usage)
        self.pii_share = self.PII_SHARE if pii_share is None else pii_share
        # Secrets come from their own generator, seeded from the main one without drawing from it, so adding
        # them left every other generated value (and the PII share) exactly as it was for a given seed.
        self._secret_rng = random.Random(sum(rng.getstate()[1][:8]))
        self._resource_agents: list[_Agent] = []
        self._resource_weights: list[float] = []
        for agent in _AGENTS:
            version = f"{rng.randint(1, 3)}.{rng.randint(0, 14)}.{rng.randint(0, 9)}"
            for env, weight in (("production", 0.45), ("production", 0.45), ("staging", 0.1)):
                pod = f"{agent.service}-{self._token(10).lower()}-{self._token(5).lower()}"
                self.resources.append(resource_pb2.Resource(attributes=_attrs({
                    "service.name": agent.service,
                    "service.version": version,
                    "service.namespace": "acme-ai",
                    "service.instance.id": self._uuid(),
                    "deployment.environment": env,
                    "host.name": pod,
                    "k8s.namespace.name": f"ai-{env}",
                    "k8s.pod.name": pod,
                    "cloud.provider": "aws",
                    "cloud.region": rng.choice(("us-east-1", "eu-west-1", "sa-east-1")),
                    "process.runtime.name": "cpython",
                    "process.runtime.version": "3.12.7",
                    "telemetry.sdk.name": "opentelemetry",
                    "telemetry.sdk.language": "python",
                    "telemetry.sdk.version": "1.38.0",
                })))
                self._resource_agents.append(agent)
                self._resource_weights.append(weight)

    # -- small random helpers
    def _token(self, n: int) -> str:
        return "".join(self.rng.choices(_ALNUM, k=n))

    def _uuid(self) -> str:
        h = self.rng.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choices("0123456789", k=n))

    def _card(self) -> str:
        rng = self.rng
        prefix, length = rng.choice((("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("6011", 16)))
        body = prefix + self._digits(length - len(prefix) - 1)
        number = body + _luhn_check_digit(body)
        style = rng.random()
        if style < 0.4:
            return number
        sep = " " if style < 0.8 else "-"
        groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
        out, i = [], 0
        for g in groups:
            out.append(number[i:i + g])
            i += g
        return sep.join(out)

    def _cpf(self) -> str:
        base = self._digits(9)
        while len(set(base)) == 1:
            base = self._digits(9)
        cpf = base + _cpf_check_digits(base)
        if self.rng.random() < 0.7:
            return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
        return cpf

    def _phone(self) -> str:
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            return f"+1 ({rng.randint(201, 989)}) 555-{self._digits(4)}"
        if kind == 1:
            return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{self._digits(4)}"
        if kind == 2:
            return f"+55 {rng.choice(('11', '21', '31', '81'))} 9{self._digits(4)}-{self._digits(4)}"
        return f"+44 20 7946 {self._digits(4)}"

    def _secrets(self) -> dict[str, str]:
        """Credentials shaped like the real ones (and like the redaction detectors' patterns), never valid."""
        r = self._secret_rng

        def pick(alphabet: str, n: int) -> str:
            return "".join(r.choices(alphabet, k=n))

        b64url = _ALNUM + "-_"

        def b64(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

        jwt = ".".join((b64({"alg": "HS256", "typ": "JWT"}),
                        b64({"sub": f"u_{pick('0123456789', 8)}", "iat": r.randint(1_700_000_000, 1_800_000_000)}),
                        pick(b64url, 43)))
        return {
            "openai_key": f"sk-proj-{pick(b64url, 28)}T3BlbkFJ{pick(b64url, 28)}",
            "anthropic_key": f"sk-ant-api03-{pick(b64url, 93)}AA",
            "aws_key": "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
            "github_token": "ghp_" + pick(_ALNUM, 36),
            "google_key": "AIza" + pick(b64url, 35),
            "jwt": jwt,
        }

    def _pii(self) -> dict[str, str]:
        first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        sep = self.rng.choice((".", "_", ""))
        return {
            "name": f"{first.title()} {last.title()}",
            "email": f"{first}{sep}{last}{self.rng.randint(1, 99)}@{self.rng.choice(_DOMAINS)}",
            "phone": self._phone(),
            "card": self._card(),
            "exp": f"{self.rng.randint(1, 12):02d}/{self.rng.randint(26, 31)}",
            "cvv": self._digits(3),
            "cpf": self._cpf(),
        }

    def _slots(self, now_ns: int) -> dict[str, Any]:
        rng = self.rng
        day = 86400
        today = now_ns // 1_000_000_000
        amount = rng.randint(1500, 48000) / 100
        return {
            "order_id": f"A{self._digits(7)}",
            "date": time.strftime("%Y-%m-%d", time.gmtime(today - rng.randint(2, 9) * day)),
            "date2": time.strftime("%Y-%m-%d", time.gmtime(today + rng.randint(2, 12) * day)),
            "city": rng.choice(_CITIES),
            "amount": f"${amount:,.2f}",
            "amount_num": amount,
            "tracking": "1Z" + self._token(16).upper(),
            "ref": self._token(14),
            "sku": f"SKU-{self._digits(6)}",
            "topic": rng.choice(_TOPICS),
            "company": rng.choice(_COMPANIES),
            "pr": rng.randint(1200, 9800),
        }

    def _llm_ms(self, slow: bool, expensive: bool) -> float:
        if slow:
            return self.rng.uniform(12_000, 45_000)
        # Capped so that only the slow share crosses a 5 s latency threshold: two calls, the retrieval and
        # the tool together stay under 5 s (see _trace's timeline).
        median = 1200 if expensive else 900
        return min(1650.0, max(300.0, self.rng.lognormvariate(math.log(median), 0.5)))

    def _response_id(self, model: _Model) -> str:
        if model.provider == "openai":
            return "chatcmpl-" + self._token(29)
        if model.provider == "anthropic":
            return "msg_01" + self._token(22)
        return self._token(22)

    def _tool_call_id(self, model: _Model) -> str:
        return ("toolu_01" + self._token(22)) if model.provider == "anthropic" else ("call_" + self._token(24))

    def _exception(self, etype: str, message: str, module: str, at_ns: int) -> trace_pb2.Span.Event:
        return trace_pb2.Span.Event(time_unix_nano=at_ns, name="exception", attributes=_attrs({
            "exception.type": etype,
            "exception.message": message,
            "exception.stacktrace": _STACK.format(module=module, etype=etype, emessage=message),
        }))

    def _llm_error(self, model: _Model) -> tuple[str, str, str]:
        if model.provider == "openai":
            return ("openai.RateLimitError",
                    f"Error code: 429 - Rate limit reached for {model.request} in organization org-"
                    f"{self._token(24)} on tokens per min (TPM): Limit 30000, Used 29512, Requested 1830.",
                    "openai")
        if model.provider == "anthropic":
            return ("anthropic.InternalServerError",
                    "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': "
                    "'Overloaded'}}", "anthropic")
        return ("google.genai.errors.ServerError",
                "503 UNAVAILABLE. {'error': {'code': 503, 'message': 'The model is overloaded. Please try again "
                "later.', 'status': 'UNAVAILABLE'}}", "google/genai")

    def generate(self, count: int, now_ns: int) -> list[GeneratedTrace]:
        rng = self.rng
        indices = range(count)
        # Exact shares over the pool (rather than a coin flip per trace) keep small pools representative.
        errors = set(rng.sample(indices, round(count * self.ERROR_SHARE)))
        slow = set(rng.sample(indices, round(count * self.SLOW_SHARE)))
        expensive = set(rng.sample(indices, round(count * self.EXPENSIVE_SHARE)))
        pii = set(rng.sample(indices, round(count * self.pii_share)))
        traces = [self._trace(now_ns, i in errors, i in slow, i in expensive, i in pii) for i in indices]
        # Usage is removed after the fact (and the mixed draw comes last) so that, for one seed, every usage
        # mode generates the very same spans apart from their usage attributes.
        llm_spans = [trace.spans[i][1] for trace in traces for i in self.LLM_SPANS]
        if self.usage == "missing":
            stripped = llm_spans
        elif self.usage == "mixed":
            stripped = rng.sample(llm_spans, round(len(llm_spans) * self.MIXED_MISSING_SHARE))
        else:
            stripped = []
        for span in stripped:
            drop_usage(span)
        return traces

    def _trace(self, now_ns: int, error: bool, slow: bool, expensive: bool, pii: bool) -> GeneratedTrace:
        rng = self.rng
        resource = rng.choices(range(len(self.resources)), weights=self._resource_weights)[0]
        agent = self._resource_agents[resource]
        model = rng.choices(_MODELS, weights=[m.weight for m in _MODELS])[0]
        slots = self._slots(now_ns)
        trace_id = rng.randbytes(16)
        span_ids = [rng.randbytes(8) for _ in range(5)]
        tool = rng.choice(agent.tools)
        tool_call_id = self._tool_call_id(model)
        openinference = rng.random() < self.OPENINFERENCE_SHARE
        fail_tool = error and rng.random() < 0.4
        fail_llm = error and not fail_tool

        question = rng.choice(agent.questions).format_map(slots)
        if pii:
            values = self._pii()
            for sentence in rng.sample(_PII_SENTENCES, rng.randint(1, 2)):
                question += sentence.format_map(values)
            if self._secret_rng.random() < self.SECRET_SHARE:
                question += self._secret_rng.choice(_SECRET_SENTENCES).format_map(self._secrets())
        docs = rng.sample(agent.docs, rng.randint(1, 3))
        arguments = tool.arguments.format_map(slots)
        tool_result = tool.result.format_map(slots)
        answer = rng.choice(agent.answers).format_map(slots)

        # Timeline (ms from the root's start): the children run one after another.
        t_retrieve = rng.uniform(2, 15)
        d_retrieve = rng.uniform(15, 350)
        t_chat1 = t_retrieve + d_retrieve + rng.uniform(1, 8)
        d_chat1 = self._llm_ms(slow, expensive)
        t_tool = t_chat1 + d_chat1 + rng.uniform(1, 6)
        d_tool = rng.uniform(20, 1200)
        t_chat2 = t_tool + d_tool + rng.uniform(1, 6)
        d_chat2 = self._llm_ms(slow, expensive)
        d_root = t_chat2 + d_chat2 + rng.uniform(2, 20)
        end_ns = now_ns - int(rng.uniform(0, 20_000) * 1e6)
        start_ns = end_ns - int(d_root * 1e6)

        def at(ms: float) -> int:
            return start_ns + int(ms * 1e6)

        def span(i: int, parent: int | None, name: str, kind: int, t0: float, dur: float,
                 attributes: dict[str, Any]) -> trace_pb2.Span:
            return trace_pb2.Span(
                trace_id=trace_id, span_id=span_ids[i], parent_span_id=span_ids[parent] if parent is not None else b"",
                name=name, kind=kind, start_time_unix_nano=at(t0), end_time_unix_nano=at(t0 + dur),
                # sampled, and "parent is not remote" known (the root has no parent at all)
                attributes=_attrs(attributes), flags=0x101)

        if expensive:
            in1, out1 = rng.randint(40_000, 180_000), rng.randint(40, 160)
            out2 = rng.randint(4_000, 16_000)
        else:  # under $0.01 a trace on every model, so only the expensive share crosses that threshold
            in1, out1 = len(agent.system + question) // 4 + rng.randint(100, 600), rng.randint(15, 60)
            out2 = len(answer) // 4 + rng.randint(0, 120)
        in2 = in1 + out1 + len(tool_result) // 4 + 12
        conversation = self._uuid()

        root = span(0, None, f"invoke_agent {agent.agent}", trace_pb2.Span.SPAN_KIND_SERVER, 0, d_root, {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent.agent,
            "gen_ai.agent.id": f"asst_{self._token(24)}",
            "gen_ai.provider.name": model.provider,
            "gen_ai.request.model": model.request,
            "gen_ai.conversation.id": conversation,
            "user.id": f"u_{self._digits(8)}",
            "http.request.method": "POST",
            "http.route": agent.route,
            "http.response.status_code": 500 if error else 200,
            "server.address": f"{agent.service}.acme.internal",
            "client.address": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "user_agent.original": rng.choice(_USER_AGENTS),
            "error.type": None,
        })
        app_scope: Scope = (f"{agent.service.replace('-', '_')}.agent", "1.0.0")

        retrieve_attrs: dict[str, Any] = {
            "openinference.span.kind": "RETRIEVER",
            "input.value": question.split("?")[0][:160],
            "db.system.name": agent.datastore,
            "db.collection.name": agent.collection,
        }
        scores = sorted((rng.uniform(0.62, 0.93) for _ in docs), reverse=True)
        for n, (doc, score) in enumerate(zip(docs, scores)):
            retrieve_attrs[f"retrieval.documents.{n}.document.id"] = f"{agent.collection}-{rng.randint(100, 9999)}"
            retrieve_attrs[f"retrieval.documents.{n}.document.score"] = round(score, 4)
            retrieve_attrs[f"retrieval.documents.{n}.document.content"] = doc
        retrieve = span(1, 0, "retrieve", trace_pb2.Span.SPAN_KIND_INTERNAL, t_retrieve, d_retrieve, retrieve_attrs)

        system_msg = {"role": "system", "parts": [{"type": "text", "content": agent.system}]}
        user_msg = {"role": "user", "parts": [{"type": "text", "content": question}]}
        tool_call_msg = {"role": "assistant", "parts": [
            {"type": "tool_call", "id": tool_call_id, "name": tool.name, "arguments": json.loads(arguments)}]}
        chat1 = span(2, 0, f"chat {model.request}", trace_pb2.Span.SPAN_KIND_CLIENT, t_chat1, d_chat1, {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": model.provider,
            "gen_ai.request.model": model.request,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 1024,
            "gen_ai.response.model": model.response,
            "gen_ai.response.id": self._response_id(model),
            "gen_ai.response.finish_reasons": [model.tool_stop],
            "gen_ai.usage.input_tokens": in1,
            "gen_ai.usage.output_tokens": out1,
            "gen_ai.input.messages": json.dumps([system_msg, user_msg]),
            "gen_ai.output.messages": json.dumps([{**tool_call_msg, "finish_reason": model.tool_stop}]),
            "server.address": model.server,
            "server.port": 443,
        })

        tool_attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.description": tool.description,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": tool_call_id,
            "gen_ai.tool.call.arguments": arguments,
            "gen_ai.tool.call.result": None if fail_tool else tool_result,
        }
        tool_span = span(3, 0, f"execute_tool {tool.name}", trace_pb2.Span.SPAN_KIND_INTERNAL, t_tool, d_tool,
                         tool_attrs)

        tool_msg = {"role": "tool", "parts": [{"type": "tool_call_response", "id": tool_call_id,
                                               "response": tool_result}]}
        messages2 = [system_msg, user_msg, tool_call_msg, tool_msg]
        finish2 = model.length_stop if expensive and rng.random() < 0.3 else model.end_stop
        if openinference:
            chat2_scope = _OPENINFERENCE_LLM_SCOPE
            chat2 = span(4, 0, "ChatCompletion", trace_pb2.Span.SPAN_KIND_INTERNAL, t_chat2, d_chat2, {
                "openinference.span.kind": "LLM",
                "llm.system": model.provider.split(".")[-1],
                "llm.provider": model.provider,
                "llm.model_name": model.response,
                "llm.invocation_parameters": json.dumps({"model": model.request, "temperature": 0.2,
                                                         "max_tokens": 1024}),
                "input.value": json.dumps({"model": model.request, "temperature": 0.2, "messages": [
                    {"role": "system", "content": agent.system},
                    {"role": "user", "content": question},
                    {"role": "assistant", "tool_calls": [{"id": tool_call_id, "type": "function", "function": {
                        "name": tool.name, "arguments": arguments}}]},
                    {"role": "tool", "tool_call_id": tool_call_id, "content": tool_result}]}),
                "input.mime_type": "application/json",
                "output.value": None if fail_llm else answer,
                "output.mime_type": None if fail_llm else "text/plain",
                "llm.token_count.prompt": None if fail_llm else in2,
                "llm.token_count.completion": None if fail_llm else out2,
                "llm.token_count.total": None if fail_llm else in2 + out2,
            })
        else:
            chat2_scope = model.scope
            chat2 = span(4, 0, f"chat {model.request}", trace_pb2.Span.SPAN_KIND_CLIENT, t_chat2, d_chat2, {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": model.provider,
                "gen_ai.request.model": model.request,
                "gen_ai.request.temperature": 0.2,
                "gen_ai.request.max_tokens": 16384 if expensive else 1024,
                "gen_ai.response.model": None if fail_llm else model.response,
                "gen_ai.response.id": None if fail_llm else self._response_id(model),
                "gen_ai.response.finish_reasons": None if fail_llm else [finish2],
                "gen_ai.usage.input_tokens": None if fail_llm else in2,
                "gen_ai.usage.output_tokens": None if fail_llm else out2,
                "gen_ai.input.messages": json.dumps(messages2),
                "gen_ai.output.messages": None if fail_llm else json.dumps([{
                    "role": "assistant", "parts": [{"type": "text", "content": answer}],
                    "finish_reason": finish2}]),
                "server.address": model.server,
                "server.port": 443,
            })

        if error:
            if fail_tool:
                etype, message = "TimeoutError", f"{tool.name} did not respond within 10s (upstream {agent.service}-tools)"
                failed, module = tool_span, "httpx"
            else:
                etype, message, module = self._llm_error(model)
                failed = chat2
            failed.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            failed.status.message = message
            failed.attributes.extend(_attrs({"error.type": etype}))
            failed.events.append(self._exception(etype, message, module, failed.end_time_unix_nano))
            root.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            root.status.message = f"agent run failed: {etype}"
            root.attributes.extend(_attrs({"error.type": etype}))

        return GeneratedTrace(trace_id=trace_id, resource=resource, spans=[
            (app_scope, root), (_RETRIEVER_SCOPE, retrieve), (model.scope, chat1), (app_scope, tool_span),
            (chat2_scope, chat2)])


PROFILES: dict[str, Callable[..., Profile]] = {LlmProfile.name: LlmProfile}  # (rng, usage, pii_share=) -> Profile


# ---------------------------------------------------------------------------------------------------------
# Templates: pre-serialized requests with the positions of their trace ids
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    payload: bytes
    items: int  # spans or log records in the request
    traces: int
    id_width: int  # 16 raw bytes (protobuf) or 32 hex characters (JSON)
    # (byte offset, trace index) of every trace id occurrence, ascending
    id_slots: tuple[tuple[int, int], ...]


def _group(profile: Profile, traces: list[GeneratedTrace], records: Callable[[GeneratedTrace], list[tuple[Scope, Any]]],
           container: Any, add_resource: Callable[[Any], Any], add_scope: Callable[[Any], Any],
           add_items: Callable[[Any, Any], None]) -> Any:
    resources: dict[int, tuple[Any, dict[Scope, Any]]] = {}
    for trace in traces:
        if trace.resource not in resources:
            node = add_resource(container)
            node.resource.CopyFrom(profile.resources[trace.resource])
            node.schema_url = "https://opentelemetry.io/schemas/1.37.0"
            resources[trace.resource] = (node, {})
        node, scopes = resources[trace.resource]
        for scope, item in records(trace):
            if scope not in scopes:
                scope_node = add_scope(node)
                scope_node.scope.name, scope_node.scope.version = scope
                scopes[scope] = scope_node
            add_items(scopes[scope], item)
    return container


def _request(profile: Profile, traces: list[GeneratedTrace], signal_name: str) -> Any:
    if signal_name == "traces":
        return _group(profile, traces, lambda t: t.spans, trace_service_pb2.ExportTraceServiceRequest(),
                      lambda req: req.resource_spans.add(), lambda rs: rs.scope_spans.add(),
                      lambda ss, span: ss.spans.append(span))
    return _group(profile, traces, profile.logs_for, logs_service_pb2.ExportLogsServiceRequest(),
                  lambda req: req.resource_logs.add(), lambda rl: rl.scope_logs.add(),
                  lambda sl, record: sl.log_records.append(record))


_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> None:
    """OTLP/JSON encodes ids as hex, where the protobuf JSON mapping would use base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for value in node:
            _hex_ids(value)


def to_otlp_json(message: Any) -> bytes:
    from google.protobuf.json_format import MessageToDict  # only http/json needs it

    data = MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(data)
    return orjson.dumps(data)


def _encode(profile: Profile, traces: list[GeneratedTrace], signal_name: str, encoding: str,
            transform: Callable[[Any], None] | None = None) -> Template:
    message = _request(profile, traces, signal_name)
    if transform is not None:
        transform(message)
    if encoding == "json":
        payload, needles, width = to_otlp_json(message), [t.trace_id.hex().encode() for t in traces], 32
    else:
        payload, needles, width = message.SerializeToString(), [t.trace_id for t in traces], 16
    slots: list[tuple[int, int]] = []
    for index, needle in enumerate(needles):
        found, pos = 0, payload.find(needle)
        while pos != -1:
            slots.append((pos, index))
            found += 1
            pos = payload.find(needle, pos + width)
        if found != len(traces[index].spans):  # ids are random, so a stray match would be a bug, not bad luck
            raise RuntimeError(f"trace id found {found} times in a template, expected {len(traces[index].spans)}")
    slots.sort()
    return Template(payload=payload, items=sum(len(t.spans) for t in traces), traces=len(traces), id_width=width,
                    id_slots=tuple(slots))


def build_templates(*, profile: str = "llm", signal_name: str = "traces", encoding: str = "proto",
                    batch_size: int = 100, count: int = 32, seed: int | None = None,
                    now_ns: int | None = None, usage: str = "reported", pii_share: float | None = None,
                    transform: Callable[[Any], None] | None = None) -> list[Template]:
    """`count` requests of exactly `batch_size` spans (or log records), made of whole traces where possible;
    `transform` may change each request message in place before it is encoded."""
    prof = PROFILES[profile](random.Random(seed), usage, pii_share=pii_share)
    per_trace = prof.spans_per_trace
    traces_per_request = -(-batch_size // per_trace)
    last_keeps = batch_size - (traces_per_request - 1) * per_trace
    traces = prof.generate(traces_per_request * count, now_ns if now_ns is not None else time.time_ns())
    # Like an SDK's exporter, each request mostly comes from one service instance.
    traces.sort(key=lambda t: t.resource)
    templates = []
    for i in range(count):
        chunk = traces[i * traces_per_request:(i + 1) * traces_per_request]
        chunk[-1] = replace(chunk[-1], spans=chunk[-1].spans[:last_keeps])
        templates.append(_encode(prof, chunk, signal_name, encoding, transform))
    return templates


class PayloadSource:
    """Cycles through the templates, patching fresh trace ids into each copy."""

    def __init__(self, templates: list[Template], seed: int | None) -> None:
        self._templates = templates
        self._next = 0
        # Seeded separately from the content so that changing --templates does not change the id stream.
        self._randbytes = random.Random(None if seed is None else seed ^ 0x5EED1D5).randbytes

    def next(self) -> tuple[bytes, int]:
        template = self._templates[self._next]
        self._next = (self._next + 1) % len(self._templates)
        width = template.id_width
        ids = self._randbytes(16 * template.traces)
        if width == 32:
            ids = ids.hex().encode()
        buf = bytearray(template.payload)
        for offset, index in template.id_slots:
            start = index * width
            buf[offset:offset + width] = ids[start:start + width]
        return bytes(buf), template.items


# ---------------------------------------------------------------------------------------------------------
# Transports
# ---------------------------------------------------------------------------------------------------------

class Transport:
    async def start(self) -> None:
        pass

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        """-> (None, rejected items) on success, or (error label, 0)."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


class GrpcTransport(Transport):
    def __init__(self, target: str, secure: bool, signal_name: str, timeout: float) -> None:
        import grpc  # imported here so `--help` stays fast

        self._grpc = grpc
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        if secure:
            self._channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        # No (de)serializers: requests go out as the pre-built bytes, responses come back raw.
        self._call = self._channel.unary_unary(GRPC_METHODS[signal_name], request_serializer=None,
                                               response_deserializer=None)
        self._timeout = timeout
        self._response = _RESPONSES[signal_name]
        self._rejected_field = _REJECTED_FIELD[signal_name]

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        try:
            response = await self._call(payload, timeout=self._timeout)
        except self._grpc.aio.AioRpcError as exc:
            return exc.code().name, 0
        if not response:
            return None, 0
        partial = self._response.FromString(response).partial_success
        return None, getattr(partial, self._rejected_field)

    async def close(self) -> None:
        await self._channel.close()


class HttpTransport(Transport):
    def __init__(self, url: str, json_body: bool, signal_name: str, timeout: float, concurrency: int) -> None:
        self._url = url
        self._json = json_body
        content_type = "application/json" if json_body else "application/x-protobuf"
        self._headers = {"Content-Type": content_type}
        self._timeout = timeout
        self._concurrency = concurrency
        self._response = _RESPONSES[signal_name]
        self._rejected_field = _REJECTED_FIELD[signal_name]
        self._rejected_json = _REJECTED_JSON_FIELD[signal_name]
        self._session: Any = None

    async def start(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout),
                                              skip_auto_headers=("User-Agent",))

    async def send(self, payload: bytes) -> tuple[str | None, int]:
        try:
            async with self._session.post(self._url, data=payload, headers=self._headers) as response:
                body = await response.read()
                status = response.status
        except asyncio.TimeoutError:
            return "TIMEOUT", 0
        except self._aiohttp.ClientError as exc:
            return type(exc).__name__, 0
        if not 200 <= status < 300:
            return f"HTTP {status}", 0
        if not body:
            return None, 0
        try:
            if self._json:
                partial = orjson.loads(body).get("partialSuccess") or {}
                return None, int(partial.get(self._rejected_json, 0))
            return None, getattr(self._response.FromString(body).partial_success, self._rejected_field)
        except Exception:  # an unparsable 2xx body still means the data was accepted
            return None, 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_transport(opts: Options) -> Transport:
    target, secure = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
    if opts.protocol == "grpc":
        return GrpcTransport(target, secure, opts.signal, opts.timeout)
    return HttpTransport(target, opts.protocol == "http/json", opts.signal, opts.timeout, opts.concurrency)


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Stats:
    requests_ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    items_sent: int = 0
    items_acked: int = 0
    items_rejected: int = 0
    bytes_sent: int = 0
    inflight: int = 0
    latencies_ms: array = field(default_factory=lambda: array("d"))  # successful requests only


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class LoadRun:
    def __init__(self, opts: Options, source: PayloadSource, transport: Transport, progress: TextIO | None) -> None:
        self.opts = opts
        self.source = source
        self.transport = transport
        self.progress = progress
        self.stats = Stats()
        self.stop = asyncio.Event()  # no more new requests
        self.abandon = asyncio.Event()  # stop waiting for in-flight ones too (second Ctrl-C)
        self.interrupted = False
        self.scheduled = 0
        self.late = 0
        self.slot_waits = 0  # sends that had to wait because --concurrency requests were already in flight
        self.max_lag = 0.0
        self.abandoned = 0

    def interrupt(self) -> None:
        self.interrupted = True
        if self.stop.is_set():
            self.abandon.set()
        self.stop.set()

    async def _send(self, payload: bytes, items: int) -> bool:
        st = self.stats
        st.items_sent += items
        st.bytes_sent += len(payload)
        st.inflight += 1
        started = time.perf_counter()
        try:
            error, rejected = await self.transport.send(payload)
        except asyncio.CancelledError:
            st.failures["CANCELLED"] += 1
            raise
        except Exception as exc:  # a transport bug must not kill the run; count it like any failure
            error, rejected = type(exc).__name__, 0
        finally:
            st.inflight -= 1
        if error is None:
            st.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            st.requests_ok += 1
            st.items_acked += items - rejected
            st.items_rejected += rejected
            return True
        st.failures[error] += 1
        return False

    async def _closed_loop(self) -> set[asyncio.Task[None]]:
        async def worker() -> None:
            while not self.stop.is_set():
                payload, items = self.source.next()
                if not await self._send(payload, items):
                    await asyncio.sleep(0.001)  # avoid a hot spin when the server refuses instantly

        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.opts.duration, self.stop.set)
        workers = {asyncio.create_task(worker()) for _ in range(self.opts.concurrency)}
        await self.stop.wait()
        timer.cancel()
        return workers

    async def _open_loop(self) -> set[asyncio.Task[bool]]:
        assert self.opts.rate is not None
        duration = self.opts.duration
        interval = self.opts.batch_size / self.opts.rate
        total = max(1, math.ceil(duration / interval - 1e-9))
        late_after = max(interval, 0.010)
        slots = asyncio.Semaphore(self.opts.concurrency)
        inflight: set[asyncio.Task[bool]] = set()
        stop_waiter = asyncio.create_task(self.stop.wait())
        t0 = time.perf_counter()
        try:
            for k in range(total):
                due = t0 + k * interval
                while not self.stop.is_set() and (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(min(delay, 0.05))
                if self.stop.is_set() or time.perf_counter() - t0 >= duration:
                    break
                if slots.locked():
                    self.slot_waits += 1
                    acquire = asyncio.create_task(slots.acquire())
                    await asyncio.wait({acquire, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if not acquire.done():
                        acquire.cancel()
                        break
                else:
                    await slots.acquire()
                lag = time.perf_counter() - due
                if lag > late_after:
                    self.late += 1
                self.max_lag = max(self.max_lag, lag)
                payload, items = self.source.next()
                task = asyncio.create_task(self._send(payload, items))
                task.add_done_callback(lambda _t: slots.release())
                task.add_done_callback(inflight.discard)
                inflight.add(task)
            else:
                # Every send went out; keep the measured window equal to --duration.
                while not self.stop.is_set() and (delay := t0 + duration - time.perf_counter()) > 0:
                    await asyncio.sleep(min(delay, 0.05))
        finally:
            stop_waiter.cancel()
        # Sends that were due by the time sending stopped (all of them unless interrupted): more than were
        # actually sent means the generator fell behind the requested rate.
        self.scheduled = min(total, math.ceil(min(time.perf_counter() - t0, duration) / interval - 1e-9))
        self.stop.set()
        return inflight

    async def _report_progress(self, t0: float) -> None:
        assert self.progress is not None
        tty = self.progress.isatty()
        unit = UNITS[self.opts.signal]
        last_sent, last_t = 0, t0
        while True:
            await asyncio.sleep(1.0)
            now = time.perf_counter()
            st = self.stats
            rate = (st.items_sent - last_sent) / (now - last_t)
            last_sent, last_t = st.items_sent, now
            failed = sum(st.failures.values())
            line = (f"loadgen {now - t0:6.1f}s  sent {st.items_sent:,} {unit} ({rate:,.0f}/s)  "
                    f"acked {st.items_acked:,}  failed {failed:,} req  in-flight {st.inflight}")
            self.progress.write(("\r" + line + "\x1b[K") if tty else line + "\n")
            self.progress.flush()

    async def run(self) -> dict[str, Any]:
        start_unix = time.time()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        progress = asyncio.create_task(self._report_progress(t0)) if self.progress is not None else None
        try:
            if self.opts.rate is None:
                pending = await self._closed_loop()
            else:
                pending = await self._open_loop()
            send_end = time.perf_counter()
            pending = {t for t in pending if not t.done()}
            if pending:
                abandon = asyncio.create_task(self.abandon.wait())
                deadline = time.perf_counter() + self.opts.drain_timeout
                while pending and not self.abandon.is_set():
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    _, pending = await asyncio.wait(pending | {abandon}, timeout=remaining,
                                                    return_when=asyncio.FIRST_COMPLETED)
                    pending.discard(abandon)
                abandon.cancel()
                for task in pending:
                    task.cancel()
                self.abandoned = len(pending)
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            if progress is not None:
                progress.cancel()
                if self.progress.isatty():
                    self.progress.write("\n")
        end = time.perf_counter()
        return self._report(start_unix, t0, send_end, end, time.process_time() - cpu0)

    def _report(self, start_unix: float, t0: float, send_end: float, end: float, cpu_s: float) -> dict[str, Any]:
        opts, st = self.opts, self.stats
        unit = UNITS[opts.signal]
        elapsed = max(end - t0, 1e-9)
        ordered = sorted(st.latencies_ms)
        target, _ = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
        report: dict[str, Any] = {
            "signal": opts.signal,
            "unit": unit,
            "protocol": opts.protocol,
            "endpoint": target,
            "profile": opts.profile,
            "usage": opts.usage,
            "processed_by": opts.processed_by,
            "pii_share": opts.pii_share,
            "rate_target": opts.rate,
            "batch_size": opts.batch_size,
            "concurrency": opts.concurrency,
            "duration_s": round(elapsed, 3),
            "send_duration_s": round(send_end - t0, 3),
            "interrupted": self.interrupted,
            "requests_ok": st.requests_ok,
            "requests_failed": sum(st.failures.values()),
            "failed_by_code": dict(st.failures.most_common()),
            f"{unit}_sent": st.items_sent,
            f"{unit}_acknowledged": st.items_acked,
            f"{unit}_rejected": st.items_rejected,
            f"{unit}_per_second": round(st.items_acked / elapsed, 1),
            "sent_per_second": round(st.items_sent / elapsed, 1),
            "bytes_sent": st.bytes_sent,
            "avg_item_bytes": round(st.bytes_sent / st.items_sent, 1) if st.items_sent else 0,
            "latency_ms": {
                "p50": round(_percentile(ordered, 0.50), 3),
                "p90": round(_percentile(ordered, 0.90), 3),
                "p99": round(_percentile(ordered, 0.99), 3),
                "max": round(ordered[-1], 3) if ordered else 0.0,
                "mean": round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
            },
            "abandoned_in_flight": self.abandoned,
            "loadgen_cpu_percent": round(100.0 * cpu_s / elapsed, 1),
            "start_unix": round(start_unix, 3),
            "end_unix": round(start_unix + elapsed, 3),
        }
        if opts.rate is not None:
            sent_requests = st.requests_ok + sum(st.failures.values())
            behind = max(0, self.scheduled - sent_requests)
            report["schedule"] = {
                "requests_due": self.scheduled,
                "requests_not_sent": behind,
                "late_sends": self.late,
                "waits_for_free_slot": self.slot_waits,
                "max_lag_ms": round(self.max_lag * 1000.0, 3),
                "kept_up": behind <= max(1, self.scheduled // 100) and self.late <= max(1, self.scheduled // 100),
            }
        return report


async def _processed_templates(specs: list[str], signal_name: str, build: Callable[..., list[Template]]) -> list[Template]:
    """Templates whose requests went through a processor chain first. The chain runs on this event loop (its
    processors may wait, e.g. token_count loading an encoding) while a thread builds the templates."""
    from .component import Signal
    from .envelope import Envelope
    from .processor_chain import ChainError, build_chain

    if signal_name != "traces":
        raise ChainError("--processed-by applies to traces only")
    chain = await build_chain(specs)
    loop = asyncio.get_running_loop()

    def transform(message: Any) -> None:
        asyncio.run_coroutine_threadsafe(chain.head.consume(Envelope(Signal.TRACES, message)), loop).result()

    try:
        return await asyncio.to_thread(build, transform=transform)
    finally:
        await chain.shutdown()


async def run_async(opts: Options, *, progress: TextIO | None = None, handle_signals: bool = False,
                    templates: list[Template] | None = None) -> dict[str, Any]:
    """Build templates (unless given), run the load, return the report dict."""
    if templates is None:
        encoding = "json" if opts.protocol == "http/json" else "proto"
        build = functools.partial(build_templates, profile=opts.profile, signal_name=opts.signal, encoding=encoding,
                                  batch_size=opts.batch_size, count=opts.templates, seed=opts.seed,
                                  usage=opts.usage, pii_share=opts.pii_share)
        if opts.processed_by:
            templates = await _processed_templates(opts.processed_by, opts.signal, build)
        else:
            templates = build()
    transport = make_transport(opts)
    await transport.start()
    run = LoadRun(opts, PayloadSource(templates, opts.seed), transport, progress)
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if handle_signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, run.interrupt)
                installed.append(signum)
            except (NotImplementedError, RuntimeError):
                pass
    try:
        return await run.run()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await transport.close()


def format_report(report: dict[str, Any]) -> str:
    unit = report["unit"]
    lat = report["latency_ms"]
    rate = "max" if report["rate_target"] is None else f"{report['rate_target']:,.0f}/s"
    failed = ", ".join(f"{code} {n:,}" for code, n in report["failed_by_code"].items())
    mb = report["bytes_sent"] / 1e6
    rows = [
        ("duration", f"{report['duration_s']:.2f} s"),
        ("requests ok", f"{report['requests_ok']:,}"),
        ("requests failed", f"{report['requests_failed']:,}" + (f"  ({failed})" if failed else "")),
        (f"{unit} sent", f"{report[f'{unit}_sent']:,}"),
        (f"{unit} acknowledged", f"{report[f'{unit}_acknowledged']:,}  (rejected {report[f'{unit}_rejected']:,})"),
        ("throughput", f"{report[f'{unit}_per_second']:,.0f} {unit}/s acknowledged"),
        ("latency ms", f"p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}  max {lat['max']:.2f}"),
        ("bytes sent", f"{mb:,.1f} MB ({mb / report['duration_s']:,.1f} MB/s, "
                       f"{report['avg_item_bytes']:,.0f} B per item)"),
        ("loadgen cpu", f"{report['loadgen_cpu_percent']:.0f}% of one core"),
    ]
    schedule = report.get("schedule")
    if schedule is not None:
        rows.append(("schedule", f"{'kept up' if schedule['kept_up'] else 'FELL BEHIND'}: "
                                 f"{schedule['late_sends']:,} late sends, {schedule['requests_not_sent']:,} not sent, "
                                 f"max lag {schedule['max_lag_ms']:.1f} ms"))
    lines = [f"llm-collector loadgen: {report['signal']} over {report['protocol']} to {report['endpoint']} "
             f"(profile {report['profile']}, usage {report.get('usage', 'reported')}, batch {report['batch_size']}, concurrency {report['concurrency']}, "
             f"rate {rate}){' [interrupted]' if report['interrupted'] else ''}"]
    width = max(len(label) for label, _ in rows) + 2
    lines += [f"  {label:<{width}}{value}" for label, value in rows]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run `llm-collector loadgen`. Exit 0 if at least one request succeeded, 1 otherwise."""
    opts = Options.from_namespace(args)
    progress = None if opts.quiet else sys.stderr
    if not opts.quiet:
        target, _ = resolve_endpoint(opts.protocol, opts.signal, opts.endpoint)
        rate = "max" if opts.rate is None else f"{opts.rate:,.0f}/s"
        processed = f", as {' -> '.join(opts.processed_by)} leave them" if opts.processed_by else ""
        print(f"loadgen: {opts.signal} to {target} over {opts.protocol}, usage {opts.usage}{processed}, rate {rate}, {opts.duration:g}s, "
              f"batch {opts.batch_size}, concurrency {opts.concurrency}", file=sys.stderr, flush=True)
    from .processor_chain import ChainError

    try:
        report = asyncio.run(run_async(opts, progress=progress, handle_signals=True))
    except ChainError as exc:
        print(f"loadgen: --processed-by: {exc}", file=sys.stderr)
        return 2
    schedule = report.get("schedule")
    if schedule is not None and not schedule["kept_up"]:
        unit = report["unit"]
        print(f"loadgen: could not keep up with --rate {opts.rate:,.0f}: {schedule['late_sends']:,} sends late, "
              f"{schedule['requests_not_sent']:,} not sent, max lag {schedule['max_lag_ms']:.0f} ms; achieved "
              f"{report['sent_per_second']:,.0f} {unit}/s sent", file=sys.stderr)
        if schedule["waits_for_free_slot"]:
            print(f"loadgen: all {opts.concurrency} request slots were busy {schedule['waits_for_free_slot']:,} times "
                  f"(p50 latency {report['latency_ms']['p50']:.1f} ms); raise --concurrency or --batch-size, or "
                  f"lower --rate", file=sys.stderr)
    if opts.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print(format_report(report))
    sys.stdout.flush()
    return 0 if report["requests_ok"] > 0 else 1


def _standalone() -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.loadgen",
                                     description="Send realistic LLM-application OTLP load to a collector.")
    add_arguments(parser)
    return main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(_standalone())
