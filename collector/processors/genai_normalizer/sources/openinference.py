"""OpenInference (Arize) names, as contrib's genainormalizerprocessor maps them (internal/openinference:
mappings.go, valuemappings.go; messages.go for the flattened messages, see ../messages.py)."""

RENAMES = {
    # Token usage
    "llm.token_count.prompt": "gen_ai.usage.input_tokens",
    "llm.token_count.completion": "gen_ai.usage.output_tokens",
    # Model & provider
    "llm.model_name": "gen_ai.request.model",
    "llm.provider": "gen_ai.provider.name",
    # Input/output content (the whole-value forms; the flattened llm.*_messages.N.* are rebuilt as JSON)
    "llm.input_messages": "gen_ai.input.messages",
    "llm.output_messages": "gen_ai.output.messages",
    # Embeddings and reranker models (mutually exclusive with the LLM model)
    "embedding.model_name": "gen_ai.request.model",
    "reranker.model_name": "gen_ai.request.model",
    # Tool
    "tool.name": "gen_ai.tool.name",
    "tool.description": "gen_ai.tool.description",
    "tool_call.function.arguments": "gen_ai.tool.call.arguments",
    "tool_call.id": "gen_ai.tool.call.id",
    # Agent & session
    "agent.name": "gen_ai.agent.name",
    "session.id": "gen_ai.conversation.id",
    # Span kind -> operation name, folded by OPERATION_NAMES
    "openinference.span.kind": "gen_ai.operation.name",
}

# openinference.span.kind (upper-case at the source; matched case-insensitively) -> gen_ai.operation.name.
OPERATION_NAMES = {
    "llm": "chat",
    "embedding": "embeddings",
    "chain": "invoke_agent",
    "retriever": "retrieval",
    "reranker": "retrieval",
    "tool": "execute_tool",
    "agent": "invoke_agent",
    "prompt": "text_completion",
}

# Flattened messages rebuilt into one JSON attribute each (prefix -> target).
FLATTENED_MESSAGES = {
    "llm.input_messages.": "gen_ai.input.messages",
    "llm.output_messages.": "gen_ai.output.messages",
}
