"""The loadgen's traffic model: profiles that generate whole traces (and the log records that go with
them), and the llm profile's scenario mix (errors, slow and expensive calls, PII and leaked secrets,
token usage reported or not) over the content in `content`."""

from __future__ import annotations

import base64
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from .content import (
    AGENTS,
    ALNUM,
    CITIES,
    COMPANIES,
    DOMAINS,
    FIRST,
    LAST,
    MODELS,
    OPENINFERENCE_LLM_SCOPE,
    PII_SENTENCES,
    RETRIEVER_SCOPE,
    SECRET_SENTENCES,
    STACK,
    TOPICS,
    USER_AGENTS,
    Agent,
    Model,
    Scope,
)

# Whether LLM spans carry their token usage: as instrumentations report it, never (token_count has to count
# every call from its prompt and completion), or on about half of them.
USAGE_MODES = ("reported", "missing", "mixed")


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


# --- the llm profile --------------------------------------------------------------------------------------

# Check digits for the generated cards and CPFs (collector.pii.validators checks them; it computes none).

def _luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _cpf_check_digits(base: str) -> str:
    d1 = sum(int(c) * (10 - i) for i, c in enumerate(base)) * 10 % 11 % 10
    d2 = sum(int(c) * (11 - i) for i, c in enumerate(base + str(d1))) * 10 % 11 % 10
    return f"{d1}{d2}"


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
        self._resource_agents: list[Agent] = []
        self._resource_weights: list[float] = []
        for agent in AGENTS:
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
        return "".join(self.rng.choices(ALNUM, k=n))

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

        b64url = ALNUM + "-_"

        def b64(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

        jwt = ".".join((b64({"alg": "HS256", "typ": "JWT"}),
                        b64({"sub": f"u_{pick('0123456789', 8)}", "iat": r.randint(1_700_000_000, 1_800_000_000)}),
                        pick(b64url, 43)))
        return {
            "openai_key": f"sk-proj-{pick(b64url, 28)}T3BlbkFJ{pick(b64url, 28)}",
            "anthropic_key": f"sk-ant-api03-{pick(b64url, 93)}AA",
            "aws_key": "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
            "github_token": "ghp_" + pick(ALNUM, 36),
            "google_key": "AIza" + pick(b64url, 35),
            "jwt": jwt,
        }

    def _pii(self) -> dict[str, str]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        sep = self.rng.choice((".", "_", ""))
        return {
            "name": f"{first.title()} {last.title()}",
            "email": f"{first}{sep}{last}{self.rng.randint(1, 99)}@{self.rng.choice(DOMAINS)}",
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
            "city": rng.choice(CITIES),
            "amount": f"${amount:,.2f}",
            "amount_num": amount,
            "tracking": "1Z" + self._token(16).upper(),
            "ref": self._token(14),
            "sku": f"SKU-{self._digits(6)}",
            "topic": rng.choice(TOPICS),
            "company": rng.choice(COMPANIES),
            "pr": rng.randint(1200, 9800),
        }

    def _llm_ms(self, slow: bool, expensive: bool) -> float:
        if slow:
            return self.rng.uniform(12_000, 45_000)
        # Capped so that only the slow share crosses a 5 s latency threshold: two calls, the retrieval and
        # the tool together stay under 5 s (see _trace's timeline).
        median = 1200 if expensive else 900
        return min(1650.0, max(300.0, self.rng.lognormvariate(math.log(median), 0.5)))

    def _response_id(self, model: Model) -> str:
        if model.provider == "openai":
            return "chatcmpl-" + self._token(29)
        if model.provider == "anthropic":
            return "msg_01" + self._token(22)
        return self._token(22)

    def _tool_call_id(self, model: Model) -> str:
        return ("toolu_01" + self._token(22)) if model.provider == "anthropic" else ("call_" + self._token(24))

    def _exception(self, etype: str, message: str, module: str, at_ns: int) -> trace_pb2.Span.Event:
        return trace_pb2.Span.Event(time_unix_nano=at_ns, name="exception", attributes=_attrs({
            "exception.type": etype,
            "exception.message": message,
            "exception.stacktrace": STACK.format(module=module, etype=etype, emessage=message),
        }))

    def _llm_error(self, model: Model) -> tuple[str, str, str]:
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
        model = rng.choices(MODELS, weights=[m.weight for m in MODELS])[0]
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
            for sentence in rng.sample(PII_SENTENCES, rng.randint(1, 2)):
                question += sentence.format_map(values)
            if self._secret_rng.random() < self.SECRET_SHARE:
                question += self._secret_rng.choice(SECRET_SENTENCES).format_map(self._secrets())
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

        def span(i: int, parent: int | None, name: str, kind: trace_pb2.Span.SpanKind.ValueType, t0: float, dur: float,
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
            "user_agent.original": rng.choice(USER_AGENTS),
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
        for n, (doc, score) in enumerate(zip(docs, scores, strict=True)):
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
            chat2_scope = OPENINFERENCE_LLM_SCOPE
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
            (app_scope, root), (RETRIEVER_SCOPE, retrieve), (model.scope, chat1), (app_scope, tool_span),
            (chat2_scope, chat2)])


PROFILES: dict[str, Callable[..., Profile]] = {LlmProfile.name: LlmProfile}  # (rng, usage, pii_share=) -> Profile
