"""OpenLLMetry (Traceloop) legacy `llm.*` / `traceloop.*` names, as contrib's genainormalizerprocessor maps
them (internal/openllmetry: mappings.go, valuemappings.go). OpenLLMetry 0.5 and later already write the
OTel `gen_ai.*` names; this table is for the spans of older versions and for its workflow spans."""

RENAMES = {
    # Token usage
    "llm.usage.prompt_tokens": "gen_ai.usage.input_tokens",
    "llm.usage.completion_tokens": "gen_ai.usage.output_tokens",
    # Model
    "llm.request.model": "gen_ai.request.model",
    "llm.response.model": "gen_ai.response.model",
    # Request parameters
    "llm.request.max_tokens": "gen_ai.request.max_tokens",
    "llm.request.temperature": "gen_ai.request.temperature",
    "llm.request.top_p": "gen_ai.request.top_p",
    "llm.top_k": "gen_ai.request.top_k",
    "llm.frequency_penalty": "gen_ai.request.frequency_penalty",
    "llm.presence_penalty": "gen_ai.request.presence_penalty",
    "llm.chat.stop_sequences": "gen_ai.request.stop_sequences",
    "llm.request.functions": "gen_ai.tool.definitions",
    # Finish reason: a single string, wrapped into the string array by type coercion
    "llm.response.finish_reason": "gen_ai.response.finish_reasons",
    "llm.response.stop_reason": "gen_ai.response.finish_reasons",
    # Operation: llm.request.type on LLM spans, traceloop.span.kind on workflow spans
    "llm.request.type": "gen_ai.operation.name",
    "traceloop.span.kind": "gen_ai.operation.name",
    # Workflow / entity (agentic)
    "traceloop.entity.name": "gen_ai.agent.name",
    "traceloop.entity.input": "gen_ai.input.messages",
    "traceloop.entity.output": "gen_ai.output.messages",
}

# traceloop.span.kind and llm.request.type values (lower-case at the source; matched case-insensitively).
OPERATION_NAMES = {
    # traceloop.span.kind
    "workflow": "invoke_workflow",
    "task": "invoke_agent",
    "agent": "invoke_agent",
    "tool": "execute_tool",
    # llm.request.type
    "completion": "text_completion",
    "chat": "chat",
    "rerank": "retrieval",
    "embedding": "embeddings",
}
