"""CrewAI's built-in telemetry names (unprefixed), as contrib's genainormalizerprocessor maps them
(internal/crewai/mappings.go)."""

RENAMES = {
    "agent_role": "gen_ai.agent.name",
    "crew_id": "gen_ai.conversation.id",
}
