"""PydanticAI names (unprefixed), as contrib's genainormalizerprocessor maps them (internal/pydanticai/mappings.go)."""

RENAMES = {
    "agent_name": "gen_ai.agent.name",
}
