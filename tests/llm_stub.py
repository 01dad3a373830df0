"""A loopback OpenAI-compatible and Anthropic-compatible server for driving the real instrumentation libraries in tests.

    with LLMStub(StubConfig(usage=True, cached_tokens=32)) as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="test")
        client = anthropic.Anthropic(base_url=stub.root_url, api_key="test")
        ...
        stub.requests  # [RecordedRequest(path, headers, body), ...]

Implements `POST /v1/chat/completions` (JSON, and SSE when the request says `stream: true`: `data: {...}`
chunks ending with `data: [DONE]`; the usage chunk is sent only when the request asks for it with
`stream_options: {include_usage: true}`, as OpenAI does). Everything the response says is configured per
stub by `StubConfig`: usage (or none), cached / reasoning token details, a response model different from the
requested one, finish_reason, an optional tool call (answered once; the follow-up request that carries the
tool result gets the text answer) and an error mode (HTTP 429 / 500 with an OpenAI-style error body).

Also implements Anthropic's `POST /v1/messages` (JSON, and SSE when `stream: true`: the documented events
message_start, content_block_start, ping, content_block_delta (text_delta), content_block_stop,
message_delta, message_stop, each as `event: <type>` + `data: {...}`). The same StubConfig describes the call:
`prompt_tokens` is the whole prompt, cache included, so Anthropic's `usage.input_tokens` is sent as
`prompt_tokens - cached_tokens - cache_write_tokens` (its input count excludes the cached parts), with
`cache_read_input_tokens` / `cache_creation_input_tokens`. When streaming, message_start carries the input side
and `output_tokens: 1`, and message_delta the cumulative usage, as the API does. `usage=False` leaves the
usage object out (what an Anthropic-compatible proxy may do; the API itself always sends it). Errors use
Anthropic's body (`{"type": "error", "error": {"type": "api_error", ...}}`).

Standard library only (http.server in a daemon thread), so it imports fast in any process.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LLMStub", "RecordedRequest", "StubConfig", "response_model_for"]

# Dated snapshot names the real API answers with when asked for the alias.
RESPONSE_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "gpt-4o": "gpt-4o-2024-08-06",
    "o4-mini": "o4-mini-2025-04-16",
}


def response_model_for(request_model: str) -> str:
    return RESPONSE_MODELS.get(request_model, request_model)


@dataclass
class StubConfig:
    usage: bool = True
    prompt_tokens: int = 57
    completion_tokens: int = 23
    # None: the detail object is left out of `usage` entirely.
    cached_tokens: int | None = 32
    # prompt_tokens_details.cache_write_tokens (openai>=3 models it); None leaves it out.
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = 7
    # None: answer with response_model_for(request model).
    response_model: str | None = None
    content: str = "Un café crème coûte 4,50 € à Paris ; à 東京 environ ¥650."
    finish_reason: str = "stop"
    # {"name": ..., "arguments": "<json string>", "id": ...} to answer the first request with a tool call.
    tool_call: dict[str, str] | None = None
    # 429 / 500 / ...: every request fails with this status and an OpenAI-style error body.
    error_status: int | None = None
    # Content is split into this many SSE chunks when streaming.
    stream_chunks: int = 3
    system_fingerprint: str = "fp_stub0001"
    # Response ids are chatcmpl-<id_tag>0001, msg_<id_tag>0001, ...: give each stub its own tag when spans of
    # several stubs meet in one daemon and ids must not repeat across them, as real ones never do.
    id_tag: str = "stub"

    def usage_object(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens, "audio_tokens": 0}
        if self.cache_write_tokens is not None:
            usage.setdefault("prompt_tokens_details", {"audio_tokens": 0})["cache_write_tokens"] = self.cache_write_tokens
        if self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        return usage


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), self.body
        return self.body


_ERROR_BODIES = {
    429: ("Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
}


@dataclass
class LLMStub:
    config: StubConfig = field(default_factory=StubConfig)
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """The OpenAI client's base_url."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The Anthropic client's base_url (it appends /v1/messages itself)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LLMStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                stub._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                stub._handle(self)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"llm-stub:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LLMStub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----------------------------------------------------------------- requests

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body))

        path = h.path.split("?", 1)[0].rstrip("/")
        if h.command == "POST" and path == "/v1/messages":
            return self._handle_messages(h, body)
        if h.command != "POST" or path != "/v1/chat/completions":
            return self._send_json(h, 404, {"error": {"message": f"Unknown request URL: {h.command} {h.path}", "type": "invalid_request_error", "param": None, "code": "unknown_url"}})
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            return self._send_json(h, 400, {"error": {"message": "body must be a JSON object with model and messages", "type": "invalid_request_error", "param": None, "code": None}})

        cfg = self.config
        if cfg.error_status is not None:
            message, kind, code = _ERROR_BODIES.get(cfg.error_status, (f"stub error {cfg.error_status}", "server_error", None))
            extra = {"retry-after-ms": "20"} if cfg.error_status == 429 else {}
            return self._send_json(h, cfg.error_status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, extra)

        with self._lock:
            completion_id = f"chatcmpl-{cfg.id_tag}{next(self._ids):04d}"
        model = cfg.response_model or response_model_for(str(body["model"]))
        # Answer with the tool call unless the conversation already carries its result.
        messages = body.get("messages") or []
        wants_tool = cfg.tool_call is not None and not any(isinstance(m, dict) and m.get("role") == "tool" for m in messages)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_stream(h, completion_id, model, wants_tool, include_usage and cfg.usage)
        else:
            self._send_json(h, 200, self._completion(completion_id, model, wants_tool))

    def _message(self, wants_tool: bool) -> tuple[dict[str, Any], str]:
        cfg = self.config
        if wants_tool:
            assert cfg.tool_call is not None
            call = {
                "id": cfg.tool_call.get("id", "call_stub_0001"),
                "type": "function",
                "function": {"name": cfg.tool_call["name"], "arguments": cfg.tool_call["arguments"]},
            }
            return {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None, "annotations": []}, "tool_calls"
        return {"role": "assistant", "content": cfg.content, "refusal": None, "annotations": []}, cfg.finish_reason

    def _completion(self, completion_id: str, model: str, wants_tool: bool) -> dict[str, Any]:
        message, finish_reason = self._message(wants_tool)
        out: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": 1767225600,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "service_tier": "default",
            "system_fingerprint": self.config.system_fingerprint,
        }
        if self.config.usage:
            out["usage"] = self.config.usage_object()
        return out

    def _send_stream(self, h: BaseHTTPRequestHandler, completion_id: str, model: str, wants_tool: bool, usage: bool) -> None:
        cfg = self.config
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": 1767225600, "model": model, "service_tier": "default", "system_fingerprint": cfg.system_fingerprint}
        chunks: list[dict[str, Any]] = []

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            out = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
            if usage:
                out["usage"] = None  # what the API sends on every chunk but the last when include_usage is set
            return out

        message, finish_reason = self._message(wants_tool)
        if wants_tool:
            call = message["tool_calls"][0]
            chunks.append(chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}], "refusal": None}))
            args = call["function"]["arguments"]
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            text = message["content"]
            n = max(1, cfg.stream_chunks)
            step = -(-len(text) // n)
            for i in range(0, len(text), step):
                chunks.append(chunk({"content": text[i : i + step]}))
        chunks.append(chunk({}, finish_reason))
        if usage:
            chunks.append({**base, "choices": [], "usage": cfg.usage_object()})

        self._send_sse(h, [b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"])

    # ----------------------------------------------------------------- Anthropic Messages API

    def anthropic_usage(self, *, stream_start: bool = False) -> dict[str, Any]:
        """The Messages API `usage` object for the configured call (message_start's when `stream_start`)."""
        cfg = self.config
        read, write = cfg.cached_tokens or 0, cfg.cache_write_tokens or 0
        return {
            "input_tokens": cfg.prompt_tokens - read - write,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 1 if stream_start else cfg.completion_tokens,
            "service_tier": "standard",
        }

    def _handle_messages(self, h: BaseHTTPRequestHandler, body: Any) -> None:
        cfg = self.config
        if not isinstance(body, dict) or "model" not in body or "messages" not in body or "max_tokens" not in body:
            return self._send_json(h, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "model, messages and max_tokens are required"}})
        if cfg.error_status is not None:
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(cfg.error_status, "api_error")
            return self._send_json(h, cfg.error_status, {"type": "error", "error": {"type": kind, "message": "Internal server error" if kind == "api_error" else kind}})
        with self._lock:
            message_id = f"msg_{cfg.id_tag}{next(self._ids):04d}"
        model = cfg.response_model or response_model_for(str(body["model"]))
        message: dict[str, Any] = {"id": message_id, "type": "message", "role": "assistant", "model": model}
        if not body.get("stream"):
            message.update(content=[{"type": "text", "text": cfg.content}], stop_reason="end_turn", stop_sequence=None)
            if cfg.usage:
                message["usage"] = self.anthropic_usage()
            return self._send_json(h, 200, message)
        message.update(content=[], stop_reason=None, stop_sequence=None)
        if cfg.usage:
            message["usage"] = self.anthropic_usage(stream_start=True)
        n = max(1, cfg.stream_chunks)
        step = -(-len(cfg.content) // n)
        delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
        if cfg.usage:
            final = self.anthropic_usage()
            delta["usage"] = {k: final[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")}
        events = [
            {"type": "message_start", "message": message},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
            *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": cfg.content[i : i + step]}} for i in range(0, len(cfg.content), step)),
            {"type": "content_block_stop", "index": 0},
            delta,
            {"type": "message_stop"},
        ]
        self._send_sse(h, [b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e, ensure_ascii=False).encode()) for e in events])

    def _send_sse(self, h: BaseHTTPRequestHandler, events: list[bytes]) -> None:
        """Chunked transfer, one SSE event per HTTP chunk, the way both APIs stream."""
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for event in events:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def _send_json(self, h: BaseHTTPRequestHandler, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-request-id", "req_stub")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
