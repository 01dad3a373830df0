"""The GenAI attribute conventions the view reads, in one table: add a library's names here and both ways
of reading a span follow (GenAIView.of over the parsed attributes, and the C walk over the request's bytes,
collector/wire/slots.py, which is handed the key table built from SLOT_KEYS).

- SLOT_KEYS: which attribute keys feed which slot, best first (the first present wins).
- PROVIDER_ALIASES: provider spellings -> OTel's names.
- KINDS: the attributes that say what a span is: which values name a model call (and its operation) and
  which say "not a model call" (agent, workflow, tool, chain, retriever... wrapper spans).
- JSON_ENCODED / JSON_ENCODED_MARKS: conventions whose every value is JSON text (MLflow writes the model as
  "\\"gpt-4o\\""), and the slot that marks their spans.
- CACHE_SEMANTICS: for each cache slot, whether the same convention's input count includes those tokens.
- JSON_USAGE: conventions that hold their counts in one JSON attribute, with their field names and
  cache semantics.
- CONTENT_EVENTS: span events that hold a prompt or completion (read lazily, for counting only).

docs/genai-conventions.md is the map for readers; tests/genai/test_genai_view_native.py holds the C walk to
GenAIView.of for every slot of this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# slot -> attribute keys, best first. Keys a wire walk must find; nothing else about a span is read per span.
SLOT_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # What the span is (see KINDS).
    ("operation", ("gen_ai.operation.name",)),
    ("oi_kind", ("openinference.span.kind",)),
    ("mlflow_kind", ("mlflow.spanType",)),
    ("langfuse_type", ("langfuse.observation.type",)),
    ("traceloop_kind", ("traceloop.span.kind",)),
    ("request_type", ("llm.request.type",)),
    # Who answered. MLflow names the provider only as its message format.
    ("provider", ("gen_ai.provider.name", "gen_ai.system", "llm.system", "llm.provider", "mlflow.llm.provider", "mlflow.message.format")),
    ("request_model", ("gen_ai.request.model", "llm.request.model", "mlflow.llm.model", "langfuse.observation.model.name")),
    ("response_model", ("gen_ai.response.model", "llm.response.model", "llm.model_name")),
    # Usage as attributes (OTel semantics: input includes cache, output includes reasoning).
    ("input_tokens", ("gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens")),
    ("output_tokens", ("gen_ai.usage.output_tokens", "llm.token_count.completion", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens")),
    ("total_tokens", ("gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens")),
    ("cache_read", ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read")),
    # The Anthropic SDK's own tracing writes cache_write (the semconv name is cache_creation).
    ("cache_write", ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens", "llm.token_count.prompt_details.cache_write")),
    # Provider-native cache counts: the Anthropic-era underscore names, and Langtrace's cached_tokens.
    ("native_cache_read", ("gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cached_tokens")),
    ("native_cache_write", ("gen_ai.usage.cache_creation_input_tokens",)),
    ("reasoning", ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens")),
    # Per-modality parts of the input count (read and normalised; priced as input).
    ("text_input", ("gen_ai.usage.text.input_tokens",)),
    ("image_input", ("gen_ai.usage.image.input_tokens", "llm.token_count.prompt_details.image")),
    ("audio_input", ("gen_ai.usage.audio.input_tokens", "llm.token_count.prompt_details.audio")),
    ("video_input", ("gen_ai.usage.video.input_tokens",)),
    # Usage as one JSON attribute (see JSON_USAGE).
    ("mlflow_usage", ("mlflow.chat.tokenUsage",)),
    ("langfuse_usage", ("langfuse.observation.usage_details",)),
    ("token_source", ("gen_ai.usage.token_source",)),
    ("finish_reasons", ("gen_ai.response.finish_reasons", "llm.finish_reason")),
    # One call's spans from stacked instrumentations share it (collector/genai/dedupe.py).
    ("response_id", ("gen_ai.response.id",)),
    # Content, parsed lazily (collector/genai/messages.py).
    ("input_messages", ("gen_ai.input.messages",)),
    ("output_messages", ("gen_ai.output.messages",)),
    ("system_instructions", ("gen_ai.system_instructions",)),
    ("prompt", ("gen_ai.prompt",)),
    ("completion", ("gen_ai.completion",)),
    ("input_value", ("input.value",)),
    ("output_value", ("output.value",)),
    ("mlflow_inputs", ("mlflow.spanInputs",)),
    ("mlflow_outputs", ("mlflow.spanOutputs",)),
    ("langfuse_input", ("langfuse.observation.input",)),
    ("langfuse_output", ("langfuse.observation.output",)),
    # A cost the instrumentation already wrote (OpenLIT, the semconv proposal, a Langfuse app): never
    # written over; OpenInference's own names are guarded apart, as they are written apart.
    ("reported_cost", ("gen_ai.usage.cost", "gen_ai.usage.cost.amount", "langfuse.observation.cost_details")),
    ("reported_oi_cost", ("llm.cost.total",)),
    # The cost processor's mark on a span whose call another span carries the cost of (dedupe.py).
    ("cost_duplicate", ("gen_ai.usage.cost_duplicate",)),
)


# Provider spellings -> OTel GenAI's gen_ai.provider.name values (compared lower-cased).
PROVIDER_ALIASES = {
    "az.ai.openai": "azure.ai.openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "aws_bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
}


@dataclass(frozen=True)
class Kind:
    """An attribute that says what a span is. Values are compared stripped and case-folded (`upper`)."""

    slot: str
    # value -> the operation it names; None: the value is the operation itself (gen_ai.operation.name).
    calls: Mapping[str, str] | None
    # Values that say "not a model call". None: every value that is not in `calls`.
    wrappers: frozenset[str] | None
    upper: bool = False
    # Whether a value outside `calls` and `wrappers` still decides (no operation), or leaves it to the next kind.
    decides: bool = True

    def fold(self, value: str) -> str:
        value = value.strip().strip('"')  # MLflow's JSON-encoded strings keep their quotes
        return value.upper() if self.upper else value.lower()

    def rules_out(self, value: str) -> bool:
        """Whether this value says the span is not a model call (an empty value says nothing)."""
        if not value:
            return False
        v = self.fold(value)
        if self.wrappers is None:
            return v not in self.calls  # type: ignore[operator]
        return v in self.wrappers

    def operation(self, value: str) -> str | None:
        v = self.fold(value)
        if v in (self.wrappers or ()):
            return None
        return v if self.calls is None else self.calls.get(v)


# In the order they decide a span's operation; any kind's "not a model call" wins over all (a wrapper span
# that copies its child's GenAI attributes must not be priced twice).
KINDS: tuple[Kind, ...] = (
    Kind("operation", None, frozenset({"invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "retrieval", "retrieve", "plan", "memory"})),
    Kind("oi_kind", {"LLM": "chat", "EMBEDDING": "embeddings"}, None, upper=True),
    Kind("mlflow_kind", {"CHAT_MODEL": "chat", "LLM": "text_completion", "EMBEDDING": "embeddings"}, None, upper=True),
    Kind("langfuse_type", {"generation": "chat", "embedding": "embeddings"}, None),
    Kind("traceloop_kind", {}, frozenset({"workflow", "task", "agent", "tool"}), decides=False),
    Kind("request_type", {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}, frozenset()),
)

# Attribute keys whose string values are JSON text (MLflow encodes every value: "\"CHAT_MODEL\""), and the
# slots that mark a span of such a convention (MLflow gives every span its type): only those spans' values
# are decoded, so the other spans pay nothing for it.
JSON_ENCODED: frozenset[str] = frozenset(key for _, keys in SLOT_KEYS for key in keys if key.startswith("mlflow."))
JSON_ENCODED_MARKS: frozenset[str] = frozenset({"mlflow_kind"})

# Whether a convention's input count includes its cache counts:
# - "included": OTel GenAI and OpenInference (an input smaller than the cache cannot, and is corrected);
# - "native": the provider's own count passed through: Anthropic's excludes the cache, OpenAI's includes it;
# - "excluded": never (Langfuse's own usage types are disjoint).
CACHE_SEMANTICS: dict[str, tuple[str, str]] = {  # slot -> (read | write, semantics)
    "cache_read": ("read", "included"),
    "cache_write": ("write", "included"),
    "native_cache_read": ("read", "native"),
    "native_cache_write": ("write", "native"),
}


@dataclass(frozen=True)
class JsonUsage:
    """One shape of a usage JSON attribute: the Usage count -> its field (dotted paths, first present wins)."""

    fields: Mapping[str, tuple[str, ...]]
    cache: str  # as in CACHE_SEMANTICS
    reasoning_in_output: bool = True  # False: the output count excludes reasoning (added back)
    when: tuple[str, ...] = ()  # top-level fields of which one must be present; empty: any object
    name: str = field(default="", compare=False)  # Usage.convention, for the counts it supplied


_OPENAI_USAGE = JsonUsage(
    {
        "input_tokens": ("prompt_tokens",),
        "output_tokens": ("completion_tokens",),
        "total_tokens": ("total_tokens",),
        "cache_read": ("prompt_tokens_details.cached_tokens",),
        # Langfuse's OpenAI integration adds the cache writes the response reports (Anthropic via OpenAI's API).
        "cache_write": ("prompt_tokens_details.cache_write_tokens", "prompt_tokens_details.cache_creation_tokens"),
        "reasoning": ("completion_tokens_details.reasoning_tokens",),
        "audio_input": ("prompt_tokens_details.audio_tokens",),
    },
    cache="included",
    when=("prompt_tokens", "completion_tokens"),
    name="langfuse",
)
# Langfuse's own usage types (its langchain handler, apps' `usage_details`): each priced on its own.
_LANGFUSE_USAGE = JsonUsage(
    {
        "input_tokens": ("input",),
        "output_tokens": ("output",),
        "total_tokens": ("total",),
        "cache_read": ("input_cache_read", "cache_read_input_tokens", "input_cached_tokens"),
        "cache_write": ("input_cache_creation", "cache_creation_input_tokens", "cache_write_input_tokens"),
        "reasoning": ("output_reasoning", "output_reasoning_tokens", "reasoning"),
        "audio_input": ("input_audio",),
    },
    cache="excluded",
    reasoning_in_output=False,
    name="langfuse",
)
# MLflow passes the provider's own counts through (Anthropic's input excludes the cache).
_MLFLOW_USAGE = JsonUsage(
    {
        "input_tokens": ("input_tokens",),
        "output_tokens": ("output_tokens",),
        "total_tokens": ("total_tokens",),
        "cache_read": ("cache_read_input_tokens",),
        "cache_write": ("cache_creation_input_tokens",),
    },
    cache="native",
    name="mlflow",
)

# slot -> its shapes, the first that matches wins.
JSON_USAGE: dict[str, tuple[JsonUsage, ...]] = {
    "mlflow_usage": (_MLFLOW_USAGE,),
    "langfuse_usage": (_OPENAI_USAGE, _LANGFUSE_USAGE),
}

# Span events that carry content: (event name, attribute holding the text), read from the parsed span only
# when tokens must be counted.
PROMPT_EVENTS: tuple[tuple[str, str], ...] = (("gen_ai.content.prompt", "gen_ai.prompt"),)  # Langtrace
COMPLETION_EVENTS: tuple[tuple[str, str], ...] = (("gen_ai.content.completion", "gen_ai.completion"),)  # Langtrace
