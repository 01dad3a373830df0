"""LangChain / LangGraph names, as contrib's genainormalizerprocessor maps them (internal/langchain/mappings.go)."""

RENAMES = {
    "lc.metadata.thread_id": "gen_ai.conversation.id",
    "langgraph.node.name": "gen_ai.agent.name",
}
