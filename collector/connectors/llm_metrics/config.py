"""llm_metrics' configuration and the metrics it emits.

Names, units and bucket boundaries are OTel GenAI semantic conventions': `gen_ai.client.operation.duration`
and `gen_ai.client.token.usage` (semantic-conventions docs/gen-ai/gen-ai-metrics.md), and the usage counters
`gen_ai.client.inference.usage.*` broken down by `gen_ai.token.modality` (semantic-conventions-genai
docs/gen-ai/gen-ai-token-metrics.md, which replaced the earlier `gen_ai.token.cache` / `.phase` attribute
draft by one counter per token category). `llm.*` are this daemon's own: cost, calls, unpriced calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from ... import dimensions
from ...config import Invalid, option
from ...dimensions import Dimension

# semantic-conventions gen-ai-metrics.md: "SHOULD be specified with ExplicitBucketBoundaries of ..."
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
USAGE_INPUT = "gen_ai.client.inference.usage.input_tokens"
USAGE_OUTPUT = "gen_ai.client.inference.usage.output_tokens"
USAGE_CACHE_READ = "gen_ai.client.inference.usage.cache_read.input_tokens"
USAGE_CACHE_WRITE = "gen_ai.client.inference.usage.cache_write.input_tokens"
USAGE_REASONING = "gen_ai.client.inference.usage.reasoning.output_tokens"
COST = "llm.cost"
REQUESTS = "llm.requests"
UNPRICED = "llm.unpriced_requests"

# name -> (unit, description) of every metric emitted.
METRICS: dict[str, tuple[str, str]] = {
    DURATION: ("s", "GenAI operation duration."),
    TOKEN_USAGE: ("{token}", "Number of input and output tokens used."),
    USAGE_INPUT: ("{token}", "The number of input (prompt) tokens used, including cached tokens."),
    USAGE_OUTPUT: ("{token}", "The number of output (completion) tokens used, including reasoning tokens."),
    USAGE_CACHE_READ: ("{token}", "The number of input tokens served from a provider-managed cache."),
    USAGE_CACHE_WRITE: ("{token}", "The number of input tokens written to a provider-managed cache."),
    USAGE_REASONING: ("{token}", "The number of output tokens used for reasoning."),
    COST: ("USD", "Cost of the LLM calls, as the cost processor (or the instrumentation) wrote it on their spans."),
    REQUESTS: ("{request}", "LLM calls, by status (ok, error) and last finish reason."),
    UNPRICED: ("{request}", "LLM calls that carry no cost, by the cost processor's reason (not_priced: no cost processor marked them)."),
}

# The attributes every metric is split by (semconv's), which a dimension may not be named after.
SEMCONV_ATTRIBUTES = frozenset({
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model", "server.address",
    "server.port", "error.type", "gen_ai.token.type", "gen_ai.token.modality", "llm.status", "gen_ai.response.finish_reason",
    "llm.unpriced_reason",
})


@dataclass
class LLMMetricsConfig:
    dimensions: list[Dimension] = option(factory=list, doc="Extra attributes to break the metrics down by, each with its own cardinality cap.")

    def validate(self) -> None:
        for key, message in dimensions.problems(self.dimensions, SEMCONV_ATTRIBUTES):
            raise Invalid(message, ("dimensions", *key))
